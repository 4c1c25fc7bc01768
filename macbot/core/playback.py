"""Local playback through one queue for the sound device.

The sound card is an edge this code cannot assume: :class:`AudioOutput` is the small
interface, :class:`SoundDeviceOutput` the real one (sounddevice/PortAudio, imported lazily),
and tests drive :class:`Player` with an output that records what it was given.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import NoAudioDeviceError
from .audio import AudioChunk

_LOGGER = logging.getLogger(__name__)


class AudioOutput(Protocol):
    """Something that can play float32 mono samples."""

    def check(self) -> None:
        """Raise :class:`NoAudioDeviceError` with the reason when nothing can play."""

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        """Play and block until done or :meth:`stop` is called."""

    def stop(self) -> None:
        """Stop what is playing now (from another thread)."""

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
    """PortAudio through sounddevice."""

    def __init__(self, device: int | str | None = None) -> None:
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device)  # an index as listed by GET /devices
        self.device = device
        self._sd = None

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

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        sd = self._module()
        sd.play(samples, sample_rate, device=self.device, blocking=True)

    def stop(self) -> None:
        if self._sd is not None:
            self._sd.stop()

    def devices(self) -> list[dict[str, object]]:
        sd = self._module()
        return [
            {"index": i, "name": d["name"], "channels": d["max_output_channels"]}
            for i, d in enumerate(sd.query_devices())
            if d["max_output_channels"] > 0
        ]


RECENT_JOBS = 256
"""Jobs remembered for ``GET /jobs/<id>`` (oldest forgotten first)."""


@dataclass
class PlaybackJob:
    """One utterance queued for the sound device."""

    id: int
    chunks: Iterable[AudioChunk]
    done: threading.Event
    generation: int
    state: str = "queued"
    """``queued``, ``playing``, ``done``, ``interrupted`` or ``failed``."""


def _close(chunks: Iterable[AudioChunk]) -> None:
    """Stop a dropped job's producer (a synthesis stream cancels its pending sentences)."""
    close = getattr(chunks, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # closing must not break the interrupt; the producer is gone anyway
            _LOGGER.debug("closing a dropped job failed", exc_info=True)


class Player:
    """One background thread that owns the device and plays queued chunks in order.

    ``enqueue`` returns at once; ``interrupt`` stops the current sound and drops the queue.
    """

    def __init__(self, output: AudioOutput) -> None:
        self.output = output
        self._queue: queue.Queue[PlaybackJob | None] = queue.Queue()
        self._generation = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._recent: OrderedDict[int, PlaybackJob] = OrderedDict()
        self.current: PlaybackJob | None = None
        self.playing = False
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

    def submit(self, chunks: Iterable[AudioChunk]) -> PlaybackJob:
        """Queue ``chunks`` and return the job at once. An iterator is consumed as it plays,
        so playback starts with its first chunk; ``close()`` is called on it if dropped."""
        self._ensure_thread()
        with self._lock:
            job = PlaybackJob(next(self._ids), chunks, threading.Event(), self._generation)
            self._recent[job.id] = job
            while len(self._recent) > RECENT_JOBS:
                self._recent.popitem(last=False)
        self._queue.put(job)
        return job

    def job(self, job_id: int) -> PlaybackJob | None:
        """One of the last :data:`RECENT_JOBS` jobs, or ``None``."""
        with self._lock:
            return self._recent.get(job_id)

    def interrupt(self) -> dict[str, int]:
        """Barge-in: stop what is playing and drop everything queued.

        Returns ``{"stopped": 0|1, "dropped": n}``.
        """
        with self._lock:
            self._generation += 1
            current = self.current
        dropped = 0
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.state = "interrupted"
                _close(job.chunks)
                job.done.set()
                dropped += 1
        self.output.stop()
        stopped = int(current is not None and not current.done.is_set())
        self.interrupted += dropped + stopped
        return {"stopped": stopped, "dropped": dropped}

    def queued(self) -> int:
        return self._queue.qsize()

    def devices(self) -> list[dict[str, object]]:
        """Output devices (raises :class:`NoAudioDeviceError` where there is no audio)."""
        return self.output.devices()

    def status(self) -> dict[str, object]:
        current = self.current
        return {
            "playing": self.playing,
            "current_job": current.id if current is not None else None,
            "queued_jobs": self.queued(),
            "played_chunks": self.played_chunks,
            "interrupted_jobs": self.interrupted,
        }

    def close(self) -> None:
        if self._thread is not None:
            self.interrupt()
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="macbot-player", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                self.current = job
            try:
                self.playing = True
                job.state = "playing"
                for chunk in job.chunks:
                    if job.generation != self._generation:
                        job.state = "interrupted"
                        break
                    self.output.play(chunk.samples, chunk.sample_rate)
                    self.played_chunks += 1
                else:
                    job.state = "interrupted" if job.generation != self._generation else "done"
            except Exception:  # a failing device or synthesis must not kill the player thread
                job.state = "failed"
                _LOGGER.exception("playback of job %d failed", job.id)
            finally:
                _close(job.chunks)
                self.playing = False
                with self._lock:
                    self.current = None
                job.done.set()
