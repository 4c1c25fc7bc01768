"""Whether the synthesizer is busy: a counter of syntheses in progress with listeners on the
edges (idle → busy, busy → idle).

The daemon pauses its background optimizer while a request is being synthesized, so the
listeners are called on the thread that starts or ends a synthesis, at once: keep them short
(sending a signal is fine).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .events import Listeners

Listener = Callable[[bool], None]
"""Called with ``True`` when the first synthesis starts, ``False`` when the last one ends."""


class Activity:
    """Counts syntheses in progress; tells listeners when the count leaves or reaches 0."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()
        self._listeners: Listeners[bool] = Listeners("activity")

    @property
    def busy(self) -> bool:
        return self._count > 0

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add ``listener``; returns the function that removes it."""
        return self._listeners.add(listener)

    def enter(self) -> None:
        """A synthesis starts."""
        self._change(+1)

    def exit(self) -> None:
        """A synthesis ended (finished, failed or was abandoned)."""
        self._change(-1)

    def _change(self, delta: int) -> None:
        # The lock is held while the listeners run so that "busy" and "idle" reach them in
        # the order the count changed (a pause is never undone by a stale resume).
        with self._lock:
            before = self._count
            self._count = max(0, before + delta)
            edge = (before == 0) != (self._count == 0)
            if not edge:
                return
            self._listeners.notify(self._count > 0)
