"""Manifests round-trip and sit where the engine chain looks for them."""

from __future__ import annotations

import hashlib

from macbot.core.hashing import file_sha256
from macbot.core.manifests import Manifest, Verdict, manifest_path


def test_manifest_round_trip(tmp_path):
    model = tmp_path / "voice.static.onnx"
    model.write_bytes(b"model bytes")
    manifest = Manifest(
        method="static",
        source="voice.onnx",
        source_sha256=file_sha256(model),
        sizes={"source": 63, "output": 19},
        verdict=Verdict(usable=False, reasons=["WER +5.1 points > +2"]),
    )
    path = manifest.save(model)
    assert path == tmp_path / "voice.static.manifest.json"
    loaded = Manifest.load(model)
    assert loaded == manifest
    assert loaded.verdict.usable is False
    assert loaded.source_sha256 == hashlib.sha256(b"model bytes").hexdigest()


def test_folder_manifest_is_inside(tmp_path):
    assert manifest_path(tmp_path) == tmp_path / "manifest.json"
