"""Engines: a Piper voice turned into audio chunks.

The contract (:class:`Engine`): ``sentences(text)`` phonemizes; ``synthesize_sentence`` gives a
sentence's whole audio; ``stream_sentence`` yields it as it becomes ready (by default in one
piece; :attr:`Engine.streams_within_sentence` says whether an engine does better);
``synthesize(text)`` yields one chunk per sentence. WAV writing, playback and HTTP only consume
chunks. A chunk carries the input's words that start in it (``AudioChunk.words``) when the
engine has the model's phoneme durations (:attr:`Engine.has_durations`) and the sentence its
labels (``Sentence.words``, see :mod:`macbot.core.timings`). Implementations:

- :mod:`.piper`: the voice's own ONNX model, one run per sentence (also quantized variants);
- :mod:`.chunked`: the voice's encoder/decoder split, decoding a sentence in chunks;
- :mod:`.coreml`: the CoreML candidate (a Mac's CoreML provider, or an ``.mlpackage``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..audio import AudioChunk
from ..voices import VoiceInfo
from .chunked import ChunkedEngine, find_split
from .piper import PiperEngine, Sentence, SynthesisOptions

__all__ = [
    "ChunkedEngine",
    "Engine",
    "PiperEngine",
    "Sentence",
    "SynthesisOptions",
    "find_split",
]


@runtime_checkable
class Engine(Protocol):
    """What the synthesizer, the chain and the tools need from an engine."""

    engine_type: str
    voice: VoiceInfo
    model_path: Path
    streams_within_sentence: bool
    has_durations: bool
    """The model gives its phoneme durations, so chunks carry word timings (issue 14)."""

    @property
    def sample_rate(self) -> int: ...

    def sentences(self, text: str) -> list[Sentence]: ...

    def synthesize_sentence(self, sentence: Sentence, options: SynthesisOptions) -> AudioChunk: ...

    def stream_sentence(
        self, sentence: Sentence, options: SynthesisOptions
    ) -> Iterator[AudioChunk]: ...

    def synthesize(
        self, text: str, options: SynthesisOptions | None = None
    ) -> Iterator[AudioChunk]: ...

    def describe(self) -> dict[str, object]: ...

    def warmup(self) -> float: ...
