"""Issue 20 item 4: a Kokoro reply's first run is its first clause, so the first audio comes
sooner (the decoder itself does not stream: docs/OPTIMIZATION.md)."""

from __future__ import annotations

from macbot.core.engines.kokoro import FIRST_CLAUSE_MIN_REST, first_clause


def test_the_first_clause_is_cut_when_enough_follows():
    rest = "ðə wˈɛðɚ tədˈeɪ ɪz sˈʌni wɪð ɐ lˈaɪt bɹˈiːz fɹʌm ðə wˈɛst."
    assert len(rest) >= FIRST_CLAUSE_MIN_REST
    assert first_clause(f"ɡʊd mˈɔːɹnɪŋ, {rest}") == "ɡʊd mˈɔːɹnɪŋ,"


def test_a_short_sentence_or_one_without_a_clause_mark_stays_whole():
    assert first_clause("ʃˈʊɹ, aɪ kæn hˈɛlp.") is None
    assert first_clause("jʊɹ mˈiːɾɪŋ stˈɑːɹts sˈuːn ænd ðə ɹˈuːm ɪz ɹˈɛdi fɔːɹ jˈuː nˈaʊ.") is None


def test_the_engine_plans_the_first_clause_as_its_own_run(kokoro_engine):
    text = "Good morning, the next train leaves at ten past four from platform two. See you."
    sentences = kokoro_engine.sentences(text)
    assert len(sentences) == 3
    head, rest, last = sentences
    assert head.phonemes.endswith(",") and head.joins_next and not head.silence_after
    assert rest.silence_after and last.last
    assert [s.opens_request for s in sentences] == [True, False, False]
    # nothing lost: the two runs hold the first sentence's phonemes
    whole = kokoro_engine.phonemize(
        "Good morning, the next train leaves at ten past four from platform two."
    )
    assert f"{head.phonemes} {rest.phonemes}" == whole
