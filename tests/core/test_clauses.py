"""The clause splitter after markup (issue 21, item 2): markdown blocks and SSML are held until
they close, inline markup is never cut, one abbreviations table, an incremental scan with a
bound on what it holds."""

from __future__ import annotations

import re

import pytest

from macbot.core.clauses import ClauseSplitter
from macbot.core.text.en.rules import EnglishRules
from macbot.core.text.en.tables import ABBREVIATIONS
from macbot.core.text.frontend import FrontEnd
from macbot.errors import TextTooLong


def _stream(text: str, splitter: ClauseSplitter | None = None, step: int = 1) -> list[str]:
    """``text`` fed ``step`` characters at a time, then flushed."""
    splitter = splitter or ClauseSplitter()
    pieces = []
    for i in range(0, len(text), step):
        pieces += splitter.feed(text[i : i + step])
    rest = splitter.flush()
    return [*pieces, rest] if rest else pieces


def test_live_speech_cuts_a_fenced_code_block_only_after_it_closes():
    """issue 21: the fence was read line by line ("x equals one", "print x")."""
    reply = "Run this:\n\n```python\nx = 1\n\nprint(x)\n```\nIt prints one."
    assert _stream(reply) == ["Run this:", "```python\nx = 1\n\nprint(x)\n```", "It prints one."]
    spoken = [FrontEnd().process(p).text for p in _stream(reply)]
    assert spoken[1] == "There is a code block here."


def test_live_speech_holds_an_ssml_document_until_speak_closes():
    """issue 21: the first clause was "<speak>", a MarkupError and a 1011."""
    doc = '<speak>\nHello there. <break time="1s"/>\nGood night.</speak>'
    assert _stream(doc) == [doc]
    assert _stream("<?xml version='1.0'?>" + doc) == ["<?xml version='1.0'?>" + doc]
    # without SSML on, or text that only starts like it, nothing is held
    assert _stream("<spec> is a tag. Next one", ClauseSplitter(ssml=False)) == [
        "<spec> is a tag.",
        "Next one",
    ]


def test_blocks_end_at_the_next_block_and_get_the_front_ends_dot():
    reply = (
        "# Plan\nFirst we shop\n- milk and eggs\n- bread\n\n| a | b |\n|---|---|\n| 1 | 2 |\nDone"
    )
    assert _stream(reply) == [
        "# Plan.",
        "First we shop.",
        "- milk and eggs.",
        "- bread.",
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "Done",
    ]
    # a line break inside a paragraph is a space, as markdown reads it
    assert _stream("one two\nthree four") == ["one two\nthree four"]
    # without markdown, a line break ends a piece as before
    assert _stream("one two\nthree four", ClauseSplitter(markdown=False)) == [
        "one two",
        "three four",
    ]


def test_inline_markup_is_never_cut():
    assert _stream("Use `a, b, c, d` here, and then go on.") == [
        "Use `a, b, c, d` here,",
        "and then go on.",
    ]
    assert _stream("See **this, that and more** now. Go") == [
        "See **this, that and more** now.",
        "Go",
    ]
    assert _stream("Read [the guide, part one](http://x.y/a, b) today. Go") == [
        "Read [the guide, part one](http://x.y/a, b) today.",
        "Go",
    ]


def test_the_splitter_uses_the_front_ends_abbreviations_table():
    """issue 21: clauses.py and en/rules.py had two tables that disagreed."""
    assert ClauseSplitter().abbreviations is EnglishRules().abbreviations
    for abbreviation in ABBREVIATIONS:
        text = f"Ask {abbreviation} Smith about it. Then go"
        assert _stream(text)[0] == f"Ask {abbreviation} Smith about it.", abbreviation


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_pieces_do_not_depend_on_how_the_text_arrives(step):
    reply = (
        "Sure, I can help with that. Dr. Smith paid $3.50, which is fine!\n\n"
        "```sh\nls -la\n```\n- one, two, three, four\n- five\n\n<b>Bold</b> end."
    )
    assert _stream(reply, step=step) == _stream(reply, step=len(reply))


def test_the_text_held_back_is_bounded():
    """issue 21: 1 MB pending without a place to cut (no space) was rescanned on every
    message (14.4 CPU-s) and never bounded."""
    splitter = ClauseSplitter(max_pending=5000)
    for _ in range(4):
        assert splitter.feed("x" * 1000) == []
    with pytest.raises(TextTooLong):
        splitter.feed("x" * 1001)
    assert splitter.pending == ""
    # a long text that can be cut is never refused: only what waits counts
    words = " ".join(["word"] * 20_000)
    pieces = _stream(words, ClauseSplitter(max_pending=5000), step=997)
    assert re.sub(r"\s+", " ", " ".join(pieces)) == words


def test_the_scan_reads_each_character_once():
    """Fed one character at a time, a long clause is not rescanned from its start: the work
    counted is the characters read (not time, which the machine's load changes)."""
    splitter = ClauseSplitter(max_words=10**6)
    reads = 0
    for ch in "a" * 20_000:
        before = splitter._scan
        splitter.feed(ch)
        reads += splitter._scan - before + 1
    assert reads <= 2 * 20_000


def test_clause_splitter_waits_for_the_character_after_a_mark():
    splitter = ClauseSplitter(min_words=3)
    assert splitter.feed("Dr. Smith paid 3.") == []  # "3." may go on: "3.5"
    assert splitter.feed("5 dollars") == []
    assert splitter.feed(", which is fine. Next") == [
        "Dr. Smith paid 3.5 dollars,",
        "which is fine.",
    ]
    # a line break inside a paragraph is a space (issue 21: no cut before markdown is read)
    assert splitter.feed(" one\nline two") == []
    assert splitter.feed("\n- item") == ["Next one\nline two."]
    assert splitter.flush() == "- item" and splitter.flush() == ""
    assert ClauseSplitter(max_words=4).feed("a b c d e f g h i") == ["a b c d", "e f g h"]
