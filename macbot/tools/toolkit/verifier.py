"""Verify a variant against its original: same sentences, noise scales 0, then compare.

Reports the mel-cepstral distortion (:mod:`.spectral`) per sentence and its mean, and the word
error rate of both models' audio through whisper tiny.en against the text that was spoken
(:mod:`.transcriber`), so the WER of the variant is judged relative to the original's.
Both renderings are written as WAVs for listening.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from ...core.engines import Engine
from ...core.spectral import mel_cepstral_distortion
from ...core.voices import VoiceInfo
from .speed import DETERMINISTIC, load_engine
from .transcriber import details, word_error_rate

_LOGGER = logging.getLogger(__name__)


def render(engine: Engine, sentences: Sequence[str]) -> list[np.ndarray]:
    """Audio of each sentence (noise scales 0, scaled to its peak as the daemon plays it)."""
    return [
        np.concatenate([c.samples for c in engine.synthesize(text, DETERMINISTIC)])
        for text in sentences
    ]


def write_listening_wav(path: Path, clips: Sequence[np.ndarray], sample_rate: int) -> Path:
    """All clips in one WAV with 0.4 s of silence between them."""
    gap = np.zeros(int(0.4 * sample_rate), dtype=np.float32)
    parts = [p for clip in clips for p in (clip, gap)]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.concatenate(parts), sample_rate, subtype="PCM_16")
    return path


@dataclass
class Reference:
    """The original's renderings of the verification sentences (and what whisper heard), made
    once and compared with every variant."""

    sentences: list[str]
    audio: list[np.ndarray]
    sample_rate: int
    heard: list[str] | None = None


def reference(
    engine: Any,
    sentences: Sequence[str],
    transcriber: Any | None = None,
    progress: Any | None = None,
) -> Reference:
    """Render ``sentences`` with the original ``engine`` (noise scales 0) and, with a
    ``transcriber``, transcribe them. ``progress()`` after each sentence."""
    audio, heard = [], []
    for text in sentences:
        audio.append(render(engine, [text])[0])
        if transcriber is not None:
            heard.append(transcriber.transcribe(audio[-1], engine.sample_rate))
        if progress is not None:
            progress()
    return Reference(list(sentences), audio, engine.sample_rate, heard if transcriber else None)


def compare(
    ref: Reference,
    engine: Any,
    transcriber: Any | None = None,
    progress: Any | None = None,
    out_dir: Path | None = None,
    stem: str = "variant",
) -> dict[str, Any]:
    """Render the reference's sentences with ``engine`` (any engine: a whole model, a
    chunked encoder/decoder pair) and compare: mel-cepstral distortion per sentence, duration
    ratio and, with a ``transcriber`` (and a reference that has transcripts), WER of both.
    Returns the manifest's ``quality`` section."""

    sentences, rate = ref.sentences, ref.sample_rate
    var_audio, distances, heard_var = [], [], []
    for text, ref_clip in zip(sentences, ref.audio, strict=True):
        var = render(engine, [text])[0]
        var_audio.append(var)
        distances.append(mel_cepstral_distortion(ref_clip, var, rate))
        if transcriber is not None:
            heard_var.append(transcriber.transcribe(var, rate))
        if progress is not None:
            progress()
    result: dict[str, Any] = {
        "sentences": len(sentences),
        "distance_metric": "mel-cepstral distortion, dB (macbot.toolkit.spectral)",
        "mcd_db_mean": round(float(np.mean(distances)), 3),
        "mcd_db_max": round(float(np.max(distances)), 3),
        "mcd_db_per_sentence": [round(d, 3) for d in distances],
        "duration_ratio": round(
            sum(len(a) for a in var_audio) / max(sum(len(a) for a in ref.audio), 1), 4
        ),
    }
    if transcriber is not None and ref.heard is not None:
        result["asr"] = "whisper tiny.en (faster-whisper, int8, greedy)"
        result["wer_original"] = round(word_error_rate(sentences, ref.heard), 4)
        result["wer_variant"] = round(word_error_rate(sentences, heard_var), 4)
        result["wer_delta_points"] = round(
            100 * (result["wer_variant"] - result["wer_original"]), 2
        )
        result["misheard"] = [
            {**details(text, var), "original_heard": details(text, orig)["heard"]}
            for text, orig, var in zip(sentences, ref.heard, heard_var, strict=True)
            if details(text, var)["heard"] != details(text, var)["reference"]
        ][:10]
    if out_dir is not None:
        result["wav_original"] = str(
            write_listening_wav(Path(out_dir) / f"{stem}.original.wav", ref.audio, rate)
        )
        result["wav_variant"] = str(
            write_listening_wav(Path(out_dir) / f"{stem}.variant.wav", var_audio, rate)
        )
    return result


def verify(
    voice: VoiceInfo,
    original: Path,
    variant: Path,
    sentences: Sequence[str],
    out_dir: Path | None = None,
    transcriber: Any | None = None,
    progress: Any | None = None,
) -> dict[str, Any]:
    """Compare ``variant`` with ``original`` on ``sentences``.

    ``transcriber`` (a :class:`~.transcriber.Transcriber`) adds WER; without it only the
    spectral distance is measured. ``progress`` is called with no argument after each
    sentence of each model (progress bars). Returns the manifest's ``quality`` section.
    """
    ref = reference(load_engine(voice, original), sentences, transcriber, progress)
    return compare(
        ref,
        load_engine(voice, variant),
        transcriber,
        progress,
        out_dir,
        stem=Path(variant).name.removesuffix(".onnx"),
    )
