"""Running the app under waitress, a production WSGI server (never Flask's dev server).

:class:`Server` owns waitress' event loop so that stopping is graceful: on
:meth:`Server.request_stop` (SIGTERM from launchd, SIGINT, or a test) it stops accepting,
lets in-flight requests finish and their responses drain, then returns.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from flask import Flask
from waitress import wasyncore
from waitress.server import create_server

from .app import create_app
from .config import AppConfig

_LOGGER = logging.getLogger(__name__)


class Server:
    """A waitress server bound at construction (``port=0`` picks a free port)."""

    def __init__(self, app: Flask, host: str, port: int, threads: int = 8, grace: float = 30.0):
        self.app = app
        self.grace = grace
        self._waitress = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="macbot",
            # Flask answers over-long bodies with a JSON 413; waitress' limit is a backstop.
            max_request_body_size=max(app.config.get("MAX_CONTENT_LENGTH") or 0, 1 << 20) * 4,
            clear_untrusted_proxy_headers=True,
        )
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


def serve(config: AppConfig) -> int:
    """Warm up the voice, then serve until SIGTERM/SIGINT; returns the exit status (0)."""
    app = create_app(config)
    synth = app.extensions["macbot"]["synthesizer"]
    warm = synth.warmup()
    _LOGGER.info("voice %s ready (warm-up %.2fs)", synth.default_voice.name, warm)
    server = Server(app, config.server.host, config.server.port, config.server.threads)

    def _stop(signum, _frame):
        _LOGGER.info("%s: finishing in-flight requests, then exiting", signal.Signals(signum).name)
        server.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    _LOGGER.info("listening on %s", server.url)
    server.run()
    app.extensions["macbot"]["player"].close()
    _LOGGER.info("stopped")
    return 0
