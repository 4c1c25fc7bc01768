"""The SSML subset: ``<speak>``, ``<break>``, ``<prosody rate volume>``, ``<say-as>``,
``<sub alias>``, ``<phoneme ph>``, and the structure elements ``<p>``, ``<s>``,
``<emphasis>``, ``<lang>``, ``<mark>``.

:func:`parse` turns a document into :class:`~macbot.core.text.segments.Run` s. Anything it
cannot honour is a :class:`~macbot.errors.MarkupError` with the line and column (expat's
positions), so a tag is never spoken.
"""

from __future__ import annotations

import re
from xml.parsers import expat

from ...config import SPEED_RANGE
from ...errors import MarkupError
from .segments import Run

MAX_BREAK = 10.0
"""Longest ``<break>`` in seconds."""

RATE_RANGE = SPEED_RANGE
VOLUME_RANGE = (0.0, 4.0)

RATES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.3, "x-fast": 1.6}
VOLUMES = {
    "silent": 0.0,
    "x-soft": 0.3,
    "soft": 0.55,
    "medium": 1.0,
    "default": 1.0,
    "loud": 1.4,
    "x-loud": 1.8,
}
STRENGTHS = {
    "none": 0.0,
    "x-weak": 0.1,
    "weak": 0.2,
    "medium": 0.4,
    "strong": 0.7,
    "x-strong": 1.0,
}
INTERPRET_AS = (
    "characters",
    "spell-out",
    "verbatim",
    "cardinal",
    "number",
    "ordinal",
    "date",
    "time",
    "telephone",
)

_ALLOWED: dict[str, set[str]] = {
    "speak": {"version", "xmlns", "xml:lang", "xmlns:xsi", "xsi:schemaLocation"},
    "break": {"time", "strength"},
    "prosody": {"rate", "volume", "pitch", "range", "contour", "duration"},
    "say-as": {"interpret-as", "format", "detail"},
    "sub": {"alias"},
    "phoneme": {"ph", "alphabet"},
    "p": {"xml:lang"},
    "s": {"xml:lang"},
    "emphasis": {"level"},
    "lang": {"xml:lang"},
    "mark": {"name"},
}
_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s)\s*$")
_PERCENT = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")
_DECIBEL = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*dB\s*$")
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
_DOCUMENT = re.compile(
    r"\s*(?:<\?xml[^>]*\?>\s*)?(?:<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)?<speak[\s>/]", re.DOTALL
)


def is_ssml(text: str) -> bool:
    """Whether ``text`` is an SSML document: it starts with ``<speak`` (after an optional XML
    declaration or DOCTYPE, which :func:`parse` then refuses)."""
    return _DOCUMENT.match(text) is not None


def parse(text: str, phoneme_check=None) -> list[Run]:
    """The runs of an SSML document. ``phoneme_check(ph)`` returns the phonemes the voice
    lacks (each ``<phoneme>`` with any is an error)."""
    return _Parser(text, phoneme_check).run()


class _Parser:
    def __init__(self, text: str, phoneme_check) -> None:
        self.text = text
        self.phoneme_check = phoneme_check
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        self.runs: list[Run] = []
        self.stack: list[tuple[str, float, float]] = []  # element, rate, volume
        self.capture: dict[str, object] | None = None  # say-as, sub, phoneme: collect text
        self.capture_text: list[str] = []
        self.parser = expat.ParserCreate()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.data
        self.parser.StartDoctypeDeclHandler = self.doctype
        self.parser.EntityDeclHandler = self.doctype
        self.parser.ProcessingInstructionHandler = None

    # -- positions ---------------------------------------------------------------------------

    def fail(self, message: str, line: int | None = None, column: int | None = None):
        """A :class:`MarkupError` at the parser's position (or the one given; column 0-based)."""
        if line is None:
            line, column = self.parser.CurrentLineNumber, self.parser.CurrentColumnNumber
        column = column or 0
        offset = self.line_starts[min(line, len(self.line_starts)) - 1] + column
        raise MarkupError(
            f"SSML: {message}",
            line=line,
            column=column + 1,
            offset=offset,
            hint="see docs/TEXT.md for the SSML subset; escape & and < as &amp; and &lt;",
        )

    # -- the walk ----------------------------------------------------------------------------

    def run(self) -> list[Run]:
        try:
            self.parser.Parse(self.text, True)
        except expat.ExpatError as exc:
            self.fail(expat.ErrorString(exc.code), exc.lineno, exc.offset)
        return self.runs

    @property
    def rate(self) -> float:
        return self.stack[-1][1] if self.stack else 1.0

    @property
    def volume(self) -> float:
        return self.stack[-1][2] if self.stack else 1.0

    def doctype(self, *_args) -> None:
        self.fail("DOCTYPE and entity declarations are not allowed")

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if not self.stack and name != "speak":
            self.fail(f"the root element must be <speak>, not <{name}>")
        if self.capture is not None:
            self.fail(f"<{name}> inside <{self.capture['element']}> (only text is allowed there)")
        if name not in _ALLOWED:
            self.fail(f"unsupported element <{name}>")
        extra = sorted(set(attrs) - _ALLOWED[name])
        if extra:
            self.fail(f"unsupported attribute {extra[0]!r} on <{name}>")
        rate, volume = self.rate, self.volume
        if name == "break":
            self.runs.append(Run("pause", seconds=self.break_seconds(attrs)))
        elif name == "prosody":
            rate = self.clamp(rate * self.prosody_rate(attrs.get("rate")), RATE_RANGE, "rate")
            volume = self.clamp(
                volume * self.prosody_volume(attrs.get("volume")), VOLUME_RANGE, "volume"
            )
        elif name == "say-as":
            kind = attrs.get("interpret-as")
            if kind not in INTERPRET_AS:
                self.fail(f"interpret-as must be one of {', '.join(INTERPRET_AS)} (got {kind!r})")
            self.capture = {"element": name, "kind": kind, "format": attrs.get("format")}
        elif name == "sub":
            if not attrs.get("alias", "").strip():
                self.fail("<sub> needs a non-empty alias")
            self.capture = {"element": name, "alias": attrs["alias"]}
        elif name == "phoneme":
            alphabet = attrs.get("alphabet", "ipa")
            if alphabet != "ipa":
                self.fail(f"phoneme alphabet {alphabet!r} is not supported (use ipa)")
            ph = attrs.get("ph", "")
            if not ph.strip():
                self.fail("<phoneme> needs a non-empty ph")
            missing = self.phoneme_check(ph) if self.phoneme_check else []
            if missing:
                self.fail(f"the voice has no phoneme {', '.join(repr(c) for c in missing)}")
            self.capture = {"element": name, "ph": ph}
        self.stack.append((name, rate, volume))
        if self.capture is not None:
            self.capture_text = []

    def end(self, name: str) -> None:
        self.stack.pop()
        rate, volume = self.rate, self.volume
        if name in ("say-as", "sub", "phoneme") and self.capture is not None:
            written = "".join(self.capture_text)
            cap = self.capture
            self.capture = None
            if name == "say-as":
                self.runs.append(
                    Run(
                        "say-as",
                        written,
                        rate,
                        volume,
                        source=written,
                        interpret_as=str(cap["kind"]),
                        date_format=cap["format"] or None,  # type: ignore[arg-type]
                    )
                )
            elif name == "sub":
                self.runs.append(Run("sub", str(cap["alias"]), rate, volume, source=written))
            else:
                self.runs.append(Run("phonemes", str(cap["ph"]), rate, volume, source=written))
        elif name in ("p", "s"):
            self.runs.append(Run("sentence", rate=rate, volume=volume))

    def data(self, chunk: str) -> None:
        if self.capture is not None:
            self.capture_text.append(chunk)
            return
        if not self.stack:
            return
        if self.stack[-1][0] == "break" and chunk.strip():
            self.fail("<break> must be empty")
        last = self.runs[-1] if self.runs else None
        if last and last.kind == "plain" and (last.rate, last.volume) == (self.rate, self.volume):
            self.runs[-1] = Run("plain", last.value + chunk, last.rate, last.volume)
        else:
            self.runs.append(Run("plain", chunk, self.rate, self.volume))

    # -- attribute values --------------------------------------------------------------------

    def break_seconds(self, attrs: dict[str, str]) -> float:
        if "time" in attrs:
            match = _TIME.match(attrs["time"])
            if not match:
                self.fail(f"break time must be like 500ms or 1.5s (got {attrs['time']!r})")
            seconds = float(match.group(1)) / (1000.0 if match.group(2) == "ms" else 1.0)
            if seconds > MAX_BREAK:
                self.fail(f"break time is at most {MAX_BREAK:g}s (got {attrs['time']!r})")
            return seconds
        strength = attrs.get("strength", "medium")
        if strength not in STRENGTHS:
            self.fail(f"break strength must be one of {', '.join(STRENGTHS)} (got {strength!r})")
        return STRENGTHS[strength]

    def prosody_rate(self, value: str | None) -> float:
        if value is None:
            return 1.0
        if value in RATES:
            return RATES[value]
        percent = _PERCENT.match(value)
        if percent:
            number = float(percent.group(1))
            signed = value.strip()[0] in "+-"
            return 1.0 + number / 100.0 if signed else number / 100.0
        number = _NUMBER.match(value)
        if number:
            return float(number.group(1))
        self.fail(f"prosody rate must be x-slow…x-fast, a percentage or a number (got {value!r})")
        raise AssertionError  # unreachable: fail raises

    def prosody_volume(self, value: str | None) -> float:
        if value is None:
            return 1.0
        if value in VOLUMES:
            return VOLUMES[value]
        decibel = _DECIBEL.match(value)
        if decibel:
            return 10 ** (float(decibel.group(1)) / 20.0)
        percent = _PERCENT.match(value)
        if percent:
            number = float(percent.group(1))
            signed = value.strip()[0] in "+-"
            return 1.0 + number / 100.0 if signed else number / 100.0
        self.fail(f"prosody volume must be silent…x-loud, +NdB or a percentage (got {value!r})")
        raise AssertionError  # unreachable: fail raises

    def clamp(self, value: float, bounds: tuple[float, float], what: str) -> float:
        if value < 0:
            self.fail(f"prosody {what} cannot be negative")
        return min(max(value, bounds[0]), bounds[1])
