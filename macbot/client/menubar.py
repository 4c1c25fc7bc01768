"""The macOS menu-bar app for the daemon (``macbot menubar``; extra ``macos``: rumps).

The logic is :class:`MenuBarModel`, plain Python that runs anywhere (tests drive it against a
real daemon on Linux); only :func:`run_app` touches rumps, which the command imports.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DaemonError, DaemonUnavailable, ServiceError

_LOGGER = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'macbot-tts[macos]'"


@dataclass(frozen=True)
class MenuState:
    """What the menu shows."""

    daemon: str
    """``running`` (voice loaded), ``starting``, ``stopped`` (nothing answers) or ``error``."""
    engine: str | None = None
    voice: str | None = None
    detail: str = ""
    optimization: dict | None = None
    """``/info``'s ``optimization`` (the background optimizer's state), when known."""

    @property
    def optimization_line(self) -> str:
        """The second (disabled) menu line: what the background optimizer is doing or chose."""
        opt = self.optimization
        if not opt:
            return ""
        state = opt.get("state")
        if state == "running":
            pause = ", paused while speaking" if opt.get("paused") else ""
            return (
                f"Optimizing: {opt.get('step') or '…'} ({100 * opt.get('progress', 0):.0f}%{pause})"
            )
        if state == "done":
            return f"Optimized: {opt.get('winner') or '?'}"
        if state == "failed":
            return f"Optimization failed: {opt.get('reason', '')}"[:120]
        return "Optimization: " + ("waiting" if opt.get("auto") else "off")

    @property
    def title(self) -> str:
        """The menu-bar text: a mark per state."""
        mark = {"running": "●", "starting": "◐", "stopped": "○"}.get(self.daemon, "×")
        return f"MacBot {mark}"

    @property
    def summary(self) -> str:
        """The first (disabled) menu line."""
        if self.daemon == "running":
            return f"Running: {self.engine or '?'} engine, voice {self.voice or '?'}"
        if self.daemon == "starting":
            return "Starting: loading the voice…"
        if self.daemon == "stopped":
            return "Daemon not running"
        return f"Error: {self.detail}"


def read_clipboard() -> str:
    """The clipboard's text (``pbpaste``)."""
    return subprocess.run(["pbpaste"], capture_output=True, text=True, check=True).stdout


def open_path(path: Path) -> None:
    """Open ``path`` with its default app (Console.app for logs)."""
    subprocess.run(["open", str(path)], check=True)


class MenuBarModel:
    """State and actions of the menu-bar app, independent of any GUI toolkit."""

    def __init__(
        self,
        client,
        service=None,
        clipboard: Callable[[], str] = read_clipboard,
        opener: Callable[[Path], None] = open_path,
    ) -> None:
        self.client = client
        self.service = service
        self.clipboard = clipboard
        self.opener = opener
        self.state = MenuState("stopped")

    def refresh(self) -> MenuState:
        """Poll ``/health`` and, when ready, ``/tts-performance``."""
        try:
            health = self.client.health(timeout=1.0)
            if not health.get("ready"):
                self.state = MenuState("starting")
            else:
                perf = self.client.performance()
                self.state = MenuState(
                    "running",
                    str(perf.get("engine_type") or "?"),
                    str(perf.get("voice") or "?"),
                    optimization=self.client.info().get("optimization"),
                )
        except DaemonUnavailable:
            self.state = MenuState("stopped")
        except DaemonError as exc:
            self.state = MenuState("error", detail=str(exc))
        return self.state

    def speak_clipboard(self) -> str:
        """Speak the clipboard through the daemon; returns a line for a notification."""
        try:
            text = self.clipboard()
        except (OSError, subprocess.CalledProcessError) as exc:
            return f"Cannot read the clipboard: {exc}"
        if not text.strip():
            return "The clipboard has no text"
        try:
            result = self.client.speak(text, play=True)
        except DaemonUnavailable:
            return "The daemon is not running (Start service)"
        except DaemonError as exc:
            return f"The daemon refused: {exc}"
        if result.info.get("played") is False:
            return str(result.info.get("message", "playback unavailable"))
        return f"Speaking {result.duration:.1f}s"

    def stop_speaking(self) -> str:
        """``POST /interrupt``."""
        try:
            info = self.client.interrupt()
        except DaemonUnavailable:
            return "The daemon is not running"
        except DaemonError as exc:
            return f"Cannot stop: {exc}"
        return f"Stopped ({info.get('dropped', info.get('interrupted', 0))} dropped)"

    def pause_speaking(self) -> str:
        """``POST /pause``."""
        return self._playback("pause", "Paused", "Cannot pause")

    def resume_speaking(self) -> str:
        """``POST /resume``."""
        return self._playback("resume", "Resumed", "Cannot resume")

    def _playback(self, action: str, done: str, failed: str) -> str:
        try:
            getattr(self.client, action)()
        except DaemonUnavailable:
            return "The daemon is not running"
        except DaemonError as exc:
            return f"{failed}: {exc}"
        return done

    def log_file(self) -> Path | None:
        if self.service is None:
            return None
        files = [p for p in self.service.log_files() if p.exists()]
        return files[0] if files else None

    def open_logs(self) -> str:
        path = self.log_file()
        if path is None:
            return "No log file yet"
        try:
            self.opener(path)
        except (OSError, subprocess.CalledProcessError) as exc:
            return f"Cannot open {path}: {exc}"
        return f"Opened {path}"

    def _service_action(self, name: str) -> str:
        if self.service is None:
            return "No service manager on this system"
        try:
            done = getattr(self.service, name)()
        except ServiceError as exc:
            return str(exc)
        return done[-1] if done else name

    def start_service(self) -> str:
        return self._service_action("start")

    def stop_service(self) -> str:
        return self._service_action("stop")


def run_app(rumps, model: MenuBarModel, interval: float) -> None:  # pragma: no cover - macOS
    """The rumps layer: menu items call the model; a timer refreshes the title."""
    summary = rumps.MenuItem("…")

    def notify(message: str) -> None:
        try:
            rumps.notification("MacBot TTS", "", message)
        except RuntimeError:
            # rumps needs an Info.plist with CFBundleIdentifier for notifications, which a
            # plain `python -m macbot` lacks; show the message in the menu instead.
            _LOGGER.info("notification unavailable; showing in the menu: %s", message)
            summary.title = message

    optimizing = rumps.MenuItem("")
    app = rumps.App("MacBot", title=model.state.title, quit_button="Quit")
    app.menu = [
        summary,
        optimizing,
        None,
        rumps.MenuItem("Speak Clipboard", callback=lambda _: notify(model.speak_clipboard())),
        rumps.MenuItem("Pause Speaking", callback=lambda _: notify(model.pause_speaking())),
        rumps.MenuItem("Resume Speaking", callback=lambda _: notify(model.resume_speaking())),
        rumps.MenuItem("Stop Speaking", callback=lambda _: notify(model.stop_speaking())),
        None,
        rumps.MenuItem("Start Service", callback=lambda _: notify(model.start_service())),
        rumps.MenuItem("Stop Service", callback=lambda _: notify(model.stop_service())),
        rumps.MenuItem("Open Logs", callback=lambda _: notify(model.open_logs())),
    ]

    def tick(_timer) -> None:
        state = model.refresh()
        app.title = state.title
        summary.title = state.summary
        optimizing.title = state.optimization_line

    rumps.Timer(tick, interval).start()
    tick(None)
    app.run()
