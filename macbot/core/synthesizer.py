"""The synthesizer the daemon and the CLI share: text in, audio chunks out.

A facade over parts with one job each, walked in this order by :meth:`Synthesizer.stream`:
the voice's text front end (:mod:`.frontends`) → the voice's engine (:mod:`.voiceset`) → the
phrase's cache key (:mod:`.cachekeys`) → one task per sentence (:mod:`.planning`) → the
worker pool → the chunks in order, timed and cached (:mod:`.collector`). Memory is handed
back once idle (:mod:`.housekeeping`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config import AppConfig
from ..errors import EmptyTextError
from . import budget
from .activity import Activity
from .audio import WordTiming, concat
from .cache import PhraseCache, default_cache_dir
from .cachekeys import phrase_key
from .collector import Collector, Listener, SynthesisEvent, SynthesisStream
from .engines import Engine, SynthesisOptions, streams_within_sentence
from .frontends import FrontEnds
from .housekeeping import IDLE_RELEASE_SECONDS, Housekeeper
from .limits import check_speech
from .memory import release_memory
from .planning import plan_tasks
from .selection import Decision
from .stats import PerformanceStats
from .text import FrontEnd, TextOptions, Utterance
from .timings import utterance_tokens, utterance_words
from .voices import VoiceInfo
from .voiceset import LoadListener, VoiceSet
from .workers import WorkerPool, plan_workers

__all__ = [
    "IDLE_RELEASE_SECONDS",
    "Result",
    "SynthesisEvent",
    "SynthesisStream",
    "Synthesizer",
]


@dataclass(frozen=True)
class Result:
    """A whole utterance."""

    samples: np.ndarray
    sample_rate: int
    engine: str
    voice: str
    cached: bool
    seconds: float
    words: tuple[WordTiming, ...] = ()
    """The input's words, times from the first sample (empty: the engine has no timings)."""

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0


class Synthesizer:
    """Turns text into audio with the configured voice, caching finished phrases."""

    def __init__(self, config: AppConfig) -> None:
        self._config = config
        perf = config.performance
        cache_dir = None
        if perf.tts_cache_persist:
            cache_dir = perf.tts_cache_dir or default_cache_dir()
        self.cache = PhraseCache(
            max_entries=perf.tts_cache_size,
            max_bytes=int(perf.tts_cache_max_mb * 1024 * 1024),
            enabled=perf.tts_cache_enabled,
            directory=cache_dir,
        )
        self.stats = PerformanceStats()
        self.plan = plan_workers(perf)
        """Workers, intra-op threads and the session settings every engine here is built with."""
        self.workers = self.plan.workers
        self.intra_op_threads = self.plan.intra_op_threads
        self.pool = WorkerPool(self.workers)
        self.voices = VoiceSet(config, self.plan, load=self.load_engine)
        """The default voice and the loaded ones."""
        self.frontends = FrontEnds(config, self.voices.resolve)
        self.activity = Activity()
        """Busy while any synthesis runs (the daemon pauses background work meanwhile)."""
        self.housekeeper = Housekeeper(self.release_idle_memory, self.pool.active_jobs)
        self.collector = Collector(
            self.pool, self.activity, self.cache, self.stats, self.housekeeper.note
        )

    @property
    def config(self) -> AppConfig:
        return self._config

    @config.setter
    def config(self, config: AppConfig) -> None:
        """A reload that keeps the engines: speed, text and synthesis options are read per
        request."""
        self._config = config
        self.voices.config = config
        self.frontends.config = config

    # -- voices and engines ------------------------------------------------------------------

    @property
    def default_voice(self) -> VoiceInfo:
        return self.voices.default

    @property
    def auto(self) -> budget.AutoChoice | None:
        """What ``voice: auto`` chose and why (``None``: a voice is configured)."""
        return self.voices.auto

    @property
    def decisions(self) -> dict[str, Decision]:
        """The engine chain's decision per loaded voice."""
        return self.voices.decisions

    @property
    def loaded(self) -> bool:
        """Whether the default voice is loaded."""
        return self.voices.loaded

    def loaded_voices(self) -> list[str]:
        """The loaded voices' names, least recently used first."""
        return self.voices.names()

    def resolve(self, voice: str | None) -> VoiceInfo:
        """The voice for a request (``None``: the configured default)."""
        return self.voices.resolve(voice)

    def used_blends(self) -> list[VoiceInfo]:
        """The voice blends requests have used since start, in order of first use."""
        return self.voices.used_blends()

    def engine(self, voice: str | None = None) -> Engine:
        """The loaded engine for ``voice``, loading it on first use (once per voice, outside
        the lock: see :meth:`VoiceSet.engine <macbot.core.voiceset.VoiceSet.engine>`)."""
        return self.voices.engine(voice)

    def load_engine(self, voice: VoiceInfo) -> Engine:
        """Build the engine for ``voice`` through the engine chain (see
        :meth:`VoiceSet.load <macbot.core.voiceset.VoiceSet.load>`)."""
        return self.voices.load(voice)

    def reload_engine(self, voice: str | None = None) -> Decision:
        """Run the engine chain for ``voice`` again and swap the new engine in live (see
        :meth:`VoiceSet.reload <macbot.core.voiceset.VoiceSet.reload>`)."""
        return self.voices.reload(voice)

    def subscribe_loads(self, listener: LoadListener) -> Callable[[], None]:
        """Call ``listener(voice)`` after a voice is loaded for the first time (or again after
        being dropped); returns the unsubscribe function."""
        return self.voices.subscribe(listener)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every finished synthesis; returns the unsubscribe function."""
        return self.collector.subscribe(listener)

    def model_digest(self, path: Path) -> str:
        """sha256 of a model file (a split voice: of its manifest), remembered across restarts."""
        return self.voices.digest(path)

    def default_options(self) -> SynthesisOptions:
        return SynthesisOptions.from_config(self.config.tts)

    # -- text --------------------------------------------------------------------------------

    def text_options(self) -> TextOptions:
        """The text front end's options of ``models.tts.text`` (requests override them)."""
        return self.frontends.options()

    def frontend(self, voice: str | None = None) -> FrontEnd:
        """The text front end of ``voice`` (its language's rules and phonemes, and the user
        lexicon); built from the voice's JSON config, without loading its model."""
        return self.frontends.of(voice)

    def normalize(
        self, text: str, voice: str | None = None, text_options: TextOptions | None = None
    ) -> Utterance:
        """What :meth:`stream` will say for ``text`` (``POST /normalize``)."""
        return self.frontends.process(text, voice, text_options)

    # -- synthesis ---------------------------------------------------------------------------

    def stream(
        self,
        text: str,
        voice: str | None = None,
        options: SynthesisOptions | None = None,
        text_options: TextOptions | None = None,
    ) -> SynthesisStream:
        """Start synthesizing ``text`` and return its audio as an ordered stream of chunks.

        Sentences run concurrently on the worker pool (``tts_parallel_processing``) through
        ``engine.stream_sentence``, so a sub-sentence streaming engine streams finer by itself.
        Chunks come out in order, each as soon as it and everything before it is ready; a
        cached phrase is one chunk. Work starts at once (before the first ``next``), and the
        finished utterance fills the cache. ``close()`` cancels what has not started.

        The text goes through the voice's text front end first (``text_options``; default:
        the config's), and its segments are spoken with their own rate, volume and pauses.
        The cache key covers the spoken form and the text options.

        Raises :class:`EmptyTextError`, :class:`~macbot.errors.MarkupError`,
        :class:`~macbot.errors.SpeechTooLong` (see :mod:`.limits`) and voice errors at once,
        before any work is queued.
        """
        text_options = text_options or self.text_options()
        utterance = self.normalize(text, voice, text_options)
        check_speech(utterance, len(text), self.config.server.max_text_chars)
        if utterance.empty:
            raise EmptyTextError("text has nothing to speak")
        engine = self.engine(voice)
        options = options or self.default_options()
        digest = self.model_digest(engine.model_path)
        key = phrase_key(utterance, engine, digest, options, text_options)
        cached = self.cache.get(key)
        if cached is not None:
            tokens = utterance_tokens(utterance.segments)
            return self.collector.cached(cached, utterance.text, tokens)
        tasks = plan_tasks(engine, utterance, options)
        if not tasks:
            raise EmptyTextError("text has nothing to speak")
        # An engine that streams within a sentence gets its first piece out alone on every
        # core before the next sentence starts (first audio, issue 20).
        lead = streams_within_sentence(engine) and not options.whole
        return self.collector.run(tasks, engine, key, lead)

    def synthesize(
        self,
        text: str,
        voice: str | None = None,
        options: SynthesisOptions | None = None,
        text_options: TextOptions | None = None,
    ) -> Result:
        """The whole utterance at once (each sentence decoded in one piece: see
        :attr:`SynthesisOptions.whole`)."""
        started = time.perf_counter()
        options = replace(options or self.default_options(), whole=True)
        chunks = list(self.stream(text, voice, options, text_options))
        samples, rate = concat(chunks)
        return Result(
            samples=samples,
            sample_rate=rate,
            engine=chunks[0].engine,
            voice=chunks[0].voice,
            cached=chunks[0].cached,
            seconds=time.perf_counter() - started,
            words=utterance_words(chunks),
        )

    def warmup(self) -> float:
        """Load the default voice and its text front end (a lexicon with phonemes the voice
        lacks fails here, at start), hash its model (for cache keys) and run it once."""
        self.frontend()
        engine = self.engine()
        self.model_digest(engine.model_path)
        return engine.warmup()

    # -- memory and closing ------------------------------------------------------------------

    @property
    def release_pending(self) -> bool:
        """Whether memory of the last burst waits to be released (see
        :meth:`release_idle_memory`)."""
        return self.housekeeper.pending

    def release_idle_memory(self) -> None:
        """Hand back what a burst of requests left behind: each loaded engine's onnxruntime
        arena (one tiny run that shrinks it) and the allocator's free memory. Called
        :data:`~macbot.core.housekeeping.IDLE_RELEASE_SECONDS` after the last synthesis, so a
        burst runs with its arena warm (shrinking after every run was a few per cent slower)
        and an idle daemon is small again."""
        for engine in self.voices.engines():
            engine.release_arena()
        release_memory()

    def close(self) -> None:
        """Stop the worker threads (after the model runs in progress) and let go of the
        engines, so that their onnxruntime sessions, arenas and threads are freed. A config
        reload closes the synthesizer it replaced (eight reloads grew RSS from 414 to 1,574 MB
        and threads from 16 to 31 before issue 11)."""
        self.housekeeper.stop()
        self.pool.close()
        self.voices.clear()
        self.collector.clear_listeners()
