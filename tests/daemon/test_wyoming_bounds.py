"""Wyoming under load and bad input (issue 21, items 3, 4 and 7), driven by the wyoming
package's own client (and raw bytes where a client would not send them): the HTTP route's
limits, timeouts, work off the event loop, synthesis stopped when the client goes, a voice
that is a path refused, bounded connections."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from conftest import make_config
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import async_read_event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeVoice

from macbot.core.voices import bundled_voice
from macbot.daemon.app import create_app
from macbot.daemon.state import state_of
from macbot.daemon.wyoming import WyomingServer

LONG = " ".join(["The kitchen lights are on and the front door is locked for the night."] * 60)


def _server(synth, **server):
    config = make_config(server={"max_text_chars": 5000, **server})
    st = state_of(create_app(config, synthesizer=synth))
    return WyomingServer(lambda: st, "127.0.0.1", 0, max_connections=4).start()


@pytest.fixture(scope="module")
def wyoming(shared_synth):
    server = _server(shared_synth, channel_timeout=20.0)
    yield server
    server.stop()


def _run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout=timeout))


async def _raw(port: int, data: bytes, then_describe: bool = True) -> list:
    """Send ``data`` as they are, then (optionally) a describe; the events that come back
    until an ``info`` or the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    if then_describe:
        writer.write(b'{"type": "describe"}\n')
    await writer.drain()
    events = []
    try:
        while True:
            event = await async_read_event(reader)
            if event is None:
                events.append(None)  # closed
                return events
            events.append(event)
            if Info.is_type(event.type):
                return events
    finally:
        writer.close()


def _codes(events) -> list:
    return [_code(e) for e in events]


def _code(event):
    """An error's code, another event's type; ``None``: the server closed."""
    if event is None:
        return None
    return Error.from_event(event).code if Error.is_type(event.type) else event.type


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"{}\n", "invalid_request"),
        (b"[1, 2]\n", "invalid_request"),
        (b'{"type": "synthesize", "data": "x"}\n', "invalid_request"),
        (b'{"type": "synthesize", "data": {"text": 5}}\n', "invalid_type"),
        (b"not json\n", "invalid_request"),
        (b"\xff\xfe\n", "invalid_request"),
        (b"[" * 60000 + b"\n", "invalid_request"),
        (b'{"type": "synthesize", "data": {"text": "a\\u0000b"}}\n', "invalid_request"),
        (b'{"type": "synthesize", "data": {"text": "\\ud800"}}\n', "invalid_request"),
    ],
    ids=lambda v: None,
)
def test_malformed_event_gets_an_error_event_and_the_connection_goes_on(wyoming, data, code):
    events = _run(_raw(wyoming.port, data))
    assert _codes(events) == [code, "info"]


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({"type": "synthesize", "data_length": 1.5}, "invalid_request"),
        ({"type": "synthesize", "data_length": -1}, "invalid_request"),
        ({"type": "synthesize", "data_length": "9"}, "invalid_request"),
        ({"type": "synthesize", "data_length": 10**12}, "too_large"),
        ({"type": "audio-chunk", "payload_length": 10**12}, "too_large"),
    ],
    ids=["float", "negative", "string", "huge-data", "huge-payload"],
)
def test_unusable_length_is_refused_before_any_byte_is_buffered(wyoming, header, code):
    """issue 21: data_length 1.5 hung the connection; 10**12 was buffered as it came."""
    events = _run(_raw(wyoming.port, json.dumps(header).encode() + b"\n", then_describe=False))
    assert _codes(events) == [code, None]  # the error, then the server closes


def test_text_over_the_limit_is_refused_like_over_http(wyoming):
    async def go():
        async with AsyncTcpClient("127.0.0.1", wyoming.port) as client:
            await client.write_event(Synthesize(text="a" * 5001).event())
            first = await client.read_event()
            await client.write_event(SynthesizeStart().event())
            await client.write_event(SynthesizeChunk(text="b" * 5001).event())
            return first, await client.read_event()

    first, second = _run(go())
    assert Error.from_event(first).code == "string_above_max_length"
    assert Error.from_event(second).code == "string_above_max_length"


@pytest.mark.parametrize("form", ["synthesize", "synthesize-start"])
def test_a_voice_that_is_a_path_is_refused(wyoming, form, tmp_path):
    """issue 21 item 4: a path outside voices_dir loaded and spoke; a missing one said so."""
    real = str(bundled_voice().model_path)
    missing = str(tmp_path / "nothing-here.onnx")

    async def go(name):
        async with AsyncTcpClient("127.0.0.1", wyoming.port) as client:
            voice = SynthesizeVoice(name=name)
            if form == "synthesize":
                await client.write_event(Synthesize(text="Hello.", voice=voice).event())
            else:
                await client.write_event(SynthesizeStart(voice=voice).event())
            return Error.from_event(await client.read_event())

    answers = [_run(go(name)) for name in (real, missing)]
    assert [a.code for a in answers] == ["voice_not_found", "voice_not_found"]
    # no file-existence oracle: the same answer but for the name given back
    assert answers[0].text.replace(real, "X") == answers[1].text.replace(missing, "X")


def test_describe_is_answered_while_another_client_synthesizes_the_longest_text(
    wyoming, shared_synth
):
    """issue 21: a describe waited 9.6 s behind a 10 KB synthesis on the loop."""
    shared_synth.cache.clear()

    async def go():
        async with AsyncTcpClient("127.0.0.1", wyoming.port) as talker:
            await talker.write_event(Synthesize(text=LONG[:5000]).event())
            assert (await talker.read_event()).type == "audio-start"
            async with AsyncTcpClient("127.0.0.1", wyoming.port) as asker:
                started = time.perf_counter()
                await asker.write_event(Describe().event())
                answer = await asker.read_event()
                waited = time.perf_counter() - started
            # the talker's synthesis is still under way: more audio comes after the answer
            more = await talker.read_event()
            return answer, waited, more

    answer, waited, more = _run(go())
    assert Info.is_type(answer.type) and more.type == "audio-chunk"
    print(f"describe during a 5,000-character synthesis: {waited:.3f} s")


def test_a_client_that_goes_mid_answer_stops_its_synthesis(wyoming, shared_synth):
    """issue 21: 14–20 s more synthesis after a drop (the WebSocket stops in 0.5 s)."""
    shared_synth.cache.clear()

    async def go():
        client = AsyncTcpClient("127.0.0.1", wyoming.port)
        await client.connect()
        await client.write_event(Synthesize(text=LONG[:4990]).event())
        assert (await client.read_event()).type == "audio-start"
        await client.disconnect()

    _run(go())
    deadline = time.monotonic() + 30  # the whole text takes minutes here
    while shared_synth.pool.active_jobs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shared_synth.pool.active_jobs() == 0


def test_idle_and_unread_clients_are_dropped_and_never_block_others(shared_synth):
    """issue 21: streams that never stopped and clients that never read blocked every other
    client; with the connection cap (4 here), one more is told it is busy."""
    server = _server(shared_synth, channel_timeout=2.0)

    async def go():
        idle = [AsyncTcpClient("127.0.0.1", server.port) for _ in range(2)]
        for client in idle:
            await client.connect()
            await client.write_event(SynthesizeStart().event())  # never stops
        deaf = AsyncTcpClient("127.0.0.1", server.port)
        await deaf.connect()
        await deaf.write_event(Synthesize(text=LONG[:4980]).event())  # never reads
        async with AsyncTcpClient("127.0.0.1", server.port) as fourth:
            async with AsyncTcpClient("127.0.0.1", server.port) as fifth:
                busy = await fifth.read_event()
            await fourth.write_event(Describe().event())
            answer = await fourth.read_event()
        # the idle ones are told why, then closed
        told = [await c.read_event() for c in idle]
        closed = [await c.read_event() for c in idle]
        for client in (*idle, deaf):
            await client.disconnect()
        return busy, answer, told, closed

    try:
        busy, answer, told, closed = _run(go())
    finally:
        server.stop()
    assert Error.from_event(busy).code == "busy"
    assert Info.is_type(answer.type)
    assert [Error.from_event(e).code for e in told] == ["idle_timeout", "idle_timeout"]
    assert closed == [None, None]
