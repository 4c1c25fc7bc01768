"""Audio answers, whole and streamed, for ``/speak`` and the OpenAI route alike.

A whole file (``/speak`` without ``stream``, its ``timestamps`` JSON, the OpenAI route's
files) is written chunk by chunk as the synthesis goes into the spooled file of an
:class:`~macbot.core.formats.AudioWriter`, then sent from it, so that one request never holds
its whole audio in memory (issue 21). A stream (:func:`stream_response`) sends each chunk's
bytes from the same writer as soon as the chunk is made, as audio or as OpenAI's SSE events.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import Response

from ..core.audio import AudioChunk, WordTiming
from ..core.formats import AudioFormat, AudioWriter
from ..core.synthesizer import SynthesisStream
from ..core.timings import shifted
from ..errors import EmptyTextError

_LOGGER = logging.getLogger(__name__)


@dataclass
class Written:
    """A finished file and what the answer says about it."""

    writer: AudioWriter
    size: int
    first: AudioChunk
    """The first chunk (its engine, voice and whether it came from the cache)."""
    duration: float
    """Seconds of audio."""
    seconds: float
    """From the request to the file's last byte."""
    words: list[WordTiming] = field(default_factory=list)
    """The input's words, seconds from the first sample."""

    @property
    def cached(self) -> bool:
        return self.first.cached


def first_chunk(chunks: SynthesisStream, param: str = "text") -> AudioChunk:
    """The first chunk of ``chunks``; none is a 400 on ``param`` (nothing to speak)."""
    first = next(chunks, None)
    if first is None:
        chunks.close()
        raise EmptyTextError(f"{param} has nothing to speak", param=param)
    return first


def chunk_headers(first: AudioChunk, writer: AudioWriter) -> dict[str, str]:
    """What every audio answer says in its headers (from the first chunk)."""
    return {
        "X-Engine": first.engine,
        "X-Voice": first.voice,
        "X-Cache": "hit" if first.cached else "miss",
        "X-Sample-Rate": str(writer.rate),
    }


def write(
    chunks: SynthesisStream, fmt: str | AudioFormat, started: float, param: str = "text"
) -> Written:
    """Write every chunk of ``chunks`` to a file of ``fmt`` as it comes; a failure (a 4xx or 5xx
    answer, since nothing is sent yet) drops the file. ``started``: the request's
    ``perf_counter``."""
    writer: AudioWriter | None = None
    try:
        first = first_chunk(chunks, param)
        writer = AudioWriter(fmt, first.sample_rate)
        words: list[WordTiming] = []
        offset = 0.0
        for chunk in itertools.chain([first], chunks):
            words.extend(shifted(chunk.words, offset))
            offset += chunk.duration
            writer.write(chunk.samples)
        size = writer.finish()
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    finally:
        chunks.close()
    return Written(writer, size, first, offset, time.perf_counter() - started, words)


def file_response(written: Written, headers: dict[str, str]) -> Response:
    """The file as the answer's body, sent from the spool with its ``Content-Length``."""
    headers = {
        **chunk_headers(written.first, written.writer),
        "X-Audio-Duration": f"{written.duration:.3f}",
        **headers,
        "Content-Length": str(written.size),
    }
    return Response(
        written.writer.blocks(),
        200,
        headers,
        mimetype=written.writer.mime,
        direct_passthrough=True,
    )


def json_with_audio(written: Written, fields: dict[str, object]) -> Response:
    """A JSON answer ``{"audio": the file in base64, **fields}``, the base64 made block by
    block from the spool (the same text as encoding the whole file at once)."""
    rest = json.dumps(fields, sort_keys=True)
    tail = ("}" if rest == "{}" else ", " + rest[1:]).encode("ascii")

    def body() -> Iterator[bytes]:
        yield b'{"audio": "'
        for block in written.writer.blocks(3 << 16):  # a multiple of 3: no padding between
            yield base64.b64encode(block)
        yield b'"' + tail

    size = len(b'{"audio": "') + 4 * ((written.size + 2) // 3) + 1 + len(tail)
    headers = {"Content-Length": str(size)}
    return Response(body(), 200, headers, mimetype="application/json", direct_passthrough=True)


def stream_response(
    chunks: SynthesisStream, fmt: str | AudioFormat, param: str = "text", sse: bool = False
) -> Response:
    """A chunked answer that sends each chunk's audio as soon as it is made: the bytes of
    ``fmt`` as they come, or (``sse``) OpenAI's events: ``speech.word`` for each word before
    the audio that says it (seconds from the start), ``speech.audio.delta`` with the bytes in
    base64, then ``speech.audio.done``. Nothing to speak is a 400 on ``param``; a failure
    once the headers are sent ends the stream early (and is logged)."""
    first = first_chunk(chunks, param)
    try:
        writer = AudioWriter(fmt, first.sample_rate, stream=True)
    except BaseException:
        chunks.close()
        raise

    def frame(data: bytes) -> bytes:
        if not sse:
            return data
        event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")}
        return _event(event)

    def body() -> Iterator[bytes]:
        sent = 0.0
        try:
            for chunk in itertools.chain([first], chunks):
                if sse:
                    for word in shifted(chunk.words, sent):
                        yield _event({"type": "speech.word", **word.to_dict()})
                sent += chunk.duration
                if data := writer.write(chunk.samples):
                    yield frame(data)
            writer.finish()
            for block in writer.blocks():
                yield frame(block)
        except Exception:  # the status line is sent: all we can do is log and end the stream
            _LOGGER.exception("streaming synthesis failed after %.2fs of audio", sent)
            return
        finally:
            writer.close()
            chunks.close()
        if sse:
            usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
            yield _event({"type": "speech.audio.done", "usage": usage})

    headers = {**chunk_headers(first, writer), "Cache-Control": "no-store"}
    mime = "text/event-stream" if sse else writer.mime
    return Response(body(), 200, headers, mimetype=mime)


def _event(event: dict[str, object]) -> bytes:
    return f"data: {json.dumps(event)}\n\n".encode()
