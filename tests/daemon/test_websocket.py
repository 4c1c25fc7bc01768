"""The WebSocket (issue 14): a real client streams text word by word to the real server and
gets audio and word events; the handshake obeys the HTTP rules (token, Host, Origin)."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
from conftest import make_config
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from macbot.daemon.app import create_app
from macbot.daemon.server import start_listeners
from macbot.daemon.state import state_of
from macbot.daemon.websocket import SpeechSocket

TEXT = "Sure, I can help with that. The total is $1,234 today, and it is due on Friday."
WORDS = [
    "Sure", "I", "can", "help", "with", "that", "The", "total", "is", "$1,234", "today",
    "and", "it", "is", "due", "on", "Friday",
]  # fmt: skip


def _socket(voice_split=None, **sections):
    if voice_split is not None:
        _, folder = voice_split
        sections.update(
            models__tts__streaming={"enabled": True},
            models__tts__optimized_dir=str(folder.parent),
        )
    app = create_app(make_config(**sections))
    st = state_of(app)
    st.synthesizer.warmup()
    return SpeechSocket(lambda: st, "127.0.0.1", 0, http_port=8123).start(), st


@pytest.fixture(scope="module")
def split_socket(voice_split):
    ws, st = _socket(voice_split)
    yield ws
    ws.stop()
    st.synthesizer.close()


def _receive_all(conn):
    """Every message until the server closes: (JSON events, PCM bytes)."""
    events, audio = [], bytearray()
    while True:
        try:
            message = conn.recv(timeout=60)
        except ConnectionClosed:
            return events, bytes(audio)
        if isinstance(message, bytes):
            audio.extend(message)
            events.append({"type": "audio", "bytes": len(message)})
        else:
            events.append(json.loads(message))


def test_text_streamed_word_by_word_comes_back_as_audio_and_words(split_socket):
    with connect(split_socket.url) as conn:
        conn.send(json.dumps({"type": "start", "speed": 1.0}))
        ready = json.loads(conn.recv(timeout=30))
        assert ready["type"] == "ready" and ready["format"] == "s16le"
        assert ready["sample_rate"] == 22050 and ready["engine"] == "piper_chunked"
        first_audio_before_the_end = False
        for i, word in enumerate(TEXT.split(" ")):
            conn.send(json.dumps({"type": "text", "text": ("" if i == 0 else " ") + word}))
            if i == 7:  # "that." is complete: its clause is spoken before more text comes
                message = conn.recv(timeout=30)
                first_audio_before_the_end = True
                assert json.loads(message)["type"] == "word"
        conn.send(json.dumps({"type": "close"}))
        events, audio = _receive_all(conn)
    assert first_audio_before_the_end
    done = events[-1]
    assert done["type"] == "done" and done["clauses"] >= 2
    words = [e for e in events if e["type"] == "word"]
    assert ["Sure", *[w["word"] for w in words]] == WORDS
    seconds = len(audio) / 2 / ready["sample_rate"]
    assert done["duration"] == pytest.approx(seconds, abs=1e-3)
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and all(w["end"] <= seconds for w in words)
    pcm = np.frombuffer(audio, dtype="<i2")
    assert np.abs(pcm).max() > 3000  # speech, not silence
    # every word's event comes before the audio it starts in
    heard = 0.0
    for event in events:
        if event["type"] == "audio":
            heard += event["bytes"] / 2 / ready["sample_rate"]
        elif event["type"] == "word":
            assert event["start"] >= heard - 1e-6


def test_flush_speaks_an_unfinished_clause(split_socket):
    with connect(split_socket.url) as conn:
        conn.send(json.dumps({"type": "text", "text": "Turning on the lights"}))
        assert json.loads(conn.recv(timeout=30))["type"] == "ready"
        conn.send(json.dumps({"type": "flush"}))
        first = json.loads(conn.recv(timeout=30))
        assert first == {**first, "type": "word", "word": "Turning"}
        conn.send(json.dumps({"type": "close"}))
        events, _ = _receive_all(conn)
    assert [e["word"] for e in events if e["type"] == "word"][-1] == "lights"
    assert events[-1]["type"] == "done" and events[-1]["clauses"] == 1


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "invalid_request"),
        (json.dumps({"type": "shout"}), "invalid_request"),
        (json.dumps({"type": "text", "text": 5}), "invalid_type"),
        (json.dumps({"type": "start", "voice": "no_such_voice"}), "voice_not_found"),
    ],
)
def test_a_bad_message_is_an_error_event_then_close(split_socket, message, code):
    with connect(split_socket.url) as conn:
        conn.send(message)
        events, _ = _receive_all(conn)
        assert conn.close_code == 1008
    assert events[-1]["type"] == "error" and events[-1]["code"] == code


def test_the_handshake_needs_the_token_when_one_is_set():
    ws, st = _socket(server={"auth_token": "s3cret"})
    try:
        with pytest.raises(InvalidStatus) as refused:
            connect(ws.url)
        assert refused.value.response.status_code == 401
        with pytest.raises(InvalidStatus):
            connect(ws.url, additional_headers={"Authorization": "Bearer wrong"})
        for ok in (
            connect(ws.url, additional_headers={"Authorization": "Bearer s3cret"}),
            connect(ws.url + "?token=s3cret"),
        ):
            with ok as conn:
                conn.send(json.dumps({"type": "close"}))
                events, _ = _receive_all(conn)
                assert [e["type"] for e in events] == ["ready", "done"]
    finally:
        ws.stop()
        st.synthesizer.close()


def test_foreign_origins_are_refused_the_daemons_own_page_is_not(split_socket):
    with pytest.raises(InvalidStatus) as refused:
        connect(split_socket.url, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    # a page served by the daemon's HTTP port (8123 here) may connect
    with connect(split_socket.url, origin="http://127.0.0.1:8123") as conn:
        conn.send(json.dumps({"type": "close"}))
        assert [e["type"] for e in _receive_all(conn)[0]] == ["ready", "done"]


def test_the_daemon_starts_the_listeners_its_config_enables():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        config = make_config(server={"websocket": {"enabled": True, "port": busy}})
        st = state_of(create_app(config))
        # the port is taken: logged and left out, the HTTP daemon goes on
        assert start_listeners(config, lambda: st, 8123) == []
    free = busy  # closed now
    config = make_config(server={"websocket": {"enabled": True, "port": free}})
    (listener,) = start_listeners(config, lambda: st, 8123)
    try:
        with connect(f"ws://127.0.0.1:{free}/") as conn:
            conn.send(json.dumps({"type": "close"}))
            assert [e["type"] for e in _receive_all(conn)[0]] == ["ready", "done"]
    finally:
        listener.stop()
    assert start_listeners(make_config(server={"websocket": {"enabled": False}}), None, 1) == []
