"""Engines: a voice of any family turned into audio chunks.

The contract (:class:`Engine`, in :mod:`.base`): ``sentences(text)`` phonemizes;
``synthesize_sentence`` gives a sentence's whole audio; ``stream_sentence`` yields it as it
becomes ready (by default in one piece; :func:`streams_within_sentence` says whether an engine
overrides that); ``synthesize(text)`` yields one chunk per sentence. WAV writing, playback and
HTTP only consume chunks. A chunk carries the input's words that start in it
(``AudioChunk.words``) when the engine has the model's phoneme durations
(:attr:`Engine.has_durations`) and the sentence its labels (``Sentence.words``, see
:mod:`macbot.core.timings`). Engines are loaded through :mod:`.registry`, by candidate format:

- :mod:`.piper`: a Piper voice's own ONNX model, one run per sentence (also quantized variants);
- :mod:`.chunked`: a Piper voice's encoder/decoder split, decoding a sentence in chunks;
- :mod:`.coreml`: the CoreML candidate (a Mac's CoreML provider, or an ``.mlpackage``);
- :mod:`.kokoro`: Kokoro-82M (24 kHz; voices are style arrays, blends their weighted means).
"""

from __future__ import annotations

from . import registry
from .base import Engine, Sentence, SynthesisOptions, streams_within_sentence
from .registry import format_of, formats, load, register

__all__ = [
    "Engine",
    "Sentence",
    "SynthesisOptions",
    "format_of",
    "formats",
    "load",
    "register",
    "registry",
    "streams_within_sentence",
]
