"""English number words: num2words for the words, and the shapes it has no function for
(decimals read digit by digit, fractions, money with cents, clock times, dates, digit groups).

Every function returns plain words (no hyphens or commas), ready for the phonemizer.
"""

from __future__ import annotations

import functools

from num2words import num2words

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_DENOMINATORS = {2: ("half", "halves"), 4: ("quarter", "quarters")}

LONGEST = 15
"""Digits read as one number; longer runs (account numbers, typed noise) are read digit by
digit (num2words also refuses very large numbers)."""


def _clean(words: str) -> str:
    return words.replace("-", " ").replace(",", "")


@functools.lru_cache(maxsize=4096)
def cardinal(number: int) -> str:
    """``1234`` → "one thousand two hundred and thirty four"."""
    if number < 0:
        return "minus " + cardinal(-number)
    if number >= 10**LONGEST:
        return digits(str(number))
    return _clean(num2words(number, lang="en"))


@functools.lru_cache(maxsize=1024)
def ordinal(number: int) -> str:
    """``21`` → "twenty first"."""
    if number >= 10**LONGEST:
        return digits(str(number))
    return _clean(num2words(number, lang="en", to="ordinal"))


@functools.lru_cache(maxsize=1024)
def year(number: int) -> str:
    """``1999`` → "nineteen ninety nine", ``2024`` → "twenty twenty four", ``2000`` → "two
    thousand", ``1905`` → "nineteen oh five"."""
    return _clean(num2words(number, lang="en", to="year"))


def letters(text: str) -> str:
    """Letters named one by one: ``"pm"`` → "P M", ``"api"`` → "eigh P I" (the letter A is
    written "eigh", since a lone "A" is read as the article)."""
    return " ".join("eigh" if c in "aA" else c.upper() for c in text if c.isalpha())


def ones(digit: str) -> str:
    """One digit's word."""
    return ONES[int(digit)]


def digits(text: str) -> str:
    """``"0427"`` → "zero four two seven" (non-digits are skipped)."""
    return " ".join(ONES[int(c)] for c in text if c.isdigit())


def number(text: str) -> str:
    """A written number: ``"1,234.56"`` → "one thousand two hundred and thirty four point five
    six"; ``".5"`` → "point five"."""
    text = text.replace(",", "")
    negative = text.startswith(("-", "−"))
    text = text.lstrip("-−")
    whole, _, fraction = text.partition(".")
    words = cardinal(int(whole)) if whole else ""
    if fraction:
        words = f"{words} point {digits(fraction)}".strip()
    return f"minus {words}" if negative else words


def is_plural(text: str) -> bool:
    """Whether a written number takes a plural noun (everything but exactly one)."""
    return text.replace(",", "").lstrip("+") not in ("1", "1.0", "1.00")


def fraction(numerator: int, denominator: int) -> str:
    """``1/3`` → "one third", ``3/4`` → "three quarters", ``1/2`` → "one half"."""
    one, many = _DENOMINATORS.get(denominator) or (ordinal(denominator), ordinal(denominator) + "s")
    return f"{cardinal(numerator)} {one if numerator == 1 else many}"


def money(
    amount: str, unit: tuple[str, str], cents: tuple[str, str] | None, scale: str = ""
) -> str:
    """``"4.50"`` dollars → "four dollars and fifty cents"; with a ``scale`` word ("million")
    the amount is read as a number: "one point five million dollars"."""
    singular, plural = unit
    amount = amount.replace(",", "")
    if scale:
        return f"{number(amount)} {scale} {plural}"
    whole, _, part = amount.partition(".")
    whole_n = int(whole or "0")
    if part and cents is not None and len(part) == 2:
        cent_n = int(part)
        cent_words = f"{cardinal(cent_n)} {cents[0] if cent_n == 1 else cents[1]}"
        if whole_n == 0:
            return cent_words
        head = f"{cardinal(whole_n)} {singular if whole_n == 1 else plural}"
        return head if cent_n == 0 else f"{head} and {cent_words}"
    if part:
        return f"{number(amount)} {plural}"
    return f"{cardinal(whole_n)} {singular if whole_n == 1 else plural}"


def clock(hour: int, minute: int, second: int | None = None, meridiem: str = "") -> str:
    """A time of day. With ``meridiem`` (``am``/``pm``): "three thirty P M"; 24 h: "fourteen
    thirty", "fourteen hundred"; ``9:00`` without either: "nine o'clock"."""
    if meridiem:
        words = cardinal(hour)
        if minute:
            words += " " + (f"oh {cardinal(minute)}" if minute < 10 else cardinal(minute))
        words += " " + letters(meridiem)
    elif minute == 0 and 1 <= hour <= 12:
        words = f"{cardinal(hour)} o'clock"
    elif minute == 0:
        words = f"{cardinal(hour)} hundred"
    else:
        words = cardinal(hour)
        words += " " + (f"oh {cardinal(minute)}" if minute < 10 else cardinal(minute))
    if second:
        words += f" and {cardinal(second)} second" + ("s" if second != 1 else "")
    return words


def date(year_n: int | None, month: int, day: int | None, day_first: bool) -> str:
    """A date: US order "March fifth twenty twenty four", day first "the fifth of March twenty
    twenty four"; ``day`` or ``year_n`` may be missing."""
    name = MONTHS[month - 1]
    if day is None:
        words = name
    elif day_first:
        words = f"the {ordinal(day)} of {name}"
    else:
        words = f"{name} {ordinal(day)}"
    if year_n is not None:
        words += f" {year(year_n)}"
    return words
