"""The LRU phrase cache: finished audio for phrases an assistant says again and again.

Bounded by entries *and* bytes; the least recently used phrase goes first. The key
(:func:`cache_key`) is a digest of everything that changes the audio: the text the front end made
(whitespace folded), voice, engine variant, the model file's sha256 and the synthesis options.

With a ``directory``, entries also live on disk (one ``KEY.npz`` per phrase, written atomically)
and are loaded at start, most recently used last, so the phrases an assistant repeats every day
are instant after a restart too. Files that cannot be read are skipped with a warning.

A file is written as ``.tmp-PID-*.npz`` and renamed into place. A crash can leave one behind:
at start and on :meth:`PhraseCache.clear` every temporary file whose writer is gone (its pid not
running) or that is older than :data:`TEMP_MAX_AGE_S` is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import WordTiming

_LOGGER = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")
_KEY = re.compile(r"^[0-9a-f]{64}$")
TEMP_PREFIX = ".tmp-"
TEMP_MAX_AGE_S = 600.0
"""A temporary cache file older than this is stale even if its writer's pid runs (a write takes
milliseconds; the pid may have been reused)."""
FORMAT_VERSION = 2
"""Bumped when the on-disk layout or the key recipe changes (old files then never match)."""


def fold_whitespace(text: str) -> str:
    """The form of ``text`` used in cache keys: trimmed, runs of whitespace as one space."""
    return _SPACES.sub(" ", text).strip()


def cache_key(
    text: str, voice: str, engine: str, model_sha256: str, options: tuple[object, ...]
) -> str:
    """The cache key (hex sha256) of a phrase: changes whenever anything that shapes the audio
    changes, so a different model file, voice or option never hits."""
    blob = json.dumps(
        [FORMAT_VERSION, fold_whitespace(text), voice, engine, model_sha256, list(options)],
        ensure_ascii=False,
        default=repr,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def default_cache_dir() -> Path:
    """``~/Library/Caches/MacBot`` on macOS, ``$XDG_CACHE_HOME/macbot`` (``~/.cache``) elsewhere."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "MacBot"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "macbot"


class StaleEntry(ValueError):
    """A cache file written in an older format."""


@dataclass(frozen=True)
class CachedAudio:
    """One phrase's audio as the cache keeps it, in memory and on disk.

    Not an :class:`~macbot.core.audio.AudioChunk`: an entry is keyed by the spoken form, and
    several texts share it (``"5 pm"`` and ``"5 PM"``), so it keeps the spoken words' times
    and no input words, text or position; each hit makes the chunk of its own text."""

    samples: np.ndarray
    sample_rate: int
    engine: str
    voice: str
    spoken: tuple[WordTiming, ...] = ()
    """The times of the phrase's spoken words from its first sample, each ``word`` the spoken
    word's position (:attr:`~macbot.core.audio.AudioChunk.spoken`): the texts that share this
    entry regroup them into their own input words."""

    @property
    def nbytes(self) -> int:
        return int(self.samples.nbytes)


class PhraseCache:
    """Thread-safe LRU of :class:`CachedAudio`, bounded by ``max_entries`` and ``max_bytes``.

    ``directory``: persist entries there (``None``: memory only).
    """

    def __init__(
        self,
        max_entries: int = 100,
        max_bytes: int = 64 << 20,
        enabled: bool = True,
        directory: Path | None = None,
    ):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.enabled = enabled and max_entries > 0 and max_bytes > 0
        self.directory = Path(directory) if directory is not None and self.enabled else None
        self._items: OrderedDict[str, CachedAudio] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.loaded = 0
        self.skipped = 0
        if self.directory is not None:
            self._load()

    def get(self, key: str) -> CachedAudio | None:
        if not self.enabled:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
        self._touch(key)
        return item

    def put(self, key: str, item: CachedAudio) -> None:
        if not self.enabled or item.nbytes > self.max_bytes:
            return
        evicted_keys: list[str] = []
        with self._lock:
            self._insert(key, item, evicted_keys)
        self._write(key, item)
        for old in evicted_keys:
            self._unlink(old)

    def clear(self) -> int:
        """Drop every entry (and its file); returns how many there were."""
        with self._lock:
            keys = list(self._items)
            self._items.clear()
            self._bytes = 0
        if self.directory is not None and self.directory.is_dir():
            for path in self.directory.glob("*.npz"):
                self._unlink(path.stem)
            self._sweep_temp()
        return len(keys)

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
                "persistent": self.directory is not None,
                "directory": str(self.directory) if self.directory is not None else None,
                "loaded_from_disk": self.loaded,
                "skipped_files": self.skipped,
            }

    # -- internals ---------------------------------------------------------------------------

    def _insert(self, key: str, item: CachedAudio, evicted_keys: list[str]) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._items[key] = item
        self._bytes += item.nbytes
        while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
            gone, evicted = self._items.popitem(last=False)
            self._bytes -= evicted.nbytes
            self.evictions += 1
            evicted_keys.append(gone)

    def _path(self, key: str) -> Path | None:
        if self.directory is None or not _KEY.match(key):
            return None
        return self.directory / f"{key}.npz"

    def _write(self, key: str, item: CachedAudio) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            meta = json.dumps(
                {
                    "key": key,
                    "sample_rate": item.sample_rate,
                    "engine": item.engine,
                    "voice": item.voice,
                    "version": FORMAT_VERSION,
                    "spoken": [[w.word, w.start, w.end] for w in item.spoken],
                }
            )
            prefix = f"{TEMP_PREFIX}{os.getpid()}-"
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".npz")
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez(fh, samples=item.samples.astype(np.float32), meta=np.array(meta))
                os.replace(tmp, path)  # atomic: a reader never sees half a file
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:  # a full or read-only disk costs persistence, not the request
            _LOGGER.warning("phrase cache: cannot write %s: %s", path, exc)

    def _touch(self, key: str) -> None:
        path = self._path(key)
        if path is not None:
            # The file's mtime is its LRU position after a restart. It may have been removed
            # by `clear` or by hand meanwhile; the memory copy still serves.
            with contextlib.suppress(OSError):
                os.utime(path)

    def _unlink(self, key: str) -> None:
        path = self._path(key)
        if path is not None:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                _LOGGER.warning("phrase cache: cannot remove %s: %s", path, exc)

    def _load(self) -> None:
        assert self.directory is not None
        if not self.directory.is_dir():
            return
        self._sweep_temp()
        files = []
        for path in self.directory.glob("*.npz"):
            if path.name.startswith(TEMP_PREFIX):
                continue  # another process writing now (stale ones are gone)
            try:
                files.append((path.stat().st_mtime, path))
            except OSError:
                continue
        evicted: list[str] = []
        stale = 0
        for _mtime, path in sorted(files):
            try:
                item = _read(path)
            except StaleEntry:
                # written by an earlier version: never readable again, so it goes (one log
                # line for all of them, not one warning per phrase at every start)
                path.unlink(missing_ok=True)
                stale += 1
                continue
            except Exception as exc:  # any corrupt file (bad zip, wrong shape) is skipped
                _LOGGER.warning("phrase cache: skipping unreadable %s: %s", path, exc)
                self.skipped += 1
                continue
            if item.nbytes > self.max_bytes:
                continue
            self._insert(path.stem, item, evicted)
            self.loaded += 1
        self.evictions = 0  # trimming to the budget at start is not an eviction by use
        for key in evicted:
            self._unlink(key)
        if stale:
            _LOGGER.info("phrase cache: removed %d phrases of an older cache format", stale)
        if self.loaded:
            _LOGGER.info("phrase cache: %d phrases loaded from %s", len(self), self.directory)

    def _sweep_temp(self) -> None:
        """Remove the temporary files that no live writer will rename (a crash left them)."""
        assert self.directory is not None
        removed = 0
        now = time.time()
        for path in self.directory.glob(f"{TEMP_PREFIX}*"):
            try:
                age = now - path.stat().st_mtime
                if _writer_alive(path.name) and age < TEMP_MAX_AGE_S:
                    continue
                path.unlink()
                removed += 1
            except OSError as exc:  # gone meanwhile (its writer renamed it), or not ours to remove
                _LOGGER.debug("phrase cache: left %s: %s", path, exc)
        if removed:
            _LOGGER.info("phrase cache: removed %d temporary files left by a crash", removed)


def _writer_alive(name: str) -> bool:
    """Whether the process that writes ``.tmp-PID-*.npz`` runs (unknown pid: assumed not)."""
    pid = name[len(TEMP_PREFIX) :].split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # it runs, as another user
        return True
    return True


def _read(path: Path) -> CachedAudio:
    if not _KEY.match(path.stem):
        raise ValueError("file name is not a cache key")
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        samples = np.asarray(data["samples"])
    if meta.get("key") != path.stem:
        raise ValueError("key does not match the file name")
    if meta.get("version") != FORMAT_VERSION:
        raise StaleEntry(f"cache format {meta.get('version')}, not {FORMAT_VERSION}")
    if samples.dtype != np.float32 or samples.ndim != 1:
        raise ValueError(f"samples are {samples.dtype} with shape {samples.shape}")
    rate = int(meta["sample_rate"])
    if rate <= 0:
        raise ValueError(f"bad sample rate {rate}")
    spoken = tuple(WordTiming(str(w), float(s), float(e)) for w, s, e in meta.get("spoken", []))
    return CachedAudio(samples, rate, str(meta["engine"]), str(meta["voice"]), spoken)
