"""Local playback through one queue for the sound device.

The sound card is an edge this code cannot assume: :class:`AudioOutput` is the small
interface, :class:`SoundDeviceOutput` the real one (sounddevice/PortAudio, imported lazily),
and tests drive :class:`Player` with an output that records what it was given.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .audio import AudioChunk

_LOGGER = logging.getLogger(__name__)


class NoAudioDeviceError(RuntimeError):
    """No output device (or no PortAudio) on this machine."""


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


class SoundDeviceOutput:
    """PortAudio through sounddevice."""

    def __init__(self, device: int | str | None = None) -> None:
        self.device = device
        self._sd = None

    def _module(self):
        if self._sd is None:
            try:
                import sounddevice
            except OSError as exc:  # the PortAudio shared library is missing
                raise NoAudioDeviceError(f"no audio output: {exc}") from exc
            self._sd = sounddevice
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


@dataclass
class _Job:
    chunks: Iterable[AudioChunk]
    done: threading.Event
    generation: int


class Player:
    """One background thread that owns the device and plays queued chunks in order.

    ``enqueue`` returns at once; ``interrupt`` stops the current sound and drops the queue.
    """

    def __init__(self, output: AudioOutput) -> None:
        self.output = output
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._generation = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.playing = False
        self.played_chunks = 0

    def available(self) -> tuple[bool, str]:
        """Whether playback works here, and why not."""
        try:
            self.output.check()
        except NoAudioDeviceError as exc:
            return False, str(exc)
        return True, "ok"

    def enqueue(self, chunks: Iterable[AudioChunk]) -> threading.Event:
        """Queue ``chunks`` (an iterator is consumed as it plays); the event is set when done."""
        self._ensure_thread()
        job = _Job(chunks=chunks, done=threading.Event(), generation=self._generation)
        self._queue.put(job)
        return job.done

    def interrupt(self) -> int:
        """Stop playing and drop everything queued; returns how many jobs were dropped."""
        with self._lock:
            self._generation += 1
        dropped = 0
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.done.set()
                dropped += 1
        self.output.stop()
        return dropped

    def queued(self) -> int:
        return self._queue.qsize()

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
            try:
                self.playing = True
                for chunk in job.chunks:
                    if job.generation != self._generation:
                        break  # interrupted
                    self.output.play(chunk.samples, chunk.sample_rate)
                    self.played_chunks += 1
            except Exception:  # a failing device must not kill the player thread
                _LOGGER.exception("playback failed")
            finally:
                self.playing = False
                job.done.set()
