"""Audio response formats of the OpenAI route: whole files and chunk-by-chunk streams.

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
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import soundfile as sf

from ..errors import OutputError, UnsupportedFormatError
from .audio import to_pcm16, wav_bytes, wav_header, wav_header_open_ended


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
    "flac": AudioFormat("flac", "audio/flac", "FLAC", "PCM_16", None),
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
    ".m4a": AudioFormat("m4a", "audio/mp4", None, None, None, container="ipod", codec="aac"),
    ".aiff": AudioFormat("aiff", "audio/aiff", "AIFF", "PCM_16", None),
    ".aif": AudioFormat("aiff", "audio/aiff", "AIFF", "PCM_16", None),
}
"""Audio files by extension (``macbot say -o FILE``): what the HTTP API writes, plus AIFF
(what macOS ``say -o`` writes)."""


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


def encode(samples: np.ndarray, voice_rate: int, name: str | AudioFormat) -> bytes:
    """A complete file (or raw PCM) of ``samples`` in format ``name`` (a key of
    :data:`FORMATS`, or an :class:`AudioFormat`)."""
    fmt = FORMATS[name] if isinstance(name, str) else name
    rate = output_rate(fmt, voice_rate)
    samples = resample(samples, voice_rate, rate)
    if fmt.name == "wav":
        return wav_bytes(samples, rate)
    if fmt.name == "pcm":
        return to_pcm16(samples)
    if fmt.container is not None:
        writer = _AvWriter(fmt, rate)
        return writer.feed(samples) + writer.close()
    buf = io.BytesIO()
    try:
        sf.write(buf, samples, rate, format=fmt.sf_format, subtype=fmt.subtype, **dict(fmt.options))
    except (sf.LibsndfileError, ValueError) as exc:
        raise UnsupportedFormatError(f"cannot encode {fmt.name} here: {exc}") from exc
    return buf.getvalue()


class _Sink(io.BytesIO):
    """An in-memory file for libsndfile that hands out bytes as soon as they are written."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def take(self) -> bytes:
        end = self.getbuffer().nbytes
        out = self.getvalue()[self.sent : end]
        self.sent = end
        return out


class StreamEncoder:
    """Encodes chunk by chunk: :meth:`feed` returns the bytes ready to send now.

    ``pcm`` and ``wav`` (open-ended header) are exact. Ogg Opus is a streaming container.
    MP3: libsndfile writes a placeholder for the Xing/LAME info frame first and fills it in at
    the end; a stream cannot go back, so that frame is dropped (it holds no audio) and the
    constant bitrate lets players find the length from the frames.
    FLAC's STREAMINFO is rewritten at the end too; a stream keeps the first one (lengths
    "unknown"), which FLAC allows — but libsndfile then cannot read it, so FLAC is sent whole
    at the end (:attr:`incremental` is false).
    """

    def __init__(self, name: str | AudioFormat, voice_rate: int) -> None:
        self.fmt = FORMATS[name] if isinstance(name, str) else name
        self.voice_rate = voice_rate
        self.rate = output_rate(self.fmt, voice_rate)
        self.incremental = self.fmt.name != "flac" and self.fmt.container != "ipod"
        self._started = False
        self._held: list[np.ndarray] = []
        self._sink: _Sink | None = None
        self._file: sf.SoundFile | None = None
        self._xing_checked = False
        self._av: _AvWriter | None = None

    def feed(self, samples: np.ndarray) -> bytes:
        samples = resample(samples, self.voice_rate, self.rate)
        name = self.fmt.name
        if name == "pcm":
            return to_pcm16(samples)
        if name == "wav":
            head = b"" if self._started else wav_header_open_ended(self.rate)
            self._started = True
            return head + to_pcm16(samples)
        if not self.incremental:
            self._held.append(samples)
            return b""
        if self.fmt.container is not None:
            if self._av is None:
                self._av = _AvWriter(self.fmt, self.rate)
            return self._av.feed(samples)
        if self._file is None:
            self._sink = _Sink()
            self._file = sf.SoundFile(
                self._sink,
                "w",
                samplerate=self.rate,
                channels=1,
                format=self.fmt.sf_format,
                subtype=self.fmt.subtype,
                **dict(self.fmt.options),
            )
        self._file.write(samples)
        return self._take()

    def close(self) -> bytes:
        """The remaining bytes (encoder flush, or the whole FLAC file)."""
        if not self.incremental:
            held = np.concatenate(self._held) if self._held else np.zeros(0, np.float32)
            return encode(held, self.rate, self.fmt.name)
        if self.fmt.name == "wav" and not self._started:
            return wav_header_open_ended(self.rate)
        if self.fmt.container is not None:
            return self._av.close() if self._av is not None else b""
        if self._file is None:
            return b""
        self._file.close()
        return self._take()

    def _take(self) -> bytes:
        assert self._sink is not None
        data = self._sink.take()
        if self.fmt.name == "mp3" and not self._xing_checked and data:
            self._xing_checked = True
            data = strip_xing_frame(data)
        return data


class _AvWriter:
    """A PyAV (FFmpeg) encoder and muxer writing to memory, fed chunk by chunk: each
    :meth:`feed` returns the bytes the muxer has written so far (whole AAC frames)."""

    def __init__(self, fmt: AudioFormat, rate: int) -> None:
        try:
            import av
        except ImportError as exc:  # av comes with faster-whisper, a default dependency
            raise UnsupportedFormatError(
                f"cannot encode {fmt.name} here: PyAV is not installed (pip install av)"
            ) from exc
        self._av = av
        self._sink = _Sink()
        self._rate = rate
        self._pts = 0
        self._whole = fmt.container == "ipod"
        """An .m4a's header is written last, in front: its bytes come whole at the end."""
        try:
            self._container = av.open(self._sink, "w", format=fmt.container)
            self._stream = self._container.add_stream(fmt.codec, rate=rate)
            self._stream.layout = "mono"
        except (av.FFmpegError, ValueError) as exc:
            raise UnsupportedFormatError(f"cannot encode {fmt.name} here: {exc}") from exc

    def feed(self, samples: np.ndarray) -> bytes:
        if len(samples):
            data = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)
            frame = self._av.AudioFrame.from_ndarray(data, format="fltp", layout="mono")
            frame.sample_rate = self._rate
            frame.pts = self._pts
            self._pts += len(samples)
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        return b"" if self._whole else self._sink.take()

    def close(self) -> bytes:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.getvalue() if self._whole else self._sink.take()
SPOOL_BYTES = 4 << 20
"""Bytes of one answer's file kept in memory; the rest goes to a temporary file."""


class FileWriter:
    """One whole file, written chunk by chunk as the audio is made, into a temporary file
    held in memory up to :data:`SPOOL_BYTES` and on disk past that: the audio of one request
    is never held whole (issue 21: 5 KB of ``[[slnc 10000]]`` made a 157 MB WAV and peaked at
    1.27 GB, the float chunks, two joined copies and the WAV's own copies all at once).

    :meth:`feed` each chunk's samples (at the voice's rate; resampled chunk by chunk where the
    format has its own rate, as :class:`StreamEncoder` does), then :meth:`finish`. WAV is
    written with a placeholder header whose sizes are filled in at the end (the same bytes as
    :func:`~macbot.core.audio.wav_bytes`); libsndfile formats seek back themselves (FLAC's
    STREAMINFO, MP3's info frame), as they do in a whole-file :func:`encode`.
    """

    def __init__(self, name: str | AudioFormat, voice_rate: int) -> None:
        self.fmt = FORMATS[name] if isinstance(name, str) else name
        self.voice_rate = voice_rate
        self.rate = output_rate(self.fmt, voice_rate)
        # closed by finish()/blocks()/close(): the file outlives this call
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.frames = 0
        """Samples written (at :attr:`rate`)."""
        self._sound: sf.SoundFile | None = None
        self._av: _AvWriter | None = None
        if self.fmt.name == "wav":
            self.file.write(wav_header(self.rate, 0))
        elif self.fmt.container is not None:  # AAC through PyAV
            try:
                self._av = _AvWriter(self.fmt, self.rate)
            except UnsupportedFormatError:
                self.file.close()
                raise
        elif self.fmt.sf_format is not None:
            try:
                self._sound = sf.SoundFile(
                    self.file,
                    "w",
                    samplerate=self.rate,
                    channels=1,
                    format=self.fmt.sf_format,
                    subtype=self.fmt.subtype,
                    **dict(self.fmt.options),
                )
            except (sf.LibsndfileError, ValueError) as exc:
                self.file.close()
                raise UnsupportedFormatError(f"cannot encode {self.fmt.name} here: {exc}") from exc

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def feed(self, samples: np.ndarray) -> None:
        """Append ``samples`` (float, at the voice's rate)."""
        samples = resample(samples, self.voice_rate, self.rate)
        self.frames += len(samples)
        if self._sound is not None:
            self._sound.write(samples)
        elif self._av is not None:
            self.file.write(self._av.feed(samples))
        else:
            self.file.write(to_pcm16(samples))

    def finish(self) -> int:
        """End the file: its size in bytes; :attr:`file` is then read from its start."""
        if self._sound is not None:
            self._sound.close()
        elif self._av is not None:
            self.file.write(self._av.close())
        elif self.fmt.name == "wav":
            self.file.seek(0)
            self.file.write(wav_header(self.rate, self.frames * 2))
        size = self.file.seek(0, io.SEEK_END)
        self.file.seek(0)
        return size

    def blocks(self, size: int = 1 << 16) -> Iterator[bytes]:
        """The finished file's bytes, ``size`` at a time; the file is closed after the last
        (or when the reader stops)."""
        try:
            while block := self.file.read(size):
                yield block
        finally:
            self.close()

    def close(self) -> None:
        """Let go of the file (and its disk space)."""
        if self._sound is not None and not self._sound.closed:
            self._sound.close()
        self.file.close()


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
    data = encode(samples, voice_rate, file_format(path))
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return Path(path)
