"""The phrase cache (``macbot.core.cache``) on its own: eviction by bytes, the key, files on
disk that cannot be read or are of an older format. Over HTTP: tests/daemon/test_daemon.py."""

from __future__ import annotations

import logging

import numpy as np

from macbot.core.cache import CachedAudio, PhraseCache, cache_key


def _audio(seconds: float, value: float = 0.1) -> CachedAudio:
    return CachedAudio(np.full(int(22050 * seconds), value, np.float32), 22050, "piper", "v")


def test_cache_evicts_by_bytes():
    one = _audio(1.0).nbytes
    cache = PhraseCache(max_entries=100, max_bytes=int(2.5 * one))
    for n in range(4):
        cache.put(f"{n:064x}", _audio(1.0, n / 10))
    stats = cache.stats()
    assert stats["entries"] == 2 and stats["evictions"] == 2 and stats["bytes"] == 2 * one
    assert cache.get(f"{0:064x}") is None and cache.get(f"{3:064x}") is not None
    cache.put("f" * 64, _audio(3.0))  # bigger than the whole budget: not cached
    assert len(cache) == 2


def test_cache_key_covers_everything_that_changes_the_audio():
    base = ("hello", "voice", "piper", "a" * 64, (1.0,))
    key = cache_key(*base)
    assert cache_key(" hello  ", *base[1:]) == key
    for i, other in enumerate(["bye", "voice2", "piper_quantized", "b" * 64, (1.5,)]):
        changed = list(base)
        changed[i] = other
        assert cache_key(*changed) != key


def test_unreadable_cache_files_are_skipped_with_a_warning(tmp_path, caplog):
    cache = PhraseCache(directory=tmp_path)
    cache.put("a" * 64, _audio(0.5))
    (tmp_path / ("b" * 64 + ".npz")).write_bytes(b"PK\x03\x04 truncated")
    with caplog.at_level(logging.WARNING, logger="macbot.core.cache"):
        reloaded = PhraseCache(directory=tmp_path)
    assert len(reloaded) == 1 and reloaded.stats()["skipped_files"] == 1
    assert "skipping unreadable" in caplog.text
    assert np.array_equal(reloaded.get("a" * 64).samples, _audio(0.5).samples)


def test_entries_of_an_older_cache_format_are_removed_quietly(tmp_path, caplog):
    """After an upgrade that changes the cache format, the old files are removed with one
    info line (they logged a warning each, at every start, and stayed on disk)."""
    import json

    from macbot.core.cache import FORMAT_VERSION

    cache = PhraseCache(directory=tmp_path)
    for key in ("a" * 64, "b" * 64):
        cache.put(key, _audio(0.5))
    old = tmp_path / ("b" * 64 + ".npz")
    with np.load(old, allow_pickle=False) as data:
        samples, meta = np.asarray(data["samples"]), json.loads(str(data["meta"]))
    meta["version"] = FORMAT_VERSION - 1
    with open(old, "wb") as fh:
        np.savez(fh, samples=samples, meta=np.array(json.dumps(meta)))
    with caplog.at_level(logging.INFO, logger="macbot.core.cache"):
        reloaded = PhraseCache(directory=tmp_path)
    assert len(reloaded) == 1 and reloaded.get("a" * 64) is not None
    assert not old.exists()
    assert "removed 1 phrases of an older cache format" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
