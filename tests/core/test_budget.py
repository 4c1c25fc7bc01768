"""``voice: auto`` (issue 20): the first family of models.tts.prefer whose figures on this host
meet the budget. The figures here are records written as the first load writes them, keyed
to this host, so the choice is deterministic (the measuring itself is tested on a real
engine)."""

from __future__ import annotations

import time

import pytest
from conftest import make_config

from macbot.core import budget
from macbot.core.hashing import cached_sha256, hash_index
from macbot.core.probes import host_facts
from macbot.core.synthesizer import Synthesizer
from macbot.core.voices import configured_voice


def _figures(family: str, first_ms: float, rtf: float) -> budget.Figures:
    voice = budget.FAMILY_VOICES[family]
    return budget.Figures(family, voice, family, first_ms, rtf, 3, time.time(), "test record")


def _record(config, family: str, figures: budget.Figures) -> None:
    tts = config.tts
    voice = configured_voice(tts, budget.FAMILY_VOICES[family])
    sha = cached_sha256(voice.model_path, hash_index(tts.optimized_dir))
    budget.record(tts.optimized_dir, budget.family_key(family, sha, host_facts()), figures)


def _auto(tmp_path, **tts):
    return make_config(
        models__tts__voice="auto",
        models__tts__optimized_dir=str(tmp_path / "optimized"),
        **{f"models__tts__{k}": v for k, v in tts.items()},
    )


@pytest.mark.parametrize(
    ("kokoro_ms", "kokoro_rtf", "chosen"),
    [(400.0, 0.3, "jm_kumo"), (2500.0, 0.3, "en_US-joe-medium"), (400.0, 1.2, "en_US-joe-medium")],
)
def test_auto_follows_the_recorded_measurement(tmp_path, kokoro_ms, kokoro_rtf, chosen):
    config = _auto(tmp_path, latency_budget_ms=1000)
    _record(config, "kokoro", _figures("kokoro", kokoro_ms, kokoro_rtf))
    _record(config, "piper", _figures("piper", 150.0, 0.1))
    synth = Synthesizer(config)
    try:
        assert synth.default_voice.name == chosen
        assert synth.auto is not None and synth.auto.voice == chosen
        assert next(iter(synth.auto.figures)) == "kokoro"
        assert synth.auto.reason.startswith("kokoro is the first") is (chosen == "jm_kumo")
        assert not synth.loaded_voices()  # nothing was measured: the records decided
        info = synth.auto.to_dict()  # /info's "auto"
        assert info["voice"] == chosen and info["figures"]["kokoro"]["first_audio_ms"] == kokoro_ms
    finally:
        synth.close()


def test_prefer_orders_the_families(tmp_path):
    config = _auto(tmp_path, prefer=["piper", "kokoro"], latency_budget_ms=1000)
    _record(config, "kokoro", _figures("kokoro", 400.0, 0.3))
    _record(config, "piper", _figures("piper", 150.0, 0.1))
    synth = Synthesizer(config)
    try:
        assert synth.default_voice.name == "en_US-joe-medium"
        assert synth.auto.figures.keys() == {"piper"}  # the first one met it: no more looked at
    finally:
        synth.close()


def test_none_within_budget_takes_the_earliest_first_audio():
    figures = {"kokoro": _figures("kokoro", 3000, 2.0), "piper": _figures("piper", 1500, 0.4)}
    choice = budget.choose(["kokoro", "piper"], 1000, figures.get)
    assert choice.family == "piper" and "no family meets the budget" in choice.reason


def test_measure_times_a_real_engine(shared_synth):
    figures = budget.measure(shared_synth.engine(), "Hello there.", runs=1)
    assert figures.family == "piper" and figures.voice == "en_US-joe-medium"
    assert figures.first_audio_ms > 0 and figures.rtf > 0 and figures.runs == 1


def test_a_family_far_over_the_budget_is_measured_by_a_probe(shared_synth):
    """A one-word sentence over the budget settles it (its first audio is a lower bound of a
    typical sentence's): no typical-sentence runs on a machine that cannot afford them."""
    figures = budget.measure(shared_synth.engine(), give_up_ms=0.001)
    assert figures.runs == 1 and "probe" in figures.measured_by
    assert figures.first_audio_ms > 0.001 and not figures.meets(0.001)
