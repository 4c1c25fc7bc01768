"""The ``frontend`` benchmark's corpus and scoring (the whisper run itself is the benchmark)."""

from __future__ import annotations

import re

import pytest

from benchmarks.frontend import SYMBOL_WORDS, extra_symbol_words
from benchmarks.replies import REPLIES
from macbot.core.text import FrontEnd

FRONT = FrontEnd("en-us")
MARKUP = re.compile(r"[*#`|_~<>\[\]{}\\@&=+^%$€£°/]|https?|www\.")


def test_the_corpus_has_fifty_replies_with_markup_and_numbers():
    assert len(REPLIES) >= 50
    assert len({reply for reply, _ in REPLIES}) == len(REPLIES)
    assert sum(bool(re.search(r"\*\*|^#|^- |`|\|", r, re.M)) for r, _ in REPLIES) >= 10
    assert sum(bool(re.search(r"\d", r)) for r, _ in REPLIES) >= 30
    for _reply, spoken in REPLIES:
        assert not re.search(r"\d", spoken), f"the spoken form has digits: {spoken!r}"


@pytest.mark.parametrize(("reply", "spoken"), REPLIES, ids=[r[:30] for r, _ in REPLIES])
def test_no_markup_or_symbol_reaches_the_voice(reply, spoken):
    said = FRONT.process(reply).text
    assert not MARKUP.search(said), said
    assert said.isascii(), said  # no emoji, no degree sign


def test_symbol_words_are_counted_beyond_the_spoken_form():
    assert "asterisk" in SYMBOL_WORDS
    assert extra_symbol_words("example dot com slash docs", "example dot com slash docs") == 0
    assert extra_symbol_words("sure", "asterisk asterisk sure asterisk asterisk") == 4
    assert extra_symbol_words("a slash b", "a slash slash b") == 1
