"""Found 8 (issue 21): loading a voice stalled everyone. ``Synthesizer.engine()`` held the
synthesizer's lock while the engine chain loaded and smoke-tested a voice, and every request
takes that lock, so a cold voice stalled every request of every other voice.

Concurrency is shown by order, not by time: the cold voice's load is held inside the loader
(an event) while the other voice's request runs to its end."""

from __future__ import annotations

import shutil
import threading

import pytest
from conftest import make_config

from macbot.core.synthesizer import Synthesizer
from macbot.core.voices import bundled_voice
from macbot.errors import MacbotError

COLD = "en_US-cold-medium"
HANG_GUARD_S = 120
"""Only so that a regression fails instead of hanging; nothing is timed."""


class HeldLoads(Synthesizer):
    """A real synthesizer whose loads of ``COLD`` wait inside the loader until released."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.loads: list[str] = []
        self.fail_next = False

    def load_engine(self, voice):
        self.loads.append(voice.name)
        if voice.name == COLD:
            self.entered.set()
            assert self.release.wait(HANG_GUARD_S), "the test never released the load"
            if self.fail_next:
                self.fail_next = False
                raise MacbotError(f"{voice.name} failed to load")
        return super().load_engine(voice)


@pytest.fixture
def synth(tmp_path):
    """The bundled voice, and a real copy of it under another name in voices_dir."""
    voice = bundled_voice()
    voices = tmp_path / "voices"
    voices.mkdir()
    shutil.copy(voice.model_path, voices / f"{COLD}.onnx")
    shutil.copy(voice.config_path, voices / f"{COLD}.onnx.json")
    synth = HeldLoads(make_config(tmp_path))
    synth.engine()  # the default voice is warm
    yield synth
    synth.release.set()
    synth.close()


def in_thread(target) -> tuple[threading.Thread, list]:
    result: list = []

    def run() -> None:
        try:
            result.append(target())
        except BaseException as exc:  # handed to the test's assertions
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_loading_a_voice_stalls_no_request_of_another_voice(synth):
    cold, cold_result = in_thread(lambda: synth.engine(COLD))
    assert synth.entered.wait(HANG_GUARD_S)
    same, same_result = in_thread(lambda: synth.engine(COLD))  # waits for that one load

    # while the cold voice is held inside its loader, the warm voice speaks to the end
    warm, warm_result = in_thread(lambda: synth.synthesize("Still speaking.").samples.size)
    warm.join(HANG_GUARD_S)
    assert not warm.is_alive(), "the warm voice waited for the cold one's load"
    assert warm_result[0] > 0
    assert not synth.release.is_set() and cold.is_alive() and same.is_alive()

    synth.release.set()
    cold.join(HANG_GUARD_S)
    same.join(HANG_GUARD_S)
    assert cold_result[0] is same_result[0]  # one engine
    assert synth.loads.count(COLD) == 1  # one load per voice
    assert synth.synthesize("Now me.", voice=COLD).samples.size > 0


def test_a_failed_load_reaches_its_caller_and_the_next_request_retries(synth):
    synth.fail_next = True
    first, first_result = in_thread(lambda: synth.engine(COLD))
    assert synth.entered.wait(HANG_GUARD_S)
    synth.release.set()
    first.join(HANG_GUARD_S)
    assert isinstance(first_result[0], MacbotError)
    assert synth.engine(COLD) is synth.engine(COLD)  # loaded on the next request
    assert synth.loads.count(COLD) == 2
