"""macOS ``say``'s embedded commands: ``[[slnc 500]]`` (silence, ms), ``[[rate 200]]`` (words
per minute, or ``+20``/``-20``), ``[[volm 0.5]]`` (0 to 1, or ``+0.1``/``-0.1``) and
``[[rset 0]]`` (back to the start). Other commands of ``say`` (``emph``, ``pbas`` …) are
dropped unspoken. A bad value is a :class:`~macbot.errors.MarkupError` with its position.
"""

from __future__ import annotations

import re

from ...config import SPEED_RANGE
from ...errors import MarkupError
from .segments import Run

BASE_WPM = 175.0
"""Words per minute that ``[[rate]]`` takes as this voice's own pace (macOS ``say``'s
default rate)."""

MAX_SILENCE_MS = 10_000

_COMMAND = re.compile(r"\[\[\s*([A-Za-z]{4})\b\s*([^\]]*?)\s*\]\]")
_VALUE = re.compile(r"^([+-]?)(\d+(?:\.\d+)?|\.\d+)$")


def has_commands(text: str) -> bool:
    """Whether ``text`` holds any ``[[xxxx …]]`` command."""
    return "[[" in text and _COMMAND.search(text) is not None


def parse(text: str) -> list[Run]:
    """``text`` cut at its commands into ``text`` and ``pause`` runs, each text run with the
    rate and volume in force."""
    runs: list[Run] = []
    rate, volume = 1.0, 1.0
    start = 0
    for match in _COMMAND.finditer(text):
        if match.start() > start:
            runs.append(Run("text", text[start : match.start()], rate, volume))
        start = match.end()
        name, arg = match.group(1).lower(), match.group(2)
        if name == "slnc":
            ms = _number(text, match, arg, signed=False)
            if ms > MAX_SILENCE_MS:
                _fail(text, match, f"[[slnc]] is at most {MAX_SILENCE_MS} ms")
            runs.append(Run("pause", seconds=ms / 1000.0))
        elif name == "rate":
            value = _number(text, match, arg, signed=True)
            wpm = rate * BASE_WPM + value if arg.strip()[:1] in "+-" else value
            rate = min(max(wpm / BASE_WPM, SPEED_RANGE[0]), SPEED_RANGE[1])
        elif name == "volm":
            value = _number(text, match, arg, signed=True)
            level = volume + value if arg.strip()[:1] in "+-" else value
            volume = min(max(level, 0.0), 4.0)
        elif name == "rset":
            rate, volume = 1.0, 1.0
    if start < len(text):
        runs.append(Run("text", text[start:], rate, volume))
    return runs


def _number(text: str, match: re.Match[str], arg: str, signed: bool) -> float:
    found = _VALUE.match(arg.strip())
    if not found or (found.group(1) and not signed):
        _fail(text, match, f"[[{match.group(1)}]] needs a number (got {arg!r})")
    assert found is not None
    value = float(found.group(2))
    return -value if found.group(1) == "-" else value


def _fail(text: str, match: re.Match[str], message: str) -> None:
    before = text[: match.start()]
    line = before.count("\n") + 1
    column = match.start() - (before.rfind("\n") + 1) + 1
    raise MarkupError(
        message,
        line=line,
        column=column,
        offset=match.start(),
        hint="say's commands: [[slnc MS]], [[rate WPM]], [[volm 0-1]] (docs/TEXT.md)",
    )
