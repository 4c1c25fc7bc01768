"""The app's shared state: one typed object instead of a dict of strings."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app

from ..config import AppConfig
from ..core.playback import Player
from ..core.synthesizer import Synthesizer
from ..core.voices import VoiceInfo, all_voices
from .metrics import Metrics
from .supervisor import OptimizationSupervisor

EXTENSION = "macbot"
"""Key of the :class:`DaemonState` in ``app.extensions``."""


@dataclass
class DaemonState:
    """What every route reads: the config in force, the synthesizer, the sound device's
    player, the metrics and the background optimizer. A config reload builds a new app with a
    new state (sharing the player and the metrics, and the optimizer while the synthesizer
    stays)."""

    config: AppConfig
    synthesizer: Synthesizer
    player: Player
    metrics: Metrics
    optimizer: OptimizationSupervisor
    warming: bool = False
    """``True`` from start until the voice has run once (``/health`` answers 503)."""

    failed_listeners: dict[str, str] = field(default_factory=dict)
    """Listeners beside HTTP (``websocket``, ``wyoming``) that are enabled but could not bind,
    each with why: ``/health`` says ``degraded`` and ``macbot doctor`` names them. Shared by
    the apps of later config reloads (the listeners only start with the daemon)."""

    requests_in_flight: int = 0
    """Requests of this app that have started and not yet been torn down (a reload closes
    the synthesizer it replaced once its app has none and its pool is idle)."""

    @property
    def ready(self) -> bool:
        return self.synthesizer.loaded and not self.warming

    def voices(self) -> list[VoiceInfo]:
        """Every family's voices (Piper's, then Kokoro's), the blends used so far, and the
        configured voice when the config names it by path."""
        listed = all_voices(self.config.tts, self.synthesizer.used_blends())
        default = self.synthesizer.default_voice
        return listed + ([default] if default.name not in {v.name for v in listed} else [])

    def voice_names(self) -> set[str]:
        """The voice names a request may give: what ``/voices`` lists, and the configured
        voice (also when the config names it by path). Blends not used yet are checked when
        they are parsed (:func:`macbot.core.voices.parse_blend`)."""
        return {v.name for v in self.voices()}

    @property
    def idle(self) -> bool:
        """No request of this app is running and its synthesizer has no work."""
        return self.requests_in_flight == 0 and self.synthesizer.pool.active_jobs() == 0


def state_of(app: Flask) -> DaemonState:
    """The state of ``app`` (built by :func:`macbot.daemon.app.create_app`)."""
    return app.extensions[EXTENSION]


def state() -> DaemonState:
    """The state of the app handling the current request."""
    return state_of(current_app)
