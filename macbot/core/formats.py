"""The one audio writer: every answer's bytes (a file, a stream, raw PCM), in every format.

:class:`AudioWriter` (Kokoro-FastAPI's ``StreamingAudioWriter`` is the model) is fed the
samples chunk by chunk. As a *file* it writes into a spooled temporary file (memory up to
:data:`SPOOL_BYTES`, disk past that) whose headers are filled in at the end; as a *stream*
each :meth:`~AudioWriter.write` returns the bytes ready to send now. A whole file in memory
(:func:`encode`) is the same writer fed once. Nothing else in the package builds a WAV header
or turns samples into 16-bit PCM: the HTTP routes, the WebSocket, Wyoming and ``macbot say``
all ask this writer.

Encoding goes through libsndfile (``soundfile``), whose 1.1+ builds write MP3 (LAME) and
Ogg Opus besides WAV and FLAC; AAC, which libsndfile lacks, through FFmpeg's own encoder in
PyAV (``av``, a wheel with FFmpeg inside, also what faster-whisper decodes with), imported only
when AAC is asked for. No binary is needed. Opus only takes 8/12/16/24/48 kHz, and OpenAI's
``pcm`` is defined as 24 kHz, so those two are resampled (band-limited, FFT) from the voice's
rate (22.05 kHz for most Piper voices).
"""

from __future__ import annotations

import importlib.util
import io
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import soundfile as sf

from ..errors import OutputError, UnsupportedFormatError

SPOOL_BYTES = 4 << 20
"""Bytes of one file kept in memory; the rest goes to a temporary file."""

OPEN_ENDED = 0xFFFFFFFF
"""A streamed WAV's sizes: "unknown length" (ffplay, browsers and sox play until the end)."""


@dataclass(frozen=True)
class AudioFormat:
    """One ``response_format``."""

    name: str
    mime: str
    sf_format: str | None
    """libsndfile major format (``None``: written by hand: raw PCM, WAV)."""
    subtype: str | None
    rate: int | None
    """Fixed output sample rate (``None``: the voice's rate)."""
    options: tuple[tuple[str, object], ...] = ()
    """Extra ``soundfile.SoundFile`` arguments."""
    container: str | None = None
    """FFmpeg muxer of a format written through PyAV (``adts``: AAC frames, each with its
    header, so a stream can start playing anywhere; ``ipod``: an .m4a file)."""
    codec: str | None = None
    """FFmpeg encoder of a PyAV format."""
    streams: bool = True
    """Whether a stream sends the bytes as they are made. FLAC's STREAMINFO and an .m4a's
    index are written last, in front: those streams send the whole file at the end."""


FORMATS: dict[str, AudioFormat] = {
    # Constant bitrate: without the Xing frame (which a stream cannot fill in) a decoder
    # estimates the length from the bitrate; with VBR it would stop early.
    "mp3": AudioFormat(
        "mp3",
        "audio/mpeg",
        "MP3",
        "MPEG_LAYER_III",
        None,
        (("bitrate_mode", "CONSTANT"), ("compression_level", 0.5)),
    ),
    "opus": AudioFormat("opus", "audio/ogg", "OGG", "OPUS", 24000),
    "aac": AudioFormat("aac", "audio/aac", None, None, None, container="adts", codec="aac"),
    "flac": AudioFormat("flac", "audio/flac", "FLAC", "PCM_16", None, streams=False),
    "wav": AudioFormat("wav", "audio/wav", None, None, None),
    "pcm": AudioFormat("pcm", "audio/pcm", None, None, 24000),
}
"""Every format the route knows; :func:`supported_formats` says which work here."""


NATIVE_PCM = AudioFormat("pcm", "audio/L16", None, None, None)
"""Raw s16le mono at the voice's own rate (``/speak``'s ``format: "pcm"``)."""

FILE_FORMATS: dict[str, AudioFormat] = {
    ".wav": FORMATS["wav"],
    ".mp3": FORMATS["mp3"],
    ".flac": FORMATS["flac"],
    ".opus": FORMATS["opus"],
    ".ogg": FORMATS["opus"],
    ".aac": FORMATS["aac"],
    ".m4a": AudioFormat(
        "m4a", "audio/mp4", None, None, None, container="ipod", codec="aac", streams=False
    ),
    ".aiff": AudioFormat("aiff", "audio/aiff", "AIFF", "PCM_16", None),
    ".aif": AudioFormat("aiff", "audio/aiff", "AIFF", "PCM_16", None),
}
"""Audio files by extension (``macbot say -o FILE``): what the HTTP API writes, plus AIFF
(what macOS ``say -o`` writes)."""

SPEAK_FORMATS: dict[str, AudioFormat] = {
    **{fmt.name: fmt for fmt in FILE_FORMATS.values()},
    "pcm": NATIVE_PCM,
}
"""``/speak``'s ``format``: every file format by name, and ``pcm`` at the voice's own rate."""


def supported_formats() -> list[str]:
    """The formats this machine can write: ``wav`` and ``pcm`` always, what its libsndfile
    writes, and ``aac`` where PyAV is installed."""
    names = []
    for fmt in FORMATS.values():
        if fmt.container is not None:
            if importlib.util.find_spec("av") is not None:
                names.append(fmt.name)
        elif fmt.sf_format is None or (
            fmt.sf_format in sf.available_formats()
            and fmt.subtype in sf.available_subtypes(fmt.sf_format)
        ):
            names.append(fmt.name)
    return names


def resample(samples: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited resampling of a whole chunk (zero-padded or truncated spectrum)."""
    if src == dst or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    n_out = max(1, round(len(samples) * dst / src))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    out = np.fft.irfft(spectrum, n_out) * (n_out / len(samples))
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def output_rate(fmt: AudioFormat, voice_rate: int) -> int:
    return fmt.rate or voice_rate


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to little-endian int16 bytes (Piper's scaling: × 32767,
    clipped, truncated), the samples of every WAV and PCM answer."""
    clipped = np.clip(samples * 32767.0, -32767.0, 32767.0)
    return clipped.astype("<i2").tobytes()


def from_pcm16(data: bytes) -> np.ndarray:
    """Little-endian int16 bytes back to float samples (÷ 32767, :func:`to_pcm16`'s scale)."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767.0


def wav_header(sample_rate: int, data_bytes: int) -> bytes:
    """The 44-byte header of a 16-bit mono PCM WAV with ``data_bytes`` of samples (the one
    libsndfile writes; :data:`OPEN_ENDED` for a stream of unknown length)."""
    channels, bits = 1, 16
    byte_rate = sample_rate * channels * bits // 8
    riff = min(data_bytes + 36, OPEN_ENDED)
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, byte_rate, channels * 2, bits)
        + b"data"
        + struct.pack("<I", min(data_bytes, OPEN_ENDED))
    )


def _format(name: str | AudioFormat) -> AudioFormat:
    """A format by name: the OpenAI route's first (its ``pcm`` is 24 kHz), then ``/speak``'s
    (pass :data:`NATIVE_PCM` for raw PCM at the voice's rate)."""
    if isinstance(name, AudioFormat):
        return name
    found = FORMATS.get(name) or SPEAK_FORMATS.get(name)
    if found is None:
        raise UnsupportedFormatError(f"unknown audio format {name!r}")
    return found


class _Sink(io.RawIOBase):
    """The file an encoder writes a stream into: it holds only the bytes not taken yet, while
    positions stay those of the whole stream, so a long stream costs no memory. An encoder
    that seeks back at the end to rewrite a header (libsndfile's MP3 info frame) writes over
    bytes already sent: those writes are dropped, as a stream cannot take them back."""

    def __init__(self) -> None:
        super().__init__()
        self._held = bytearray()
        self._sent = 0
        self._pos = 0
        self._end = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]  # any bytes-like object
        data = bytes(data)
        size, start = len(data), self._pos
        if start < self._sent:
            skip = min(size, self._sent - start)
            data, start = data[skip:], start + skip
        if data:
            offset = start - self._sent
            if offset > len(self._held):
                self._held.extend(bytes(offset - len(self._held)))
            self._held[offset : offset + len(data)] = data
        self._pos += size
        self._end = max(self._end, self._pos)
        return size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        """The bytes written since the last take."""
        out = bytes(self._held)
        self._held.clear()
        self._sent += len(out)
        return out


class AudioWriter:
    """One answer's audio in one format, fed chunk by chunk: a file or a stream.

    - A **file** (``stream=False``): :meth:`write` each chunk's samples (at the voice's rate),
      then :meth:`finish` (the size) and read :meth:`blocks`. The bytes go into a temporary
      file held in memory up to :data:`SPOOL_BYTES` and on disk past that: one request's
      audio is never held whole (issue 21: 5 KB of ``[[slnc 10000]]`` made a 157 MB WAV and
      peaked at 1.27 GB). WAV's sizes are filled in at the end; libsndfile seeks back itself
      (FLAC's STREAMINFO, MP3's info frame).
    - A **stream** (``stream=True``): :meth:`write` returns the bytes ready to send now;
      :meth:`finish` then :meth:`blocks` give the rest. WAV gets an open-ended header, raw PCM
      none. MP3's info frame, which a stream cannot go back to fill in, is dropped (it holds no
      audio; the constant bitrate lets players find the length). A format that writes its
      header last (FLAC, .m4a: :attr:`AudioFormat.streams` false) is written as a file and
      sent whole at the end.

    Formats with their own rate (Opus, OpenAI's ``pcm``) are resampled chunk by chunk.
    :meth:`close` (or reading :meth:`blocks` to the end) lets go of the file.
    """

    def __init__(self, fmt: str | AudioFormat, voice_rate: int, *, stream: bool = False) -> None:
        self.fmt = _format(fmt)
        self.voice_rate = voice_rate
        self.rate = output_rate(self.fmt, voice_rate)
        self.incremental = stream and self.fmt.streams
        """Bytes come out of :meth:`write` as they are made."""
        self.frames = 0
        """Samples written (at :attr:`rate`)."""
        self.file: IO[bytes]
        if self.incremental:
            self.file = _Sink()
        else:  # closed by blocks()/close(): the file outlives this call
            self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self._sound: sf.SoundFile | None = None
        self._av: _AvEncoder | None = None
        self._odd = b""
        self._xing_checked = self.fmt.name != "mp3" or not self.incremental
        self._tail = b""
        try:
            self._open()
        except BaseException:
            self.file.close()
            raise

    def _open(self) -> None:
        fmt = self.fmt
        if fmt.name == "wav":
            self.file.write(wav_header(self.rate, OPEN_ENDED if self.incremental else 0))
        elif fmt.container is not None:  # AAC through PyAV
            self._av = _AvEncoder(fmt, self.rate, self.file)
        elif fmt.sf_format is not None:
            try:
                self._sound = sf.SoundFile(
                    self.file,
                    "w",
                    samplerate=self.rate,
                    channels=1,
                    format=fmt.sf_format,
                    subtype=fmt.subtype,
                    **dict(fmt.options),
                )
            except (sf.LibsndfileError, ValueError) as exc:
                raise UnsupportedFormatError(f"cannot encode {fmt.name} here: {exc}") from exc

    @property
    def mime(self) -> str:
        """The answer's media type (raw PCM at the voice's rate: ``audio/L16`` with its rate)."""
        if self.fmt.mime == "audio/L16":
            return f"audio/L16;rate={self.rate};channels=1"
        return self.fmt.mime

    @property
    def seconds(self) -> float:
        """Seconds of audio written."""
        return self.frames / self.rate

    def write(self, samples: np.ndarray) -> bytes:
        """Append ``samples`` (float in [-1, 1], at the voice's rate); a stream's bytes ready
        to send now (a file's: ``b""``)."""
        samples = resample(samples, self.voice_rate, self.rate)
        self.frames += len(samples)
        if self._sound is not None:
            self._sound.write(samples)
        elif self._av is not None:
            self._av.write(samples)
        else:
            self.file.write(to_pcm16(samples))
        return self._take()

    def write_pcm16(self, data: bytes) -> bytes:
        """Append 16-bit little-endian samples at the voice's rate (a daemon's raw stream, in
        pieces of any size); WAV and raw PCM keep them exactly. As :meth:`write`."""
        data = self._odd + data
        whole = len(data) - len(data) % 2
        self._odd = data[whole:]
        if self.fmt.sf_format is None and self.fmt.container is None and not self.fmt.rate:
            self.frames += whole // 2
            self.file.write(data[:whole])
            return self._take()
        return self.write(from_pcm16(data[:whole]))

    def finish(self) -> int:
        """End the audio: the size of what :meth:`blocks` gives (a file: all of it; a stream:
        what :meth:`write` has not given yet)."""
        if self._sound is not None:
            self._sound.close()
        elif self._av is not None:
            self._av.close()
        elif self.fmt.name == "wav" and not self.incremental:
            self.file.seek(0)
            self.file.write(wav_header(self.rate, self.frames * 2))
        if self.incremental:
            self._tail = self._take()
            return len(self._tail)
        size = self.file.seek(0, io.SEEK_END)
        self.file.seek(0)
        return size

    def blocks(self, size: int = 1 << 16) -> Iterator[bytes]:
        """After :meth:`finish`: the bytes still to send, ``size`` at a time; the file is
        closed after the last (or when the reader stops)."""
        try:
            if self.incremental:
                if self._tail:
                    yield self._tail
                return
            while block := self.file.read(size):
                yield block
        finally:
            self.close()

    def close(self) -> None:
        """Let go of the file (and its disk space)."""
        if self._sound is not None and not self._sound.closed:
            self._sound.close()
        self.file.close()

    def save(self, path: Path) -> Path:
        """Finish and copy the file to ``path``; one that cannot be written is an
        :class:`~macbot.errors.OutputError`."""
        self.finish()
        try:
            with open(path, "wb") as out:
                for block in self.blocks():
                    out.write(block)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        finally:
            self.close()
        return Path(path)

    def _take(self) -> bytes:
        if not self.incremental:
            return b""
        assert isinstance(self.file, _Sink)
        data = self.file.take()
        if not self._xing_checked and data:
            self._xing_checked = True
            data = strip_xing_frame(data)
        return data


def encode(samples: np.ndarray, voice_rate: int, name: str | AudioFormat) -> bytes:
    """A complete file (or raw PCM) of ``samples`` in format ``name`` (a key of
    :data:`FORMATS` or :data:`SPEAK_FORMATS`, or an :class:`AudioFormat`): an
    :class:`AudioWriter` fed once."""
    writer = AudioWriter(name, voice_rate)
    writer.write(samples)
    writer.finish()
    return b"".join(writer.blocks())


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """A complete 16-bit mono WAV file of ``samples``."""
    return encode(samples, sample_rate, "wav")


class _AvEncoder:
    """A PyAV (FFmpeg) encoder and muxer writing into ``out`` (AAC frames, each with its
    header, or an .m4a)."""

    def __init__(self, fmt: AudioFormat, rate: int, out: IO[bytes]) -> None:
        try:
            import av
        except ImportError as exc:  # av comes with faster-whisper, a default dependency
            raise UnsupportedFormatError(
                f"cannot encode {fmt.name} here: PyAV is not installed (pip install av)"
            ) from exc
        self._av = av
        self._rate = rate
        self._pts = 0
        try:
            self._container = av.open(out, "w", format=fmt.container)
            self._stream = self._container.add_stream(fmt.codec, rate=rate)
            self._stream.layout = "mono"
        except (av.FFmpegError, ValueError) as exc:
            raise UnsupportedFormatError(f"cannot encode {fmt.name} here: {exc}") from exc

    def write(self, samples: np.ndarray) -> None:
        if len(samples):
            data = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)
            frame = self._av.AudioFrame.from_ndarray(data, format="fltp", layout="mono")
            frame.sample_rate = self._rate
            frame.pts = self._pts
            self._pts += len(samples)
            for packet in self._stream.encode(frame):
                self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()


_MP3_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2/2.5 layer III
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def strip_xing_frame(data: bytes) -> bytes:
    """Drop the first MP3 frame (after any ID3v2 tag) when it is a Xing/Info frame or LAME's
    all-zero placeholder for one: a silent frame of counts that a stream can never fill in
    (decoders trust its zero counts and stop early). Anything else is returned unchanged."""
    start = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        start = 10 + size
    head = data[start : start + 4]
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return data
    version = (head[1] >> 3) & 0x3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    if version not in _MP3_RATES or ((head[1] >> 1) & 0x3) != 1:  # layer III only
        return data
    bitrate = _MP3_BITRATES[1 if version == 3 else 2][head[2] >> 4]
    rate_index = (head[2] >> 2) & 0x3
    if not bitrate or rate_index == 3:
        return data
    rate = _MP3_RATES[version][rate_index]
    padding = (head[2] >> 1) & 0x1
    length = (144000 if version == 3 else 72000) * bitrate // rate + padding
    frame = data[start : start + length]
    placeholder = len(frame) == length and not frame[4:].strip(b"\0")
    if not placeholder and b"Xing" not in frame[:64] and b"Info" not in frame[:64]:
        return data
    return data[:start] + data[start + length :]


def file_format(path: Path) -> AudioFormat:
    """The format a file's extension names (:data:`FILE_FORMATS`), else
    :class:`~macbot.errors.UnsupportedFormatError` listing the extensions there are."""
    fmt = FILE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UnsupportedFormatError(
            f"cannot write {Path(path).name}: unknown audio extension "
            f"{Path(path).suffix or '(none)'!r}",
            hint=f"use one of {', '.join(sorted(FILE_FORMATS))}",
        )
    return fmt


def write_file(path: Path, samples: np.ndarray, voice_rate: int) -> Path:
    """Write ``samples`` to ``path`` in the format its extension names (:func:`file_format`);
    a file that cannot be written is an :class:`~macbot.errors.OutputError`."""
    writer = AudioWriter(file_format(path), voice_rate)
    writer.write(samples)
    return writer.save(path)
