"""Audio chunks and word timings: what engines make and every front end consumes (their
bytes come from :mod:`macbot.core.formats`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class WordTiming:
    """When one of the input's words is spoken within a chunk."""

    word: str
    """The word as the input wrote it (not its spoken form)."""
    start: float
    """Seconds from the first sample of the chunk that carries it."""
    end: float
    """Seconds from the same first sample; may lie past the chunk's end when the word
    continues into the next chunk of the same sentence."""

    def to_dict(self) -> dict[str, object]:
        """The word as JSON, on every protocol: ``{"word", "start", "end"}``, seconds rounded
        to the microsecond."""
        return {"word": self.word, "start": round(self.start, 6), "end": round(self.end, 6)}


@dataclass(frozen=True)
class AudioChunk:
    """One piece of synthesized audio: mono float32 samples in [-1, 1], and what made it.

    The other containers of audio stay apart for a reason: the synthesizer's ``Result`` is a
    whole utterance (the chunks joined, with the request's synthesis time); the phrase
    cache's :class:`~macbot.core.cache.CachedAudio` is keyed by the spoken form, so it keeps
    spoken-word times only (several texts share an entry, each with its own input words);
    :class:`~macbot.core.live.LivePiece` is a chunk placed in a live stream (its start, its
    clause, its words in the stream's time)."""

    samples: np.ndarray
    sample_rate: int
    engine: str
    """What produced it: the engine type (``piper``, ``piper_quantized``, ``coreml`` …)."""
    voice: str
    text: str = ""
    """The sentence (or part of it) this chunk speaks."""
    index: int = 0
    """Position of the chunk in its request, from 0."""
    words: tuple[WordTiming, ...] = field(default=(), compare=False)
    """The words that start in this chunk, in order (empty when the engine has no timings)."""
    spoken: tuple[WordTiming, ...] = field(default=(), compare=False)
    """The spoken words' times (see :func:`~macbot.core.timings.sentence_words` with
    ``spoken``: each ``word`` is the spoken word's position), which the phrase cache keeps."""
    cached: bool = field(default=False, compare=False)
    """Taken from the phrase cache: no engine ran."""
    pause: float = 0.0
    """Seconds of silence this chunk is (a pause of the text); 0: speech."""
    part: int = 0
    """Which part of its sentence, from 0 (an engine that decodes in windows makes several)."""
    last_part: bool = True
    """Whether it ends its sentence."""

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return len(self.samples) / self.sample_rate


def concat(chunks: Iterable[AudioChunk]) -> tuple[np.ndarray, int]:
    """All samples of ``chunks`` in order, and their sample rate."""
    parts: list[np.ndarray] = []
    rate = 0
    for chunk in chunks:
        rate = chunk.sample_rate
        parts.append(chunk.samples)
    if not parts:
        return np.zeros(0, dtype=np.float32), rate
    return np.concatenate(parts).astype(np.float32, copy=False), rate
