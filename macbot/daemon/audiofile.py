"""Whole-file audio answers (``/speak`` without ``stream``, its ``timestamps`` JSON, the OpenAI
route's files): written chunk by chunk as the synthesis goes into a spooled file, then sent
from it, so that one request never holds its whole audio in memory (issue 21)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import Response

from ..core.audio import AudioChunk, WordTiming
from ..core.formats import AudioFormat, FileWriter
from ..core.synthesizer import SynthesisStream
from ..core.timings import shifted
from ..errors import EmptyTextError


@dataclass
class Written:
    """A finished file and what the answer says about it."""

    writer: FileWriter
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
        return bool(self.first.meta.get("cached"))


def write(
    chunks: SynthesisStream, fmt: str | AudioFormat, started: float, param: str = "text"
) -> Written:
    """Write every chunk of ``chunks`` to a file of ``fmt`` as it comes; a failure (a 4xx or 5xx
    answer, since nothing is sent yet) drops the file. ``started``: the request's
    ``perf_counter``."""
    writer: FileWriter | None = None
    try:
        first = next(chunks, None)
        if first is None:
            raise EmptyTextError(f"{param} has nothing to speak", param=param)
        writer = FileWriter(fmt, first.sample_rate)
        words: list[WordTiming] = []
        offset = 0.0
        for chunk in _chain(first, chunks):
            words.extend(shifted(chunk.words, offset))
            offset += chunk.duration
            writer.feed(chunk.samples)
        size = writer.finish()
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    finally:
        chunks.close()
    return Written(writer, size, first, offset, time.perf_counter() - started, words)


def _chain(first: AudioChunk, rest: Iterator[AudioChunk]) -> Iterator[AudioChunk]:
    yield first
    yield from rest


def file_response(written: Written, headers: dict[str, str], mimetype: str) -> Response:
    """The file as the answer's body, sent from the spool with its ``Content-Length``."""
    headers = {**headers, "Content-Length": str(written.size)}
    return Response(
        written.writer.blocks(), 200, headers, mimetype=mimetype, direct_passthrough=True
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
