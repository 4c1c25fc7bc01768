"""The bad-message fuzzer (issue 21 targets): generated (hypothesis) and hand-made messages on
the WebSocket and on Wyoming each get an error event or an answer: never an internal error, a
connection dropped without an error event, or a hang. The ``bad-messages`` benchmark sends
1,000 generated ones per protocol with the same probes (benchmarks/badmessages.py)."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import make_config

from benchmarks.badmessages import (
    HAND_MADE_WEBSOCKET,
    HAND_MADE_WYOMING,
    probe_websocket,
    probe_wyoming,
    run_generated,
    strategies,
)
from macbot.daemon.app import create_app
from macbot.daemon.state import state_of
from macbot.daemon.websocket import SpeechSocket
from macbot.daemon.wyoming import WyomingServer

GENERATED = 60
"""Per protocol here (kept fast); the benchmark sends 1,000."""


@pytest.fixture(scope="module")
def servers(shared_synth):
    config = make_config(server={"max_text_chars": 200, "channel_timeout": 2.0})
    st = state_of(create_app(config, synthesizer=shared_synth))
    ws = SpeechSocket(lambda: st, "127.0.0.1", 0).start()
    wy = WyomingServer(lambda: st, "127.0.0.1", 0).start()
    yield ws, wy
    ws.stop()
    wy.stop()


def _fine(outcomes: Counter) -> bool:
    return set(outcomes) <= {"error", "answered"}


@pytest.mark.parametrize("message", HAND_MADE_WEBSOCKET, ids=lambda m: repr(m)[:30])
def test_hand_made_bad_websocket_messages(servers, message):
    assert probe_websocket(servers[0].url, message) in ("error", "answered")


@pytest.mark.parametrize("data", HAND_MADE_WYOMING, ids=lambda d: repr(d)[:30])
def test_hand_made_bad_wyoming_events(servers, data):
    assert probe_wyoming(servers[1].port, data) in ("error", "answered")


def test_generated_bad_messages_on_both_protocols(servers):
    ws, wy = servers
    websocket, wyoming = strategies()
    on_websocket = run_generated(websocket, lambda m: probe_websocket(ws.url, m), GENERATED)
    on_wyoming = run_generated(wyoming, lambda m: probe_wyoming(wy.port, m), GENERATED)
    assert _fine(on_websocket), on_websocket
    assert _fine(on_wyoming), on_wyoming
    assert on_websocket["error"] and on_wyoming["error"]  # the generator does reach the checks
