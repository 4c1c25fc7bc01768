"""The local HTTP API (Flask app factory). The WSGI server that runs it is in ``server.py``."""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from . import __version__, openai_api, ops_api, security
from .audio import wav_bytes
from .config import AppConfig
from .engine import SynthesisError
from .playback import Player, SoundDeviceOutput
from .synthesizer import EmptyTextError, Synthesizer
from .voices import VoiceNotFoundError, list_voices

_LOGGER = logging.getLogger(__name__)


class BadRequest(ValueError):
    """A request the API refuses; becomes JSON ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def create_app(
    config: AppConfig | None = None,
    synthesizer: Synthesizer | None = None,
    player: Player | None = None,
) -> Flask:
    """Build the app. ``synthesizer`` and ``player`` default to real ones built from ``config``."""
    config = config or AppConfig()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.server.max_body_bytes
    app.json.sort_keys = False
    synth = synthesizer or Synthesizer(config)
    player = player or Player(SoundDeviceOutput())
    app.extensions["macbot"] = {"config": config, "synthesizer": synth, "player": player}

    @app.errorhandler(BadRequest)
    def _bad_request(exc: BadRequest):
        return jsonify(error=str(exc)), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body too large (limit {config.server.max_body_bytes} bytes)"
        return security.error_response(message, exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Last line of defence: one failed request must not take the daemon down.
        _LOGGER.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error=f"internal error: {type(exc).__name__}: {exc}"), 500

    @app.get("/health")
    def health():
        """``{"status": "ok"|"starting", "ready": bool, "version": str}``."""
        ready = synth.loaded and not app.extensions["macbot"].get("warming", False)
        return jsonify(status="ok" if ready else "starting", ready=ready, version=__version__), (
            200 if ready else 503
        )

    @app.post("/speak")
    def speak():
        """Speak text.

        Request JSON: ``text`` (required), ``voice``, ``speed`` (0.25–4), ``play`` (default
        true). With ``play: false`` the answer is ``audio/wav``. With ``play`` the audio is
        queued for the sound device and the answer is JSON ``{"status": "queued", …}``; where
        the machine has no output device the answer says so (``"played": false``).
        """
        body = _json_body()
        text = _text(body, "text", config.server.max_text_chars)
        voice = _optional_str(body, "voice")
        speed = _speed(body)
        play = _optional_bool(body, "play", default=True)
        options = synth.default_options().with_overrides(speed=speed)
        result = _run(lambda: synth.synthesize(text, voice, options))
        headers = {
            "X-Engine": result.engine,
            "X-Voice": result.voice,
            "X-Cache": "hit" if result.cached else "miss",
            "X-Audio-Duration": f"{result.duration:.3f}",
            "X-Synthesis-Seconds": f"{result.seconds:.4f}",
        }
        if not play:
            return Response(
                wav_bytes(result.samples, result.sample_rate), 200, headers, mimetype="audio/wav"
            )
        info: dict[str, Any] = {
            "engine": result.engine,
            "voice": result.voice,
            "cached": result.cached,
            "duration": round(result.duration, 3),
            "synthesis_seconds": round(result.seconds, 4),
        }
        ok, reason = player.available()
        if not ok:
            return (
                jsonify(
                    status="synthesized",
                    played=False,
                    message=f"playback unavailable: {reason}",
                    **info,
                ),
                200,
                headers,
            )
        from .audio import AudioChunk  # local: only the playing path needs it

        player.enqueue(
            [AudioChunk(result.samples, result.sample_rate, result.engine, result.voice)]
        )
        return jsonify(status="queued", played=True, **info), 200, headers

    @app.get("/tts-performance")
    def tts_performance():
        """Engine state and synthesis statistics (the guide's shape)."""
        return jsonify(synth.performance())

    @app.get("/info")
    def info():
        """Engine, voice, onnxruntime providers and versions."""
        return jsonify(synth.info())

    @app.get("/voices")
    def voices():
        """``{"default": name, "voices": [{name, source, language, …}]}``."""
        return jsonify(
            default=synth.default_voice.name,
            voices=[v.describe() for v in list_voices(config.tts.voices_dir)],
        )

    security.install(app)
    ops_api.register(app)
    openai_api.register(app)
    return app


# -- request parsing ---------------------------------------------------------------------------


def _json_body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise BadRequest('request body must be a JSON object, e.g. {"text": "Hello"}')
    return body


def _text(body: dict[str, Any], key: str, limit: int) -> str:
    if key not in body:
        raise BadRequest(f"missing field '{key}'")
    text = body[key]
    if not isinstance(text, str):
        raise BadRequest(f"'{key}' must be a string")
    if not text.strip():
        raise BadRequest(f"'{key}' is empty")
    if len(text) > limit:
        raise BadRequest(f"'{key}' is too long ({len(text)} characters, limit {limit})", 413)
    return text


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise BadRequest(f"'{key}' must be a non-empty string")
    return value


def _optional_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"'{key}' must be true or false")
    return value


def _speed(body: dict[str, Any]) -> float | None:
    value = body.get("speed")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest("'speed' must be a number")
    if not 0.25 <= value <= 4.0:
        raise BadRequest(f"'speed' must be between 0.25 and 4 (got {value})")
    return float(value)


def _run(fn):
    """Call the synthesizer, turning its errors into API errors."""
    try:
        return fn()
    except EmptyTextError as exc:
        raise BadRequest(str(exc)) from exc
    except VoiceNotFoundError as exc:
        raise BadRequest(str(exc)) from exc
    except SynthesisError as exc:
        raise BadRequest(str(exc), 500) from exc
