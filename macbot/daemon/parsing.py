"""Reading request bodies: every check raises an error of :mod:`macbot.errors` with the field
at fault as ``param``; the app renders it (``{"error", "code"}``, or OpenAI's shape)."""

from __future__ import annotations

from typing import Any

from flask import request

from ..core.engines.piper import check_speed
from ..core.text import TextOptions
from ..errors import EmptyTextError, InvalidType, TextTooLong, UsageError


def json_body(example: str) -> dict[str, Any]:
    """The request's JSON object (``example`` shows the expected shape in the message)."""
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise UsageError(f"request body must be a JSON object, e.g. {example}")
    return body


def text(body: dict[str, Any], key: str, limit: int) -> str:
    """A required, non-blank string of at most ``limit`` characters."""
    if key not in body:
        raise UsageError(f"missing field '{key}'", param=key)
    value = body[key]
    if not isinstance(value, str):
        raise InvalidType(f"'{key}' must be a string", param=key)
    if not value.strip():
        raise EmptyTextError(f"'{key}' is empty", param=key)
    if len(value) > limit:
        raise TextTooLong(
            f"'{key}' is too long ({len(value)} characters, limit {limit})", param=key
        )
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
    return value


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
