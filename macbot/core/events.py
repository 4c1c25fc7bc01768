"""Listeners of one kind of event: the synthesizer's finished syntheses and loaded voices, the
busy/idle edges of :class:`~macbot.core.activity.Activity`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

_LOGGER = logging.getLogger(__name__)

E = TypeVar("E")


class Listeners(Generic[E]):
    """Callbacks taking one event. A failing callback is logged, never raised: an observer
    must not fail the work it observes."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._items: list[Callable[[E], None]] = []
        self._lock = threading.Lock()

    def add(self, listener: Callable[[E], None]) -> Callable[[], None]:
        """Add ``listener``; returns the function that removes it."""
        with self._lock:
            self._items.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._items:
                    self._items.remove(listener)

        return remove

    def notify(self, event: E) -> None:
        """Call every listener with ``event``, in the order they were added."""
        with self._lock:
            items = list(self._items)
        for listener in items:
            try:
                listener(event)
            except Exception:  # an observer must not fail the work it observes; logged
                _LOGGER.exception("%s listener %r failed", self._what, listener)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
