"""The user lexicon: a YAML file of word → replacement text or phonemes."""

from __future__ import annotations

import pytest
from conftest import make_config

from macbot.core.synthesizer import Synthesizer
from macbot.core.text import FrontEnd, Lexicon, TextOptions
from macbot.errors import ConfigError

LEXICON = """
Nguyen: win
kubectl: cube control
New York City: the Big Apple
US: United States
Siobhan: {phonemes: "ʃɪvˈɔːn"}
MacBot: {say: Mac Bot}
"""


@pytest.fixture
def lexicon_file(tmp_path):
    path = tmp_path / "lexicon.yaml"
    path.write_text(LEXICON, encoding="utf-8")
    return path


def test_words_are_replaced_whole_and_ignoring_case(lexicon_file):
    front = FrontEnd("en-us", lexicon=Lexicon.load(lexicon_file))
    said = front.process("NGUYEN and nguyen run Kubectl, not kubectl2 or Nguyens.").text
    assert said == "win and win run cube control, not kubectl2 or Nguyens."


def test_longest_entry_wins_and_capitals_match_only_capitals(lexicon_file):
    front = FrontEnd("en-us", lexicon=Lexicon.load(lexicon_file))
    assert front.process("New York City is in the US, near us.").text == (
        "the Big Apple is in the United States, near us."
    )


def test_phonemes_are_spoken_as_phonemes(lexicon_file):
    front = FrontEnd("en-us", lexicon=Lexicon.load(lexicon_file))
    utterance = front.process("Call Siobhan at 5pm")
    assert utterance.text == "Call [[ ʃɪvˈɔːn ]] at five P M"
    span = next(s for s in utterance.segments[0].spans if s.phonemes)
    assert (span.spoken, span.source) == ("ʃɪvˈɔːn", "Siobhan")


def test_replacements_are_not_rewritten_by_the_rules(tmp_path):
    path = tmp_path / "lex.yaml"
    path.write_text("route66: route 66\n", encoding="utf-8")
    front = FrontEnd("en-us", lexicon=Lexicon.load(path))
    assert front.process("Take route66").text == "Take route 66"


def test_lexicon_can_be_switched_off_per_request(lexicon_file):
    front = FrontEnd("en-us", lexicon=Lexicon.load(lexicon_file))
    assert front.process("Nguyen", TextOptions(lexicon=False)).text == "Nguyen"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("- a\n- b\n", "mapping"),
        ("word: [1, 2]\n", "'word' must map to"),
        ("word: {phonemes: 5}\n", "phonemes must be a string"),
        ("word: {colour: red}\n", "'word' must map to"),
        ("a: b: c\n", "not valid YAML"),
    ],
)
def test_bad_lexicon_files(tmp_path, content, fragment):
    path = tmp_path / "lex.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Lexicon.load(path)
    assert "models.tts.text.lexicon" in str(caught.value) and fragment in str(caught.value)


def test_phonemes_the_voice_lacks_are_a_config_error(tmp_path):
    path = tmp_path / "lex.yaml"
    path.write_text('word: {phonemes: "ʃ"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="no phoneme 'ʃ'"):
        FrontEnd("en-us", phonemes=frozenset("abc"), lexicon=Lexicon.load(path))


def test_the_configured_lexicon_reaches_the_voice(tmp_path, lexicon_file):
    """End to end with the real voice: the config names the file, the synthesizer speaks the
    phonemes (the real voice's phoneme set accepts them)."""
    synth = Synthesizer(make_config(tmp_path, models__tts__text={"lexicon": str(lexicon_file)}))
    try:
        assert synth.normalize("Hi Siobhan").text == "Hi [[ ʃɪvˈɔːn ]]"
        sentences = synth.engine().sentences(synth.normalize("Hi Siobhan").segments[0].text)
        assert "ʃɪvˈɔːn" in sentences[0].phonemes
        assert synth.synthesize("Hi Siobhan").duration > 0.5
    finally:
        synth.close()
