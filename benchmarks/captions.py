"""Captions (issue 19): the cues' word times against whisper tiny.en's on the same audio.

Replies of two to three sentences (:data:`~.livespeech.UNSEEN_SENTENCES`, three at a time, and
the live-speech replies), spoken by the bundled voice's split (it has phoneme durations, noise
0), made into WebVTT by ``macbot.core.captions`` and parsed back with webvtt-py when it is
installed (the dev extra). Each cue's first word is paired with the same word as whisper hears
it (``word_timestamps=True``; all the words shown are paired in order after normalization, so
a cue's first word is not matched to a like word elsewhere) and the cue's start, as the parsed
file gives it, set against whisper's start of that word; every word shown in a cue likewise
(the words' own times). Target: median |cue start − whisper's| ≤ 0.10 s.
"""

from __future__ import annotations

import io
import statistics
import tempfile
from pathlib import Path

from macbot.config import AppConfig, config_from_dict
from macbot.core.captions import cues, render
from macbot.core.engines.chunked import find_split, split_dir_for
from macbot.core.manifests import Manifest
from macbot.core.synthesizer import Synthesizer
from macbot.core.voices import bundled_voice
from macbot.tools.split import split_voice
from macbot.tools.toolkit.transcriber import Transcriber

from .common import p50
from .harness import DETERMINISTIC
from .livespeech import REPLIES, UNSEEN_SENTENCES, pair_words
from .options import BenchOptions


def texts() -> list[str]:
    """The replies captioned: unseen sentences three at a time, and the live-speech replies."""
    groups = [" ".join(UNSEEN_SENTENCES[i : i + 3]) for i in range(0, len(UNSEEN_SENTENCES), 3)]
    return groups + list(REPLIES)


def split_folder() -> Path:
    """The configured optimized folder when it has the voice's split with durations, else a
    fresh split in a temporary folder."""
    voice = bundled_voice()
    folder = find_split(voice, AppConfig().tts.optimized_dir)
    if folder is not None and Manifest.load(folder).parameters.get("durations_output"):
        return folder.parent
    tmp = Path(tempfile.mkdtemp(prefix="macbot-captions-bench-"))
    split_voice(voice, tmp)
    return split_dir_for(voice, tmp).parent


def parsed_starts(vtt: str) -> list[tuple[str, float]]:
    """Each cue's first word and start, as a player reads the file (webvtt-py when installed,
    else the cues' own numbers)."""
    try:
        import webvtt
    except ImportError:
        return []
    out = []
    for cue in webvtt.from_buffer(io.StringIO(vtt)):
        h, m, s = cue.start.split(":")
        out.append((cue.text.split()[0], int(h) * 3600 + int(m) * 60 + float(s)))
    return out


def captions_suite(bench: BenchOptions) -> dict:
    """Cue starts and cue words against whisper tiny.en's word starts."""
    report = bench.reporter
    report.step("splitting the voice (when needed), loading it and whisper")
    config = config_from_dict(
        {
            "models": {
                "tts": {
                    "piper": DETERMINISTIC,
                    "optimized_dir": str(split_folder()),
                    "streaming": {"enabled": True},
                }
            },
            "voice_assistant": {
                "performance": {"tts_cache_enabled": False, "tts_cache_persist": False}
            },
        }
    )
    synth = Synthesizer(config)
    transcriber = Transcriber(threads=2)
    rows = []
    cue_diffs: list[float] = []
    word_diffs: list[float] = []
    report.step("synthesize, caption, transcribe", len(texts()))
    try:
        for text in texts():
            result = synth.synthesize(text)
            made = cues(result.words, text)
            vtt = render(made, "vtt")
            heard = transcriber.words(result.samples, result.sample_rate)
            parsed = parsed_starts(vtt)
            starts = [s for _, s in parsed] or [c.start for c in made]
            shown = [(w.word, w.start, w.end) for c in made for w in c.words]
            word_pairs = pair_words(shown, heard)
            heard_for = {id(ours): theirs for ours, theirs in word_pairs}
            firsts, k = [], 0
            for cue in made:
                firsts.append(shown[k])
                k += len(cue.words)
            d_cue = [
                abs(start - heard_for[id(first)][1])
                for first, start in zip(firsts, starts, strict=True)
                if id(first) in heard_for
            ]
            d_word = [abs(o[1] - h[1]) for o, h in word_pairs]
            cue_diffs += d_cue
            word_diffs += d_word
            rows.append(
                {
                    "reply": text[:44],
                    "cues": len(made),
                    "cues_paired": len(d_cue),
                    "cue_start_abs_diff_p50_s": round(p50(d_cue), 3),
                    "words_paired": len(word_pairs),
                    "word_start_abs_diff_p50_s": round(p50(d_word), 3),
                }
            )
            report.advance()
    finally:
        synth.close()
    rows.append(
        {
            "reply": "all",
            "cues": sum(r["cues"] for r in rows),
            "cues_paired": len(cue_diffs),
            "cue_start_abs_diff_p50_s": round(statistics.median(cue_diffs), 3),
            "words_paired": len(word_diffs),
            "word_start_abs_diff_p50_s": round(statistics.median(word_diffs), 3),
        }
    )
    return {
        "suite": "captions",
        "median_cue_start_abs_diff_s": statistics.median(cue_diffs),
        "median_word_start_abs_diff_s": statistics.median(word_diffs),
        "max_cue_start_abs_diff_s": max(cue_diffs),
        "target": "<= 0.10 s",
        "rows": rows,
    }
