"""The synthesis worker pool: N threads sharing one onnxruntime session, fair across requests.

Each request submits its sentences as a list of tasks. Every task is a generator function: the
pieces it yields (sub-sentence chunks from a streaming engine, or one whole sentence) go into
that task's own slot, and :meth:`Job.results` hands them out in task order, each as soon as it
is ready and every earlier task has finished. So sentences run concurrently while the consumer
still gets audio strictly in order, and the first piece of sentence 1 is not held back by
sentence 2.

Fairness: pending work lives in one queue per request, and idle workers take the next task from
the requests in round-robin order. A one-sentence request submitted while a long paragraph is
running gets the next free worker instead of waiting for the whole paragraph.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import psutil

from ..config import PerformanceConfig
from .probes import host_facts
from .sessions import SessionPlan

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

Task = Callable[[], Iterable[T]]
"""A unit of work: called on a worker thread, it yields the pieces of one sentence."""

_DONE = object()

LOOKAHEAD = 8
"""Tasks (sentences) of one job that may run or wait finished beyond the one its consumer
reads: a consumer slower than synthesis (the sound device playing 20 minutes of speech at
speed 0.25, a client reading slowly) no longer makes the pool hold the whole request's audio
(issue 21); the workers serve other jobs, or wait, until it reads on."""


MAX_DEFAULT_WORKERS = 4
"""Sentences run side by side at most, by default. Each concurrent run holds its own
activations (up to ~130 MB for the longest run, see ``MAX_PHONEME_IDS``), and past four the
sentences of one request are ahead of playback anyway."""


def compute_cores() -> int:
    """Cores worth computing on: Apple Silicon's performance cores (efficiency cores slow a
    shared run down), else physical cores, else logical; at least 1."""
    try:
        facts = host_facts()
        cores = facts.performance_cores or facts.physical_cores
    except Exception:  # probing is best effort; fall back to psutil below
        _LOGGER.debug("probes could not count cores", exc_info=True)
        cores = None
    if not cores:
        try:
            cores = psutil.cpu_count(logical=False)
        except Exception:  # psutil cannot read the topology on some hosts
            _LOGGER.debug("psutil could not count physical cores", exc_info=True)
    return max(1, cores or os.cpu_count() or 1)


def default_worker_count(cores: int | None = None) -> int:
    """Workers of the adaptive plan: one per compute core, at most
    :data:`MAX_DEFAULT_WORKERS` (2 on a 2-core machine, 4 on an 8-performance-core Mac)."""
    cores = cores or compute_cores()
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


def intra_op_threads_for(workers: int, cores: int | None = None) -> int:
    """onnxruntime intra-op threads per run so that ``workers`` concurrent runs fill the cores."""
    cores = cores or compute_cores()
    return max(1, cores // max(1, workers))


@dataclass(frozen=True)
class WorkerPlan:
    """How many sentences run at once, and how the sessions behind them are set up."""

    workers: int
    """Synthesis worker threads."""
    intra_op_threads: int
    """onnxruntime threads per model run (0: every core)."""
    parallel: bool
    """``tts_parallel_processing``."""
    session: SessionPlan
    """What every onnxruntime session of this plan is built with."""
    adaptive: bool = False
    """Workers share one pool of every core: a lone sentence gets every thread, concurrent
    ones share them (see :func:`plan_workers`)."""

    def describe(self) -> dict[str, object]:
        return {
            "adaptive": self.adaptive,
            "parallel": self.parallel,
            "workers": self.workers,
            "intra_op_threads": self.intra_op_threads,
            "session": self.session.describe(),
        }


def plan_workers(perf: PerformanceConfig, cores: int | None = None) -> WorkerPlan:
    """The worker plan of ``voice_assistant.performance``.

    The adaptive plan (the default: ``tts_parallel_processing`` with ``tts_workers`` and
    ``tts_intra_op_threads`` 0): :func:`default_worker_count` workers share one session whose
    intra-op pool has a thread per compute core. A lone sentence runs on every thread; when
    several sentences wait (a paragraph, concurrent clients) up to ``workers`` run side by side
    and share the pool's threads. Measured on 2 cores (``macbot bench daemon``), it gives a
    lone sentence the speed of the 1 worker × 2 threads plan and several sentences the
    throughput of 2 workers × 1 thread (see docs/ENGINES.md).

    Fixed plans: ``tts_workers`` N with ``tts_intra_op_threads`` 0 gives each of N workers
    cores ÷ N threads; either value set is used as given. Without parallel processing: one
    worker with ``tts_intra_op_threads`` (0: every core).
    """
    cores = cores or compute_cores()
    if perf.tts_parallel_processing:
        workers = perf.tts_workers or default_worker_count(cores)
        if perf.tts_intra_op_threads:
            threads = perf.tts_intra_op_threads
        elif perf.tts_workers:
            threads = intra_op_threads_for(workers, cores)
        else:
            threads = cores  # adaptive: runs share one pool of every core
        adaptive = not perf.tts_workers and not perf.tts_intra_op_threads
    else:
        workers, threads, adaptive = 1, perf.tts_intra_op_threads, False
    session = SessionPlan(intra_op_threads=threads, memory_arena=perf.tts_memory_arena)
    return WorkerPlan(workers, threads, perf.tts_parallel_processing, session, adaptive)


class Job(Generic[T]):
    """One request's tasks in the pool; iterate :meth:`results` to get their pieces in order."""

    def __init__(
        self, pool: WorkerPool, job_id: int, tasks: list[Task], lead: bool = False
    ) -> None:
        self.id = job_id
        self._pool = pool
        self._pending: deque[tuple[int, Task]] = deque(enumerate(tasks))
        self._slots: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in tasks]
        self.cancelled = False
        self.running = 0
        self.leading = lead and len(tasks) > 1
        """The first task runs alone until it yields its first piece (see
        :meth:`WorkerPool.submit`); cleared then."""
        self.reading = 0
        """The task whose pieces the consumer reads now (see :data:`LOOKAHEAD`)."""

    @property
    def size(self) -> int:
        return len(self._slots)

    def results(self) -> Iterator[T]:
        """The pieces of every task, in task order, each as soon as it is ready.

        A task's exception is raised here when its turn comes. Closing the iterator early
        (a client went away) cancels the tasks not yet started.
        """
        try:
            for index, slot in enumerate(self._slots):
                self._pool._advance(self, index)
                while True:
                    item = slot.get()
                    if item is _DONE:
                        break
                    if isinstance(item, _Failure):
                        raise item.error
                    yield item
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Drop the tasks not yet started (running ones finish; their output is discarded)."""
        self._pool._cancel(self)


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class WorkerPool:
    """``workers`` daemon threads taking tasks round-robin from the active jobs."""

    def __init__(self, workers: int, name: str = "macbot-synth") -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._jobs: deque[Job] = deque()  # jobs with pending tasks, in round-robin order
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._closed = False
        self._active: dict[int, Job] = {}  # jobs not yet fully done
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, tasks: list[Task], lead: bool = False) -> Job:
        """Queue one request's tasks; returns at once.

        ``lead``: the first task runs alone until it has yielded its first piece, and only
        then do the others start (for engines that stream within a sentence: the first
        audio then has every core, instead of sharing them with the second sentence).
        Other requests' tasks are not held back."""
        with self._cond:
            if self._closed:
                raise RuntimeError("worker pool is closed")
            job: Job = Job(self, next(self._ids), list(tasks), lead)
            if job.size:
                self._jobs.append(job)
                self._active[job.id] = job
                self._cond.notify(min(job.size, self.workers))
            return job

    def active_jobs(self) -> int:
        """Requests with a task running or waiting."""
        with self._cond:
            return len(self._active)

    def queued_tasks(self) -> int:
        """Tasks (sentences) waiting for a worker."""
        with self._cond:
            return sum(len(j._pending) for j in self._jobs)

    def waiting_jobs(self) -> int:
        """Requests queued with none of their tasks started yet."""
        with self._cond:
            return sum(1 for j in self._active.values() if j.running == 0 and j._pending)

    def running_tasks(self) -> int:
        with self._cond:
            return sum(j.running for j in self._active.values())

    def close(self, timeout: float = 60.0) -> None:
        """Stop: drop the tasks not yet started (their consumers see their results end), let
        the running ones finish and join the threads.

        Joining matters: a worker left inside an onnxruntime run while the interpreter exits
        aborts the process (``terminate called without an active exception``, exit 134 on
        Ctrl-C in ``macbot say --local`` before issue 11). Bounded model runs keep the wait
        short; ``timeout`` guards against a run that never returns.
        """
        with self._cond:
            self._closed = True
            jobs = list(self._jobs)
            self._cond.notify_all()
        for job in jobs:
            self._cancel(job)
        for thread in self._threads:
            thread.join(timeout=timeout)

    # -- internals ---------------------------------------------------------------------------

    def _cancel(self, job: Job) -> None:
        with self._cond:
            job.cancelled = True
            for index, _task in job._pending:
                job._slots[index].put(_DONE)
            job._pending.clear()
            if job in self._jobs:
                self._jobs.remove(job)
            if job.running == 0:
                self._active.pop(job.id, None)

    def _advance(self, job: Job, index: int) -> None:
        """``job``'s consumer reads task ``index`` now: tasks up to :data:`LOOKAHEAD` beyond it
        may start."""
        with self._cond:
            if index > job.reading:
                job.reading = index
                self._cond.notify_all()

    def _ready(self) -> Job | None:
        """The first job, in round-robin order, whose next task is within its lookahead and
        not held back behind its leading first task."""
        return next(
            (
                j
                for j in self._jobs
                if not (j.leading and j.running) and j._pending[0][0] <= j.reading + LOOKAHEAD
            ),
            None,
        )

    def _next(self) -> tuple[Job, int, Task] | None:
        with self._cond:
            while not self._closed and (job := self._ready()) is None:
                self._cond.wait()
            if self._closed or job is None:
                return None
            self._jobs.remove(job)
            index, task = job._pending.popleft()
            job.running += 1
            if job._pending:
                self._jobs.append(job)  # back of the line: the next worker serves another job
            return job, index, task

    def _lead_done(self, job: Job) -> None:
        """The leading task yielded its first piece: the job's other tasks may start."""
        with self._cond:
            job.leading = False
            self._cond.notify(min(len(job._pending), self.workers))

    def _work(self) -> None:
        while True:
            picked = self._next()
            if picked is None:
                return
            self._run(*picked)
            # Nothing of the last task stays bound while this worker waits: an idle worker
            # kept its task (and so its engine, with the sessions' weights and arenas) alive,
            # so an engine swapped out stayed in memory until that worker's next task (+60 to
            # 100 MB per swap on joe).
            del picked

    def _run(self, job: Job, index: int, task: Task) -> None:
        slot = job._slots[index]
        try:
            for piece in task():
                if job.cancelled:
                    break
                slot.put(piece)
                if job.leading:
                    self._lead_done(job)
        except BaseException as exc:  # handed to the consumer, who raises it in order
            slot.put(_Failure(exc))
        finally:
            slot.put(_DONE)
            with self._cond:
                if job.leading:
                    job.leading = False
                    self._cond.notify_all()
                job.running -= 1
                if job.running == 0 and not job._pending:
                    self._active.pop(job.id, None)
