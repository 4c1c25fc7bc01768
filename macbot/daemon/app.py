"""The local HTTP API: the Flask app factory. The WSGI server that runs it is in ``server.py``.

Routes live in one blueprint per group (:mod:`.speak`, :mod:`.ops`, :mod:`.openai`); shared
state is one :class:`~macbot.daemon.state.DaemonState`. Errors are rendered here, once:
every :class:`~macbot.errors.MacbotError` becomes its own status with ``{"error", "code"}``
(OpenAI's ``{"error": {"message", "type", "param", "code"}}`` under ``/v1/`` and
``/audio/``), so routes only raise.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ..config import AppConfig
from ..core.playback import Player, SoundDeviceOutput
from ..core.synthesizer import Synthesizer
from ..errors import (
    MacbotError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UsageError,
)
from . import hooks, openai, ops, page, security, speak
from .metrics import Metrics
from .state import EXTENSION, DaemonState
from .supervisor import OptimizationSupervisor

_LOGGER = logging.getLogger(__name__)

OPENAI_PATHS = ("/v1/", "/audio/")
"""Routes whose errors take OpenAI's shape."""

_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}


def create_app(
    config: AppConfig | None = None,
    synthesizer: Synthesizer | None = None,
    player: Player | None = None,
    metrics: Metrics | None = None,
    optimizer: OptimizationSupervisor | None = None,
) -> Flask:
    """Build the app. ``synthesizer``, ``player``, ``metrics`` and the background
    ``optimizer`` default to new ones built from ``config`` (a config reload passes the
    running player and metrics). The optimizer is started by :func:`~.server.serve`, not
    here."""
    config = config or AppConfig()
    app = Flask(__name__)
    # "/v1/models//x" is the model "/x", not a redirect (an undocumented 308 before issue 11).
    app.url_map.merge_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = config.server.max_body_bytes
    app.json.sort_keys = False
    synth = synthesizer or Synthesizer(config)
    player = player or Player(SoundDeviceOutput(config.voice_assistant.audio.output_device))
    if metrics is None:
        metrics = Metrics(synth)
    else:
        metrics.bind(synth)
    optimizer = optimizer or OptimizationSupervisor(config, synth)
    state = DaemonState(config, synth, player, metrics, optimizer)
    app.extensions[EXTENSION] = state
    _count_in_flight(app, state)
    metrics.install(app)
    security.install(app)
    app.register_error_handler(MacbotError, render_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.register_blueprint(speak.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(openai.bp)
    app.register_blueprint(openai.root)
    app.register_blueprint(page.bp)
    app.register_blueprint(hooks.bp)
    return app


def _count_in_flight(app: Flask, state: DaemonState) -> None:
    """Keep ``state.requests_in_flight`` (what a config reload waits for before it closes the
    synthesizer it replaced)."""
    lock = threading.Lock()

    def started() -> None:
        with lock:
            state.requests_in_flight += 1

    def finished(_exc: BaseException | None) -> None:
        with lock:
            state.requests_in_flight -= 1

    app.before_request_funcs.setdefault(None, []).insert(0, started)
    app.teardown_request(finished)


def render_error(exc: MacbotError) -> Response:
    """The one rendering of an error over HTTP."""
    status = exc.http_status
    if request.path.startswith(OPENAI_PATHS):
        kind = _OPENAI_TYPES.get(status) or (
            "server_error" if status >= 500 else "invalid_request_error"
        )
        resp = jsonify(
            error={"message": exc.message, "type": kind, "param": exc.param, "code": exc.code}
        )
    else:
        resp = jsonify(exc.to_dict())
    resp.status_code = status
    if isinstance(exc, Unauthorized):
        resp.headers["WWW-Authenticate"] = 'Bearer realm="macbot"'
    return resp


def _http_error(exc: HTTPException) -> Response:
    """werkzeug's own errors (404, 405, 413 …) in the same shapes."""
    message = exc.description or exc.name
    if exc.code == 413:
        limit = request.max_content_length
        error: MacbotError = PayloadTooLarge(f"request body too large (limit {limit} bytes)")
    elif exc.code == 404:
        error = NotFound(f"no route {request.path}")
    elif exc.code == 405:
        error = MethodNotAllowed(f"{request.method} is not allowed on {request.path}")
    else:
        error = UsageError(message)
        error.http_status = exc.code or 400  # type: ignore[misc]  (werkzeug's own status)
    resp = render_error(error)
    if exc.code == 405:
        resp.headers["Allow"] = ", ".join(exc.valid_methods or ())  # type: ignore[attr-defined]
    return resp


def _unexpected(exc: Exception) -> Response:
    # Last line of defence: one failed request must not take the daemon down.
    _LOGGER.exception("unhandled error on %s %s", request.method, request.path)
    return render_error(MacbotError(f"internal error: {type(exc).__name__}: {exc}"))
