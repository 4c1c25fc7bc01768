"""Claude Code hooks (issue 19): ``POST /hooks/claude`` (hook type ``http``) and ``macbot hook``
(hook type ``command``), fed exactly what Claude Code sends: the same JSON on the POST body and
on standard input, ``Content-Type: application/json``, the user's own headers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import RecordingOutput, make_config, start_server

from macbot.daemon.state import state_of

REPLY = """I fixed the failing test. The problem was in `parse_config`:

```python
def parse_config(path):
    with open(path) as f:
        return yaml.safe_load(f) or {}
```

Run `pytest tests/test_config.py -q` to check; all 12 tests pass now."""

COMMON = {
    "session_id": "9f4c2a51-6b1e-4c8e-9a43-0d2f7b6e1c3a",
    "transcript_path": "/home/ann/.claude/projects/-home-ann-app/9f4c2a51.jsonl",
    "cwd": "/home/ann/app",
    "permission_mode": "default",
}
STOP = {
    **COMMON,
    "hook_event_name": "Stop",
    "stop_hook_active": False,
    "last_assistant_message": REPLY,
}
NOTIFICATION = {
    **COMMON,
    "hook_event_name": "Notification",
    "message": "Claude needs your permission to use Bash",
    "title": "Claude Code",
    "notification_type": "permission_prompt",
}
PRE_TOOL = {
    **COMMON,
    "hook_event_name": "PreToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "npm test", "description": "Run the tests"},
    "tool_use_id": "toolu_01ABC",
}
HEADERS = {"Content-Type": "application/json"}


def post_hook(server, event, headers=HEADERS):
    """As Claude Code's http hook: the event's JSON as the body."""
    return server.session.post(
        server.url + "/hooks/claude", data=json.dumps(event), headers=headers, timeout=60
    )


def wait_job(server, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = server.get(f"/jobs/{job_id}").json()
        if state["done"]:
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end")


def test_stop_speaks_the_reply_at_once_through_the_text_front_end(live_server):
    live_server.output.release.clear()  # the sound card holds the first piece: playing "takes"
    try:
        resp = post_hook(live_server, STOP)
        # the agent is answered while the reply is still playing
        assert resp.status_code == 202 and resp.content == b""
        assert resp.headers["X-Macbot-Hook"] == "queued"
        job = live_server.get(f"/jobs/{resp.headers['X-Macbot-Job']}").json()
        assert job["done"] is False and job["policy"] == "replace"
    finally:
        live_server.output.release.set()
    wait_job(live_server, resp.headers["X-Macbot-Job"])
    played = sum(len(samples) for samples, _ in live_server.output.played)
    expected = live_server.synth.synthesize(REPLY)  # the same text, the same front end
    assert played == len(expected.samples)
    spoken = live_server.synth.normalize(REPLY).text
    assert "safe_load" not in spoken and "```" not in spoken  # the code block is a note


def test_a_long_reply_is_taken_and_cut(live_server):
    """A reply far over server.max_body_bytes (64 KB) still speaks: its first part."""
    paragraph = "The migration ran on every table and the indexes were rebuilt. " * 20
    reply = "\n\n".join([paragraph.strip()] * 60)  # ~76 KB
    resp = post_hook(live_server, {**STOP, "last_assistant_message": reply})
    assert resp.status_code == 202 and resp.headers["X-Macbot-Hook"] == "queued"
    wait_job(live_server, resp.headers["X-Macbot-Job"])
    played = sum(len(s) for s, _ in live_server.output.played)
    assert played == len(live_server.synth.synthesize(paragraph.strip()).samples)


def test_notification_speaks_its_message_queued(live_server):
    resp = post_hook(live_server, NOTIFICATION)
    assert resp.status_code == 202 and resp.headers["X-Macbot-Hook"] == "queued"
    assert wait_job(live_server, resp.headers["X-Macbot-Job"])["policy"] == "queue"
    played = sum(len(s) for s, _ in live_server.output.played)
    assert played == len(live_server.synth.synthesize(NOTIFICATION["message"]).samples)


def test_events_not_configured_stay_silent(live_server):
    resp = post_hook(live_server, PRE_TOOL)
    assert resp.status_code == 202 and resp.headers["X-Macbot-Hook"] == "silent"
    assert "PreToolUse" in resp.headers["X-Macbot-Reason"]
    for name in ("SomeFutureEvent", "__class__", "events"):
        resp = post_hook(live_server, {**COMMON, "hook_event_name": name})
        assert resp.status_code == 202 and resp.headers["X-Macbot-Hook"] == "silent"
    assert live_server.output.played == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"session_id": "x"}), "hook_event_name"),
        ("", "no hook input"),
    ],
)
def test_bad_input_is_a_400_and_the_daemon_goes_on(live_server, body, fragment):
    resp = live_server.session.post(
        live_server.url + "/hooks/claude", data=body, headers=HEADERS, timeout=60
    )
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_hook_input"
    assert fragment in resp.json()["error"]
    assert post_hook(live_server, NOTIFICATION).status_code == 202


@pytest.fixture
def configured(shared_synth):
    """A daemon whose config makes tool use speak, with a template, interrupting; and the
    bearer token a user passes with ``headers`` + ``allowedEnvVars``."""
    config = make_config(
        hooks__claude={
            "events": {
                "PreToolUse": {"text": "Running {tool_name}: {cwd}", "policy": "interrupt"},
                "Notification": None,
            }
        },
        server__auth_token="s3cret",
    )
    live, server, thread = start_server(config, RecordingOutput(), shared_synth)
    yield live
    server.request_stop()
    thread.join(timeout=5)
    state_of(live.app).player.close()


def test_config_chooses_events_text_and_policy(configured):
    headers = {**HEADERS, "Authorization": "Bearer s3cret"}  # "Bearer $MACBOT_TOKEN" expanded
    resp = post_hook(configured, PRE_TOOL, headers)
    assert resp.status_code == 202 and resp.headers["X-Macbot-Hook"] == "queued"
    job = configured.session.get(
        configured.url + f"/jobs/{resp.headers['X-Macbot-Job']}", headers=headers, timeout=30
    ).json()
    assert job["policy"] == "interrupt"
    resp = post_hook(configured, NOTIFICATION, headers)
    assert resp.headers["X-Macbot-Hook"] == "silent"
    assert post_hook(configured, PRE_TOOL).status_code == 401  # no token, no speech


# -- macbot hook (command hooks) ------------------------------------------------------------------


def run_hook(stdin: str, url: str) -> subprocess.CompletedProcess:
    """As Claude Code runs a command hook: the JSON on standard input."""
    env = {**os.environ, "MACBOT_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "macbot", "hook"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_command_hook_speaks_through_the_daemon(live_server):
    proc = run_hook(json.dumps(STOP), live_server.url)
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 60
    while not live_server.output.played and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_server.output.played


def test_command_hook_without_a_daemon_exits_0():
    proc = run_hook(json.dumps(NOTIFICATION), "http://127.0.0.1:9")
    assert proc.returncode == 0
    assert "nothing spoken" in proc.stderr and proc.stderr.count("\n") == 1


def test_command_hook_bad_input_exits_13_not_2(live_server):
    proc = run_hook("{not json", live_server.url)
    assert proc.returncode == 13  # 2 would tell Claude Code to block the agent
    assert proc.stderr.startswith("macbot: error: hook input is not JSON")
    assert proc.stderr.count("\n") == 1
    assert live_server.output.played == []
