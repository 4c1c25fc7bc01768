"""The ``daemon`` suite: the daemon over HTTP against piper-tts in-process, side by side."""

from __future__ import annotations

import argparse
import json
import logging
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from piper import PiperVoice, SynthesisConfig

from ...core.stats import rss_mb
from ...core.voices import bundled_voice
from ...errors import MacbotError
from .live import start_daemon
from .registry import MORE_SENTENCES, SENTENCES, p50, reporter, suite


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


def rss_probe(arena: bool, requests_count: int) -> dict:
    """RSS of a fresh daemon before and after ``requests_count`` varied requests (cache off),
    with onnxruntime's CPU memory arena on or off (the memory pattern is always off).

    Runs in its own process (:func:`rss_main`) so that nothing else shares the heap.
    """
    live = start_daemon({"tts_cache_enabled": False, "tts_memory_arena": arena})
    for text in varied_texts(10, seed=1):  # warm every code path first
        live.post_speak(text)
    before = rss_mb()
    errors = 0
    for text in varied_texts(requests_count):
        try:
            live.post_speak(text)
        except RuntimeError:
            errors += 1
    after = rss_mb()
    live.stop()
    return {"before_mb": round(before, 1), "after_mb": round(after, 1), "errors": errors}


def rss_main() -> None:  # pragma: no cover - run as a child process by the daemon suite
    arena, count = sys.argv[1] == "1", int(sys.argv[2])
    print(json.dumps(rss_probe(arena, count)))


@suite("daemon")
def daemon_suite(args: argparse.Namespace) -> dict:
    """The daemon against piper-tts in-process, side by side in one run (targets in brackets).

    Every contender runs with noise scales 0 and no sentence silence, so all make the same audio.
    """
    report = reporter(args)
    report.step("starting four daemons")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # 8 clients queue by design
    voice = PiperVoice.load(bundled_voice().model_path)
    piper_cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    nocache = start_daemon({"tts_cache_enabled": False})
    seq = start_daemon({"tts_cache_enabled": False, "tts_parallel_processing": False})
    # The other plan: two workers of one intra-op thread each (the default on 2-core machines
    # is one worker of two threads; see macbot.core.workers.THREADS_PER_WORKER).
    two = start_daemon({"tts_cache_enabled": False, "tts_workers": 2})
    cached = start_daemon({"tts_cache_enabled": True, "tts_cache_size": 1000})
    par = nocache.synth

    def piper_run(text: str) -> None:
        for _ in voice.synthesize(text, piper_cfg):
            pass

    for text in SENTENCES[:2]:  # warm every path
        piper_run(text)
        for live in (nocache, seq, two):
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

    # 1. per-sentence HTTP throughput vs piper in-process (interleaved, cache off)
    piper_s, http_s, seq_s, two_s = [], [], [], []
    report.step("1 sentence, 10 sentences, cache, 8 clients", 4)
    for _ in range(args.rounds):
        for text in SENTENCES:
            piper_s.append(wall(lambda text=text: piper_run(text)))
            http_s.append(wall(lambda text=text: nocache.post_speak(text)))
            seq_s.append(wall(lambda text=text: seq.post_speak(text)))
            two_s.append(wall(lambda text=text: two.post_speak(text)))
    row(
        "1 sentence: POST /speak, parallel plan",
        sum(http_s),
        sum(piper_s),
        "s total",
        "ratio <= 1.05",
    )
    row("1 sentence: POST /speak, 2 workers x 1 thread", sum(two_s), sum(piper_s), "s total", "")
    row(
        "1 sentence: POST /speak, parallel off",
        sum(seq_s),
        sum(piper_s),
        "s total",
        "(for the record)",
    )

    report.advance()
    # 2. a 10-sentence request vs piper on the same text
    paragraph = " ".join(SENTENCES + MORE_SENTENCES)
    p10, h10, q10, w10, ttfa, total_stream = [], [], [], [], [], []
    for _ in range(args.rounds):
        p10.append(wall(lambda: piper_run(paragraph)))
        h10.append(wall(lambda: nocache.post_speak(paragraph)))
        q10.append(wall(lambda: seq.post_speak(paragraph)))
        w10.append(wall(lambda: two.post_speak(paragraph)))
        started = time.perf_counter()
        first = None
        for piece in nocache.client.stream(
            "POST", "/speak", {"text": paragraph, "stream": True, "format": "pcm"}
        ):
            if piece and first is None:
                first = time.perf_counter() - started
        total_stream.append(time.perf_counter() - started)
        ttfa.append(first or float("nan"))
    row("10 sentences: POST /speak, parallel plan", p50(h10), p50(p10), "s p50", "ratio <= 0.75")
    row("10 sentences: POST /speak, 2 workers x 1 thread", p50(w10), p50(p10), "s p50", "")
    row("10 sentences: POST /speak, parallel off", p50(q10), p50(p10), "s p50", "(for the record)")
    row(
        "10 sentences streamed: time to first audio",
        p50(ttfa),
        p50(p10),
        "s p50",
        "(vs piper's whole paragraph)",
    )
    row("10 sentences streamed: last byte", p50(total_stream), p50(p10), "s p50", "")

    report.advance()
    # 3. cache hit vs miss
    miss, hit = [], []
    for n, text in enumerate((SENTENCES + MORE_SENTENCES) * args.rounds):
        text = f"{text} Number {n}."
        miss.append(wall(lambda text=text: cached.post_speak(text)))
        hit.append(wall(lambda text=text: cached.post_speak(text)))
    row("cache hit vs miss (POST /speak)", p50(hit), p50(miss), "s p50", "ratio <= 0.02")

    report.advance()
    # 4. 8 clients x 25 requests vs one client (cache off: every request synthesizes)
    texts = (SENTENCES + MORE_SENTENCES) * 3
    one = wall(lambda: [nocache.post_speak(texts[i % len(texts)]) for i in range(25)])
    errors: list[str] = []

    def client(offset: int) -> None:
        for i in range(25):
            try:
                nocache.post_speak(texts[(offset + i) % len(texts)])
            except (RuntimeError, MacbotError) as exc:  # counted as an error of the run
                errors.append(f"{type(exc).__name__}: {exc}")

    clients = [threading.Thread(target=client, args=(c * 3,)) for c in range(8)]
    started = time.perf_counter()
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    eight = time.perf_counter() - started
    row("8 clients x 25: throughput", 200 / eight, 25 / one, "req/s", "ratio >= 1.3")
    row("8 clients x 25: errors", float(len(errors)), None, "count", "0")

    for live in (nocache, seq, two, cached):
        live.stop()

    report.advance()
    # 5. RSS before/after varied requests, memory arena off (the default) and on
    for arena in (False, True):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "from macbot.tools.bench.daemon import rss_main; rss_main()",
                "1" if arena else "0",
                str(args.rss_requests),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        probe = json.loads(out.stdout.strip().splitlines()[-1])
        row(
            f"RSS after {args.rss_requests} varied requests, arena {'on' if arena else 'off'}"
            f" ({probe['errors']} errors)",
            probe["after_mb"],
            probe["before_mb"],
            "MB (before)",
            "ratio <= 1.25",
        )
    return {
        "suite": "daemon",
        "workers": par.workers,
        "intra_op_threads": par.intra_op_threads,
        "rounds": args.rounds,
        "rows": rows,
    }
