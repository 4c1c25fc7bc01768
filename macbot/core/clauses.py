"""Text that arrives in pieces (an assistant writing token by token) → clauses to speak.

:class:`ClauseSplitter` is fed text as it comes and gives back each clause as soon as it is
complete, so speech can start long before the reply is: a sentence end (``.``, ``!``, ``?``,
``…`` followed by a space), a clause end (``,``, ``;``, ``:``, ``—`` followed by a space) once
the clause has :attr:`ClauseSplitter.min_words` words, a line break, or — for text that never
pauses — :attr:`ClauseSplitter.max_words` words. A mark is judged only when the character
after it has arrived: ``"3.14"`` and ``"e.g."`` in the middle of a sentence are not ends, and
neither is a known abbreviation (``"Dr. Smith"``). :meth:`ClauseSplitter.flush` gives what is
left.
"""

from __future__ import annotations

import re

SENTENCE_MARKS = ".!?…"
CLAUSE_MARKS = ",;:—–"
ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "approx",
        "no",
        "vol",
        "fig",
        "inc",
        "ltd",
        "co",
        "mt",
        "ft",
    ]
)
"""Words whose ``.`` does not end a sentence (lower case, without the final dot)."""

_CLOSERS = "\"'”’)]»"
_WORD = re.compile(r"\S+")


class ClauseSplitter:
    """Incremental clause splitting (see the module)."""

    def __init__(self, min_words: int = 3, max_words: int = 30) -> None:
        if min_words < 1 or max_words < min_words:
            raise ValueError(f"need 1 <= min_words <= max_words (got {min_words}, {max_words})")
        self.min_words = min_words
        """A comma or other clause mark ends a clause only after this many words (shorter
        pieces sound choppy said on their own)."""
        self.max_words = max_words
        """A clause this long without any mark is cut before its next word."""
        self._buffer = ""

    @property
    def pending(self) -> str:
        """Text received but not yet given back as a clause."""
        return self._buffer

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the clauses it completed, in order (stripped, never empty)."""
        self._buffer += text
        clauses: list[str] = []
        while True:
            cut = self._cut()
            if cut is None:
                return clauses
            clause, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if clause:
                clauses.append(clause)

    def flush(self) -> str:
        """Everything pending as one clause (``""`` when nothing is)."""
        rest, self._buffer = self._buffer.strip(), ""
        return rest

    def _cut(self) -> int | None:
        text = self._buffer
        words = 0
        in_word = False
        for i, ch in enumerate(text):
            if ch.isspace():
                if in_word:
                    words += 1
                in_word = False
                if ch == "\n":
                    return i + 1
                if words >= self.max_words:
                    return i + 1
                continue
            in_word = True
            if i + 1 >= len(text) or not text[i + 1].isspace():
                continue  # a mark counts only when a space follows it (and has arrived)
            if ch in SENTENCE_MARKS or (ch in _CLOSERS and _before_closers(text, i)):
                if ch == "." and _abbreviation(text, i):
                    continue
                return i + 1
            if ch in CLAUSE_MARKS and words + 1 >= self.min_words:
                return i + 1
        return None


def _before_closers(text: str, i: int) -> bool:
    """``text[i]`` closes a quote or bracket right after a sentence mark (``end."``)."""
    j = i
    while j >= 0 and text[j] in _CLOSERS:
        j -= 1
    return j >= 0 and text[j] in SENTENCE_MARKS


def _abbreviation(text: str, i: int) -> bool:
    """The ``.`` at ``text[i]`` ends a known abbreviation or a single letter (``J. Smith``)."""
    start = i
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:i].lower().strip("\"'([")
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())
