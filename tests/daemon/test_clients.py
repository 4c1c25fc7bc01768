"""The shapes real clients read (issue 19), each driven by the request that client sends.

- Open WebUI (``backend/open_webui/routers/audio.py``, engine ``openai``, any base URL that is
  not api.openai.com): ``requests.get(f"{base}/audio/voices")`` and ``…/audio/models`` with no
  headers at all, read as ``{v["id"]: v["name"] for v in data.get("voices", [])}`` and
  ``data.get("models", [])``; speech as ``POST {base}/audio/speech`` with the browser's
  ``{"input", "voice"}``, ``model`` set from its config, ``Content-Type: application/json``
  and ``Authorization: Bearer {TTS_OPENAI_API_KEY}`` (empty when none is set).
- The official ``openai`` SDK: every ``response_format`` it lists, ``aac`` included.
"""

from __future__ import annotations

import io

import av
import numpy as np
import openai
import pytest
import requests
import soundfile as sf

from macbot.core.formats import FORMATS, supported_formats

TEXT = "Hello from the daemon. Second part."


def open_webui_voices(base: str) -> dict[str, str]:
    """What Open WebUI's ``get_available_voices`` makes of ``{base}/audio/voices``."""
    response = requests.get(f"{base}/audio/voices")
    response.raise_for_status()
    data = response.json()
    voices_list = data.get("voices", [])
    return {voice["id"]: voice["name"] for voice in voices_list}


def open_webui_models(base: str) -> list[dict]:
    """What Open WebUI's ``get_available_models`` makes of ``{base}/audio/models``."""
    response = requests.get(f"{base}/audio/models")
    response.raise_for_status()
    return response.json().get("models", [])


@pytest.mark.parametrize("suffix", ["/v1", ""])
def test_open_webui_lists_every_voice_and_model(live_server, suffix):
    base = live_server.url + suffix
    voices = open_webui_voices(base)
    listing = live_server.get("/voices").json()["voices"]
    assert {v["name"] for v in listing} <= set(voices)  # every voice of the shared listing
    assert voices["en_US-joe-medium"] == "en_US-joe-medium"
    assert {"alloy", "nova"} <= set(voices)
    models = open_webui_models(base)
    assert {"tts-1", "tts-1-hd"} <= {m["id"] for m in models}


@pytest.mark.parametrize("suffix", ["/v1", ""])
def test_open_webui_speech_request(live_server, suffix):
    payload = {"input": TEXT, "voice": "en_US-joe-medium"}
    payload["model"] = "tts-1"  # Open WebUI: payload["model"] = TTS_MODEL
    resp = requests.post(
        url=f"{live_server.url}{suffix}/audio/speech",
        json=payload,
        headers={"Content-Type": "application/json", "Authorization": "Bearer "},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "audio/mpeg"  # OpenAI's default format
    samples, rate = sf.read(io.BytesIO(resp.content), dtype="float32")
    assert rate == 22050 and len(samples) / rate > 1.0


def test_open_webui_reads_errors_without_v1(live_server):
    """Open WebUI shows ``res["error"]["message"]``: the OpenAI shape without /v1 too."""
    resp = requests.post(
        f"{live_server.url}/audio/speech",
        json={"input": "Hi.", "voice": "nobody", "model": "tts-1"},
        headers={"Content-Type": "application/json", "Authorization": "Bearer "},
        timeout=60,
    )
    assert resp.status_code == 400
    assert "nobody" in resp.json()["error"]["message"]


@pytest.fixture
def client(live_server):
    with openai.OpenAI(base_url=live_server.url + "/v1", api_key="unused", max_retries=0) as c:
        yield c


def decode_any(data: bytes) -> tuple[np.ndarray, int]:
    """Decode with FFmpeg (PyAV): every format the route writes."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        samples = np.concatenate(frames)
        if samples.dtype.kind == "i":  # FLAC and WAV decode to 16-bit integers
            return samples.astype(np.float32) / 32768, stream.rate
        return samples.astype(np.float32), stream.rate


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_openai_sdk_every_format(client, shared_synth, fmt):
    assert fmt in supported_formats()
    raw = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format=fmt
    )
    assert raw.headers["content-type"] == FORMATS[fmt].mime
    data = raw.content
    expected = shared_synth.synthesize(TEXT).samples
    if fmt == "pcm":
        samples, rate = np.frombuffer(data, "<i2").astype(np.float32) / 32767, 24000
    else:
        samples, rate = decode_any(data)
    # the same length of speech (encoders pad a frame or two) and real speech, not silence
    assert len(samples) / rate == pytest.approx(len(expected) / 22050, abs=0.15)
    rms, want = float(np.sqrt(np.mean(samples**2))), float(np.sqrt(np.mean(expected**2)))
    assert want / 2 < rms < want * 2


def test_openai_sdk_streams_aac(client):
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="aac", stream_format="audio"
    ) as resp:
        assert resp.headers["content-type"] == "audio/aac"
        pieces = [p for p in resp.iter_bytes() if p]
    data = b"".join(pieces)
    assert data[:2] == b"\xff\xf1"  # an ADTS frame header: playable from the first byte
    samples, rate = decode_any(data)
    assert rate == 22050 and len(samples) / rate > 1.0


def test_voices_keep_the_openai_list_shape(live_server):
    body = live_server.get("/v1/audio/voices").json()
    assert body["object"] == "list" and "aac" in body["formats"]
    assert [v["id"] for v in body["data"]] == [v["id"] for v in body["voices"]]
    models = live_server.get("/v1/audio/models").json()
    assert [m["id"] for m in models["data"]] == [m["id"] for m in models["models"]]
