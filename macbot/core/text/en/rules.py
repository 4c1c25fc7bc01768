"""The semiotic classes of English text normalization: written forms → the words a person says.

One scanner (:data:`_SCANNER`, built from the tables of :mod:`.tables`) finds, left to right,
the first class that matches at each place: URLs, emails, domains, paths and file names, phone
numbers, dates, times, money, versions, fractions, numbers (with ranges, percentages and
units), abbreviations, initialisms and symbols. Each match becomes a
:class:`~macbot.core.text.segments.Span` that keeps the written form it came from; text between
matches passes through. A class switched off in the
:class:`~macbot.core.text.options.TextOptions` leaves its match as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..options import TextOptions
from ..segments import Span
from . import numbers as nw
from .tables import (
    ABBREVIATIONS,
    ATTACHED_ONLY,
    COMPASS,
    CURRENCIES,
    CURRENCY_SYMBOLS,
    DOTTED_WORDS,
    FILE_EXTENSIONS,
    SCALES,
    SENTENCE_FINAL,
    SPOKEN_WORDS,
    TLDS,
    UNITS,
    WORD_ACRONYMS,
)

# -- the scanner -----------------------------------------------------------------------------

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_UNIT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_CODES = "|".join(CURRENCIES)
_ABBR = "|".join(re.escape(a[:-1]) for a in ABBREVIATIONS if "." not in a[:-1])
_SCALE = r"thousand|million|billion|trillion|bn|mn|[kKmMbB]"

_SCANNER = re.compile(
    rf"""
    (?P<url>\b(?:https?://|www\.)[^\s<>"'()\[\]]*[^\s<>"'()\[\].,;:!?])
  | (?P<email>\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b)
  | (?P<fixed>C\+\+|[CF]\#|\.NET\b|TL;DR|24/7|50/50|\bw/o\b|\bw/(?=\s)|\b[Nn]/[Aa]\b)
  | (?P<path>(?<![\w/.<])(?:~|\.{{1,2}})?/[A-Za-z_.](?:[\w.@+-]*[\w@+-])?(?:/[\w.@+-]*[\w@+-])*/?
        |\b[A-Za-z]:\\[\w.\\-]+)
  | (?P<domain>\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:{TLDS})\b(?:/[\w./?=&%-]*[\w/])?)
  | (?P<file>\b[\w-]+(?:\.[\w-]+)*\.(?:{FILE_EXTENSIONS})\b)
  | (?P<phone>(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{{3}}\)\s?|\d{{3}}[\s.-])\d{{3}}[\s.-]\d{{4}}(?!\d)
        |(?<![\w+])\+\d{{1,3}}(?:[\s.-]\d{{1,4}}){{2,5}}(?!\d)
        |(?<![\w-])\d{{3}}-\d{{4}}(?![\d-]))
  | (?P<date>(?<![\w./-])(?:\d{{4}}(?P<date_sep>[-/.])\d{{1,2}}(?P=date_sep)\d{{1,2}}
        |\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}|\d{{1,2}}-\d{{1,2}}-\d{{4}})(?![\w/-]))
  | (?P<mdate>\b(?P<mdate_m>{_MONTH})\.?\s+(?P<mdate_d>\d{{1,2}})(?:st|nd|rd|th)?\b
        (?:,?\s+(?P<mdate_y>\d{{4}})\b)?)
  | (?P<ddate>\b(?P<ddate_d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<ddate_m>{_MONTH})\b\.?
        (?:,?\s+(?P<ddate_y>\d{{4}})\b)?)
  | (?P<time>(?<![\d:.])(?P<time_h>[01]?\d|2[0-3]):(?P<time_m>[0-5]\d)(?::(?P<time_s>[0-5]\d))?
        (?:\s?(?P<time_ampm>[AaPp])\.?[Mm]\b\.?(?=\s|$|[,;!?)])|(?=[^\d:]|$)))
  | (?P<ampm>\b(?P<ampm_h>1[0-2]|0?[1-9])\s?(?P<ampm_x>[AaPp])\.?[Mm]\b\.?(?=\s|$|[,;!?)]))
  | (?P<money>(?P<money_sym>[$€£¥₹])\s?(?P<money_a>{_NUM})
        (?:\s?(?P<money_sc>{_SCALE})\b)?
        (?:\s?[-–]\s?[$€£¥₹]?(?P<money_b>{_NUM})(?:\s?(?P<money_sc2>{_SCALE})\b)?)?)
  | (?P<code>\b(?P<code_a>{_NUM})\s?(?:(?P<code_sc>{_SCALE})\s)?(?P<code_c>{_CODES})\b
        |\b(?P<code_c2>{_CODES})\s?(?P<code_a2>{_NUM})(?:\s?(?P<code_sc2>{_SCALE})\b)?)
  | (?P<version>\bv(?P<version_v>\d+(?:\.\d+)*)\b|\b\d+\.\d+\.\d+(?:[-+.][\w.]+)?\b)
  | (?P<frac>(?<![\w/.])(?:(?P<frac_w>\d+)\s)?(?P<frac_n>\d+)/(?P<frac_d>\d+)(?![\w/]))
  | (?P<num>(?<![\w.])(?P<num_neg>[-−](?=[\d.]))?(?P<num_a>{_NUM})(?P<num_oa>st|nd|rd|th)?
        (?:\s?[-–—]\s?(?P<num_b>{_NUM})(?P<num_ob>st|nd|rd|th)?)?
        (?:(?P<num_pct>\s?%)|(?P<num_sp>\s?)(?P<num_u>{_UNIT})(?![\w/]))?)
  | (?P<abbr>(?<![\w.])(?:e\.g\.|i\.e\.|a\.k\.a\.|U\.S\.|U\.K\.|St\.|No\.
        |(?:{_ABBR})\.))
  | (?P<plural>\b[A-Za-z]+\((?:e?s)\))
  | (?P<caps>\b[A-Z]{{2,5}}(?:s|'s)?\b)
  | (?P<sym>[&@\#+=~^*_|\\<>→←×÷±≈≠≤≥°§•·…—–/()])
    """,
    re.VERBOSE,
)

_STREET = re.compile(
    r"\s+(?:[A-Z][a-z]+\s+)+(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane"
    r"|Way|Ct|Court|Pl|Place)\b"
)
"""After a house number: "123 Main St." is read "one twenty three Main Street"."""

_SHOUTING = re.compile(r"\b[A-Z]{2,}\b(?:\W+\b[A-Z]{2,}\b){2,}")


def _plural_word(words: str) -> str:
    """ "nineteen ninety" → "nineteen nineties" (decades: the 1990s, the 80s)."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}".strip()


def _pair(two: str) -> str:
    """The last two digits of a house number: "23" → "twenty three", "05" → "oh five"."""
    value = int(two)
    if value == 0:
        return "hundred"
    return f"oh {nw.cardinal(value)}" if two.startswith("0") else nw.cardinal(value)


def spell(letters: str) -> str:
    """``"ETA"`` → ``"E T eigh"``: one word per letter, which the voice names one by one. The
    letter A is written "eigh": alone, "A" is read as the article ("uh"). (Measured with
    whisper on ten initialisms: letters apart, with this A, were heard right 10 times; "E.T.A"
    9, "E-T-A" 9, "E T A" 8.)"""
    return nw.letters(letters)


class EnglishRules:
    """The English rules. ``region`` (``us``, ``gb`` …) orders numeric dates when the options
    say ``auto``: month first in the US, day first elsewhere."""

    language = "en"
    code_block_note = "There is a code block here."
    abbreviations = DOTTED_WORDS
    """Words whose dot does not end a sentence (:class:`~macbot.core.clauses.ClauseSplitter`)."""

    def __init__(self, region: str = "us") -> None:
        self.region = region
        self._handlers: dict[str, Callable[[re.Match[str], str, TextOptions], str | None]] = {
            "url": self._url,
            "email": self._email,
            "fixed": self._fixed,
            "path": self._path,
            "domain": self._domain,
            "file": self._file,
            "phone": self._phone,
            "date": self._date,
            "mdate": self._written_date,
            "ddate": self._written_date,
            "time": self._time,
            "ampm": self._ampm,
            "money": self._money,
            "code": self._code,
            "version": self._version,
            "frac": self._fraction,
            "num": self._number,
            "abbr": self._abbreviation,
            "plural": self._plural,
            "caps": self._caps,
            "sym": self._symbol,
        }

    # -- the scan ---------------------------------------------------------------------------

    def verbalize(self, text: str, options: TextOptions) -> list[Span]:
        """``text`` as spans: each match of a class in its spoken form, the rest as written."""
        spans: list[Span] = []
        plain_start = 0
        shouting = [m.span() for m in _SHOUTING.finditer(text)] if options.abbreviations else []
        for match in _SCANNER.finditer(text):
            kind = match.lastgroup or ""
            if kind == "caps" and any(a <= match.start() < b for a, b in shouting):
                continue
            spoken = self._handlers[kind](match, text, options)
            if spoken is None:
                continue
            if match.start() > plain_start:
                spans.append(
                    Span(text[plain_start : match.start()], text[plain_start : match.start()])
                )
            spans.append(Span(f" {spoken} " if spoken.strip() else " ", match.group()))
            plain_start = match.end()
        if plain_start < len(text):
            spans.append(Span(text[plain_start:], text[plain_start:]))
        return spans

    def say_as(self, kind: str, text: str, date_format: str | None = None) -> str | None:
        """SSML ``<say-as interpret-as=kind>``: the words of ``text`` read as ``kind``, or
        ``None`` when ``text`` is not one."""
        text = text.strip()
        if kind in ("characters", "spell-out", "verbatim"):
            groups = re.findall(r"[^\W\d_]+|\d", text)
            return " ".join(spell(g) if not g.isdigit() else nw.ones(g) for g in groups)
        if kind in ("cardinal", "number"):
            clean = text.replace(",", "")
            return nw.number(clean) if re.fullmatch(r"[-−]?(\d+(\.\d*)?|\.\d+)", clean) else None
        if kind == "ordinal":
            digits = re.fullmatch(r"(\d+)(?:st|nd|rd|th)?", text)
            return nw.ordinal(int(digits.group(1))) if digits else None
        if kind == "telephone":
            return self._phone_words(text) if re.search(r"\d", text) else None
        if kind == "time":
            match = _SCANNER.fullmatch(text)
            if match and match.lastgroup in ("time", "ampm"):
                return self._handlers[match.lastgroup](match, text, TextOptions())
            return None
        if kind == "date":
            return self._date_words(text, date_format)
        return None

    # -- URLs, emails, paths ----------------------------------------------------------------

    def _url(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.urls:
            return None
        url = m.group()
        url = re.sub(r"^https?://", "", url)
        url = re.sub(r"^www\.", "", url)
        return self._address(url.rstrip("/"))

    def _domain(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        return self._address(m.group()) if o.urls else None

    def _email(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.emails:
            return None
        user, _, host = m.group().partition("@")
        return f"{self._address(user)} at {self._address(host)}"

    def _path(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.paths:
            return None
        path = m.group()
        words = []
        if path.startswith("~"):
            words.append("home")
            path = path[1:]
        sep = "\\" if "\\" in path else "/"
        if re.match(r"[A-Za-z]:\\", path):
            words.append(f"{spell(path[0])} drive")
            path = path[2:]
        for i, part in enumerate(path.split(sep)):
            if i:
                words.append("slash" if sep == "/" else "backslash")
            if part:
                words.append(self._address(part))
        return " ".join(w for w in words if w)

    def _file(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        return self._address(m.group()) if o.paths else None

    def _address(self, text: str) -> str:
        """The parts of a URL, email or path: "example dot com slash docs"."""
        words = []
        for token in re.split(r"([./:?=&#_@~%+-])", text):
            if not token:
                continue
            word = {
                ".": "dot",
                "/": "slash",
                ":": "colon",
                "?": "question mark",
                "=": "equals",
                "&": "and",
                "#": "hash",
                "_": "underscore",
                "@": "at",
                "~": "tilde",
                "%": "percent",
                "+": "plus",
                "-": "dash",
            }.get(token)
            if word is None:
                word = nw.digits(token) if token.isdigit() and len(token) > 4 else token
                if token.isdigit() and len(token) <= 4:
                    word = nw.cardinal(int(token))
                elif token.isupper() and 1 < len(token) <= 5:
                    word = spell(token)
            words.append(word)
        return " ".join(words)

    # -- phone numbers ----------------------------------------------------------------------

    def _phone(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        return self._phone_words(m.group()) if o.phone_numbers else None

    def _phone_words(self, text: str) -> str:
        groups = [g for g in re.split(r"[^\d+]+", text) if g]
        words = []
        for group in groups:
            plus = "plus " if group.startswith("+") else ""
            words.append(plus + nw.digits(group))
        return ", ".join(words)

    # -- dates and times --------------------------------------------------------------------

    def _day_first(self, o: TextOptions) -> bool:
        return o.date_order == "dmy" or (o.date_order == "auto" and self.region != "us")

    def _date(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.dates:
            return None
        order = o.date_order if o.date_order != "auto" else ("dmy" if self._day_first(o) else "mdy")
        return self._date_words(m.group(), order)

    def _date_words(self, text: str, order: str | None) -> str | None:
        """A numeric date in ``order`` (``mdy``, ``dmy``, ``ymd``; ``None``: ISO when it
        starts with a year, else month first); ``None`` when it is not a valid date."""
        parts = [p for p in re.split(r"[/.-]", text.strip()) if p]
        if not parts or not all(p.isdigit() for p in parts):
            return None
        if len(parts[0]) == 4:
            order = "ymd"
        order = order or "mdy"
        fields = dict(zip(order[: len(parts)], (int(p) for p in parts), strict=False))
        if len(parts) == 3 and len(parts[order.index("y")]) == 2:
            fields["y"] += 2000 if fields["y"] < 70 else 1900
        month, day, year = fields.get("m"), fields.get("d"), fields.get("y")
        if month is None or not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
            return None
        return nw.date(year, month, day, day_first=order.startswith("d"))

    def _written_date(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.dates:
            return None
        prefix = "mdate" if m.group("mdate") else "ddate"
        month_name = m.group(f"{prefix}_m")
        month = next(i for i, n in enumerate(nw.MONTHS, 1) if n.startswith(month_name[:3]))
        day = int(m.group(f"{prefix}_d"))
        if not 1 <= day <= 31:
            return None
        year = m.group(f"{prefix}_y")
        words = nw.date(int(year) if year else None, month, day, day_first=prefix == "ddate")
        return words + ("." if m.group().endswith(".") and prefix == "ddate" else "")

    def _time(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.times:
            return None
        hour, minute = int(m.group("time_h")), int(m.group("time_m"))
        second = int(m.group("time_s")) if m.group("time_s") else None
        ampm = (m.group("time_ampm") or "").lower()
        if ampm and not 1 <= hour <= 12:
            return None
        words = nw.clock(hour, minute, second, f"{ampm}m" if ampm else "")
        return words + ("." if ampm and m.group().endswith(".") else "")

    def _ampm(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.times:
            return None
        ampm = m.group("ampm_x").lower() + "m"
        words = nw.clock(int(m.group("ampm_h")), 0, None, ampm)
        return words + ("." if m.group().endswith(".") else "")

    # -- money, versions, numbers -----------------------------------------------------------

    def _money(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.currency:
            return None
        code = CURRENCY_SYMBOLS[m.group("money_sym")]
        second = m.group("money_b")
        words = self._amount(code, m.group("money_a"), m.group("money_sc"), plural=bool(second))
        if second:
            words = words + " to " + self._amount(code, second, m.group("money_sc2"))
            first_unit = CURRENCIES[code][0][1]
            words = words.replace(f" {first_unit} to ", " to ", 1)
        return words

    def _code(self, m: re.Match[str], text: str, o: TextOptions) -> str | None:
        if not o.currency:
            return None
        if m.group("code_c"):
            return self._amount(m.group("code_c"), m.group("code_a"), m.group("code_sc"))
        return self._amount(m.group("code_c2"), m.group("code_a2"), m.group("code_sc2"))

    def _amount(self, code: str, amount: str, scale: str | None, plural: bool = False) -> str:
        unit, cents = CURRENCIES[code]
        if plural:
            unit = (unit[1], unit[1])
        return nw.money(amount, unit, cents, SCALES.get(scale or "", ""))

    def _version(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.paths:
            return None
        if m.group("version_v"):
            parts = m.group("version_v").split(".")
            return "version " + " point ".join(self._digits_or_number(p) for p in parts)
        core, _, rest = m.group().partition("-")
        words = " point ".join(self._digits_or_number(p) for p in core.split(".") if p)
        return f"{words} {self._address(rest)}" if rest else words

    def _digits_or_number(self, text: str) -> str:
        return (
            nw.cardinal(int(text))
            if text.isdigit() and not (len(text) > 1 and text[0] == "0")
            else nw.digits(text)
        )

    def _fraction(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.numbers:
            return None
        numerator, denominator = int(m.group("frac_n")), int(m.group("frac_d"))
        whole = m.group("frac_w")
        if denominator == 0:
            return None
        if 2 <= denominator <= 9 and numerator < 100:
            words = nw.fraction(numerator, denominator)
            if whole:
                lead = nw.cardinal(int(whole))
                words = (
                    f"{lead} and a half"
                    if (numerator, denominator) == (1, 2)
                    else f"{lead} and {words}"
                )
            return words
        if whole:
            return None
        return f"{nw.cardinal(numerator)} out of {nw.cardinal(denominator)}"

    def _number(self, m: re.Match[str], text: str, o: TextOptions) -> str | None:
        a, b = m.group("num_a"), m.group("num_b")
        unit = m.group("num_u")
        if unit and (unit in ATTACHED_ONLY and m.group("num_sp")):
            unit = None
        if unit and not o.units:
            unit = None
        if not o.numbers:
            return None
        if unit is None and m.group("num_u"):
            # the unit stays as written: read only the numbers before it
            end = m.start("num_u") - m.start()
            shorter = _SCANNER.match(m.group()[:end].rstrip())
            if shorter and shorter.lastgroup == "num" and shorter.group("num_u") is None:
                return self._number(shorter, text, o) + " " + m.group("num_u")
            return None
        if unit == "s" and not b and re.fullmatch(r"1[1-9]\d0|20\d0|[1-9]0", a):
            return _plural_word(nw.year(int(a)) if len(a) == 4 else nw.cardinal(int(a)))
        if not b and not unit and not m.group("num_pct") and a.isdigit():
            if text[: m.start()].endswith("#") and len(a) > 2:
                return nw.digits(a)
            if 3 <= len(a) <= 4 and _STREET.match(text, m.end()):
                return nw.year(int(a)) if len(a) == 4 else f"{nw.ones(a[0])} {_pair(a[1:])}"
        neg = "minus " if m.group("num_neg") else ""
        first = neg + self._one_number(
            a, m.group("num_oa"), alone=b is None and unit is None and not m.group("num_pct")
        )
        words = first
        if b:
            words += " to " + self._one_number(b, m.group("num_ob"), alone=False)
        if m.group("num_pct"):
            words += " percent"
        elif unit:
            singular, plural = UNITS[unit]
            last = b or a
            words += " " + (plural if b or nw.is_plural(last) else singular)
        return words

    def _one_number(self, text: str, suffix: str | None, alone: bool) -> str:
        if suffix and text.replace(",", "").isdigit():
            return nw.ordinal(int(text.replace(",", "")))
        if alone and re.fullmatch(r"1[1-9]\d\d|20\d\d", text) and not text.endswith("00"):
            return nw.year(int(text))
        if len(text) > 1 and text.startswith("0") and "." not in text:
            return nw.digits(text)
        return nw.number(text)

    # -- words ------------------------------------------------------------------------------

    def _fixed(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        return SPOKEN_WORDS.get(m.group()) if o.symbols else None

    def _abbreviation(self, m: re.Match[str], text: str, o: TextOptions) -> str | None:
        if not o.abbreviations:
            return None
        word = m.group()
        after = text[m.end() :]
        if word == "No.":
            return "number" if re.match(r"\s*\d", after) else None
        if word == "St.":
            before = text[: m.start()].rstrip()
            if before[-1:].isalnum() and not re.match(r"\s+[A-Z][a-z]", after):
                ends = not after.strip() or re.match(r"\s+[A-Z]", after)
                return "Street." if ends else "Street"
            return "Saint"
        spoken = ABBREVIATIONS.get(word)
        if spoken is None:
            return None
        if word in SENTENCE_FINAL and (not after.strip() or re.match(r"\s+[A-Z]", after)):
            spoken += "."
        return spoken

    def _plural(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.plurals:
            return None
        word = m.group()
        return word[: word.index("(")] + word[word.index("(") + 1 : -1]

    def _caps(self, m: re.Match[str], _text: str, o: TextOptions) -> str | None:
        if not o.abbreviations:
            return None
        word = m.group()
        stem, ending = (word[:-2], "'s") if word.endswith("'s") else (word, "")
        if stem.endswith("s") and stem[:-1].isupper() and len(stem) > 2:
            stem, ending = stem[:-1], "s"
        if stem in SPOKEN_WORDS:
            return SPOKEN_WORDS[stem] + ending
        if stem in COMPASS:
            return COMPASS[stem]
        if stem in WORD_ACRONYMS or not stem.isupper():
            return None
        return spell(stem) + ("'s" if ending else "")

    def _symbol(self, m: re.Match[str], text: str, o: TextOptions) -> str | None:
        if not o.symbols:
            return None
        sym = m.group()
        before = text[: m.start()]
        after = text[m.end() :]
        prev = before[-1:] if before else ""
        nxt = after[:1]
        num_before = bool(re.search(r"\d\s?$", before))
        num_after = bool(re.match(r"\s?[\d.(]", after))
        spaced = prev.isspace() and nxt.isspace()
        if sym == "(":
            return "," if not prev or prev.isspace() else ""
        if sym == ")":
            return "," if not nxt or nxt.isspace() or nxt in ".,;:!?" else ""
        if sym == "&":
            return "and"
        if sym == "@":
            return "at"
        if sym == "#":
            return "number" if nxt.isdigit() else ""
        if sym == "+":
            return "plus" if num_after or spaced or num_before else ""
        if sym == "=":
            return "equals"
        if sym in "~≈":
            return "about" if num_after else ""
        if sym == "^":
            return "to the power of" if num_before and num_after else ""
        if sym == "*":
            return "times" if num_before and num_after and spaced else ""
        if sym == "×":
            return "times"
        if sym == "÷":
            return "divided by"
        if sym == "±":
            return "plus or minus"
        if sym == "≠":
            return "is not equal to"
        if sym == "≤":
            return "is at most"
        if sym == "≥":
            return "is at least"
        if sym == "<":
            return "less than" if spaced or (num_after and not num_before) else ""
        if sym == ">":
            return "more than" if spaced or (num_after and not num_before) else ""
        if sym in "→":
            return "to"
        if sym == "←":
            return "from"
        if sym == "°":
            return "degrees" if num_before else ""
        if sym == "§":
            return "section"
        if sym in "—–":
            return "," if spaced or not (num_before and num_after) else "to"
        if sym in "•·|":
            return ","
        if sym == "…":
            return "..."
        if sym == "/":
            if num_before and re.match(r"[A-Za-z]", nxt):
                return "per"
            return "or" if prev.isalpha() and nxt.isalpha() else ""
        return ""  # _ and \\: markup or code, never read
