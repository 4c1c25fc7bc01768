"""The app's shared state: one typed object instead of a dict of strings."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from ..config import AppConfig
from ..core.playback import Player
from ..core.synthesizer import Synthesizer
from .metrics import Metrics
from .optimizer import OptimizationSupervisor

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

    @property
    def ready(self) -> bool:
        return self.synthesizer.loaded and not self.warming


def state_of(app: Flask) -> DaemonState:
    """The state of ``app`` (built by :func:`macbot.daemon.app.create_app`)."""
    return app.extensions[EXTENSION]


def state() -> DaemonState:
    """The state of the app handling the current request."""
    return state_of(current_app)
