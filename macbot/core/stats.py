"""Synthesis statistics for ``/tts-performance``."""

from __future__ import annotations

import os
import threading
from collections import deque

import numpy as np
import psutil


def rss_bytes() -> int:
    """Resident memory of this process in bytes."""
    return int(psutil.Process(os.getpid()).memory_info().rss)


def rss_mb() -> float:
    """Resident memory of this process in MB."""
    return rss_bytes() / 1e6


class PerformanceStats:
    """Thread-safe counters and a window of recent synthesis timings."""

    def __init__(self, window: int = 1000) -> None:
        self._lock = threading.Lock()
        self._durations: deque[float] = deque(maxlen=window)
        self._rtfs: deque[float] = deque(maxlen=window)
        self._first_audio: deque[float] = deque(maxlen=window)
        self.requests = 0
        self.errors = 0
        self.audio_seconds = 0.0

    def record(self, seconds: float, audio_seconds: float) -> None:
        """One synthesis (cache misses only: hits are counted by the cache)."""
        with self._lock:
            self.requests += 1
            self._durations.append(seconds)
            self.audio_seconds += audio_seconds
            if audio_seconds > 0:
                self._rtfs.append(seconds / audio_seconds)

    def record_first_audio(self, seconds: float) -> None:
        """Seconds from the start of a synthesis to its first audio chunk (cache misses)."""
        with self._lock:
            self._first_audio.append(seconds)

    def record_error(self) -> None:
        with self._lock:
            self.errors += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            durations = np.array(self._durations, dtype=np.float64)
            rtfs = np.array(self._rtfs, dtype=np.float64)
            first = np.array(self._first_audio, dtype=np.float64)
            requests, errors, audio = self.requests, self.errors, self.audio_seconds

        def stat(values: np.ndarray, fn) -> float | None:
            return round(float(fn(values)), 4) if values.size else None

        return {
            "syntheses": requests,
            "errors": errors,
            "avg_duration": stat(durations, np.mean),
            "p50_duration": stat(durations, lambda v: np.percentile(v, 50)),
            "p95_duration": stat(durations, lambda v: np.percentile(v, 95)),
            "real_time_factor": stat(rtfs, np.mean),
            "avg_time_to_first_audio": stat(first, np.mean),
            "p50_time_to_first_audio": stat(first, lambda v: np.percentile(v, 50)),
            "p95_time_to_first_audio": stat(first, lambda v: np.percentile(v, 95)),
            "audio_seconds": round(audio, 3),
            "memory_mb": round(rss_mb(), 1),
        }
