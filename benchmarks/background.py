"""The ``background`` suite: another process's speed while the daemon optimizes itself.

A neighbour (piper-tts in a process of its own session, as a user's app would be) synthesizes
sentence after sentence and notes when each began and ended. Beside it, a fresh daemon with an
empty ``optimized_dir`` starts its background optimizer (the child at background priority), and
a second optimizer runs as the child used to (its own session, only ``nice 19``). The suite
lets one of them run at a time and stops the others (SIGSTOP), in rounds of three phases in
turn: alone, the daemon's child, the nice-19 child. Each sentence that fits in one phase counts
for it; the neighbour's speed in a phase is its median per-sentence time alone over that
phase's. Target (issue 21): >= 0.95 with the daemon's child (the nice-19 child gave 0.44).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from macbot.config import ENV_AUTO_OPTIMIZE
from macbot.core.voices import bundled_voice

from .common import SENTENCES, p50, with_environment
from .harness import DETERMINISTIC, start_daemon
from .options import BenchOptions

TARGET = 0.95
PHASE_S = 6.0
"""Seconds per phase; a sentence takes a fraction of a second."""

NEIGHBOUR = """
import json, sys, time
from piper import PiperVoice, SynthesisConfig
voice = PiperVoice.load(sys.argv[1])
config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
sentences = json.loads(sys.argv[2])
while True:
    for text in sentences:
        began = time.monotonic()
        for _chunk in voice.synthesize(text, config):
            pass
        print(json.dumps([began, time.monotonic()]), flush=True)
"""
"""piper-tts synthesizing forever, one ``[began, ended]`` line per sentence (CLOCK_MONOTONIC
is one clock for every process)."""

OLD_CHILD = "import os, sys; os.nice(19); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
"""The optimizer as the daemon's child ran before issue 21: nice 19, one thread, own session."""


@with_environment(**{ENV_AUTO_OPTIMIZE: "1"})
def background_suite(bench: BenchOptions) -> dict:
    """Per-sentence speed of piper-tts in another session while the optimizer runs, against
    its speed alone, interleaved in one run; also the nice-19 child of before."""
    report = bench.reporter
    rounds = max(bench.rounds, 1) * 3
    folder = Path(tempfile.mkdtemp(prefix="macbot-background-bench-"))
    load_before = os.getloadavg()
    voice = bundled_voice()
    lines = folder / "neighbour.jsonl"
    report.step("starting piper-tts in a session of its own")
    with lines.open("w") as out:
        neighbour = subprocess.Popen(
            [sys.executable, "-c", NEIGHBOUR, str(voice.model_path), json.dumps(SENTENCES)],
            stdout=out,
            start_new_session=True,
        )
    old = daemon = None
    try:
        _wait(lambda: len(lines.read_text().splitlines()) >= len(SENTENCES), 120, "piper-tts")
        report.step("a fresh daemon starts optimizing; the nice-19 child beside it")
        fresh = {"optimized_dir": str(folder / "a")}
        daemon = start_daemon({"tts_cache_enabled": False}, tts=fresh)
        optimizer = daemon.app_state().optimizer
        optimizer.start()
        _wait(lambda: optimizer.child is not None, 120, "the daemon's optimizer child")
        ours = optimizer.child.pid
        old = _old_child(folder)
        time.sleep(PHASE_S)  # both past their start (imports, the tie to the daemon)
        phases: list[tuple[str, float, float]] = []
        report.step("alone / the daemon's child / the nice-19 child, in turn", rounds)
        for _ in range(rounds):
            for name, running in (("alone", None), ("daemon", ours), ("nice19", old.pid)):
                for pid in (ours, old.pid):
                    _signal(pid, signal.SIGCONT if pid == running else signal.SIGSTOP)
                began = time.monotonic()
                time.sleep(PHASE_S)
                phases.append((name, began, time.monotonic()))
                if optimizer.child is None or old.poll() is not None:
                    break  # one of them finished: the phases after would not be fair
            else:
                report.advance()
                continue
            break
        step = optimizer.snapshot().get("step")
        facts = _priority(ours)
    finally:
        for proc in (old, neighbour):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        if daemon is not None:
            daemon.app_state().optimizer.stop()
            daemon.stop()
    load_after = os.getloadavg()
    per_phase = _per_phase(lines, phases)
    alone = p50(per_phase["alone"])
    rows = []
    for name, label in (
        ("alone", "piper-tts alone (both optimizers stopped)"),
        ("daemon", "while the daemon's child optimizes (background priority)"),
        ("nice19", "while a nice-19 child optimizes (before issue 21)"),
    ):
        times = per_phase[name]
        rows.append(
            {
                "contender": label,
                "sentences": len(times),
                "s per sentence p50": round(p50(times), 4),
                "speed vs alone": round(alone / p50(times), 3) if times else "",
                "target": f">= {TARGET}" if name == "daemon" else "",
            }
        )
    return {
        "rows": rows,
        "phases": len(phases),
        "phase_s": PHASE_S,
        "optimizer_step": step,
        "child_priority": facts,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "cores": os.cpu_count(),
    }


def _old_child(folder: Path) -> subprocess.Popen:
    """``macbot optimize`` as the old child: its own session, nice 19, one thread."""
    config = folder / "old.yaml"
    data = {"models": {"tts": {"optimized_dir": str(folder / "b"), "piper": DETERMINISTIC}}}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    command = [sys.executable, "-c", OLD_CHILD, "-m", "macbot", "--config", str(config)]
    return subprocess.Popen(
        [*command, "optimize", "--threads", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _per_phase(lines: Path, phases: list[tuple[str, float, float]]) -> dict[str, list[float]]:
    """Each sentence's time, under the phase it fits in whole (those across a switch left out)."""
    found: dict[str, list[float]] = {"alone": [], "daemon": [], "nice19": []}
    for line in lines.read_text().splitlines():
        began, ended = json.loads(line)
        for name, start, stop in phases:
            if start <= began and ended <= stop:
                found[name].append(ended - began)
                break
    return found


def _priority(pid: int) -> dict[str, Any]:
    """What the kernel says of the daemon's child (Linux)."""
    facts: dict[str, Any] = {}
    try:
        facts["sched_idle"] = os.sched_getscheduler(pid) == os.SCHED_IDLE
        facts["autogroup"] = Path(f"/proc/{pid}/autogroup").read_text().strip()
        facts["own_session"] = os.getsid(pid) == pid
    except (OSError, AttributeError) as exc:  # not Linux, or it ended: for the record only
        facts["unknown"] = str(exc)
    return facts


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it finished: the loop notices
        os.kill(pid, signum)


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)
