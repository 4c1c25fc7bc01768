"""Operator endpoints over real HTTP: /config, /memory, /metrics."""

from __future__ import annotations

import time

from conftest import RecordingOutput, make_config, start_server
from prometheus_client.parser import text_string_to_metric_families


def metric_samples(text: str) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted labels): value}`` from Prometheus text (fails if unparsable)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_config_masks_the_token(shared_synth):
    config = make_config(server__auth_token="very-secret-value", server__max_text_chars=1234)
    live, server, thread = start_server(config, RecordingOutput(), shared_synth)
    try:
        resp = live.get("/config", headers={"Authorization": "Bearer very-secret-value"})
        assert resp.status_code == 200
        assert "very-secret-value" not in resp.text
        body = resp.json()
        assert body["config"]["server"]["auth_token"] == "***"
        assert body["config"]["server"]["max_text_chars"] == 1234
        assert body["config"]["models"]["tts"]["piper"]["noise_scale"] == 0.0
    finally:
        server.request_stop()
        thread.join(timeout=5)


def test_config_without_token(live_server, monkeypatch):
    monkeypatch.delenv("MACBOT_TOKEN", raising=False)
    body = live_server.get("/config").json()
    assert body["config"]["server"]["auth_token"] is None
    assert body["source"] is None and body["warnings"] == []


def test_memory_reports_rss_and_model_sizes(live_server):
    body = live_server.get("/memory").json()
    assert body["rss_bytes"] > 50_000_000  # onnxruntime and a 63 MB voice are loaded
    voice = live_server.synth.default_voice
    entry = next(m for m in body["models"] if m["voice"] == voice.name)
    assert entry["bytes"] == voice.model_path.stat().st_size
    assert body["model_bytes"] >= entry["bytes"]
    # the loaded voices, read from the synthesizer's voice set (issue 18: not via /info)
    listed = [m["voice"] for m in body["models"] if m["kind"] == "voice"]
    assert listed == live_server.synth.loaded_voices()


def test_metrics_count_requests_synthesis_and_cache(live_server):
    live_server.post("/speak", json={"text": "Count me.", "play": False})  # miss
    live_server.post("/speak", json={"text": "Count me.", "play": False})  # hit
    live_server.post("/speak", json={"text": ""})  # 400
    live_server.get("/nope")  # 404, no route
    resp = live_server.get("/metrics")
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = metric_samples(resp.text)
    speak_ok = (("method", "POST"), ("route", "/speak"), ("status", "200"))
    assert samples[("macbot_http_requests_total", speak_ok)] == 2
    speak_bad = (("method", "POST"), ("route", "/speak"), ("status", "400"))
    assert samples[("macbot_http_requests_total", speak_bad)] == 1
    unmatched = (("method", "GET"), ("route", "<unmatched>"), ("status", "404"))
    assert samples[("macbot_http_requests_total", unmatched)] == 1
    assert samples[("macbot_synthesis_seconds_count", ())] == 1  # only the miss synthesized
    assert samples[("macbot_synthesis_seconds_sum", ())] > 0
    cache = live_server.synth.cache.stats()
    assert samples[("macbot_cache_hits_total", ())] == cache["hits"] >= 1
    assert samples[("macbot_cache_misses_total", ())] == cache["misses"]
    assert samples[("macbot_synthesis_errors_total", ())] == live_server.synth.stats.errors
    assert samples[("macbot_ready", ())] == 1
    assert samples[("macbot_resident_memory_bytes", ())] > 50_000_000


def test_each_app_has_its_own_registry(live_server, shared_synth):
    live_server.get("/info")
    other, server, thread = start_server(shared_synth.config, RecordingOutput(), shared_synth)
    try:
        samples = metric_samples(other.get("/metrics").text)
        info = (("method", "GET"), ("route", "/info"), ("status", "200"))
        assert ("macbot_http_requests_total", info) not in samples
    finally:
        server.request_stop()
        thread.join(timeout=5)


def test_playback_and_streams_reach_the_synthesis_histogram(live_server):
    """Issue 10: synthesis time comes from the synthesizer's events, not from response headers,
    so the playback path (JSON answer, no timing header) and streams are counted too."""
    job = live_server.post("/speak", json={"text": "Played, not returned."}).json()
    for _ in range(100):
        if live_server.get(f"/jobs/{job['job_id']}").json()["done"]:
            break
        time.sleep(0.1)
    streamed = live_server.post("/speak", json={"text": "Streamed back.", "stream": True})
    assert streamed.status_code == 200 and len(streamed.content) > 44
    samples = metric_samples(live_server.get("/metrics").text)
    assert samples[("macbot_synthesis_seconds_count", ())] == 2
    assert samples[("macbot_first_audio_seconds_count", ())] == 2


def test_a_voice_no_engine_can_load_is_a_503_with_its_code(shared_synth, tmp_path):
    """Issue 10: "no engine for voice …" was a bare RuntimeError and a generic 500."""
    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "broken.onnx").write_bytes(b"not a model")
    (voices / "broken.onnx.json").write_text(shared_synth.default_voice.config_path.read_text())
    config = make_config(models__tts__voices_dir=str(voices))
    live, server, thread = start_server(config, RecordingOutput(), None)
    try:
        resp = live.post("/speak", json={"text": "Hello.", "voice": "broken", "play": False})
        assert resp.status_code == 503
        body = resp.json()
        assert body["code"] == "no_engine" and "no engine for voice broken" in body["error"]
        resp = live.post("/v1/audio/speech", json={"model": "broken", "input": "Hi."})
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "no_engine"
        assert live.post("/speak", json={"text": "Still here.", "play": False}).status_code == 200
    finally:
        server.request_stop()
        thread.join(timeout=5)
        live.synth.close()
