"""The OpenAI-compatible route, driven by the official ``openai`` client over real HTTP."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import openai
import pytest
import soundfile as sf

from macbot.core.formats import resample, strip_xing_frame

TEXT = "Hello from the daemon. Second part."


@pytest.fixture
def client(live_server) -> openai.OpenAI:
    with openai.OpenAI(base_url=live_server.url + "/v1", api_key="unused", max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def expected(shared_synth) -> np.ndarray:
    """What the engine itself says for TEXT (deterministic config), float samples at 22050."""
    return shared_synth.synthesize(TEXT).samples


def decode(data: bytes) -> tuple[np.ndarray, int]:
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def test_wav_round_trip_is_the_engines_audio(client, expected, live_server):
    resp = client.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="wav"
    )
    samples, rate = decode(resp.content)
    assert rate == 22050
    assert samples.shape == expected.shape
    assert np.max(np.abs(samples - expected)) < 2 / 32767  # 16-bit quantization only
    assert live_server.output.played == []  # the OpenAI route returns audio, it never plays


@pytest.mark.parametrize(("fmt", "rate", "slack"), [("mp3", 22050, 0.15), ("opus", 24000, 0.05)])
def test_compressed_formats_decode_to_the_same_speech(client, expected, fmt, rate, slack):
    resp = client.audio.speech.create(
        model="tts-1-hd", voice="nova", input=TEXT, response_format=fmt
    )
    samples, got_rate = decode(resp.content)
    assert got_rate == rate
    assert len(samples) / rate == pytest.approx(len(expected) / 22050, abs=slack)
    # Real speech, not silence: loudness within a factor of two of the engine's.
    rms, want = float(np.sqrt(np.mean(samples**2))), float(np.sqrt(np.mean(expected**2)))
    assert want / 2 < rms < want * 2


def test_flac_is_lossless(client, expected):
    resp = client.audio.speech.create(
        model="piper", voice="echo", input=TEXT, response_format="flac"
    )
    samples, rate = decode(resp.content)
    assert rate == 22050 and samples.shape == expected.shape
    assert np.max(np.abs(samples - expected)) < 2 / 32767


def test_pcm_is_24khz_16bit_like_openai(client, expected):
    resp = client.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm"
    )
    pcm = np.frombuffer(resp.content, dtype="<i2").astype(np.float32) / 32767
    want = resample(expected, 22050, 24000)
    assert abs(len(pcm) - len(want)) <= 2
    pcm, want = pcm[: len(want)], want[: len(pcm)]
    # The file is resampled sentence by sentence as it is written (issue 21: one request never
    # holds its whole audio), which differs from resampling the whole at once only near the
    # sentences' edges, by less than -54 dBFS.
    assert np.max(np.abs(pcm - want)) < 2e-3
    assert float(np.sqrt(np.mean((pcm - want) ** 2))) < 1e-4


def test_streaming_response_with_the_client(client, expected, live_server):
    live_server.synth.cache.clear()
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm", stream_format="audio"
    ) as resp:
        assert resp.headers["content-type"] == "audio/pcm"
        assert resp.headers["x-sample-rate"] == "24000"
        data = b"".join(resp.iter_bytes())
    pcm = np.frombuffer(data, dtype="<i2")
    assert len(pcm) / 24000 == pytest.approx(len(expected) / 22050, abs=0.01)


def test_streaming_sends_a_chunk_per_sentence(live_server):
    """Chunks leave as each sentence is synthesized (HTTP chunks read raw, not timed)."""
    live_server.synth.cache.clear()
    text = "First sentence here. Second one now. And the third."
    resp = live_server.session.post(
        live_server.url + "/v1/audio/speech",
        json={"model": "tts-1", "input": text, "response_format": "wav", "stream": True},
        stream=True,
        timeout=60,
    )
    assert resp.headers["Transfer-Encoding"] == "chunked"
    chunks = [c for c in resp.raw.read_chunked(decode_content=False) if c]
    assert len(chunks) >= 3
    assert chunks[0][:4] == b"RIFF"  # open-ended WAV header first
    samples, rate = decode(b"".join(chunks))
    whole = live_server.synth.synthesize(text).samples
    assert rate == 22050 and samples.shape == whole.shape


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac"])
def test_streamed_compressed_formats_decode(live_server, fmt):
    live_server.synth.cache.clear()
    resp = live_server.post(
        "/v1/audio/speech",
        json={"model": "tts-1", "input": TEXT, "response_format": fmt, "stream_format": "audio"},
    )
    assert resp.status_code == 200
    samples, rate = decode(resp.content)
    expected = live_server.synth.synthesize(TEXT).samples
    assert len(samples) / rate == pytest.approx(len(expected) / 22050, abs=0.15)


def test_sse_events(live_server, expected):
    resp = live_server.post(
        "/v1/audio/speech",
        json={"model": "tts-1", "input": TEXT, "response_format": "pcm", "stream_format": "sse"},
    )
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in resp.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "speech.audio.done"
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    pcm = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert len(pcm) // 2 == len(resample(expected, 22050, 24000))


def test_speed_changes_duration(client, expected):
    resp = client.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="wav", speed=2.0
    )
    samples, _ = decode(resp.content)
    assert len(samples) < 0.7 * len(expected)


def test_models_and_voices(client, live_server):
    ids = [m.id for m in client.models.list()]
    assert {"tts-1", "tts-1-hd", "piper", "en_US-joe-medium"} <= set(ids)
    assert client.models.retrieve("tts-1").id == "tts-1"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("whisper-1")
    voices = live_server.get("/v1/audio/voices").json()
    by_id = {v["id"]: v for v in voices["data"]}
    assert by_id["alloy"]["piper_voice"] == "en_US-joe-medium"
    assert by_id["en_US-joe-medium"]["default"] is True
    assert {"wav", "pcm", "flac"} <= set(voices["formats"])


def test_voice_name_as_model(client, expected):
    resp = client.audio.speech.create(
        model="en_US-joe-medium", voice="shimmer", input=TEXT, response_format="wav"
    )
    samples, _ = decode(resp.content)
    assert samples.shape == expected.shape


def test_errors_reach_the_client_in_openais_shape(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.audio.speech.create(model="tts-1", voice="nobody", input="Hi.")
    assert info.value.status_code == 400
    body = info.value.body
    assert body["param"] == "voice" and body["code"] == "voice_not_found"
    assert body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError, match="response_format"):
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="wma")


def test_strip_xing_frame_leaves_other_data_alone():
    assert strip_xing_frame(b"not an mp3 at all") == b"not an mp3 at all"
    assert strip_xing_frame(b"") == b""


def test_unknown_v1_route_and_method_answer_in_openais_shape(live_server, client):
    resp = live_server.get("/v1/audio/transcriptions")
    assert resp.status_code == 404 and resp.json()["error"]["type"] == "not_found_error"
    resp = live_server.get("/v1/audio/speech")
    assert resp.status_code == 405 and resp.json()["error"]["message"]
    assert live_server.get("/nope").json()["error"]  # plain shape outside /v1
    with pytest.raises(openai.NotFoundError):
        client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF"))
