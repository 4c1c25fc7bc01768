"""SHA-256 of model files, remembered so that a 60 MB voice is hashed once per version.

Manifests and tune records identify a model by its hash; the daemon needs those hashes at
every start, so :func:`cached_sha256` remembers them per (path, size, mtime) in memory and in a
small JSON index beside the generated models.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

_HASHES: dict[tuple[str, int, int], str] = {}
_LOCK = threading.Lock()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def forget() -> None:
    """Drop the in-memory hashes (as a fresh process would start)."""
    with _LOCK:
        _HASHES.clear()


def cached_sha256(path: Path, index: Path | None = None) -> str:
    """SHA-256 of ``path``, remembered per (path, size, mtime) in memory and, when ``index``
    is given, in that JSON file (so a daemon restart does not hash a 60 MB voice again)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _HASHES:
            return _HASHES[key]
    stored: dict[str, str] = {}
    text_key = f"{key[0]}|{key[1]}|{key[2]}"
    if index is not None:
        try:
            stored = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        if isinstance(stored, dict) and isinstance(stored.get(text_key), str):
            with _LOCK:
                _HASHES[key] = stored[text_key]
            return stored[text_key]
    digest = file_sha256(path)
    with _LOCK:
        _HASHES[key] = digest
    if index is not None:
        try:
            index.parent.mkdir(parents=True, exist_ok=True)
            stored = stored if isinstance(stored, dict) else {}
            stored[text_key] = digest
            tmp = index.with_name(f"{index.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(stored, indent=1), encoding="utf-8")
            os.replace(tmp, index)
        except OSError as exc:  # a read-only folder only costs hashing time
            _LOGGER.warning("cannot write hash index %s: %s", index, exc)
    return digest


def hash_index(optimized_dir: Path) -> Path:
    """The hash index of an ``optimized_dir``."""
    return Path(optimized_dir) / "ort_cache" / "sha256_index.json"
