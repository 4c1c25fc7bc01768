"""The memory housekeeping of a synthesizer, owned by it (issue 18 item 2: no module-global
``WeakSet`` or ``atexit`` hook). A synthesizer nobody closes must still let the interpreter
exit cleanly: a housekeeping thread caught inside an arena-shrinking run while the
interpreter tears down aborted the process (``terminate called without an active
exception``, exit 134)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from macbot.core.housekeeping import Housekeeper

TESTS = Path(__file__).resolve().parents[1]
HANG_GUARD_S = 120
"""Only so that a regression fails instead of hanging; nothing is timed."""


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        cwd=TESTS,
        # conftest imports the checkout's benchmarks/ (pytest puts the root on the path)
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])},
    )


def test_a_release_in_progress_at_exit_is_waited_for():
    """The main thread returns while a release runs: the interpreter waits for it to end,
    then exits 0 (the thread is not a daemon thread, and ends once the main thread has)."""
    proc = _run(
        """
        import threading, time
        from macbot.core import housekeeping
        housekeeping.IDLE_RELEASE_SECONDS = 0.0
        started = threading.Event()
        def release():
            started.set()
            time.sleep(1.0)
            print("release finished", flush=True)
        keeper = housekeeping.Housekeeper(release, lambda: 0)
        keeper.note()
        assert started.wait(60)
        print("main done", flush=True)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["main done", "release finished"]


def test_a_synthesizer_never_closed_exits_cleanly_during_its_release():
    """A real synthesizer's arena-shrinking run in progress at interpreter exit."""
    proc = _run(
        """
        import threading
        from conftest import make_config
        from macbot.core import housekeeping
        from macbot.core.synthesizer import Synthesizer
        housekeeping.IDLE_RELEASE_SECONDS = 0.0
        started = threading.Event()
        class Watched(Synthesizer):
            def release_idle_memory(self):
                started.set()
                super().release_idle_memory()
                print("released", flush=True)
        synth = Watched(make_config())
        synth.synthesize("A sentence to grow the arena, then an exit without close.")
        assert started.wait(60)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "terminate called" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout.splitlines() == ["released"]


def test_release_follows_a_burst_once_idle_and_stop_ends_the_thread():
    released = threading.Event()
    ran_on: list[threading.Thread] = []
    jobs = [1]  # a job still running holds the release back

    def release() -> None:
        ran_on.append(threading.current_thread())
        released.set()

    keeper = Housekeeper(release, lambda: jobs[0])
    try:
        keeper.note()
        assert keeper.pending
        assert not released.wait(2.5)  # idle long enough, but the pool is busy
        jobs[0] = 0
        assert released.wait(HANG_GUARD_S)
        assert not keeper.pending
    finally:
        keeper.stop()
    assert ran_on[0].name == "macbot-housekeeping" and not ran_on[0].is_alive()
    assert not ran_on[0].daemon  # the interpreter waits for it at exit
    keeper.stop()  # again: nothing to do
