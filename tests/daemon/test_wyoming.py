"""The Wyoming server (issue 14), driven by the wyoming package's own client (AsyncTcpClient)
over a real socket: describe, synthesize, streamed synthesis."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest
from conftest import make_config
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from macbot.daemon.app import create_app
from macbot.daemon.server import start_listeners
from macbot.daemon.state import state_of
from macbot.daemon.wyoming import WyomingServer


@pytest.fixture(scope="module")
def wyoming_server(shared_synth):
    st = state_of(create_app(shared_synth.config, synthesizer=shared_synth))
    server = WyomingServer(lambda: st, "127.0.0.1", 0).start()
    yield server
    server.stop()


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=120))


async def _until(client: AsyncTcpClient, last: str) -> list:
    """Events until one of type ``last`` (or an error)."""
    events = []
    while True:
        event = await client.read_event()
        assert event is not None, "the server closed the connection"
        events.append(event)
        if event.type in (last, "error"):
            return events


def _audio(events) -> tuple[int, np.ndarray]:
    chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
    assert {(c.rate, c.width, c.channels) for c in chunks} == {(22050, 2, 1)}
    return 22050, np.frombuffer(b"".join(c.audio for c in chunks), dtype="<i2")


def test_describe_lists_the_voices_and_streaming(wyoming_server):
    async def go():
        async with AsyncTcpClient("127.0.0.1", wyoming_server.port) as client:
            await client.write_event(Describe().event())
            return await client.read_event()

    event = _run(go())
    assert Info.is_type(event.type)
    (program,) = Info.from_event(event).tts
    assert program.name == "macbot" and program.supports_synthesize_streaming
    voice = next(v for v in program.voices if v.name == "en_US-joe-medium")
    assert voice.installed and voice.languages == ["en_US"]


def test_synthesize_answers_audio_start_chunks_stop(wyoming_server):
    async def go():
        async with AsyncTcpClient("127.0.0.1", wyoming_server.port) as client:
            await client.write_event(Synthesize(text="The kitchen lights are on.").event())
            return await _until(client, AudioStop().event().type)

    events = _run(go())
    assert AudioStart.is_type(events[0].type) and AudioStop.is_type(events[-1].type)
    _, pcm = _audio(events)
    assert 1.0 < len(pcm) / 22050 < 4.0 and np.abs(pcm).max() > 3000


def test_streamed_synthesis_speaks_each_clause_then_stops(wyoming_server):
    words = [
        "Good",
        "evening.",
        "The",
        "front",
        "door",
        "is",
        "locked,",
        "and",
        "the",
        "alarm",
        "is",
        "set",
        "for",
        "the",
        "night.",
    ]

    async def go():
        async with AsyncTcpClient("127.0.0.1", wyoming_server.port) as client:
            voice = SynthesizeVoice(name="en_US-joe-medium")
            await client.write_event(SynthesizeStart(voice=voice).event())
            for i, word in enumerate(words):
                await client.write_event(SynthesizeChunk(text=word + " ").event())
                if i == 1:  # "Good evening." is complete: its audio comes before more text
                    first = await client.read_event()
                    assert AudioStart.is_type(first.type)
            # Home Assistant also sends the whole text for servers that do not stream
            await client.write_event(Synthesize(text=" ".join(words), voice=voice).event())
            await client.write_event(SynthesizeStop().event())
            return [first, *await _until(client, SynthesizeStopped().event().type)]

    events = _run(go())
    types = [e.type for e in events]
    assert types[-1] == "synthesize-stopped" and "error" not in types
    # one audio-start … audio-stop per clause: "Good evening." / "The front door is locked," /
    # "and the alarm is set for the night."; the compatibility `synthesize` added nothing
    assert types.count("audio-start") == types.count("audio-stop") == 3
    _, pcm = _audio(events)
    assert 3.0 < len(pcm) / 22050 < 8.0


def test_errors_are_error_events_with_the_code(wyoming_server):
    async def go():
        async with AsyncTcpClient("127.0.0.1", wyoming_server.port) as client:
            voice = SynthesizeVoice(name="no_such_voice")
            await client.write_event(Synthesize(text="Hello.", voice=voice).event())
            first = await client.read_event()
            await client.write_event(SynthesizeChunk(text="stray").event())
            second = await client.read_event()
            return first, second

    first, second = _run(go())
    assert Error.is_type(first.type) and Error.from_event(first).code == "voice_not_found"
    assert Error.from_event(second).code == "invalid_request"


def test_the_daemon_starts_wyoming_when_enabled(shared_synth):
    config = make_config(server={"websocket": {"enabled": False}, "wyoming": {"enabled": True}})
    assert config.server.wyoming.port == 10200 and config.server.wyoming.host == "127.0.0.1"
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = make_config(
        server={"websocket": {"enabled": False}, "wyoming": {"enabled": True, "port": port}}
    )
    st = state_of(create_app(config, synthesizer=shared_synth))
    (listener,) = start_listeners(config, lambda: st, 8123)
    try:
        assert isinstance(listener, WyomingServer)

        async def go():
            async with AsyncTcpClient("127.0.0.1", listener.port) as client:
                await client.write_event(Describe().event())
                return await client.read_event()

        assert Info.is_type(_run(go()).type)
    finally:
        listener.stop()
    assert not make_config().server.wyoming.enabled  # off by default


def test_zeroconf_without_its_extra_serves_unannounced(shared_synth, caplog):
    try:  # the zeroconf extra is not part of the dev install
        import zeroconf  # noqa: F401

        pytest.skip("the zeroconf extra is installed here")
    except ImportError:
        pass
    st = state_of(create_app(shared_synth.config, synthesizer=shared_synth))
    server = WyomingServer(lambda: st, "127.0.0.1", 0, zeroconf=True).start()
    try:

        async def go():
            async with AsyncTcpClient("127.0.0.1", server.port) as client:
                await client.write_event(Describe().event())
                return await client.read_event()

        assert Info.is_type(_run(go()).type)
    finally:
        server.stop()
    assert "macbot-tts[zeroconf]" in caplog.text
