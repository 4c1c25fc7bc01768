"""The ``soak`` suite: a real ``macbot serve`` process given 1,000 mixed requests from four
clients, the way a day of use mixes them, while its RSS and thread count are sampled.

The mix (fixed seed, so every run sends the same requests): short sentences never said before,
the same phrases again (cache hits), paragraphs, streamed answers, streams the client drops
after the first piece, OpenAI-route requests in every format, requests the daemon must refuse
(the bodies that broke it before issue 11), and a config reload (SIGHUP, a new synthesizer)
every 100 requests. It writes ``soak.json`` and ``soak.png`` (RSS and threads over time;
matplotlib, extra ``toolkit``) to ``--out`` (default ``bench_results/soak``).
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from macbot.core.synthesizer import IDLE_RELEASE_SECONDS
from macbot.errors import MacbotError
from macbot.tools.toolkit.extras import require

from .common import MORE_SENTENCES, SENTENCES
from .daemon import varied_texts
from .harness import ServedDaemon
from .options import BenchOptions

KINDS = {
    "short": 30,
    "cache hit": 20,
    "paragraph": 8,
    "stream": 12,
    "dropped stream": 8,
    "openai": 12,
    "refused": 10,
}
"""Relative share of each kind of request."""

REFUSED = [
    '{"text": "\\ud800 lone surrogate"}',
    '{"text": "nul\\u0000char"}',
    '{"text": "hi", "speed": ' + "9" * 400 + "}",
    "[" * 30_000 + "]" * 30_000,
    json.dumps({"text": "hi", "voice": "/etc/shadow"}),
    json.dumps({"text": "hi", "voice": "v" * 300}),
    json.dumps({"text": "   "}),
    json.dumps({"text": 5}),
]
"""Bodies the daemon must answer with a 4xx (each was a 500 or worse before issue 11)."""

RELOAD_EVERY = 100


def plan_requests(count: int, seed: int = 11) -> list[tuple[str, Any]]:
    """``count`` (kind, payload) pairs in the mix of :data:`KINDS`."""
    rng = random.Random(seed)
    kinds = list(KINDS)
    weights = list(KINDS.values())
    fresh = iter(varied_texts(count * 2, seed=seed))
    phrases = SENTENCES + MORE_SENTENCES
    paragraphs = itertools.cycle(
        " ".join(rng.sample(phrases, k=rng.randint(3, 6))) for _ in range(50)
    )
    out: list[tuple[str, Any]] = []
    for n in range(count):
        kind = rng.choices(kinds, weights)[0]
        if kind == "short":
            out.append((kind, next(fresh).split(". ")[0] + f" {n}."))
        elif kind == "cache hit":
            out.append((kind, rng.choice(phrases)))
        elif kind == "paragraph":
            out.append((kind, next(paragraphs)))
        elif kind in ("stream", "dropped stream"):
            out.append((kind, next(fresh)))
        elif kind == "openai":
            fmt = rng.choice(["mp3", "wav", "pcm", "flac", "opus"])
            out.append((kind, (rng.choice(phrases), fmt)))
        else:
            out.append((kind, rng.choice(REFUSED)))
    return out


class Timeline:
    """RSS (MB) and thread count of the daemon every ``interval`` seconds."""

    def __init__(self, daemon: ServedDaemon, interval: float = 0.5) -> None:
        self.daemon = daemon
        self.interval = interval
        self.samples: list[tuple[float, float, int, int]] = []
        """(seconds since start, RSS MB, threads, requests done)."""
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def sample(self) -> None:
        self.samples.append(
            (
                round(time.monotonic() - self._start, 2),
                round(self.daemon.rss_mb(), 1),
                self.daemon.thread_count(),
                self.done,
            )
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()


def send(daemon: ServedDaemon, kind: str, payload: Any) -> int:
    """One request of ``kind``; returns the HTTP status (0: no answer)."""
    client = daemon.client
    if kind in ("short", "cache hit", "paragraph"):
        return client.request("POST", "/speak", {"text": payload, "play": False}).status
    if kind == "openai":
        text, fmt = payload
        body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": fmt}
        return client.request("POST", "/v1/audio/speech", body).status
    if kind == "refused":
        req = urllib.request.Request(
            daemon.url + "/speak",
            data=payload.encode("utf-8", "surrogatepass"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            exc.read()
            return exc.code
    body = {"text": payload, "stream": True, "format": "pcm"}
    try:
        for _piece in client.stream("POST", "/speak", body):
            if kind == "dropped stream":
                break  # the client goes away after the first piece
    except MacbotError as exc:
        return int(getattr(exc, "status", 0) or 0)
    return 200


def soak_suite(bench: BenchOptions) -> dict:
    """1,000 mixed requests (``--soak-requests``) against a served daemon from 4 clients, with
    a reload every 100; RSS and threads over time to ``soak.png``."""
    report = bench.reporter
    count = bench.soak_requests
    out = Path(bench.out or "bench_results/soak")
    out.mkdir(parents=True, exist_ok=True)
    requests = plan_requests(count)
    daemon = ServedDaemon({"tts_cache_enabled": True}, Path(tempfile.mkdtemp(prefix="soak-")))
    statuses: Counter[str] = Counter()
    seconds: dict[str, list[float]] = {kind: [] for kind in KINDS}
    unexpected: list[str] = []
    lock = threading.Lock()
    timeline = Timeline(daemon)
    for text in SENTENCES[:3]:  # warm-up, as a user's first requests
        daemon.post_speak(text)
    warm_rss, warm_threads = daemon.rss_mb(), daemon.thread_count()
    report.step("soak requests", count)
    timeline.start()

    def one(item: tuple[int, tuple[str, Any]]) -> None:
        _n, (kind, payload) = item
        started = time.perf_counter()
        try:
            status = send(daemon, kind, payload)
        except MacbotError as exc:  # no answer at all: counted, the soak goes on
            status = 0
            unexpected.append(f"{kind}: {exc}")
        elapsed = time.perf_counter() - started
        ok = 400 <= status < 500 if kind == "refused" else status == 200
        with lock:
            statuses[f"{status // 100}xx" if status else "no answer"] += 1
            seconds[kind].append(elapsed)
            if not ok:
                unexpected.append(f"{kind}: HTTP {status}")
            timeline.done += 1
        report.advance()

    reloads = 0
    started = time.monotonic()
    try:
        for block in range(0, count, RELOAD_EVERY):
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(one, enumerate(requests[block : block + RELOAD_EVERY], block)))
            if block + RELOAD_EVERY < count:
                daemon.reload(tts_cache_size=101 + reloads % 2)  # a new synthesizer each time
                reloads += 1
        wall = time.monotonic() - started
        end_rss, end_threads = daemon.rss_mb(), daemon.thread_count()
        time.sleep(IDLE_RELEASE_SECONDS + 1.5)  # the daemon at rest: what a burst left is back
        rest_rss = daemon.rss_mb()
        timeline.stop()
    finally:
        exit_code = daemon.stop()
    rss = [s[1] for s in timeline.samples]
    threads = [s[2] for s in timeline.samples]
    rows = [
        {"measure": "requests sent", "value": count, "target": ">= 1,000"},
        {"measure": "answers by class", "value": dict(sorted(statuses.items())), "target": ""},
        {"measure": "server errors (5xx)", "value": statuses.get("5xx", 0), "target": "0"},
        {"measure": "unexpected answers", "value": len(unexpected), "target": "0"},
        {"measure": "reloads", "value": reloads, "target": ""},
        {"measure": "RSS after warm-up, MB", "value": round(warm_rss, 1), "target": ""},
        {"measure": "RSS at the end, MB", "value": round(end_rss, 1), "target": ""},
        {"measure": "RSS end / warm-up", "value": round(end_rss / warm_rss, 3), "target": ""},
        {"measure": "RSS at rest after the soak, MB", "value": round(rest_rss, 1), "target": ""},
        {
            "measure": "RSS at rest / warm-up",
            "value": round(rest_rss / warm_rss, 3),
            "target": "flat: ~1.0",
        },
        {"measure": "RSS peak / warm-up", "value": round(max(rss) / warm_rss, 3), "target": ""},
        {
            "measure": "RSS last 10 % / first 10 % of the soak",
            "value": round(_tail(rss) / _head(rss), 3),
            "target": "",
        },
        {
            "measure": "threads after warm-up / at the end",
            "value": f"{warm_threads} / {end_threads}",
            "target": "equal",
        },
        {"measure": "threads max", "value": max(threads), "target": ""},
        {"measure": "wall seconds", "value": round(wall, 1), "target": ""},
        {"measure": "daemon exit status (SIGTERM)", "value": exit_code, "target": "0"},
    ]
    for kind, values in seconds.items():
        if values:
            rows.append(
                {
                    "measure": f"p50 seconds, {kind} ({len(values)})",
                    "value": round(statistics.median(values), 3),
                    "target": "",
                }
            )
    result = {
        "suite": "soak",
        "rows": rows,
        "unexpected": unexpected[:20],
        "timeline": timeline.samples,
    }
    (out / "soak.json").write_text(json.dumps(result, indent=2))
    plot(timeline.samples, out / "soak.png", reloads_at=RELOAD_EVERY)
    result["png"] = str(out / "soak.png")
    return result


def _head(values: list[float]) -> float:
    part = values[: max(1, len(values) // 10)]
    return sum(part) / len(part)


def _tail(values: list[float]) -> float:
    part = values[-max(1, len(values) // 10) :]
    return sum(part) / len(part)


def plot(samples: list[tuple[float, float, int, int]], path: Path, reloads_at: int) -> None:
    """RSS and threads against time, with the requests done on a second axis of the top."""
    matplotlib = require("matplotlib", "toolkit")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # the pyplot module of the optional extra

    t = [s[0] for s in samples]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    top.plot(t, [s[1] for s in samples], color="tab:blue")
    top.set_ylabel("RSS (MB)")
    top.set_ylim(bottom=0)
    done = top.twinx()
    done.plot(t, [s[3] for s in samples], color="tab:gray", linestyle=":")
    done.set_ylabel("requests done")
    for n in range(reloads_at, samples[-1][3] if samples else 0, reloads_at):
        at = next((s[0] for s in samples if s[3] >= n), None)
        if at is not None:
            top.axvline(at, color="tab:orange", alpha=0.3)
    total = samples[-1][3] if samples else 0
    top.set_title(f"macbot serve under {total:,} mixed requests (orange: config reloads)")
    bottom.step(t, [s[2] for s in samples], where="post", color="tab:green")
    bottom.set_ylabel("threads")
    bottom.set_xlabel("seconds")
    bottom.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
