"""The worker pool (``macbot.core.workers``): round robin between requests, results in order,
a task's error in its turn, a bounded look-ahead, and the leading task (issue 20, item 7): for
an engine that streams within a sentence, a request's first sentence yields its first piece
alone on every core before its next sentences start."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest
from conftest import make_config

from macbot.core.synthesizer import Synthesizer
from macbot.core.workers import LOOKAHEAD, WorkerPool


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


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


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


def test_pool_round_robin_serves_a_short_job_before_a_long_one_finishes():
    """Deterministic: one worker, the long job's first task blocks until the short job is in."""
    pool = WorkerPool(1)
    order: list[str] = []
    gate = threading.Event()

    def task(name: str, block: bool = False):
        def run():
            if block:
                gate.wait(10)
            order.append(name)
            yield name

        return run

    long_job = pool.submit([task("long0", block=True)] + [task(f"long{i}") for i in range(1, 6)])
    assert wait_for(lambda: pool.running_tasks() == 1)
    short_job = pool.submit([task("short")])
    gate.set()
    assert list(short_job.results()) == ["short"]
    assert list(long_job.results()) == [f"long{i}" for i in range(6)]
    assert order.index("short") < order.index("long5")
    assert order.index("short") <= 2  # at most one more long sentence ran before it
    pool.close()


def test_pool_yields_in_order_and_raises_a_task_error_in_its_turn():
    pool = WorkerPool(3)
    gates = [threading.Event() for _ in range(3)]

    def task(i: int):
        def run():
            gates[i].wait(10)
            if i == 2:
                raise ValueError("sentence 2 failed")
            yield f"{i}a"
            yield f"{i}b"

        return run

    job = pool.submit([task(i) for i in range(3)])
    for gate in reversed(gates):  # finish out of order
        gate.set()
    results = job.results()
    assert [next(results) for _ in range(4)] == ["0a", "0b", "1a", "1b"]
    with pytest.raises(ValueError, match="sentence 2 failed"):
        next(results)
    assert wait_for(lambda: pool.active_jobs() == 0)
    pool.close()


def test_found_6_a_slow_reader_holds_only_a_few_sentences_ahead():
    """The pool ran every sentence of a request as fast as it could, whatever its reader took:
    20 minutes of speech at speed 0.25 played in real time were held until played. It now
    runs at most LOOKAHEAD sentences beyond the one being read, and serves others meanwhile."""
    pool = WorkerPool(2)
    started: list[int] = []

    def task(i: int):
        def run():
            started.append(i)
            yield i

        return run

    try:
        job = pool.submit([task(i) for i in range(40)])
        results = job.results()
        assert next(results) == 0
        time.sleep(0.5)  # a reader that pauses: the workers must stop ahead of it
        assert max(started) <= LOOKAHEAD
        other = pool.submit([task(100)])  # another request is served meanwhile
        assert list(other.results()) == [100]
        assert list(results) == list(range(1, 40))  # reading on lets the rest run, in order
    finally:
        pool.close()


class _Engine:
    """Stands for what a task holds: its engine (sessions, weights, arenas)."""

    def speak(self):
        yield "piece"


def test_an_idle_worker_keeps_nothing_of_its_last_task(pool):
    """Found with the real daemon: after an engine swap the old engine stayed alive, held by
    the last task of the idle worker, until that worker got another task (+20 to 30 MB
    per swap on joe, in process, over four swaps)."""
    engine = _Engine()
    gone = weakref.ref(engine)
    job = pool.submit([engine.speak])
    assert list(job.results()) == ["piece"]
    del job, engine
    assert wait_for(lambda: gc.collect() is not None and gone() is None, timeout=5)


def test_a_swapped_out_engine_is_freed(tmp_path):
    """The real synthesizer: after reload_engine and a request on the new engine, nothing
    keeps the old one (its sessions and arenas go back)."""
    config = make_config(
        tmp_path, voice_assistant__performance={"tts_cache_enabled": False, "tts_workers": 2}
    )
    synth = Synthesizer(config)
    try:
        list(synth.stream("I have set a timer for ten minutes."))
        old = weakref.ref(synth.engine())
        synth.reload_engine()
        assert synth.engine() is not old()
        list(synth.stream("I have set a timer for ten minutes."))
        assert wait_for(lambda: gc.collect() is not None and old() is None, timeout=5)
    finally:
        synth.close()
