"""Playback over real HTTP: pause and resume, the policies, a job's progress and what
``/interrupt`` says was heard. The app, the voice and the Player are real; the sound card is
:class:`ClockOutput`, moved on by the test."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import ClockOutput, make_config, start_server

from macbot.core.synthesizer import Synthesizer
from macbot.daemon.state import state_of

RATE = 22050


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def clocked(shared_synth):
    output = ClockOutput()
    live, server, thread = start_server(shared_synth.config, output, shared_synth)
    yield live, output
    server.request_stop()
    thread.join(timeout=5)
    state_of(live.app).player.close()


def speak(live, text: str, **fields) -> int:
    resp = live.post("/speak", json={"text": text, **fields})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "queued" and body["policy"] == fields.get("policy", "queue")
    return body["job_id"]


def job(live, job_id: int) -> dict:
    return live.get(f"/jobs/{job_id}").json()


def test_pause_and_resume_hold_the_job_where_it_is(clocked):
    live, output = clocked
    job_id = speak(live, "Pause me in the middle of this sentence, please.")
    output.advance(0.5)
    assert wait_for(lambda: output.total == RATE // 2)
    assert live.post("/pause").json() == {"paused": True, "job_id": job_id}
    assert wait_for(lambda: job(live, job_id)["state"] == "paused")
    output.advance(1.0)
    time.sleep(0.1)
    held = job(live, job_id)
    assert held["played_seconds"] == pytest.approx(0.5, abs=1e-3)
    assert live.get("/tts-performance").json()["playback"]["paused"] is True

    assert live.post("/resume").json() == {"paused": False, "job_id": job_id}
    output.advance(30)
    assert wait_for(lambda: job(live, job_id)["done"])
    done = job(live, job_id)
    assert done["state"] == "done" and done["played_seconds"] > 2
    assert done["current_word"] is None


def test_policies_over_http(clocked):
    live, output = clocked
    first = speak(live, "The first thing to say, which takes a while.")
    second = speak(live, "The second thing, waiting in the queue.")
    assert wait_for(lambda: job(live, first)["state"] == "playing")
    urgent = speak(live, "Urgent.", policy="interrupt")
    assert wait_for(lambda: job(live, first)["done"])
    assert job(live, first)["state"] == "interrupted"
    assert job(live, urgent)["state"] in ("queued", "playing")
    assert job(live, second)["state"] == "queued"

    last = speak(live, "Only this one.", policy="replace")
    assert wait_for(lambda: job(live, urgent)["done"] and job(live, second)["done"])
    assert job(live, urgent)["state"] == job(live, second)["state"] == "interrupted"
    output.advance(30)
    assert wait_for(lambda: job(live, last)["done"])
    assert job(live, last)["state"] == "done"

    bad = live.post("/speak", json={"text": "x", "policy": "shout"})
    assert bad.status_code == 400 and bad.json()["param"] == "policy"


# -- with word timings: the bundled voice's split ------------------------------------------------

TEXT = "Hello, Dave. The total is $1,234 today, and the meeting starts at noon."


@pytest.fixture(scope="module")
def split_synth(voice_split):
    """A synthesizer on the bundled voice's split (its encoder gives phoneme durations)."""
    _, folder = voice_split
    synth = Synthesizer(
        make_config(
            models__tts__streaming={"enabled": True},
            models__tts__optimized_dir=str(folder.parent),
        )
    )
    yield synth
    synth.close()


@pytest.fixture
def timed(split_synth):
    output = ClockOutput()
    live, server, thread = start_server(split_synth.config, output, split_synth)
    yield live, output
    server.request_stop()
    thread.join(timeout=5)
    state_of(live.app).player.close()


def test_interrupt_returns_the_words_heard_before_the_stop(timed):
    live, output = timed
    timed_words = live.post(
        "/speak", json={"text": TEXT, "play": False, "timestamps": True}
    ).json()["words"]
    assert len(timed_words) == 13
    job_id = speak(live, TEXT)
    # Play until four words have been heard in full, 50 ms at a time.
    while len(job(live, job_id)["words"]) < 4:
        output.advance(0.05)
        assert wait_for(output.settled)
    stopped = live.post("/interrupt").json()
    assert stopped["stopped"] == 1 and stopped["job_id"] == job_id
    played = output.total / RATE
    assert stopped["played_seconds"] == pytest.approx(played, abs=1e-3)
    heard = stopped["words"]
    assert [w["word"] for w in heard] == [w["word"] for w in timed_words[: len(heard)]]
    for mine, theirs in zip(heard, timed_words, strict=False):  # the job's times: the audio's
        assert mine["start"] == pytest.approx(theirs["start"], abs=1e-3)
        assert mine["end"] == pytest.approx(theirs["end"], abs=1e-3)
    assert all(w["end"] <= played for w in heard)
    nxt = timed_words[len(heard)]
    if stopped["current_word"] is None:  # stopped between two words
        assert played < nxt["start"]
    else:  # the word the stop cut
        assert stopped["current_word"]["word"] == nxt["word"]
        assert nxt["start"] <= played < nxt["end"]
    assert job(live, job_id)["state"] == "interrupted"


def test_say_progress_prints_each_word_as_it_plays(timed):
    live, output = timed
    output.realtime = True
    env = {**os.environ, "MACBOT_URL": live.url}
    proc = subprocess.run(
        [sys.executable, "-m", "macbot", "say", "--progress", TEXT],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Hello",
        "Dave",
        "The",
        "total",
        "is",
        "$1,234",
        "today",
        "and",
        "the",
        "meeting",
        "starts",
        "at",
        "noon",
    ]
