"""Manifests: what a generated model is, where it came from, and how it measured.

A model ``optimized_models/NAME.onnx`` has its manifest at ``optimized_models/NAME.manifest.json``
(a folder of models, such as an encoder/decoder split, has ``manifest.json`` inside). The
tools write them; the engine chain reads ``verdict.usable`` and ``source_sha256`` to decide
whether a variant may be used for a voice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_VERSION = 1

FOLDER_MANIFEST = "manifest.json"
"""The manifest of a folder of models (a split, an encoder/decoder pair) inside it."""


def manifest_path(model_path: Path) -> Path:
    """Where the manifest of ``model_path`` lives."""
    model_path = Path(model_path)
    if model_path.is_dir():
        return model_path / FOLDER_MANIFEST
    return model_path.with_name(model_path.name.removesuffix(".onnx") + ".manifest.json")


@dataclass
class Verdict:
    """The quality gate's decision."""

    usable: bool
    reasons: list[str] = field(default_factory=list)
    """Why it passed or failed, one line each (bounds and measured values)."""
    failed: list[str] | None = None
    """The checks that failed (those of ``reasons`` that made it unusable); ``None`` in
    manifests written before this field: :meth:`failures` then reads them from ``reasons``."""

    def failures(self) -> list[str]:
        """Why it is not usable: the checks that failed (empty when usable)."""
        if self.usable:
            return []
        if self.failed is not None:
            return list(self.failed)
        return [r for r in self.reasons if "<=" not in r and not r.startswith("provisional")]


@dataclass
class Manifest:
    """Everything known about one generated model."""

    method: str
    """``dynamic``, ``static``, ``int4``, ``fp16``, ``coreml``, ``split`` …"""
    source: str
    """Path of the model it was made from."""
    source_sha256: str
    parameters: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    """Bytes: ``source`` and ``output`` at least."""
    speed: dict[str, Any] = field(default_factory=dict)
    """Measured speed (real-time factors, speed-up over the source, host facts)."""
    quality: dict[str, Any] = field(default_factory=dict)
    """Measured quality (WER, spectral distance, against the source)."""
    verdict: Verdict | None = None
    files: dict[str, str] = field(default_factory=dict)
    """SHA-256 of each file the model is made of, by path relative to the manifest's folder;
    a file whose bytes no longer match was damaged or replaced (rebuilt by ``macbot optimize``)."""
    created: float = field(default_factory=time.time)
    version: int = MANIFEST_VERSION

    def save(self, model_path: Path) -> Path:
        """Write the manifest of ``model_path`` atomically (temp file + rename), so a reader
        never sees half a manifest."""
        path = manifest_path(model_path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, model_path: Path) -> Manifest:
        """Read the manifest of ``model_path``; ``FileNotFoundError`` or ``ValueError``."""
        return cls.read(manifest_path(model_path))

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Read the manifest file ``path`` itself; ``FileNotFoundError``, ``ValueError`` or
        ``TypeError`` (fields that are not a manifest's)."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a manifest (a JSON object is expected)")
        verdict = data.pop("verdict", None)
        manifest = cls(**data)
        manifest.verdict = Verdict(**verdict) if verdict else None
        return manifest


def changed_files(manifest: Manifest, folder: Path, sha256: Callable[[Path], str]) -> list[str]:
    """The files of ``manifest.files`` (relative to ``folder``) that are missing or whose
    SHA-256 (computed by ``sha256``) is not the recorded one."""
    changed = []
    for name, digest in manifest.files.items():
        path = Path(folder) / name
        if not path.is_file() or sha256(path) != digest:
            changed.append(name)
    return changed
