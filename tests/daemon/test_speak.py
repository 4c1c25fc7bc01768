"""The real app over real HTTP (waitress on a free port)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import soundfile as sf

from macbot.core.engines.piper import SynthesisOptions
from macbot.daemon.state import state_of

SEED_TEXT = "Testing quantized TTS performance."


def read_wav(content: bytes) -> tuple[np.ndarray, int]:
    data, rate = sf.read(io.BytesIO(content), dtype="float32")
    return data, rate


def test_speak_returns_wav_when_not_playing(live_server):
    resp = live_server.post("/speak", json={"text": SEED_TEXT, "play": False})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "audio/wav"
    assert resp.headers["X-Engine"] == "piper"
    data, rate = read_wav(resp.content)
    assert rate == 22050
    assert 1.0 < len(data) / rate < 5.0
    assert float(resp.headers["X-Audio-Duration"]) == pytest.approx(len(data) / rate, abs=1e-3)


@pytest.mark.parametrize(
    ("fmt", "stream", "mime", "sf_format"),
    [
        ("flac", False, "audio/flac", "FLAC"),
        ("aiff", False, "audio/aiff", "AIFF"),
        ("mp3", True, "audio/mpeg", "MP3"),
        ("flac", True, "audio/flac", "FLAC"),
    ],
)
def test_speak_writes_every_file_format(live_server, fmt, stream, mime, sf_format):
    """Issue 18: /speak's files and streams come from the one audio writer, in every format
    (``macbot say -o x.flac --captions`` asks the daemon for its format)."""
    body = {"text": SEED_TEXT, "play": False, "stream": stream, "format": fmt}
    resp = live_server.post("/speak", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == mime and resp.headers["X-Sample-Rate"] == "22050"
    info = sf.info(io.BytesIO(resp.content))
    assert info.format == sf_format and info.samplerate == 22050
    assert 1.0 < info.duration < 5.0
    if stream:
        assert resp.headers["X-Audio-Format"] == fmt


def test_speak_timestamps_carry_the_audio_in_the_format_asked(live_server):
    body = {"text": SEED_TEXT, "play": False, "timestamps": True, "format": "flac"}
    answer = live_server.post("/speak", json=body).json()
    info = sf.info(io.BytesIO(base64.b64decode(answer["audio"])))
    assert info.format == "FLAC" and info.duration == pytest.approx(answer["duration"], abs=1e-3)


def test_wav_matches_engine_output(live_server):
    """What HTTP returns is the engine's audio of the text front end's words ("TTS" spelled
    out), 16-bit quantized."""
    resp = live_server.post("/speak", json={"text": SEED_TEXT, "play": False})
    data, _ = read_wav(resp.content)
    engine = live_server.synth.engine()
    options = live_server.synth.default_options()
    words = live_server.synth.normalize(SEED_TEXT).text
    assert words == "Testing quantized T T S performance."
    direct = np.concatenate([c.samples for c in engine.synthesize(words, options)])
    assert data.shape == direct.shape
    assert np.max(np.abs(data - direct)) < 2 / 32767


def test_seed_curl_plays_through_the_output(live_server):
    resp = live_server.post("/speak", json={"text": SEED_TEXT})
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "queued" and body["played"] is True
    assert body["engine"] == "piper" and isinstance(body["job_id"], int)
    state_of(live_server.app).player.enqueue([]).wait(10)
    assert len(live_server.output.played) == 1
    samples, rate = live_server.output.played[0]
    expected = live_server.synth.synthesize(SEED_TEXT)  # now a cache hit: the same audio
    assert expected.cached
    assert rate == 22050 and np.array_equal(samples, expected.samples)


def test_no_output_device_is_a_message_not_a_crash(live_server):
    live_server.output.is_available = False
    resp = live_server.post("/speak", json={"text": SEED_TEXT})
    assert resp.status_code == 200
    body = resp.json()
    assert body["played"] is False
    assert "playback unavailable" in body["message"]
    assert live_server.output.played == []
    # It still synthesized (issue 2): the phrase is now a cache hit.
    assert 1.0 < body["duration"] < 5.0
    again = live_server.post("/speak", json={"text": SEED_TEXT, "play": False})
    assert again.headers["X-Cache"] == "hit"


def test_speed_and_cache(live_server):
    before = live_server.get("/tts-performance").json()["performance"]
    normal = live_server.post("/speak", json={"text": "One two three four.", "play": False})
    fast = live_server.post(
        "/speak", json={"text": "One two three four.", "play": False, "speed": 2.0}
    )
    again = live_server.post("/speak", json={"text": "One  two three four. ", "play": False})
    assert normal.headers["X-Cache"] == "miss" and fast.headers["X-Cache"] == "miss"
    assert again.headers["X-Cache"] == "hit"
    assert again.content == normal.content
    assert len(fast.content) < 0.7 * len(normal.content)
    perf = live_server.get("/tts-performance").json()
    assert perf["performance"]["cache_hits"] - before["cache_hits"] == 1
    assert perf["performance"]["cache_misses"] - before["cache_misses"] == 2


def test_tts_performance_has_the_guides_shape(live_server):
    live_server.post("/speak", json={"text": "Stats please.", "play": False})
    perf = live_server.get("/tts-performance").json()
    assert perf["engine_loaded"] is True
    assert perf["engine_type"] == "piper"
    p = perf["performance"]
    for key in ("avg_duration", "memory_mb", "cache_hits", "errors"):
        assert key in p
    assert p["avg_duration"] > 0
    assert p["memory_mb"] > 50
    assert p["errors"] == 0


def test_info_names_engine_and_versions(live_server):
    info = live_server.get("/info").json()
    assert info["engine"]["engine_type"] == "piper"
    assert info["engine"]["providers"] == ["CPUExecutionProvider"]
    assert "CPUExecutionProvider" in info["available_providers"]
    assert info["versions"]["piper-tts"] == "1.8.0"
    # Issue 20 item 3: why Kokoro does not run on CoreML here (this onnxruntime has no such
    # provider, so it was not probed)
    coreml = info["kokoro_coreml"]
    assert not coreml["use"] and not coreml["probed"]
    assert "CoreMLExecutionProvider" in coreml["reason"]


def test_health_and_voices(live_server):
    health = live_server.get("/health")
    assert health.status_code == 200 and health.json()["ready"] is True
    voices = live_server.get("/voices").json()
    assert voices["default"] == "en_US-joe-medium"
    assert voices["voices"][0]["name"] == "en_US-joe-medium"


BAD_REQUESTS = [
    ({"text": ""}, 400, "'text' is empty"),
    ({"text": "   \n\t "}, 400, "'text' is empty"),
    ({}, 400, "missing field 'text'"),
    ({"text": 42}, 400, "'text' must be a string"),
    ({"text": "hi", "speed": "fast"}, 400, "'speed' must be a number"),
    ({"text": "hi", "speed": 9}, 400, "'speed' must be between"),
    ({"text": "hi", "play": "no"}, 400, "'play' must be true or false"),
    ({"text": "hi", "voice": "nobody"}, 400, "unknown voice 'nobody'"),
    ({"text": "x" * 5001}, 400, "too long"),  # 413 before issue 21 (the spec's maxLength)
    ([1, 2], 400, "must be a JSON object"),
]


@pytest.mark.parametrize(("body", "status", "fragment"), BAD_REQUESTS)
def test_bad_input_is_a_json_error_and_the_daemon_keeps_serving(
    live_server, body, status, fragment
):
    resp = live_server.post("/speak", json=body)
    assert resp.status_code == status
    assert fragment in resp.json()["error"]
    assert live_server.output.played == []  # nothing was spoken
    ok = live_server.post("/speak", json={"text": "Still here.", "play": False})
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "audio/wav"


def test_malformed_json(live_server):
    resp = live_server.post(
        "/speak", data=b'{"text": "hi"', headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert "JSON object" in resp.json()["error"]
    assert live_server.get("/health").status_code == 200


def test_oversized_body_is_413(live_server):
    resp = live_server.post(
        "/speak",
        data=b'{"text": "' + b"a" * 70_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 413
    assert "too large" in resp.json()["error"]
    assert live_server.get("/health").status_code == 200


def test_unknown_route_and_method_are_json(live_server):
    assert live_server.get("/nope").json()["error"]
    resp = live_server.get("/speak")
    assert resp.status_code == 405 and resp.json()["error"]


def test_deterministic_over_http(live_server):
    live_server.synth.cache.clear()
    first = live_server.post("/speak", json={"text": SEED_TEXT, "play": False}).content
    live_server.synth.cache.clear()
    second = live_server.post("/speak", json={"text": SEED_TEXT, "play": False}).content
    assert first == second


def test_options_defaults_come_from_config(shared_synth):
    opts = shared_synth.default_options()
    assert isinstance(opts, SynthesisOptions)
    assert opts.noise_scale == 0.0 and opts.speed == 1.0
