"""Audio chunks and their encodings (WAV, raw PCM)."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf


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


@dataclass(frozen=True)
class AudioChunk:
    """One piece of synthesized audio: mono float32 samples in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int
    engine: str
    """What produced it: the engine type (``piper``, ``piper_quantized``, ``coreml`` …)."""
    voice: str
    text: str = ""
    """The sentence (or part of it) this chunk speaks."""
    index: int = 0
    """Position of the chunk in its request, from 0."""
    meta: dict[str, object] = field(default_factory=dict, compare=False)
    words: tuple[WordTiming, ...] = field(default=(), compare=False)
    """The words that start in this chunk, in order (empty when the engine has no timings)."""

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return len(self.samples) / self.sample_rate


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to little-endian int16 bytes (Piper's scaling)."""
    clipped = np.clip(samples * 32767.0, -32767.0, 32767.0)
    return clipped.astype("<i2").tobytes()


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


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """A complete 16-bit mono WAV file (samples scaled as :func:`to_pcm16`, so a WAV and a
    PCM stream of the same audio carry the same bytes)."""
    buf = io.BytesIO()
    pcm = np.frombuffer(to_pcm16(samples), dtype="<i2")
    sf.write(buf, pcm, sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def wav_header(sample_rate: int, data_bytes: int, channels: int = 1, bits: int = 16) -> bytes:
    """The 44-byte header of a PCM WAV file with ``data_bytes`` of samples (the header
    libsndfile writes for 16-bit PCM, so :func:`wav_bytes` and a file written piece by piece
    agree byte for byte)."""
    byte_rate = sample_rate * channels * bits // 8
    block_align = channels * bits // 8
    riff = min(data_bytes + 36, 0xFFFFFFFF)
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, byte_rate, block_align, bits)
        + b"data"
        + struct.pack("<I", min(data_bytes, 0xFFFFFFFF))
    )


def wav_header_open_ended(sample_rate: int, channels: int = 1, bits: int = 16) -> bytes:
    """A WAV header whose sizes say "unknown length" (0xFFFFFFFF), for streaming.

    Players that read WAV from a stream (ffplay, browsers, sox) accept it and play until
    the connection ends.
    """
    return wav_header(sample_rate, 0xFFFFFFFF, channels, bits)
