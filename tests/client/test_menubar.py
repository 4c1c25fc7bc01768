"""The menu-bar app: its model against the real daemon, and the lazy rumps import."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

import pytest
from service_recordings import ScriptedRunner

from macbot.client.http import DaemonClient
from macbot.client.menubar import EXTRA_HINT, MenuBarModel, MenuState
from macbot.daemon.state import state_of
from macbot.errors import ExitCode
from macbot.service.launchd import LaunchdManager

CLOSED = "http://127.0.0.1:9"


def test_the_module_does_not_import_rumps():
    code = "import sys, macbot.client.menubar, macbot.cli; sys.exit('rumps' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


@pytest.mark.skipif(importlib.util.find_spec("rumps") is not None, reason="rumps is installed")
def test_without_rumps_the_command_names_the_extra():
    proc = subprocess.run(
        [sys.executable, "-m", "macbot", "menubar"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == ExitCode.MISSING_EXTRA
    assert proc.stderr.strip().splitlines() == [
        f"macbot: error: the menu-bar app needs rumps (macOS only): {EXTRA_HINT}"
    ]
    assert "pip install 'macbot-tts[macos]'" in proc.stderr


def test_state_shows_the_daemon_and_its_engine(live_server):
    model = MenuBarModel(DaemonClient(live_server.url))
    state = model.refresh()
    perf = live_server.get("/tts-performance").json()
    assert state.daemon == "running"
    assert (state.engine, state.voice) == (perf["engine_type"], perf["voice"])
    assert state.title == "MacBot ●"
    assert perf["engine_type"] in state.summary
    # issue 12: the background optimizer's state (switched off in the tests' environment)
    assert state.optimization["state"] == "idle" and state.optimization["auto"] is False
    assert state.optimization_line == "Optimization: off"


@pytest.mark.parametrize(
    ("optimization", "line"),
    [
        (
            {"state": "running", "step": "gate", "progress": 0.42, "paused": False},
            "Optimizing: gate (42%)",
        ),
        (
            {"state": "running", "step": "tune", "progress": 0.9, "paused": True},
            "Optimizing: tune (90%, paused while speaking)",
        ),
        ({"state": "done", "winner": "split/q-conv"}, "Optimized: split/q-conv"),
        (
            {"state": "failed", "reason": "gate failed: no sound"},
            "Optimization failed: gate failed: no sound",
        ),
        ({"state": "idle", "auto": True}, "Optimization: waiting"),
        (None, ""),
    ],
)
def test_optimization_line(optimization, line):
    assert MenuState("running", optimization=optimization).optimization_line == line


def test_state_when_no_daemon_answers():
    model = MenuBarModel(DaemonClient(CLOSED), clipboard=lambda: "Hello.")
    assert model.refresh().daemon == "stopped"
    assert model.state.summary == "Daemon not running"
    assert "not running" in model.speak_clipboard()
    assert model.stop_speaking() == "The daemon is not running"


def test_speak_clipboard_plays_through_the_daemon(live_server):
    text = "Words copied to the clipboard."
    model = MenuBarModel(DaemonClient(live_server.url), clipboard=lambda: text)
    assert model.speak_clipboard().startswith("Speaking ")
    expected = live_server.synth.synthesize(text)
    deadline = time.monotonic() + 10
    while not live_server.output.played and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(live_server.output.played) == 1
    assert (live_server.output.played[0][0] == expected.samples).all()


def test_an_empty_clipboard_is_not_sent(live_server):
    model = MenuBarModel(DaemonClient(live_server.url), clipboard=lambda: "  \n")
    assert model.speak_clipboard() == "The clipboard has no text"
    assert live_server.output.played == []


def test_stop_speaking_calls_interrupt(live_server):
    model = MenuBarModel(DaemonClient(live_server.url))
    has_route = any(r.rule == "/interrupt" for r in live_server.app.url_map.iter_rules())
    message = model.stop_speaking()
    if has_route:
        assert message.startswith("Stopped")
    else:  # this branch's daemon predates /interrupt: the menu says so instead of failing
        assert message == "Cannot stop: this daemon has no /interrupt (update macbot)"


def test_pause_and_resume_speaking(live_server):
    model = MenuBarModel(DaemonClient(live_server.url))
    player = state_of(live_server.app).player
    assert model.pause_speaking() == "Paused" and player.paused
    assert model.resume_speaking() == "Resumed" and not player.paused
    closed = MenuBarModel(DaemonClient(CLOSED))
    assert closed.pause_speaking() == "The daemon is not running"


def test_service_actions_and_logs_go_through_the_service_manager(tmp_path):
    opened = []
    launchd = LaunchdManager(
        ScriptedRunner(
            (
                ("launchctl", "kill", "SIGTERM", "gui/501/com.macbot.tts"),
                "launchctl_bootout_ok.txt",
            ),
        ),
        tmp_path,
        uid=501,
    )
    model = MenuBarModel(DaemonClient(CLOSED), launchd, opener=opened.append)
    assert model.open_logs() == "No log file yet"
    launchd.logs.mkdir(parents=True)
    (launchd.logs / "macbot.log").write_text("started\n")
    assert model.open_logs() == f"Opened {launchd.logs / 'macbot.log'}"
    assert opened == [launchd.logs / "macbot.log"]
    assert "exits 0" in model.stop_service()
    assert "macbot service install" in model.start_service()  # no plist: a message, no raise
