"""The synthesizer's voices: which one is the default (``voice: auto``'s choice), the loaded
ones (least recently used dropped), each loaded once outside the lock, and reloaded live."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from ..config import AppConfig
from . import budget
from .engines import Engine
from .engines.piper import MAX_PHONEME_IDS, MIN_RUN_IDS
from .events import Listeners
from .hashing import cached_sha256, hash_index
from .probes import host_facts
from .selection import Decision, EngineChain
from .voices import AUTO, VoiceInfo, configured_voice, find_voice
from .workers import WorkerPlan

_LOGGER = logging.getLogger(__name__)

MAX_LOADED_VOICES = 3
"""Voices kept loaded at once besides the default (least recently used is dropped)."""

RUN_BUDGET_IDS = 2 * MAX_PHONEME_IDS
"""Phoneme ids of model runs that one synthesizer's workers may hold at once (issue 21): with
more than two workers (four on an 8-core Mac) every run is cut shorter, so that a text of
long sentences, or of none, never holds more than two full runs' memory whatever the cores
(four runs of 600 ids would be ~560 MB on the whole model)."""

LoadListener = Callable[[VoiceInfo], None]


class VoiceSet:
    """The default voice and up to :data:`MAX_LOADED_VOICES` others, loaded on first use
    through the engine chain with ``plan``'s session settings.

    ``load``: how :meth:`engine` builds a voice's engine (default :meth:`load`)."""

    def __init__(
        self,
        config: AppConfig,
        plan: WorkerPlan,
        load: Callable[[VoiceInfo], Engine] | None = None,
    ) -> None:
        self.config = config
        """Read per request (a reload that keeps the engines sets it)."""
        self.plan = plan
        self._load = load or self.load
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._blends: dict[str, VoiceInfo] = {}
        """Blends used since start (listed by ``/voices`` once used)."""
        self._loading: dict[str, Future[Engine]] = {}
        """Voices being loaded now (outside ``_lock``), each once."""
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._listeners: Listeners[VoiceInfo] = Listeners("voice-load")
        self.decisions: dict[str, Decision] = {}
        """The engine chain's decision per loaded voice."""
        self.auto: budget.AutoChoice | None = None
        """What ``voice: auto`` chose and why (``None``: a voice is configured)."""
        if config.tts.voice == AUTO and config.tts.piper.voice_path is None:
            self.auto = self.choose_auto()
            self.default = configured_voice(config.tts, self.auto.voice)
        else:
            self.default = configured_voice(config.tts)

    # -- which voice -------------------------------------------------------------------------

    def resolve(self, voice: str | None) -> VoiceInfo:
        """The voice for a request (``None``: the configured default)."""
        if voice is None or voice in ("", AUTO, self.default.name):
            return self.default
        return find_voice(voice, self.config.tts)

    def digest(self, path: Path) -> str:
        """sha256 of a model file (remembered per path, size and mtime, across restarts).

        A split voice (a folder) is identified by its manifest, which names its source's hash
        and the calibrated gain.
        """
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        return cached_sha256(path, hash_index(self.config.tts.optimized_dir))

    def family_key(self, family: str, voice: VoiceInfo) -> dict[str, object]:
        """What a family's figures on this host are valid for (see :mod:`.budget`)."""
        return budget.family_key(family, self.digest(voice.model_path), host_facts())

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
            engine = self._engines.get(voice.name) or self.load(voice)
            self._engines[voice.name] = engine
            figures = budget.measure(engine, give_up_ms=tts.latency_budget_ms)
            budget.record(tts.optimized_dir, key, figures)
            return figures
        except Exception as exc:  # a family that cannot load is not chosen; logged with why
            _LOGGER.warning("voice auto: cannot measure %s: %s", family, exc)
            return None

    def known_figures(self, family: str) -> budget.Figures | None:
        """``family``'s figures as ``auto`` saw them, else as recorded (never measured here)."""
        found = self.auto.figures.get(family) if self.auto else None
        return found or self.family_figures(family, measure=False)

    def choose_auto(self) -> budget.AutoChoice:
        """``voice: auto``: the first family of ``models.tts.prefer`` within the budget on
        this host (figures recorded, or measured now and recorded)."""
        tts = self.config.tts
        choice = budget.choose(tts.prefer, tts.latency_budget_ms, self.family_figures)
        _LOGGER.info("voice auto: %s (%s)", choice.voice, choice.reason)
        return choice

    # -- the loaded ones ---------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """Whether the default voice is loaded."""
        return self.default.name in self._engines

    def names(self) -> list[str]:
        """The loaded voices' names, least recently used first."""
        with self._lock:
            return list(self._engines)

    def engines(self) -> list[Engine]:
        """The loaded engines, least recently used first."""
        with self._lock:
            return list(self._engines.values())

    def loaded_engine(self, voice: str) -> Engine | None:
        """``voice``'s engine if it is loaded (never loads)."""
        return self._engines.get(voice)

    def used_blends(self) -> list[VoiceInfo]:
        """The voice blends requests have used since start, in order of first use."""
        with self._lock:
            return list(self._blends.values())

    def subscribe(self, listener: LoadListener) -> Callable[[], None]:
        """Call ``listener(voice)`` after a voice is loaded for the first time (or again after
        being dropped); returns the unsubscribe function."""
        return self._listeners.add(listener)

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
            engine = self._load(info)
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
                name = next(n for n in self._engines if n != self.default.name)
                del self._engines[name]
        loading.set_result(engine)
        self._listeners.notify(info)
        return engine

    def load(self, voice: VoiceInfo) -> Engine:
        """Build the engine for ``voice`` through the engine chain (CoreML → quantized →
        original, or the ``macbot tune`` choice, streaming through the voice's split when it
        has one), with the session plan; the decision is kept in :attr:`decisions`."""
        for other in self.engines():  # loads run outside the lock (issue 21 item 8)
            share = getattr(other, "with_voice", None)  # a Kokoro voice shares its model's session
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
        """``engine`` with its runs cut to this plan's share of :data:`RUN_BUDGET_IDS` (the
        Piper engines, whose runs are bounded in phoneme ids; a Kokoro run is bounded by the
        model's 510 tokens)."""
        if hasattr(engine, "max_phoneme_ids"):
            share = max(MIN_RUN_IDS, RUN_BUDGET_IDS // max(1, self.plan.workers))
            engine.max_phoneme_ids = min(engine.max_phoneme_ids, share)
        return engine

    def reload(self, voice: str | None = None) -> Decision:
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
        was = f"{old.engine_type} from {old.model_path}" if old is not None else "not loaded"
        _LOGGER.info("voice %s now runs %s (was %s)", info.name, decision.winner, was)
        return decision

    def clear(self) -> None:
        """Let go of every engine (their sessions, arenas and threads are freed)."""
        with self._lock:
            self._engines.clear()
