"""Emoji (the ``emoji`` package's data) and emoticons: dropped, named, or kept.

Named emoji use the package's English names ("thumbs up"; skin tones left out). Emoticons are
the common ones of chat (``:-)``, ``;)``, ``:D``, ``<3`` …), recognized only between spaces or
punctuation so that times and URLs are never touched.
"""

from __future__ import annotations

import re

import emoji as emoji_data

EMOTICONS: dict[str, str] = {
    ":)": "smiley face",
    ":-)": "smiley face",
    ":]": "smiley face",
    "=)": "smiley face",
    ":D": "grinning face",
    ":-D": "grinning face",
    "xD": "laughing face",
    "XD": "laughing face",
    ";)": "winking face",
    ";-)": "winking face",
    ":(": "sad face",
    ":-(": "sad face",
    ":'(": "crying face",
    ":P": "face with tongue",
    ":-P": "face with tongue",
    ":p": "face with tongue",
    ":/": "confused face",
    ":-/": "confused face",
    ":O": "surprised face",
    ":o": "surprised face",
    ":|": "neutral face",
    "<3": "heart",
    "^_^": "smiling face",
    "^^": "smiling face",
    "¯\\_(ツ)_/¯": "shrug",
}

_EMOTICON = re.compile(
    r"(?:(?<=\s)|^)("
    + "|".join(re.escape(e) for e in sorted(EMOTICONS, key=len, reverse=True))
    + r")(?=\s|$|[.,!?])"
)
_SKIN_TONE = re.compile(r"_(?:light|medium-light|medium|medium-dark|dark)_skin_tone")
_VARIATION = re.compile("[\ufe0e\ufe0f\u200d]")


def replace(text: str, mode: str, emoticons: bool) -> str:
    """``text`` with its emoji (and emoticons, when ``emoticons``) dropped (``mode``
    ``drop``), named (``name``) or left (``keep``)."""
    if mode == "keep":
        return text
    if emoticons and any(c in text for c in ":;=<^¯xX"):
        text = _EMOTICON.sub(lambda m: _say(EMOTICONS[m.group(1)], mode), text)
    if text.isascii():
        return text
    text = emoji_data.replace_emoji(text, replace=lambda _chars, data: _say(_name(data), mode))
    return _VARIATION.sub("", text)


def _name(data: dict) -> str:
    name = _SKIN_TONE.sub("", str(data.get("en", "")).strip(":"))
    return name.replace("_", " ")


def _say(name: str, mode: str) -> str:
    return f" {name}, " if mode == "name" else " "
