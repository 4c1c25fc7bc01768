"""The OpenAI-compatible audio API (``/v1/…``), so apps that speak OpenAI's TTS API work here.

* ``POST /v1/audio/speech`` — ``model``, ``input``, ``voice``, ``response_format``, ``speed``,
  ``stream_format`` (``audio``: the bytes are sent as each sentence is ready; ``sse``:
  OpenAI's ``speech.audio.delta``/``speech.audio.done`` events, and ``speech.word`` events
  with the word timings when the engine has them).
* ``GET /v1/models``, ``GET /v1/models/{id}``, ``GET /v1/audio/voices`` and
  ``GET /v1/audio/models`` (the last two in the shapes Open WebUI reads, too:
  ``{"voices": [{"id", "name"}]}`` and ``{"models": [{"id"}]}``).
* The same ``/audio/…`` routes without ``/v1``, for clients whose base URL is the daemon's
  address (Open WebUI calls ``{base}/audio/voices`` with whatever base it was given).

``model`` picks the family: ``kokoro`` speaks Kokoro-82M, ``piper`` Piper, and OpenAI's ids
(``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``) the configured voice's family; any voice name
works as ``model`` too. OpenAI's voice names (``alloy``, ``echo`` …) speak with the family's
default voice (the configured one when it is of that family) unless a voice of that name is
installed; any voice of either family, or a Kokoro blend, works as ``voice``.
Errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify

from ..core.formats import supported_formats
from ..core.kokoro_files import voices_path as kokoro_voices_path
from ..core.voices import AUTO_FALLBACK, kokoro_names
from ..errors import (
    InvalidType,
    ModelIdNotFound,
    UnknownModel,
    UnsupportedFormatError,
    UsageError,
)
from . import audiofile, parsing
from .state import DaemonState, state

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

FAMILY_MODELS = ("piper", "kokoro")
"""Model ids that pick a family."""
MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", *FAMILY_MODELS)
"""Model ids accepted besides voice names. OpenAI's speak the configured voice's family."""

DEFAULT_FORMAT = "mp3"
"""OpenAI's default ``response_format``."""

bp = Blueprint("openai", __name__, url_prefix="/v1")

root = Blueprint("openai_root", __name__)
"""``/audio/speech``, ``/audio/voices`` and ``/audio/models`` without ``/v1``."""


# -- routes ------------------------------------------------------------------------------------


@bp.post("/audio/speech")
def speech() -> Response:
    """Speak ``input``; the answer is the audio in ``response_format``.

    Request JSON: ``model`` (required: ``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``,
    ``piper`` or a Piper voice name), ``input`` (required, at most ``server.max_text_chars``,
    else 400), ``voice`` (OpenAI or Piper voice name; default: the configured voice),
    ``response_format`` (``mp3`` default, ``opus``, ``aac``, ``flac``, ``wav``, ``pcm``; ``pcm`` is
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
        return audiofile.file_response(written, {})
    return audiofile.stream_response(chunks, fmt, param="input", sse=stream_format == "sse")


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
    """Voices for ``voice``: every installed voice, then OpenAI's names with the voice they
    speak with. ``data`` in OpenAI's list shape, ``voices`` (``[{"id", "name", …}]``) in the
    shape Open WebUI reads, ``formats``: the ``response_format`` values this machine writes."""
    data = _voice_entries()
    listed = [
        {k: entry[k] for k in ("id", "name", "family", "language", "default") if k in entry}
        for entry in data
    ]
    return jsonify(object="list", data=data, voices=listed, formats=supported_formats())


@bp.get("/audio/models")
def audio_models() -> Response:
    """The model ids ``model`` takes: ``{"models": [{"id"}]}`` as Open WebUI reads it, and the
    same in OpenAI's list shape under ``data``."""
    ids = _model_ids()
    return jsonify(
        object="list", models=[{"id": name} for name in ids], data=[_model(n) for n in ids]
    )


root.add_url_rule("/audio/speech", "speech", speech, methods=["POST"])
root.add_url_rule("/audio/voices", "voices", voices, methods=["GET"])
root.add_url_rule("/audio/models", "models", audio_models, methods=["GET"])


# -- helpers -----------------------------------------------------------------------------------


def _voice_entries() -> list[dict[str, Any]]:
    """Every voice of the shared listing (``/voices``'s), then OpenAI's names."""
    st = state()
    default = st.synthesizer.default_voice
    listed = {v.name: v for v in st.voices()}
    data: list[dict[str, Any]] = []
    for name, info in listed.items():
        data.append(
            {
                "id": name,
                "object": "voice",
                "name": name,
                "family": info.family,
                "piper_voice": name if info.family == "piper" else None,
                "language": info.language,
                "default": name == default.name,
            }
        )
    for name in OPENAI_VOICES:
        if name not in listed:
            data.append(
                {
                    "id": name,
                    "object": "voice",
                    "name": name,
                    "family": default.family,
                    "piper_voice": default.name if default.family == "piper" else None,
                    "speaks_as": default.name,
                    "language": None,
                    "default": False,
                }
            )
    return data


def _model_ids() -> list[str]:
    names = [v.name for v in state().voices()]
    return list(MODELS) + [n for n in names if n not in MODELS]


def family_voice(family: str, st: DaemonState) -> str:
    """The voice an OpenAI voice name speaks with under ``model: <family>``: the configured
    voice when it is of that family, else the family's own default (Kokoro: ``jm_kumo`` in
    the packaged voices, ``af_heart`` or the first voice in a user's voices file)."""
    default = st.synthesizer.default_voice
    if default.family == family:
        return default.name
    if family == "piper":
        return AUTO_FALLBACK["piper"]
    from_file = kokoro_names(kokoro_voices_path(st.config.tts.kokoro))
    for name in (AUTO_FALLBACK["kokoro"], "af_heart"):
        if name in from_file:
            return name
    return from_file[0] if from_file else AUTO_FALLBACK["kokoro"]


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "macbot"}


def _voice(body: dict[str, Any], st: DaemonState) -> str | None:
    """The voice for the request (``None``: the default): ``model`` picks the family
    (``kokoro``, ``piper``), ``voice`` the voice (an OpenAI name: the family's default)."""
    voices = {v.name: v for v in st.voices()}
    piper = set(voices)
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
    if model in FAMILY_MODELS:
        if st.synthesizer.default_voice.family != model:
            fallback = family_voice(model, st)
        named = body.get("voice")
        if isinstance(named, str) and named in voices and voices[named].family != model:
            raise UsageError(
                f"voice {named!r} is a {voices[named].family} voice; model {model!r} speaks "
                f"{model} voices (GET /v1/audio/voices lists each voice's family)",
                param="voice",
            )
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
