"""A real daemon (app + waitress on a free port) inside the benchmark's process."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ...client.http import DaemonClient
from ...config import config_from_dict
from ...core.playback import Player, SoundDeviceOutput
from ...core.synthesizer import Synthesizer
from ...daemon.app import create_app
from ...daemon.server import Server
from ...daemon.state import DaemonState, state_of

DETERMINISTIC = {"noise_scale": 0.0, "noise_w_scale": 0.0, "sentence_silence": 0.0}
"""Noise scales 0 and no silence: every contender makes the same audio."""


@dataclass
class LiveDaemon:
    url: str
    server: Server
    thread: threading.Thread
    synth: Synthesizer
    client: DaemonClient

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
        self.app_state().optimizer.stop()
        self.server.request_stop()
        self.thread.join(timeout=10)
        self.synth.close()


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
    synth = Synthesizer(config)
    synth.warmup()
    app = create_app(config, synthesizer=synth, player=Player(SoundDeviceOutput()))
    server = Server(app, "127.0.0.1", 0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return LiveDaemon(server.url, server, thread, synth, DaemonClient(server.url, timeout=300))
