"""The engine contract's types: what every family's engine takes and gives.

:class:`Sentence` is one model run; :class:`SynthesisOptions` how to speak; :class:`Engine` the
protocol the synthesizer, the engine chain, the workers, timings and the tools use, whatever the
family (Piper, Kokoro). Capabilities are read from the contract (:func:`streams_within_sentence`:
whether the engine overrides :meth:`Engine.stream_sentence`), never from a flag that nothing
checks (STYLE.md #23).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ...config import SynthesisSettings, TTSConfig
from ..audio import AudioChunk
from ..text.segments import Segment, Span
from ..timings import PieceLabels
from ..voices import VoiceInfo


@dataclass(frozen=True)
class SynthesisOptions(SynthesisSettings):
    """How to speak one request: the settings of :class:`~macbot.config.SynthesisSettings`
    (each ``None`` there means "the voice's own value") and the speaking rate."""

    speed: float = 1.0
    """Speaking rate; divides the length scale (2.0: twice as fast)."""
    whole: bool = False
    """The consumer waits for whole sentences (a WAV answer, a file): engines that stream
    within a sentence decode every sentence in one piece instead of chunking the first one
    for its first audio (the same audio, without the chunks' context and extra runs). Not
    part of :meth:`key`: it does not change the audio."""

    @classmethod
    def from_config(cls, tts: TTSConfig) -> SynthesisOptions:
        """The defaults in force: ``models.tts.speed`` and ``models.tts.piper``'s settings."""
        settings = {f.name: getattr(tts.piper, f.name) for f in fields(SynthesisSettings)}
        return cls(**settings, speed=tts.speed)

    def with_overrides(self, **changes: Any) -> SynthesisOptions:
        """A copy with the non-``None`` values of ``changes`` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def key(self) -> tuple[object, ...]:
        """Everything that changes the audio, hashable (for caches)."""
        return (
            round(self.speed, 4),
            self.length_scale,
            self.noise_scale,
            self.noise_w_scale,
            self.speaker,
            round(self.sentence_silence, 4),
            round(self.volume, 4),
        )


@dataclass(frozen=True)
class Sentence:
    """One model run: a sentence, or a piece of one too long for one run."""

    index: int
    """The run's position among its segment's runs (from 0). Not the request's: a request of
    several segments starts again at 0 in each; :attr:`opens_request` marks its first run."""
    phonemes: str
    phoneme_ids: list[int]
    last: bool
    joins_next: bool = False
    """The next piece continues this sentence (it was cut at :data:`MAX_PHONEME_IDS`): no
    sentence silence goes between them."""
    opens_request: bool = False
    """The request's first model run: an engine that streams inside sentences chunks it
    finely for an early first audio (the audio of earlier sentences buffers later ones).
    Set by whoever plans the request (``synthesize`` and the synthesizer)."""

    @property
    def silence_after(self) -> bool:
        """Whether the sentence silence follows this piece (not after the last one, nor
        inside a sentence cut into pieces)."""
        return not self.last and not self.joins_next

    words: tuple[PieceLabels, ...] = ()
    """The input word of each piece of :attr:`phonemes` between spaces (see
    :func:`~macbot.core.timings.label_segment`); empty: no word timings wanted."""


@runtime_checkable
class Engine(Protocol):
    """What the synthesizer, the chain, the workers and the tools need from an engine.

    ``family``: the model family (``piper``, ``kokoro``); ``implementation``: the engine's own
    type (``piper``, ``piper_chunked``, ``coreml``, ``kokoro``); ``label``: what ``/info`` and
    the cache show (a chunked engine with a CoreML decoder: ``piper_chunked+coreml``).
    """

    family: str
    implementation: str
    label: str
    voice: VoiceInfo
    model_path: Path
    """The file (or folder) the engine was loaded from, as the chain knows it."""
    has_durations: bool
    """The model gives its phoneme durations, so chunks carry word timings (issue 14)."""
    load_seconds: float

    @property
    def sample_rate(self) -> int: ...

    @property
    def engine_type(self) -> str:
        """The label (kept for ``/tts-performance`` and the cache's key)."""
        ...

    def sentences(self, text: str, options: SynthesisOptions | None = None) -> list[Sentence]: ...

    def label_sentences(self, sentences: list[Sentence], segment: Segment) -> list[Sentence]: ...

    def infer(self, phoneme_ids: list[int], options: SynthesisOptions) -> Any: ...

    def synthesize_sentence(self, sentence: Sentence, options: SynthesisOptions) -> AudioChunk: ...

    def stream_sentence(
        self, sentence: Sentence, options: SynthesisOptions
    ) -> Iterator[AudioChunk]: ...

    def synthesize(
        self, text: str, options: SynthesisOptions | None = None
    ) -> Iterator[AudioChunk]: ...

    def describe(self) -> dict[str, object]: ...

    def warmup(self) -> float: ...

    def release_arena(self) -> None: ...


class RunBudget:
    """Paced ids (a run's ids times how much slower than the voice's own pace it speaks) that
    one model's runs hold at once, across the workers that share it: a run waits until the
    others leave room for it (one run alone always fits). A run's memory grows with the
    frames it makes (issue 21): see ``piper.WHOLE_MODEL_IDS`` and ``kokoro.RUN_TOKENS``."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.held = 0
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, ids: float) -> Iterator[None]:
        weight = min(self.total, max(1, math.ceil(ids)))
        with self._changed:
            self._changed.wait_for(lambda: self.held + weight <= self.total)
            self.held += weight
        try:
            yield
        finally:
            with self._changed:
                self.held -= weight
                self._changed.notify_all()


class SentenceStreamer:
    """The contract's defaults: ``stream_sentence`` yields the whole sentence (an engine that
    does better overrides it, and :func:`streams_within_sentence` then says so);
    ``synthesize`` plans the text's sentences and yields one chunk each; ``warmup`` runs one
    short sentence; ``engine_type`` is the label; ``describe`` gives the facts every engine
    has (an engine adds its own to them)."""

    @property
    def engine_type(self) -> str:
        """The label (kept for ``/tts-performance`` and the cache's key)."""
        return self.label  # type: ignore[attr-defined, no-any-return]

    def describe(self) -> dict[str, object]:
        """What ``/info`` shows of every engine: its type, family, voice, model, providers,
        sample rate, load time and capabilities."""
        engine: Any = self
        return {
            "engine_type": engine.label,
            "family": engine.family,
            "implementation": engine.implementation,
            "voice": engine.voice.name,
            "model_path": str(engine.model_path),
            "providers": list(engine.providers),
            "sample_rate": engine.sample_rate,
            "load_seconds": round(engine.load_seconds, 3),
            "word_timings": engine.has_durations,
            "streams_within_sentence": streams_within_sentence(engine),
        }

    def stream_sentence(
        self, sentence: Sentence, options: SynthesisOptions
    ) -> Iterator[AudioChunk]:
        """The audio of one sentence as it becomes ready: here in one piece."""
        yield self.synthesize_sentence(sentence, options)  # type: ignore[attr-defined]

    def synthesize(
        self, text: str, options: SynthesisOptions | None = None
    ) -> Iterator[AudioChunk]:
        """Yield one chunk per sentence of ``text``, in order (words: the text's own, split
        at spaces)."""
        options = options or SynthesisOptions()
        sentences = self.label_sentences(  # type: ignore[attr-defined]
            self.sentences(text),
            Segment((Span(text, text),)),  # type: ignore[attr-defined]
        )
        for i, sentence in enumerate(sentences):
            sentence = replace(sentence, opens_request=i == 0)
            yield self.synthesize_sentence(sentence, options)  # type: ignore[attr-defined]

    def warmup(self) -> float:
        """Run one short sentence so the first request does not pay for lazy setup."""
        started = time.perf_counter()
        for _ in self.synthesize("Ready.", SynthesisOptions(noise_scale=0, noise_w_scale=0)):
            pass
        return time.perf_counter() - started


def streams_within_sentence(engine: object) -> bool:
    """Whether ``engine`` yields a sentence in several pieces: it overrides the contract's
    default :meth:`SentenceStreamer.stream_sentence` (read from the class, as Home Assistant
    derives its streaming capability)."""
    method = getattr(type(engine), "stream_sentence", None)
    return method is not None and method is not SentenceStreamer.stream_sentence
