"""The local HTTP API (Flask app factory). The WSGI server that runs it is in ``server.py``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from . import __version__, openai_api, ops_api, security
from .audio import to_pcm16, wav_bytes, wav_header_open_ended
from .config import AppConfig
from .engine import SynthesisError, check_speed
from .playback import NoAudioDeviceError, Player, SoundDeviceOutput
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
    player = player or Player(SoundDeviceOutput(config.voice_assistant.audio.output_device))
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
        true; false when ``stream``), ``stream`` (default false), ``format`` (``wav`` or
        ``pcm``; with ``stream``).

        - ``play: true``: synthesis starts in the background and is queued for the sound
          device, which starts on the first sentence; the answer returns at once:
          ``{"status": "queued", "job_id": n, "played": true, …}``. Where the machine has no
          output device: ``{"status": "unavailable", "played": false, "message": …}``.
        - ``play: false``: the whole utterance as ``audio/wav``.
        - ``stream: true``: the audio as each piece is ready, chunked: ``format: "wav"`` (an
          open-ended WAV header, then samples) or ``"pcm"`` (raw s16le mono; the rate is in
          ``X-Sample-Rate``).
        """
        body = _json_body()
        text = _text(body, "text", config.server.max_text_chars)
        voice = _optional_str(body, "voice")
        speed = _speed(body)
        stream = _optional_bool(body, "stream", default=False)
        play = _optional_bool(body, "play", default=not stream)
        fmt = _optional_str(body, "format") or "wav"
        if fmt not in ("wav", "pcm"):
            raise BadRequest(f"'format' must be 'wav' or 'pcm' (got {fmt!r})")
        if stream and play:
            raise BadRequest("'stream' returns the audio; it cannot be combined with 'play'")
        options = synth.default_options().with_overrides(speed=speed)
        if stream:
            return _stream_response(_run(lambda: synth.stream(text, voice, options)), fmt)
        if play:
            engine = _run(lambda: synth.engine(voice))  # an unknown voice is a 400 either way
            ok, reason = player.available()
            if not ok:
                # Synthesize anyway: the text is checked and the phrase lands in the cache.
                result = _run(lambda: synth.synthesize(text, voice, options))
                return jsonify(
                    status="unavailable",
                    played=False,
                    message=f"playback unavailable: {reason}",
                    engine=result.engine,
                    voice=result.voice,
                    duration=round(result.duration, 3),
                    cached=result.cached,
                )
            job = player.submit(_run(lambda: synth.stream(text, voice, options)))
            return jsonify(
                status="queued",
                played=True,
                job_id=job.id,
                queued_jobs=player.queued(),
                engine=engine.engine_type,
                voice=engine.voice.name,
            )
        result = _run(lambda: synth.synthesize(text, voice, options))
        headers = {
            "X-Engine": result.engine,
            "X-Voice": result.voice,
            "X-Cache": "hit" if result.cached else "miss",
            "X-Audio-Duration": f"{result.duration:.3f}",
            "X-Synthesis-Seconds": f"{result.seconds:.4f}",
        }
        return Response(
            wav_bytes(result.samples, result.sample_rate), 200, headers, mimetype="audio/wav"
        )

    @app.get("/jobs/<int:job_id>")
    def job(job_id: int):
        """A playback job queued by ``/speak``: ``{"id", "state", "done"}``; ``state`` is
        ``queued``, ``playing``, ``done``, ``interrupted`` or ``failed``. 404 for an unknown
        (or long forgotten) id."""
        found = player.job(job_id)
        if found is None:
            raise BadRequest(f"no playback job {job_id}", 404)
        return jsonify(id=found.id, state=found.state, done=found.done.is_set())

    @app.post("/interrupt")
    def interrupt():
        """Barge-in: stop what is playing and drop the queue. ``{"stopped": 0|1, "dropped": n}``."""
        return jsonify(player.interrupt())

    @app.get("/devices")
    def devices():
        """Sound output devices: ``{"devices": [{index, name, channels}], "output_device": …,
        "available": bool}`` (``"error"`` says why when there is no audio)."""
        configured = config.voice_assistant.audio.output_device
        try:
            found = player.devices()
        except NoAudioDeviceError as exc:
            return jsonify(devices=[], output_device=configured, available=False, error=str(exc))
        return jsonify(devices=found, output_device=configured, available=bool(found))

    @app.delete("/cache")
    def clear_cache():
        """Empty the phrase cache (memory and disk). ``{"cleared": n}``."""
        return jsonify(cleared=synth.cache.clear())

    @app.post("/cache/clear")
    def clear_cache_post():
        """Same as ``DELETE /cache``, for clients that only POST."""
        return jsonify(cleared=synth.cache.clear())

    @app.get("/tts-performance")
    def tts_performance():
        """Engine state, synthesis statistics (avg/p50/p95 time, real-time factor, time to first
        audio, errors), cache counters, worker and playback queues."""
        data = synth.performance()
        playback = player.status()
        data["performance"]["queued_jobs"] += playback["queued_jobs"]
        data["playback"] = playback
        return jsonify(data)

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
    try:
        return check_speed(body.get("speed"))
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def _stream_response(chunks, fmt: str) -> Response:
    """A chunked response that sends each piece of ``chunks`` as soon as it is ready."""
    try:
        first = next(chunks)
    except StopIteration:
        raise BadRequest("text has nothing to speak") from None
    except SynthesisError as exc:
        raise BadRequest(str(exc), 500) from exc
    rate = first.sample_rate

    def body():
        try:
            if fmt == "wav":
                yield wav_header_open_ended(rate)
            yield to_pcm16(first.samples)
            for chunk in chunks:
                yield to_pcm16(chunk.samples)
        except Exception:  # headers are sent: all we can do is end the stream early and log
            _LOGGER.exception("streaming synthesis failed")
        finally:
            chunks.close()

    headers = {
        "X-Engine": first.engine,
        "X-Voice": first.voice,
        "X-Cache": "hit" if first.meta.get("cached") else "miss",
        "X-Sample-Rate": str(rate),
        "X-Audio-Format": "wav" if fmt == "wav" else "s16le",
    }
    mimetype = "audio/wav" if fmt == "wav" else "audio/L16"
    if fmt == "pcm":
        mimetype = f"audio/L16;rate={rate};channels=1"
    return Response(body(), 200, headers, mimetype=mimetype)


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
