"""The Piper engine on the real bundled voice through real onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from piper import PiperVoice, SynthesisConfig

from macbot.core.audio import concat
from macbot.core.engines.piper import PiperEngine, SynthesisOptions
from macbot.core.voices import bundled_voice, list_voices, resolve_voice
from macbot.errors import VoiceNotFoundError

DET = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.0)
TWO_SENTENCES = "The kettle is boiling. Please bring two cups to the table."


@pytest.fixture(scope="module")
def engine(shared_synth) -> PiperEngine:
    return shared_synth.engine()


def test_one_chunk_per_sentence_with_what_produced_it(engine):
    chunks = list(engine.synthesize(TWO_SENTENCES, DET))
    assert [c.index for c in chunks] == [0, 1]
    for chunk in chunks:
        assert chunk.samples.dtype == np.float32
        assert chunk.sample_rate == 22050
        assert chunk.engine == "piper" and chunk.voice == "en_US-joe-medium"
        assert 0.5 < chunk.duration < 5
        assert np.max(np.abs(chunk.samples)) == pytest.approx(1.0, abs=1e-6)  # normalized


def test_noise_zero_is_deterministic(engine):
    first, _ = concat(engine.synthesize(TWO_SENTENCES, DET))
    second, _ = concat(engine.synthesize(TWO_SENTENCES, DET))
    assert np.array_equal(first, second)


def test_default_noise_varies(engine):
    opts = SynthesisOptions(sentence_silence=0.0)
    first, _ = concat(engine.synthesize("A little noise makes speech natural.", opts))
    second, _ = concat(engine.synthesize("A little noise makes speech natural.", opts))
    assert len(first) != len(second) or not np.array_equal(first, second)


def test_same_audio_as_piper_tts_itself(engine):
    """Our session and post-processing give piper-tts's own samples, sentence by sentence."""
    voice = PiperVoice.load(bundled_voice().model_path)
    theirs = [
        c.audio_float_array
        for c in voice.synthesize(
            TWO_SENTENCES, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
        )
    ]
    ours = [c.samples for c in engine.synthesize(TWO_SENTENCES, DET)]
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) < 1e-5


def test_speed_changes_duration(engine):
    normal, _rate = concat(engine.synthesize(TWO_SENTENCES, DET))
    fast, _ = concat(engine.synthesize(TWO_SENTENCES, DET.with_overrides(speed=2.0)))
    slow, _ = concat(engine.synthesize(TWO_SENTENCES, DET.with_overrides(speed=0.5)))
    assert len(fast) / len(normal) == pytest.approx(0.5, abs=0.12)
    assert len(slow) / len(normal) == pytest.approx(2.0, abs=0.4)


def test_sentence_silence_and_volume(engine):
    plain = list(engine.synthesize(TWO_SENTENCES, DET))
    gapped = list(engine.synthesize(TWO_SENTENCES, DET.with_overrides(sentence_silence=0.5)))
    assert len(gapped[0].samples) - len(plain[0].samples) == int(22050 * 0.5)
    assert len(gapped[1].samples) == len(plain[1].samples)  # none after the last sentence
    assert not np.any(gapped[0].samples[-int(22050 * 0.5) :])
    quiet = list(engine.synthesize(TWO_SENTENCES, DET.with_overrides(volume=0.25)))
    assert np.max(np.abs(quiet[0].samples)) == pytest.approx(0.25, abs=1e-6)


def test_unspeakable_text_has_no_sentences(engine):
    assert engine.sentences("   ") == []


def test_voice_lookup(tmp_path):
    assert resolve_voice(None, tmp_path).source == "bundled"
    assert resolve_voice("en_US-joe-medium", tmp_path).source == "bundled"
    with pytest.raises(VoiceNotFoundError, match="unknown voice 'nobody'"):
        resolve_voice("nobody", tmp_path)
    with pytest.raises(VoiceNotFoundError, match="voice model not found"):
        resolve_voice(str(tmp_path / "x.onnx"), tmp_path)


def test_voices_folder_holds_pairs_and_folders(tmp_path):
    """A voice added to piper_voices/ (copied from the bundled one) is found and speaks."""
    src = bundled_voice()
    (tmp_path / "alt").mkdir()
    for target in (tmp_path / "flat.onnx", tmp_path / "alt" / "model.onnx"):
        target.symlink_to(src.model_path)
        target.with_name(target.name + ".json").symlink_to(src.config_path)
    (tmp_path / "orphan.onnx").write_bytes(b"no config beside it")
    names = [v.name for v in list_voices(tmp_path)]
    assert names == ["en_US-joe-medium", "alt", "flat"]
    alt = resolve_voice("alt", tmp_path)
    engine = PiperEngine.load(alt)
    assert engine.voice.name == "alt"
    assert sum(c.duration for c in engine.synthesize("Hello.", DET)) > 0.2
