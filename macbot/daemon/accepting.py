"""Listeners that keep accepting through resource errors (issue 21, item 7).

When the daemon runs out of open files (``EMFILE``: 1,300 idle sockets under the 1,256 the
daemon sets itself on macOS), ``accept()`` fails while the listening socket stays readable:

- waitress logged ``accept() threw …`` each time round its loop (1.87 million lines, 128 MB);
  :func:`guard_waitress` pauses its accepting for :data:`BACKOFF` seconds and logs one line
  per :data:`LOG_EVERY` seconds with the count;
- the ``websockets`` sync server's accept loop ended at the first ``OSError``, and the
  WebSocket never accepted again until a restart; :func:`serve_websockets` is that loop, which
  backs off on a resource error, ends only when the socket is closed, and stops accepting
  while ``limit`` connections are open (the rest wait in the kernel's listen queue, holding
  none of the daemon's files).

The Wyoming server's accept loop (:mod:`macbot.daemon.wyoming`) backs off the same way, with
the same log lines; asyncio's own logged a traceback each time.
"""

from __future__ import annotations

import errno
import logging
import selectors
import sys
import threading
import time
from typing import Any

from websockets.sync.server import Server

_LOGGER = logging.getLogger(__name__)

RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""``accept()`` errors that pass when files or memory are freed."""
BACKOFF = 0.25
"""Seconds a listener stops accepting after a resource error."""
LISTEN_BACKLOG = 1024
"""Connections the kernel holds completed for a listener's accept loop (waitress' default,
which the WebSocket and Wyoming take too). Past a full queue the kernel drops a handshake's
last ACK, and a client that has closed by then reaches the accept loop seconds later."""
LOG_EVERY = 10.0
"""Seconds between two log lines about the same listener's resource errors."""


class ThrottledLog:
    """One warning per :data:`LOG_EVERY` seconds, with how many were left out."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._last = float("-inf")
        self._skipped = 0
        self._lock = threading.Lock()

    def warn(self, exc: OSError) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < LOG_EVERY:
                self._skipped += 1
                return
            skipped, self._skipped, self._last = self._skipped, 0, now
        more = f" ({skipped} more since the last line)" if skipped else ""
        _LOGGER.warning(
            "%s: accept() failed: %s; retrying in %.2f s%s", self.what, exc, BACKOFF, more
        )


def guard_waitress(server: Any) -> None:
    """Make a waitress server back off on resource errors of ``accept()`` (see the module)."""
    log = ThrottledLog("HTTP")
    paused_until = [0.0]
    readable = server.readable

    def guarded_readable() -> bool:
        return time.monotonic() >= paused_until[0] and readable()

    def guarded_accept() -> None:
        try:
            pair = server.accept()
            if pair is None:
                return
            conn, addr = pair
            server.set_socket_options(conn)
        except OSError as exc:
            if exc.errno in RESOURCE_ERRORS:
                paused_until[0] = time.monotonic() + BACKOFF
                log.warn(exc)
            else:  # a peer gone before accept() finished, as waitress says: nothing to do
                _LOGGER.debug("HTTP accept() failed: %s", exc)
            return
        server.channel_class(server, conn, server.fix_addr(addr), server.adj, map=server._map)

    server.readable = guarded_readable
    server.handle_accept = guarded_accept


def serve_websockets(server: Server, limit: int) -> None:
    """``server.serve_forever()`` that survives resource errors and holds at most ``limit``
    connections (handshakes included) at once (see the module)."""
    log = ThrottledLog("WebSocket")
    poller = selectors.DefaultSelector()
    if sys.platform != "win32":
        poller.register(server.shutdown_watcher, selectors.EVENT_READ)
    try:
        try:
            poller.register(server.socket, selectors.EVENT_READ)
        except (OSError, ValueError):  # shutdown() ran first
            return
        while True:
            while len(server.handler_threads) >= limit and server.socket.fileno() >= 0:
                time.sleep(0.05)  # full: the next ones wait in the listen queue
            poller.select()
            try:
                sock, addr = server.socket.accept()
            except OSError as exc:
                if exc.errno in RESOURCE_ERRORS:
                    log.warn(exc)
                    time.sleep(BACKOFF)
                    continue
                if server.socket.fileno() >= 0 and exc.errno in (errno.ECONNABORTED, errno.EAGAIN):
                    continue  # the peer left before accept(): the listener is fine
                break  # the socket was closed: shutdown()
            thread = threading.Thread(
                target=server.handler, args=(sock, addr), name="macbot-websocket-conn", daemon=True
            )
            with server.lock:
                server.handler_threads.add(thread)
            thread.start()
    finally:
        server.socket_closed.set()
        if sys.platform != "win32":
            server.shutdown_watcher.close()
