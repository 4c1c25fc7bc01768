"""Prometheus metrics of the daemon.

Each :class:`Metrics` has its own ``CollectorRegistry`` (never prometheus-client's global one:
tests and config reloads build many apps in one process). Request counts and latencies come
from hooks on every request; synthesis times from the synthesizer's own events
(:meth:`Synthesizer.subscribe <macbot.core.synthesizer.Synthesizer.subscribe>`), so the
playback path and streams count as well as whole-file answers; the synthesizer's counters
(cache, errors, memory) are read when ``/metrics`` is scraped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..core.stats import rss_bytes
from ..core.synthesizer import SynthesisEvent, Synthesizer

METRICS_MIME = "text/plain; version=0.0.4; charset=utf-8"
"""Prometheus' text exposition format."""

SYNTHESIS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The daemon's Prometheus registry. Survives config reloads: :meth:`bind` moves it to the
    new synthesizer, so counters keep counting (Prometheus expects that)."""

    def __init__(self, synthesizer: Synthesizer) -> None:
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
            "Synthesis time of requests that missed the phrase cache (all routes and playback).",
            buckets=SYNTHESIS_BUCKETS,
            registry=self.registry,
        )
        self.first_audio = Histogram(
            "macbot_first_audio_seconds",
            "Time from a request to its first audio (cache misses).",
            buckets=SYNTHESIS_BUCKETS,
            registry=self.registry,
        )
        self._collector = _SynthesizerCollector(synthesizer)
        self.registry.register(self._collector)
        self._unsubscribe: Callable[[], None] = lambda: None
        self.bind(synthesizer)

    def bind(self, synthesizer: Synthesizer) -> None:
        """Observe ``synthesizer`` from now on (after a config reload), and stop observing the
        one before."""
        self._unsubscribe()
        self._collector.synthesizer = synthesizer
        self._unsubscribe = synthesizer.subscribe(self._observe)

    def _observe(self, event: SynthesisEvent) -> None:
        self.synthesis.observe(event.seconds)
        if event.first_audio_seconds is not None:
            self.first_audio.observe(event.first_audio_seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def install(self, app: Flask) -> None:
        """Count and time every request of ``app``."""
        # First, so that a request refused by another before_request hook is still timed.
        app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
        app.after_request(self._record)

    def _record(self, response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        # Any token is a method in HTTP: label only the known ones, so that a client cannot
        # grow the registry (and the daemon's memory) without bound.
        method = request.method if request.method in HTTP_METHODS else "other"
        self.requests.labels(route, method, str(response.status_code)).inc()
        started = g.get("macbot_started")
        if started is not None:
            self.latency.labels(route).observe(time.perf_counter() - started)
        return response


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
"""Methods counted under their own name (others: ``other``)."""


def _start_timer() -> None:
    g.macbot_started = time.perf_counter()


class _SynthesizerCollector(Collector):
    """Reads the synthesizer's counters at scrape time (after a reload: the new one's)."""

    def __init__(self, synthesizer: Synthesizer) -> None:
        self.synthesizer = synthesizer

    def collect(self) -> Iterator[Metric]:
        synth = self.synthesizer
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
            "macbot_resident_memory_bytes",
            "Resident memory of the daemon.",
            value=float(rss_bytes()),
        )
