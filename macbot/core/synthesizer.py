"""The synthesizer the daemon and the CLI share: voices, engines, the phrase cache, stats."""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import onnxruntime

from ..config import SPEED_RANGE, AppConfig
from ..errors import EmptyTextError
from ..version import __version__
from . import budget
from .activity import Activity
from .audio import AudioChunk, WordTiming, concat
from .cache import CachedAudio, PhraseCache, cache_key, default_cache_dir
from .engines import Engine, SynthesisOptions, streams_within_sentence
from .engines.piper import MAX_PHONEME_IDS, MIN_RUN_IDS
from .events import Listeners
from .hashing import cached_sha256, hash_index
from .limits import check_speech
from .memory import release_memory
from .probes import host_facts
from .selection import Decision, EngineChain
from .stats import PerformanceStats, rss_bytes
from .text import FrontEnd, Lexicon, TextOptions, Utterance, frontend_for, kokoro_frontend
from .timings import (
    Numbering,
    label_segment,
    regroup,
    utterance_tokens,
    utterance_words,
)
from .voices import AUTO, VoiceInfo, configured_voice, find_voice
from .workers import Job, Task, WorkerPool, plan_workers

_LOGGER = logging.getLogger(__name__)

IDLE_RELEASE_SECONDS = 2.0
"""Seconds without synthesis after which the memory a burst left is handed back."""

BURST_BUDGET_MB = 256
"""During a burst that never idles (clients without pause), memory is handed back anyway
whenever RSS is this much over what it was when the burst began (at most every
:data:`IDLE_RELEASE_SECONDS`): the arena then keeps only what the runs in progress use."""

_LIVE: weakref.WeakSet[Synthesizer] = weakref.WeakSet()
"""Every synthesizer not yet closed (see :func:`_stop_housekeeping`)."""


@atexit.register
def _stop_housekeeping() -> None:
    """At interpreter exit, stop the housekeeping threads of synthesizers nobody closed: one
    caught inside its arena-shrinking run while the interpreter tears down aborts the process
    (``terminate called without an active exception``, exit 134)."""
    for synth in list(_LIVE):
        synth.stop_housekeeping()


RUN_BUDGET_IDS = 2 * MAX_PHONEME_IDS
"""Phoneme ids of model runs that one synthesizer's workers may hold at once (issue 21): with
more than two workers (four on an 8-core Mac) every run is cut shorter, so that a text of
long sentences, or of none, never holds more than two full runs' memory whatever the cores
(four runs of 600 ids would be ~560 MB on the whole model)."""

CACHE_ENTRY_SHARE = 8
"""The phrase cache keeps an utterance of at most this share of ``tts_cache_max_mb`` (8 MB,
~95 s of audio, of the default 64 MB), or of 4 MB if that is more (a small cache)."""


def cache_entry_limit(cache: PhraseCache) -> int:
    """Bytes of samples the synthesizer holds for one entry of ``cache`` (0: none)."""
    if not cache.enabled:
        return 0
    return max(cache.max_bytes // CACHE_ENTRY_SHARE, min(cache.max_bytes, 4 << 20))


MAX_LOADED_VOICES = 3
"""Voices kept loaded at once besides the default (least recently used is dropped)."""


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
LoadListener = Callable[[VoiceInfo], None]


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
        self.config = config
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
        self._listeners: Listeners[SynthesisEvent] = Listeners("synthesis")
        self._load_listeners: Listeners[VoiceInfo] = Listeners("voice-load")
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._blends: dict[str, VoiceInfo] = {}
        """Blends used since start (listed by ``/voices`` once used)."""
        self._loading: dict[str, Future[Engine]] = {}
        """Voices being loaded now (outside ``_lock``), each once."""
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self.decisions: dict[str, Decision] = {}
        """The engine chain's decision per loaded voice."""
        self.auto: budget.AutoChoice | None = None
        """What ``voice: auto`` chose and why (``None``: a voice is configured)."""
        if config.tts.voice == AUTO and config.tts.piper.voice_path is None:
            self.auto = self.choose_auto()
            self.default_voice = configured_voice(config.tts, self.auto.voice)
        else:
            self.default_voice = configured_voice(config.tts)
        lexicon_path = config.tts.text.lexicon
        self.lexicon = Lexicon.load(lexicon_path) if lexicon_path else None
        """The user lexicon of ``models.tts.text.lexicon`` (read once, at start or reload)."""
        self._frontends: dict[str, FrontEnd] = {}
        self._frontends_lock = threading.Lock()  # apart from _lock, held while a voice loads
        self._last_activity = 0.0
        self._dirty = False
        self._closing = threading.Event()
        self._housekeeper: threading.Thread | None = None
        _LIVE.add(self)
        self.activity = Activity()
        """Busy while any synthesis runs (the daemon pauses background work meanwhile)."""

    # -- voices and engines ------------------------------------------------------------------

    def resolve(self, voice: str | None) -> VoiceInfo:
        """The voice for a request (``None``: the configured default)."""
        if voice is None or voice in ("", AUTO, self.default_voice.name):
            return self.default_voice
        return find_voice(voice, self.config.tts)

    def family_key(self, family: str, voice: VoiceInfo) -> dict[str, object]:
        """What a family's figures on this host are valid for (see :mod:`.budget`)."""
        return budget.family_key(family, self.model_digest(voice.model_path), host_facts())

    def family_figures(self, family: str, measure: bool = True) -> budget.Figures | None:
        """``family``'s figures on this host: recorded in ``optimized_dir``, else (``measure``)
        measured now on its ``auto`` voice and recorded. ``None`` when it cannot load."""
        tts = self.config.tts
        try:
            voice = configured_voice(tts, budget.FAMILY_VOICES[family])
            key = self.family_key(family, voice)
            found = budget.recorded(tts.optimized_dir, key)
            if found is not None or not measure:
                return found
            engine = self._engines.get(voice.name) or self.load_engine(voice)
            self._engines[voice.name] = engine
            figures = budget.measure(engine, give_up_ms=tts.latency_budget_ms)
            budget.record(tts.optimized_dir, key, figures)
            return figures
        except Exception as exc:  # a family that cannot load is not chosen; logged with why
            _LOGGER.warning("voice auto: cannot measure %s: %s", family, exc)
            return None

    def choose_auto(self) -> budget.AutoChoice:
        """``voice: auto``: the first family of ``models.tts.prefer`` within the budget on
        this host (figures recorded, or measured now and recorded)."""
        tts = self.config.tts
        choice = budget.choose(tts.prefer, tts.latency_budget_ms, self.family_figures)
        _LOGGER.info("voice auto: %s (%s)", choice.voice, choice.reason)
        return choice

    def used_blends(self) -> list[VoiceInfo]:
        """The voice blends requests have used since start, in order of first use."""
        with self._lock:
            return list(self._blends.values())

    def engine(self, voice: str | None = None) -> Engine:
        """The loaded engine for ``voice``, loading it on first use.

        The load (engine chain, smoke test: seconds) runs outside ``_lock``, once per voice:
        requests for the same cold voice wait for that one load (and share its error), those of
        every other voice go on meanwhile."""
        info = self.resolve(voice)
        with self._lock:
            engine = self._engines.get(info.name)
            if engine is not None:
                self._engines.move_to_end(info.name)
                return engine
            loading = self._loading.get(info.name)
            first = loading is None
            if loading is None:
                loading = self._loading[info.name] = Future()
        if not first:
            return loading.result()
        try:
            engine = self.load_engine(info)
        except BaseException as exc:
            with self._lock:
                del self._loading[info.name]
            loading.set_exception(exc)
            raise
        with self._lock:
            del self._loading[info.name]
            self._engines[info.name] = engine
            if info.source == "blend":
                self._blends[info.name] = info
            while len(self._engines) > MAX_LOADED_VOICES + 1:
                name = next(n for n in self._engines if n != self.default_voice.name)
                del self._engines[name]
        loading.set_result(engine)
        self._load_listeners.notify(info)
        return engine

    def load_engine(self, voice: VoiceInfo) -> Engine:
        """Build the engine for ``voice`` through the engine chain (CoreML → quantized →
        original, or the ``macbot tune`` choice, streaming through the voice's split when it
        has one), with this synthesizer's session plan; the decision is kept for ``/info``."""
        with self._lock:  # loads run outside the lock (issue 21 item 8): copy under it
            loaded = list(self._engines.values())
        for other in loaded:  # a Kokoro voice shares its model's session
            share = getattr(other, "with_voice", None)
            same = (other.voice.config_path, other.voice.model_path) == (
                voice.config_path,
                voice.model_path,
            )
            if share is not None and same:
                self.decisions[voice.name] = self.decisions[other.voice.name]
                return share(voice)
        engine, decision = EngineChain(self.config, self.plan.session).load(voice)
        self.decisions[voice.name] = decision
        return self._bounded(engine)

    def _bounded(self, engine: Engine) -> Engine:
        """``engine`` with its runs cut to this synthesizer's share of :data:`RUN_BUDGET_IDS`
        (the Piper engines, whose runs are bounded in phoneme ids; a Kokoro run is bounded by
        the model's 510 tokens)."""
        if hasattr(engine, "max_phoneme_ids"):
            share = max(MIN_RUN_IDS, RUN_BUDGET_IDS // max(1, self.workers))
            engine.max_phoneme_ids = min(engine.max_phoneme_ids, share)
        return engine

    def reload_engine(self, voice: str | None = None) -> Decision:
        """Run the engine chain for a loaded ``voice`` again and swap the new engine in.

        The new engine is loaded and warmed up while the old one keeps serving; then it
        replaces the old one at once. Requests already running keep the engine they started
        with (each holds its own reference), so none is dropped or mixed. A voice that is not
        loaded is loaded. Returns the new decision.
        """
        info = self.resolve(voice)
        with self._reload_lock:  # one chain run per swap; requests are not blocked meanwhile
            engine, decision = EngineChain(self.config, self.plan.session).load(info)
            engine = self._bounded(engine)
            engine.warmup()
            with self._lock:
                old = self._engines.get(info.name)
                self._engines[info.name] = engine
                self._engines.move_to_end(info.name)
                self.decisions[info.name] = decision
        _LOGGER.info(
            "voice %s now runs %s (was %s)",
            info.name,
            decision.winner,
            self._winner_of(old) if old is not None else "not loaded",
        )
        return decision

    @staticmethod
    def _winner_of(engine: Engine) -> str:
        return f"{engine.engine_type} from {engine.model_path}"

    def subscribe_loads(self, listener: LoadListener) -> Callable[[], None]:
        """Call ``listener(voice)`` after a voice is loaded for the first time (or again after
        being dropped); returns the unsubscribe function."""
        return self._load_listeners.add(listener)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every finished synthesis; returns the unsubscribe function."""
        return self._listeners.add(listener)

    def model_digest(self, path: Path) -> str:
        """sha256 of a model file (remembered per path, size and mtime, across restarts).

        A split voice (a folder) is identified by its manifest, which names its source's hash
        and the calibrated gain.
        """
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        return cached_sha256(Path(path), hash_index(self.config.tts.optimized_dir))

    @property
    def loaded(self) -> bool:
        return self.default_voice.name in self._engines

    def default_options(self) -> SynthesisOptions:
        tts = self.config.tts
        p = tts.piper
        return SynthesisOptions(
            speed=tts.speed,
            length_scale=p.length_scale,
            noise_scale=p.noise_scale,
            noise_w_scale=p.noise_w_scale,
            speaker=p.speaker,
            sentence_silence=p.sentence_silence,
            volume=p.volume,
        )

    # -- text --------------------------------------------------------------------------------

    def text_options(self) -> TextOptions:
        """The text front end's options of ``models.tts.text`` (requests override them)."""
        return TextOptions.from_config(self.config.tts.text)

    def frontend(self, voice: str | None = None) -> FrontEnd:
        """The text front end of ``voice`` (its language's rules and phonemes, and the user
        lexicon); built from the voice's JSON config, without loading its model."""
        info = self.resolve(voice)
        with self._frontends_lock:
            found = self._frontends.get(info.name)
            if found is None:
                found = (
                    kokoro_frontend(self.config.tts.kokoro.language, self.lexicon)
                    if info.family == "kokoro"
                    else frontend_for(info, self.lexicon)
                )
                self._frontends[info.name] = found
            return found

    def normalize(
        self, text: str, voice: str | None = None, text_options: TextOptions | None = None
    ) -> Utterance:
        """What :meth:`stream` will say for ``text`` (``POST /normalize``)."""
        if not text.strip():
            raise EmptyTextError("text is empty")
        return self.frontend(voice).process(text, text_options or self.text_options())

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
        normalized = utterance.text
        engine = self.engine(voice)
        options = options or self.default_options()
        key = cache_key(
            normalized,
            voice_key(engine),
            engine.engine_type,
            self.model_digest(engine.model_path),
            (*options.key(), utterance.key(), text_options.key()),
        )
        cached = self.cache.get(key)
        if cached is not None:
            chunk = AudioChunk(
                cached.samples,
                cached.sample_rate,
                cached.engine,
                cached.voice,
                text=normalized,
                cached=True,
                words=regroup(cached.spoken, utterance_tokens(utterance.segments)),
            )
            return SynthesisStream(iter([chunk]), None)
        tasks = self._tasks(engine, utterance, options)
        if not tasks:
            raise EmptyTextError("text has nothing to speak")
        started = time.perf_counter()
        busy = _Busy(self.activity, len(tasks))
        try:
            # An engine that streams within a sentence gets its first piece out alone on every
            # core before the next sentence starts (first audio, issue 20).
            lead = streams_within_sentence(engine) and not options.whole
            job = self.pool.submit([busy.track(task) for task in tasks], lead=lead)
        except BaseException:
            busy.release()
            raise
        return SynthesisStream(self._collect(job, engine, key, started, busy), job, busy)

    def _tasks(self, engine: Engine, utterance: Utterance, options: SynthesisOptions) -> list[Task]:
        """One task per sentence of each segment (with the segment's rate and volume) and one
        per pause. A segment's last sentence keeps the sentence silence when speech follows
        and the segment ends a sentence; a pause replaces it."""
        tasks: list[Task] = []
        segments = utterance.segments
        numbering = Numbering()  # the words' keys and positions run across segments
        opening = True  # the request's first model run (see Sentence.opens_request)
        for i, segment in enumerate(segments):
            if segment.is_pause:
                tasks.append(functools.partial(silence, engine, segment.pause))
                continue
            seg_options = options
            if (segment.rate, segment.volume) != (1.0, 1.0):
                speed = min(max(options.speed * segment.rate, SPEED_RANGE[0]), SPEED_RANGE[1])
                seg_options = replace(options, speed=speed, volume=options.volume * segment.volume)
            following = segments[i + 1] if i + 1 < len(segments) else None
            gap = following is not None and not following.is_pause and segment.ends_sentence
            sentences = engine.sentences(segment.text, seg_options)  # runs cut by pace too
            labels = label_segment(segment, [s.phonemes for s in sentences], numbering)
            for sentence, words in zip(sentences, labels, strict=True):
                sentence = replace(sentence, words=words)
                if sentence.last and gap:
                    sentence = replace(sentence, last=False)
                sentence = replace(sentence, opens_request=opening)
                opening = False
                tasks.append(functools.partial(engine.stream_sentence, sentence, seg_options))
        return tasks

    def _collect(
        self, job: Job, engine, key: str, started: float, busy: _Busy
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
        self._note_activity()
        event = SynthesisEvent(
            seconds, audio_seconds, first_audio, engine.engine_type, engine.voice.name
        )
        self._listeners.notify(event)

    def _note_activity(self) -> None:
        """A synthesis finished: release memory once the daemon has been idle a while."""
        self._last_activity = time.monotonic()
        self._dirty = True
        with self._lock:
            if self._housekeeper is None and not self._closing.is_set():
                self._housekeeper = threading.Thread(
                    target=self._housekeep, name="macbot-housekeeping", daemon=True
                )
                self._housekeeper.start()

    def _housekeep(self) -> None:
        baseline = rss_bytes()
        last_forced = 0.0
        while not self._closing.wait(0.25):
            now = time.monotonic()
            idle = now - self._last_activity >= IDLE_RELEASE_SECONDS
            if self._dirty and idle and self.pool.active_jobs() == 0:
                self._dirty = False
            elif now - last_forced >= IDLE_RELEASE_SECONDS and (
                rss_bytes() > baseline + BURST_BUDGET_MB * 1_000_000
            ):
                last_forced = now  # a long burst: release what its runs are not using
            else:
                continue
            try:
                self.release_idle_memory()
            except Exception:  # housekeeping must never take the daemon down; logged
                _LOGGER.exception("releasing idle memory failed")

    def stop_housekeeping(self) -> None:
        """Stop the idle-release thread, after the release it may be running."""
        self._closing.set()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=30)
        _LIVE.discard(self)

    @property
    def release_pending(self) -> bool:
        """Whether memory of the last burst waits to be released (see
        :meth:`release_idle_memory`)."""
        return self._dirty

    def release_idle_memory(self) -> None:
        """Hand back what a burst of requests left behind: each loaded engine's onnxruntime
        arena (one tiny run that shrinks it) and the allocator's free memory. Called
        :data:`IDLE_RELEASE_SECONDS` after the last synthesis, so a burst runs with its arena
        warm (shrinking after every run was a few per cent slower) and an idle daemon is small
        again."""
        with self._lock:
            engines = list(self._engines.values())
        for engine in engines:
            engine.release_arena()
        release_memory()

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

    def info(self) -> dict[str, object]:
        """``/info``: the engine in use and the versions behind it."""
        engine = self._engines.get(self.default_voice.name)
        decision = self.decisions.get(self.default_voice.name)
        return {
            "voice": self.default_voice.name,
            "engine": engine.describe() if engine else None,
            "probes": host_facts().to_dict(),
            "engine_decision": decision.to_dict() if decision else None,
            "auto": self.auto.to_dict() if self.auto else None,
            "families": self.families_info(),
            "loaded_voices": list(self._engines),
            "available_providers": onnxruntime.get_available_providers(),
            "versions": {
                "macbot": __version__,
                "onnxruntime": onnxruntime.__version__,
                "piper-tts": _dist_version("piper-tts"),
            },
        }

    def families_info(self) -> dict[str, object]:
        """Each family's recorded figures on this host (``None``: not measured yet)."""
        out: dict[str, object] = {}
        for family in ("kokoro", "piper"):
            figures = (self.auto.figures.get(family) if self.auto else None) or self.family_figures(
                family, measure=False
            )
            out[family] = asdict(figures) if figures else None
        return out

    def performance(self) -> dict[str, object]:
        """``/tts-performance`` in the guide's shape, plus cache and worker details."""
        engine = self._engines.get(self.default_voice.name)
        snap = self.stats.snapshot()
        cache = self.cache.stats()
        return {
            "engine_loaded": engine is not None,
            "engine_type": engine.engine_type if engine else None,
            "engine_decision": (
                {
                    "mode": d.mode,
                    "winner": d.winner,
                    "rejected": {a.engine_type: a.reason for a in d.attempts if not a.accepted},
                }
                if (d := self.decisions.get(self.default_voice.name))
                else None
            ),
            "voice": self.default_voice.name,
            "performance": {
                **snap,
                "cache_hits": cache["hits"],
                "cache_misses": cache["misses"],
                "cache_evictions": cache["evictions"],
                "cache_bytes": cache["bytes"],
                "active_jobs": self.pool.active_jobs(),
                "queued_jobs": self.pool.waiting_jobs(),
                "queued_sentences": self.pool.queued_tasks(),
            },
            "workers": {
                **self.plan.describe(),
                "running_sentences": self.pool.running_tasks(),
            },
            "cache": cache,
        }

    def close(self) -> None:
        """Stop the worker threads (after the model runs in progress) and let go of the
        engines, so that their onnxruntime sessions, arenas and threads are freed. A config
        reload closes the synthesizer it replaced (eight reloads grew RSS from 414 to 1,574 MB
        and threads from 16 to 31 before issue 11)."""
        self.stop_housekeeping()
        self.pool.close()
        with self._lock:
            self._engines.clear()
            self._listeners.clear()


class _Busy:
    """One request's hold on :attr:`Synthesizer.activity`: taken when its sentences are
    queued, given back once, when the last sentence is done (the synthesis work is over, even
    if the audio is still being played or sent) or when the stream is closed or dropped."""

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
    """The chunks of one utterance in order (see :meth:`Synthesizer.stream`)."""

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


def voice_key(engine: Engine) -> str:
    """The voice part of a cache key: a Piper voice's name (as before families); a Kokoro
    voice's family, name (a blend's canonical name, with its weights) and voices file."""
    if engine.family == "piper":
        return engine.voice.name
    return f"{engine.family}:{engine.voice.name}@{engine.voice.config_path}"


def silence(engine: Engine, seconds: float) -> Iterator[AudioChunk]:
    """A pause (SSML ``<break>``, ``[[slnc]]``) as one chunk of ``engine``'s audio."""
    samples = np.zeros(round(engine.sample_rate * seconds), dtype=np.float32)
    yield AudioChunk(
        samples, engine.sample_rate, engine.engine_type, engine.voice.name, pause=seconds
    )


def _dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None
