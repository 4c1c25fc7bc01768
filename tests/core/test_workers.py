"""The worker pool's leading task (issue 20, item 7): for an engine that streams within a
sentence, a request's first sentence yields its first piece alone on every core before its
next sentences start."""

from __future__ import annotations

import threading

import pytest
from conftest import make_config

from macbot.core.synthesizer import Synthesizer
from macbot.core.workers import WorkerPool


@pytest.fixture
def pool():
    pool = WorkerPool(2)
    yield pool
    pool.close(timeout=5)


def _task(name, started, gate=None, fail=False):
    def run():
        started[name].set()
        if gate is not None:
            assert gate.wait(10), "the test never opened the gate"
        if fail:
            raise RuntimeError(f"{name} failed")
        yield f"{name}-0"
        yield f"{name}-1"

    return run


def _events(*names):
    return {name: threading.Event() for name in names}


def test_a_leading_first_task_runs_alone_until_its_first_piece(pool):
    started, gate = _events("a", "b", "c"), threading.Event()
    job = pool.submit(
        [_task("a", started, gate), _task("b", started), _task("c", started)], lead=True
    )
    assert started["a"].wait(5)
    # Two workers, but the second sentence waits for the first one's first piece.
    assert not started["b"].wait(0.3)
    gate.set()
    assert started["b"].wait(5) and started["c"].wait(5)
    assert list(job.results()) == ["a-0", "a-1", "b-0", "b-1", "c-0", "c-1"]


def test_without_lead_sentences_start_side_by_side(pool):
    started, gate = _events("a", "b"), threading.Event()
    job = pool.submit([_task("a", started, gate), _task("b", started)])
    assert started["b"].wait(5)  # while "a" is still held
    gate.set()
    assert list(job.results()) == ["a-0", "a-1", "b-0", "b-1"]


def test_a_leading_task_that_fails_releases_the_others(pool):
    started = _events("a", "b")
    job = pool.submit([_task("a", started, fail=True), _task("b", started)], lead=True)
    assert started["b"].wait(5)
    with pytest.raises(RuntimeError, match="a failed"):
        list(job.results())


def test_a_leading_request_does_not_hold_back_other_requests(pool):
    started, gate = _events("a", "b", "other"), threading.Event()
    job = pool.submit([_task("a", started, gate), _task("b", started)], lead=True)
    other = pool.submit([_task("other", started)])
    assert started["other"].wait(5)
    assert list(other.results()) == ["other-0", "other-1"]
    assert not started["b"].is_set()
    gate.set()
    assert list(job.results()) == ["a-0", "a-1", "b-0", "b-1"]


def test_the_synthesizer_leads_with_a_streaming_engine(voice_split, plain):
    """With the split (streaming within sentences) a paragraph's first sentence leads; its
    audio is the same as without (the order of the pieces does not change)."""
    _, folder = voice_split
    config = make_config(
        models__tts__optimized_dir=str(folder.parent),
        models__tts__streaming={"enabled": True},
    )
    synth = Synthesizer(config)
    submitted = []
    real = synth.pool.submit
    synth.pool.submit = lambda tasks, lead=False: submitted.append(lead) or real(tasks, lead)
    try:
        text = "Good morning. The weather is sunny today. Your meeting starts soon."
        chunks = list(synth.stream(text, options=plain))
        assert submitted == [True]
        assert [c.index for c in chunks] == list(range(len(chunks)))
        assert chunks[0].part == 0 and len(chunks) > 3
    finally:
        synth.close()
