"""What the text front end does, per request: :class:`TextOptions`.

Defaults come from ``models.tts.text`` in the config (:class:`~macbot.config.TextConfig`);
a request overrides them with ``normalize`` on ``/speak`` (``true``/``false`` or an object)
or ``normalization_options`` on the OpenAI route, which also takes Kokoro-FastAPI's names
(:data:`KOKORO_NAMES`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ...config import TEXT_CHOICES, TextConfig, TextSwitches
from ...errors import InvalidType, UsageError


@dataclass(frozen=True)
class TextOptions(TextSwitches):
    """Switches of the text front end for one request (each documented in docs/TEXT.md and
    on :class:`~macbot.config.TextSwitches`)."""

    lexicon: bool = True
    """Apply the user lexicon (when the config names one)."""

    @classmethod
    def from_config(cls, text: TextConfig) -> TextOptions:
        """The defaults in force: ``models.tts.text``."""
        switches = {f.name: getattr(text, f.name) for f in dataclasses.fields(TextSwitches)}
        return cls(**switches, lexicon=text.lexicon is not None)

    def with_request(self, value: object, param: str = "normalize") -> TextOptions:
        """These options with a request's field applied: ``None`` (absent) keeps them,
        ``true``/``false`` switches the front end on or off, an object sets single options
        (our names or Kokoro-FastAPI's). Unknown names and wrong types are a
        :class:`UsageError` naming ``param.name``."""
        if value is None:
            return self
        if isinstance(value, bool):
            return dataclasses.replace(self, enabled=value)
        if not isinstance(value, dict):
            raise InvalidType(f"'{param}' must be true, false or an object", param=param)
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for raw_name, item in value.items():
            name = KOKORO_NAMES.get(raw_name, raw_name)
            where = f"{param}.{raw_name}"
            if name not in fields:
                known = ", ".join(sorted([*fields, *KOKORO_NAMES]))
                raise UsageError(f"unknown option '{where}' (known: {known})", param=where)
            if name in TEXT_CHOICES:
                if item not in TEXT_CHOICES[name]:
                    choices = ", ".join(TEXT_CHOICES[name])
                    raise UsageError(f"'{where}' must be one of {choices}", param=where)
            elif not isinstance(item, bool):
                raise InvalidType(f"'{where}' must be true or false", param=where)
            changes[name] = item
        return dataclasses.replace(self, **changes)

    def key(self) -> tuple[object, ...]:
        """Every option, hashable (part of the phrase cache's key)."""
        return dataclasses.astuple(self)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


KOKORO_NAMES = {
    "normalize": "enabled",
    "unit_normalization": "units",
    "url_normalization": "urls",
    "email_normalization": "emails",
    "phone_normalization": "phone_numbers",
    "optional_pluralization_normalization": "plurals",
    "replace_remaining_symbols": "symbols",
}
"""Kokoro-FastAPI's ``normalization_options`` names and the option each sets here."""
