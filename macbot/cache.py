"""The LRU phrase cache: finished audio for phrases an assistant says again and again.

Bounded by entries *and* bytes; the least recently used phrase goes first. The key holds
everything that changes the audio (normalized text, voice, engine variant, options).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """The form of ``text`` used in cache keys: trimmed, runs of whitespace as one space."""
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class CachedAudio:
    samples: np.ndarray
    sample_rate: int
    engine: str
    voice: str

    @property
    def nbytes(self) -> int:
        return int(self.samples.nbytes)


class PhraseCache:
    """Thread-safe LRU of :class:`CachedAudio`, bounded by ``max_entries`` and ``max_bytes``."""

    def __init__(self, max_entries: int = 100, max_bytes: int = 64 << 20, enabled: bool = True):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.enabled = enabled and max_entries > 0
        self._items: OrderedDict[Hashable, CachedAudio] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: Hashable) -> CachedAudio | None:
        if not self.enabled:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: Hashable, item: CachedAudio) -> None:
        if not self.enabled or item.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = item
            self._bytes += item.nbytes
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes
                self.evictions += 1

    def clear(self) -> int:
        """Drop every entry; returns how many there were."""
        with self._lock:
            count = len(self._items)
            self._items.clear()
            self._bytes = 0
            return count

    def __len__(self) -> int:
        return len(self._items)

    def stats(self) -> dict[str, object]:
        with self._lock:
            lookups = self.hits + self.misses
            return {
                "enabled": self.enabled,
                "entries": len(self._items),
                "max_entries": self.max_entries,
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
                "hits": self.hits,
                "misses": self.misses,
                "evictions": self.evictions,
                "hit_rate": round(self.hits / lookups, 4) if lookups else 0.0,
            }
