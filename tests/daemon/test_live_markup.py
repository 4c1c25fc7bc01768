"""Live speech after the text front end (issue 21, item 2): a markdown reply and an SSML
document streamed token by token over the WebSocket and over Wyoming are spoken as ``/speak``
speaks them. What each protocol hands the synthesizer is recorded (the real synthesizer does
the work; the record only reads its arguments) and its front end's spoken text compared with
the whole reply's."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from wyoming.client import AsyncTcpClient
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop

from macbot.daemon.app import create_app
from macbot.daemon.state import state_of
from macbot.daemon.websocket import SpeechSocket
from macbot.daemon.wyoming import WyomingServer

MARKDOWN = (
    "Sure, here is how to show a value:\n"
    "\n"
    "```python\n"
    "x = 1\n"
    "print(x)\n"
    "```\n"
    "\n"
    "Then:\n"
    "- install it with `pip`, then\n"
    "- run it **twice**\n"
    "\n"
    "That is all."
)
SSML = (
    '<speak>Good evening. <break time="300ms"/> The door is '
    '<emphasis level="strong">locked</emphasis>, and <say-as interpret-as="characters">'
    'ETA</say-as> is <prosody rate="slow">nine o\'clock</prosody>.</speak>'
)


def _tokens(text: str) -> list[str]:
    """The reply as an assistant writes it: a word (with the space before it) at a time, line
    breaks on their own."""
    return re.findall(r"[^\S\n]*[^\s]+|\n", text)


def _words(spoken: str) -> list[str]:
    return re.findall(r"[\w']+", spoken.lower())


@pytest.fixture
def recorded(shared_synth, monkeypatch):
    """The texts each protocol hands the synthesizer, in order."""
    texts: list[str] = []
    real = shared_synth.stream

    def stream(text, *args, **kwargs):
        texts.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(shared_synth, "stream", stream)
    shared_synth.cache.clear()
    return texts


@pytest.fixture(scope="module")
def servers(shared_synth):
    st = state_of(create_app(shared_synth.config, synthesizer=shared_synth))
    ws = SpeechSocket(lambda: st, "127.0.0.1", 0).start()
    wy = WyomingServer(lambda: st, "127.0.0.1", 0).start()
    yield ws, wy
    ws.stop()
    wy.stop()


def _over_websocket(ws: SpeechSocket, text: str) -> list[dict]:
    events = []
    with connect(ws.url) as conn:
        for token in _tokens(text):
            conn.send(json.dumps({"type": "text", "text": token}))
        conn.send(json.dumps({"type": "close"}))
        while True:
            try:
                message = conn.recv(timeout=120)
            except ConnectionClosed:
                return events
            if isinstance(message, str):
                events.append(json.loads(message))


def _over_wyoming(wy: WyomingServer, text: str) -> list[str]:
    async def go():
        types = []
        async with AsyncTcpClient("127.0.0.1", wy.port) as client:
            await client.write_event(SynthesizeStart().event())
            for token in _tokens(text):
                await client.write_event(SynthesizeChunk(text=token).event())
            await client.write_event(SynthesizeStop().event())
            while True:
                event = await client.read_event()
                assert event is not None, "the server closed the connection"
                types.append(event.type)
                if event.type in ("synthesize-stopped", "error"):
                    return types

    return asyncio.run(asyncio.wait_for(go(), timeout=180))


@pytest.mark.parametrize("protocol", ["websocket", "wyoming"])
@pytest.mark.parametrize("reply", [MARKDOWN, SSML], ids=["markdown", "ssml"])
def test_live_speech_speaks_markup_as_speak_does(servers, shared_synth, recorded, protocol, reply):
    ws, wy = servers
    if protocol == "websocket":
        events = _over_websocket(ws, reply)
        assert events[-1]["type"] == "done", events[-1]
    else:
        types = _over_wyoming(wy, reply)
        assert types[-1] == "synthesize-stopped" and "error" not in types
        # one audio-start … audio-stop per piece spoken, as wyoming-piper does per sentence
        assert types.count("audio-start") == types.count("audio-stop") >= 1
    whole = shared_synth.normalize(reply).text
    live = " ".join(shared_synth.normalize(piece).text for piece in recorded)
    assert _words(live) == _words(whole)
    if reply is MARKDOWN:
        # the fenced code is the front end's note, never read line by line ("x equals one")
        assert "There is a code block here." in live and "print" not in live
        assert len(recorded) >= 4  # and the reply was still spoken piece by piece
    else:
        assert recorded == [SSML]  # held whole: its first piece was "<speak>" (MarkupError)
