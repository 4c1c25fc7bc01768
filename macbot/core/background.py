"""Work that is really in the background: a process's priority, its death with its parent, and
the power source it waits for.

The daemon's optimizer child calls :func:`host` once at its start:

- ``lower()``: Linux schedules each session as one group (autogroup), so ``nice`` inside a
  session does nothing against another session. The child therefore runs in its own session
  (the supervisor starts it with ``start_new_session``), sets that session's autogroup nice to
  19 (``/proc/self/autogroup``), every thread to ``SCHED_IDLE`` (it runs only on a CPU nobody
  else wants) and its I/O to the idle class. On macOS it takes background QoS
  (``setpriority(PRIO_DARWIN_PROCESS, 0, PRIO_DARWIN_BG)``: efficiency cores, throttled I/O),
  what Spotlight and Time Machine run under.
- ``tie_to_parent(pid)``: the child dies with the daemon, even while the daemon has it stopped
  (SIGSTOP): on Linux ``PR_SET_PDEATHSIG`` with SIGKILL (a stopped process acts on SIGKILL
  only); on macOS a small watcher process (forked before any thread starts) waits on a kqueue
  ``NOTE_EXIT`` of the daemon and SIGKILLs the child.
- ``power()``: AC or battery (``/sys/class/power_supply``; ``pmset -g batt``); the supervisor
  starts and keeps heavy work only on AC power.

The macOS calls sit behind :class:`Darwin`'s ``libc`` and ``run`` arguments so that Linux tests
drive them with recorded outputs.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil

_LOGGER = logging.getLogger(__name__)

BACKGROUND_NICE = 19
"""The nice value of the process (and on Linux of its session's autogroup)."""

PR_SET_PDEATHSIG = 1
"""prctl option: the signal this process gets when the thread that forked it ends."""

PRIO_DARWIN_PROCESS = 4
PRIO_DARWIN_BG = 0x1000
"""setpriority(2) on macOS: ``which`` and ``prio`` of background QoS for a whole process."""

PMSET_BATT = ("pmset", "-g", "batt")

ENV_PRIORITY = "MACBOT_BACKGROUND_PRIORITY"
"""``idle`` (default): every measure above. ``nice``: only nice 19 in its own session (what the
child did before issue 21), for a machine that is never idle (a busy CI runner, the test
suite), where an idle-class child would never finish."""


@dataclass(frozen=True)
class PowerState:
    """Where the machine draws its power from."""

    on_battery: bool
    detail: str
    """What was read, for ``/info`` (``AC power``, ``on battery (87%; discharging)``)."""


class Host(Protocol):
    """What a background process needs from its operating system."""

    def lower(self) -> list[str]:
        """Take background priority for the calling process (all its threads); one line per
        measure, saying what was set or why it could not be."""
        ...

    def tie_to_parent(self, parent: int) -> None:
        """End this process when ``parent`` ends (stopped or not). Exits at once when the
        parent is already gone."""
        ...

    def power(self) -> PowerState:
        """AC or battery now."""
        ...


# -- Linux --------------------------------------------------------------------------------------


class Linux:
    """Linux: session autogroup nice, ``SCHED_IDLE``, idle I/O, ``PR_SET_PDEATHSIG``, sysfs.

    ``proc`` and ``power_supply``: the folders read (tests pass recorded copies)."""

    def __init__(
        self,
        proc: Path = Path("/proc"),
        power_supply: Path = Path("/sys/class/power_supply"),
    ) -> None:
        self.proc = proc
        self.power_supply = power_supply

    def lower(self) -> list[str]:
        done = [_own_session()]
        done.append(_attempt("nice", lambda: os.setpriority(os.PRIO_PROCESS, 0, BACKGROUND_NICE)))
        if _nice_only():
            return [*done, f"${ENV_PRIORITY}=nice: nothing more"]
        done.append(_attempt("autogroup nice", self._autogroup))
        done.append(_attempt("SCHED_IDLE", self._sched_idle))
        done.append(_attempt("idle I/O", _idle_io))
        return done

    def _autogroup(self) -> None:
        # absent without CONFIG_SCHED_AUTOGROUP: then nice and SCHED_IDLE do the work alone
        (self.proc / "self" / "autogroup").write_text(f"{BACKGROUND_NICE}\n")

    def _sched_idle(self) -> None:
        param = os.sched_param(0)
        for tid in _threads(self.proc):
            with contextlib.suppress(ProcessLookupError):  # a thread that just ended
                os.sched_setscheduler(tid, os.SCHED_IDLE, param)

    def tie_to_parent(self, parent: int) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        _exit_if_orphaned(parent)

    def power(self) -> PowerState:
        return sysfs_power(self.power_supply)


def sysfs_power(folder: Path) -> PowerState:
    """AC or battery from ``/sys/class/power_supply``: on battery when a battery is present
    and no mains (or USB) supply is online. No supply at all: a desktop or a server, on AC."""
    mains_online = False
    batteries: list[str] = []
    for supply in sorted(folder.glob("*")) if folder.is_dir() else []:
        kind = _read(supply / "type")
        if kind in ("Mains", "USB", "USB_C", "USB_PD"):
            mains_online = mains_online or _read(supply / "online") == "1"
        elif kind == "Battery" and _read(supply / "present") != "0":
            if _read(supply / "scope") == "Device":
                continue  # a wireless mouse's or headset's battery, not the machine's
            capacity, status = _read(supply / "capacity"), _read(supply / "status")
            batteries.append(
                f"{capacity}%; {status.lower()}" if capacity else status.lower() or "?"
            )
    if mains_online:
        return PowerState(False, "AC power")
    if batteries:
        return PowerState(True, f"on battery ({', '.join(batteries)})")
    return PowerState(False, "AC power (no battery)")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _threads(proc: Path) -> list[int]:
    try:
        return [int(t.name) for t in (proc / "self" / "task").iterdir()]
    except OSError:  # no /proc: the calling thread only
        return [0]


def _idle_io() -> None:
    psutil.Process().ionice(psutil.IOPRIO_CLASS_IDLE)


# -- macOS --------------------------------------------------------------------------------------


class Darwin:
    """macOS: background QoS, a kqueue watcher of the parent, ``pmset -g batt``.

    ``libc``: the C library (``setpriority``); ``run``: runs a command and returns its stdout.
    Tests pass both, fed with recorded outputs."""

    def __init__(
        self,
        libc: Any = None,
        run: Callable[[tuple[str, ...]], str] | None = None,
    ) -> None:
        self._libc = libc
        self._run = run or _stdout

    @property
    def libc(self) -> Any:
        if self._libc is None:
            self._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        return self._libc

    def lower(self) -> list[str]:
        done = [_own_session()]
        done.append(_attempt("nice", lambda: os.setpriority(os.PRIO_PROCESS, 0, BACKGROUND_NICE)))
        if _nice_only():
            return [*done, f"${ENV_PRIORITY}=nice: nothing more"]
        done.append(_attempt("background QoS", self._background_qos))
        return done

    def _background_qos(self) -> None:
        if self.libc.setpriority(PRIO_DARWIN_PROCESS, 0, PRIO_DARWIN_BG) != 0:
            raise OSError(ctypes.get_errno(), "setpriority(PRIO_DARWIN_PROCESS, PRIO_DARWIN_BG)")

    def tie_to_parent(self, parent: int) -> None:
        watch(parent, kqueue_wait)

    def power(self) -> PowerState:
        return pmset_power(self._run(PMSET_BATT))


_DRAWING = re.compile(r"drawing from '([^']+)'")
_BATTERY = re.compile(r"(\d+)%;\s*([^;]+);")


def pmset_power(text: str) -> PowerState:
    """AC or battery from ``pmset -g batt``'s output (``Now drawing from 'Battery Power'``)."""
    drawing = _DRAWING.search(text)
    if drawing is None:
        raise ValueError(f"pmset -g batt printed no power source: {text.strip()[:120]!r}")
    battery = _BATTERY.search(text)
    level = f" ({battery.group(1)}%; {battery.group(2).strip()})" if battery else ""
    if drawing.group(1) == "Battery Power":
        return PowerState(True, f"on battery{level}")
    return PowerState(False, drawing.group(1))


def _stdout(command: tuple[str, ...]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=10).stdout


# -- the parent watcher (macOS; its waiting is pluggable so that Linux tests run it) -------------


def watch(parent: int, wait: Callable[[Iterable[int]], int]) -> int:
    """Fork a watcher process that SIGKILLs this process when ``parent`` ends, and ends itself
    when this process does; the watcher's pid. Call it before any thread starts (fork).

    ``wait(pids)`` blocks until one of ``pids`` has ended and returns it: :func:`kqueue_wait`
    on macOS, :func:`pidfd_wait` on Linux."""
    _exit_if_orphaned(parent)
    child = os.getpid()
    watcher = os.fork()
    if watcher:
        return watcher
    # the watcher: nothing of the optimizer runs here, only the wait; it lets go of the child's
    # pipes so that the daemon sees their end when the child ends
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        if wait((parent, child)) == parent:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
    except BaseException:  # the watcher must never return into the optimizer's code
        code = 1
    os._exit(code)


def kqueue_wait(pids: Iterable[int]) -> int:
    """Block until one of ``pids`` ends (kqueue ``EVFILT_PROC``/``NOTE_EXIT``); that pid."""
    pids = list(pids)
    queue = select.kqueue()  # type: ignore[attr-defined]  # macOS and the BSDs
    events = [
        select.kevent(  # type: ignore[attr-defined]
            pid,
            filter=select.KQ_FILTER_PROC,  # type: ignore[attr-defined]
            flags=select.KQ_EV_ADD | select.KQ_EV_ONESHOT,  # type: ignore[attr-defined]
            fflags=select.KQ_NOTE_EXIT,  # type: ignore[attr-defined]
        )
        for pid in pids
    ]
    try:
        fired = queue.control(events, 1, None)
    except ProcessLookupError:  # one of them was gone already
        return next((pid for pid in pids if not _alive(pid)), pids[0])
    return int(fired[0].ident)


def pidfd_wait(pids: Iterable[int]) -> int:
    """Block until one of ``pids`` ends (Linux ``pidfd_open`` + poll); that pid."""
    fds = {}
    try:
        for pid in pids:
            try:
                fds[os.pidfd_open(pid)] = pid
            except ProcessLookupError:
                return pid
        ready, _, _ = select.select(list(fds), [], [])
        return fds[ready[0]]
    finally:
        for fd in fds:
            os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- shared -------------------------------------------------------------------------------------


def host() -> Host:
    """This system's :class:`Host`."""
    return Darwin() if sys.platform == "darwin" else Linux()


def _nice_only() -> bool:
    return os.environ.get(ENV_PRIORITY, "").strip().lower() == "nice"


def _own_session() -> str:
    leader = os.getsid(0) == os.getpid()
    return "own session: yes" if leader else "own session: no (started outside the daemon)"


def _attempt(name: str, action: Callable[[], None]) -> str:
    try:
        action()
    except (OSError, AttributeError, ImportError) as exc:  # still correct, only less polite
        _LOGGER.info("background priority: %s not set: %s", name, exc)
        return f"{name}: not set ({exc})"
    return f"{name}: set"


def _exit_if_orphaned(parent: int) -> None:
    if os.getppid() != parent:  # the parent ended before the tie was made
        os._exit(1)
