"""Optional packages, imported only when a command needs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from ...errors import MissingExtraError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`~macbot.errors.MissingExtraError` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module} is not installed: pip install 'macbot-tts[{extra}]'"
        ) from exc
