"""``macbot tune``: time every available engine candidate on this host and store the winner.

Candidates are loaded with the daemon's own session plan (``voice_assistant.performance``:
threads, memory arena), so what is timed here is what the daemon runs.

Rounds are interleaved (every candidate speaks the same sentence in turn, noise 0), the median
real-time factor (RTF = synthesis seconds / audio seconds) decides. A variant is allowed only
when it loads, passes the smoke test and its quality record, and is not slower than the
original, or at most :data:`TIMINGS_COST` slower when it gives word timings that the original
does not; such an engine also wins over a faster one without timings within that cost, and
among engines within :data:`QUALITY_TIE` of the fastest the one with the fewest word errors
wins (:func:`choose`). The record goes to ``optimized_models/tune.json`` keyed by (model sha256,
onnxruntime version, CPU model, providers); the daemon follows it at the next start.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from ..config import AppConfig
from ..core.budget import auto_voice
from ..core.engines.piper import SynthesisOptions
from ..core.selection import (
    ORIGINAL,
    Attempt,
    CandidateRejected,
    EngineChain,
    save_tune_record,
    tune_key,
)
from ..core.voices import VoiceInfo
from ..errors import NoEngineError

TUNE_SENTENCES = [
    "Good morning, the weather today is sunny with a light breeze from the west.",
    "Your next meeting starts in fifteen minutes in the small conference room.",
    "I have set a timer for ten minutes.",
    "Turning off the lights in the living room and the kitchen now.",
]
"""Typical assistant replies (short and long)."""

BUSY_SPREAD = 1.25
"""Per-round speed-ups whose largest is more than this times the smallest, or that fall on
both sides of 1: the machine was too busy (other work ran between rounds) to decide."""


TIMINGS_COST = 1.10
"""How much slower (median RTF) an engine that gives word timings may be than the fastest
allowed one, which does not, and still win: captions, the page's highlighted words and the
WebSocket's word events need them. On a quiet machine, Kokoro's ``timed`` model (the packaged
one with its durations as an output: the same audio) ran at 0.96× the original's speed, lost
to it, and the daemon had no word timings at all (2026-12-03)."""


QUALITY_TIE = 1.05
"""Engines whose median RTF is within this of the fastest allowed one are as fast as it (the
tune's rounds spread about ±3 % on a quiet machine); among them the one with the fewest word
errors on the gate's sentences wins. On a quiet machine Kokoro's ``static-gen`` (WER +1.8
points, at the gate's edge) ran 1.68× the original's speed and ``static-dec`` (+0.3 points)
1.63×: 3 % is not worth 1.5 points of misheard words (2026-12-03)."""


def choose(results: dict[str, dict[str, Any]], original: str) -> str:
    """The winner's name among ``results`` (entries with ``median_rtf``, ``word_timings`` and
    ``usable``, and the original's): allowed (:data:`TIMINGS_COST` above), then the fastest,
    (among those within :data:`QUALITY_TIE` of it, the fewest ``wer_points``, at least 0: the
    original and an engine without a measurement count 0), unless it has no word timings and the
    fastest that has them is within the cost. Sets each entry's ``chosen_ok`` and ``reason``,
    ``for_timings`` on a winner chosen over a faster engine for its word timings and
    ``for_quality`` on one chosen over a faster engine for its fewer word errors."""
    base = results[original]
    timed_original = bool(base.get("word_timings"))
    for name, entry in results.items():
        med = entry.get("median_rtf")
        if not entry.get("usable") or med is None:
            continue
        low, high = entry.get("speedup_range") or (None, None)
        speed = (
            f"{entry['speedup_vs_original']:.2f}× the original's speed (median of "
            f"{len(entry.get('speedup_rounds') or [])} rounds, {low:.2f}–{high:.2f}×)"
            if low is not None
            else ""
        )
        if name == original:
            entry.update(chosen_ok=True, reason="the original (always allowed)")
        elif med <= base["median_rtf"]:
            entry.update(chosen_ok=True, reason=f"{speed}, quality ok")
        elif (
            entry.get("word_timings")
            and not timed_original
            and med <= TIMINGS_COST * base["median_rtf"]
        ):
            entry.update(
                chosen_ok=True,
                reason=f"{speed}, quality ok: within {TIMINGS_COST:.2f}× for the word timings "
                "the original does not give",
            )
        else:
            entry.update(
                chosen_ok=False,
                reason=f"slower than the original (median RTF {med:.4f} vs "
                f"{base['median_rtf']:.4f})",
            )
    allowed = [e for e in results.values() if e.get("chosen_ok")]
    quickest = min(allowed, key=lambda e: e["median_rtf"])

    def errors(entry: dict[str, Any]) -> float:
        points = None if entry["name"] == original else entry.get("wer_points")
        return 0.0 if points is None else max(points, 0.0)

    ties = [e for e in allowed if e["median_rtf"] <= QUALITY_TIE * quickest["median_rtf"]]
    fastest = min(ties, key=lambda e: (errors(e), e["median_rtf"]))
    if fastest is not quickest and errors(fastest) < errors(quickest):
        fastest["for_quality"] = True
    timed = [e for e in allowed if e.get("word_timings")]
    if timed and not fastest.get("word_timings"):
        best = min(timed, key=lambda e: e["median_rtf"])
        if best["median_rtf"] <= TIMINGS_COST * fastest["median_rtf"]:
            best["for_timings"] = True
            return str(best["name"])
    return str(fastest["name"])


def spread(base: list[list[float]], rtfs: list[list[float]]) -> dict[str, Any]:
    """The speed-up over the original, measured the one way every command reports it: per
    round, the original's median RTF over the sentences / the candidate's (timed in turn);
    then the median over the rounds and the range. ``busy`` says why the rounds disagree too
    much to decide (``None``: they agree)."""
    rounds = [statistics.median(b) / statistics.median(r) for b, r in zip(base, rtfs, strict=True)]
    low, high = min(rounds), max(rounds)
    busy = None
    if high > BUSY_SPREAD * low or low < 1.0 < high:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        busy = f"the machine was too busy to decide: per-round speed-ups {low:.2f}–{high:.2f}×" + (
            f" (load average {load:.1f})" if load is not None else ""
        )
    return {
        "speedup_vs_original": round(statistics.median(rounds), 3),
        "speedup_range": [round(low, 3), round(high, 3)],
        "speedup_rounds": [round(x, 3) for x in rounds],
        "busy": busy,
    }


def tune(
    config: AppConfig,
    rounds: int = 3,
    chain: EngineChain | None = None,
    progress: Any = None,
    sentences: list[str] | None = None,
    voice: VoiceInfo | None = None,
    paused: Callable[[], int] | None = None,
    measured_by: str = "`macbot tune`",
) -> dict[str, Any]:
    """Measure every candidate of ``voice`` (default: the configured one), save and return
    the record. ``progress``: a callable ``(message)`` for status lines (rich in the CLI).

    ``paused``: a counter of the times this process was paused and resumed (the daemon stops
    its background optimizer while it synthesizes); a timing during which it changed is taken
    again, so a pause never counts as synthesis time.
    """
    say = progress or (lambda _msg: None)
    chain = chain or tune_chain(config)
    voice = voice or auto_voice(config.tts)
    sentences = sentences or TUNE_SENTENCES
    loaded = {}
    results: dict[str, dict[str, Any]] = {}
    candidates = chain.candidates(voice)
    # the voice's own model: "piper", or "kokoro" for that family
    original = next((c.name for c in candidates if c.is_original), ORIGINAL)
    for cand in candidates:
        attempt = Attempt(cand.engine_type, str(cand.path), name=cand.name)
        digest = cand.digest_file
        entry: dict[str, Any] = {
            "name": cand.name,
            "engine_type": cand.engine_type,
            "path": str(cand.path),
            "sha256": chain.sha256(digest) if digest.is_file() else None,
            "median_rtf": None,
        }
        results[cand.name] = entry
        say(f"loading {cand.name} ({cand.path.name})")
        try:
            loaded[cand.name] = chain.try_candidate(cand, voice, attempt)
        except CandidateRejected as exc:
            entry.update(usable=False, chosen_ok=False, reason=str(exc))
            say(f"  rejected: {exc}")
            continue
        entry.update(
            usable=True,
            warnings=attempt.warnings,
            word_timings=bool(loaded[cand.name].has_durations),
            wer_points=attempt.wer_points,
        )
    if original not in loaded:
        raise NoEngineError(f"the original model does not load: {results[original].get('reason')}")

    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.0)
    rtfs: dict[str, list[float]] = {name: [] for name in loaded}
    per_round: dict[str, list[list[float]]] = {name: [] for name in loaded}
    for engine in loaded.values():  # warm every session once
        list(engine.synthesize(sentences[0], options))
    pauses = paused or (lambda: 0)
    for r in range(rounds):
        for name in loaded:
            per_round[name].append([])
        for text in sentences:
            for name, engine in loaded.items():
                for _attempt in range(5):  # a pause inside a timing: take it again
                    before = pauses()
                    started = time.perf_counter()
                    audio = sum(c.duration for c in engine.synthesize(text, options))
                    seconds = time.perf_counter() - started
                    if pauses() == before:
                        break
                rtfs[name].append(seconds / max(audio, 1e-6))
                per_round[name][-1].append(seconds / max(audio, 1e-6))
        say(f"round {r + 1}/{rounds} done")
    for name, values in rtfs.items():
        entry = results[name]
        entry["median_rtf"] = round(statistics.median(values), 5)
        entry.update(spread(per_round[original], per_round[name]))
    winner = choose(results, original)
    results[winner]["winner"] = True  # the chain tries it first (core.selection)
    record = {
        "key": tune_key(chain.sha256(voice.model_path), chain.facts),
        "voice": voice.name,
        "created": time.time(),
        "measured_by": measured_by,
        "plan": chain.plan.describe(),
        "rounds": rounds,
        "sentences": len(sentences),
        "winner": winner,
        "busy": "; ".join(f"{e['name']}: {e['busy']}" for e in results.values() if e.get("busy"))
        or None,
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "results": list(results.values()),
    }
    save_tune_record(chain.tune_path, record)
    return record


def tune_chain(config: AppConfig) -> EngineChain:
    """The engine chain with the daemon's own session settings (its worker plan), without
    onnxruntime's saved graphs so every candidate is optimized the same way."""
    return EngineChain(config, preoptimize=False)
