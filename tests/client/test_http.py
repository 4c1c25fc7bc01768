"""The daemon client's tolerance to what other daemon versions answer: job polling where a
job endpoint exists, the audio's duration where not, and the Bearer token. A small Flask app
served over real HTTP plays the newer daemon's part."""

from __future__ import annotations

import threading

import pytest
from flask import Flask, jsonify, request

from macbot.client.http import DaemonClient, SpeakResult
from macbot.config import auth_token, config_from_dict
from macbot.daemon.server import Server
from macbot.errors import DaemonError, DaemonUnavailable


@pytest.fixture
def newer_daemon():
    """/speak answers a job id; /jobs/<id> reports queued, playing, then done."""
    app = Flask(__name__)
    seen: dict[str, list] = {"auth": [], "polls": []}
    states = iter(["queued", "playing", "done"])

    @app.post("/speak")
    def speak():
        seen["auth"].append(request.headers.get("Authorization"))
        return jsonify(status="queued", played=True, duration=0.01, job_id="j1")

    @app.get("/jobs/<job_id>")
    def job(job_id):
        seen["polls"].append(job_id)
        return jsonify(id=job_id, state=next(states, "done"))

    server = Server(app, "127.0.0.1", 0, threads=2, grace=1)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.url, seen
    server.request_stop()
    thread.join(timeout=5)


def test_wait_polls_the_job_until_done_and_sends_the_token(newer_daemon):
    url, seen = newer_daemon
    client = DaemonClient(url, token="s3cret")
    result = client.speak("Hello.", play=True)
    assert result.job_id == "j1"
    assert client.wait_played(result) == "job j1 done"
    assert seen["polls"] == ["j1", "j1", "j1"]
    assert seen["auth"] == ["Bearer s3cret"]


def test_wait_polls_the_real_daemons_job(live_server):
    client = DaemonClient(live_server.url)
    result = client.speak("Short.", play=True)
    assert result.job_id is not None
    assert client.wait_played(result, timeout=60) == f"job {result.job_id} done"
    assert len(live_server.output.played) >= 1  # it really played before wait returned


def test_wait_falls_back_to_the_duration_without_a_job_endpoint(live_server):
    client = DaemonClient(live_server.url)
    fake_job = SpeakResult(info={"job_id": "nope", "duration": 0.01})
    assert client.wait_played(fake_job).startswith("waited ")  # /jobs/nope is a 404 here


def test_errors_and_unreachable_daemons(live_server):
    with pytest.raises(DaemonError, match="unknown voice") as err:
        DaemonClient(live_server.url).speak("Hi.", voice="nope", play=False)
    assert err.value.status == 400
    with pytest.raises(DaemonUnavailable):
        DaemonClient("http://127.0.0.1:9").health()
    assert DaemonClient("http://127.0.0.1:9").ready() is False


def test_token_comes_from_the_environment_or_the_config(monkeypatch):
    config = config_from_dict({})
    monkeypatch.delenv("MACBOT_TOKEN", raising=False)
    assert auth_token(config) is None
    monkeypatch.setenv("MACBOT_TOKEN", "from-env")
    assert auth_token(config) == "from-env"
