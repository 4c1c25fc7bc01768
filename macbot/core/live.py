"""Live speech: text that arrives in pieces, spoken clause by clause as each is complete.

The WebSocket and the Wyoming server both feed a :class:`LiveSpeech` from their reading side
(:meth:`LiveSpeech.feed`, :meth:`LiveSpeech.flush`, :meth:`LiveSpeech.end`) and send what
:meth:`LiveSpeech.pieces` yields from their writing side: each clause goes through the
synthesizer (text front end, cache, engines: a split voice streams inside the clause) as soon as
:class:`~macbot.core.clauses.ClauseSplitter` says it is complete. The splitter follows the
request's text options (markdown, SSML) and the voice's language (its abbreviations), so that
the front end reads each piece as ``/speak`` reads the whole reply.

Bounds: the splitter holds at most ``max_pending`` characters back, and :meth:`LiveSpeech.feed`
waits (the reading side stops reading: the client is slowed down, memory is not spent) while
more than ``max_pending`` characters of clauses wait for the synthesizer.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import EmptyTextError
from .audio import AudioChunk, WordTiming
from .clauses import ClauseSplitter
from .engines.piper import SynthesisOptions
from .synthesizer import SynthesisStream, Synthesizer
from .text import TextOptions
from .timings import shifted

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class LivePiece:
    """One chunk of live audio and the words that start in it.

    A chunk placed in a live stream, not another kind of chunk: the chunk's own word times
    count from its first sample, these from the stream's (what the WebSocket sends)."""

    chunk: AudioChunk
    words: tuple[WordTiming, ...]
    """Times in seconds from the first sample of the whole live stream."""
    start: float
    """Where the chunk starts in the whole live stream (seconds)."""
    clause: int
    """The clause it says (from 0)."""


class LiveSpeech:
    """Clauses of streamed-in text → audio pieces in order (see the module).

    Thread use: one thread feeds, another iterates :meth:`pieces`; :meth:`cancel` from any.
    """

    def __init__(
        self,
        synthesizer: Synthesizer,
        voice: str | None = None,
        options: SynthesisOptions | None = None,
        text_options: TextOptions | None = None,
        splitter: ClauseSplitter | None = None,
        max_pending: int | None = None,
    ) -> None:
        self.synthesizer = synthesizer
        self.voice = voice
        self.options = options or synthesizer.default_options()
        self.text_options = text_options
        if splitter is None:
            read = text_options or synthesizer.text_options()
            rules = synthesizer.frontend(voice).rules
            splitter = ClauseSplitter(
                markdown=read.enabled and read.markdown,
                ssml=read.enabled and read.ssml,
                abbreviations=rules.abbreviations if rules is not None else frozenset(),
                max_pending=max_pending,
            )
        self.splitter = splitter
        self.max_pending = max_pending
        """Most characters of clauses waiting for the synthesizer before :meth:`feed` waits."""
        self._queued = 0
        self._room = threading.Condition()
        self._clauses: queue.Queue[str | None] = queue.Queue()
        self._cancelled = threading.Event()
        self._current: SynthesisStream | None = None
        self._lock = threading.Lock()
        self.clauses = 0
        """Clauses handed to the synthesizer so far."""
        self.seconds = 0.0
        """Seconds of audio yielded so far."""

    @property
    def sample_rate(self) -> int:
        """The voice's sample rate (loads the voice)."""
        return self.synthesizer.engine(self.voice).sample_rate

    def feed(self, text: str, wait: bool = True) -> int:
        """Add streamed-in text; returns how many clauses it completed. With ``wait``, waits
        while more than ``max_pending`` characters wait to be spoken (see :attr:`has_room`).
        Raises :class:`~macbot.errors.TextTooLong` when the splitter would hold too much."""
        clauses = self.splitter.feed(text)
        for clause in clauses:
            self._put(clause)
        if wait:
            with self._room:
                while not self.has_room and not self._cancelled.is_set():
                    self._room.wait(0.5)
        return len(clauses)

    @property
    def has_room(self) -> bool:
        """Whether fewer than ``max_pending`` characters wait for the synthesizer."""
        return self.max_pending is None or self._queued <= self.max_pending

    def _put(self, clause: str) -> None:
        with self._room:
            self._queued += len(clause)
        self._clauses.put(clause)

    def flush(self) -> None:
        """Speak what is pending now, complete or not."""
        rest = self.splitter.flush()
        if rest:
            self._put(rest)

    def end(self) -> None:
        """No more text: speak the rest, then :meth:`pieces` ends."""
        self.flush()
        self._clauses.put(None)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Stop: drop the clauses not yet spoken and cancel the one in synthesis."""
        self._cancelled.set()
        self._clauses.put(None)
        with self._room:
            self._room.notify_all()
        with self._lock:
            if self._current is not None and self._current.job is not None:
                self._current.job.cancel()

    def pieces(self) -> Iterator[LivePiece]:
        """Audio of each clause as it is synthesized, in order, until :meth:`end` (or
        :meth:`cancel`). A clause with nothing to say (an emoji alone) is skipped; other
        errors (:class:`~macbot.errors.MacbotError`) are raised."""
        index = 0
        while not self._cancelled.is_set():
            clause = self._clauses.get()
            if clause is None or self._cancelled.is_set():
                return
            with self._room:
                self._queued -= len(clause)
                self._room.notify_all()
            try:
                stream = self.synthesizer.stream(
                    clause, self.voice, self.options, self.text_options
                )
            except EmptyTextError:
                _LOGGER.debug("live clause %r says nothing", clause)
                continue
            with self._lock:
                self._current = stream
            try:
                for chunk in stream:
                    if self._cancelled.is_set():
                        return
                    yield LivePiece(chunk, shifted(chunk.words, self.seconds), self.seconds, index)
                    self.seconds += chunk.duration
            finally:
                stream.close()
                with self._lock:
                    self._current = None
            index += 1
            self.clauses = index
