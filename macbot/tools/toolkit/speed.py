"""A side-by-side speed measurement of model variants on the same sentences.

Sessions are timed in turn, sentence by sentence (interleaved), so a busy machine slows all of
them alike and the ratios stay fair. RTF = synthesis seconds / audio seconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...core.engines import Engine, SynthesisOptions, registry
from ...core.sessions import SessionPlan
from ...core.voices import VoiceInfo

DETERMINISTIC = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.0)


def load_engine(voice: VoiceInfo, model: Path, threads: int = 0) -> Engine:
    """The voice's engine on ``model`` with ``threads`` intra-op threads (0: all cores)."""
    return registry.load(voice, model, plan=SessionPlan(intra_op_threads=threads))


def compare_speed(
    voice: VoiceInfo,
    models: dict[str, Path],
    sentences: Sequence[str],
    rounds: int = 1,
    threads: int = 0,
) -> dict[str, dict[str, Any]]:
    """RTF and seconds of every model in ``models`` over ``sentences`` × ``rounds``, interleaved.

    Returns ``{name: {"rtf", "seconds", "audio_seconds", "load_seconds"}}``.
    """
    engines = {name: load_engine(voice, path, threads) for name, path in models.items()}
    for engine in engines.values():
        engine.warmup()
    wall = dict.fromkeys(engines, 0.0)
    audio = dict.fromkeys(engines, 0.0)
    for _ in range(rounds):
        for text in sentences:
            for name, engine in engines.items():
                started = time.perf_counter()
                audio[name] += sum(c.duration for c in engine.synthesize(text, DETERMINISTIC))
                wall[name] += time.perf_counter() - started
    return {
        name: {
            "rtf": round(wall[name] / audio[name], 4),
            "seconds": round(wall[name], 3),
            "audio_seconds": round(audio[name], 3),
            "load_seconds": round(engines[name].load_seconds, 3),
        }
        for name in engines
    }
