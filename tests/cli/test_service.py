"""``macbot service`` and ``serve --log-file`` as real processes on this Linux machine."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from macbot.daemon.logfile import log_to_file
from macbot.errors import ExitCode


def macbot(*args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "macbot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def _no_user_bus() -> bool:
    if not shutil.which("systemctl"):
        return False
    proc = subprocess.run(
        ["systemctl", "--user", "daemon-reload"], capture_output=True, text=True, timeout=10
    )
    return "Failed to connect to bus" in proc.stderr


@pytest.mark.skipif(not _no_user_bus(), reason="needs systemctl without a user session bus")
def test_install_on_a_machine_without_user_manager_fails_clearly_and_leaves_nothing(tmp_path):
    """Issue 19 item 9: the unit file stayed behind and `status` then said installed."""
    proc = macbot("service", "install", env={"HOME": str(tmp_path)})
    assert proc.returncode == ExitCode.SERVICE_FAILED
    assert proc.stderr.startswith("macbot: error: systemctl --user cannot reach")
    assert "enable-linger" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".config" / "systemd" / "user" / "macbot-tts.service").exists()
    status = macbot("service", "status", env={"HOME": str(tmp_path)})
    assert "installed: no" in status.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="the systemd manager's message")
def test_service_restart_exists(tmp_path):
    """WYOMING.md says `macbot service restart` (issue 19 item 9): it is `start`'s twin."""
    proc = macbot("service", "restart", env={"HOME": str(tmp_path)})
    assert proc.returncode == ExitCode.SERVICE_FAILED
    assert "not installed" in proc.stderr and "invalid choice" not in proc.stderr


def test_install_refuses_a_missing_config(tmp_path):
    proc = macbot(
        "service",
        "install",
        "--service-config",
        str(tmp_path / "nope.yaml"),
        env={"HOME": str(tmp_path)},
    )
    assert proc.returncode == ExitCode.BAD_CONFIG
    assert "config file not found" in proc.stderr
    assert not (tmp_path / ".config").exists()


def test_log_file_rotates(tmp_path):
    path = tmp_path / "logs" / "macbot.log"
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        handler = log_to_file(path, max_bytes=2000, backups=2)
        root.setLevel(logging.INFO)
        log = logging.getLogger("macbot.test")
        for i in range(200):
            log.info("line %d of the rotation test, long enough to fill the file", i)
        handler.flush()
    finally:
        root.removeHandler(handler)
        handler.close()
        for h in saved:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["macbot.log", "macbot.log.1", "macbot.log.2"]  # 2 backups, no more
    assert all(p.stat().st_size <= 2000 for p in path.parent.iterdir())
    assert "line 199 " in path.read_text()


def test_serve_logs_to_its_file_and_exits_0_on_sigterm(tmp_path):
    """What the launchd agent runs: logs go to the rotating file (not stderr, which launchd
    never rotates), and SIGTERM is a clean exit 0, which KeepAlive does not restart."""
    log = tmp_path / "Logs" / "macbot.log"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "macbot", "serve", "--port", str(port), "--log-file", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if log.exists() and "listening on" in log.read_text():
                break
            if proc.poll() is not None:
                pytest.fail(f"the daemon exited: {proc.communicate()[1]}")
            time.sleep(0.2)
        else:
            pytest.fail("the daemon did not start")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    text = log.read_text()
    assert f"listening on http://127.0.0.1:{port}" in text
    assert "SIGTERM" in text and "stopped" in text
    assert "listening on" not in err  # nothing logged to stderr


@pytest.mark.skipif(not _no_user_bus(), reason="needs systemctl without a user session bus")
def test_status_without_a_user_bus_reports_the_running_daemon_as_json(tmp_path, live_server):
    """Issue 11: without a user bus, `service status --json` printed no JSON and did not ask
    the running daemon; now it prints both views and exits 0 when the daemon answers."""
    import json

    env = {"HOME": str(tmp_path), "MACBOT_URL": live_server.url}
    proc = macbot("service", "status", "--json", env=env)
    report = json.loads(proc.stdout)
    assert report["service"]["installed"] is False
    assert report["service"]["state"] == "unknown (no user service manager)"
    assert report["health"]["ready"] is True and report["health"]["url"] == live_server.url
    assert proc.returncode == 0
    text = macbot("service", "status", env=env)
    assert "does not exist: not installed" in text.stdout
    assert f"health:    ok at {live_server.url}" in text.stdout
    assert text.returncode == 0
