"""Reading request bodies: every check raises an error of :mod:`macbot.errors` with the field
at fault as ``param``; the app renders it (``{"error", "code"}``, or OpenAI's shape)."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from flask import request

from ..config import check_speed
from ..core.text import TextOptions
from ..core.voices import AUTO, is_blend
from ..errors import EmptyTextError, InvalidType, TextTooLong, UsageError, VoiceNotFoundError

MAX_VOICE_NAME = 100
"""Longest voice name a request may give (voice names are file or folder names)."""

DEFAULT_VOICE_ALIAS = "default"
"""``voice: "default"`` speaks with the configured voice, on every route."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters other than tab, line feed and carriage return."""


def json_body(example: str) -> dict[str, Any]:
    """The request's JSON object (``example`` shows the expected shape in the message).

    Anything else is a 400, also JSON nested too deep for the parser (30,000 ``[`` made
    Python's decoder raise ``RecursionError``, a 500 before issue 11)."""
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:
        raise UsageError("request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise UsageError(f"request body must be a JSON object, e.g. {example}")
    return body


def check_string(value: str, key: str) -> str:
    """``value`` if it is text the engine can take: valid Unicode (a lone surrogate such as
    ``"\\ud800"`` in JSON is not) without NUL or other control characters but tab and line
    breaks. :class:`UsageError` names the position of the first bad character."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(
            f"'{key}' is not valid Unicode (a lone surrogate at character {exc.start})",
            param=key,
        ) from None
    bad = _CONTROL.search(value)
    if bad is not None:
        raise UsageError(
            f"'{key}' has a control character (U+{ord(bad.group()):04X}) at character "
            f"{bad.start()}",
            param=key,
        )
    return value


def voice_name(value: object, known: Collection[str], key: str = "voice") -> str | None:
    """A voice named in a request: one of ``known`` (the names ``/voices`` lists), or
    ``"default"``/``"auto"``/``null`` for the configured voice (``None``; under ``voice:
    auto`` it is auto's choice, so a client that copies the config's ``auto`` gets it). Never
    a path: over HTTP a voice is a name, paths belong in the config file (issue 11:
    ``/etc/shadow`` and ``/etc`` got different answers, and any ``.onnx`` with a ``.json``
    beside it loaded)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidType(f"'{key}' must be a string", param=key)
    if not value.strip():
        raise UsageError(f"'{key}' must be a non-empty string", param=key)
    if len(value) > MAX_VOICE_NAME:
        raise UsageError(
            f"'{key}' is too long ({len(value)} characters, limit {MAX_VOICE_NAME})", param=key
        )
    check_string(value, key)
    if value in (DEFAULT_VOICE_ALIAS, AUTO):
        return None
    if value in known or is_blend(value):
        return value  # a blend's parts are checked when it is parsed (a clear error there)
    raise VoiceNotFoundError(
        f"unknown voice {value!r} (available: {', '.join(sorted(known))})",
        hint="GET /voices lists them; a voice file is set in the config file",
        param=key,
    )


def text(body: dict[str, Any], key: str, limit: int) -> str:
    """A required, non-blank string of at most ``limit`` characters."""
    if key not in body:
        raise UsageError(f"missing field '{key}'", param=key)
    value = body[key]
    if not isinstance(value, str):
        raise InvalidType(f"'{key}' must be a string", param=key)
    if len(value) > limit:
        raise TextTooLong(
            f"'{key}' is too long ({len(value)} characters, limit {limit})", param=key
        )
    check_string(value, key)
    if not value.strip():
        raise EmptyTextError(f"'{key}' is empty", param=key)
    return value


def optional_str(body: dict[str, Any], key: str, *, allow_blank: bool = False) -> str | None:
    """A string field, or ``None`` when absent."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidType(f"'{key}' must be a string", param=key)
    if not allow_blank and not value.strip():
        raise UsageError(f"'{key}' must be a non-empty string", param=key)
    return check_string(value, key)


def optional_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    """A boolean field with a default."""
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise InvalidType(f"'{key}' must be true or false", param=key)
    return value


def speed(body: dict[str, Any]) -> float | None:
    """``speed``: 0.25 to 4, or ``None`` when absent."""
    return check_speed(body.get("speed"))


def text_options(body: dict[str, Any], key: str, defaults: TextOptions) -> TextOptions:
    """The text front end's options: ``defaults`` (the config's) with the request's ``key``
    applied (``true``/``false``, or an object of single options)."""
    return defaults.with_request(body.get(key), key)
