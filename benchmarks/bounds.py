"""Per-request memory bounds (issue 21): ``bounds``.

Every request within the limits, on every engine the daemon may run: a real ``macbot serve``
process (``tts_auto_optimize: false``, so that the background optimizer changes nothing
meanwhile) with ``optimized_dir`` holding nothing (the original model), the voice's split
(``macbot split``), or the split and the quantized winner of ``macbot optimize``. Each case (a
row of :func:`scenarios`) is sent at rest (the last burst's memory released) and its peak RSS
over that rest is sampled from outside; the reloads case reads RSS at rest after four config
reloads.

Target: every case ≤ +400 MB over rest, and time bounded (the seconds are in the table).
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from websockets.sync.client import connect

from macbot.core.voices import bundled_voice

from .daemon import varied_texts
from .harness import ServedDaemon, free_port
from .memory import Sampler, at_rest
from .options import BenchOptions

_LOGGER = logging.getLogger(__name__)

TARGET_MB = 400
"""The issue's bound on one request's peak RSS over the daemon at rest."""

ENGINES = ("original", "split", "quantized")
"""What ``optimized_dir`` holds: nothing, the voice's split, the split and the optimizer's
quantized winner."""

SMALL_OPTIMIZE = ["--sentences", "3", "--wer-margin", "16", "--rounds", "1"]
SMALL_OPTIMIZE += ["--recipes", "dec-conv"]
"""A short `macbot optimize` (three gate sentences, one recipe): its winner is a quantized
decoder on this kind of machine."""


def prose(chars: int = 5000) -> str:
    """Varied sentences, punctuated, up to ``chars`` characters."""
    out: list[str] = []
    size = 0
    for text in varied_texts(400, seed=21):
        if size + len(text) + 1 > chars:
            break
        out.append(text)
        size += len(text) + 1
    return " ".join(out)


UNPUNCTUATED = "word " * 990
"""Issue 11's case: 4,950 characters without sentence punctuation."""
PAUSES = "Hi.[[slnc 10000]]" * (5000 // len("Hi.[[slnc 10000]]"))
"""Issue 21's case: 5 KB of ten-second pauses between words (49 minutes of silence)."""
ONE_LETTER_WORDS = " ".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(2500))
"""Issue 21's alignment case: 2,500 one-letter words (one segment of 4,999 characters)."""
NUMBERS = ("999999999999999 " * 320)[:5000]
"""Digits the front end says as words: its spoken form is eleven times the text."""


@dataclass
class Outcome:
    status: int | str
    detail: str = ""


@dataclass(frozen=True)
class Scenario:
    """One row of the suite's table: a request, the protocol it goes by, how many at once."""

    name: str
    protocol: Literal["http", "websocket", "wyoming"]
    path: str = ""
    """HTTP: the route."""
    body: dict[str, Any] = field(default_factory=dict)
    """HTTP: the JSON body; Wyoming: the ``synthesize`` event's data."""
    messages: tuple[dict[str, Any], ...] = ()
    """WebSocket: the messages, in order."""
    at_once: int = 1
    """Copies sent together, each on its own connection."""


def send(daemon: ServedDaemon, scenario: Scenario) -> Outcome:
    """Send ``scenario`` (``at_once`` copies together) and wait for its outcome."""
    if scenario.at_once > 1:
        with ThreadPoolExecutor(scenario.at_once) as pool:
            outcomes = list(
                pool.map(lambda _: _send_one(daemon, scenario), range(scenario.at_once))
            )
        return Outcome(",".join(str(o.status) for o in outcomes), outcomes[0].detail)
    return _send_one(daemon, scenario)


def _send_one(daemon: ServedDaemon, scenario: Scenario) -> Outcome:
    if scenario.protocol == "websocket":
        return _websocket(daemon, scenario.messages)
    if scenario.protocol == "wyoming":
        return _wyoming(daemon, scenario.body)
    reply = daemon.client.request("POST", scenario.path, scenario.body)
    detail = f"{len(reply.body) / 1e6:.1f} MB answer"
    if reply.status != 200:
        detail = reply.body[:160].decode("utf-8", "replace")
    return Outcome(reply.status, detail)


def _websocket(daemon: ServedDaemon, messages: tuple[dict[str, Any], ...]) -> Outcome:
    audio = 0
    try:
        with connect(daemon.websocket_url, max_size=None, open_timeout=30) as ws:
            for message in messages:
                ws.send(json.dumps(message))
            while True:
                reply = ws.recv(timeout=600)
                if isinstance(reply, bytes):
                    audio += len(reply)
                    continue
                event = json.loads(reply)
                if event["type"] in ("done", "error"):
                    detail = f"{audio / 1e6:.1f} MB audio"
                    if event["type"] == "error":
                        detail = str(event.get("error"))[:160]
                    return Outcome(event["type"], detail)
    except Exception as exc:  # a dropped connection is an outcome to report, not a crash
        return Outcome("dropped", f"{type(exc).__name__}: {str(exc)[:120]}")


def _wyoming(daemon: ServedDaemon, body: dict[str, Any]) -> Outcome:
    audio = 0
    with socket.create_connection(("127.0.0.1", daemon.wyoming_port), timeout=600) as sock:
        data = json.dumps(body).encode()
        header = {"type": "synthesize", "data_length": len(data)}
        sock.sendall(json.dumps(header).encode() + b"\n" + data)
        stream = sock.makefile("rb")
        while True:
            line = stream.readline()
            if not line:
                return Outcome("dropped", f"{audio / 1e6:.1f} MB audio")
            event = json.loads(line)
            for key in ("data_length", "payload_length"):
                length = event.get(key) or 0
                if length:
                    chunk = stream.read(length)
                    audio += len(chunk) if key == "payload_length" else 0
            if event["type"] in ("audio-stop", "error"):
                return Outcome(event["type"], f"{audio / 1e6:.1f} MB audio")


def scenarios() -> list[Scenario]:
    """Every request of the suite, in the order it runs."""
    text = prose()
    slow = {"speed": 0.25, "play": False}
    speech = {"model": "tts-1", "input": text, "speed": 0.25}
    return [
        Scenario("/speak 5,000 characters, speed 0.25", "http", "/speak", {"text": text, **slow}),
        Scenario(
            "/speak 5,000 characters, speed 0.25, stream",
            "http",
            "/speak",
            {"text": text, "speed": 0.25, "stream": True},
        ),
        Scenario(
            "/speak 5,000 characters, speed 0.25, timestamps",
            "http",
            "/speak",
            {"text": text, "timestamps": True, **slow},
        ),
        Scenario(
            "/v1/audio/speech opus, 5,000 characters, speed 0.25",
            "http",
            "/v1/audio/speech",
            {**speech, "response_format": "opus"},
        ),
        Scenario(
            "/v1/audio/speech flac, 5,000 characters, speed 0.25",
            "http",
            "/v1/audio/speech",
            {**speech, "response_format": "flac"},
        ),
        Scenario(
            "/speak 5 KB unpunctuated", "http", "/speak", {"text": UNPUNCTUATED, "play": False}
        ),
        Scenario(
            "/speak 5 KB unpunctuated, speed 0.25", "http", "/speak", {"text": UNPUNCTUATED, **slow}
        ),
        Scenario(
            "/speak 5 KB of [[slnc 10000]]", "http", "/speak", {"text": PAUSES, "play": False}
        ),
        Scenario(
            "4 x /speak 5 KB of [[slnc 10000]] at once",
            "http",
            "/speak",
            {"text": PAUSES, "play": False},
            at_once=4,
        ),
        Scenario(
            "/speak 2,500 one-letter words, timestamps",
            "http",
            "/speak",
            {"text": ONE_LETTER_WORDS, "play": False, "timestamps": True},
        ),
        Scenario("/speak 5 KB of digits, speed 0.25", "http", "/speak", {"text": NUMBERS, **slow}),
        Scenario(
            "WebSocket 200,000 characters without spaces",
            "websocket",
            messages=(
                *({"type": "text", "text": "a" * 5000} for _ in range(40)),
                {"type": "close"},
            ),
        ),
        Scenario(
            "WebSocket 5,000 characters, speed 0.25",
            "websocket",
            messages=(
                {"type": "start", "speed": 0.25},
                *({"type": "text", "text": text[i : i + 50]} for i in range(0, len(text), 50)),
                {"type": "close"},
            ),
        ),
        Scenario("Wyoming 5,000 characters", "wyoming", body={"text": text}),
    ]


def _matches(wanted: str, name: str) -> bool:
    """``wanted`` is in the case's name (ending in ``$``: is its name)."""
    if wanted.endswith("$"):
        return wanted[:-1].lower() == name.lower()
    return wanted.lower() in name.lower()


def prepare_engines(folder: Path, report) -> dict[str, Path]:
    """``optimized_dir`` of each engine under ``folder`` (made once, then reused)."""
    dirs = {name: folder / name for name in ENGINES}
    voice = bundled_voice()
    split = f"{voice.name}.split"
    dirs["original"].mkdir(parents=True, exist_ok=True)
    python = [sys.executable, "-m", "macbot"]
    if not (dirs["split"] / split).is_dir():
        report.step("macbot split", None)
        subprocess.run([*python, "split", "--output", str(dirs["split"])], check=True)
    if not (dirs["quantized"] / "tune.json").is_file():
        report.step("macbot optimize (small)", None)
        dirs["quantized"].mkdir(parents=True, exist_ok=True)
        if not (dirs["quantized"] / split).exists():
            subprocess.run(
                ["cp", "-r", str(dirs["split"] / split), str(dirs["quantized"] / split)], check=True
            )
        config = folder / "optimize.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "models": {"tts": {"optimized_dir": str(dirs["quantized"])}},
                    "voice_assistant": {"performance": {"tts_auto_optimize": False}},
                }
            ),
            encoding="utf-8",
        )
        subprocess.run([*python, "--config", str(config), "optimize", *SMALL_OPTIMIZE], check=True)
    return dirs


def start(optimized_dir: Path, folder: Path) -> ServedDaemon:
    """A served daemon on ``optimized_dir``, the WebSocket and Wyoming on free ports."""
    return ServedDaemon(
        {"tts_auto_optimize": False},
        folder,
        tts={"optimized_dir": str(optimized_dir)},
        server={
            "websocket": {"port": free_port()},
            "wyoming": {"enabled": True, "port": free_port()},
        },
    )


def measure(daemon: ServedDaemon, scenario: Scenario) -> dict[str, Any]:
    """One scenario from rest: its added peak RSS, seconds and outcome."""
    rest = at_rest(daemon)
    with Sampler(daemon, interval=0.02) as sampler:
        started = time.perf_counter()
        outcome = send(daemon, scenario)
        seconds = time.perf_counter() - started
    return {
        "rest_mb": round(rest, 1),
        "added_peak_mb": round(max(sampler.peak, daemon.rss_mb()) - rest, 1),
        "seconds": round(seconds, 1),
        "status": outcome.status,
        "detail": outcome.detail,
    }


def reloads(daemon: ServedDaemon, count: int = 4) -> dict[str, Any]:
    """RSS at rest before and after ``count`` config reloads (a request after each)."""
    daemon.post_speak("Before the reloads.")
    before = at_rest(daemon)
    started = time.perf_counter()
    for n in range(count):
        daemon.reload(tts_cache_size=100 + n)  # a performance change: a new synthesizer
        daemon.post_speak(f"Reloaded {n + 1} times.")
    after = at_rest(daemon)
    return {
        "rest_mb": round(before, 1),
        "added_peak_mb": round(after - before, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "status": "grown at rest",
        "detail": f"{before:.0f} → {after:.0f} MB (allowed +80)",
    }


def bounds_suite(bench: BenchOptions) -> dict:
    """Peak RSS over rest of every request within the limits, per engine (``--engines``,
    ``--cases``: substrings of the case names to run, or whole names ending in ``$``)."""
    report = bench.reporter
    out = Path(bench.out or "bench_results/bounds")
    engines = [e for e in (bench.engines or ENGINES) if e in ENGINES]
    wanted = bench.cases or []
    chosen = [s for s in scenarios() if not wanted or any(_matches(w, s.name) for w in wanted)]
    dirs = prepare_engines(out / "engines", report)
    rows: list[dict[str, Any]] = []
    for engine in engines:
        report.step(f"{engine}: {len(chosen)} cases and reloads", len(chosen) + 1)
        daemon = start(dirs[engine], Path(tempfile.mkdtemp(prefix=f"macbot-bounds-{engine}-")))
        try:
            running = daemon.client.request("GET", "/tts-performance")
            engine_type = json.loads(running.body).get("engine_type")
            for scenario in chosen:
                row = {"engine": f"{engine} ({engine_type})", "case": scenario.name}
                row.update(measure(daemon, scenario))
                row["target"] = f"<= +{TARGET_MB} MB"
                rows.append(row)
                _LOGGER.warning("bounds: %s", json.dumps(row))  # each row as it comes
                report.advance()
            if not wanted or any("reload" in w.lower() for w in wanted):
                rows.append(
                    {"engine": f"{engine} ({engine_type})", "case": "4 config reloads"}
                    | reloads(daemon)
                    | {"target": "<= +80 MB"}
                )
                _LOGGER.warning("bounds: %s", json.dumps(rows[-1]))
            report.advance()
        finally:
            code = daemon.stop()
        if code != 0:
            rows.append(
                {"engine": engine, "case": "daemon exit status", "rest_mb": "", "added_peak_mb": ""}
                | {"seconds": "", "status": code, "detail": "", "target": "0"}
            )
    return {"suite": "bounds", "rows": rows}
