"""Bad messages on the WebSocket and on Wyoming (issue 21): generated ones (hypothesis, a dev
dependency) and hand-made ones, each sent on a fresh connection to the real servers.

Each message ends in one of these outcomes (:func:`probe_websocket`, :func:`probe_wyoming`):

- ``error``: an ``error`` event with a code (then, maybe, a close that is not 1011);
- ``answered``: it was a message the protocol takes, and the server answered it;
- ``internal``: an internal error (close code 1011, or an error whose code is ``error``);
- ``dropped``: the connection closed without an error event;
- ``hung``: no answer within the probe's timeout.

Target: over 1,000 generated and the hand-made messages on each protocol, 0 ``internal``,
0 ``dropped`` (and 0 ``hung``). The suite ``bad-messages`` reports the counts; the test
``tests/daemon/test_bad_messages.py`` runs fewer generated ones with the same probes.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections import Counter
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect
from wyoming.event import read_event

from macbot.config import config_from_dict
from macbot.core.synthesizer import Synthesizer
from macbot.daemon.app import create_app
from macbot.daemon.state import state_of
from macbot.daemon.websocket import SpeechSocket
from macbot.daemon.wyoming import WyomingServer
from macbot.errors import MissingExtraError

from .options import BenchOptions

OUTCOMES = ("error", "answered", "internal", "dropped", "hung")
WEBSOCKET_TYPES = ("start", "text", "flush", "close")
WYOMING_TYPES = (
    "describe",
    "synthesize",
    "synthesize-start",
    "synthesize-chunk",
    "synthesize-stop",
    "audio-chunk",
)
NASTY_TEXT = ("\ud800", "a\x00b", "\udfff x", "x" * 5000, "<speak>", "```", "[[slnc 1]]", "")
"""Strings JSON carries that the engine cannot take (or that are large or markup)."""
PATH_VOICES = ("/etc/passwd", "~/voice.onnx", "../piper_voices/x.onnx", "C:\\\\voice.onnx")

HAND_MADE_WEBSOCKET: tuple[str | bytes, ...] = (
    "[" * 200_000,
    '{"type": "text", "text": "\\ud800"}',
    '{"type": "text", "text": "a\\u0000b"}',
    b"\x00\x01binary",
    "null",
    "[]",
    "{}",
    '{"type": 5}',
    '{"type": "shout"}',
    '{"type": "text"}',
    '{"type": "text", "text": ["a"]}',
    '{"type": "start", "speed": "fast"}',
    '{"type": "start", "speed": 1e308}',
    '{"type": "start", "speed": NaN}',
    '{"type": "start", "normalize": "x"}',
    '{"type": "start", "voice": 5}',
    '{"type": "start", "voice": ""}',
    *(json.dumps({"type": "start", "voice": v}) for v in PATH_VOICES),
    json.dumps({"type": "text", "text": "x" * 100_000}),
    '{"type": "text", "text": "' + "9" * 5000 + '"}',
    "not json",
    '{"type": "text", "text": "<speak>unclosed"}',
)
"""The issue's cases and their neighbours."""

HAND_MADE_WYOMING: tuple[bytes, ...] = (
    b"{}\n",
    b"[]\n",
    b"\n",
    b"\n" * 100_000,
    b"null\n",
    b'{"type": "synthesize", "data": "x"}\n',
    b'{"type": "synthesize", "data_length": 1.5}\n',
    b'{"type": "synthesize", "data_length": -1}\n',
    b'{"type": "synthesize", "data_length": "9"}\n',
    b'{"type": "synthesize", "data_length": true}\n',
    b'{"type": "synthesize", "data_length": 1000000000000}\n',
    b'{"type": "audio-chunk", "payload_length": 1000000000000}\n',
    b'{"type": "audio-chunk", "payload_length": 4}\nabcd',
    b'{"type": "synthesize", "data_length": 5}\n[1,2]',
    b'{"type": "synthesize", "data_length": 4}\nnull',
    b'{"type": "synthesize", "data_length": 12}\n{"text": 5}\n',
    b'{"type": "synthesize", "data_length": 40}\n{"text": "hi"}',
    b"[" * 60_000 + b"\n",
    b"\xff\xfe\n",
    b"x" * 2_000_000 + b"\n",
    b'{"type": "synthesize", "data": {"text": "\\ud800"}}\n',
    b'{"type": "synthesize", "data": {"text": "a\\u0000b"}}\n',
    b'{"type": "synthesize", "data": {"text": ""}}\n',
    b'{"type": "synthesize", "data": {"text": "' + b"y" * 300 + b'"}}\n',
    b'{"type": "synthesize", "data": {"text": "hi", "voice": "x"}}\n',
    b'{"type": "synthesize", "data": {"text": "hi", "voice": {"name": 5}}}\n',
    *(
        json.dumps({"type": t, "data": {"text": "hi", "voice": {"name": v}}}).encode() + b"\n"
        for v in PATH_VOICES
        for t in ("synthesize", "synthesize-start")
    ),
    b'{"type": "synthesize-chunk", "data": {"text": "stray"}}\n',
    b'{"type": "synthesize-stop"}\n',
    b'{"type": "synthesize-start"}\n{"type": "synthesize-start"}\n',
    b'{"type": 5}\n',
    b'{"type": ""}\n',
)


# -- probes ------------------------------------------------------------------------------------


def probe_websocket(url: str, message: str | bytes, timeout: float = 30.0) -> str:
    """Send ``message`` on a fresh connection, then ``close``; the outcome (see the module)."""
    errors: list[str] = []
    try:
        with connect(url, max_size=None, open_timeout=timeout) as conn:
            conn.send(message)
            with contextlib.suppress(ConnectionClosed):  # closed already: its answer is below
                conn.send(json.dumps({"type": "close"}))
            last = None
            while True:
                try:
                    answer = conn.recv(timeout=timeout)
                except ConnectionClosed:
                    break
                except TimeoutError:
                    return "hung"
                if isinstance(answer, str):
                    event = json.loads(answer)
                    last = event.get("type")
                    if last == "error":
                        errors.append(event.get("code", ""))
            code = conn.close_code
    except InvalidHandshake:
        return "dropped"
    if code == 1011 or "error" in errors:
        return "internal"
    if errors:
        return "error"
    return "answered" if last == "done" else "dropped"


def probe_wyoming(port: int, data: bytes, timeout: float = 30.0) -> str:
    """Send ``data`` as they are on a fresh connection, then a ``describe``; the outcome."""
    errors: list[str] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server closed while we sent: see its answer
            sock.sendall(
                data + (b"" if data.endswith(b"\n") else b"\n") + b'{"type": "describe"}\n'
            )
        reader = sock.makefile("rb")
        while True:
            try:
                event = read_event(reader)
            except TimeoutError:
                return "hung"
            except OSError:
                event = None
            if event is None:  # closed
                if "error" in errors:
                    return "internal"
                return "error" if errors else "dropped"
            if event.type == "error":
                errors.append(str(event.data.get("code", "")))
            elif event.type == "info":
                if "error" in errors:
                    return "internal"
                return "error" if errors else "answered"


# -- generated messages ------------------------------------------------------------------------


def strategies():
    """(WebSocket messages, Wyoming byte strings) as hypothesis strategies."""
    _hypothesis()
    from hypothesis import strategies as st

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**20), max_value=10**20)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=20)
        | st.sampled_from(NASTY_TEXT + PATH_VOICES)
    )
    values = st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=8,
    )
    ws_object = st.fixed_dictionaries(
        {"type": st.sampled_from(WEBSOCKET_TYPES) | values},
        optional={
            "text": st.text(max_size=40) | values,
            "voice": st.sampled_from(PATH_VOICES) | values,
            "speed": st.floats(allow_nan=True) | values,
            "normalize": values,
        },
    )
    websocket = st.one_of(
        ws_object.map(_dumps),
        values.map(_dumps),
        st.text(max_size=60),
        st.binary(max_size=60),
    )
    lengths = (
        st.none()
        | st.integers(min_value=-5, max_value=300)
        | st.sampled_from([1.5, "9", True, 10**12, [], {}])
    )
    header = st.fixed_dictionaries(
        {"type": st.sampled_from(WYOMING_TYPES) | values},
        optional={
            "data": st.fixed_dictionaries(
                {},
                optional={
                    "text": st.text(max_size=40) | values,
                    "voice": st.fixed_dictionaries({}, optional={"name": values}) | values,
                },
            )
            | values,
            "data_length": lengths,
            "payload_length": lengths,
            "version": values,
        },
    )
    body = st.dictionaries(st.sampled_from(["text", "voice", "x"]), values, max_size=2).map(_dumps)
    wyoming = st.one_of(
        st.tuples(header, body | st.text(max_size=30)).map(_wyoming_event),
        st.binary(max_size=80).map(lambda b: b.replace(b"\n", b" ") + b"\n"),
        values.map(lambda v: _dumps(v).encode("utf-8", "surrogatepass") + b"\n"),
    )
    return websocket, wyoming


def _hypothesis() -> None:
    try:
        import hypothesis  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(
            "the bad-messages suite needs hypothesis (pip install 'macbot-tts[dev]')"
        ) from exc


def _dumps(value: object) -> str:
    return json.dumps(value, allow_nan=True)


def _wyoming_event(parts: tuple[dict, str]) -> bytes:
    """A header line, then as many data bytes as its ``data_length`` says (when it is a
    whole number; otherwise none), then the payload's bytes likewise."""
    header, body = parts
    out = _dumps(header).encode("utf-8", "surrogatepass") + b"\n"
    for key, filler in (
        ("data_length", body.encode("utf-8", "surrogatepass")),
        ("payload_length", b"\0"),
    ):
        size = header.get(key)
        if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= 300:
            out += (filler * (size // max(len(filler), 1) + 1))[:size]
    return out


def run_generated(strategy, probe: Callable[[object], str], count: int, seed: int = 0) -> Counter:
    """``count`` messages drawn from ``strategy``, each through ``probe``; outcome counts."""
    _hypothesis()
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed

    outcomes: Counter = Counter()

    @with_seed(seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def check(message) -> None:
        outcomes[probe(message)] += 1

    check()
    return outcomes


# -- the suite ---------------------------------------------------------------------------------


def bad_messages_suite(bench: BenchOptions) -> dict:
    """Generated and hand-made bad messages on the WebSocket and on Wyoming (see the module)."""
    count = int(bench.bad_messages or 1000)
    config = config_from_dict(
        {
            "models": {"tts": {"piper": {"noise_scale": 0.0, "noise_w_scale": 0.0}}},
            "server": {"max_text_chars": 200, "channel_timeout": 2.0},
        }
    )
    synth = Synthesizer(config)
    synth.warmup()
    st = state_of(create_app(config, synthesizer=synth))
    ws = SpeechSocket(lambda: st, "127.0.0.1", 0).start()
    wy = WyomingServer(lambda: st, "127.0.0.1", 0).start()
    progress = bench.reporter
    websocket, wyoming = strategies()
    rows = []
    try:
        for name, strategy, hand_made, probe in (
            ("WebSocket", websocket, HAND_MADE_WEBSOCKET, lambda m: probe_websocket(ws.url, m)),
            ("Wyoming", wyoming, HAND_MADE_WYOMING, lambda m: probe_wyoming(wy.port, m)),
        ):
            progress.step(f"{name}: {count} generated + {len(hand_made)} hand-made", None)
            generated = run_generated(strategy, probe, count)
            made = Counter(probe(m) for m in hand_made)
            for kind, outcomes in (("generated", generated), ("hand-made", made)):
                rows.append(
                    {
                        "protocol": name,
                        "messages": kind,
                        "sent": sum(outcomes.values()),
                        **{o: outcomes.get(o, 0) for o in OUTCOMES},
                    }
                )
    finally:
        ws.stop()
        wy.stop()
        synth.close()
    bad = sum(r["internal"] + r["dropped"] + r["hung"] for r in rows)
    return {"suite": "bad-messages", "rows": rows, "target_met": bad == 0}
