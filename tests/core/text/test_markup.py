"""Markup out: markdown, HTML tags, emoji and emoticons (the bugs of issue 13 heard through
whisper: "asterisk asterisk sure", "hash hash summary", "grinning face party popper" …)."""

from __future__ import annotations

import pytest

from macbot.core.text import FrontEnd, TextOptions

FRONT = FrontEnd("en-us")


def said(text: str, **options) -> str:
    return FRONT.process(text, TextOptions(**options)).text


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        # the examples
        ("**Sure!**", "Sure!"),
        ("## Summary\nAll done.", "Summary. All done."),
        ("😀🎉 Done", "Done"),
        (
            "1. Preheat the oven.\n2. Bake for 25-30 minutes",
            "Preheat the oven. Bake for twenty five to thirty minutes",
        ),
        # emphasis, headings, lists, quotes
        ("*Really* __great__ ~~bad~~ work", "Really great bad work"),
        ("# Title\n\nBody text", "Title. Body text"),
        ("- Milk\n- Eggs\n- Bread", "Milk. Eggs. Bread"),
        ("* one thing\n+ another", "one thing. another"),
        ("> Quoted words.", "Quoted words."),
        ("Line one\nline two", "Line one line two"),
        # links, images, code spans, tables
        ("See [the docs](https://example.com).", "See the docs."),
        ("![A red apple](apple.png) Tasty.", "A red apple Tasty."),
        ("Run `pip install x` now", "Run pip install x now"),
        ("| Day | High |\n|---|---|\n| Mon | 68 |", "Day, High. Mon, sixty eight"),
        # HTML
        ("<b>Reminder:</b> call Ann<br>today", "Reminder: call Ann today"),
        ("<div>Block</div>\n\nAfter &amp; more", "Block. After and more"),
        # emoticons
        ("Thanks! :)", "Thanks!"),
        ("See you <3", "See you"),
        ("At 10:30 :-D", "At ten thirty"),
        # the lead's bug: indented prose is not a code block
        ("    Indented prose stays.", "Indented prose stays."),
    ],
)
def test_markup_is_not_spoken(written, spoken):
    assert said(written) == spoken


def test_code_blocks_note_read_or_drop():
    text = "Example:\n\n```python\nprint('hi')\n```\n\nDone."
    assert said(text) == "Example: There is a code block here. Done."
    assert FRONT.process(text).notes == ("skipped a code block",)
    assert said(text, code_blocks="drop") == "Example: Done."
    assert said(text, code_blocks="read") == "Example: print 'hi'. Done."


def test_emoji_named_or_kept():
    assert said("Nice 👍🏽 work", emoji="name") == "Nice thumbs up, work"
    assert said("Nice :) work", emoji="name") == "Nice smiley face, work"
    assert "👍" in said("Nice 👍 work", emoji="keep")


def test_markdown_and_html_can_be_switched_off():
    assert said("**Sure**", markdown=False) == "Sure"  # stray * are still not read
    assert said("**Sure**", markdown=False, symbols=False) == "**Sure**"
    assert said("<b>x</b> y", markdown=False, html=False, symbols=False) == "<b>x</b> y"
    assert said("<b>x</b> y", markdown=False) == "x y"


def test_front_end_off_speaks_the_text_as_written():
    assert said("**Sure!** It's $5", enabled=False) == "**Sure!** It's $5"


def test_typed_double_brackets_are_never_phonemes():
    """piper reads ``[[ … ]]`` as raw phonemes: typed text must not reach it that way."""
    utterance = FRONT.process("Look [[at]] this", TextOptions(say_commands=False))
    assert "[[" not in utterance.segments[0].text
