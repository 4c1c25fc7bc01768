"""The synthesizer's busy/idle edges (what pauses the background optimizer) and the stored
optimization state."""

from __future__ import annotations

import gc
import json

from conftest import make_config

from macbot.core.activity import Activity
from macbot.core.optimization import STEPS, OptimizationState, check, save_state
from macbot.core.selection import EngineChain
from macbot.core.synthesizer import Synthesizer
from macbot.core.voices import bundled_voice


def test_activity_tells_only_the_edges():
    activity, seen = Activity(), []
    activity.subscribe(seen.append)
    activity.enter()
    activity.enter()
    activity.exit()
    assert seen == [True] and activity.busy
    activity.exit()
    activity.exit()  # one too many: stays idle, no second edge
    assert seen == [True, False] and not activity.busy


def test_a_broken_listener_does_not_stop_the_others():
    activity, seen = Activity(), []

    def broken(_busy):
        raise RuntimeError("observer bug")

    activity.subscribe(broken)
    unsubscribe = activity.subscribe(seen.append)
    activity.enter()
    activity.exit()
    unsubscribe()
    activity.enter()
    assert seen == [True, False]


def test_the_synthesizer_is_busy_exactly_while_it_synthesizes(shared_synth):
    """Busy from the request until its last sentence is done, also when the stream is read
    late, closed early or dropped unread."""
    seen: list[bool] = []
    unsubscribe = shared_synth.activity.subscribe(seen.append)
    text = "First sentence of three. Second one here. And the third one."
    try:
        shared_synth.cache.clear()
        list(shared_synth.stream(text))
        assert seen == [True, False]
        stream = shared_synth.stream(text + " Again.")
        next(stream)
        stream.close()  # a client that went away
        assert seen[-1] is False and not shared_synth.activity.busy
        dropped = shared_synth.stream(text + " Once more.")
        del dropped
        gc.collect()
        assert not shared_synth.activity.busy
        shared_synth.stream(text)  # a cache hit synthesizes nothing
        assert seen.count(True) == 3
    finally:
        unsubscribe()


def test_state_round_trips_through_json():
    state = OptimizationState(voice="v", state="running", step="gate", progress=0.5)
    state.step_named("split").state = "done"
    back = OptimizationState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert back == state
    assert [s.name for s in back.steps] == list(STEPS)
    assert OptimizationState.from_dict({"voice": "v", "future_field": 1}).voice == "v"


def test_check_says_why_a_run_is_due(tmp_path):
    config = make_config(models__tts__optimized_dir=str(tmp_path))
    chain = EngineChain(config, preoptimize=False)
    voice = bundled_voice()
    why, record = check(chain, voice)
    assert record is None and why.startswith("not optimized yet")
    artifact = tmp_path / "part.onnx"
    artifact.write_bytes(b"a model")
    done = OptimizationState(voice=voice.name, state="done", winner="piper")
    save_state(chain, voice, done, {"part.onnx": chain.sha256(artifact)})
    assert check(chain, voice)[0] is None
    artifact.write_bytes(b"a damaged model")
    assert "part.onnx changed since it was made" in check(chain, voice)[0]
    artifact.unlink()
    assert "part.onnx is missing" in check(chain, voice)[0]
    failed = OptimizationState(voice=voice.name, state="failed", reason="gate failed: boom")
    save_state(chain, voice, failed, {})
    assert check(chain, voice)[0] is None  # a recent failure by this version is not retried


def test_reload_engine_keeps_the_voice_loaded(shared_synth):
    synth = Synthesizer(shared_synth.config)
    try:
        decision = synth.reload_engine()
        assert synth.loaded and decision.winner == "piper"
        assert synth.decisions[synth.default_voice.name] is decision
    finally:
        synth.close()
