"""Benchmark suites for session settings: load time with onnxruntime's saved optimized
graph, and RSS and speed with the CPU memory arena on and off (the memory pattern is always
off: see :mod:`macbot.core.sessions`).

``macbot bench load``, ``macbot bench rss`` and ``macbot bench memspeed``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import psutil

from macbot.config import config_from_dict
from macbot.core import hashing
from macbot.core.engines import SynthesisOptions, registry
from macbot.core.probes import host_facts
from macbot.core.selection import EngineChain
from macbot.core.sessions import SessionPlan
from macbot.core.voices import bundled_voice

from .common import SENTENCES, child
from .options import BenchOptions

MEMORY_MODES = {
    "cpu arena kept in a burst (the default; shrunk when idle)": SessionPlan(),
    "cpu arena shrunk after each run": SessionPlan(arena_shrinkage=True),
    "cpu arena off": SessionPlan(memory_arena=False),
}
"""Session memory settings compared by ``rss`` and ``memspeed`` (``tts_memory_arena`` and
the arena's shrinkage after each run)."""


def load_suite(bench: BenchOptions) -> dict:
    """Voice load time: onnxruntime optimizing the graph at every load (default) vs loading the
    graph it saved once (``optimized_model_filepath``, optimizations then off). Interleaved."""
    report = bench.reporter
    voice = bundled_voice()
    plan = SessionPlan(intra_op_threads=host_facts().recommended_threads())
    saved = Path(tempfile.mkdtemp()) / "voice.optimized.onnx"
    started = time.perf_counter()
    registry.load(voice, plan=plan, optimized_model_out=saved)
    save_s = time.perf_counter() - started
    times: dict[str, list[float]] = {"optimize at load (default)": [], "saved optimized": []}
    rounds = max(bench.rounds, 3)
    report.step("loading", rounds * 3)
    for _ in range(rounds * 2):
        engine = registry.load(voice, plan=plan)
        times["optimize at load (default)"].append(engine.load_seconds)
        engine = registry.load(voice, saved, plan=plan, preoptimized=True)
        times["saved optimized"].append(engine.load_seconds)
        report.advance(0.5)
    # The daemon's whole path (EngineChain: hash, load, smoke test), as a fresh process sees it
    # (in-memory hash cache cleared): first start vs later starts (saved graph + hash index).
    opt_dir = Path(tempfile.mkdtemp())
    config = config_from_dict({"models": {"tts": {"optimized_dir": str(opt_dir)}}})
    first, later = (
        "daemon start, first (EngineChain.load)",
        "daemon start, later (EngineChain.load)",
    )
    times[first], times[later] = [], []
    for _ in range(rounds):
        for path in opt_dir.glob("ort_cache/*"):
            path.unlink()
        for name in (first, later):
            hashing.forget()
            started = time.perf_counter()
            EngineChain(config, plan).load(voice)
            times[name].append(time.perf_counter() - started)
        report.advance()
    base = statistics.median(times["optimize at load (default)"])
    rows = [
        {
            "load": name,
            "runs": len(v),
            "median_s": round(statistics.median(v), 4),
            "vs_default": round(statistics.median(v) / base, 3),
        }
        for name, v in times.items()
    ]
    return {"suite": "load", "first_load_with_save_s": round(save_s, 3), "rows": rows}


def _texts(n: int) -> list[str]:
    """``n`` single-sentence texts of varied lengths (2 to ~60 words), same for every mode."""
    words = " ".join(SENTENCES).replace(".", "").replace(",", "").split()
    out = []
    for i in range(n):
        k = 2 + (i * 37) % 59
        out.append(" ".join(words[(i * 7 + j) % len(words)] for j in range(k)) + ".")
    return out


def _plan(memory: SessionPlan) -> SessionPlan:
    return replace(memory, intra_op_threads=host_facts().recommended_threads())


def rss_worker(mode: str, n: int) -> dict:
    """Run in a fresh process: ``n`` syntheses with one memory mode, RSS samples in MB."""
    proc = psutil.Process()
    engine = registry.load(bundled_voice(), plan=_plan(MEMORY_MODES[mode]))
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    list(engine.synthesize("Ready.", options))
    samples = [proc.memory_info().rss / 1e6]
    started = time.perf_counter()
    for i, text in enumerate(_texts(n)):
        for _ in engine.synthesize(text, options):
            pass
        if (i + 1) % 10 == 0:
            samples.append(proc.memory_info().rss / 1e6)
    return {
        "mode": mode,
        "rss_mb": [round(s, 1) for s in samples],
        "seconds": time.perf_counter() - started,
    }


def rss_suite(bench: BenchOptions) -> dict:
    """RSS over ~100 syntheses of varied lengths, one fresh process per memory setting."""
    n = int(os.environ.get("MACBOT_RSS_SYNTHESES", "100"))
    rows = []
    for mode in MEMORY_MODES:
        code = (
            "import json,sys; from benchmarks.session import rss_worker; "
            f"print(json.dumps(rss_worker({mode!r}, {n})))"
        )
        result = child(code)
        rss = result["rss_mb"]
        rows.append(
            {
                "memory setting": mode,
                "syntheses": n,
                "rss_after_warmup_mb": rss[0],
                "rss_after_10_mb": rss[1] if len(rss) > 1 else None,
                "rss_end_mb": rss[-1],
                "growth_after_10_mb": round(rss[-1] - rss[min(1, len(rss) - 1)], 1),
                "peak_mb": max(rss),
                "synth_seconds": round(result["seconds"], 1),
            }
        )
    return {"suite": "rss", "rows": rows}


def memspeed_suite(bench: BenchOptions) -> dict:
    """Synthesis speed with each memory setting, interleaved in one process over the same
    varied-length texts as ``rss`` (median RTF; RSS is what ``rss`` measures)."""
    engines = {
        mode: registry.load(bundled_voice(), plan=_plan(memory))
        for mode, memory in MEMORY_MODES.items()
    }
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    rtfs: dict[str, list[float]] = {mode: [] for mode in engines}
    for engine in engines.values():
        list(engine.synthesize("Ready.", options))
    for text in _texts(10 * max(bench.rounds, 1)):
        for mode, engine in engines.items():
            started = time.perf_counter()
            audio = sum(c.duration for c in engine.synthesize(text, options))
            rtfs[mode].append((time.perf_counter() - started) / audio)
    base = statistics.median(next(iter(rtfs.values())))
    rows = [
        {
            "memory setting": mode,
            "runs": len(v),
            "median_rtf": round(statistics.median(v), 4),
            "vs_default": round(statistics.median(v) / base, 3),
        }
        for mode, v in rtfs.items()
    ]
    return {"suite": "memspeed", "rows": rows}
