"""Whatever a client sends, the front end answers with words or a MarkupError, never a crash
(it runs on every request)."""

from __future__ import annotations

import random

from macbot.core.text import FrontEnd, TextOptions
from macbot.errors import MarkupError

FRONT = FrontEnd("en-us", phonemes=frozenset("abc"))
PIECES = [
    "1",
    "12",
    "123",
    "1234",
    "0",
    "9" * 40,
    ".",
    ",",
    "-",
    "/",
    ":",
    "%",
    "$",
    "€",
    "£",
    "#",
    "*",
    "**",
    "_",
    "`",
    "```",
    "~",
    "^",
    "&",
    "@",
    "+",
    "=",
    "<",
    ">",
    "(",
    ")",
    "[",
    "]",
    "[[",
    "]]",
    "[[slnc 10]]",
    "[[rate 9]]",
    "<speak>",
    "</speak>",
    "<break/>",
    "<b>",
    "|",
    "\n",
    "\n\n",
    " ",
    "  ",
    "am",
    "pm",
    "Dr.",
    "St.",
    "No.",
    "ETA",
    "NW",
    "http://",
    "www.",
    ".com",
    "x",
    "km",
    "°F",
    "😀",
    "🎉",
    ":)",
    "<3",
    "e.g.",
    "v1",
    "2024",
    "March",
    "5th",
    "\t",
    "'",
    '"',
    "\\",
    "\u00a0",
    "\u200d",
    "\ufe0f",
    "a.m.",
    "(s)",
    "|---|",
    "> ",
    "- ",
    "1. ",
    "# ",
    "![a](b)",
    "[x](y)",
    "&amp;",
    "&#0;",
    "\x00",
]


def test_random_texts_never_crash():
    rng = random.Random(13)
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))
        for options in (TextOptions(), TextOptions(emoji="name", code_blocks="read")):
            try:
                utterance = FRONT.process(text, options)
            except MarkupError:
                continue
            assert isinstance(utterance.text, str)


def test_huge_numbers_are_read_digit_by_digit():
    said = FRONT.process("Code " + "9" * 40).text
    assert said == "Code " + " ".join(["nine"] * 40)
