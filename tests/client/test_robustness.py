"""Issue 11: ``macbot say`` and a daemon that answers late or was started with another config
(Found 8 and 9)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import soundfile as sf
import yaml

from macbot.client.http import DaemonClient
from macbot.client.say import say_via_daemon
from macbot.errors import DaemonNoAnswer, DaemonUnavailable, ExitCode


class SlowDaemon(http.server.BaseHTTPRequestHandler):
    """A daemon that is ready, takes ``/speak`` and answers only after the client gave up."""

    spoken: list[dict] = []  # noqa: RUF012  (shared with the test on purpose)
    release = threading.Event()

    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "ready": True, "version": "0.1.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        SlowDaemon.spoken.append(json.loads(self.rfile.read(length)))
        SlowDaemon.release.wait(timeout=10)  # accepted: it is speaking, the answer is late

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def slow_daemon() -> Iterator[str]:
    SlowDaemon.spoken = []
    SlowDaemon.release.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowDaemon)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    SlowDaemon.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_found_8_a_timeout_after_the_daemon_took_the_request_is_not_spoken_again(slow_daemon):
    """``say`` fell back to in-process synthesis when the daemon answered late, so the text
    was spoken twice. A request that reached the daemon is never repeated."""
    client = DaemonClient(slow_daemon, timeout=0.5)
    with pytest.raises(DaemonNoAnswer, match=r"no answer within 0\.5s") as info:
        say_via_daemon(client, "Say this once.")
    assert info.value.exit_code == ExitCode.DAEMON_ERROR
    assert [b["text"] for b in SlowDaemon.spoken] == ["Say this once."]


def test_found_8_nothing_listening_still_falls_back_to_in_process():
    client = DaemonClient("http://127.0.0.1:9", timeout=0.5)  # the discard port: refused
    assert say_via_daemon(client, "Hello.") is None
    with pytest.raises(DaemonUnavailable):
        client.request("POST", "/speak", {"text": "Hello."})


def run_say(config, url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MACBOT_CONFIG"}
    env["MACBOT_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "macbot", "--config", str(config), "say", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_found_9_say_honours_the_configs_voice_through_a_running_daemon(live_server, tmp_path):
    """A misspelled voice in the config exited 0, spoken by the daemon in its own voice."""
    path = tmp_path / "badvoice.yaml"
    path.write_text(yaml.safe_dump({"models": {"tts": {"voice": "en_US-jo-medium"}}}))
    proc = run_say(path, live_server.url, "hi", "--no-wait")
    assert proc.returncode == ExitCode.VOICE_NOT_FOUND, proc.stderr
    assert "unknown voice 'en_US-jo-medium'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert live_server.output.played == []


def test_found_9_the_configs_voice_and_speed_go_to_the_daemon(live_server, tmp_path):
    path = tmp_path / "macbot.yaml"
    voice = live_server.synth.default_voice.name
    path.write_text(yaml.safe_dump({"models": {"tts": {"voice": voice, "speed": 2.0}}}))
    fast, normal = tmp_path / "fast.wav", tmp_path / "normal.wav"
    assert run_say(path, live_server.url, "One two three four.", "-o", str(fast)).returncode == 0
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"models": {"tts": {"voice": voice}}}))
    assert run_say(plain, live_server.url, "One two three four.", "-o", str(normal)).returncode == 0
    assert sf.info(str(fast)).duration < 0.7 * sf.info(str(normal)).duration
