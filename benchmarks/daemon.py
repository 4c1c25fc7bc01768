"""The ``daemon`` suite: the daemon over HTTP against piper-tts in-process, side by side, on
each worker plan of :func:`plans` (a table of :class:`Plan` rows)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from piper import PiperVoice, SynthesisConfig

from macbot.core.voices import bundled_voice
from macbot.core.workers import compute_cores
from macbot.errors import MacbotError

from .common import MORE_SENTENCES, SENTENCES, p50
from .harness import start_daemon
from .options import BenchOptions


def wall(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` takes."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def varied_texts(count: int, seed: int = 7) -> list[str]:
    """``count`` texts of 1 to 4 sentences of 2 to 40 words (shapes the model has not seen)."""
    rng = random.Random(seed)
    words = " ".join(SENTENCES + MORE_SENTENCES).replace(",", "").replace(".", "").split()
    texts = []
    for _ in range(count):
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(2, 40))).capitalize() + "."
            for _ in range(rng.randint(1, 4))
        ]
        texts.append(" ".join(sentences))
    return texts


@dataclass(frozen=True)
class Plan:
    """One row of the suite's table: a worker plan, its daemon's performance settings."""

    name: str
    performance: dict[str, Any] = field(default_factory=dict, hash=False)
    targets: bool = False
    """Whether the issue's targets apply (the default plan's rows carry them)."""


def plans(cores: int) -> list[Plan]:
    """The adaptive plan (the default, first) and the two fixed plans it replaces."""
    return [
        Plan("adaptive plan (default)", targets=True),
        Plan(f"1 worker x {cores} threads", {"tts_workers": 1}),
        Plan(f"{cores} workers x 1 thread", {"tts_workers": cores}),
    ]


def daemon_suite(bench: BenchOptions) -> dict:
    """The daemon against piper-tts in-process, side by side in one run (targets in the last
    column), with the adaptive worker plan (the default) against the two fixed plans it
    replaces on this machine: one worker with every thread, and one worker per core with one
    thread each.

    Every contender runs with noise scales 0 and no sentence silence, so all make the same audio.
    """
    report = bench.reporter
    report.step("starting four daemons")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # 8 clients queue by design
    voice = PiperVoice.load(bundled_voice().model_path)
    piper_cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    table = plans(compute_cores())
    daemons = {
        plan: start_daemon({"tts_cache_enabled": False, **plan.performance}) for plan in table
    }
    adaptive = daemons[table[0]]
    cached = start_daemon({"tts_cache_enabled": True, "tts_cache_size": 1000})

    def piper_run(text: str) -> None:
        for _ in voice.synthesize(text, piper_cfg):
            pass

    for text in SENTENCES[:2]:  # warm every path
        piper_run(text)
        for live in daemons.values():
            live.post_speak(text)

    rows: list[dict] = []

    def row(measure: str, macbot: float, piper: float | None, unit: str, target: str) -> None:
        ratio = round(macbot / piper, 3) if piper else None
        rows.append(
            {
                "measure": measure,
                "macbot": round(macbot, 4),
                "baseline": round(piper, 4) if piper is not None else "",
                "unit": unit,
                "ratio": ratio if ratio is not None else "",
                "target": target,
            }
        )

    # 1. one sentence per request vs piper in-process (interleaved, cache off)
    report.step("1 sentence, 10 sentences, cache, 8 clients", 4)
    piper: list[float] = []
    lone: dict[Plan, list[float]] = {plan: [] for plan in table}
    for _ in range(bench.rounds):
        for text in SENTENCES:
            piper.append(wall(lambda text=text: piper_run(text)))
            for plan, live in daemons.items():
                lone[plan].append(wall(lambda text=text, live=live: live.post_speak(text)))
    for plan in table:
        target = "ratio <= 1.05" if plan.targets else ""
        row(f"1 sentence: POST /speak, {plan.name}", sum(lone[plan]), sum(piper), "s total", target)
    report.advance()

    # 2. a 10-sentence request vs piper on the same text
    paragraph = " ".join(SENTENCES + MORE_SENTENCES)
    piper_ten: list[float] = []
    ten: dict[Plan, list[float]] = {plan: [] for plan in table}
    ttfa, total_stream = [], []
    for _ in range(bench.rounds):
        piper_ten.append(wall(lambda: piper_run(paragraph)))
        for plan, live in daemons.items():
            ten[plan].append(wall(lambda live=live: live.post_speak(paragraph)))
        started = time.perf_counter()
        first = None
        for piece in adaptive.client.stream(
            "POST", "/speak", {"text": paragraph, "stream": True, "format": "pcm"}
        ):
            if piece and first is None:
                first = time.perf_counter() - started
        total_stream.append(time.perf_counter() - started)
        ttfa.append(first or float("nan"))
    for plan in table:
        target = "ratio <= 0.95" if plan.targets else ""
        row(
            f"10 sentences: POST /speak, {plan.name}",
            p50(ten[plan]),
            p50(piper_ten),
            "s p50",
            target,
        )
    row(
        "10 sentences streamed: time to first audio",
        p50(ttfa),
        p50(piper_ten),
        "s p50",
        "(vs piper's whole paragraph)",
    )
    row("10 sentences streamed: last byte", p50(total_stream), p50(piper_ten), "s p50", "")
    report.advance()

    # 3. cache hit vs miss
    miss, hit = [], []
    for n, text in enumerate((SENTENCES + MORE_SENTENCES) * bench.rounds):
        text = f"{text} Number {n}."
        miss.append(wall(lambda text=text: cached.post_speak(text)))
        hit.append(wall(lambda text=text: cached.post_speak(text)))
    row("cache hit vs miss (POST /speak)", p50(hit), p50(miss), "s p50", "ratio <= 0.02")
    report.advance()

    # 4. 8 clients x 25 requests vs one client (cache off: every request synthesizes)
    texts = (SENTENCES + MORE_SENTENCES) * 3
    for plan, live in daemons.items():
        one = wall(lambda live=live: [live.post_speak(texts[i % len(texts)]) for i in range(25)])
        errors: list[str] = []

        def client(offset: int, live=live, errors=errors) -> None:
            for i in range(25):
                try:
                    live.post_speak(texts[(offset + i) % len(texts)])
                except (RuntimeError, MacbotError) as exc:  # counted as an error of the run
                    errors.append(f"{type(exc).__name__}: {exc}")

        clients = [threading.Thread(target=client, args=(c * 3,)) for c in range(8)]
        started = time.perf_counter()
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        eight = time.perf_counter() - started
        row(
            f"8 clients x 25: throughput, {plan.name}",
            200 / eight,
            25 / one,
            "req/s",
            "ratio >= 1.08" if plan.targets else "",
        )
        row(
            f"8 clients x 25: errors, {plan.name}",
            float(len(errors)),
            None,
            "count",
            "0" if plan.targets else "",
        )
    report.advance()

    for live in (*daemons.values(), cached):
        live.stop()
    return {
        "suite": "daemon",
        "workers": adaptive.synth.workers,
        "intra_op_threads": adaptive.synth.intra_op_threads,
        "rounds": bench.rounds,
        "rows": rows,
        "note": "RSS: see the memory suite (a served daemon measured from outside)",
    }
