"""Collection: a request's tasks run on the worker pool, their chunks handed out in order,
timed into the statistics, kept for the phrase cache and told to listeners when done."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from .activity import Activity
from .audio import AudioChunk, concat
from .cache import CachedAudio, PhraseCache
from .engines import Engine
from .events import Listeners
from .stats import PerformanceStats
from .timings import WordLabel, regroup, utterance_words
from .workers import Job, Task, WorkerPool

CACHE_ENTRY_SHARE = 8
"""The phrase cache keeps an utterance of at most this share of ``tts_cache_max_mb`` (8 MB,
~95 s of audio, of the default 64 MB), or of 4 MB if that is more (a small cache)."""


def cache_entry_limit(cache: PhraseCache) -> int:
    """Bytes of samples the synthesizer holds for one entry of ``cache`` (0: none)."""
    if not cache.enabled:
        return 0
    return max(cache.max_bytes // CACHE_ENTRY_SHARE, min(cache.max_bytes, 4 << 20))


@dataclass(frozen=True)
class SynthesisEvent:
    """One finished synthesis (a cache miss), for listeners such as the metrics."""

    seconds: float
    """From the request to its last audio."""
    audio_seconds: float
    first_audio_seconds: float | None
    engine: str
    voice: str


Listener = Callable[[SynthesisEvent], None]


class Collector:
    """Runs requests' tasks on ``pool`` and collects their chunks: ``activity`` busy while
    they run, ``stats`` timed, ``cache`` filled, ``finished()`` called after each synthesis
    (the housekeeping's cue) and then the listeners."""

    def __init__(
        self,
        pool: WorkerPool,
        activity: Activity,
        cache: PhraseCache,
        stats: PerformanceStats,
        finished: Callable[[], None],
    ) -> None:
        self.pool = pool
        self.activity = activity
        self.cache = cache
        self.stats = stats
        self._finished = finished
        self._listeners: Listeners[SynthesisEvent] = Listeners("synthesis")

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every finished synthesis; returns the unsubscribe function."""
        return self._listeners.add(listener)

    def clear_listeners(self) -> None:
        self._listeners.clear()

    def cached(
        self, cached: CachedAudio, text: str, tokens: Sequence[WordLabel]
    ) -> SynthesisStream:
        """A cache hit as a stream of one chunk, its words regrouped into ``tokens`` (this
        request's input words)."""
        chunk = AudioChunk(
            cached.samples,
            cached.sample_rate,
            cached.engine,
            cached.voice,
            text=text,
            cached=True,
            words=regroup(cached.spoken, tokens),
        )
        return SynthesisStream(iter([chunk]), None)

    def run(self, tasks: list[Task], engine: Engine, key: str, lead: bool) -> SynthesisStream:
        """Queue ``tasks`` (``lead``: the first one's first piece alone on every core) and
        return their chunks in order; the finished utterance is cached under ``key``."""
        started = time.perf_counter()
        busy = _Busy(self.activity, len(tasks))
        try:
            job = self.pool.submit([busy.track(task) for task in tasks], lead=lead)
        except BaseException:
            busy.release()
            raise
        return SynthesisStream(self._collect(job, engine, key, started, busy), job, busy)

    def _collect(
        self, job: Job, engine: Engine, key: str, started: float, busy: _Busy
    ) -> Iterator[AudioChunk]:
        # Kept for the phrase cache only while they could still be a phrase of it (see
        # cache_entry_limit): a longer utterance is not held whole, nor joined (issue 21:
        # 5,000 characters at speed 0.25 are 61 MB of samples, which were held twice for a
        # cache entry that would have evicted every phrase).
        keep = cache_entry_limit(self.cache)
        chunks: list[AudioChunk] = []
        held = 0
        audio_seconds = 0.0
        first_audio = None
        try:
            for index, chunk in enumerate(job.results()):
                if index == 0:
                    first_audio = time.perf_counter() - started
                    self.stats.record_first_audio(first_audio)
                chunk = replace(chunk, index=index)
                audio_seconds += chunk.duration
                held += chunk.samples.nbytes
                if held <= keep:
                    chunks.append(chunk)
                else:
                    chunks.clear()
                yield chunk
        except GeneratorExit:
            raise  # the consumer stopped early: nothing to cache
        except Exception:
            self.stats.record_error()
            raise
        finally:
            busy.release()
        seconds = time.perf_counter() - started
        self.stats.record(seconds, audio_seconds)
        if chunks:
            samples, rate = concat(chunks)
            spoken = utterance_words(chunks, spoken=True)
            del chunks  # the joined copy is what the cache keeps
            self.cache.put(
                key,
                CachedAudio(samples, rate, engine.engine_type, engine.voice.name, spoken),
            )
        self._finished()
        event = SynthesisEvent(
            seconds, audio_seconds, first_audio, engine.engine_type, engine.voice.name
        )
        self._listeners.notify(event)


class _Busy:
    """One request's hold on the :class:`Activity`: taken when its sentences are queued,
    given back once, when the last sentence is done (the synthesis work is over, even if the
    audio is still being played or sent) or when the stream is closed or dropped."""

    def __init__(self, activity: Activity, tasks: int) -> None:
        self._activity = activity
        self._left = tasks
        self._held = True
        self._lock = threading.Lock()
        activity.enter()

    def track(self, task: Callable[[], Iterator[AudioChunk]]) -> Callable[[], Iterator[AudioChunk]]:
        """``task`` counting itself done when its generator finishes or is closed."""

        def run() -> Iterator[AudioChunk]:
            try:
                yield from task()
            finally:
                with self._lock:
                    self._left -= 1
                    last = self._left <= 0
                if last:
                    self.release()

        return run

    def release(self) -> None:
        """Give the hold back (only the first call counts)."""
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._activity.exit()


class SynthesisStream(Iterator[AudioChunk]):
    """The chunks of one utterance in order (see :meth:`Synthesizer.stream
    <macbot.core.synthesizer.Synthesizer.stream>`)."""

    def __init__(
        self, chunks: Iterator[AudioChunk], job: Job | None, busy: _Busy | None = None
    ) -> None:
        self._chunks = chunks
        self.job = job
        self._busy = busy

    def __iter__(self) -> SynthesisStream:
        return self

    def __next__(self) -> AudioChunk:
        return next(self._chunks)

    def close(self) -> None:
        """Stop: cancel the sentences not yet started."""
        if self.job is not None:
            self.job.cancel()
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        if self._busy is not None:
            self._busy.release()

    def __del__(self) -> None:
        # A stream dropped unread must not leave the synthesizer marked busy, nor its job
        # waiting in the pool for a reader (the pool runs only a few sentences ahead of it).
        if self.job is not None:
            self.job.cancel()
        if self._busy is not None:
            self._busy.release()
