"""Local playback through one queue for the sound device.

The sound card is an edge this code cannot assume: :class:`AudioOutput` is the small
interface (play with a stop event, the position), :class:`SoundDeviceOutput` the real one
(sounddevice/PortAudio, imported lazily), and tests drive :class:`Player` with outputs that
record what they were given or "play" in real time or step by step.

The Player knows what is playing: which job and chunk, and how many of its samples the
device has played. From the chunks' word timings it tells which words have played
(:meth:`Player.progress`), which is what ``/interrupt`` reports after a barge-in.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..config import PLAYBACK_POLICIES
from ..errors import NoAudioDeviceError, UsageError
from .audio import AudioChunk, WordTiming

_LOGGER = logging.getLogger(__name__)


class AudioOutput(Protocol):
    """Something that can play float32 mono samples and say how far it has got.

    The Player hands it one piece of a chunk at a time and a ``stop`` event per call; pause,
    barge-in and the policies set that event, and the Player resumes a paused chunk by
    playing the rest of it.
    """

    def check(self) -> None:
        """Raise :class:`NoAudioDeviceError` with the reason when nothing can play."""

    def play(self, samples: np.ndarray, sample_rate: int, stop: threading.Event) -> int:
        """Play ``samples``; block until they have played or ``stop`` is set (checked before
        the first sample and at least once per block). Returns how many frames played."""

    def position(self) -> int:
        """Frames the ``play`` call in progress has played so far (0 between calls)."""

    def devices(self) -> list[dict[str, object]]:
        """Output devices, as the host reports them."""


_IMPORT_LOCK = threading.Lock()
"""One thread at a time imports sounddevice (see :meth:`SoundDeviceOutput.module`)."""


def import_sounddevice():
    """The sounddevice module, whole, or :class:`NoAudioDeviceError` saying why not.

    Threads import it one at a time: a thread that imports a module another thread is still
    executing gets the half-made module object, and when that import fails (no PortAudio) it
    keeps a module without ``PortAudioError`` or ``query_devices`` (issue 11: six concurrent
    first ``/speak`` broke playback until restart).
    """
    with _IMPORT_LOCK:
        try:
            import sounddevice
        except Exception as exc:  # OSError: no PortAudio library; anything else: a broken install
            raise NoAudioDeviceError(f"no audio output: {exc}") from exc
    if not all(hasattr(sounddevice, name) for name in ("PortAudioError", "query_devices", "play")):
        raise NoAudioDeviceError("no audio output: the sounddevice module is incomplete")
    return sounddevice


class SoundDeviceOutput:
    """PortAudio through sounddevice: an output stream fed block by block from its callback,
    which counts the frames it has handed to the device (the position, ahead of the speaker
    by the device's latency, tens of milliseconds)."""

    def __init__(self, device: int | str | None = None) -> None:
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device)  # an index as listed by GET /devices
        self.device = device
        self._sd = None
        self._frames = 0

    def _module(self):
        if self._sd is None:
            self._sd = import_sounddevice()  # kept only when whole
        return self._sd

    def check(self) -> None:
        sd = self._module()
        try:
            sd.query_devices(self.device, kind="output")
        except (ValueError, sd.PortAudioError) as exc:
            raise NoAudioDeviceError(f"no audio output device: {exc}") from exc

    def play(self, samples: np.ndarray, sample_rate: int, stop: threading.Event) -> int:
        sd = self._module()
        data = np.ascontiguousarray(samples, dtype=np.float32)
        self._frames = 0
        if stop.is_set() or not len(data):
            return 0
        finished = threading.Event()

        def callback(outdata, frames, _time, _status) -> None:
            if stop.is_set():
                raise sd.CallbackAbort
            start = self._frames
            block = data[start : start + frames]
            outdata[: len(block), 0] = block
            outdata[len(block) :] = 0
            self._frames = start + len(block)
            if len(block) < frames:
                raise sd.CallbackStop

        stream = sd.OutputStream(
            samplerate=sample_rate,
            channels=1,
            dtype="float32",
            device=self.device,
            callback=callback,
            finished_callback=finished.set,
        )
        with stream:
            while not finished.wait(0.05):
                if stop.is_set():
                    stream.abort()
                    break
        played, self._frames = self._frames, 0
        return played

    def position(self) -> int:
        return self._frames

    def devices(self) -> list[dict[str, object]]:
        sd = self._module()
        return [
            {"index": i, "name": d["name"], "channels": d["max_output_channels"]}
            for i, d in enumerate(sd.query_devices())
            if d["max_output_channels"] > 0
        ]


RECENT_JOBS = 256
"""Jobs remembered for ``GET /jobs/<id>`` (oldest forgotten first)."""


def check_policy(policy: str) -> str:
    """``policy`` if it is one of :data:`~macbot.config.PLAYBACK_POLICIES`, else a
    :class:`UsageError` naming them."""
    if policy not in PLAYBACK_POLICIES:
        raise UsageError(
            f"'policy' must be one of {', '.join(PLAYBACK_POLICIES)} (got {policy!r})",
            param="policy",
        )
    return policy


STOP_WAIT = 2.0
"""Seconds :meth:`Player.interrupt` waits for the stopped job to let go of the device, so that
the words it reports are those the device really played."""


@dataclass(frozen=True)
class Progress:
    """How far a job has played: ``words`` heard in full, the word playing now."""

    job_id: int
    played_seconds: float
    words: tuple[WordTiming, ...]
    """Words whose end has played, times in seconds from the job's first sample."""
    current_word: WordTiming | None
    """The word playing at ``played_seconds`` (cut there, if the job was stopped)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "played_seconds": round(self.played_seconds, 3),
            "words": [w.to_dict() for w in self.words],
            "current_word": self.current_word.to_dict() if self.current_word else None,
        }


@dataclass
class PlaybackJob:
    """One utterance queued for the sound device."""

    id: int
    chunks: Iterable[AudioChunk]
    done: threading.Event
    policy: str = "queue"
    state: str = "queued"
    """``queued``, ``playing``, ``paused``, ``done``, ``interrupted`` or ``failed``."""
    cancelled: bool = False
    words: list[WordTiming] = field(default_factory=list)
    """The words of the chunks begun so far, in seconds from the job's first sample."""
    chunk_start: float = 0.0
    """Seconds of the job before the chunk playing now."""
    chunk_frames: int = 0
    """Frames of the chunk playing now that played in earlier calls (before a pause)."""
    rate: int = 0
    finished_seconds: float | None = None
    """Seconds played in all, once the job has ended."""
    error: Exception | None = None
    """What failed the job (state ``failed``): the device or the synthesis feeding it."""


@dataclass
class _Call:
    """The output call in progress: which job, and the event that stops it."""

    job: PlaybackJob
    stop: threading.Event


def _close(chunks: Iterable[AudioChunk]) -> None:
    """Stop a dropped job's producer (a synthesis stream cancels its pending sentences)."""
    close = getattr(chunks, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # closing must not break the interrupt; the producer is gone anyway
            _LOGGER.debug("closing a dropped job failed", exc_info=True)


class Player:
    """One background thread that owns the device and plays queued jobs in order.

    ``submit`` returns at once (its ``policy`` decides what happens to the other jobs);
    ``interrupt`` stops the current sound and drops the queue; ``pause`` holds everything
    (mid-word) until ``resume``. ``progress`` says which words of a job have played.
    """

    def __init__(self, output: AudioOutput) -> None:
        self.output = output
        self._cond = threading.Condition()
        self._pending: deque[PlaybackJob] = deque()
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._recent: OrderedDict[int, PlaybackJob] = OrderedDict()
        self._call: _Call | None = None
        self._closing = False
        self.current: PlaybackJob | None = None
        self.playing = False
        self.paused = False
        self.played_chunks = 0
        self.interrupted = 0

    def available(self) -> tuple[bool, str]:
        """Whether playback works here, and why not."""
        try:
            self.output.check()
        except NoAudioDeviceError as exc:
            return False, str(exc)
        return True, "ok"

    def enqueue(self, chunks: Iterable[AudioChunk]) -> threading.Event:
        """Queue ``chunks`` (an iterator is consumed as it plays); the event is set when done."""
        return self.submit(chunks).done

    def submit(self, chunks: Iterable[AudioChunk], policy: str = "queue") -> PlaybackJob:
        """Queue ``chunks`` under ``policy`` (:data:`PLAYBACK_POLICIES`) and return the job at once.
        An iterator is consumed as it plays, so playback starts with its first chunk;
        ``close()`` is called on it if dropped."""
        check_policy(policy)
        self._ensure_thread()
        dropped: list[PlaybackJob] = []
        with self._cond:
            job = PlaybackJob(next(self._ids), chunks, threading.Event(), policy=policy)
            self._recent[job.id] = job
            while len(self._recent) > RECENT_JOBS:
                self._recent.popitem(last=False)
            if policy == "replace":
                dropped = self._drop_pending()
                self._cancel_current()
                self._pending.append(job)
            elif policy == "interrupt":
                self._cancel_current()
                self._pending.appendleft(job)
            else:
                self._pending.append(job)
            self._cond.notify_all()
        self._finish_dropped(dropped)
        return job

    def job(self, job_id: int) -> PlaybackJob | None:
        """One of the last :data:`RECENT_JOBS` jobs, or ``None``."""
        with self._cond:
            return self._recent.get(job_id)

    def progress(self, job: PlaybackJob) -> Progress:
        """How far ``job`` has played: the words heard in full and the word playing now."""
        with self._cond:
            if job.finished_seconds is not None:
                played = job.finished_seconds
            elif job.rate:
                frames = job.chunk_frames
                call = self._call
                if call is not None and call.job is job:
                    frames += self.output.position()
                played = job.chunk_start + frames / job.rate
            else:
                played = 0.0
            words = tuple(job.words)
            complete = job.state == "done"
        if complete:
            return Progress(job.id, played, words, None)
        heard = tuple(w for w in words if w.end <= played)
        current = next((w for w in words if w.start <= played < w.end), None)
        return Progress(job.id, played, heard, current)

    def interrupt(self) -> dict[str, object]:
        """Barge-in: stop what is playing, drop everything queued, end a pause.

        Returns ``{"stopped": 0|1, "dropped": n, "job_id": the stopped job or None}`` and,
        for a stopped job, what had played of it (:class:`Progress`: ``played_seconds``,
        ``words``, ``current_word``).
        """
        with self._cond:
            dropped = self._drop_pending()
            current = self._cancel_current()
            self.paused = False
            self._cond.notify_all()
        self._finish_dropped(dropped)
        result: dict[str, object] = {
            "stopped": int(current is not None),
            "dropped": len(dropped),
            "job_id": current.id if current is not None else None,
        }
        if current is not None:
            current.done.wait(STOP_WAIT)
            result.update(self.progress(current).to_dict())
        return result

    def pause(self) -> dict[str, object]:
        """Hold playback where it is (the device stops mid-word) until :meth:`resume`; queued
        and new jobs wait too. ``{"paused": true, "job_id": the job held or None}``."""
        with self._cond:
            self.paused = True
            call = self._call
            if call is not None:
                call.stop.set()
            current = self.current
            self._cond.notify_all()
        return {"paused": True, "job_id": current.id if current is not None else None}

    def resume(self) -> dict[str, object]:
        """Go on from where :meth:`pause` held. ``{"paused": false, "job_id": …}``."""
        with self._cond:
            self.paused = False
            current = self.current
            self._cond.notify_all()
        return {"paused": False, "job_id": current.id if current is not None else None}

    def queued(self) -> int:
        with self._cond:
            return sum(1 for job in self._pending if not job.cancelled)

    def devices(self) -> list[dict[str, object]]:
        """Output devices (raises :class:`NoAudioDeviceError` where there is no audio)."""
        return self.output.devices()

    def status(self) -> dict[str, object]:
        current = self.current
        return {
            "playing": self.playing,
            "paused": self.paused,
            "current_job": current.id if current is not None else None,
            "queued_jobs": self.queued(),
            "played_chunks": self.played_chunks,
            "interrupted_jobs": self.interrupted,
        }

    def close(self) -> None:
        if self._thread is not None:
            self.interrupt()
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            self._thread.join(timeout=5)
            self._thread = None
            with self._cond:
                self._closing = False

    # -- under self._cond ------------------------------------------------------------------

    def _drop_pending(self) -> list[PlaybackJob]:
        dropped = [job for job in self._pending if not job.cancelled]
        for job in dropped:
            job.cancelled = True
            job.state = "interrupted"
            job.finished_seconds = 0.0
        self._pending.clear()
        self.interrupted += len(dropped)
        return dropped

    def _cancel_current(self) -> PlaybackJob | None:
        job = self.current
        if job is None or job.cancelled or job.done.is_set():
            return None
        job.cancelled = True
        if self._call is not None and self._call.job is job:
            self._call.stop.set()
        self.interrupted += 1
        self._cond.notify_all()
        return job

    # -- the player thread -----------------------------------------------------------------

    @staticmethod
    def _finish_dropped(dropped: list[PlaybackJob]) -> None:
        for job in dropped:
            _close(job.chunks)
            job.done.set()

    def _ensure_thread(self) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="macbot-player", daemon=True)
                self._thread.start()

    def _next_job(self) -> PlaybackJob | None:
        with self._cond:
            while True:
                if self._closing:
                    return None
                if self._pending and not self.paused:
                    job = self._pending.popleft()
                    if job.cancelled:
                        continue
                    self.current = job
                    self.playing = True
                    job.state = "playing"
                    return job
                self._cond.wait()

    def _run(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            try:
                for chunk in job.chunks:
                    if job.cancelled or not self._play_chunk(job, chunk):
                        break
                    self.played_chunks += 1
            except Exception as exc:  # a failing device or synthesis must not kill the player
                job.state = "failed"
                job.error = exc
                _LOGGER.exception("playback of job %d failed", job.id)
            finally:
                _close(job.chunks)
                with self._cond:
                    if job.state != "failed":
                        job.state = "interrupted" if job.cancelled else "done"
                    job.finished_seconds = job.chunk_start + (
                        job.chunk_frames / job.rate if job.rate else 0.0
                    )
                    self.playing = False
                    self.current = None
                    self._cond.notify_all()
                job.done.set()

    def _play_chunk(self, job: PlaybackJob, chunk: AudioChunk) -> bool:
        """Play one chunk of ``job`` to its end, through pauses; ``False`` once cancelled."""
        samples, rate = chunk.samples, chunk.sample_rate
        with self._cond:
            if job.rate:
                job.chunk_start += job.chunk_frames / job.rate
            job.rate, job.chunk_frames = rate, 0
            job.words.extend(
                WordTiming(w.word, job.chunk_start + w.start, job.chunk_start + w.end)
                for w in chunk.words
            )
        total = len(samples)
        while job.chunk_frames < total:
            with self._cond:
                while self.paused and not job.cancelled and not self._closing:
                    job.state = "paused"
                    self._cond.wait()
                if job.cancelled or self._closing:
                    return False
                job.state = "playing"
                call = self._call = _Call(job, threading.Event())
            try:
                played = self.output.play(samples[job.chunk_frames :], rate, call.stop)
            finally:
                with self._cond:
                    self._call = None
            with self._cond:
                if not call.stop.is_set():
                    played = total - job.chunk_frames  # played to its end
                job.chunk_frames = min(total, job.chunk_frames + max(0, int(played)))
        return not job.cancelled
