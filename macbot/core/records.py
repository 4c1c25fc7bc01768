"""Small JSON files of measurement records keyed by what they are valid for.

``tune.json`` (``macbot tune``) and ``optimize.json`` (``macbot optimize`` and the daemon's
background optimizer) hold ``{"records": {KEY: record}}``, where KEY is the JSON of the
record's ``key`` (the voice's sha256, onnxruntime version, CPU and providers; see
:func:`macbot.core.selection.tune_key`). Files are replaced atomically.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)


def key_id(key: dict[str, Any]) -> str:
    """The text a ``key`` is stored under."""
    return json.dumps(key, sort_keys=True)


def load_records(path: Path) -> dict[str, Any]:
    """All records in ``path`` (empty when missing or unreadable, with a warning)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _LOGGER.warning("ignoring unreadable record file %s: %s", path, exc)
        return {}
    records = data.get("records") if isinstance(data, dict) else None
    return records if isinstance(records, dict) else {}


def find_record(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The record stored under ``key``, or ``None``."""
    record = load_records(path).get(key_id(key))
    return record if isinstance(record, dict) else None


def save_record(path: Path, record: dict[str, Any]) -> None:
    """Store ``record`` under its ``key``, keeping the records of other keys."""
    path = Path(path)
    records = load_records(path)
    records[key_id(record["key"])] = record
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"records": records}, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
