"""The one audio writer (issue 18, item 3): files and streams in every format, WAV headers at
both voice rates (Piper's 22.05 kHz, Kokoro's 24 kHz), raw PCM, and the word timings' JSON.

Real encoders (libsndfile, FFmpeg through PyAV); what they write is read back with
libsndfile and Python's own ``wave`` module."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest
import soundfile as sf

from macbot.core.audio import WordTiming
from macbot.core.formats import (
    FILE_FORMATS,
    NATIVE_PCM,
    OPEN_ENDED,
    SPEAK_FORMATS,
    AudioWriter,
    encode,
    file_format,
    supported_formats,
    to_pcm16,
    wav_header,
    write_file,
)
from macbot.core.playback import Progress
from macbot.errors import OutputError, UnsupportedFormatError

RATES = (22050, 24000)
"""Piper's voices and Kokoro."""

AUDIO = (0.5 * np.sin(np.arange(60_000) / 7)).astype(np.float32)

EXACT = ("wav", "pcm", "mp3", "flac", "aac", "m4a", "aiff")
"""Formats whose file is the same bytes however the samples are cut (Opus pages differ)."""


def fed(name, rate: int, stream: bool, parts: int = 7) -> tuple[bytes, list[bytes]]:
    """The writer's bytes, fed ``AUDIO`` in ``parts``: all of them, and what each write gave."""
    writer = AudioWriter(name, rate, stream=stream)
    given = [writer.write(part) for part in np.array_split(AUDIO, parts)]
    size = writer.finish()
    tail = b"".join(writer.blocks())
    assert len(tail) == size
    return b"".join(given) + tail, given


def available(name: str) -> str:
    if name in ("aac", "m4a"):
        pytest.importorskip("av")
    return name


# -- WAV -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_a_wav_file_has_the_header_libsndfile_writes(rate):
    data = encode(AUDIO, rate, "wav")
    pcm = np.frombuffer(to_pcm16(AUDIO), "<i2")
    reference = io.BytesIO()
    sf.write(reference, pcm, rate, format="WAV", subtype="PCM_16")
    assert data == reference.getvalue()
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, rate)
        assert wav.readframes(wav.getnframes()) == pcm.tobytes()
    riff, size, form = struct.unpack_from("<4sI4s", data)
    assert (riff, size, form) == (b"RIFF", len(data) - 8, b"WAVE")
    byte_rate, align = struct.unpack_from("<IH", data, 28)
    assert (byte_rate, align) == (2 * rate, 2)
    assert data[36:40] == b"data" and struct.unpack_from("<I", data, 40)[0] == len(data) - 44


@pytest.mark.parametrize("rate", RATES)
def test_a_streamed_wav_says_unknown_length_and_carries_the_same_samples(rate):
    streamed, given = fed("wav", rate, stream=True)
    whole = encode(AUDIO, rate, "wav")
    assert streamed[:44] == wav_header(rate, OPEN_ENDED)
    assert struct.unpack_from("<I", streamed, 4)[0] == OPEN_ENDED
    assert struct.unpack_from("<I", streamed, 24)[0] == rate
    assert streamed[44:] == whole[44:]
    assert all(given)  # each chunk's samples go out as soon as they are written
    assert given[0][:4] == b"RIFF"


def test_raw_pcm_is_the_wav_samples_at_the_voice_rate():
    writer = AudioWriter(NATIVE_PCM, 24000, stream=True)
    assert writer.mime == "audio/L16;rate=24000;channels=1" and writer.rate == 24000
    assert writer.write(AUDIO) == encode(AUDIO, 24000, "wav")[44:]
    assert writer.finish() == 0


def test_pcm16_pieces_of_any_size_are_kept_exactly():
    """``macbot say -o`` through the daemon: the daemon's raw stream, cut anywhere."""
    pcm = to_pcm16(AUDIO)
    writer = AudioWriter("wav", 22050)
    for start in range(0, len(pcm), 4097):  # odd: samples split across pieces
        writer.write_pcm16(pcm[start : start + 4097])
    writer.finish()
    assert b"".join(writer.blocks()) == encode(AUDIO, 22050, "wav")


# -- every format, file and stream ---------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("name", EXACT)
def test_a_file_fed_chunk_by_chunk_is_the_file_fed_once(name, rate):
    fmt = SPEAK_FORMATS[available(name)]  # pcm at the voice's rate (OpenAI's is resampled)
    data, given = fed(fmt, rate, stream=False)
    assert data == encode(AUDIO, rate, fmt) and not any(given)


@pytest.mark.parametrize("name", sorted({fmt.name for fmt in FILE_FORMATS.values()}))
@pytest.mark.parametrize("rate", RATES)
def test_every_file_format_decodes_to_the_audio(name, rate):
    fmt = SPEAK_FORMATS[available(name)]
    data = encode(AUDIO, rate, fmt)
    if fmt.container is not None:
        import av

        with av.open(io.BytesIO(data)) as container:
            decoded = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
            out_rate = container.streams.audio[0].rate
    else:
        decoded, out_rate = sf.read(io.BytesIO(data), dtype="float32")
    assert out_rate == (fmt.rate or rate)
    expected = len(AUDIO) * out_rate / rate
    assert abs(len(decoded) - expected) < 0.05 * expected  # codec padding at most
    assert 0.3 < np.abs(decoded).max() < 0.6


@pytest.mark.parametrize("name", ["mp3", "opus", "aac"])
def test_a_compressed_stream_sends_as_it_goes_and_decodes(name):
    data, given = fed(available(name), 22050, stream=True, parts=12)
    assert sum(1 for g in given if g) >= 3  # bytes before the end
    if name == "aac":
        assert data == encode(AUDIO, 22050, "aac")  # ADTS frames: the stream is the file
        return
    decoded, rate = sf.read(io.BytesIO(data), dtype="float32")
    expected = len(AUDIO) * rate / 22050
    assert abs(len(decoded) - expected) < 0.05 * expected
    if name == "mp3":  # the info frame, which a stream cannot fill in, is dropped
        assert b"Xing" not in data[:2000] and b"Info" not in data[:2000]


@pytest.mark.parametrize("name", ["flac", "m4a"])
def test_a_format_that_writes_its_header_last_streams_whole_at_the_end(name):
    data, given = fed(available(name), 24000, stream=True)
    assert not any(given) and data == encode(AUDIO, 24000, name)


def test_a_long_stream_holds_only_the_bytes_not_sent():
    writer = AudioWriter("mp3", 22050, stream=True)
    sent = sum(len(writer.write(AUDIO)) for _ in range(20))
    assert sent > 100_000
    assert len(writer.file._held) == 0  # type: ignore[attr-defined]  # the stream's sink
    writer.finish()
    writer.close()


def test_unknown_formats_and_extensions_are_refused():
    with pytest.raises(UnsupportedFormatError):
        AudioWriter("ogg-vorbis", 22050)
    with pytest.raises(UnsupportedFormatError, match="unknown audio extension"):
        file_format("x.xyz")
    assert {"wav", "pcm", "flac"} <= set(supported_formats())


def test_write_file_by_extension_and_its_errors(tmp_path):
    out = write_file(tmp_path / "a.aiff", AUDIO, 24000)
    assert sf.info(str(out)).format == "AIFF" and sf.info(str(out)).samplerate == 24000
    with pytest.raises(OutputError, match="cannot write"):
        write_file(tmp_path / "missing" / "a.wav", AUDIO, 24000)


# -- word timings as JSON ------------------------------------------------------------------------


def test_word_timings_become_json_with_one_rounding():
    word = WordTiming("Hello", 0.12345678, 1.00000049)
    assert word.to_dict() == {"word": "Hello", "start": 0.123457, "end": 1.0}
    progress = Progress(1, 2.0, (word,), word)
    assert progress.to_dict()["words"] == [word.to_dict()]
    assert progress.to_dict()["current_word"] == word.to_dict()
