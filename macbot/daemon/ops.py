"""Operating the daemon: health, engine and performance, voices, the phrase cache, the
effective config, memory, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import copy
import functools
from collections.abc import Collection
from importlib import resources
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

from ..config import auth_token
from ..core import coreml_probe
from ..version import __version__
from . import reports
from .metrics import METRICS_MIME
from .openai import MODELS, OPENAI_VOICES
from .parsing import AUTO, DEFAULT_VOICE_ALIAS
from .security import masked
from .state import state

bp = Blueprint("ops", __name__)


@bp.get("/health")
def health() -> tuple[Response, int]:
    """``{"status": "ok"|"starting"|"degraded", "ready": bool, "version": str,
    "failed_listeners": {name: why}}``; 503 until the voice has been loaded and run once.
    ``degraded`` (200: HTTP serves): an enabled WebSocket or Wyoming listener could not bind."""
    st = state()
    ready = st.ready
    status = "starting" if not ready else "degraded" if st.failed_listeners else "ok"
    body = jsonify(
        status=status,
        ready=ready,
        version=__version__,
        failed_listeners=dict(st.failed_listeners),
    )
    return body, 200 if ready else 503


@bp.get("/tts-performance")
def tts_performance() -> Response:
    """Engine state, synthesis statistics (avg/p50/p95 time, real-time factor, time to first
    audio, errors), cache counters, worker and playback queues."""
    st = state()
    data = reports.performance(st.synthesizer)
    playback = st.player.status()
    data["performance"]["queued_jobs"] += playback["queued_jobs"]
    data["playback"] = playback
    return jsonify(data)


@bp.get("/info")
def info() -> Response:
    """Engine, voice, probes, the engine chain's decision, onnxruntime providers, versions,
    the config file in force, and ``optimization``: the default voice's background
    optimization (``state`` idle|running|done|failed, ``step``, ``progress`` 0–1, ``steps``
    with each one's state and reason — a skipped step says why —, ``candidates`` with size,
    MCD, WER, verdict, speed and ``chosen``, ``winner``, ``reason``, ``finished_at``,
    ``paused``, ``auto``, and the other loaded voices' summaries under ``voices``), and
    ``kokoro_coreml``: whether Kokoro runs on onnxruntime's CoreML provider here (``use``,
    ``reason``, ``probed``, ``figures``; see :mod:`macbot.core.coreml_probe`)."""
    st = state()
    data = reports.info(st.synthesizer)
    data["kokoro_coreml"] = coreml_probe.status(st.config.tts)
    data["config_source"] = str(st.config.source) if st.config.source else None
    data["optimization"] = st.optimizer.snapshot()
    return jsonify(data)


@bp.get("/voices")
def voices() -> Response:
    """``{"default": name, "voices": [{name, family, language, source, …}]}``: every
    family's voices (Piper's and Kokoro's) and the blends used so far."""
    st = state()
    return jsonify(
        default=st.synthesizer.default_voice.name,
        voices=[v.describe() for v in st.voices()],
    )


@bp.delete("/cache")
def clear_cache() -> Response:
    """Empty the phrase cache (memory and disk). ``{"cleared": n}``."""
    return jsonify(cleared=state().synthesizer.cache.clear())


@bp.post("/cache/clear")
def clear_cache_post() -> Response:
    """Same as ``DELETE /cache``, for clients that only POST."""
    return jsonify(cleared=state().synthesizer.cache.clear())


@bp.get("/config")
def config_route() -> Response:
    """The effective configuration (``AppConfig.to_dict()``) with secrets masked, plus
    ``source`` (the file, or null for built-in defaults) and load ``warnings``."""
    config = state().config
    data = config.to_dict()
    data["server"]["auth_token"] = masked(auth_token(config))
    return jsonify(
        config=data,
        source=str(config.source) if config.source else None,
        warnings=list(config.warnings),
    )


@bp.get("/memory")
def memory() -> Response:
    """Resident and virtual memory of the daemon, the phrase cache's bytes, and the size of
    each loaded voice's model file and of the configured optimized models."""
    st = state()
    return jsonify(reports.memory(st.synthesizer, st.config))


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format: requests by route and status, request, synthesis and
    first-audio time histograms, cache hits/misses/evictions, synthesis errors, memory."""
    resp = Response(state().metrics.exposition(), 200)
    resp.headers["Content-Type"] = METRICS_MIME
    resp.headers["X-Macbot-Version"] = __version__
    return resp


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of the whole API (``macbot/daemon/openapi.yaml``) as JSON,
    with this daemon's text limit and names filled in (see :func:`served_document`)."""
    st = state()
    return jsonify(served_document(st.config.server.max_text_chars, st.voice_names()))


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The packaged ``openapi.yaml``, parsed."""
    text = resources.files(__package__).joinpath("openapi.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def served_document(max_text_chars: int, voices: Collection[str]) -> dict[str, Any]:
    """:func:`openapi_document` as this daemon serves it, so that a request its schemas
    accept is one the daemon speaks (issue 21: schemathesis found names the schemas left
    free refused with 400): ``Text``'s ``maxLength`` is ``server.max_text_chars``; voice
    names are those installed here (``voices``) and ``default``, as an ``enum``; the OpenAI
    route's ``model`` is an ``enum`` of its models and the voices, its ``voice`` a ``pattern``
    that also takes OpenAI's voice names in any case."""
    doc = copy.deepcopy(openapi_document())
    schemas = doc["components"]["schemas"]
    schemas["Text"]["maxLength"] = max_text_chars
    names = sorted(voices)
    schemas["VoiceName"]["enum"] = [*names, DEFAULT_VOICE_ALIAS, AUTO, None]
    speech = schemas["SpeechRequest"]["properties"]
    speech["model"]["enum"] = [*MODELS, *(n for n in names if n not in MODELS)]
    spoken = [_literal(n) for n in [*names, DEFAULT_VOICE_ALIAS, AUTO]]
    spoken += ["".join(f"[{c.upper()}{c}]" for c in n) for n in OPENAI_VOICES]
    name = {"type": "string", "pattern": f"^(?:{'|'.join(spoken)})$"}
    speech["voice"] = {
        "description": speech["voice"]["description"],
        "anyOf": [
            {"type": "null"},
            name,
            {"type": "object", "required": ["id"], "properties": {"id": name}},
        ],
    }
    return doc


def _literal(text: str) -> str:
    """``text`` as a regular expression matching only itself (ECMA-262 and Python alike)."""
    return "".join(f"\\{c}" if c in r".^$*+?()[]{}|\/" else c for c in text)
