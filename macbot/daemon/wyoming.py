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

An error (an unknown voice, nothing to say) is an ``error`` event with the error's ``code``.
Wyoming has no authentication: keep it on loopback unless the network is trusted.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from .. import __version__
from ..core.audio import AudioChunk, to_pcm16
from ..core.live import LiveSpeech
from ..errors import EmptyTextError, MacbotError, MissingExtraError, UsageError
from .state import DaemonState

_LOGGER = logging.getLogger(__name__)

PROGRAM = "macbot"
PIPER = Attribution(name="rhasspy", url="https://github.com/OHF-Voice/piper1-gpl")
"""Who made the voices' model architecture (Piper)."""
KOKORO = Attribution(name="hexgrad", url="https://huggingface.co/hexgrad/Kokoro-82M")
"""Who made Kokoro-82M (its ONNX export: kokoro-onnx, thewh1teagle)."""
SAMPLE_WIDTH = 2
"""Bytes per sample: 16-bit PCM."""


class WyomingServer:
    """The Wyoming TCP server on its own asyncio loop and thread; ``state`` gives the daemon's
    state in force. Binds at construction (an ``OSError`` when the port is taken)."""

    def __init__(
        self, state: Callable[[], DaemonState], host: str, port: int, zeroconf: bool = False
    ) -> None:
        self._state = state
        self.zeroconf = zeroconf
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._handlers: set[TtsHandler] = set()
        self._announcer: Any = None
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._connected, host=host, port=port)
            )
        except OSError:
            self._loop.close()
            raise

    @property
    def port(self) -> int:
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def host(self) -> str:
        return str(self._server.sockets[0].getsockname()[0])

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
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="macbot-wyoming", daemon=True
        )
        self._thread.start()
        _LOGGER.info("Wyoming server listening on %s", self.uri)
        return self

    def stop(self) -> None:
        """Stop accepting, end the open connections, stop the loop and its thread."""
        if self._thread is None:
            self._loop.close()
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _close(self) -> None:
        self._server.close()
        for handler in list(self._handlers):
            await handler.stop()
        if self._announcer is not None:
            await self._announcer.async_close()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = TtsHandler(reader, writer, self._state)
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
    """One Wyoming connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: Callable[[], DaemonState],
    ) -> None:
        super().__init__(reader, writer)
        self._state = state
        self._live: LiveSpeech | None = None
        self._speaking: asyncio.Future[None] | None = None

    async def handle_event(self, event: Event) -> bool:
        try:
            return await self._handle(event)
        except MacbotError as exc:
            await self._error(exc)
            return True

    async def _handle(self, event: Event) -> bool:
        st = self._state()
        if Describe.is_type(event.type):
            await self.write_event(info(st).event())
        elif SynthesizeStart.is_type(event.type):
            start = SynthesizeStart.from_event(event)
            if self._live is not None:
                raise UsageError("a streamed synthesis is already running on this connection")
            live = LiveSpeech(st.synthesizer, _voice(st, start.voice))
            live.sample_rate  # noqa: B018  (loads the voice: an unknown one fails here)
            self._live = live
            pieces = ((piece.clause, piece.chunk) for piece in live.pieces())
            self._speaking = asyncio.ensure_future(self._send(pieces, live))
        elif SynthesizeChunk.is_type(event.type):
            if self._live is None:
                raise UsageError("synthesize-chunk without synthesize-start")
            self._live.feed(SynthesizeChunk.from_event(event).text)
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
                return True  # Home Assistant's copy of a streamed text, for older servers
            request = Synthesize.from_event(event)
            if not request.text.strip():
                raise EmptyTextError("text is empty")
            stream = st.synthesizer.stream(request.text, _voice(st, request.voice))
            await self._send(_as_pieces(stream), None)
        else:
            _LOGGER.debug("ignoring Wyoming event %s", event.type)
        return True

    async def _send(
        self, pieces: Iterator[tuple[int, AudioChunk]], live: LiveSpeech | None
    ) -> None:
        """Send audio-start / audio-chunk s / audio-stop per clause, synthesizing in a worker
        thread while this loop writes."""
        loop = asyncio.get_running_loop()

        def write(event: Event) -> None:
            asyncio.run_coroutine_threadsafe(self.write_event(event), loop).result()

        def run() -> None:
            current = None
            for clause, chunk in pieces:
                rate = chunk.sample_rate
                if clause != current:
                    if current is not None:
                        write(AudioStop().event())
                    write(AudioStart(rate=rate, width=SAMPLE_WIDTH, channels=1).event())
                    current = clause
                pcm = to_pcm16(chunk.samples)
                write(WyomingChunk(rate=rate, width=SAMPLE_WIDTH, channels=1, audio=pcm).event())
            if current is not None:
                write(AudioStop().event())

        try:
            await loop.run_in_executor(None, run)
        except (ConnectionError, RuntimeError) as exc:
            # the client went away mid-stream: nothing left to send it
            _LOGGER.info("Wyoming client gone during synthesis: %s", exc)
            if live is not None:
                live.cancel()

    async def _error(self, exc: MacbotError) -> None:
        """The one rendering of an error on Wyoming: an ``error`` event with its code."""
        _LOGGER.warning("Wyoming request failed: %s", exc)
        await self.write_event(Error(text=exc.message, code=exc.code).event())

    async def disconnect(self) -> None:
        if self._live is not None:
            self._live.cancel()


def _as_pieces(chunks: Iterator[AudioChunk]) -> Iterator[tuple[int, AudioChunk]]:
    """A whole synthesis as one clause."""
    for chunk in chunks:
        yield 0, chunk


def _voice(st: DaemonState, voice: SynthesizeVoice | None) -> str | None:
    """The voice a request names (``None``: the default). Home Assistant sends the names of
    :func:`info`; a name we do not have is an error (:class:`VoiceNotFoundError`)."""
    if voice is None or not voice.name:
        return None
    return voice.name
