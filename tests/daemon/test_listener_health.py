"""Found 10 (issue 21): a daemon that could not bind its WebSocket or Wyoming port kept running
with only an error line in its log, and its ``/health`` said ok. Chosen behaviour: the HTTP API
(the daemon's main job) keeps serving; ``/health`` answers ``degraded`` naming each listener
that is not listening and why, and ``macbot doctor`` shows it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests
import yaml
from conftest import make_config

from benchmarks.harness import free_port
from macbot.daemon.app import create_app
from macbot.daemon.server import start_listeners
from macbot.daemon.state import state_of


def wait_healthy(url: str, proc: subprocess.Popen, log) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            reply = requests.get(url + "/health", timeout=1)
            if reply.status_code == 200:
                return reply.json()
        except requests.ConnectionError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"daemon did not become ready:\n{log.read_text()}")


def test_a_listener_that_cannot_bind_shows_in_health_and_doctor(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        port = free_port()
        config = tmp_path / "macbot.yaml"
        data = {
            "models": {"tts": {"optimized_dir": str(tmp_path / "optimized")}},
            "voice_assistant": {"performance": {"tts_cache_persist": False}},
            "server": {
                "port": port,
                "websocket": {"enabled": True, "port": busy},
                "wyoming": {"enabled": True, "host": "127.0.0.1", "port": busy},
            },
        }
        config.write_text(yaml.safe_dump(data), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "MACBOT_TOKEN"}
        log = tmp_path / "daemon.log"
        with log.open("w") as sink:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "macbot", "--config", str(config), "serve"],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            health = wait_healthy(f"http://127.0.0.1:{port}", daemon, log)
            env["MACBOT_URL"] = f"http://127.0.0.1:{port}"  # the tests' environment names none
            doctor = subprocess.run(
                [sys.executable, "-m", "macbot", "--config", str(config), "doctor", "--json"],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            table = subprocess.run(
                [sys.executable, "-m", "macbot", "--config", str(config), "doctor"],
                capture_output=True,
                text=True,
                env={**env, "COLUMNS": "200"},
                timeout=120,
            )
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
    assert health["status"] == "degraded" and health["ready"] is True
    assert set(health["failed_listeners"]) == {"websocket", "wyoming"}
    for why in health["failed_listeners"].values():
        assert f"cannot listen on 127.0.0.1:{busy}" in why
    assert doctor.returncode == 0, doctor.stderr
    listeners = json.loads(doctor.stdout)["listeners"]
    assert listeners["daemon"] is True, listeners
    assert listeners["status"] == "degraded"
    assert listeners["failed"] == health["failed_listeners"]
    assert "websocket not listening" in table.stdout and "wyoming not listening" in table.stdout


def test_health_is_ok_when_every_enabled_listener_listens(tmp_path):
    config = make_config(server={"websocket": {"enabled": True, "port": free_port()}})
    app = create_app(config)
    st = state_of(app)
    (listener,) = start_listeners(config, lambda: st, 8123, st.failed_listeners)
    try:
        st.synthesizer.warmup()
        body = app.test_client().get("/health").get_json()
    finally:
        listener.stop()
        st.synthesizer.close()
    assert body["status"] == "ok" and body["failed_listeners"] == {}
