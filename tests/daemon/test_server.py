"""The daemon's lifecycle in a real `macbot serve` process: bind first and warm up before
/health says ready, SIGTERM drains in-flight requests and exits 0, SIGHUP reloads the config."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from benchmarks.harness import free_port
from macbot.core.formats import resample
from macbot.daemon.state import state_of

LONG_TEXT = " ".join(
    f"This is sentence number {n} of a request that is still running." for n in range(1, 4)
)


def write_config(path: Path, port: int, **server) -> None:
    data = {
        "models": {"tts": {"piper": {"noise_scale": 0.0, "noise_w_scale": 0.0}}},
        # no WebSocket on the shared default port 8124 of this machine (a test that wants one
        # gives its own port)
        "server": {"port": port, "websocket": {"enabled": False}, **server},
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


class Daemon:
    """`macbot --config FILE serve` with its log in a file (read while it runs)."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log
        self._log = log.open("w")
        env = {k: v for k, v in os.environ.items() if k != "MACBOT_TOKEN"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "macbot", "--config", str(config), "serve"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def wait_for_log(self, fragment: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while fragment not in self.log():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"no {fragment!r} in the log:\n{self.log()}")
            time.sleep(0.1)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"daemon did not become ready:\n{self.log()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def daemon_factory(tmp_path):
    started: list[Daemon] = []

    def start(**server) -> tuple[Daemon, Path]:
        port = free_port()
        config = tmp_path / "macbot.yaml"
        write_config(config, port, **server)
        daemon = Daemon(config, port, tmp_path / "daemon.log")
        started.append(daemon)
        return daemon, config

    yield start
    for daemon in started:
        daemon.close()


def test_sigterm_lets_an_in_flight_request_finish(daemon_factory, shared_synth):
    daemon, _ = daemon_factory()
    daemon.wait_ready()
    log = daemon.log()
    # Bound first, warmed up second: /health answered 503 "starting" in between.
    assert log.index("listening on") < log.index("ready (warm-up")
    resp = requests.post(
        daemon.url + "/v1/audio/speech",
        json={"model": "tts-1", "input": LONG_TEXT, "response_format": "pcm", "stream": True},
        stream=True,
        timeout=120,
    )
    assert resp.status_code == 200  # headers are out: the request is in flight
    daemon.proc.send_signal(signal.SIGTERM)
    data = b"".join(resp.iter_content(None))
    assert daemon.proc.wait(timeout=60) == 0
    # The whole utterance arrived (same deterministic voice in this process).
    expected = resample(shared_synth.synthesize(LONG_TEXT).samples, 22050, 24000)
    pcm = np.frombuffer(data, dtype="<i2")
    assert abs(len(pcm) - len(expected)) <= 24  # one millisecond
    log = daemon.log()
    assert "SIGTERM: finishing in-flight requests" in log and "stopped" in log


def test_serve_runs_the_websocket_and_wyoming_and_stops_them(daemon_factory):
    """Issue 14: `macbot serve` starts the listeners its config enables beside waitress and
    stops them on SIGTERM (exit 0)."""
    ws_port, wy_port = free_port(), free_port()
    daemon, _ = daemon_factory(
        websocket={"enabled": True, "port": ws_port},
        wyoming={"enabled": True, "host": "127.0.0.1", "port": wy_port},
    )
    daemon.wait_ready()
    with connect(f"ws://127.0.0.1:{ws_port}/") as conn:
        conn.send(json.dumps({"type": "text", "text": "Hello."}))
        conn.send(json.dumps({"type": "close"}))
        kinds = []
        while True:
            try:
                message = conn.recv(timeout=60)
            except ConnectionClosed:
                break
            kinds.append("audio" if isinstance(message, bytes) else json.loads(message)["type"])
    assert kinds[0] == "ready" and "audio" in kinds and kinds[-1] == "done"
    with socket.create_connection(("127.0.0.1", wy_port), timeout=10) as wy:
        wy.sendall(b'{"type": "describe"}\n')
        assert b'"info"' in wy.recv(65536)
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=60) == 0
    log = daemon.log()
    assert f"WebSocket listening on ws://127.0.0.1:{ws_port}/" in log
    assert f"Wyoming server listening on tcp://127.0.0.1:{wy_port}" in log


def test_sighup_reloads_the_config(daemon_factory):
    daemon, config = daemon_factory(auth_token="first-token", max_text_chars=100)
    daemon.wait_ready()
    first = {"Authorization": "Bearer first-token"}
    second = {"Authorization": "Bearer second-token"}
    body = requests.get(daemon.url + "/config", headers=first, timeout=10).json()
    assert body["config"]["server"]["max_text_chars"] == 100

    port = int(daemon.url.rsplit(":", 1)[1])
    write_config(config, free_port(), auth_token="second-token", max_text_chars=50)
    text = yaml.safe_load(config.read_text())
    text["models"]["tts"]["speed"] = 2.0
    config.write_text(yaml.safe_dump(text))
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_for_log("config reloaded")

    assert requests.get(daemon.url + "/config", headers=first, timeout=10).status_code == 401
    body = requests.get(daemon.url + "/config", headers=second, timeout=10).json()["config"]
    assert body["server"]["max_text_chars"] == 50
    assert body["server"]["port"] == port  # the port needs a restart: kept, with a warning
    assert body["models"]["tts"]["speed"] == 2.0
    assert "server.port changed; it applies after a restart" in daemon.log()
    too_long = {"model": "tts-1", "input": "x" * 60}
    resp = requests.post(daemon.url + "/v1/audio/speech", json=too_long, headers=second, timeout=10)
    # text over the limit is a 400 (the schema's maxLength, OpenAI's status; issue 21)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "string_above_max_length"

    # An invalid file is logged and the running config stays.
    config.write_text("server:\n  max_text_chars: -5\n")
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_for_log("reload failed, keeping the running config")
    body = requests.get(daemon.url + "/config", headers=second, timeout=10).json()["config"]
    assert body["server"]["max_text_chars"] == 50
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=30) == 0


@pytest.fixture
def reloadable(tmp_path):
    """An in-process server whose config came from a file, and its Reloader. It has its own
    synthesizer: a reload that builds a new one closes the one it replaced."""
    import threading

    from conftest import RecordingOutput

    from macbot.config import load_config
    from macbot.core.playback import Player
    from macbot.core.synthesizer import Synthesizer
    from macbot.daemon.app import create_app
    from macbot.daemon.server import Reloader, Server

    path = tmp_path / "macbot.yaml"
    write_config(path, 8123, max_text_chars=100)
    config = load_config(path)
    synth = Synthesizer(config)
    synth.warmup()
    app = create_app(config, synthesizer=synth, player=Player(RecordingOutput()))
    server = Server(app, "127.0.0.1", 0, threads=2, grace=5)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server, Reloader(server), path
    server.request_stop()
    thread.join(timeout=5)
    state_of(server.app).synthesizer.close()


def test_reload_with_an_unknown_voice_keeps_the_running_one(reloadable, caplog):
    server, reloader, path = reloadable
    data = yaml.safe_load(path.read_text())
    data["models"]["tts"]["voice"] = "nobody-such"
    path.write_text(yaml.safe_dump(data))
    before = server.app
    assert reloader.reload() is False
    assert server.app is before
    assert "keeping the running voice" in caplog.text
    assert requests.get(server.url + "/health", timeout=10).status_code == 200


def test_reload_with_a_new_voice_warms_it_up_before_swapping(reloadable, shared_synth):
    server, reloader, path = reloadable
    data = yaml.safe_load(path.read_text())
    data["models"]["tts"]["piper"]["voice_path"] = str(shared_synth.default_voice.model_path)
    data["server"]["max_text_chars"] = 60
    path.write_text(yaml.safe_dump(data))
    metrics = state_of(server.app).metrics
    requests.get(server.url + "/info", timeout=10)
    before = state_of(server.app).synthesizer
    assert reloader.reload() is True
    synth = state_of(server.app).synthesizer
    assert synth is not before and synth.loaded  # built and warmed before the swap
    reloader.retiring.join(timeout=60)
    assert not before.loaded  # the replaced one was closed once idle
    assert state_of(server.app).metrics is metrics  # counters survive reloads
    resp = requests.post(server.url + "/speak", json={"text": "x" * 61, "play": False}, timeout=10)
    assert resp.status_code == 400 and resp.json()["code"] == "string_above_max_length"
    metrics_text = requests.get(server.url + "/metrics", timeout=10).text
    assert 'route="/info",status="200"' in metrics_text


def test_a_reload_keeps_the_listeners_until_a_restart(reloadable, caplog):
    """Issue 14: the WebSocket and Wyoming listeners exist: a changed section is kept, with a
    warning, while the rest of the file applies."""
    server, reloader, path = reloadable
    write_config(
        path,
        8123,
        max_text_chars=77,
        websocket={"enabled": True, "port": 9002},
        wyoming={"enabled": True},
    )
    assert reloader.reload()
    running = state_of(server.app).config.server
    assert running.max_text_chars == 77  # applied at once
    assert not running.websocket.enabled and not running.wyoming.enabled  # kept
    assert "server.websocket changed; it applies after a restart" in caplog.text
    assert "server.wyoming changed; it applies after a restart" in caplog.text
