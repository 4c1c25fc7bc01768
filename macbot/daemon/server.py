"""Running the app under waitress, a production WSGI server (never Flask's dev server).

:class:`Server` owns waitress' event loop so that stopping is graceful: on
:meth:`Server.request_stop` (SIGTERM from launchd, SIGINT, or a test) it stops accepting,
lets in-flight requests finish and their responses drain, then returns.

Beside waitress, :func:`serve` starts the WebSocket (:mod:`.websocket`) and, when enabled, the
Wyoming server (:mod:`.wyoming`), each in threads of its own, and stops them on the way out.

Lifecycle of :func:`serve`: bind first (``/health`` answers 503 ``starting`` while the voice
warms up, then 200), SIGTERM/SIGINT drain and exit 0, SIGHUP reloads the config
(:class:`Reloader`): a new app is built from the new config and swapped in atomically, so
requests in flight finish on the old one; an invalid file is logged and the old config kept.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Protocol

from flask import Flask
from waitress import wasyncore
from waitress.server import create_server

from ..config import AppConfig, load_config, replace
from ..core.memory import raise_open_files_limit, release_memory, tune_allocator
from ..core.synthesizer import Synthesizer
from ..errors import ConfigError
from .accepting import guard_waitress
from .app import create_app
from .security import warn_if_exposed
from .state import DaemonState, state_of
from .websocket import SpeechSocket
from .wyoming import REFUSING as WYOMING_REFUSING
from .wyoming import WyomingServer

_LOGGER = logging.getLogger(__name__)


class Server:
    """A waitress server bound at construction (``port=0`` picks a free port)."""

    def __init__(
        self,
        app: Flask,
        host: str,
        port: int,
        threads: int = 8,
        grace: float = 30.0,
        *,
        connection_limit: int = 1000,
        channel_timeout: float = 30.0,
    ):
        self.app = app
        self.grace = grace
        raise_open_files_limit(connection_limit + FILES_AT_REST)
        self._waitress = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="macbot",
            # Flask answers over-long bodies with a JSON 413; waitress' limit is a backstop.
            max_request_body_size=max(app.config.get("MAX_CONTENT_LENGTH") or 0, 1 << 20) * 4,
            clear_untrusted_proxy_headers=True,
            # waitress' defaults (100 connections, idle ones kept 120 s, checked every 30 s) let
            # 100 sockets holding partial bodies lock every client out (issue 11).
            connection_limit=connection_limit,
            channel_timeout=channel_timeout,
            cleanup_interval=max(1.0, min(30.0, channel_timeout / 2)),
        )
        guard_waitress(self._waitress)  # EMFILE: back off, one log line (issue 21 item 7)
        self._stop = threading.Event()
        self.stopped = threading.Event()

    @property
    def host(self) -> str:
        return self._waitress.effective_host

    @property
    def port(self) -> int:
        return int(self._waitress.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def swap_app(self, app: Flask) -> None:
        """Serve ``app`` from the next request on (requests in flight keep the old one)."""
        self._waitress.application = app
        self.app = app

    def request_stop(self) -> None:
        """Ask the loop to shut down gracefully (safe from signal handlers and other threads)."""
        self._stop.set()

    def _busy(self) -> bool:
        dispatcher = self._waitress.task_dispatcher
        if dispatcher.active_count or dispatcher.queue:
            return True
        for channel in list(self._waitress._map.values()):
            if getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0):
                return True
        return False

    def run(self) -> None:
        """Serve until :meth:`request_stop`; then drain for up to ``grace`` seconds."""
        server = self._waitress
        accepting = True
        deadline = 0.0
        try:
            while True:
                wasyncore.loop(timeout=0.2, map=server._map, use_poll=True, count=1)
                if not self._stop.is_set():
                    continue
                if accepting:
                    accepting = False
                    deadline = time.monotonic() + self.grace
                    # Stop listening; keep the trigger and open channels running.
                    wasyncore.dispatcher.close(server)
                    _LOGGER.info("no longer accepting; draining in-flight requests")
                if not self._busy():
                    break
                if time.monotonic() > deadline:
                    _LOGGER.warning("grace period over with requests still running")
                    break
        finally:
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
            wasyncore.close_all(server._map)
            self.stopped.set()


RESTART_KEYS = (
    "host",
    "port",
    "threads",
    "connection_limit",
    "channel_timeout",
    "websocket",
    "wyoming",
)
"""``server`` keys that only a restart applies (the socket and the worker pool exist)."""


class Reloader:
    """Applies a changed config file to a running :class:`Server` (on SIGHUP).

    Speed, synthesis options, limits, token and allowed hosts apply at once; a different
    voice, model files or performance settings build and warm up a new synthesizer first
    (the old one keeps serving meanwhile, and is closed once the requests it took are done).
    The :data:`RESTART_KEYS` of ``server`` (the WebSocket's and Wyoming's listeners
    among them) need a restart: they are kept, with a warning.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self._lock = threading.Lock()
        self.retiring: threading.Thread | None = None
        """The thread closing the synthesizer the last reload replaced."""

    def reload(self) -> bool:
        """Re-read the config file; returns whether the new config is in force. Never
        raises: it runs on its own thread (SIGHUP), where an exception would only be printed
        and the daemon would go on not knowing."""
        try:
            return self._reload()
        except Exception:  # a bug in a reload must not go unlogged nor stop the daemon
            _LOGGER.exception("reload failed, keeping the running config")
            return False

    def _reload(self) -> bool:
        with self._lock:
            state = state_of(self.server.app)
            old = state.config
            try:
                new = load_config(old.source)
                running = old.to_dict()["server"]  # plain data: sections (websocket) too
                kept = {
                    f"server.{key}": running[key]
                    for key in RESTART_KEYS
                    if getattr(new.server, key) != getattr(old.server, key)
                }
                for key in kept:
                    _LOGGER.warning("reload: %s changed; it applies after a restart", key)
                if kept:
                    new = replace(new, kept)
            except ConfigError as exc:
                _LOGGER.error("reload failed, keeping the running config: %s", exc)
                return False
            synth = state.synthesizer
            optimizer = state.optimizer
            if _engine_settings(new) != _engine_settings(old):
                try:
                    fresh = Synthesizer(new)
                    fresh.warmup()
                except Exception as exc:  # any load failure must leave the daemon as it was
                    _LOGGER.error("reload failed, keeping the running voice: %s", exc)
                    return False
                synth = fresh
                optimizer = None  # a new synthesizer gets its own background optimizer
            else:
                synth.config = new  # speed and synthesis options are read per request
            # The player and the metrics carry over (Prometheus expects counters to keep going).
            app = create_app(
                new,
                synthesizer=synth,
                player=state.player,
                metrics=state.metrics,
                optimizer=optimizer,
            )
            state_of(app).failed_listeners = state.failed_listeners  # started once, at start
            self.server.swap_app(app)
            if optimizer is None:
                state.optimizer.stop()
                if state.optimizer.started:
                    state_of(app).optimizer.start()
            if synth is not state.synthesizer:
                self.retiring = threading.Thread(
                    target=retire, args=(state,), name="macbot-retire", daemon=True
                )
                self.retiring.start()
            _LOGGER.info("config reloaded from %s", new.source or "built-in defaults")
            return True


RETIRE_WAIT = 300.0
"""Seconds a replaced synthesizer may keep serving requests that started before a reload."""


def retire(state: DaemonState, wait: float = RETIRE_WAIT) -> None:
    """Close the synthesizer of a replaced app once its requests are done (at most ``wait``
    seconds), then hand the freed memory back to the system."""
    deadline = time.monotonic() + wait
    while not state.idle and time.monotonic() < deadline:
        time.sleep(0.2)
    synth = state.synthesizer
    synth.close()
    _LOGGER.info(
        "closed the synthesizer replaced by the reload (voice %s)", synth.default_voice.name
    )
    del synth, state
    gc.collect()  # Flask apps and engines sit in reference cycles
    release_memory()


def _engine_settings(config: AppConfig) -> tuple[object, ...]:
    """What needs a new synthesizer when it changes."""
    tts = config.tts
    return (
        tts.voice,
        tts.voices_dir,
        tts.optimized_dir,
        tts.piper.voice_path,
        tts.piper.quantized_path,
        tts.piper.coreml_path,
        config.performance,
    )


FILES_AT_REST = 256
"""Open files the daemon needs besides its connections: the models, the logs, pipes, the
phrase cache's database, a voice being swapped in, and headroom."""
FILES_PER_WEBSOCKET = 4
"""Files one WebSocket connection holds (its socket, its selector and the ``websockets``
connection's own; counted in /proc while 64 idle ones were held)."""


def http_connection_limit(config: AppConfig) -> int:
    """The HTTP connections the daemon may hold so that every listener keeps the files it
    needs when all of them are full at once.

    The soft limit of open files is raised to what they need together: HTTP's
    ``server.connection_limit``, the WebSocket's ``2 × max_sessions`` connections (handshakes
    included) of :data:`FILES_PER_WEBSOCKET` files, Wyoming's ``max_connections`` and the
    few it is telling that they are all taken, and :data:`FILES_AT_REST`. Where the hard limit
    is lower, HTTP gets what the others leave (at least 10) and one line says so. Before,
    1,000 HTTP connections beside 64 WebSocket handshakes took all 1,256 files, and the
    WebSocket could not accept."""
    server = config.server
    others = FILES_AT_REST
    if server.websocket.enabled:
        others += 2 * server.websocket.max_sessions * FILES_PER_WEBSOCKET
    if server.wyoming.enabled:
        others += server.wyoming.max_connections + WYOMING_REFUSING
    granted = raise_open_files_limit(server.connection_limit + others)
    if granted >= server.connection_limit + others:
        return server.connection_limit
    limit = max(10, granted - others)
    _LOGGER.warning(
        "open files are limited to %d: serving %d HTTP connections at once, not %d "
        "(server.connection_limit), so that the other listeners keep %d",
        granted,
        limit,
        server.connection_limit,
        others,
    )
    return limit


class SideServer(Protocol):
    """A server beside the HTTP one (the WebSocket, Wyoming): started, then stopped."""

    def stop(self) -> None: ...


def start_listeners(
    config: AppConfig,
    current: Callable[[], DaemonState],
    http_port: int,
    failed: dict[str, str] | None = None,
) -> list[SideServer]:
    """Start the WebSocket (``server.websocket``) and the Wyoming server (``server.wyoming``)
    when enabled. One that cannot bind (its port taken) is logged, left out and recorded in
    ``failed`` (name → why): the HTTP API, the daemon's main job, keeps running, and
    ``/health`` answers ``degraded`` naming it (docs/SERVICE.md)."""
    started: list[SideServer] = []
    failed = {} if failed is None else failed
    ws = config.server.websocket
    if ws.enabled:
        try:
            started.append(
                SpeechSocket(
                    current, config.server.host, ws.port, http_port, ws.max_sessions
                ).start()
            )
        except OSError as exc:
            failed["websocket"] = f"cannot listen on {config.server.host}:{ws.port}: {exc}"
            _LOGGER.error("WebSocket not started: %s", failed["websocket"])
    wy = config.server.wyoming
    if wy.enabled:
        try:
            started.append(
                WyomingServer(current, wy.host, wy.port, wy.zeroconf, wy.max_connections).start()
            )
        except OSError as exc:
            failed["wyoming"] = f"cannot listen on {wy.host}:{wy.port}: {exc}"
            _LOGGER.error("Wyoming server not started: %s", failed["wyoming"])
    return started


def serve(config: AppConfig) -> int:
    """Bind, warm up the voice (``/health`` says ``starting`` meanwhile), then serve until
    SIGTERM/SIGINT; SIGHUP reloads the config. Returns the exit status (0)."""
    tune_allocator()  # before any thread allocates: see macbot.core.memory
    warn_if_exposed(config)
    _LOGGER.info("config: %s", config.source or "built-in defaults (no config file)")
    app = create_app(config)
    state = state_of(app)
    synth = state.synthesizer
    state.warming = True
    server = Server(
        app,
        config.server.host,
        config.server.port,
        config.server.threads,
        connection_limit=http_connection_limit(config),
        channel_timeout=config.server.channel_timeout,
    )
    reloader = Reloader(server)
    listeners = start_listeners(
        config, lambda: state_of(server.app), server.port, state.failed_listeners
    )
    failure: list[BaseException] = []

    def _warm() -> None:
        try:
            seconds = synth.warmup()
        except Exception as exc:  # reported by serve() after the server stops
            _LOGGER.error("warm-up failed: %s", exc)
            failure.append(exc)
            server.request_stop()
            return
        state.warming = False
        _LOGGER.info("voice %s ready (warm-up %.2fs)", synth.default_voice.name, seconds)
        state.optimizer.start()  # serves with what it has; improves it in the background

    def _stop(signum, _frame):
        _LOGGER.info("%s: finishing in-flight requests, then exiting", signal.Signals(signum).name)
        server.request_stop()

    def _hup(_signum, _frame):
        _LOGGER.info("SIGHUP: reloading the config")
        threading.Thread(target=reloader.reload, name="macbot-reload", daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _hup)
    _LOGGER.info("listening on %s (warming up the voice)", server.url)
    warmer = threading.Thread(target=_warm, name="macbot-warmup", daemon=True)
    warmer.start()
    server.run()
    # A SIGTERM during warm-up must not leave onnxruntime running in a thread while the
    # interpreter shuts down (that aborts the process instead of exiting 0).
    warmer.join(timeout=120)
    for listener in listeners:
        listener.stop()
    state_of(server.app).optimizer.stop()
    state_of(server.app).player.close()
    # Likewise the workers: sentences still queued for playback are dropped, a run in progress
    # finishes (it is bounded) before the interpreter goes.
    state_of(server.app).synthesizer.close()
    if failure:
        raise failure[0]
    _LOGGER.info("stopped")
    return 0
