"""Text that arrives in pieces (an assistant writing token by token) → pieces to speak.

:class:`ClauseSplitter` is fed text as it comes and gives back each piece as soon as the text
front end can read it on its own, so speech can start long before the reply is complete.
Markup is respected before anything is cut (issue 21, item 2): the front end then reads each
piece as it reads the whole reply for ``/speak``.

- An SSML document (the stream starts with ``<speak``) is held until ``</speak>`` arrives, and
  given back whole (the synthesizer still speaks it sentence by sentence).
- A fenced code block (```` ``` ```` or ``~~~``) is held until its closing fence: the front end
  then says its note (or reads or drops it), never its lines one by one.
- A table is held until its last row.
- A line break ends a piece only when the next line starts a new block (a blank line, a list
  item, a heading, a quote, a fence, a table); in a paragraph it is a space, as markdown reads
  it. Once the next block has begun, a block that does not end with ``.!?:;`` gets a ``.``,
  as the front end joins blocks.
- Inside a block, a piece ends at a sentence end (``.``, ``!``, ``?``, ``…`` followed by a
  space), at a clause end (``,``, ``;``, ``:``, ``—`` followed by a space) once the clause has
  :attr:`ClauseSplitter.min_words` words, or — for text that never pauses — after
  :attr:`ClauseSplitter.max_words` words; but never inside a code span, emphasis, a link or
  an HTML tag. A mark is judged only when the character after it has arrived: ``"3.14"`` is
  not an end, and neither is the dot of an abbreviation in the language's one table
  (:attr:`~macbot.core.text.en.rules.EnglishRules.abbreviations`) or of a single letter.

The scan is incremental (each character is read about once, however the text arrives), and
:attr:`ClauseSplitter.max_pending` bounds the text held back: more is a
:class:`~macbot.errors.TextTooLong`. :meth:`ClauseSplitter.flush` gives what is left.
"""

from __future__ import annotations

import re

from ..errors import TextTooLong
from .text.en.tables import DOTTED_WORDS

SENTENCE_MARKS = ".!?…"
CLAUSE_MARKS = ",;:—–"
BLOCK_END = ".!?:;…"
"""A block ending in one of these needs no ``.`` before the next block."""

_CLOSERS = "\"'”’)]»"
_BLOCK_START = re.compile(
    r"[ \t]{0,3}(?:[-+*][ \t]|\d{1,9}[.)][ \t]|#{1,6}(?:[ \t]|$)|>|`{3}|~{3}|\|)"
)
"""A line that starts a new markdown block (list item, heading, quote, fence, table row)."""
_MAYBE_BLOCK = re.compile(r"[ \t]{0,3}(?:[-+*]|\d{1,9}[.)]?|#{1,6}|`{1,2}|~{1,2})?")
"""The start of a line that may still become a block's start when more arrives."""
_MAYBE_FENCE = re.compile(r"[ \t]{0,3}(?:`{1,2}|~{1,2})")
_FENCE = re.compile(r"[ \t]{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t\n]|$)")
_SSML_START = ("<speak", "<?xml", "<!doctype")
_SSML_END = "</speak>"


class ClauseSplitter:
    """Incremental splitting of streamed-in text into pieces to speak (see the module)."""

    def __init__(
        self,
        min_words: int = 3,
        max_words: int = 30,
        *,
        markdown: bool = True,
        ssml: bool = True,
        abbreviations: frozenset[str] = DOTTED_WORDS,
        max_pending: int | None = None,
    ) -> None:
        if min_words < 1 or max_words < min_words:
            raise ValueError(f"need 1 <= min_words <= max_words (got {min_words}, {max_words})")
        self.min_words = min_words
        """A comma or other clause mark ends a clause only after this many words (shorter
        pieces sound choppy said on their own)."""
        self.max_words = max_words
        """A clause this long without any mark is cut before its next word."""
        self.markdown = markdown
        """Hold fenced code and tables, and join a paragraph's lines (else a line break
        ends a piece)."""
        self.ssml = ssml
        """Hold an SSML document whole."""
        self.abbreviations = abbreviations
        """Words (without their last dot, case as written) whose dot does not end a sentence: the
        language's table of the text front end (English by default)."""
        self.max_pending = max_pending
        """Most characters held back at once (``None``: no bound)."""
        self._buffer = ""
        self._started = False  # text has been given back (an SSML document can only start)
        self._reset_piece()

    def _reset_piece(self) -> None:
        self._scan = 0  # characters of the buffer already read
        self._words = 0
        self._in_word = False
        self._held: str | None = None  # "ssml", "fence" or "table" while one is held
        self._fence = ""
        self._decided = False  # whether the piece's start was classified
        self._ticks = 0  # inline markup open at the scan point: `code`, *emphasis*, [link], <tag>
        self._stars = 0
        self._brackets = 0
        self._link_url = False
        self._tag = False

    @property
    def pending(self) -> str:
        """Text received but not yet given back."""
        return self._buffer

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the pieces it completed, in order (stripped, never empty).
        Raises :class:`~macbot.errors.TextTooLong` when more than :attr:`max_pending`
        characters would be held back."""
        self._buffer += text
        pieces: list[str] = []
        while True:
            cut = self._cut()
            if cut is None:
                break
            end, dot = cut
            piece = self._buffer[:end].strip()
            self._buffer = self._buffer[end:]
            self._reset_piece()
            if piece:
                self._started = True
                pieces.append(
                    piece + "." if dot and not piece.endswith(tuple(BLOCK_END)) else piece
                )
        if self.max_pending is not None and len(self._buffer) > self.max_pending:
            size = len(self._buffer)
            self._buffer = ""
            self._reset_piece()
            raise TextTooLong(
                f"streamed text without a place to cut is too long ({size} characters "
                f"held, limit {self.max_pending})"
            )
        return pieces

    def flush(self) -> str:
        """Everything pending as one piece (``""`` when nothing is)."""
        rest, self._buffer = self._buffer.strip(), ""
        self._reset_piece()
        if rest:
            self._started = True
        return rest

    # -- the scan ------------------------------------------------------------------------------

    def _cut(self) -> tuple[int, bool] | None:
        """Where the next piece ends, and whether it needs a ``.``; ``None``: not yet."""
        text = self._buffer
        if not self._decided:
            kind = self._start_kind(text)
            if kind is None:
                return None
            self._decided = True
            self._held = kind if kind != "text" else None
            if kind == "fence":
                start = _first_line(text)
                match = _FENCE.match(text, start)
                assert match is not None  # _start_kind saw it
                self._fence = match.group(1)
                self._scan = match.end()  # the rest of the opening line cannot close it
        if self._held == "ssml":
            return self._held_ssml(text)
        if self._held == "fence":
            return self._held_fence(text)
        return self._scan_text(text)

    def _start_kind(self, text: str) -> str | None:
        """What the piece starting the buffer is: ``ssml``, ``fence``, ``table`` or ``text``."""
        head = text.lstrip()
        if not head:
            return None
        if self.ssml and not self._started:
            low = head[:9].lower()
            if any(low.startswith(s) for s in _SSML_START):
                return "ssml"
            if any(s.startswith(low) for s in _SSML_START):
                return None  # "<spe…": wait for more
        if not self.markdown:
            return "text"
        first, newline, _ = text[_first_line(text) :].partition("\n")
        if _FENCE.match(first):
            return "fence"
        if first.lstrip(" \t").startswith("|"):
            return "table"
        if not newline and _MAYBE_FENCE.fullmatch(first):
            return None  # "`" or "~~": may become a fence
        return "text"

    def _held_ssml(self, text: str) -> tuple[int, bool] | None:
        at = text.lower().find(_SSML_END, max(0, self._scan - len(_SSML_END)))
        if at < 0:
            self._scan = len(text)
            return None
        return at + len(_SSML_END), False

    def _held_fence(self, text: str) -> tuple[int, bool] | None:
        """Lines after the opening fence until one that closes it (and its line break)."""
        while True:
            newline = text.find("\n", self._scan)
            if newline < 0:
                return None
            line = text[self._scan : newline]
            self._scan = newline + 1
            stripped = line.strip(" \t")
            if (
                len(line) - len(line.lstrip(" ")) <= 3
                and stripped.startswith(self._fence)
                and not stripped.strip(self._fence[0])
            ):
                return self._scan, False

    def _scan_text(self, text: str) -> tuple[int, bool] | None:
        table = self._held == "table"
        i = self._scan
        while i < len(text):
            ch = text[i]
            if ch == "\n":
                kind = _next_line(text, i + 1)
                if kind is None:
                    break  # the next line's start has not arrived
                ends = kind in ("blank", "block") or not self.markdown
                if table:
                    ends = kind != "block" or not text[i + 1 :].lstrip(" \t").startswith("|")
                elif _HEADING.match(text, text.rfind("\n", 0, i) + 1):
                    ends = True  # a heading is one line
                if ends and text[:i].strip():
                    self._scan = i + 1
                    return i + 1, self.markdown and not table
                # a soft line break: a space between words
            if ch.isspace():
                if self._in_word:
                    self._words += 1
                self._in_word = False
                if not table and self._words >= self.max_words and self._may_cut(forced=True):
                    self._scan = i + 1
                    return i + 1, False
                i += 1
                continue
            if i + 1 >= len(text):
                break  # a mark counts only when a space follows it (and has arrived)
            self._in_word = True
            self._track(ch, text, i)
            if table or not text[i + 1].isspace() or not self._may_cut():
                i += 1
                continue
            if ch in SENTENCE_MARKS or (ch in _CLOSERS and _before_closers(text, i)):
                if not (ch == "." and self._abbreviation(text, i)):
                    self._scan = i + 1
                    return i + 1, False
            elif ch in CLAUSE_MARKS and self._words + 1 >= self.min_words:
                self._scan = i + 1
                return i + 1, False
            i += 1
        self._scan = i
        return None

    def _track(self, ch: str, text: str, i: int) -> None:
        """Follow the inline markup open at ``text[i]`` (only with markdown on)."""
        if not self.markdown:
            return
        if ch == "`":
            self._ticks += 1
        elif self._ticks % 2:
            return  # inside a code span nothing else is markup
        elif ch == "*" and not (
            i + 1 < len(text) and text[i + 1] in " \t" and _line_start(text, i)
        ):
            self._stars += 1
        elif ch == "[":
            self._brackets += 1
        elif ch == "]":
            self._brackets = max(0, self._brackets - 1)
        elif ch == "(" and i > 0 and text[i - 1] == "]":
            self._link_url = True
        elif ch == ")":
            self._link_url = False
        elif ch == "<":
            self._tag = True
        elif ch == ">":
            self._tag = False

    def _may_cut(self, forced: bool = False) -> bool:
        """No inline markup is open (a clause that runs on three times too long is cut even
        inside one: a stray backtick must not hold everything back)."""
        if forced and self._words >= 3 * self.max_words:
            return True
        return not (
            self._ticks % 2 or self._stars % 2 or self._brackets or self._link_url or self._tag
        )

    def _abbreviation(self, text: str, i: int) -> bool:
        """The ``.`` at ``text[i]`` ends a known abbreviation or a single letter (``J. Smith``)."""
        start = i
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        word = text[start:i].strip("\"'([*_")
        return word in self.abbreviations or (len(word) == 1 and word.isalpha())


def _next_line(text: str, start: int) -> str | None:
    """What the line at ``text[start:]`` is: ``blank``, ``block`` (starts a new block) or
    ``text`` (a paragraph goes on); ``None``: not known until more arrives."""
    newline = text.find("\n", start)
    line = text[start:] if newline < 0 else text[start:newline]
    if not line.strip(" \t"):
        return "blank" if newline >= 0 else None
    if _BLOCK_START.match(line):
        return "block"
    if newline < 0 and _MAYBE_BLOCK.fullmatch(line):
        return None
    return "text"


def _first_line(text: str) -> int:
    """Where the first line with something on it starts."""
    return text.rfind("\n", 0, len(text) - len(text.lstrip())) + 1


def _line_start(text: str, i: int) -> bool:
    """``text[i]`` is the first non-blank character of its line (a list marker's place)."""
    j = i - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    return j < 0 or text[j] == "\n"


def _before_closers(text: str, i: int) -> bool:
    """``text[i]`` closes a quote or bracket right after a sentence mark (``end."``)."""
    j = i
    while j >= 0 and text[j] in _CLOSERS:
        j -= 1
    return j >= 0 and text[j] in SENTENCE_MARKS
