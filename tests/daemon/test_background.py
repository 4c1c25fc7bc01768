"""The optimizer's child is really in the background (issue 21, Found 1 and 9): its priority read
back from /proc, its death with a `kill -9`ed daemon while stopped, no temporary config left,
and the wait for AC power. macOS's calls run behind `macbot.core.background.Darwin`, fed with
recorded outputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import SMALL_ARGS, optimized_config

from benchmarks.harness import free_port
from macbot.core.background import (
    ENV_PRIORITY,
    PRIO_DARWIN_BG,
    PRIO_DARWIN_PROCESS,
    Darwin,
    Linux,
    PowerState,
    kqueue_wait,
    pidfd_wait,
    pmset_power,
    sysfs_power,
)
from macbot.daemon.supervisor import OptimizationSupervisor

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "power"

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads Linux's /proc")


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def autogroup_nice(pid: int) -> int | None:
    """``/proc/PID/autogroup``: ``/autogroup-123 nice 19``. A process still in the boot session's
    default group (as in some CI containers, where nothing ever called ``setsid``) reads an empty
    file: None."""
    try:
        fields = Path(f"/proc/{pid}/autogroup").read_text().split()
        return int(fields[-1]) if fields else None
    except (OSError, ValueError):
        return None


def in_background(pid: int) -> bool:
    """Every thread SCHED_IDLE, the autogroup at nice 19, idle I/O (the last one set)."""
    try:
        tids = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
        policies = {os.sched_getscheduler(tid) for tid in tids}
        io = psutil.Process(pid).ionice().ioclass
    except (OSError, ProcessLookupError, psutil.NoSuchProcess):
        return False
    return (
        policies == {os.SCHED_IDLE} and autogroup_nice(pid) == 19 and io == psutil.IOPRIO_CLASS_IDLE
    )


def gone(pid: int) -> bool:
    """Ended (or a zombie waiting for whoever adopted it to reap it)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def on_ac() -> PowerState:
    return PowerState(False, "AC power")


@pytest.fixture(autouse=True)
def idle_class(monkeypatch):
    """conftest runs optimizer children nice-19 only; here they are what a user's daemon runs."""
    monkeypatch.setenv(ENV_PRIORITY, "idle")


@pytest.fixture
def auto_on(monkeypatch):
    """The tests' environment switches background optimization off; these switch it on."""
    monkeypatch.setenv("MACBOT_AUTO_OPTIMIZE", "1")


@linux_only
def test_the_optimizers_child_runs_with_background_priority(tmp_path, auto_on, shared_synth):
    """Found 1: nice inside the daemon's session did nothing against another session (autogroup).
    The child now has its own session at autogroup nice 19, SCHED_IDLE on every thread and idle
    I/O, read back from the kernel."""
    config = optimized_config(tmp_path / "optimized")
    supervisor = OptimizationSupervisor(config, shared_synth, extra_args=SMALL_ARGS, power=on_ac)
    supervisor.start()
    try:
        wait_for(lambda: supervisor.child is not None, 60, "the child")
        pid = supervisor.child.pid
        wait_for(lambda: in_background(pid), 60, "the child's background priority")
        child = psutil.Process(pid)
        assert os.getsid(pid) == pid != os.getsid(0)  # its own session, so its own autogroup
        assert autogroup_nice(pid) == 19 and autogroup_nice(os.getpid()) != 19
        assert child.nice() == 19
        assert child.ionice().ioclass == psutil.IOPRIO_CLASS_IDLE
        assert os.sched_getscheduler(os.getpid()) != os.SCHED_IDLE  # the daemon itself is not
    finally:
        supervisor.stop()


@linux_only
def test_a_killed_daemon_leaves_no_stopped_optimizer_and_no_config_file(tmp_path):
    """Found 9: after `kill -9` of the daemon while its child was stopped (SIGSTOP), the child
    stayed stopped forever (600 MB), and its temporary config file stayed in the temp folder.
    A real `macbot serve` is killed with its child stopped: the child dies (PR_SET_PDEATHSIG)
    and the daemon's temp folder holds no file (the config goes over the child's stdin)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    config = tmp_path / "macbot.yaml"
    data = {
        "models": {"tts": {"optimized_dir": str(tmp_path / "optimized")}},
        "voice_assistant": {"performance": {"tts_cache_persist": False}},
        "server": {"port": free_port(), "websocket": {"enabled": False}},
    }
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MACBOT_TOKEN"}
    env.update(MACBOT_AUTO_OPTIMIZE="1", TMPDIR=str(temp))
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "macbot", "--config", str(config), "serve"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    child = None
    try:
        parent = psutil.Process(daemon.pid)

        def cmdline(process: psutil.Process) -> list[str]:
            try:  # a short-lived helper (a probe's command) may exit while we look
                return process.cmdline()
            except psutil.Error:
                return []

        def the_child() -> bool:
            nonlocal child
            kids = [p for p in parent.children() if "optimize" in cmdline(p)]
            child = kids[0].pid if kids else None
            return child is not None

        wait_for(the_child, 120, "the optimizer child")
        wait_for(lambda: in_background(child), 60, "the child to settle in the background")
        os.kill(child, signal.SIGSTOP)  # as the daemon pauses it while it synthesizes
        wait_for(lambda: psutil.Process(child).status() == psutil.STATUS_STOPPED, 10, "SIGSTOP")
        daemon.kill()  # kill -9
        daemon.wait(timeout=10)
        wait_for(lambda: gone(child), 30, "the stopped child to die with the daemon")
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=10)
        if child is not None and not gone(child):
            os.kill(child, signal.SIGKILL)
        log.close()
    # (a third-party library leaves a `.ses` marker there: not ours, and not a config)
    assert [p.name for p in temp.iterdir() if p.name != ".ses"] == []


WATCHED = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    if sys.argv[1] == "parent":
        child = subprocess.Popen([sys.executable, __file__, "child", str(os.getpid())])
        time.sleep(600)
    else:
        from macbot.core.background import kqueue_wait, pidfd_wait, watch
        wait = kqueue_wait if sys.platform == "darwin" else pidfd_wait
        watcher = watch(int(sys.argv[2]), wait)
        print(os.getpid(), watcher, flush=True)
        time.sleep(600)
    """
)


def test_the_parent_watcher_kills_a_stopped_child_when_its_parent_is_killed(tmp_path):
    """Found 9 on macOS: a stopped process runs no thread, so a watcher process forked before
    the work waits for the parent (kqueue NOTE_EXIT there) and SIGKILLs the child. The same
    watcher runs on Linux with pidfd_wait in place of the kqueue."""
    script = tmp_path / "watched.py"
    script.write_text(WATCHED, encoding="utf-8")
    out = tmp_path / "out.txt"
    with out.open("w") as sink:
        parent = subprocess.Popen([sys.executable, str(script), "parent"], stdout=sink)
    try:
        wait_for(lambda: out.read_text().strip(), 60, "the child's pids")
        child, watcher = (int(x) for x in out.read_text().split())
        os.kill(child, signal.SIGSTOP)
        wait_for(lambda: psutil.Process(child).status() == psutil.STATUS_STOPPED, 10, "SIGSTOP")
        assert not gone(watcher)
        parent.kill()
        parent.wait(timeout=10)
        wait_for(lambda: gone(child), 30, "the stopped child to be killed by its watcher")
        wait_for(lambda: gone(watcher), 30, "the watcher to end")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)


@pytest.mark.parametrize(
    "wait",
    [
        pytest.param(pidfd_wait, marks=linux_only, id="pidfd"),
        pytest.param(
            kqueue_wait,
            marks=pytest.mark.skipif(sys.platform != "darwin", reason="kqueue: macOS"),
            id="kqueue",
        ),
    ],
)
def test_the_watcher_waits_for_whichever_process_ends_first(wait):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    quick = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        quick.wait(timeout=30)
        assert wait([sleeper.pid, quick.pid]) == quick.pid
    finally:
        sleeper.kill()
        sleeper.wait()


class RecordingLibc:
    """macOS's libc as far as `Darwin` uses it: records each call, returns 0 (success)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def setpriority(self, *args) -> int:
        self.calls.append(("setpriority", args))
        return 0


def test_macos_takes_background_qos():
    """PRIO_DARWIN_BG for the whole process: efficiency cores and throttled I/O."""
    libc = RecordingLibc()
    done = Darwin(libc=libc).lower()
    assert libc.calls == [("setpriority", (PRIO_DARWIN_PROCESS, 0, PRIO_DARWIN_BG))]
    assert "background QoS: set" in done


@pytest.mark.parametrize(
    ("recording", "on_battery", "detail"),
    [
        ("macos_pmset_batt_ac.txt", False, "AC Power"),
        ("macos_pmset_batt_battery.txt", True, "on battery (97%; discharging)"),
        ("macos_pmset_batt_desktop.txt", False, "AC Power"),
    ],
)
def test_pmset_batt_recordings(recording, on_battery, detail):
    text = (FIXTURES / recording).read_text(encoding="utf-8")
    runs: list[tuple[str, ...]] = []

    def run(command: tuple[str, ...]) -> str:
        runs.append(command)
        return text

    assert Darwin(run=run).power() == PowerState(on_battery, detail)
    assert runs == [("pmset", "-g", "batt")]


def test_pmset_batt_without_a_power_source_is_an_error():
    with pytest.raises(ValueError, match="no power source"):
        pmset_power("pmset: command failed\n")


def supply(folder: Path, name: str, **files: str) -> None:
    node = folder / name
    node.mkdir(parents=True)
    for key, value in files.items():
        (node / key).write_text(value + "\n")


@pytest.mark.parametrize(
    ("online", "status", "expected"),
    [
        ("1", "Charging", PowerState(False, "AC power")),
        ("0", "Discharging", PowerState(True, "on battery (87%; discharging)")),
    ],
)
def test_sysfs_power_supply_of_a_laptop(tmp_path, online, status, expected):
    """The kernel's /sys/class/power_supply layout (AC: Mains, BAT0: Battery)."""
    supply(tmp_path, "AC", type="Mains", online=online)
    supply(tmp_path, "BAT0", type="Battery", present="1", capacity="87", status=status)
    assert sysfs_power(tmp_path) == expected
    assert Linux(power_supply=tmp_path).power() == expected


def test_a_machine_without_a_battery_is_on_ac(tmp_path):
    assert sysfs_power(tmp_path / "absent") == PowerState(False, "AC power (no battery)")
    # a desktop with a wireless mouse: the mouse's battery is not the machine's
    supply(tmp_path, "hidpp_battery_0", type="Battery", scope="Device", capacity="40")
    assert sysfs_power(tmp_path) == PowerState(False, "AC power (no battery)")


def test_on_battery_the_optimizer_waits_and_info_says_why(tmp_path, auto_on, shared_synth):
    """Found 1: heavy work only on AC power. On battery no child starts and the state says why;
    once plugged in, the run starts."""
    power = [PowerState(True, "on battery (55%; discharging)")]
    config = optimized_config(tmp_path / "optimized")
    supervisor = OptimizationSupervisor(
        config, shared_synth, extra_args=SMALL_ARGS, power=lambda: power[0], power_poll_s=0.05
    )
    supervisor.start()
    try:
        wait_for(lambda: "waiting for AC power" in supervisor.snapshot()["reason"], 30, "the wait")
        snapshot = supervisor.snapshot()
        assert snapshot["state"] == "idle" and supervisor.child is None
        assert "on battery (55%; discharging)" in snapshot["reason"]
        power[0] = PowerState(False, "AC power")
        wait_for(lambda: supervisor.child is not None, 60, "the run on AC power")
        proc = supervisor.child
        power[0] = PowerState(True, "on battery (54%; discharging)")  # unplugged mid-run
        wait_for(lambda: supervisor.snapshot()["paused"], 30, "the pause on battery")
        assert "waiting for AC power" in supervisor.snapshot()["reason"]
        wait_for(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_STOPPED, 10, "stop")
        power[0] = PowerState(False, "AC power")
        wait_for(lambda: not supervisor.snapshot()["paused"], 30, "the run going on")
    finally:
        supervisor.stop()


@linux_only
def test_nice_only_leaves_the_scheduler_class_alone(monkeypatch):
    """$MACBOT_BACKGROUND_PRIORITY=nice (a never-idle machine): nice 19 and nothing more."""
    monkeypatch.setenv(ENV_PRIORITY, "nice")
    code = (
        "import os; from macbot.core.background import Linux; done = Linux().lower(); "
        "print(os.sched_getscheduler(0) == os.SCHED_IDLE, os.getpriority(os.PRIO_PROCESS, 0))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["False", "19"]


def test_a_child_that_crashes_in_native_code_says_what_crashed(
    tmp_path, auto_on, shared_synth, caplog
):
    """A native crash in the optimizer (glibc's heap check aborting it, as onnxruntime output
    kept past its session once did) is reported with what glibc and Python's faulthandler
    said, not with the last line of a stack; the lines are logged. The child here is a real
    Python process that prints glibc's message and aborts."""
    crash = tmp_path / "python"
    crash.write_text(
        "#!/bin/sh\n"
        f'exec "{sys.executable}" -X faulthandler -c '
        "\"import os, sys; print('corrupted size vs. prev_size', file=sys.stderr, flush=True); "
        'os.abort()"\n'
    )
    crash.chmod(0o755)
    config = optimized_config(tmp_path / "optimized")
    supervisor = OptimizationSupervisor(
        config, shared_synth, extra_args=SMALL_ARGS, power=on_ac, python=str(crash)
    )
    supervisor.start()
    try:
        wait_for(lambda: supervisor.snapshot()["state"] == "failed", 60, "the failure")
        reason = supervisor.snapshot()["reason"]
        assert "corrupted size vs. prev_size; Fatal Python error: Aborted" in reason
        assert "Current thread" in caplog.text or "most recent call first" in caplog.text
    finally:
        supervisor.stop()
