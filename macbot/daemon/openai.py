"""The OpenAI-compatible audio API (``/v1/…``), so apps that speak OpenAI's TTS API work here.

* ``POST /v1/audio/speech`` — ``model``, ``input``, ``voice``, ``response_format``, ``speed``,
  ``stream_format`` (``audio``: the bytes are sent as each sentence is ready; ``sse``:
  OpenAI's ``speech.audio.delta``/``speech.audio.done`` events, and ``speech.word`` events
  with the word timings when the engine has them).
* ``GET /v1/models``, ``GET /v1/models/{id}`` and ``GET /v1/audio/voices``.

OpenAI's voice names (``alloy``, ``echo`` …) speak with the default Piper voice unless a Piper
voice of that name is installed; any Piper voice name works as ``voice`` or as ``model``.
Errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify

from ..core.audio import AudioChunk, WordTiming
from ..core.formats import FORMATS, StreamEncoder, supported_formats
from ..core.timings import shifted
from ..core.voices import list_voices
from ..errors import (
    EmptyTextError,
    InvalidType,
    ModelIdNotFound,
    UnknownModel,
    UnsupportedFormatError,
    UsageError,
)
from . import audiofile, parsing
from .state import DaemonState, state

_LOGGER = logging.getLogger(__name__)

OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "cedar",
    "coral",
    "echo",
    "fable",
    "marin",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)
"""OpenAI's built-in voice names; each maps to the default voice (or a Piper voice so named)."""

MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "piper")
"""Model ids accepted besides Piper voice names. All run the same Piper engine."""

DEFAULT_FORMAT = "mp3"
"""OpenAI's default ``response_format``."""

bp = Blueprint("openai", __name__, url_prefix="/v1")


# -- routes ------------------------------------------------------------------------------------


@bp.post("/audio/speech")
def speech() -> Response:
    """Speak ``input``; the answer is the audio in ``response_format``.

    Request JSON: ``model`` (required: ``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``,
    ``piper`` or a Piper voice name), ``input`` (required, at most ``server.max_text_chars``,
    else 400), ``voice`` (OpenAI or Piper voice name; default: the configured voice),
    ``response_format`` (``mp3`` default, ``opus``, ``flac``, ``wav``, ``pcm``; ``pcm`` is
    raw 16-bit little-endian mono at 24 kHz like OpenAI's), ``speed`` (0.25–4),
    ``instructions`` (accepted, ignored), ``stream_format`` (``audio``/``sse``) or
    ``stream: true`` to receive the audio as it is synthesized (chunked transfer; WAV then has
    an open-ended header), ``normalization_options`` (the text front end, as Kokoro-FastAPI
    names it: ``normalize``, ``url_normalization``, ``email_normalization``,
    ``unit_normalization``, ``phone_normalization``, ``replace_remaining_symbols``,
    ``optional_pluralization_normalization``, or this daemon's own names; see docs/API.md).
    Bad values give 400 in OpenAI's error shape.
    """
    st = state()
    synth = st.synthesizer
    body = parsing.json_body('{"model": "tts-1", "input": "Hello", "voice": "alloy"}')
    text = parsing.text(body, "input", st.config.server.max_text_chars)
    voice = _voice(body, st)
    fmt = _format(body)
    speed = parsing.speed(body)
    parsing.optional_str(body, "instructions", allow_blank=True)
    stream_format = _stream_format(body)
    text_options = parsing.text_options(body, "normalization_options", synth.text_options())
    options = synth.default_options().with_overrides(speed=speed)
    started = time.perf_counter()
    chunks = synth.stream(text, voice, options, text_options)
    if stream_format is None:
        # A whole file: written as the sentences come, so a failure is still an error status
        # and the audio is never held whole (issue 21).
        written = audiofile.write(chunks, fmt, started, param="input")
        headers = {
            "X-Engine": written.first.engine,
            "X-Voice": written.first.voice,
            "X-Cache": "hit" if written.cached else "miss",
            "X-Sample-Rate": str(written.writer.rate),
            "X-Audio-Duration": f"{written.duration:.3f}",
        }
        return audiofile.file_response(written, headers, FORMATS[fmt].mime)
    first = next(chunks, None)
    if first is None:
        raise EmptyTextError("input has nothing to speak", param="input")
    headers = {
        "X-Engine": first.engine,
        "X-Voice": first.voice,
        "X-Cache": "hit" if first.meta.get("cached") else "miss",
        "X-Sample-Rate": str(StreamEncoder(fmt, first.sample_rate).rate),
    }
    generator = _stream(first, chunks, fmt, stream_format == "sse")
    mime = "text/event-stream" if stream_format == "sse" else FORMATS[fmt].mime
    headers["Cache-Control"] = "no-store"
    return Response(generator, 200, headers, mimetype=mime)


@bp.get("/models")
def models() -> Response:
    """OpenAI's model list: the TTS model ids and every Piper voice name."""
    return jsonify(object="list", data=[_model(name) for name in _model_ids()])


@bp.get("/models/<path:model_id>")
def model(model_id: str) -> Response:
    """One model (404 in OpenAI's shape when unknown)."""
    if model_id not in _model_ids():
        raise ModelIdNotFound(f"the model {model_id!r} does not exist", param="model")
    return jsonify(_model(model_id))


@bp.get("/audio/voices")
def voices() -> Response:
    """Voices for ``voice``: Piper voices, then OpenAI names with the voice they speak with."""
    st = state()
    default = st.synthesizer.default_voice.name
    piper = {v.name: v for v in list_voices(st.config.tts.voices_dir)}
    data: list[dict[str, Any]] = []
    for name, info in piper.items():
        desc = info.describe()
        data.append(
            {
                "id": name,
                "object": "voice",
                "name": name,
                "piper_voice": name,
                "language": desc.get("language"),
                "default": name == default,
            }
        )
    for name in OPENAI_VOICES:
        if name not in piper:
            data.append(
                {
                    "id": name,
                    "object": "voice",
                    "name": name,
                    "piper_voice": default,
                    "language": None,
                    "default": False,
                }
            )
    return jsonify(object="list", data=data, formats=supported_formats())


# -- helpers -----------------------------------------------------------------------------------


def _model_ids() -> list[str]:
    names = [v.name for v in list_voices(state().config.tts.voices_dir)]
    return list(MODELS) + [n for n in names if n not in MODELS]


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "macbot"}


def _voice(body: dict[str, Any], st: DaemonState) -> str | None:
    """The Piper voice for the request (``None``: the default)."""
    piper = st.voice_names()
    model = body.get("model")
    if model is None:
        raise UsageError("missing field 'model'", param="model")
    if not isinstance(model, str):
        raise InvalidType("'model' must be a string", param="model")
    if model not in MODELS and model not in piper:
        shown = model if len(model) <= 40 else f"{model[:40]}…"
        raise UnknownModel(
            f"unknown model {shown!r} (use one of {', '.join(MODELS)} or a voice name)",
            param="model",
        )
    fallback = model if model in piper else None
    voice = body.get("voice")
    if isinstance(voice, dict):  # OpenAI's custom-voice form {"id": "..."}
        voice = voice.get("id")
        if voice is None:
            raise UsageError("'voice' as an object needs an 'id'", param="voice")
    if isinstance(voice, str) and voice.lower() in OPENAI_VOICES and voice not in piper:
        return fallback
    name = parsing.voice_name(voice, piper | set(OPENAI_VOICES))
    return fallback if name is None else name


def _format(body: dict[str, Any]) -> str:
    value = body.get("response_format", DEFAULT_FORMAT)
    if not isinstance(value, str):
        raise InvalidType("'response_format' must be a string", param="response_format")
    available = supported_formats()
    if value not in available:
        raise UnsupportedFormatError(
            f"unsupported response_format {value!r} (supported here: {', '.join(available)})",
            param="response_format",
        )
    return value


def _stream_format(body: dict[str, Any]) -> str | None:
    """``audio``/``sse`` when the answer is streamed, ``None`` for one whole file."""
    stream = parsing.optional_bool(body, "stream", default=False)
    value = body.get("stream_format")
    if value is None:
        return "audio" if stream else None
    if value not in ("audio", "sse"):
        raise UsageError(
            f"'stream_format' must be 'audio' or 'sse' (got {value!r})", param="stream_format"
        )
    return value


def word_event(word: WordTiming) -> bytes:
    """An SSE event of one word: ``{"type": "speech.word", "word", "start", "end"}`` (seconds
    from the start of the audio; sent before the audio that says it)."""
    event = {"type": "speech.word", "word": word.word, "start": word.start, "end": word.end}
    return f"data: {json.dumps(event)}\n\n".encode()


def _stream(first: AudioChunk, rest: Iterator[AudioChunk], fmt: str, sse: bool) -> Iterator[bytes]:
    """Encode and send each chunk as it is synthesized (the first is already done)."""
    encoder = StreamEncoder(fmt, first.sample_rate)
    sent_audio = 0.0

    def frame(data: bytes) -> bytes:
        if not sse:
            return data
        event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")}
        return f"data: {json.dumps(event)}\n\n".encode()

    try:
        for chunk in itertools.chain([first], rest):
            if sse:
                for word in shifted(chunk.words, sent_audio):
                    yield word_event(word)
            sent_audio += chunk.duration
            data = encoder.feed(chunk.samples)
            if data:
                yield frame(data)
        tail = encoder.close()
        if tail:
            yield frame(tail)
    except Exception:  # the status line is sent: all we can do is log and end the stream
        _LOGGER.exception("streaming synthesis failed after %.2fs of audio", sent_audio)
        return
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()
    if sse:
        done = {
            "type": "speech.audio.done",
            "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
        }
        yield f"data: {json.dumps(done)}\n\n".encode()
