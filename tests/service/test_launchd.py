"""The launchd agent: the plist (generated, validated, read back field by field) and the
launchctl conversations, fed with launchctl's real outputs (tests/fixtures/service/)."""

from __future__ import annotations

import plistlib
import subprocess
import sys
from pathlib import Path

import pytest
from service_recordings import ScriptedRunner, recording

from macbot.config import PROJECT_ROOT
from macbot.service import ServiceError, ServiceSpec, SubprocessRunner
from macbot.service.launchd import (
    LABEL,
    PLACEHOLDERS,
    LaunchdManager,
    build_plist,
    parse_print,
    template_plist,
    validate_plist,
    write_plist,
)

UID = 501
CONFIG = PROJECT_ROOT / "config" / "macbot.yaml"


def manager(home: Path, *steps) -> tuple[LaunchdManager, ScriptedRunner]:
    runner = ScriptedRunner(*steps)
    return LaunchdManager(runner, home, uid=UID), runner


def plist_file(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def test_committed_template_is_what_install_generates_with_placeholders():
    path = PROJECT_ROOT / "launchd" / f"{LABEL}.plist"
    with path.open("rb") as fh:
        data = plistlib.load(fh)
    assert data == template_plist()
    validate_plist(data, placeholders=True)
    text = path.read_text()
    for placeholder in PLACEHOLDERS.values():  # each one is documented in the header
        assert text.count(placeholder) >= 2, placeholder


def test_install_writes_the_agent_and_bootstraps_it(tmp_path):
    mgr, runner = manager(
        tmp_path,
        (
            ("launchctl", "bootstrap", "gui/501", str(plist_file(tmp_path))),
            "launchctl_bootout_ok.txt",
        ),
    )
    done = mgr.install(ServiceSpec(config_path=CONFIG))
    assert runner.done() and "launchctl bootstrap" in done[-1]

    with plist_file(tmp_path).open("rb") as fh:
        data = plistlib.load(fh)
    logs = tmp_path / "Library" / "Logs" / "MacBot"
    assert logs.is_dir()
    assert set(data) == {
        "Label",
        "ProgramArguments",
        "WorkingDirectory",
        "EnvironmentVariables",
        "RunAtLoad",
        "KeepAlive",
        "ThrottleInterval",
        "ExitTimeOut",
        "ProcessType",
        "StandardOutPath",
        "StandardErrorPath",
    }
    assert data["Label"] == "com.macbot.tts"
    assert data["ProgramArguments"] == [
        sys.executable,
        "-m",
        "macbot",
        "serve",
        "--log-file",
        str(logs / "macbot.log"),
    ]
    assert data["RunAtLoad"] is True
    assert data["KeepAlive"] == {"SuccessfulExit": False}
    assert type(data["ThrottleInterval"]) is int and data["ThrottleInterval"] == 10
    assert type(data["ExitTimeOut"]) is int and data["ExitTimeOut"] > 30  # > the drain grace
    assert data["WorkingDirectory"] == str(PROJECT_ROOT)
    assert data["EnvironmentVariables"] == {
        "PYTHONUNBUFFERED": "1",
        "MACBOT_CONFIG": str(CONFIG),
    }
    assert data["StandardOutPath"] == str(logs / "launchd.out.log")
    assert data["StandardErrorPath"] == str(logs / "launchd.err.log")


def test_the_plists_program_arguments_run_this_macbot(tmp_path):
    data = build_plist(ServiceSpec(config_path=CONFIG), tmp_path)
    args = data["ProgramArguments"][:3]
    proc = subprocess.run([*args, "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--log-file" in proc.stdout


def test_install_replaces_an_agent_that_is_already_loaded(tmp_path):
    path = str(plist_file(tmp_path))
    mgr, runner = manager(
        tmp_path,
        (("launchctl", "bootstrap", "gui/501", path), "launchctl_bootstrap_io_error.txt"),
        (("launchctl", "bootout", "gui/501/com.macbot.tts"), "launchctl_bootout_ok.txt"),
        (("launchctl", "bootstrap", "gui/501", path), "launchctl_bootout_ok.txt"),
    )
    done = mgr.install(ServiceSpec())
    assert runner.done()
    assert "replaced" in done[-1]


def test_install_reports_a_bootstrap_that_keeps_failing(tmp_path):
    path = str(plist_file(tmp_path))
    mgr, _ = manager(
        tmp_path,
        (("launchctl", "bootstrap", "gui/501", path), "launchctl_bootstrap_io_error.txt"),
        (
            ("launchctl", "bootout", "gui/501/com.macbot.tts"),
            "launchctl_bootout_no_such_process.txt",
        ),
        (("launchctl", "bootstrap", "gui/501", path), "launchctl_bootstrap_io_error.txt"),
    )
    with pytest.raises(ServiceError, match="bootstrap failed: Bootstrap failed: 5: Input/output"):
        mgr.install(ServiceSpec())
    assert plist_file(tmp_path).is_file()  # the file stays for the user to retry


def test_legacy_load_replaces_an_agent_that_is_already_loaded(tmp_path):
    path = str(plist_file(tmp_path))
    write_plist(plist_file(tmp_path), build_plist(ServiceSpec(), tmp_path))
    mgr, runner = manager(
        tmp_path,
        (("launchctl", "load", "-w", path), "launchctl_load_already_loaded.txt"),
        (("launchctl", "unload", "-w", path), "launchctl_bootout_ok.txt"),
        (("launchctl", "load", "-w", path), "launchctl_bootout_ok.txt"),
    )
    assert "load -w" in mgr._legacy_load()[0]
    assert runner.done()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("ProgramArguments"), "missing key ProgramArguments"),
        (lambda d: d.update(KeepAlive=True), "KeepAlive must be dict"),
        (lambda d: d.update(KeepAlive={"SuccessfulExit": True}), "SuccessfulExit"),
        (lambda d: d.update(ThrottleInterval=True), "ThrottleInterval must be int"),
        (lambda d: d.update(ThrottleInterval="10"), "ThrottleInterval must be int"),
        (lambda d: d.update(WorkingDirectory="relative/dir"), "absolute path"),
        (lambda d: d["EnvironmentVariables"].update(MACBOT_CONFIG="macbot.yaml"), "absolute"),
        (lambda d: d["EnvironmentVariables"].update(PORT=8123), "strings to strings"),
        (lambda d: d.update(Label="com.other"), "Label must be"),
    ],
)
def test_validate_plist_refuses_what_launchd_would_not_run_as_our_agent(tmp_path, change, message):
    data = build_plist(ServiceSpec(config_path=CONFIG), tmp_path)
    validate_plist(data)
    change(data)
    with pytest.raises(ServiceError, match=message):
        validate_plist(data)
    with pytest.raises(ServiceError):
        write_plist(tmp_path / "x.plist", data)
    assert not (tmp_path / "x.plist").exists()


def test_parse_print_reads_the_service_not_its_nested_blocks():
    running = parse_print(recording("launchctl_print_running.txt").stdout)
    assert running["state"] == "running"  # not the coalitions' "state = active"
    assert running["pid"] == "1076"
    assert running["last exit code"] == "(never exited)"
    assert running["active count"] == "1"


def test_status_of_a_running_agent(tmp_path):
    mgr, _ = manager(
        tmp_path, (("launchctl", "print", "gui/501/com.macbot.tts"), "launchctl_print_running.txt")
    )
    status = mgr.status()
    assert status.loaded and not status.installed
    assert (status.state, status.pid, status.last_exit) == ("running", 1076, "(never exited)")
    assert status.running


def test_status_of_an_agent_that_exited(tmp_path):
    mgr, _ = manager(
        tmp_path, (("launchctl", "print", "gui/501/com.macbot.tts"), "launchctl_print_exited.txt")
    )
    status = mgr.status()
    assert (status.state, status.pid, status.last_exit) == ("not running", None, "1")
    assert status.loaded and not status.running


def test_status_of_an_agent_launchd_does_not_know(tmp_path):
    mgr, _ = manager(
        tmp_path,
        (("launchctl", "print", "gui/501/com.macbot.tts"), "launchctl_print_not_found.txt"),
    )
    status = mgr.status()
    assert not status.loaded and status.state == "not loaded" and not status.running
    assert "Could not find service" in status.detail


def test_start_bootstraps_an_agent_that_was_booted_out(tmp_path):
    path = plist_file(tmp_path)
    write_plist(path, build_plist(ServiceSpec(), tmp_path))
    mgr, runner = manager(
        tmp_path,
        (
            ("launchctl", "kickstart", "-k", "gui/501/com.macbot.tts"),
            "launchctl_kickstart_not_found.txt",
        ),
        (("launchctl", "bootstrap", "gui/501", str(path)), "launchctl_bootout_ok.txt"),
    )
    assert "bootstrap" in mgr.start()[-1]
    assert runner.done()


def test_start_restarts_a_loaded_agent_with_kickstart(tmp_path):
    write_plist(plist_file(tmp_path), build_plist(ServiceSpec(), tmp_path))
    mgr, _ = manager(
        tmp_path,
        (("launchctl", "kickstart", "-k", "gui/501/com.macbot.tts"), "launchctl_bootout_ok.txt"),
    )
    assert "kickstart -k" in mgr.start()[0]


def test_start_without_install_says_to_install(tmp_path):
    mgr, runner = manager(tmp_path)
    with pytest.raises(ServiceError, match="macbot service install"):
        mgr.start()
    assert runner.calls == []


def test_stop_sends_sigterm_and_tolerates_an_unloaded_agent(tmp_path):
    mgr, _ = manager(
        tmp_path,
        (("launchctl", "kill", "SIGTERM", "gui/501/com.macbot.tts"), "launchctl_bootout_ok.txt"),
        (
            ("launchctl", "kill", "SIGTERM", "gui/501/com.macbot.tts"),
            "launchctl_not_found_port.txt",
        ),
    )
    assert "exits 0" in mgr.stop()[0]
    assert "not running" in mgr.stop()[0]


def test_uninstall_removes_the_plist_even_when_not_loaded(tmp_path):
    path = plist_file(tmp_path)
    write_plist(path, build_plist(ServiceSpec(), tmp_path))
    mgr, _ = manager(
        tmp_path,
        (
            ("launchctl", "bootout", "gui/501/com.macbot.tts"),
            "launchctl_bootout_no_such_process.txt",
        ),
    )
    done = mgr.uninstall()
    assert done == [f"{LABEL} was not loaded", f"removed {path}"]
    assert not path.exists()


def test_uninstall_falls_back_to_unload_where_bootout_is_unknown(tmp_path):
    path = plist_file(tmp_path)
    write_plist(path, build_plist(ServiceSpec(), tmp_path))
    mgr, runner = manager(
        tmp_path,
        (("launchctl", "bootout", "gui/501/com.macbot.tts"), "launchctl_bootout_unrecognized.txt"),
        (("launchctl", "unload", "-w", str(path)), "launchctl_bootout_ok.txt"),
    )
    mgr.uninstall()
    assert runner.done() and not path.exists()


def test_without_launchctl_the_error_says_macos_is_needed(tmp_path):
    # The real runner on this Linux machine: there is no launchctl.
    mgr = LaunchdManager(SubprocessRunner(timeout=10), tmp_path, uid=UID)
    with pytest.raises(ServiceError, match="launchctl not found"):
        mgr.status()


def test_log_command_tails_the_daemon_log_and_launchds_files(tmp_path):
    mgr, _ = manager(tmp_path)
    with pytest.raises(ServiceError, match="no log files"):
        mgr.log_command(50, follow=False)
    mgr.logs.mkdir(parents=True)
    (mgr.logs / "macbot.log").write_text("line\n")
    assert mgr.log_command(50, follow=True) == [
        "tail",
        "-n",
        "50",
        "-F",
        str(mgr.logs / "macbot.log"),
    ]
