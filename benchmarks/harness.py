"""The daemon under test, for the benchmarks and the tests alike (tests/conftest.py).

- :func:`serve`: the real app served by waitress on a free port of this process
  (:class:`LiveDaemon`); :func:`start_daemon` builds its config from a few overrides.
- :class:`ServedDaemon`: a real ``macbot serve`` process with its own config file, measured
  from outside.
- :func:`free_port`: a port nothing listens on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml
from flask import Flask

from macbot.client.http import DaemonClient
from macbot.config import AppConfig, config_from_dict
from macbot.core.playback import Player, SoundDeviceOutput
from macbot.core.synthesizer import Synthesizer
from macbot.daemon.app import create_app
from macbot.daemon.server import Server
from macbot.daemon.state import DaemonState, state_of

DETERMINISTIC = {"noise_scale": 0.0, "noise_w_scale": 0.0, "sentence_silence": 0.0}
"""Noise scales 0 and no silence: every contender makes the same audio."""


@dataclass
class LiveDaemon:
    """The real app served by waitress on a free port of this process (see :func:`serve`)."""

    url: str
    server: Server
    thread: threading.Thread
    synth: Synthesizer
    client: DaemonClient

    @property
    def app(self) -> Flask:
        return self.server.app

    def post_speak(self, text: str, **extra: Any) -> float:
        """``POST /speak`` with ``play: false``; returns the audio's seconds."""
        reply = self.client.request("POST", "/speak", {"text": text, "play": False, **extra})
        if reply.status != 200:
            raise RuntimeError(f"/speak answered {reply.status}: {reply.body[:200]!r}")
        return float(reply.headers["x-audio-duration"])

    def app_state(self) -> DaemonState:
        """The app's state (its background optimizer, player, metrics)."""
        return state_of(self.server.app)

    def stop(self) -> None:
        """Stop the optimizer and the server; close the synthesizer."""
        self.app_state().optimizer.stop()
        self.server.request_stop()
        self.thread.join(timeout=10)
        self.synth.close()


def serve(
    config: AppConfig,
    player: Player,
    synth: Synthesizer | None = None,
    *,
    threads: int = 8,
    grace: float = 30.0,
) -> LiveDaemon:
    """The app of ``config`` (on ``synth``, or a new synthesizer) playing through ``player``,
    warmed up and served on a free port of 127.0.0.1 by a thread of this process: what the
    tests' ``live_server`` fixtures and the in-process suites both start."""
    synth = synth or Synthesizer(config)
    synth.warmup()
    app = create_app(config, synthesizer=synth, player=player)
    server = Server(app, "127.0.0.1", 0, threads=threads, grace=grace)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return LiveDaemon(server.url, server, thread, synth, DaemonClient(server.url, timeout=300))


def start_daemon(
    performance: dict[str, Any], threads: int = 8, tts: dict[str, Any] | None = None
) -> LiveDaemon:
    """A warmed-up daemon with ``voice_assistant.performance`` (and ``models.tts``)
    overrides, deterministic synthesis, no persistent cache and no sound device."""
    config = config_from_dict(
        {
            "models": {"tts": {"piper": DETERMINISTIC, **(tts or {})}},
            "voice_assistant": {"performance": {"tts_cache_persist": False, **performance}},
        }
    )
    return serve(config, Player(SoundDeviceOutput()), threads=threads)


class ServedDaemon:
    """A real ``macbot serve`` process with its own config file, log and free port: what a
    user runs, measured from outside (RSS and threads of that process only, SIGHUP reloads)."""

    def __init__(
        self,
        performance: dict[str, Any],
        folder: Path,
        threads: int = 8,
        tts: dict[str, Any] | None = None,
        server: dict[str, Any] | None = None,
    ) -> None:
        """``tts``, ``server``: more keys of ``models.tts`` and ``server``."""
        self.folder = Path(folder)
        self.tts = tts or {}
        self.server = server or {}
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_path = self.folder / "macbot.yaml"
        self.port = free_port()
        self.performance = {"tts_cache_persist": False, **performance}
        self.threads = threads
        self.write_config()
        self.log_path = self.folder / "daemon.log"
        self._log = self.log_path.open("w")
        env = {k: v for k, v in os.environ.items() if k not in ("MACBOT_TOKEN", "MACBOT_CONFIG")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "macbot", "--config", str(self.config_path), "-v", "serve"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = DaemonClient(self.url, timeout=600)
        self.ps = psutil.Process(self.proc.pid)
        self.wait_ready()

    def write_config(self, **performance: Any) -> None:
        self.performance.update(performance)
        data = {
            "models": {"tts": {"piper": DETERMINISTIC, **self.tts}},
            "voice_assistant": {"performance": self.performance},
            "server": {"port": self.port, "threads": self.threads, **self.server},
        }
        self.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")

    @property
    def websocket_url(self) -> str:
        port = self.server.get("websocket", {}).get("port", 8124)
        return f"ws://127.0.0.1:{port}/"

    @property
    def wyoming_port(self) -> int:
        return int(self.server.get("wyoming", {}).get("port", 10200))

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited:\n{self.log()[-2000:]}")
            if self.client.ready(timeout=2):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the daemon did not become ready:\n{self.log()[-2000:]}")

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 1e6

    def thread_count(self) -> int:
        return self.ps.num_threads()

    def reload(self, timeout: float = 180, **performance: Any) -> None:
        """Rewrite the config with ``performance`` changes, SIGHUP, wait until in force and
        until the replaced synthesizer is closed."""
        reloaded = self.log().count("config reloaded")
        closed = self.log().count("closed the synthesizer replaced")
        self.write_config(**performance)
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self.log().count("config reloaded") == reloaded:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"no reload:\n{self.log()[-2000:]}")
            time.sleep(0.1)
        while self.log().count("closed the synthesizer replaced") == closed:
            if time.monotonic() > deadline:
                break  # a reload that keeps the synthesizer closes nothing
            time.sleep(0.1)

    def post_speak(self, text: str, **extra: Any) -> float:
        """``POST /speak`` with ``play: false``; returns the audio's seconds."""
        reply = self.client.request("POST", "/speak", {"text": text, "play": False, **extra})
        if reply.status != 200:
            raise RuntimeError(f"/speak answered {reply.status}: {reply.body[:200]!r}")
        return float(reply.headers["x-audio-duration"])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
