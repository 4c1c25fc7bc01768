"""The Wyoming server: Home Assistant's voice-pipeline protocol, spoken with the daemon's voices.

Built with the ``wyoming`` package's events and its :class:`AsyncEventHandler`, on an asyncio
loop in a thread of its own beside waitress (``server.wyoming``: off by default,
``127.0.0.1:10200``). It reads the same state as the HTTP routes (the synthesizer in force, so
the phrase cache and the engines are shared). Events (docs/WYOMING.md):

- ``describe`` → ``info``: one TTS program, ``macbot``, with every voice it can use
  (the bundled one and those in ``piper_voices/``), and ``supports_synthesize_streaming``;
- ``synthesize`` → ``audio-start``, ``audio-chunk`` s (16-bit mono PCM at the voice's rate,
  sent as each piece is synthesized), ``audio-stop``;
- streaming: ``synthesize-start``, ``synthesize-chunk`` s, ``synthesize-stop`` → for each
  clause as soon as it is complete, ``audio-start`` / ``audio-chunk`` s / ``audio-stop``; then
  ``synthesize-stopped``. The ``synthesize`` event Home Assistant also sends during a stream
  (for servers that do not stream) is ignored, as wyoming-piper does.

An error (an unknown voice, nothing to say, a malformed event) is an ``error`` event with the
error's ``code``; the connection goes on unless where the next event starts is unknown (an
unusable ``data_length``, a header line too long, a timeout). A voice is a name from the
voice list (:func:`~macbot.daemon.parsing.voice_name`, as over HTTP): never a path.

Bounds (issue 21), as over HTTP: ``server.max_text_chars`` per text and held back in a
stream, ``server.channel_timeout`` to read an event and to write one, a ``data_length`` or
``payload_length`` over its bound refused before any byte is read, and
``server.wyoming.max_connections`` at once. Listing and loading voices, the text front end,
hashing and synthesis run on a thread pool, never on the loop; a client's synthesis stops
when it goes.

Wyoming has no authentication: keep it on loopback unless the network is trusted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from ..core.audio import AudioChunk
from ..core.formats import NATIVE_PCM, AudioWriter
from ..core.live import LiveSpeech
from ..core.synthesizer import SynthesisStream
from ..errors import (
    Busy,
    EmptyTextError,
    IdleTimeout,
    InvalidType,
    MacbotError,
    MissingExtraError,
    PayloadTooLarge,
    TextTooLong,
    UsageError,
)
from ..version import __version__
from . import parsing
from .accepting import BACKOFF, LISTEN_BACKLOG, RESOURCE_ERRORS, ThrottledLog
from .state import DaemonState

_LOGGER = logging.getLogger(__name__)

PROGRAM = "macbot"
PIPER = Attribution(name="rhasspy", url="https://github.com/OHF-Voice/piper1-gpl")
"""Who made the voices' model architecture (Piper)."""
KOKORO = Attribution(name="hexgrad", url="https://huggingface.co/hexgrad/Kokoro-82M")
"""Who made Kokoro-82M (its ONNX export: kokoro-onnx, thewh1teagle)."""
SAMPLE_WIDTH = 2
"""Bytes per sample: 16-bit PCM."""
LOGGED_ERRORS = 10
"""Errors of one connection logged as warnings; later ones at debug level."""
REFUSING = 8
"""Connections told at once that every one is taken (beyond ``max_connections``)."""
PAYLOAD_LIMIT = 1 << 20
"""Largest ``payload_length`` accepted (skipped unread: text-to-speech takes no audio in)."""


class WyomingServer:
    """The Wyoming TCP server on its own asyncio loop and thread; ``state`` gives the daemon's
    state in force. Binds at construction (an ``OSError`` when the port is taken)."""

    def __init__(
        self,
        state: Callable[[], DaemonState],
        host: str,
        port: int,
        zeroconf: bool = False,
        max_connections: int = 32,
    ) -> None:
        self._state = state
        self.zeroconf = zeroconf
        self.max_connections = max_connections
        """Connections served at once (``server.wyoming.max_connections``)."""
        self._executor = ThreadPoolExecutor(
            max_workers=2 * max_connections, thread_name_prefix="macbot-wyoming-work"
        )
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._handlers: set[TtsHandler] = set()
        self._announcer: Any = None
        self._limit = _header_limit(state())
        self._timeout = state().config.server.channel_timeout
        self._slots = asyncio.Semaphore(max_connections + REFUSING)
        self._connections: set[asyncio.Task[None]] = set()
        self._accepting: asyncio.Task[None] | None = None
        try:
            self._socket = _listen(host, port)
        except OSError:
            self._loop.close()
            self._executor.shutdown(wait=False)
            raise

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def host(self) -> str:
        return str(self._socket.getsockname()[0])

    @property
    def uri(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def start(self) -> WyomingServer:
        """Serve in a daemon thread (and announce over zeroconf when asked; without the
        extra or a network for it, the server runs unannounced and the log says why)."""
        if self.zeroconf:
            try:
                self._announcer = self._loop.run_until_complete(self._announce())
            except (MissingExtraError, OSError) as exc:
                _LOGGER.error("Wyoming server not announced: %s", exc)
        self._accepting = self._loop.create_task(self._accept())
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="macbot-wyoming", daemon=True
        )
        self._thread.start()
        _LOGGER.info("Wyoming server listening on %s", self.uri)
        return self

    def stop(self) -> None:
        """Stop accepting, end the open connections, stop the loop and its thread."""
        if self._thread is None:
            self._socket.close()
            self._loop.close()
            self._executor.shutdown(wait=False)
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _close(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        self._socket.close()
        for handler in list(self._handlers):
            await handler.shutdown()
        if self._connections:
            await asyncio.wait(self._connections, timeout=5)
        if self._announcer is not None:
            await self._announcer.async_close()

    async def _accept(self) -> None:
        """Accept while a slot is free: ``max_connections`` served and :data:`REFUSING` being
        told they are not, each slot held until its socket is closed. The rest wait in the
        kernel's listen queue, holding none of the daemon's files. asyncio's own server
        accepted a hundred at a time and held some 250 files under 2,000 idle clients (the
        open files budgeted for Wyoming: ``macbot.daemon.server.http_connection_limit``)."""
        log = ThrottledLog("Wyoming")
        while True:
            await self._slots.acquire()
            try:
                conn, _ = await self._loop.sock_accept(self._socket)
            except OSError as exc:
                self._slots.release()
                if exc.errno in RESOURCE_ERRORS:
                    log.warn(exc)
                    await asyncio.sleep(BACKOFF)
                elif self._socket.fileno() < 0:
                    return
                continue  # a peer gone before accept() finished: the listener is fine
            except BaseException:
                self._slots.release()
                raise
            task = self._loop.create_task(self._serve(conn))
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)

    async def _serve(self, conn: socket.socket) -> None:
        """One accepted connection, its slot given back once its socket is closed (a client
        that reads nothing of its last answer is cut off after ``channel_timeout``)."""
        try:
            reader, writer = await asyncio.open_connection(sock=conn, limit=self._limit)
        except BaseException:
            conn.close()
            self._slots.release()
            raise
        try:
            await self._connected(reader, writer)
        finally:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), self._timeout)
            except (TimeoutError, OSError):
                writer.transport.abort()
            self._slots.release()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = TtsHandler(reader, writer, self._state, self._executor)
        if len(self._handlers) >= self.max_connections:
            # every connection is taken: say so and close at once, so that idle sockets
            # cannot take every open file of the daemon
            busy = Busy(
                f"all {self.max_connections} connections are taken "
                "(server.wyoming.max_connections); try again later"
            )
            with contextlib.suppress(ConnectionError, _Gone):  # gone already: nothing to tell
                await handler.write_event(Error(text=busy.message, code=busy.code).event())
            writer.transport.abort()
            return
        self._handlers.add(handler)
        try:
            await handler.run()
        finally:
            self._handlers.discard(handler)

    async def _announce(self) -> Any:
        """Register ``_wyoming._tcp`` over mDNS (the ``zeroconf`` extra)."""
        try:
            from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
        except ImportError as exc:
            raise MissingExtraError(
                "server.wyoming.zeroconf needs the zeroconf package "
                "(pip install 'macbot-tts[zeroconf]')"
            ) from exc
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostbyname(socket.gethostname())
        zc = AsyncZeroconf()
        name = f"{PROGRAM}-{socket.gethostname().split('.')[0]}"
        info = AsyncServiceInfo(
            "_wyoming._tcp.local.",
            f"{name}._wyoming._tcp.local.",
            addresses=[socket.inet_aton(host)],
            port=self.port,
        )
        await zc.async_register_service(info)
        _LOGGER.info("Wyoming announced over zeroconf as %s on %s:%d", name, host, self.port)
        return zc


def _listen(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket on ``host`` (a name, IPv4 or IPv6) and ``port``."""
    (family, *_), *_ = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    sock = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


def _header_limit(st: DaemonState) -> int:
    """The longest line the reader takes: a header with the longest text in it."""
    return 12 * st.config.server.max_text_chars + 65536


def info(st: DaemonState) -> Info:
    """The ``info`` answer: the ``macbot`` TTS program and its voices."""
    voices = []
    for voice in st.voices():
        language = voice.language
        voices.append(
            TtsVoice(
                name=voice.name,
                attribution=KOKORO if voice.family == "kokoro" else PIPER,
                installed=True,
                description=f"{voice.name} ({voice.family}, {voice.source})",
                version=None,
                languages=[language] if language and language != "unknown" else [],
            )
        )
    program = TtsProgram(
        name=PROGRAM,
        attribution=Attribution(name="MacBot TTS", url="https://github.com/OHF-Voice/piper1-gpl"),
        installed=True,
        description=(
            "MacBot TTS: Piper and Kokoro voices with a text front end, streamed by clause"
        ),
        version=__version__,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


class TtsHandler(AsyncEventHandler):
    """One Wyoming connection: its events read with bounds, its work off the loop.

    Work that blocks (listing and loading voices, the text front end, hashing, synthesis)
    runs on ``executor``; audio is written from there through the loop with the write
    timeout. When the client goes, its synthesis stops (:meth:`_watch`)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: Callable[[], DaemonState],
        executor: Executor | None = None,
    ) -> None:
        super().__init__(reader, writer)
        self._state = state
        self._executor = executor
        st = state()
        self.max_text = st.config.server.max_text_chars
        """Longest text of one ``synthesize`` or ``synthesize-chunk`` (``max_text_chars``)."""
        self.timeout = st.config.server.channel_timeout
        """Seconds a client may stay idle, or leave a write unread (``channel_timeout``)."""
        self._live: LiveSpeech | None = None
        self._speaking: asyncio.Future[None] | None = None
        self._errors = 0
        self._work: asyncio.Future[None] | None = None
        self._stop_work: Callable[[], None] | None = None

    @property
    def data_limit(self) -> int:
        """Largest ``data_length`` accepted: the longest text, every character escaped."""
        return 12 * self.max_text + 65536

    # -- reading -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Events until the client goes, a framing error or a timeout; every bad event gets
        an ``error`` event first (issue 21: some dropped or hung the connection)."""
        try:
            while True:
                try:
                    event = await self._read()
                except _Framing as exc:  # the stream cannot be read on: say why, then close
                    await self._error(exc.error)
                    return
                except MacbotError as exc:
                    await self._error(exc)
                    continue
                if event is None:
                    return
                try:
                    await self._handle(event)
                except MacbotError as exc:
                    await self._error(exc)
        except (ConnectionError, _Gone) as exc:
            _LOGGER.info("Wyoming client gone: %s", exc or type(exc).__name__)
        finally:
            await self.disconnect()
            self.writer.close()

    async def _read(self) -> Event | None:
        """The next event (``None``: the client closed). Raises :class:`_Framing` when the
        stream cannot be read on (a header too long, an unusable length, a timeout) and a
        :class:`~macbot.errors.UsageError` for a bad event that can be skipped."""
        try:
            async with asyncio.timeout(self.timeout):  # (one timer: wait_for costs a task)
                line = await self.reader.readline()
                while line and not line.strip():  # blank lines between events say nothing
                    line = await self.reader.readline()
        except TimeoutError:
            raise _Framing(
                IdleTimeout(f"nothing received for {self.timeout:g} s: closing")
            ) from None
        except ValueError:  # longer than the reader's limit
            raise _Framing(PayloadTooLarge("an event's header line is too long")) from None
        if not line:
            return None
        try:
            header = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise UsageError(f"an event header must be one line of JSON ({exc})") from None
        if not isinstance(header, dict):
            raise UsageError("an event header must be a JSON object")
        data_length = _length(header, "data_length", self.data_limit)
        payload_length = _length(header, "payload_length", PAYLOAD_LIMIT)
        data = header.get("data")
        if data is None:
            data = {}
        if data_length:
            raw = await self._exactly(data_length)
            try:
                more = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                await self._skip(payload_length)
                raise UsageError(f"an event's data must be JSON ({exc})") from None
            if not isinstance(more, dict) or not isinstance(data, dict):
                await self._skip(payload_length)
                raise UsageError("an event's data must be a JSON object", param="data")
            data = {**data, **more}
        await self._skip(payload_length)  # a text-to-speech server takes no audio in
        kind = header.get("type")
        if not isinstance(kind, str) or not kind:
            raise UsageError("an event needs a 'type' (a string)", param="type")
        if not isinstance(data, dict):
            raise UsageError("an event's data must be a JSON object", param="data")
        return Event(type=kind, data=data)

    async def _exactly(self, size: int) -> bytes:
        try:
            async with asyncio.timeout(self.timeout):
                return await self.reader.readexactly(size)
        except TimeoutError:
            raise _Framing(
                IdleTimeout(f"an event's data did not arrive in {self.timeout:g} s")
            ) from None
        except asyncio.IncompleteReadError:
            raise _Gone("closed in the middle of an event") from None

    async def _skip(self, size: int) -> None:
        while size > 0:
            size -= len(await self._exactly(min(size, 65536)))

    # -- events ------------------------------------------------------------------------------

    async def handle_event(self, event: Event) -> bool:
        try:
            await self._handle(event)
        except MacbotError as exc:
            await self._error(exc)
        return True

    async def _handle(self, event: Event) -> None:
        st = self._state()
        loop = asyncio.get_running_loop()
        if Describe.is_type(event.type):
            answer = await loop.run_in_executor(self._executor, info, st)
            await self.write_event(answer.event())
        elif SynthesizeStart.is_type(event.type):
            if self._live is not None:
                raise UsageError("a streamed synthesis is already running on this connection")
            voice = _voice_field(event.data)
            self._live = await loop.run_in_executor(self._executor, self._open, st, voice)
            live = self._live
            pieces = ((piece.clause, piece.chunk) for piece in live.pieces())
            self._speaking = asyncio.ensure_future(self._send(lambda: pieces, live.cancel))
        elif SynthesizeChunk.is_type(event.type):
            if self._live is None:
                raise UsageError("synthesize-chunk without synthesize-start")
            self._live.feed(_text_field(event.data, self.max_text), wait=False)
            while not self._live.has_room and not self._live.cancelled:
                await asyncio.sleep(0.05)  # stop reading until the synthesizer catches up
        elif SynthesizeStop.is_type(event.type):
            if self._live is None or self._speaking is None:
                raise UsageError("synthesize-stop without synthesize-start")
            self._live.end()
            try:
                await self._speaking
            finally:
                self._live = self._speaking = None
            await self.write_event(SynthesizeStopped().event())
        elif Synthesize.is_type(event.type):
            if self._live is not None:
                return  # Home Assistant's copy of a streamed text, for older servers
            text = _text_field(event.data, self.max_text)
            if not text.strip():
                raise EmptyTextError("text is empty")
            voice = _voice_field(event.data)
            opened: list[SynthesisStream] = []

            def start() -> Iterator[tuple[int, AudioChunk]]:
                name = parsing.voice_name(voice, st.voice_names(), "voice.name")
                opened.append(st.synthesizer.stream(text, name))
                return _as_pieces(opened[0])

            def stop() -> None:  # from any thread: cancel what has not started
                if opened and opened[0].job is not None:
                    opened[0].job.cancel()

            await self._send(start, stop)
        else:
            _LOGGER.debug("ignoring Wyoming event %s", event.type)

    def _open(self, st: DaemonState, voice: str | None) -> LiveSpeech:
        """A streamed synthesis (in the executor: lists and loads voices)."""
        name = parsing.voice_name(voice, st.voice_names(), "voice.name")
        live = LiveSpeech(st.synthesizer, name, max_pending=self.max_text)
        live.sample_rate  # noqa: B018  (loads the voice before any text)
        return live

    async def _send(
        self, start: Callable[[], Iterator[tuple[int, AudioChunk]]], stop: Callable[[], None]
    ) -> None:
        """Send audio-start / audio-chunk s / audio-stop per clause. ``start`` (the front end,
        the voice, synthesis) runs in the executor, which writes through this loop; ``stop``
        (safe from any thread) ends the synthesis when the client goes or a write times out."""
        loop = asyncio.get_running_loop()

        def write(event: Event) -> None:
            future = asyncio.run_coroutine_threadsafe(self.write_event(event), loop)
            future.result(timeout=self.timeout + 10)

        def run() -> None:
            pieces: Iterator[tuple[int, AudioChunk]] = iter(())
            try:
                current = None
                writer: AudioWriter | None = None
                pieces = start()
                for clause, chunk in pieces:
                    rate = chunk.sample_rate
                    if clause != current:
                        if current is not None:
                            write(AudioStop().event())
                        write(AudioStart(rate=rate, width=SAMPLE_WIDTH, channels=1).event())
                        current = clause
                        writer = AudioWriter(NATIVE_PCM, rate, stream=True)
                    assert writer is not None
                    pcm = writer.write(chunk.samples)
                    write(
                        WyomingChunk(rate=rate, width=SAMPLE_WIDTH, channels=1, audio=pcm).event()
                    )
                if current is not None:
                    write(AudioStop().event())
            finally:
                stop()
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()  # here, in the thread that iterates them

        work = loop.run_in_executor(self._executor, run)
        self._work, self._stop_work = work, stop
        watch = asyncio.ensure_future(self._watch(work, stop))
        try:
            await work
        except (ConnectionError, TimeoutError, _Gone, concurrent.futures.CancelledError) as exc:
            stop()
            raise _Gone(f"during synthesis: {exc or type(exc).__name__}") from None
        finally:
            watch.cancel()

    async def _watch(self, work: asyncio.Future[None], stop: Callable[[], None]) -> None:
        """Stop the synthesis as soon as the client has gone (not at its next write)."""
        while not work.done():
            if self.writer.transport.is_closing() or self.reader.at_eof():
                _LOGGER.info("Wyoming client gone: stopping its synthesis")
                stop()
                return
            await asyncio.sleep(0.1)

    async def write_event(self, event: Event) -> None:
        """Write ``event``; a client that does not read it within the timeout is dropped."""
        try:
            await asyncio.wait_for(async_write_event(event, self.writer), self.timeout)
        except TimeoutError:
            self.writer.transport.abort()
            raise _Gone(f"the client read nothing for {self.timeout:g} s") from None

    async def _error(self, exc: MacbotError) -> None:
        """The one rendering of an error on Wyoming: an ``error`` event with its code (logged
        as a warning the first :data:`LOGGED_ERRORS` times per connection, so that a client
        sending garbage cannot fill the log)."""
        self._errors += 1
        level = logging.WARNING if self._errors <= LOGGED_ERRORS else logging.DEBUG
        _LOGGER.log(level, "Wyoming request failed: %s", exc)
        await self.write_event(Error(text=exc.message, code=exc.code).event())

    async def shutdown(self) -> None:
        """The server stops: end this connection's work (its thread must not write to a
        loop that is gone), then the connection."""
        if self._live is not None:
            self._live.cancel()
        if self._stop_work is not None:
            self._stop_work()
        await self.stop()
        if self._work is not None and not self._work.done():
            await asyncio.wait([self._work], timeout=5)

    async def disconnect(self) -> None:
        if self._live is not None:
            self._live.cancel()
        if self._speaking is not None:
            try:
                await self._speaking
            except (_Gone, MacbotError, ConnectionError) as exc:
                _LOGGER.debug("streamed synthesis ended with %s", exc)


class _Gone(Exception):
    """The client cannot be written to any more."""


class _Framing(Exception):
    """The stream cannot be read on; ``error`` says why."""

    def __init__(self, error: MacbotError) -> None:
        super().__init__(error.message)
        self.error = error


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    """A header's ``data_length``/``payload_length``: a whole number up to ``limit`` (refused
    before any byte of it is read: 512 MB were buffered before issue 21)."""
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Framing(UsageError(f"'{key}' must be a whole number of bytes", param=key))
    if value > limit:
        raise _Framing(PayloadTooLarge(f"'{key}' is {value} bytes (limit {limit})", param=key))
    return value


def _text_field(data: dict[str, Any], limit: int) -> str:
    value = data.get("text")
    if not isinstance(value, str):
        raise InvalidType("'text' must be a string", param="text")
    if len(value) > limit:
        raise TextTooLong(f"'text' is too long ({len(value)} characters, limit {limit})")
    return parsing.check_string(value, "text")


def _voice_field(data: dict[str, Any]) -> str | None:
    """The voice name of an event's ``voice`` (``None``: the default). It is checked against
    the voice names like every front end's (:func:`~macbot.daemon.parsing.voice_name`): a
    path is refused."""
    voice = data.get("voice")
    if voice is None:
        return None
    if not isinstance(voice, dict):
        raise InvalidType("'voice' must be an object ({\"name\": …})", param="voice")
    name = voice.get("name")
    if name is None or name == "":
        return None
    if not isinstance(name, str):
        raise InvalidType("'voice.name' must be a string", param="voice.name")
    return name


def _as_pieces(stream: SynthesisStream) -> Iterator[tuple[int, AudioChunk]]:
    """A whole synthesis as one clause (closing this closes the stream)."""
    try:
        for chunk in stream:
            yield 0, chunk
    finally:
        stream.close()
