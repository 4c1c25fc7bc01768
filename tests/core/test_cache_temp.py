"""Found 12 (issue 21), first bullet: a phrase-cache temporary file left by a crash was warned
about at every start and never removed, not even by ``DELETE /cache``."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import numpy as np
from conftest import RecordingOutput, make_config

from macbot.core.cache import TEMP_MAX_AGE_S, CachedAudio, PhraseCache, cache_key
from macbot.core.playback import Player
from macbot.core.synthesizer import Synthesizer
from macbot.daemon.app import create_app


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def half_written(folder, name: str) -> None:
    """What a crash in the middle of ``np.savez`` leaves: the start of a zip file."""
    (folder / name).write_bytes(b"PK\x03\x04" + b"\0" * 100)


def an_entry(cache: PhraseCache) -> None:
    key = cache_key("hello", "voice", "piper", "a" * 64, (1.0,))
    cache.put(key, CachedAudio(np.zeros(100, np.float32), 22050, "piper", "voice"))


def test_a_phrase_cache_temp_file_left_by_a_crash_is_removed_at_start(tmp_path, caplog):
    crashed = f".tmp-{dead_pid()}-k2j3.npz"
    older_format = ".tmp-a8d7f6s.npz"  # named before temp names held the pid
    half_written(tmp_path, crashed)
    half_written(tmp_path, older_format)
    writing = f".tmp-{os.getpid()}-live.npz"  # a live writer's, just begun: left alone
    half_written(tmp_path, writing)
    with caplog.at_level(logging.INFO, logger="macbot.core.cache"):
        cache = PhraseCache(directory=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [writing]
    assert cache.stats()["skipped_files"] == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "removed 2 temporary files left by a crash" in caplog.text
    # a live writer's file that is far too old for a write: its pid was reused
    old = time.time() - TEMP_MAX_AGE_S - 60
    os.utime(tmp_path / writing, (old, old))
    PhraseCache(directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_delete_cache_removes_a_crashed_temp_file(tmp_path):
    folder = tmp_path / "cache"
    perf = {"tts_cache_persist": True, "tts_cache_dir": str(folder)}
    synth = Synthesizer(make_config(voice_assistant__performance=perf))
    try:
        an_entry(synth.cache)
        # the crash happens while this daemon runs (another process sharing the folder)
        crashed = f".tmp-{dead_pid()}-x1y2.npz"
        half_written(folder, crashed)
        app = create_app(synth.config, synthesizer=synth, player=Player(RecordingOutput()))
        resp = app.test_client().delete("/cache")
        assert resp.status_code == 200 and resp.get_json() == {"cleared": 1}
        assert list(folder.iterdir()) == []
    finally:
        synth.close()
