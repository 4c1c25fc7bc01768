"""The process's memory as a long-running daemon needs it: the C allocator's settings, giving
freed memory back, and enough file descriptors for the connections it accepts.

Measured (issue 11, ``macbot bench memory``): with glibc's defaults the daemon's RSS grew after
warm-up with every request of a new length although nothing was kept. Freed audio and model
buffers stayed in the allocator: glibc gives each thread that allocates its own arena (up to
8 per core: the HTTP threads, the synthesis workers and onnxruntime's pool each got one), and
its mmap threshold rises to the largest block freed so far (up to 32 MB), so every later
audio buffer came from an arena heap instead of its own mapping, and heaps only shrink from
their top. :func:`tune_allocator` caps the arenas and fixes the threshold, so that large
buffers are mapped and unmapped by themselves; :func:`release_memory` trims what is left.

On macOS the system allocator returns large blocks by itself; :func:`release_memory` asks it
for the rest (``malloc_zone_pressure_relief``). Elsewhere both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from functools import cache

try:
    import resource  # POSIX only
except ImportError:  # Windows: no open-files limit to raise
    resource = None  # type: ignore[assignment]

_LOGGER = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameters (``<malloc.h>``)."""

ARENA_MAX = 2
"""glibc arenas: two are enough for a daemon whose threads mostly wait on one model."""

MMAP_THRESHOLD = 256 * 1024
"""Blocks from this size on get their own mapping, given back when freed (glibc's default is
128 KB, rising with every larger block freed; a fixed value stops it rising)."""

TRIM_THRESHOLD = 1024 * 1024
"""Free memory at the top of a heap over this is given back at once."""


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018  (musl has no mallopt: not glibc)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return None
    return libc


@cache
def _macos_libc() -> ctypes.CDLL | None:
    if sys.platform != "darwin":
        return None
    try:
        return ctypes.CDLL("/usr/lib/libSystem.B.dylib")
    except OSError:  # no libSystem: nothing to ask
        return None


def tune_allocator() -> bool:
    """Cap glibc's arenas and fix its mmap and trim thresholds for this process (threads
    started later use the capped arenas). Returns whether anything was set (glibc only)."""
    libc = _libc()
    if libc is None:
        return False
    ok = all(
        libc.mallopt(param, value) == 1
        for param, value in (
            (M_ARENA_MAX, ARENA_MAX),
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        )
    )
    _LOGGER.debug("glibc allocator tuned: %s", ok)
    return ok


def release_memory() -> None:
    """Give memory the allocator holds but nobody uses back to the system (after a reload or
    an unusually large request; costs a few milliseconds)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
        return
    mac = _macos_libc()
    if mac is not None:
        mac.malloc_zone_pressure_relief(None, 0)


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft limit of open files to ``wanted`` (within the hard limit);
    returns the limit in force. launchd starts agents with 256, fewer than the connections
    the server accepts."""
    if resource is None:
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = hard if hard != resource.RLIM_INFINITY else max(wanted, soft)
    target = min(wanted, ceiling)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError) as exc:  # macOS caps it below the hard limit
            _LOGGER.warning("cannot raise the open-files limit to %d: %s", target, exc)
    return soft
