"""The Player: what has played, pause and resume, barge-in with the words heard, and the
policies. The Player and its threads are real; the sound card is :class:`ClockOutput`, which
plays exactly as much audio as the test lets it (this machine has no sound card)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import ClockOutput

from macbot.core.audio import AudioChunk, WordTiming
from macbot.core.playback import Player, check_policy
from macbot.errors import UsageError

RATE = 22050


def chunk(seconds: float, *words: tuple[str, float, float], index: int = 0) -> AudioChunk:
    samples = np.zeros(round(seconds * RATE), dtype=np.float32)
    timings = tuple(WordTiming(w, s, e) for w, s, e in words)
    return AudioChunk(samples, RATE, "test", "test", index=index, words=timings)


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return False


# Two chunks of one second: "Hello there." and "General Kenobi." ("Kenobi" runs on past the
# second chunk's start of silence, as words may).
SPEECH = [
    chunk(1.0, ("Hello", 0.05, 0.40), ("there.", 0.50, 0.90)),
    chunk(1.0, ("General", 0.10, 0.50), ("Kenobi.", 0.60, 0.95), index=1),
]


@pytest.fixture
def clock():
    output = ClockOutput()
    player = Player(output)
    yield output, player
    player.close()


def played_to(output: ClockOutput, seconds: float) -> None:
    """Let the device play up to ``seconds`` of the job, and wait until it has."""
    target = round(seconds * RATE)
    output.advance((target - output.total) / RATE)
    assert wait_for(lambda: output.total == target)


def words(progress) -> list[str]:
    return [w.word for w in progress.words]


def test_progress_follows_the_device_word_by_word(clock):
    output, player = clock
    job = player.submit(iter(SPEECH))
    assert wait_for(lambda: job.state == "playing")
    progress = player.progress(job)
    assert progress.played_seconds == 0 and progress.words == () and progress.current_word is None

    played_to(output, 0.2)
    progress = player.progress(job)
    assert progress.played_seconds == pytest.approx(0.2, abs=1e-4)
    assert words(progress) == [] and progress.current_word.word == "Hello"

    played_to(output, 0.45)  # between the words
    progress = player.progress(job)
    assert words(progress) == ["Hello"] and progress.current_word is None

    played_to(output, 1.3)  # into the second chunk: its times count from the job's start
    progress = player.progress(job)
    assert words(progress) == ["Hello", "there."]
    assert progress.current_word == WordTiming("General", 1.10, 1.50)

    played_to(output, 2.0)
    assert job.done.wait(5) and job.state == "done"
    progress = player.progress(job)
    assert words(progress) == ["Hello", "there.", "General", "Kenobi."]
    assert progress.played_seconds == pytest.approx(2.0)
    assert progress.to_dict()["words"][2] == {"word": "General", "start": 1.1, "end": 1.5}


def test_interrupt_reports_the_words_heard_and_the_word_cut(clock):
    output, player = clock
    first = player.submit(iter(SPEECH))
    queued = player.submit([chunk(0.5)])
    played_to(output, 1.3)
    result = player.interrupt()
    assert result["stopped"] == 1 and result["dropped"] == 1 and result["job_id"] == first.id
    assert [w["word"] for w in result["words"]] == ["Hello", "there."]
    assert result["current_word"] == {"word": "General", "start": 1.1, "end": 1.5}
    assert result["played_seconds"] == pytest.approx(1.3, abs=1e-3)
    assert first.state == "interrupted" and queued.state == "interrupted"
    assert queued.done.is_set()
    assert output.total == round(1.3 * RATE)  # nothing of the dropped job played

    assert player.interrupt() == {"stopped": 0, "dropped": 0, "job_id": None}


def test_pause_holds_mid_word_and_resume_plays_the_rest(clock):
    output, player = clock
    job = player.submit(iter(SPEECH))
    played_to(output, 0.25)
    assert player.pause() == {"paused": True, "job_id": job.id}
    assert wait_for(lambda: job.state == "paused")
    output.advance(1.0)  # the device would play, but the player holds
    time.sleep(0.05)
    assert output.total == round(0.25 * RATE)
    assert player.progress(job).current_word.word == "Hello"
    assert player.status()["paused"] is True

    assert player.resume() == {"paused": False, "job_id": job.id}
    played_to(output, 2.0)
    assert job.done.wait(5) and job.state == "done"
    first, rest = round(1.0 * RATE), round(0.75 * RATE)
    # The first chunk went out in two calls, the second from where the pause held.
    assert output.calls == [first, rest, first]
    assert words(player.progress(job)) == ["Hello", "there.", "General", "Kenobi."]


def test_a_paused_player_starts_nothing_new_and_interrupt_ends_the_pause(clock):
    output, player = clock
    player.pause()
    job = player.submit([chunk(0.2)])
    output.advance(0.2)
    time.sleep(0.05)
    assert job.state == "queued" and output.total == 0
    player.interrupt()
    assert job.state == "interrupted" and not player.paused
    after = player.submit([chunk(0.1)])
    played_to(output, 0.1)
    assert after.done.wait(5) and after.state == "done"


def test_policy_replace_drops_what_is_playing_and_queued(clock):
    output, player = clock
    playing = player.submit([chunk(1.0)])
    waiting = player.submit([chunk(1.0)])
    played_to(output, 0.3)
    new = player.submit([chunk(0.5)], policy="replace")
    assert playing.done.wait(5) and playing.state == "interrupted"
    assert waiting.done.is_set() and waiting.state == "interrupted"
    played_to(output, 0.8)
    assert new.done.wait(5) and new.state == "done"
    assert output.calls == [RATE, RATE // 2]


def test_policy_interrupt_plays_at_once_then_the_queue_goes_on(clock):
    output, player = clock
    playing = player.submit([chunk(1.0)])
    waiting = player.submit([chunk(0.4)])
    played_to(output, 0.3)
    urgent = player.submit([chunk(0.2)], policy="interrupt")
    assert playing.done.wait(5) and playing.state == "interrupted"
    played_to(output, 0.5)
    assert urgent.done.wait(5) and urgent.state == "done"
    assert waiting.state in ("queued", "playing")
    played_to(output, 0.9)
    assert waiting.done.wait(5) and waiting.state == "done"
    assert output.calls == [RATE, round(0.2 * RATE), round(0.4 * RATE)]


def test_policy_names_are_checked():
    assert check_policy("queue") == "queue"
    with pytest.raises(UsageError, match="'policy' must be one of queue, replace, interrupt"):
        check_policy("shout")
