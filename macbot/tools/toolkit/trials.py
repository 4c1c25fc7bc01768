"""Per-node quantization trials, size estimates, and export by threshold (seed 003's
``trial-quantization``, ``estimate-size`` and ``export-optimized``).

A trial quantizes one weighted node alone (dynamic QUInt8) and measures the mel-cepstral
distortion of the result from the original on a few sentences. Nodes whose distance is at most
a threshold are then quantized together (dynamic or static QDQ), except those an exclude regex
names (``conv_post`` adds static no single-node trial shows).
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.spectral import mel_cepstral_distortion
from ...core.voices import VoiceInfo
from . import quantizer
from .graph import load_model, weighted_nodes
from .speed import load_engine
from .verifier import render

CSV_FIELDS = ("name", "op_type", "distance", "params", "size")
TRIAL_OPS = ("Conv", "MatMul", "Gemm")
"""Ops dynamic quantization converts (``ConvTranspose`` has no integer kernel: it stays float)."""


@dataclass
class TrialRow:
    """One CSV row: ``size`` is the float32 bytes of the node's weights."""

    name: str
    op_type: str
    distance: float
    params: int
    size: int


def candidates(source: Path, min_params: int, exclude: str | None = None) -> list[tuple]:
    """Weighted nodes with at least ``min_params`` parameters, minus ``exclude``."""
    regex = re.compile(exclude) if exclude else None
    return [
        node
        for node in weighted_nodes(load_model(source), min_params)
        if node[1] in TRIAL_OPS and not (regex and regex.search(node[0]))
    ]


def run_trials(
    voice: VoiceInfo,
    source: Path,
    sentences: Sequence[str],
    min_params: int = 100_000,
    limit: int | None = None,
    exclude: str | None = None,
    done: Callable[[TrialRow], None] | None = None,
) -> list[TrialRow]:
    """Quantize each large node alone and measure its distance from the original."""
    reference = render(load_engine(voice, source), sentences)
    rate = load_engine(voice, source).sample_rate
    nodes = candidates(source, min_params, exclude)[:limit]
    rows = []
    with tempfile.TemporaryDirectory(prefix="macbot-trial-") as tmp:
        trial = Path(tmp) / "trial.onnx"
        for name, op_type, params, size in nodes:
            quantizer.quantize_dynamic(source, trial, nodes=[name])
            audio = render(load_engine(voice, trial), sentences)
            distance = float(
                np.mean(
                    [
                        mel_cepstral_distortion(r, a, rate)
                        for r, a in zip(reference, audio, strict=True)
                    ]
                )
            )
            row = TrialRow(name, op_type, round(distance, 4), params, size)
            rows.append(row)
            if done is not None:
                done(row)
    return rows


def write_csv(rows: Sequence[TrialRow], path: Path) -> Path:
    """``name, op_type, distance, params, size`` (one header line, one row per node)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for r in rows:
            writer.writerow([r.name, r.op_type, r.distance, r.params, r.size])
    return Path(path)


def read_csv(path: Path) -> list[TrialRow]:
    """Rows of a trials CSV; ``ValueError`` naming the file if its columns are wrong."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != CSV_FIELDS:
            raise ValueError(f"{path}: expected columns {', '.join(CSV_FIELDS)}")
        return [
            TrialRow(
                r["name"], r["op_type"], float(r["distance"]), int(r["params"]), int(r["size"])
            )
            for r in reader
        ]


def select(rows: Sequence[TrialRow], threshold: float, exclude: str | None = None) -> list[str]:
    """Names of the nodes to quantize: distance ≤ ``threshold`` and not matched by
    ``exclude``."""
    regex = re.compile(exclude) if exclude else None
    return [
        r.name for r in rows if r.distance <= threshold and not (regex and regex.search(r.name))
    ]


def estimate_size(
    rows: Sequence[TrialRow], source_bytes: int, threshold: float, exclude: str | None = None
) -> dict[str, float]:
    """Expected file size if the selected nodes' float32 weights become 8-bit (¼ the bytes,
    plus a scale and zero point per tensor, ignored)."""
    chosen = set(select(rows, threshold, exclude))
    saved = sum(r.size * 3 // 4 for r in rows if r.name in chosen)
    return {
        "threshold": threshold,
        "nodes": len(chosen),
        "params": sum(r.params for r in rows if r.name in chosen),
        "estimated_bytes": source_bytes - saved,
        "reduction": round(saved / source_bytes, 4) if source_bytes else 0.0,
    }


def export_by_threshold(
    voice: VoiceInfo,
    source: Path,
    rows: Sequence[TrialRow],
    threshold: float,
    output: Path,
    exclude: str | None = None,
    method: str = "dynamic",
    calibration_phrases: Sequence[str] = (),
) -> dict:
    """Quantize the nodes :func:`select` picks into ``output``; returns the parameters."""
    nodes = select(rows, threshold, exclude)
    if not nodes:
        raise ValueError(f"no node has a distance <= {threshold} (nothing to quantize)")
    if method == "dynamic":
        params = quantizer.quantize_dynamic(source, output, nodes=nodes)
    else:
        from onnxruntime.quantization import (
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )

        feeds = quantizer.calibration_feeds(voice, calibration_phrases)
        quantize_static(
            str(source),
            str(output),
            quantizer.FeedReader(feeds),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_quantize=nodes,
            calibrate_method=CalibrationMethod.MinMax,
        )
        params = {"format": "QDQ", "calibration_sentences": len(feeds)}
    params.update(threshold=threshold, exclude=exclude, method=method, quantized_nodes=len(nodes))
    params.pop("nodes", None)
    return params
