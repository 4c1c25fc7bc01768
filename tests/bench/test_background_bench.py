"""The ``background`` benchmark, run small: every phase measured, the child's priority noted,
nothing left running (the speed ratio itself is the benchmark's figure, not asserted)."""

from __future__ import annotations

import psutil
import pytest

from benchmarks import background
from benchmarks.options import BenchOptions


@pytest.mark.slow
def test_a_small_run_measures_every_phase(monkeypatch):
    monkeypatch.setattr(background, "PHASE_S", 2.0)
    monkeypatch.setenv("MACBOT_BACKGROUND_PRIORITY", "idle")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = background.background_suite(BenchOptions(rounds=1))
    contenders = [row["contender"] for row in result["rows"]]
    assert len(contenders) == 3 and contenders[0].startswith("piper-tts alone")
    assert 1 <= result["phases"] <= 9
    assert result["rows"][0]["sentences"] > 0
    if result["child_priority"].get("sched_idle") is not None:
        assert result["child_priority"]["sched_idle"] is True
        assert result["child_priority"]["own_session"] is True
    after = {p.pid for p in psutil.Process().children(recursive=True) if p.is_running()}
    assert not {
        pid for pid in after - before if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    }
