"""The systemd user unit: the file (checked key by key and by systemd's own parser) and the
systemctl conversations, fed with systemctl's real outputs (tests/fixtures/service/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from service_recordings import ScriptedRunner

from macbot.config import PROJECT_ROOT
from macbot.service import ServiceError, ServiceSpec, manager_for
from macbot.service.systemd import UNIT, SystemdManager, build_unit, parse_unit

CONFIG = PROJECT_ROOT / "config" / "macbot.yaml"
SYSTEMCTL = ("systemctl", "--user")


def unit_file(home: Path) -> Path:
    return home / ".config" / "systemd" / "user" / UNIT


def manager(home: Path, *steps) -> tuple[SystemdManager, ScriptedRunner]:
    runner = ScriptedRunner(*steps)
    return SystemdManager(runner, home), runner


def test_unit_file_key_by_key():
    unit = parse_unit(build_unit(ServiceSpec(config_path=CONFIG)))
    service = unit["Service"]
    assert service["ExecStart"] == [f"{sys.executable} -m macbot serve"]
    assert service["Restart"] == ["on-failure"]  # a crash restarts; exit 0 on SIGTERM does not
    assert service["Type"] == ["simple"]
    assert service["WorkingDirectory"] == [str(PROJECT_ROOT)]
    assert service["Environment"] == [f"MACBOT_CONFIG={CONFIG}", "PYTHONUNBUFFERED=1"]
    assert int(service["TimeoutStopSec"][0]) > 30  # longer than the daemon's drain grace
    assert unit["Install"]["WantedBy"] == ["default.target"]
    assert unit["Unit"]["Description"]


def test_unit_file_quotes_paths_with_spaces_and_percent():
    spec = ServiceSpec(
        python=Path("/Users/Me/My Env/bin/python"),
        config_path=Path("/Users/Me/100% conf/macbot.yaml"),
        working_dir=Path("/Users/Me/My Env"),
    )
    service = parse_unit(build_unit(spec))["Service"]
    assert service["ExecStart"] == ['"/Users/Me/My Env/bin/python" -m macbot serve']
    assert service["Environment"][0] == '"MACBOT_CONFIG=/Users/Me/100%% conf/macbot.yaml"'
    assert service["WorkingDirectory"] == ['"/Users/Me/My Env"']


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_itself_accepts_the_unit_file(tmp_path):
    path = unit_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(build_unit(ServiceSpec(config_path=CONFIG)))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(runtime)}
    proc = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""  # systemd warns on stderr about any key it ignores
    # And a broken value is reported, so the check above can fail.
    path.write_text(path.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    proc = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert "restart specifier" in proc.stderr


def test_install_writes_reloads_enables_and_starts(tmp_path):
    mgr, runner = manager(
        tmp_path,
        ((*SYSTEMCTL, "daemon-reload"), "systemctl_silent_ok.txt"),
        ((*SYSTEMCTL, "enable", "--now", UNIT), "systemctl_enable_created_symlink.txt"),
    )
    done = mgr.install(ServiceSpec(config_path=CONFIG))
    assert runner.done()
    assert done[0] == f"wrote {unit_file(tmp_path)}"
    assert parse_unit(unit_file(tmp_path).read_text())["Service"]["Restart"] == ["on-failure"]


def test_install_without_a_user_bus_leaves_nothing_behind(tmp_path):
    """Issue 19 item 9: a failed install left the unit file behind, and `status` then said
    installed."""
    mgr, runner = manager(
        tmp_path,
        ((*SYSTEMCTL, "daemon-reload"), "systemctl_no_bus.txt"),
        ((*SYSTEMCTL, "status", UNIT, "--no-pager", "--lines=0"), "systemctl_no_bus.txt"),
    )
    with pytest.raises(ServiceError, match=r"No medium found.*enable-linger") as failed:
        mgr.install(ServiceSpec())
    assert "No unit file is installed" in str(failed.value)
    assert not unit_file(tmp_path).exists()
    status = mgr.status()
    assert runner.done()
    assert status.installed is False and "No unit file is installed" in status.detail


def test_a_failed_reinstall_puts_the_previous_unit_back(tmp_path):
    path = unit_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(build_unit(ServiceSpec(config_path=CONFIG)))
    before = path.read_text()
    mgr, runner = manager(
        tmp_path,
        ((*SYSTEMCTL, "daemon-reload"), "systemctl_silent_ok.txt"),
        ((*SYSTEMCTL, "enable", "--now", UNIT), "systemctl_no_bus.txt"),
    )
    with pytest.raises(ServiceError, match=f"The unit file is {path}"):
        mgr.install(ServiceSpec())  # another config: a different unit
    assert runner.done()
    assert path.read_text() == before


def test_uninstall_disables_removes_and_reloads(tmp_path):
    path = unit_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(build_unit(ServiceSpec()))
    mgr, runner = manager(
        tmp_path,
        ((*SYSTEMCTL, "disable", "--now", UNIT), "systemctl_disable_removed.txt"),
        ((*SYSTEMCTL, "daemon-reload"), "systemctl_silent_ok.txt"),
    )
    assert mgr.uninstall() == [f"stopped and disabled {UNIT}", f"removed {path}"]
    assert runner.done() and not path.exists()


def test_uninstall_without_a_user_bus_fails_clearly(tmp_path):
    mgr, _ = manager(
        tmp_path,
        ((*SYSTEMCTL, "disable", "--now", UNIT), "systemctl_disable_no_unit_no_bus.txt"),
    )
    with pytest.raises(ServiceError, match="cannot reach your user service manager"):
        mgr.uninstall()


def test_status_of_a_running_unit(tmp_path):
    mgr, _ = manager(
        tmp_path,
        ((*SYSTEMCTL, "status", UNIT, "--no-pager", "--lines=0"), "systemctl_status_running.txt"),
    )
    status = mgr.status()
    assert (status.state, status.pid, status.loaded) == ("active (running)", 37127, True)
    assert status.running


def test_status_of_a_crashed_unit(tmp_path):
    mgr, _ = manager(
        tmp_path,
        ((*SYSTEMCTL, "status", UNIT, "--no-pager", "--lines=0"), "systemctl_status_failed.txt"),
    )
    status = mgr.status()
    assert status.state == "failed (Result: core-dump)"
    assert status.pid is None and not status.running
    assert status.last_exit == "code=dumped, signal=SEGV"


def test_start_and_stop(tmp_path):
    path = unit_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(build_unit(ServiceSpec()))
    mgr, runner = manager(
        tmp_path,
        ((*SYSTEMCTL, "restart", UNIT), "systemctl_silent_ok.txt"),
        ((*SYSTEMCTL, "stop", UNIT), "systemctl_silent_ok.txt"),
    )
    assert "restart" in mgr.start()[0]
    assert "stopped" in mgr.stop()[0]
    assert runner.done()


def test_logs_come_from_the_journal(tmp_path):
    mgr, _ = manager(tmp_path)
    assert mgr.log_command(20, follow=True) == [
        "journalctl",
        "--user",
        "-u",
        "macbot-tts",
        "-n",
        "20",
        "--no-pager",
        "-f",
    ]


def test_the_platform_picks_the_manager(tmp_path):
    assert manager_for("linux", home=tmp_path).name == "systemd"
    assert manager_for("darwin", home=tmp_path).name == "launchd"
    with pytest.raises(ServiceError, match="macOS and Linux"):
        manager_for("win32", home=tmp_path)


def test_status_without_a_user_bus_says_so_instead_of_failing(tmp_path):
    """Issue 11: `service status` on Linux without a user bus failed, naming a unit file that
    did not exist; now it reports what it knows (the unit file is not there)."""
    mgr, _ = manager(
        tmp_path,
        ((*SYSTEMCTL, "status", UNIT, "--no-pager", "--lines=0"), "systemctl_no_bus.txt"),
    )
    status = mgr.status()
    assert (status.installed, status.loaded) == (False, False)
    assert status.state == "unknown (no user service manager)"
    assert "No unit file is installed" in status.detail and "enable-linger" in status.detail
