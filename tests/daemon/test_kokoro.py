"""Kokoro beside Piper through the daemon's front ends (issue 20): the official ``openai``
client with ``model: "kokoro"``, ``/voices`` and ``/v1/audio/voices`` listing both families,
a blend listed once used, Wyoming's ``info`` (through the wyoming package's client). One
Kokoro voice is loaded in the shared synthesizer; texts are short."""

from __future__ import annotations

import asyncio
import io

import openai
import pytest
import soundfile as sf
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info

from macbot.daemon.app import create_app
from macbot.daemon.state import state_of
from macbot.daemon.wyoming import WyomingServer

TEXT = "Hello there."


@pytest.fixture
def client(live_server) -> openai.OpenAI:
    with openai.OpenAI(base_url=live_server.url + "/v1", api_key="unused", max_retries=0) as c:
        yield c


def test_model_kokoro_speaks_kokoro_through_the_openai_client(client):
    resp = client.audio.speech.with_raw_response.create(
        model="kokoro", voice="alloy", input=TEXT, response_format="wav"
    )
    samples, rate = sf.read(io.BytesIO(resp.content), dtype="float32")
    assert rate == 24000 and len(samples) / rate > 0.4
    assert resp.headers["X-Voice"] == "jm_kumo" and resp.headers["X-Engine"] == "kokoro"
    named = client.audio.speech.with_raw_response.create(
        model="kokoro", voice="jf_alpha", input=TEXT, response_format="wav"
    )
    assert named.headers["X-Voice"] == "jf_alpha"


def test_openai_models_pick_the_family_and_unknown_ones_are_named(client):
    piper = client.audio.speech.with_raw_response.create(
        model="piper", voice="alloy", input=TEXT, response_format="wav"
    )
    assert piper.headers["X-Voice"] == "en_US-joe-medium"
    kokoro_voice = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="jm_kumo", input=TEXT, response_format="wav"
    )
    assert kokoro_voice.headers["X-Voice"] == "jm_kumo"
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.speech.create(model="eleven", voice="alloy", input=TEXT)
    message = err.value.body["message"]
    assert all(m in message for m in ("tts-1", "gpt-4o-mini-tts", "piper", "kokoro"))
    with pytest.raises(openai.BadRequestError, match="is a piper voice"):
        client.audio.speech.create(model="kokoro", voice="en_US-joe-medium", input=TEXT)


def test_voices_list_both_families_and_blends_once_used(live_server):
    before = live_server.get("/voices").json()["voices"]
    families = {v["name"]: (v["family"], v["language"]) for v in before}
    assert families["en_US-joe-medium"] == ("piper", "en_US")
    assert families["jm_kumo"] == ("kokoro", "ja") and families["jf_alpha"] == ("kokoro", "ja")
    blend = "jm_kumo(2)+jf_alpha(1)"
    assert blend not in families
    resp = live_server.post("/speak", json={"text": TEXT, "voice": blend, "play": False})
    assert resp.status_code == 200 and resp.headers["X-Voice"] == blend
    after = {v["name"]: v for v in live_server.get("/voices").json()["voices"]}
    assert after[blend]["family"] == "kokoro" and after[blend]["blend"] == [
        ["jm_kumo", 2.0],
        ["jf_alpha", 1.0],
    ]
    openai_list = live_server.get("/v1/audio/voices").json()["data"]
    assert {"piper", "kokoro"} <= {v["family"] for v in openai_list}


@pytest.mark.parametrize(
    ("voice", "code"),
    [("jm_kumo(2)+", "invalid_request"), ("jm_kumo+af_nobody", "voice_not_found")],
)
def test_a_bad_blend_is_a_clear_error(live_server, voice, code):
    resp = live_server.post("/speak", json={"text": TEXT, "voice": voice, "play": False})
    assert resp.status_code == 400 and resp.json()["code"] == code
    assert "blend" in resp.json()["error"] or "af_nobody" in resp.json()["error"]


def test_wyoming_info_lists_both_families(shared_synth):
    st = state_of(create_app(shared_synth.config, synthesizer=shared_synth))
    server = WyomingServer(lambda: st, "127.0.0.1", 0).start()

    async def go():
        async with AsyncTcpClient("127.0.0.1", server.port) as client:
            await client.write_event(Describe().event())
            return await client.read_event()

    try:
        event = asyncio.run(asyncio.wait_for(go(), timeout=60))
    finally:
        server.stop()
    (program,) = Info.from_event(event).tts
    voices = {v.name: v for v in program.voices}
    assert voices["en_US-joe-medium"].attribution.name == "rhasspy"
    assert voices["jm_kumo"].attribution.name == "hexgrad"
    assert voices["jm_kumo"].languages == ["ja"] and "kokoro" in voices["jm_kumo"].description
