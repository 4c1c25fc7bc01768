"""Operator endpoints: ``/config``, ``/memory``, ``/metrics`` (Prometheus text format) and
``/openapi.json`` (the API's OpenAPI document).

Metrics live in a :class:`Metrics` object with its own ``CollectorRegistry`` per app (never
prometheus-client's global one: tests and config reloads build many apps in one process).
Request counts and latencies are recorded by hooks on every request; the synthesizer's own
counters (cache, errors, memory) are read when ``/metrics`` is scraped.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import psutil
import yaml
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from . import __version__
from .config import AppConfig
from .security import auth_token, masked

_LOGGER = logging.getLogger(__name__)

METRICS_MIME = "text/plain; version=0.0.4; charset=utf-8"
"""Prometheus' text exposition format."""

SYNTHESIS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

EXTENSION = "macbot.metrics"
"""Key of the app's :class:`Metrics` in ``app.extensions``."""

bp = Blueprint("ops", __name__)


class Metrics:
    """The app's Prometheus registry and the instruments the request hooks feed."""

    def __init__(self, app: Flask) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "macbot_http_requests",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "macbot_http_request_seconds",
            "Time to produce the response (streams: until the first byte is ready).",
            ["route"],
            registry=self.registry,
        )
        self.synthesis = Histogram(
            "macbot_synthesis_seconds",
            "Synthesis time of requests that missed the phrase cache.",
            buckets=SYNTHESIS_BUCKETS,
            registry=self.registry,
        )
        self._collector = _SynthesizerCollector(app)
        self.registry.register(self._collector)

    def bind(self, app: Flask) -> None:
        """Read the synthesizer of ``app`` from now on (after a config reload)."""
        self._collector.app = app

    def observe_synthesis(self, seconds: float) -> None:
        self.synthesis.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _SynthesizerCollector(Collector):
    """Reads the synthesizer's counters at scrape time (after a reload: the new one's)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        synth = self.app.extensions["macbot"]["synthesizer"]
        cache = synth.cache.stats()
        yield CounterMetricFamily(
            "macbot_cache_hits", "Phrase cache hits.", value=float(cache["hits"])
        )
        yield CounterMetricFamily(
            "macbot_cache_misses", "Phrase cache misses.", value=float(cache["misses"])
        )
        yield CounterMetricFamily(
            "macbot_cache_evictions", "Phrase cache evictions.", value=float(cache["evictions"])
        )
        yield GaugeMetricFamily(
            "macbot_cache_entries", "Phrases in the cache.", value=float(cache["entries"])
        )
        yield GaugeMetricFamily(
            "macbot_cache_bytes", "Bytes of audio in the cache.", value=float(cache["bytes"])
        )
        yield CounterMetricFamily(
            "macbot_synthesis_errors",
            "Syntheses that failed in the engine.",
            value=float(synth.stats.errors),
        )
        yield CounterMetricFamily(
            "macbot_syntheses",
            "Completed syntheses (cache misses).",
            value=float(synth.stats.requests),
        )
        yield GaugeMetricFamily(
            "macbot_ready",
            "1 when the default voice is loaded.",
            value=1.0 if synth.loaded else 0.0,
        )
        yield GaugeMetricFamily(
            "macbot_resident_memory_bytes", "Resident memory of the daemon.", value=float(_rss())
        )


def register(app: Flask) -> None:
    """Add the operator routes and the metrics hooks to ``app``."""
    metrics = Metrics(app)
    app.extensions[EXTENSION] = metrics
    # First, so that a request refused by another before_request hook is still timed.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_record)
    app.register_blueprint(bp)


def metrics_of(app: Flask) -> Metrics | None:
    """The app's :class:`Metrics`, if :func:`register` ran."""
    return app.extensions.get(EXTENSION)


def _start_timer() -> None:
    g.macbot_started = time.perf_counter()


def _record(response: Response) -> Response:
    metrics = metrics_of(current_app)
    if metrics is None:
        return response
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    metrics.requests.labels(route, request.method, str(response.status_code)).inc()
    started = g.get("macbot_started")
    if started is not None:
        metrics.latency.labels(route).observe(time.perf_counter() - started)
    seconds = response.headers.get("X-Synthesis-Seconds")
    if seconds and response.headers.get("X-Cache") == "miss":
        try:
            metrics.observe_synthesis(float(seconds))
        except ValueError:
            _LOGGER.debug("unparsable X-Synthesis-Seconds %r", seconds)
    return response


# -- routes ------------------------------------------------------------------------------------


@bp.get("/config")
def config_route() -> Response:
    """The effective configuration (``AppConfig.to_dict()``) with secrets masked, plus
    ``source`` (the file, or null for built-in defaults) and load ``warnings``."""
    config: AppConfig = current_app.extensions["macbot"]["config"]
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
    config: AppConfig = current_app.extensions["macbot"]["config"]
    synth = current_app.extensions["macbot"]["synthesizer"]
    info = psutil.Process(os.getpid()).memory_info()
    models: list[dict[str, Any]] = []
    for name in synth.info()["loaded_voices"]:
        voice = synth.resolve(name)
        models.append(_file_entry(voice.model_path, kind="voice", voice=name))
    piper = config.tts.piper
    for kind, path in (("quantized", piper.quantized_path), ("coreml", piper.coreml_path)):
        if path is not None and Path(path).exists():
            models.append(_file_entry(Path(path), kind=kind, voice=None))
    return jsonify(
        rss_bytes=info.rss,
        rss_mb=round(info.rss / 1e6, 1),
        vms_bytes=info.vms,
        cache_bytes=synth.cache.stats()["bytes"],
        models=models,
        model_bytes=sum(m["bytes"] for m in models),
    )


@bp.get("/metrics")
def metrics_route() -> Response:
    """Prometheus text format: requests by route and status, request and synthesis time
    histograms, cache hits/misses/evictions, synthesis errors, resident memory."""
    metrics = metrics_of(current_app)
    assert metrics is not None  # register() installs both together
    resp = Response(metrics.exposition(), 200)
    resp.headers["Content-Type"] = METRICS_MIME
    resp.headers["X-Macbot-Version"] = __version__
    return resp


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of the whole API (``macbot/openapi.yaml``) as JSON."""
    return jsonify(openapi_document())


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The packaged ``openapi.yaml``, parsed."""
    text = resources.files("macbot").joinpath("openapi.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _file_entry(path: Path, kind: str, voice: str | None) -> dict[str, Any]:
    size = path.stat().st_size if path.is_file() else _dir_size(path)
    return {"kind": kind, "voice": voice, "path": str(path), "bytes": size}


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _rss() -> int:
    return psutil.Process(os.getpid()).memory_info().rss
