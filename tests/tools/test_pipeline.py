"""The one runner of both optimization pipelines (issue 18 item 7: ``KokoroOptimizer.run``
repeated ``Optimizer.run``'s step loop): steps in order, progress by their weights, a failing
step recorded as the run's failure (stored, reported, raised)."""

from __future__ import annotations

import pytest
from conftest import make_config

from macbot.core.optimization import load_state
from macbot.core.voices import bundled_voice
from macbot.tools.kokoro_optimizer import KokoroOptimizer
from macbot.tools.optimizer import Optimizer
from macbot.tools.pipeline import Pipeline


class TwoSteps(Pipeline):
    """A family of two steps; the second fails when asked to."""

    step_names = ("first", "second")
    weights = {"first": 1, "second": 3}  # noqa: RUF012

    fail = True

    def steps(self):
        return [self.first, self.second]

    def first(self) -> None:
        self._begin("first")
        self._end("first", "done", "made")

    def second(self) -> None:
        self._begin("second")
        self._progress("second", 0.5)
        if self.fail:
            raise RuntimeError("disk full\nTraceback lines nobody needs")
        self._end("second", "done", "made")


def test_both_families_run_through_the_one_runner():
    assert Optimizer.run is Pipeline.run and KokoroOptimizer.run is Pipeline.run
    assert "run" not in vars(Optimizer) and "run" not in vars(KokoroOptimizer)


def test_a_failing_step_is_the_runs_failure_stored_reported_and_raised(tmp_path):
    config = make_config(tmp_path, models__tts__optimized_dir=str(tmp_path / "optimized"))
    voice = bundled_voice()
    seen: list[tuple[str, str | None, float]] = []
    pipeline = TwoSteps(config, voice, report=lambda s: seen.append((s.state, s.step, s.progress)))
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.run()
    state = pipeline.state
    assert [(s.name, s.state) for s in state.steps] == [("first", "done"), ("second", "failed")]
    assert state.state == "failed" and state.step is None and state.finished_at
    assert state.reason == "second failed: disk full"  # its first line only
    assert ("running", "first", 0.0) in seen and ("running", "second", 0.25) in seen
    assert ("running", "second", 0.625) in seen  # (1 × done + 3 × half) / 4
    assert seen[-1][0] == "failed"
    record, _key = load_state(pipeline.chain, voice)
    assert record is not None and record["state"] == "failed"
    assert record["reason"] == "second failed: disk full"
