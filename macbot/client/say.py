"""``macbot say`` through the running daemon: its cache, queue and sound device are used, and
the voice is already loaded. The CLI calls :func:`say_via_daemon` first and synthesizes
in-process when it returns ``None`` (no daemon answers)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from ..config import SPEED_RANGE
from ..errors import DaemonError, DaemonUnavailable, NoAudioDeviceError, UsageError
from .http import DaemonClient, SpeakResult

_LOGGER = logging.getLogger(__name__)

STARTING_WAIT = 15.0
"""Seconds to wait for a daemon that answers but is still loading its voice."""

NATURAL_WPM = 220.0
"""Words per minute of the bundled voice (joe, medium) at speed 1.0: 336 words of the 32
verification sentences in 92.0 s of audio, sentence pauses included (219 wpm; measured once
with the default noise scales, see docs/CLI.md). ``say -r`` maps words per minute to speed
against it; other Piper voices of the same quality speak at a similar pace."""

PROGRESS_POLL = 0.05
"""Seconds between two looks at a job's progress (``--progress``): words last 0.2–0.5 s."""


def speed_for_rate(wpm: float, natural: float = NATURAL_WPM) -> float:
    """The speed that makes the voice speak ``wpm`` words per minute (``say -r``)."""
    low, high = SPEED_RANGE[0] * natural, SPEED_RANGE[1] * natural
    if not low <= wpm <= high:
        raise UsageError(
            f"-r must be between {low:.0f} and {high:.0f} words per minute (got {wpm:g})",
            param="rate",
        )
    return wpm / natural


class WordPrinter:
    """Prints each word once, as it starts playing, from successive progress reports
    (``{"words": heard in full, "current_word": playing now}``, as ``GET /jobs/{id}`` and
    :meth:`macbot.core.playback.Progress.to_dict` give them)."""

    def __init__(self, write: Callable[[str], Any]) -> None:
        self.write = write
        self.printed = 0

    def update(self, progress: dict[str, Any]) -> None:
        words = [str(w["word"]) for w in progress.get("words") or ()]
        current = progress.get("current_word")
        if current:
            words.append(str(current["word"]))
        for word in words[self.printed :]:
            self.write(word)
        self.printed = max(self.printed, len(words))


class ProgressLine:
    """One line on a terminal's stderr, rewritten as audio is made: ``macbot: 12.3 s of ~40 s
    of audio (31%), 4 s``. Silent when stderr is not a terminal (scripts and pipes get only
    the final line). ``expected``: the audio's length guessed from the words and the speed."""

    def __init__(self, expected: float, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.expected = max(expected, 0.1)
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.shown = False

    @classmethod
    def for_text(cls, text: str, speed: float | None, stream: IO[str] | None = None):
        return cls(len(text.split()) / NATURAL_WPM * 60.0 / (speed or 1.0), stream)

    def update(self, seconds: float) -> None:
        """``seconds`` of audio are made so far."""
        if not self.enabled:
            return
        share = min(seconds / self.expected, 0.99)
        elapsed = time.monotonic() - self.started
        self.stream.write(
            f"\rmacbot: {seconds:.1f} s of ~{max(self.expected, seconds):.0f} s of audio "
            f"({100 * share:.0f}%), {elapsed:.0f} s\x1b[K"
        )
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """Clear the line (the caller prints what was made)."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class AudioFile(Protocol):
    """What :func:`fetch_audio` writes into: :class:`~macbot.core.formats.AudioWriter`, a file
    of one format (the CLI makes it, so that the path that plays loads no numpy)."""

    @property
    def seconds(self) -> float: ...

    def write_pcm16(self, data: bytes) -> bytes: ...

    def save(self, path: Path) -> Path: ...

    def close(self) -> None: ...


def fetch_audio(
    client: DaemonClient,
    text: str,
    voice: str | None,
    speed: float | None,
    output: tuple[Path, Callable[[int], AudioFile]],
    progress: ProgressLine | None = None,
) -> SpeakResult:
    """The daemon's audio of ``text`` written to ``output``: a path and the audio file to
    write for a sample rate. Streamed raw (``/speak`` with ``stream`` and ``format:
    "pcm"``), so that ``progress`` follows the audio as it comes, into the one audio writer:
    a WAV holds the daemon's samples as they came, other formats are encoded once, here."""
    path, open_file = output
    body: dict[str, Any] = {"text": text, "play": False, "stream": True, "format": "pcm"}
    if voice is not None:
        body["voice"] = voice
    if speed is not None:
        body["speed"] = speed
    headers: dict[str, str] = {}
    writer: AudioFile | None = None
    try:
        for piece in client.stream("POST", "/speak", body, headers):
            if writer is None:
                rate = headers.get("x-sample-rate", "")
                if not rate.isdigit():
                    raise DaemonError(0, "the daemon's stream did not say its sample rate")
                writer = open_file(int(rate))
            writer.write_pcm16(piece)
            if progress is not None:
                progress.update(writer.seconds)
        if writer is None:
            raise DaemonError(0, "the daemon's stream held no audio")
        seconds = writer.seconds
        writer.save(path)
    finally:
        if writer is not None:
            writer.close()
    return SpeakResult(info={"duration": round(seconds, 3)})


def say_via_daemon(
    client: DaemonClient,
    text: str,
    *,
    voice: str | None = None,
    speed: float | None = None,
    output: tuple[Path, Callable[[int], AudioFile]] | None = None,
    wait: bool = True,
    policy: str | None = None,
    progress: WordPrinter | None = None,
    made: ProgressLine | None = None,
) -> SpeakResult | None:
    """Speak ``text`` with the daemon, or write its audio to ``output`` (a path and the audio
    file to write, :func:`fetch_audio`). ``None`` when no daemon answers, so the caller
    synthesizes in-process. ``policy`` is ``/speak``'s; with ``progress`` it waits and hands
    the job's progress to the printer as the words play. With ``output``, ``made`` follows
    the audio as the daemon makes it (a long text is not silent for minutes on a terminal).

    The daemon's refusals raise :class:`~macbot.errors.DaemonError`, whose exit code is the
    one its error ``code`` has here (an unknown voice exits 4, as in-process); a daemon
    without a sound device raises :class:`~macbot.errors.NoAudioDeviceError`.
    """
    try:
        if not client.ready(wait=STARTING_WAIT):
            _LOGGER.info("no daemon ready at %s: synthesizing in-process", client.url)
            return None
        if output is not None:
            try:
                return fetch_audio(client, text, voice, speed, output, made)
            finally:
                if made is not None:
                    made.close()
        result = client.speak(text, voice, speed, play=True, policy=policy)
        if result.info.get("played") is False:
            reason = result.info.get("message", "playback unavailable")
            raise NoAudioDeviceError(
                f"the daemon at {client.url} cannot play: {reason}", hint="use -o FILE.wav"
            )
        if progress is not None and result.job_id is not None:
            final = client.follow_job(result.job_id, progress.update, PROGRESS_POLL)
            _LOGGER.info("played through %s: job %s %s", client.url, result.job_id, final)
        elif wait:
            how = client.wait_played(result)
            _LOGGER.info("played through %s: %s", client.url, how)
        return result
    except DaemonUnavailable as exc:
        _LOGGER.warning("%s; synthesizing in-process", exc)
        return None
    except DaemonError as exc:
        if exc.status in (401, 403):
            exc.hint = "set MACBOT_TOKEN or server.auth_token to the daemon's token"
        exc.message = f"daemon at {client.url}: {exc.message}"
        raise
