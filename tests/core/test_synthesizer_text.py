"""The synthesizer speaks the front end's segments with the real voice: pauses, rate and
volume per segment, phonemes; the cache key covers the spoken form and the options."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from macbot.core.synthesizer import Synthesizer
from macbot.core.text import TextOptions
from macbot.errors import EmptyTextError, MarkupError


@pytest.fixture(scope="module")
def synth():
    synth = Synthesizer(make_config())
    yield synth
    synth.close()


def test_cache_key_is_the_spoken_form_and_the_options(synth):
    """Issue 13: two texts that say the same words share one cache entry; the same text
    with other front-end options does not."""
    first = synth.synthesize("**Sure!** It costs $5.")
    assert not first.cached
    same_words = synth.synthesize("Sure! It costs five dollars.")
    assert same_words.cached
    np.testing.assert_array_equal(same_words.samples, first.samples)
    other_options = synth.synthesize(
        "**Sure!** It costs $5.", text_options=TextOptions(emoji="name")
    )
    assert not other_options.cached
    as_written = synth.synthesize("**Sure!** It costs $5.", text_options=TextOptions(enabled=False))
    assert not as_written.cached


def test_a_pause_replaces_the_sentence_gap(synth):
    plain = synth.synthesize("One. Two.")
    paused = synth.synthesize("One. [[slnc 1000]] Two.")
    gap = synth.default_options().sentence_silence
    assert paused.duration - plain.duration == pytest.approx(1.0 - gap, abs=0.01)
    one = synth.synthesize("One.")
    middle = paused.samples[len(one.samples) : len(one.samples) + paused.sample_rate]
    assert np.all(middle == 0.0)


def test_ssml_break_is_silence_of_its_length(synth):
    a = synth.synthesize("<speak>One <break time='700ms'/> two</speak>")
    b = synth.synthesize("<speak>One two</speak>")
    assert a.duration > b.duration + 0.5


def test_prosody_rate_and_say_rate_change_the_pace(synth):
    normal = synth.synthesize("This sentence is spoken at an ordinary pace.")
    slow = synth.synthesize(
        '<speak><prosody rate="x-slow">This sentence is spoken at an ordinary pace.'
        "</prosody></speak>"
    )
    fast = synth.synthesize("[[rate 350]]This sentence is spoken at an ordinary pace.")
    # rate 0.5 and 2 scale the phoneme lengths; the model's fixed edges keep the ratios
    # a little inside 2 and 0.5
    assert 1.6 < slow.duration / normal.duration < 2.1
    assert 0.45 < fast.duration / normal.duration < 0.65


def test_volume_scales_the_segment(synth):
    loud = synth.synthesize("Volume check.")
    quiet = synth.synthesize("[[volm 0.25]]Volume check.")
    assert np.max(np.abs(loud.samples)) == pytest.approx(1.0, abs=1e-3)
    assert np.max(np.abs(quiet.samples)) == pytest.approx(0.25, abs=1e-3)


def test_phonemes_reach_the_model(synth):
    utterance = synth.normalize('<speak><phoneme ph="təmˈɑːtoʊ">tomato</phoneme></speak>')
    sentence = synth.engine().sentences(utterance.segments[0].text)[0]
    assert sentence.phonemes.replace(" ", "").startswith("təmˈɑːtoʊ")
    assert (
        synth.synthesize('<speak><phoneme ph="təmˈɑːtoʊ">tomato</phoneme></speak>').duration > 0.3
    )


def test_markup_alone_is_nothing_to_speak(synth):
    with pytest.raises(EmptyTextError):
        synth.synthesize("😀🎉 **")


def test_malformed_ssml_fails_before_any_work(synth):
    with pytest.raises(MarkupError):
        synth.stream("<speak>oops</speek>")
