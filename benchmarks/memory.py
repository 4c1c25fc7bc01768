"""Memory of a daemon that runs all day (issue 11): ``runs`` and ``memory``.

``runs``: one model run's peak memory and time against its length in phoneme ids, each length
in a fresh process (peak RSS is the process's high-water mark). The bound on a model run
(:data:`~macbot.core.engines.piper.MAX_PHONEME_IDS`) comes from this table.

``memory``: a real ``macbot serve`` process measured from outside, against piper-tts in a
process of its own with the daemon's session settings, over the same texts: RSS after warm-up,
after 200 varied requests, after 8 clients × 25 requests, after reloads, and the peak and
answer time of a 5,000-character text without punctuation.
"""

from __future__ import annotations

import resource
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
from piper import PiperVoice, SynthesisConfig

from macbot.core.engines import SynthesisOptions, registry
from macbot.core.engines.piper import MAX_PHONEME_IDS
from macbot.core.sessions import SessionPlan, open_session
from macbot.core.synthesizer import IDLE_RELEASE_SECONDS
from macbot.core.voices import bundled_voice
from macbot.core.workers import compute_cores

from .common import child
from .daemon import varied_texts
from .harness import ServedDaemon
from .options import BenchOptions

RUN_LENGTHS = (150, 300, 450, 600, 900, 1200, 2000, 3000)
"""Phoneme ids per model run measured by ``runs``."""

UNPUNCTUATED = "word " * 990
"""The issue's case: 4,950 characters without sentence punctuation."""


def run_probe(ids: int) -> dict:
    """In a fresh process: one model run of ``ids`` phoneme ids (an unpunctuated text cut to
    that length), unbounded; its added peak RSS and its time."""
    engine = registry.load(bundled_voice(), plan=SessionPlan(intra_op_threads=compute_cores()))
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    engine.infer(engine.sentences("Ready.")[0].phoneme_ids, options)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.max_phoneme_ids = 10**9
    (sentence,) = engine.sentences("word " * (ids // 8 + 10))
    run = sentence.phoneme_ids[: ids - 1] + sentence.phoneme_ids[-1:]
    started = time.perf_counter()
    audio = engine.infer(run, options)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "ids": len(run),
        "added_peak_mb": round(peak - base, 1),
        "seconds": round(seconds, 3),
        "audio_s": round(len(audio) / engine.sample_rate, 2),
    }


def runs_suite(bench: BenchOptions) -> dict:
    """Peak memory and time of one model run by its length (each in a fresh process)."""
    report = bench.reporter
    report.step("one model run per length", len(RUN_LENGTHS))
    rows = []
    for ids in RUN_LENGTHS:
        probe = child(
            "import json; from benchmarks.memory import run_probe; "
            f"print(json.dumps(run_probe({ids})))"
        )
        probe["s_per_audio_s"] = round(probe["seconds"] / probe["audio_s"], 4)
        probe["bound"] = "<= bound" if probe["ids"] <= MAX_PHONEME_IDS else "cut"
        rows.append(probe)
        report.advance()
    return {"suite": "runs", "max_phoneme_ids": MAX_PHONEME_IDS, "rows": rows}


def piper_probe(count: int) -> dict:
    """In a fresh process: piper-tts in-process with the daemon's session settings (arena on,
    memory pattern off, every core), RSS after warm-up and after ``count`` varied texts."""
    voice = PiperVoice.load(bundled_voice().model_path)
    plan = SessionPlan(intra_op_threads=compute_cores())  # arena on, memory pattern off
    voice.session = open_session(bundled_voice().model_path, plan)
    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    proc = psutil.Process()
    for text in varied_texts(10, seed=1):
        list(voice.synthesize(text, cfg))
    warm = proc.memory_info().rss / 1e6
    for text in varied_texts(count):
        list(voice.synthesize(text, cfg))
    return {"warm_mb": round(warm, 1), "after_mb": round(proc.memory_info().rss / 1e6, 1)}


def settle() -> None:
    """Wait until a daemon has released what the last burst left (``IDLE_RELEASE_SECONDS``
    after the last synthesis, plus a margin)."""
    time.sleep(IDLE_RELEASE_SECONDS + 1.5)


def at_rest(daemon: ServedDaemon) -> float:
    """The served daemon's RSS once it has released what the last burst left."""
    settle()
    return daemon.rss_mb()


class Sampler:
    """RSS of a process sampled every ``interval`` seconds in a thread (for peaks)."""

    def __init__(self, daemon: ServedDaemon, interval: float = 0.05) -> None:
        self.daemon = daemon
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.daemon.rss_mb())
            time.sleep(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def memory_suite(bench: BenchOptions) -> dict:
    """The daemon's RSS over a working day in miniature, against piper-tts (targets in the
    last column)."""
    report = bench.reporter
    count = bench.rss_requests
    report.step("piper-tts in its own process", None)
    piper = child(
        "import json; from benchmarks.memory import piper_probe; "
        f"print(json.dumps(piper_probe({count})))"
    )
    folder = Path(tempfile.mkdtemp(prefix="macbot-memory-"))
    # Cache off, as piper-tts has none: every request synthesizes, and what stays is what
    # leaked (the cache's own bytes are bounded by tts_cache_max_mb; the soak runs with it).
    daemon = ServedDaemon({"tts_cache_enabled": False}, folder)
    rows: list[dict] = []

    def row(measure: str, value: float, baseline: float | None, target: str) -> None:
        rows.append(
            {
                "measure": measure,
                "macbot_mb": round(value, 1),
                "baseline_mb": round(baseline, 1) if baseline is not None else "",
                "ratio": round(value / baseline, 3) if baseline else "",
                "target": target,
            }
        )

    errors = 0

    def speak(text: str) -> None:
        nonlocal errors
        try:
            daemon.post_speak(text)
        except RuntimeError:
            errors += 1

    try:
        report.step("warm-up, varied requests, 8 clients, reloads, 5,000 characters", 5)
        for text in varied_texts(10, seed=1):
            speak(text)
        warm = at_rest(daemon)
        row("RSS after warm-up (10 varied requests), at rest", warm, piper["warm_mb"], "")
        report.advance()
        for text in varied_texts(count):
            speak(text)
        row(f"  right after the last of {count} requests", daemon.rss_mb(), warm, "")
        after = at_rest(daemon)
        row(f"RSS after {count} varied requests, at rest", after, warm, "ratio <= 1.15, <= 280 MB")
        row(f"  piper-tts after the same {count} texts", piper["after_mb"], piper["warm_mb"], "")
        report.advance()
        texts = varied_texts(200, seed=3)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(speak, texts))
        row("  right after 8 clients x 25", daemon.rss_mb(), warm, "")
        clients = at_rest(daemon)
        row("RSS after 8 clients x 25 varied requests, at rest", clients, warm, "ratio <= 1.15")
        report.advance()
        threads_before = daemon.thread_count()
        before_reloads = clients
        for n in range(8):
            daemon.reload(tts_cache_size=100 + n)  # a performance change: a new synthesizer
            speak(f"Reloaded {n} times.")
        reloaded = at_rest(daemon)
        row("RSS after 8 reloads (new synthesizer each)", reloaded, before_reloads, "ratio ~1.0")
        rows.append(
            {
                "measure": "threads before / after 8 reloads",
                "macbot_mb": daemon.thread_count(),
                "baseline_mb": threads_before,
                "ratio": round(daemon.thread_count() / threads_before, 3),
                "target": "ratio 1.0",
            }
        )
        report.advance()
        base = daemon.rss_mb()
        with Sampler(daemon) as sampler:
            started = time.perf_counter()
            reply = daemon.client.request("POST", "/speak", {"text": UNPUNCTUATED, "play": False})
            seconds = time.perf_counter() - started
        row(
            f"5,000 unpunctuated characters: added peak ({reply.status}, {seconds:.1f} s)",
            sampler.peak - base,
            None,
            "<= 400 MB, bounded time",
        )
        if reply.status >= 500:
            errors += 1
        report.advance()
    finally:
        code = daemon.stop()
    rows.append(
        {
            "measure": "errors (non-200 answers), exit status",
            "macbot_mb": errors,
            "baseline_mb": code,
            "ratio": "",
            "target": "0, 0",
        }
    )
    return {"suite": "memory", "rows": rows}
