"""Captions: word timings → subtitle cues → WebVTT or SubRip text.

Cues are grouped as subtitles usually are (the BBC's and Netflix's guidelines agree on the
numbers): at most two lines of 42 characters, at most 7 seconds on screen, at least 0.7 s
when the next cue leaves room. A cue never spans a sentence end or a pause; a sentence too long
for one cue is split where a reader would split it: at the widest gap between two words (the
voice's own pauses, at commas), then at a clause mark, into parts of similar length. Lines
are broken the same way, as evenly as they go.

The words are the input's words as the engine timed them (:class:`~macbot.core.audio.
WordTiming`); :func:`written_words` gives them back the punctuation the input wrote around them
("world" → "world!"), which the timings leave out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:  # the command line imports this module: keep it free of numpy
    from .audio import WordTiming

CAPTION_FORMATS = ("vtt", "srt")
"""The caption formats: WebVTT (browsers' ``<track>``, most players) and SubRip."""

CAPTION_MIME = {"vtt": "text/vtt", "srt": "application/x-subrip"}
"""Content types of the caption formats."""

CAPTION_EXTENSIONS = {".vtt": "vtt", ".srt": "srt"}
"""Caption files by extension (``macbot say -o x.vtt``, ``--captions x.srt``)."""

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_CLAUSE_END = re.compile(r"[,;:–—][\"'”’)\]]*$")
_OPENING = "\"'“‘(¿¡«"
_CLOSING = ".,!?;:…\"'”’)»"


@dataclass(frozen=True)
class CaptionStyle:
    """How cues are grouped."""

    max_line_chars: int = 42
    """Characters per line (the common subtitle limit)."""
    max_lines: int = 2
    """Lines per cue."""
    max_seconds: float = 7.0
    """Longest time a cue stays on screen."""
    min_seconds: float = 0.7
    """Shortest; a cue's end is moved later up to this when the next cue starts later."""
    pause_seconds: float = 0.35
    """A silence between two words at least this long ends a cue."""


@dataclass(frozen=True)
class Cue:
    """One subtitle: its lines, shown from ``start`` to ``end`` (seconds)."""

    start: float
    end: float
    lines: tuple[str, ...]
    words: tuple[WordTiming, ...] = ()
    """The words it shows, with their own times."""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def check_format(value: object, param: str = "captions") -> str:
    """``value`` if it names a caption format, else a :class:`UsageError` naming them."""
    if value not in CAPTION_FORMATS:
        raise UsageError(
            f"'{param}' must be one of {', '.join(CAPTION_FORMATS)} (got {value!r})", param=param
        )
    return str(value)


def caption_format(path: Path) -> str | None:
    """The caption format a file's extension names, or ``None`` (not a caption file)."""
    return CAPTION_EXTENSIONS.get(Path(path).suffix.lower())


def written_words(text: str, words: Sequence[WordTiming]) -> list[WordTiming]:
    """``words`` with the punctuation that ``text`` writes right around each of them
    (``"world"`` of ``"world!"`` → ``"world!"``; markup such as ``**`` or ``](url)`` stays
    out). Words are looked up in order; one not found (the front end's own, such as a code
    block's note) stays as it is."""
    out: list[WordTiming] = []
    pos = 0
    for word in words:
        found = text.find(word.word, pos) if word.word else -1
        if found < 0:
            out.append(word)
            continue
        start, end = found, found + len(word.word)
        while start > pos and text[start - 1] in _OPENING:
            start -= 1
        while end < len(text) and text[end] in _CLOSING:
            end += 1
        pos = end
        out.append(replace(word, word=text[start:end]))
    return out


def cues(
    words: Sequence[WordTiming], text: str | None = None, style: CaptionStyle | None = None
) -> list[Cue]:
    """The cues of ``words`` (times from the start of the audio), grouped as the module says;
    ``text``: the input, to give the words their punctuation back (:func:`written_words`)."""
    style = style or CaptionStyle()
    timed = [w for w in (written_words(text, words) if text else words) if w.word.strip()]
    made: list[Cue] = []
    for sentence in _sentences(timed, style):
        for part in _fit(sentence, style):
            made.append(
                Cue(part[0].start, part[-1].end, _wrap(part, style.max_line_chars), tuple(part))
            )
    return _spaced(made, style)


def render(made: Sequence[Cue], fmt: str) -> str:
    """The cues as a WebVTT (``vtt``) or SubRip (``srt``) file."""
    fmt = check_format(fmt, "format")
    blocks = []
    for number, cue in enumerate(made, 1):
        if fmt == "vtt":
            times = f"{_stamp(cue.start, '.')} --> {_stamp(cue.end, '.')}"
            body = "\n".join(_vtt_escape(line) for line in cue.lines)
        else:
            times = f"{_stamp(cue.start, ',')} --> {_stamp(cue.end, ',')}"
            body = cue.text
        blocks.append(f"{number}\n{times}\n{body}\n")
    head = "WEBVTT\n\n" if fmt == "vtt" else ""
    return head + "\n".join(blocks)


def captions(
    words: Sequence[WordTiming],
    fmt: str,
    text: str | None = None,
    style: CaptionStyle | None = None,
) -> str:
    """``render(cues(words, text, style), fmt)``: the caption file of one utterance."""
    return render(cues(words, text, style), fmt)


# -- grouping ----------------------------------------------------------------------------------


def _sentences(words: list[WordTiming], style: CaptionStyle) -> list[list[WordTiming]]:
    """Runs of words that end at a sentence mark or a pause."""
    runs: list[list[WordTiming]] = []
    current: list[WordTiming] = []
    for word in words:
        if current and word.start - current[-1].end >= style.pause_seconds:
            runs.append(current)
            current = []
        current.append(word)
        if _SENTENCE_END.search(word.word):
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _fits(words: Sequence[WordTiming], style: CaptionStyle) -> bool:
    lines = _wrap(words, style.max_line_chars)
    return (
        len(lines) <= style.max_lines
        and all(len(line) <= style.max_line_chars for line in lines)
        and words[-1].end - words[0].start <= style.max_seconds
    )


def _fit(words: list[WordTiming], style: CaptionStyle) -> list[list[WordTiming]]:
    """``words`` as one cue when they fit, else split at the best place and each part again."""
    if len(words) == 1 or _fits(words, style):
        return [words]
    total = len(_join(words))
    best, best_score = 1, float("-inf")
    for k in range(1, len(words)):
        gap = max(0.0, words[k].start - words[k - 1].end)
        clause = 0.3 if _CLAUSE_END.search(words[k - 1].word) else 0.0
        balance = abs(len(_join(words[:k])) - len(_join(words[k:]))) / total
        score = gap + clause - 0.5 * balance
        if score > best_score:
            best, best_score = k, score
    return _fit(words[:best], style) + _fit(words[best:], style)


def _wrap(words: Sequence[WordTiming], width: int) -> tuple[str, ...]:
    """One line when it fits, else two as even as they go (a clause mark is a good place);
    more only when two cannot hold the words (then greedily)."""
    text = _join(words)
    if len(text) <= width:
        return (text,)
    options = []
    for k in range(1, len(words)):
        top, bottom = _join(words[:k]), _join(words[k:])
        if len(top) <= width and len(bottom) <= width:
            clause = 4 if _CLAUSE_END.search(words[k - 1].word) else 0
            options.append((max(len(top), len(bottom)) - clause, top, bottom))
    if options:
        _, top, bottom = min(options)
        return (top, bottom)
    lines: list[str] = []
    line = ""
    for word in words:
        candidate = f"{line} {word.word}" if line else word.word
        if line and len(candidate) > width:
            lines.append(line)
            candidate = word.word
        line = candidate
    lines.append(line)
    return tuple(lines)


def _spaced(made: list[Cue], style: CaptionStyle) -> list[Cue]:
    """Each cue shown at least ``min_seconds`` where the next one leaves room, never
    overlapping the next, and never of zero length."""
    out = []
    for i, cue in enumerate(made):
        limit = made[i + 1].start if i + 1 < len(made) else float("inf")
        end = max(cue.end, min(cue.start + style.min_seconds, limit))
        end = min(end, limit) if limit > cue.start else end
        out.append(replace(cue, end=max(end, cue.start + 0.001)))
    return out


def _join(words: Sequence[WordTiming]) -> str:
    return " ".join(w.word.strip() for w in words)


# -- text --------------------------------------------------------------------------------------


def _stamp(seconds: float, mark: str) -> str:
    """``HH:MM:SS.mmm`` (WebVTT) or ``HH:MM:SS,mmm`` (SubRip)."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{mark}{ms:03d}"


def _vtt_escape(line: str) -> str:
    """WebVTT cue text: ``&``, ``<`` and ``>`` as character references (``-->`` cannot then
    appear)."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
