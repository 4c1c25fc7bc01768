"""The OpenAI-compatible audio API (``/v1/…``), so apps that speak OpenAI's TTS API work here.

* ``POST /v1/audio/speech`` — ``model``, ``input``, ``voice``, ``response_format``, ``speed``,
  ``stream_format`` (``audio``: the bytes are sent as each sentence is ready; ``sse``:
  OpenAI's ``speech.audio.delta``/``speech.audio.done`` events).
* ``GET /v1/models``, ``GET /v1/models/{id}`` and ``GET /v1/audio/voices``.

OpenAI's voice names (``alloy``, ``echo`` …) speak with the default Piper voice unless a Piper
voice of that name is installed; any Piper voice name works as ``voice`` or as ``model``.
Errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .audio import AudioChunk
from .config import AppConfig
from .engine import SynthesisError, check_speed
from .formats import FORMATS, StreamEncoder, encode, supported_formats
from .ops_api import Metrics, metrics_of
from .synthesizer import EmptyTextError, Synthesizer
from .voices import VoiceNotFoundError, list_voices

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

_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}

bp = Blueprint("openai", __name__, url_prefix="/v1")


class OpenAIError(Exception):
    """A refused request, answered in OpenAI's error shape."""

    def __init__(
        self, message: str, status: int = 400, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code


def openai_error(
    message: str, status: int, param: str | None = None, code: str | None = None
) -> Response:
    """``{"error": {"message", "type", "param", "code"}}`` with ``status``."""
    kind = _ERROR_TYPES.get(status) or (
        "server_error" if status >= 500 else "invalid_request_error"
    )
    resp = jsonify(error={"message": message, "type": kind, "param": param, "code": code})
    resp.status_code = status
    return resp


def register(app: Flask) -> None:
    """Add the ``/v1`` routes to ``app``."""
    app.register_blueprint(bp)


@bp.errorhandler(OpenAIError)
def _openai_error(exc: OpenAIError) -> Response:
    return openai_error(str(exc), exc.status, exc.param, exc.code)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    # Last line of defence, as in app.py, but in OpenAI's shape for OpenAI clients.
    _LOGGER.exception("unhandled error on %s %s", request.method, request.path)
    return openai_error(f"internal error: {type(exc).__name__}: {exc}", 500)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    message = exc.description or exc.name
    if exc.code == 413:
        limit = _config().server.max_body_bytes
        message = f"request body too large (limit {limit} bytes)"
    return openai_error(message, exc.code or 500)


# -- routes ------------------------------------------------------------------------------------


@bp.post("/audio/speech")
def speech() -> Response:
    """Speak ``input``; the answer is the audio in ``response_format``.

    Request JSON: ``model`` (required: ``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``,
    ``piper`` or a Piper voice name), ``input`` (required, at most ``server.max_text_chars``,
    else 413), ``voice`` (OpenAI or Piper voice name; default: the configured voice),
    ``response_format`` (``mp3`` default, ``opus``, ``flac``, ``wav``, ``pcm``; ``pcm`` is
    raw 16-bit little-endian mono at 24 kHz like OpenAI's), ``speed`` (0.25–4),
    ``instructions`` (accepted, ignored), ``stream_format`` (``audio``/``sse``) or
    ``stream: true`` to receive the audio as it is synthesized (chunked transfer; WAV then has
    an open-ended header). Bad values give 400 in OpenAI's error shape.
    """
    config = _config()
    synth = _synth()
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise OpenAIError('request body must be a JSON object, e.g. {"model": "tts-1", …}')
    text = _input(body, config.server.max_text_chars)
    voice = _voice(body, synth, config)
    fmt = _format(body)
    speed = _speed(body)
    _optional_str(body, "instructions")
    stream_format = _stream_format(body)
    options = synth.default_options().with_overrides(speed=speed)
    started = time.perf_counter()
    stream_it = stream_format is not None
    try:
        chunks = iter(synth.stream(text, voice, options))
        first = next(chunks, None)
        # A whole file: synthesize the rest here too, so a failure is still an error status.
        rest = [] if stream_it or first is None else list(chunks)
    except EmptyTextError as exc:
        raise OpenAIError(str(exc), param="input") from exc
    except VoiceNotFoundError as exc:
        raise OpenAIError(str(exc), param="voice", code="voice_not_found") from exc
    except SynthesisError as exc:
        raise OpenAIError(str(exc), 500, code="synthesis_failed") from exc
    if first is None:
        raise OpenAIError("input has nothing to speak", param="input")
    headers = {
        "X-Engine": first.engine,
        "X-Voice": first.voice,
        "X-Cache": "hit" if first.meta.get("cached") else "miss",
        "X-Sample-Rate": str(StreamEncoder(fmt, first.sample_rate).rate),
    }
    cached = bool(first.meta.get("cached"))
    if not stream_it:
        samples = _concat([first, *rest])
        headers["X-Synthesis-Seconds"] = f"{time.perf_counter() - started:.4f}"
        headers["X-Audio-Duration"] = f"{len(samples) / first.sample_rate:.3f}"
        data = encode(samples, first.sample_rate, fmt)
        return Response(data, 200, headers, mimetype=FORMATS[fmt].mime)
    metrics = metrics_of(current_app) if not cached else None
    generator = _stream(first, chunks, fmt, stream_format == "sse", started, metrics)
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
        raise OpenAIError(
            f"the model {model_id!r} does not exist", 404, param="model", code="model_not_found"
        )
    return jsonify(_model(model_id))


@bp.get("/audio/voices")
def voices() -> Response:
    """Voices for ``voice``: Piper voices, then OpenAI names with the voice they speak with."""
    synth = _synth()
    piper = {v.name: v for v in list_voices(_config().tts.voices_dir)}
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
                "default": name == synth.default_voice.name,
            }
        )
    for name in OPENAI_VOICES:
        if name not in piper:
            data.append(
                {
                    "id": name,
                    "object": "voice",
                    "name": name,
                    "piper_voice": synth.default_voice.name,
                    "language": None,
                    "default": False,
                }
            )
    return jsonify(object="list", data=data, formats=supported_formats())


# -- helpers -----------------------------------------------------------------------------------


def _config() -> AppConfig:
    return current_app.extensions["macbot"]["config"]


def _synth() -> Synthesizer:
    return current_app.extensions["macbot"]["synthesizer"]


def _model_ids() -> list[str]:
    names = [v.name for v in list_voices(_config().tts.voices_dir)]
    return list(MODELS) + [n for n in names if n not in MODELS]


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "macbot"}


def _input(body: dict[str, Any], limit: int) -> str:
    if "input" not in body:
        raise OpenAIError("missing required parameter 'input'", param="input")
    text = body["input"]
    if not isinstance(text, str):
        raise OpenAIError("'input' must be a string", param="input", code="invalid_type")
    if not text.strip():
        raise OpenAIError("'input' is empty", param="input")
    if len(text) > limit:
        raise OpenAIError(
            f"'input' is too long ({len(text)} characters, limit {limit})",
            413,
            param="input",
            code="string_above_max_length",
        )
    return text


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise OpenAIError(f"'{key}' must be a string", param=key, code="invalid_type")
    return value


def _voice(body: dict[str, Any], synth: Synthesizer, config: AppConfig) -> str | None:
    """The Piper voice for the request (``None``: the default)."""
    piper = {v.name for v in list_voices(config.tts.voices_dir)}
    model = body.get("model")
    if model is None:
        raise OpenAIError("missing required parameter 'model'", param="model")
    if not isinstance(model, str):
        raise OpenAIError("'model' must be a string", param="model", code="invalid_type")
    if model not in MODELS and model not in piper:
        raise OpenAIError(
            f"unknown model {model!r} (use one of {', '.join(MODELS)} or a voice name)",
            param="model",
            code="model_not_found",
        )
    fallback = model if model in piper else None
    voice = body.get("voice")
    if isinstance(voice, dict):  # OpenAI's custom-voice form {"id": "..."}
        voice = voice.get("id")
    if voice is None:
        return fallback
    if not isinstance(voice, str) or not voice.strip():
        raise OpenAIError("'voice' must be a non-empty string", param="voice", code="invalid_type")
    if voice in piper:
        return voice
    if voice.lower() in OPENAI_VOICES:
        return fallback
    if voice.endswith(".onnx") or "/" in voice:
        raise OpenAIError("'voice' must be a voice name, not a path", param="voice")
    choices = ", ".join(sorted(piper) + list(OPENAI_VOICES))
    raise OpenAIError(
        f"unknown voice {voice!r} (available: {choices})", param="voice", code="voice_not_found"
    )


def _format(body: dict[str, Any]) -> str:
    value = body.get("response_format", DEFAULT_FORMAT)
    if not isinstance(value, str):
        raise OpenAIError(
            "'response_format' must be a string", param="response_format", code="invalid_type"
        )
    available = supported_formats()
    if value not in available:
        raise OpenAIError(
            f"unsupported response_format {value!r} (supported here: {', '.join(available)})",
            param="response_format",
            code="unsupported_format",
        )
    return value


def _speed(body: dict[str, Any]) -> float | None:
    try:
        return check_speed(body.get("speed"))
    except ValueError as exc:
        if "number" in str(exc):
            raise OpenAIError(str(exc), param="speed", code="invalid_type") from exc
        raise OpenAIError(str(exc), param="speed") from exc


def _stream_format(body: dict[str, Any]) -> str | None:
    """``audio``/``sse`` when the answer is streamed, ``None`` for one whole file."""
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise OpenAIError("'stream' must be true or false", param="stream", code="invalid_type")
    value = body.get("stream_format")
    if value is None:
        return "audio" if stream else None
    if value not in ("audio", "sse"):
        raise OpenAIError(
            f"'stream_format' must be 'audio' or 'sse' (got {value!r})", param="stream_format"
        )
    return value


def _concat(chunks: list[AudioChunk]):
    import numpy as np

    return np.concatenate([c.samples for c in chunks]).astype(np.float32, copy=False)


def _stream(
    first: AudioChunk,
    rest: Iterator[AudioChunk],
    fmt: str,
    sse: bool,
    started: float,
    metrics: Metrics | None,
) -> Iterator[bytes]:
    """Encode and send each chunk as it is synthesized (the first is already done); the
    synthesis time of a cache miss goes to ``metrics`` at the end."""
    encoder = StreamEncoder(fmt, first.sample_rate)
    sent_audio = 0.0

    def frame(data: bytes) -> bytes:
        if not sse:
            return data
        event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")}
        return f"data: {json.dumps(event)}\n\n".encode()

    try:
        for chunk in _chain(first, rest):
            sent_audio += chunk.duration
            data = encoder.feed(chunk.samples)
            if data:
                yield frame(data)
        if metrics is not None:
            metrics.observe_synthesis(time.perf_counter() - started)
        tail = encoder.close()
        if tail:
            yield frame(tail)
    except Exception:  # the status line is sent: all we can do is log and end the stream
        _LOGGER.exception("streaming synthesis failed after %.2fs of audio", sent_audio)
        return
    if sse:
        done = {
            "type": "speech.audio.done",
            "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
        }
        yield f"data: {json.dumps(done)}\n\n".encode()


def _chain(first: AudioChunk, rest: Iterator[AudioChunk]) -> Iterator[AudioChunk]:
    yield first
    yield from rest
