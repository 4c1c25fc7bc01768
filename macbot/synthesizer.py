"""The synthesizer the daemon and the CLI share: voices, engines, the phrase cache, stats."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import __version__
from .audio import AudioChunk, concat
from .cache import CachedAudio, PhraseCache, normalize_text
from .chain import Decision
from .config import AppConfig
from .engine import PiperEngine, SynthesisOptions
from .stats import PerformanceStats
from .voices import VoiceInfo, resolve_voice, voice_from_path

_LOGGER = logging.getLogger(__name__)

MAX_LOADED_VOICES = 3
"""Voices kept loaded at once besides the default (least recently used is dropped)."""


class EmptyTextError(ValueError):
    """The text has nothing to speak."""


@dataclass(frozen=True)
class Result:
    """A whole utterance."""

    samples: np.ndarray
    sample_rate: int
    engine: str
    voice: str
    cached: bool
    seconds: float

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0


class Synthesizer:
    """Turns text into audio with the configured voice, caching finished phrases."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        perf = config.performance
        self.cache = PhraseCache(max_entries=perf.tts_cache_size, enabled=perf.tts_cache_enabled)
        self.stats = PerformanceStats()
        self._engines: OrderedDict[str, PiperEngine] = OrderedDict()
        self._lock = threading.Lock()
        self.decisions: dict[str, Decision] = {}
        """The engine chain's decision per loaded voice."""
        self.default_voice = self._default_voice()

    # -- voices and engines ------------------------------------------------------------------

    def _default_voice(self) -> VoiceInfo:
        tts = self.config.tts
        if tts.piper.voice_path is not None:
            return voice_from_path(tts.piper.voice_path)
        return resolve_voice(tts.voice, tts.voices_dir)

    def resolve(self, voice: str | None) -> VoiceInfo:
        """The voice for a request (``None``: the configured default)."""
        if voice is None or voice in ("", self.default_voice.name):
            return self.default_voice
        return resolve_voice(voice, self.config.tts.voices_dir)

    def engine(self, voice: str | None = None) -> PiperEngine:
        """The loaded engine for ``voice``, loading it on first use."""
        info = self.resolve(voice)
        with self._lock:
            engine = self._engines.get(info.name)
            if engine is not None:
                self._engines.move_to_end(info.name)
                return engine
            engine = self.load_engine(info)
            self._engines[info.name] = engine
            while len(self._engines) > MAX_LOADED_VOICES + 1:
                name = next(n for n in self._engines if n != self.default_voice.name)
                del self._engines[name]
            return engine

    def load_engine(self, voice: VoiceInfo) -> PiperEngine:
        """Build the engine for ``voice`` through the engine chain (CoreML → quantized →
        original, or the ``macbot tune`` choice); the decision is kept for ``/info``.

        When the chain settles on the original model and a valid encoder/decoder split of it
        exists (``macbot split``) with ``models.tts.streaming.enabled``, the chunked engine
        runs that same model and streams inside sentences.
        """
        from .chain import EngineChain

        factory = getattr(self, "session_options", None)
        chain = EngineChain(self.config, session_options=factory)
        engine, decision = chain.load(voice)
        self.decisions[voice.name] = decision
        if engine.engine_type == "piper":
            chunked = load_streaming_engine(voice, self.config)  # issue 5: streaming in sentences
            if chunked is not None:
                decision.streaming = chunked.engine_type
                return chunked
        return engine

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

    # -- synthesis ---------------------------------------------------------------------------

    def stream(
        self, text: str, voice: str | None = None, options: SynthesisOptions | None = None
    ) -> Iterator[AudioChunk]:
        """Yield the audio of ``text`` chunk by chunk (one chunk when it comes from the cache).

        Raises :class:`EmptyTextError` before yielding anything when there is nothing to say.
        """
        normalized = normalize_text(text)
        if not normalized:
            raise EmptyTextError("text is empty")
        engine = self.engine(voice)
        options = options or self.default_options()
        key = (
            normalized,
            engine.voice.name,
            engine.engine_type,
            str(engine.model_path),
            options.key(),
        )
        cached = self.cache.get(key)
        if cached is not None:
            return iter(
                [
                    AudioChunk(
                        cached.samples,
                        cached.sample_rate,
                        cached.engine,
                        cached.voice,
                        text=normalized,
                        meta={"cached": True},
                    )
                ]
            )
        sentences = engine.sentences(normalized)
        if not sentences:
            raise EmptyTextError("text has nothing to speak")
        return self._synthesize(engine, sentences, options, key)

    def _synthesize(self, engine, sentences, options, key) -> Iterator[AudioChunk]:
        started = time.perf_counter()
        chunks: list[AudioChunk] = []
        try:
            for sentence in sentences:
                for chunk in engine.stream_sentence(sentence, options):
                    chunks.append(chunk)
                    yield chunk
        except Exception:
            self.stats.record_error()
            raise
        samples, rate = concat(chunks)
        self.stats.record(time.perf_counter() - started, len(samples) / rate)
        self.cache.put(key, CachedAudio(samples, rate, engine.engine_type, engine.voice.name))

    def synthesize(
        self, text: str, voice: str | None = None, options: SynthesisOptions | None = None
    ) -> Result:
        """The whole utterance at once."""
        started = time.perf_counter()
        chunks = list(self.stream(text, voice, options))
        samples, rate = concat(chunks)
        return Result(
            samples=samples,
            sample_rate=rate,
            engine=chunks[0].engine,
            voice=chunks[0].voice,
            cached=bool(chunks[0].meta.get("cached")),
            seconds=time.perf_counter() - started,
        )

    def warmup(self) -> float:
        """Load the default voice and run it once."""
        return self.engine().warmup()

    def info(self) -> dict[str, object]:
        """``/info``: the engine in use and the versions behind it."""
        import onnxruntime
        import piper

        from .probes import host_facts

        engine = self._engines.get(self.default_voice.name)
        decision = self.decisions.get(self.default_voice.name)
        return {
            "voice": self.default_voice.name,
            "engine": engine.describe() if engine else None,
            "probes": host_facts().to_dict(),
            "engine_decision": decision.to_dict() if decision else None,
            "loaded_voices": list(self._engines),
            "available_providers": onnxruntime.get_available_providers(),
            "versions": {
                "macbot": __version__,
                "onnxruntime": onnxruntime.__version__,
                "piper-tts": getattr(piper, "__version__", None) or _dist_version("piper-tts"),
            },
        }

    def performance(self) -> dict[str, object]:
        """``/tts-performance`` in the guide's shape, plus cache details."""
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
            },
            "cache": cache,
        }


def load_streaming_engine(voice: VoiceInfo, config: AppConfig) -> PiperEngine | None:
    """The chunked engine of ``voice`` if ``models.tts.streaming.enabled`` and a valid split
    (manifest's source hash = the voice's model) is in ``optimized_dir``; else ``None``."""
    streaming = config.tts.streaming
    if not streaming.enabled:
        return None
    from .chunked import ChunkedEngine
    from .split import find_split

    folder = find_split(voice, config.tts.optimized_dir)
    if folder is None:
        return None
    try:
        return ChunkedEngine.load_split(
            voice, folder, streaming.chunk_frames, streaming.context_frames, streaming.growth
        )
    except Exception as exc:  # a broken split must not stop the daemon: fall back, say why
        _LOGGER.warning(
            "cannot load the split %s (%s); using the whole-sentence model", folder, exc
        )
        return None


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
