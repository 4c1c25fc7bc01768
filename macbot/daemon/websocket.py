"""The WebSocket: text streamed in as an assistant writes it, speech streamed out.

**Why its own port, with the ``websockets`` package.** waitress is a pure WSGI server: it
never hands the socket to the app, so it cannot upgrade a connection (flask-sock and
simple-websocket need werkzeug's dev server, gunicorn, eventlet or gevent to reach the raw
socket; under waitress their handshake fails). The ``websockets`` package's threaded (sync)
server runs beside waitress in one thread of the daemon, on ``server.websocket.port``, and
reads the same state as the HTTP routes (the synthesizer, the config in force after a reload).
The same rules guard it: the ``Host`` and ``Origin`` checks of :mod:`.security` (a page of
the daemon's own HTTP origin may connect) and the bearer token, in ``Authorization`` or, for
browsers, which cannot set headers on a WebSocket, as ``?token=``.

**Protocol** (docs/API.md#websocket). Client → daemon, JSON text messages:

- ``{"type": "start", "voice"?, "speed"?, "normalize"?}`` (optional, first): how to speak;
- ``{"type": "text", "text": "…"}``: the next piece of text, any size (a token, a word);
- ``{"type": "flush"}``: speak what is pending now, even mid-clause;
- ``{"type": "close"}``: no more text; the daemon finishes speaking, sends ``done`` and closes.

Daemon → client: ``{"type": "ready", "sample_rate", "format": "s16le", "channels": 1, "voice",
"engine"}`` once the voice is known; then, in order, ``{"type": "word", "word", "start",
"end"}`` events (seconds from the start of the stream's audio) and binary messages of raw
16-bit little-endian mono PCM; a word's event comes before the audio it starts in. Speech
starts as soon as the first clause is complete (:class:`~macbot.core.clauses.ClauseSplitter`).
Finally ``{"type": "done", "duration", "clauses"}``. A bad message or a failed synthesis sends
``{"type": "error", "error", "code", "param"?}`` and closes the connection with the error's
message as the reason (code 1008 for a bad message or text, 1013 when every session is taken,
1011 for the daemon's own failure).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from ..core.formats import NATIVE_PCM, AudioWriter
from ..core.live import LiveSpeech
from ..errors import Busy, IdleTimeout, InvalidType, MacbotError, TextTooLong, UsageError
from . import parsing
from .accepting import LISTEN_BACKLOG, serve_websockets
from .security import check_headers
from .state import DaemonState

_LOGGER = logging.getLogger(__name__)


class _KeepaliveFilter(logging.Filter):
    """The ``websockets`` package logs an ERROR with a traceback when its keepalive finds a
    client gone (issue 21, item 12): the session logs one info line about it instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.levelno >= logging.ERROR and isinstance(error, ConnectionClosed):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.msg, record.args = "%s: %s", (record.getMessage(), error)
            record.exc_info = record.exc_text = None
            return _PROTOCOL_LOGGER.isEnabledFor(logging.DEBUG)
        return True


_PROTOCOL_LOGGER = logging.getLogger(__name__ + ".protocol")
"""What the ``websockets`` package logs about connections."""
_PROTOCOL_LOGGER.addFilter(_KeepaliveFilter())

PATH = "/"
"""Requests to any path are served (``ws://127.0.0.1:8124/``)."""
MESSAGE_TYPES = ("start", "text", "flush", "close")


class SpeechSocket:
    """The WebSocket server, in a thread of its own; ``state`` gives the daemon's state in
    force (it changes on a config reload)."""

    def __init__(
        self,
        state: Callable[[], DaemonState],
        host: str,
        port: int,
        http_port: int | None = None,
        max_sessions: int = 32,
        keepalive: float = 20.0,
    ) -> None:
        self._state = state
        self.max_sessions = max_sessions
        """Sessions served at once (``server.websocket.max_sessions``)."""
        self._sessions = 0
        self._lock = threading.Lock()
        self.http_port = http_port
        """The daemon's HTTP port: pages from that origin may connect."""
        self._server: Server = serve(
            self._handle,
            host,
            port,
            process_request=self._check,
            compression=None,  # PCM does not compress; deflate would only cost CPU
            max_size=1 << 20,
            ping_interval=keepalive,  # a ping every `keepalive` s, a pong due within as long
            ping_timeout=keepalive,
            logger=_PROTOCOL_LOGGER,
            # not socket.listen()'s 128: a client accepted seconds after it closed held a
            # handshake slot until open_timeout (CI, 2026-12-03)
            backlog=LISTEN_BACKLOG,
        )
        self._thread: threading.Thread | None = None

    @property
    def sessions(self) -> int:
        """Sessions being served now."""
        return self._sessions

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        host = self._server.socket.getsockname()[0]
        return f"ws://{host}:{self.port}{PATH}"

    def start(self) -> SpeechSocket:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=serve_websockets,
            args=(self._server, 2 * self.max_sessions),
            name="macbot-websocket",
            daemon=True,
        )
        self._thread.start()
        _LOGGER.info("WebSocket listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting, close the open connections and wait for the thread."""
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- handshake ---------------------------------------------------------------------------

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse the handshake as the HTTP routes would refuse a request."""
        config = self._state().config
        query = parse_qs(urlsplit(request.path).query)
        token = (query.get("token") or [None])[0]
        ports = (self.http_port,) if self.http_port else ()
        refusal = check_headers(config, request.headers, PATH, ports, token)
        if refusal is None and self._sessions >= self.max_sessions:
            refusal = Busy(_busy_text(self.max_sessions))
        if refusal is None:
            return None
        _LOGGER.warning("refused WebSocket from %s: %s", connection.remote_address, refusal)
        response = connection.respond(refusal.http_status, json.dumps(refusal.to_dict()) + "\n")
        response.headers["Content-Type"] = "application/json"
        return response

    # -- one connection ----------------------------------------------------------------------

    def _handle(self, connection: ServerConnection) -> None:
        st = self._state()
        with self._lock:
            full = self._sessions >= self.max_sessions
            if not full:
                self._sessions += 1
        if full:
            _send_error(connection, Busy(_busy_text(self.max_sessions)), 1013)
            return
        released = False

        def release() -> None:
            """Free this session's slot, once. Called before the last message and the close
            are sent: a client that reconnects the moment it is closed must not be refused
            as busy by its own session (the close handshake can outlast its receipt)."""
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._sessions -= 1

        try:
            self._session(connection, st, release)
        finally:
            release()

    def _session(
        self, connection: ServerConnection, st: DaemonState, release: Callable[[], None]
    ) -> None:
        peer = connection.remote_address  # (not readable once the socket is closed)
        live: LiveSpeech | None = None
        speaker: threading.Thread | None = None
        failure: list[MacbotError] = []
        limit = st.config.server.max_text_chars
        idle = st.config.server.channel_timeout
        try:
            while True:
                try:
                    data = connection.recv(timeout=idle)
                except TimeoutError:
                    raise IdleTimeout(f"no message for {idle:g} s: closing") from None
                message = _message(data, limit)
                kind = message["type"]
                if live is None:
                    live = self._open(connection, st, message if kind == "start" else {})
                    speaker = threading.Thread(
                        target=_speak,
                        args=(connection, live, failure, release),
                        name="macbot-websocket-speak",
                        daemon=True,
                    )
                    speaker.start()
                    if kind == "start":
                        continue
                if kind == "start":
                    raise UsageError("'start' must be the first message", param="type")
                if kind == "text":
                    live.feed(message["text"])
                elif kind == "flush":
                    live.flush()
                else:  # close
                    live.end()
                    if speaker is not None:
                        speaker.join()
                    if not failure:
                        release()
                        connection.send(
                            json.dumps(
                                {
                                    "type": "done",
                                    "duration": round(live.seconds, 6),
                                    "clauses": live.clauses,
                                }
                            )
                        )
                        connection.close()
                    return
        except ConnectionClosed as exc:
            # the client went away (or keepalive found it gone): stop speaking (below)
            _LOGGER.info("WebSocket client %s gone: %s", peer, exc)
        except MacbotError as exc:
            release()
            _send_error(connection, exc, 1008)
        finally:
            if live is not None:
                live.cancel()

    def _open(
        self, connection: ServerConnection, st: DaemonState, start: dict[str, Any]
    ) -> LiveSpeech:
        synth = st.synthesizer
        voice = parsing.voice_name(start.get("voice"), st.voice_names())  # a name, never a path
        speed = parsing.speed(start)
        text_options = parsing.text_options(start, "normalize", synth.text_options())
        options = synth.default_options().with_overrides(speed=speed)
        engine = synth.engine(voice)
        live = LiveSpeech(
            synth, voice, options, text_options, max_pending=st.config.server.max_text_chars
        )
        connection.send(
            json.dumps(
                {
                    "type": "ready",
                    "sample_rate": engine.sample_rate,
                    "format": "s16le",
                    "channels": 1,
                    "voice": engine.voice.name,
                    "engine": engine.engine_type,
                }
            )
        )
        return live


def _speak(
    connection: ServerConnection,
    live: LiveSpeech,
    failure: list[MacbotError],
    release: Callable[[], None],
) -> None:
    """The writing side: each piece's word events, then its audio (raw PCM at the voice's
    rate, from the one audio writer). On a failure it frees the session's slot (``release``),
    then sends the error and closes."""
    writer: AudioWriter | None = None
    try:
        for piece in live.pieces():
            for word in piece.words:
                connection.send(json.dumps({"type": "word", **word.to_dict()}))
            if writer is None:
                writer = AudioWriter(NATIVE_PCM, piece.chunk.sample_rate, stream=True)
            connection.send(writer.write(piece.chunk.samples))
    except ConnectionClosed:
        live.cancel()  # nobody listens any more
    except MacbotError as exc:
        failure.append(exc)
        live.cancel()
        release()
        # bad text (malformed SSML found when a held document is spoken) is the client's:
        # 1008 as for a bad message; 1011 only for the daemon's own failures
        _send_error(connection, exc, 1008 if exc.http_status < 500 else 1011)
    except Exception as exc:  # a bug must end this connection, not the daemon's thread
        _LOGGER.exception("WebSocket synthesis failed")
        failure.append(MacbotError(f"internal error: {type(exc).__name__}: {exc}"))
        live.cancel()
        release()
        _send_error(connection, failure[-1], 1011)


def _message(data: str | bytes, limit: int) -> dict[str, Any]:
    """A client message, checked (see the module)."""
    if isinstance(data, bytes):
        raise UsageError("send text (JSON) messages, not binary ones", param="type")
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise UsageError(f"a message must be JSON ({exc})") from None
    except RecursionError:  # 200,000 nested "[": a 1011 before issue 21
        raise UsageError("a message is nested too deeply") from None
    if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
        raise UsageError(
            f"a message must be a JSON object with 'type' one of {', '.join(MESSAGE_TYPES)}",
            param="type",
        )
    if message["type"] == "text":
        text = message.get("text")
        if not isinstance(text, str):
            raise InvalidType("'text' must be a string", param="text")
        if len(text) > limit:
            raise TextTooLong(f"'text' is too long ({len(text)} characters, limit {limit})")
        parsing.check_string(text, "text")  # a lone surrogate or NUL: a 1011 before issue 21
    return message


def _send_error(connection: ServerConnection, exc: MacbotError, close_code: int) -> None:
    """The one rendering of an error on the WebSocket: an ``error`` message, then close."""
    try:
        connection.send(json.dumps({"type": "error", **exc.to_dict()}))
        connection.close(close_code, _reason(exc.message))
    except ConnectionClosed:
        pass  # already gone: nothing to tell


def _reason(message: str) -> str:
    """A close frame's reason: at most 123 bytes of UTF-8."""
    data = message.encode("utf-8", "replace")
    if len(data) <= 123:
        return message
    return data[:120].decode("utf-8", "ignore") + "…"


def _busy_text(limit: int) -> str:
    return f"all {limit} sessions are taken (server.websocket.max_sessions); try again later"
