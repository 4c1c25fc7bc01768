"""Memory housekeeping: hand back what a burst of syntheses left behind, once idle.

A :class:`Housekeeper` is owned by one synthesizer (``start``/``stop``); it keeps no module
state and registers no ``atexit`` hook. Its thread is not a daemon thread: at interpreter
exit it sees the main thread gone and ends after the release it may be running, and the
interpreter waits for it. A thread caught inside an arena-shrinking model run while the
interpreter tears down aborts the process (``terminate called without an active
exception``, exit 134).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .stats import rss_bytes

_LOGGER = logging.getLogger(__name__)

IDLE_RELEASE_SECONDS = 2.0
"""Seconds without synthesis after which the memory a burst left is handed back."""

BURST_BUDGET_MB = 256
"""During a burst that never idles (clients without pause), memory is handed back anyway
whenever RSS is this much over what it was when the burst began (at most every
:data:`IDLE_RELEASE_SECONDS`): the arena then keeps only what the runs in progress use."""

POLL_SECONDS = 0.25
"""How often the thread looks at the clock, the pool and the main thread."""


class Housekeeper:
    """Calls ``release()`` :data:`IDLE_RELEASE_SECONDS` after the last synthesis once
    ``active_jobs()`` is 0, or during a long burst when RSS grew by :data:`BURST_BUDGET_MB`.

    The thread starts with :meth:`start` (or the first :meth:`note`) and ends with
    :meth:`stop` or at interpreter exit; it never takes the process down (a failed release is
    logged)."""

    def __init__(self, release: Callable[[], None], active_jobs: Callable[[], int]) -> None:
        self._release = release
        self._active_jobs = active_jobs
        self._last_activity = 0.0
        self._dirty = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def pending(self) -> bool:
        """Whether memory of the last burst waits to be released."""
        return self._dirty

    def note(self) -> None:
        """A synthesis finished: release its memory once idle a while."""
        self._last_activity = time.monotonic()
        self._dirty = True
        self.start()

    def start(self) -> None:
        """Start the thread (once; not after :meth:`stop`)."""
        with self._lock:
            if self._thread is not None or self._stopping.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="macbot-housekeeping")
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread, after the release it may be running."""
        self._stopping.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    def _run(self) -> None:
        baseline = rss_bytes()
        last_forced = 0.0
        main = threading.main_thread()
        while not self._stopping.wait(POLL_SECONDS) and main.is_alive():
            now = time.monotonic()
            idle = now - self._last_activity >= IDLE_RELEASE_SECONDS
            if self._dirty and idle and self._active_jobs() == 0:
                self._dirty = False
            elif now - last_forced >= IDLE_RELEASE_SECONDS and (
                rss_bytes() > baseline + BURST_BUDGET_MB * 1_000_000
            ):
                last_forced = now  # a long burst: release what its runs are not using
            else:
                continue
            try:
                self._release()
            except Exception:  # housekeeping must never take the daemon down; logged
                _LOGGER.exception("releasing idle memory failed")
