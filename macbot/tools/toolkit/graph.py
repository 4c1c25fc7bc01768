"""What is inside an ONNX model: parameters and bytes by op type / dtype, and model diffs.

A node's *parameters* are the elements of the initializers (and ``Constant`` tensors) it reads
directly; an initializer shared by several nodes is counted once, for its first reader.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .extras import require

GROUPINGS = ("op", "dtype", "op+dtype")


@dataclass
class GroupRow:
    """One row of :func:`weights_by`."""

    group: str
    params: int = 0
    bytes: int = 0
    tensors: int = 0


@dataclass
class ModelStats:
    """Facts about one model file."""

    path: Path
    file_bytes: int
    nodes: int
    op_counts: Counter = field(default_factory=Counter)
    rows: list[GroupRow] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)


@dataclass
class ModelDiff:
    """What changed from ``a`` to ``b`` (:func:`diff`)."""

    added: dict[str, int]
    removed: dict[str, int]
    nodes_a: int
    nodes_b: int
    bytes_a: int
    bytes_b: int

    @property
    def size_reduction(self) -> float:
        """Fraction of ``a``'s file size saved by ``b`` (negative: ``b`` is bigger)."""
        return 1.0 - self.bytes_b / self.bytes_a if self.bytes_a else 0.0


def load_model(path: Path) -> Any:
    """``onnx.load`` with a clear error for a missing or unreadable file."""
    onnx = require("onnx", "toolkit")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model not found: {path}")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError/ValueError/… for a non-model file
        raise ValueError(f"not an ONNX model: {path} ({exc})") from exc


def _tensor_facts(tensor: Any) -> tuple[int, int, str]:
    """(elements, bytes, dtype name) of a TensorProto."""
    onnx = require("onnx", "toolkit")
    elements = 1
    for dim in tensor.dims:
        elements *= int(dim)
    np_dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)
    name = onnx.TensorProto.DataType.Name(tensor.data_type)
    if name in ("INT4", "UINT4"):
        return elements, (elements + 1) // 2, name
    return elements, elements * np_dtype.itemsize, name


def model_stats(path: Path, by: str = "op+dtype") -> ModelStats:
    """Parameters and bytes of ``path`` grouped ``by`` ``op``, ``dtype`` or ``op+dtype``."""
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)} (got {by!r})")
    model = load_model(path)
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    constants = {
        n.output[0]: a.t
        for n in graph.node
        if n.op_type == "Constant"
        for a in n.attribute
        if a.name == "value"
    }
    tensors = {**constants, **initializers}
    rows: dict[str, GroupRow] = {}
    seen: set[str] = set()
    for node in graph.node:
        if node.op_type == "Constant":
            continue
        for name in node.input:
            if name not in tensors or name in seen:
                continue
            seen.add(name)
            elements, nbytes, dtype = _tensor_facts(tensors[name])
            key = {"op": node.op_type, "dtype": dtype, "op+dtype": f"{node.op_type} ({dtype})"}[by]
            row = rows.setdefault(key, GroupRow(key))
            row.params += elements
            row.bytes += nbytes
            row.tensors += 1
    return ModelStats(
        path=Path(path),
        file_bytes=Path(path).stat().st_size,
        nodes=len(graph.node),
        op_counts=Counter(n.op_type for n in graph.node),
        rows=sorted(rows.values(), key=lambda r: r.bytes, reverse=True),
    )


def diff(a: Path, b: Path) -> ModelDiff:
    """Ops added and removed (by count) and the size change from model ``a`` to model ``b``."""
    sa, sb = model_stats(a, "op"), model_stats(b, "op")
    ops = set(sa.op_counts) | set(sb.op_counts)
    delta = {op: sb.op_counts[op] - sa.op_counts[op] for op in ops}
    return ModelDiff(
        added={op: d for op, d in sorted(delta.items()) if d > 0},
        removed={op: -d for op, d in sorted(delta.items()) if d < 0},
        nodes_a=sa.nodes,
        nodes_b=sb.nodes,
        bytes_a=sa.file_bytes,
        bytes_b=sb.file_bytes,
    )


def weighted_nodes(model: Any, min_params: int = 0) -> list[tuple[str, str, int, int]]:
    """``(name, op_type, params, bytes)`` of nodes reading initializers of ≥ ``min_params``
    elements in total, largest first."""
    initializers = {t.name: t for t in model.graph.initializer}
    found = []
    for node in model.graph.node:
        params = nbytes = 0
        for name in node.input:
            if name in initializers:
                elements, size, _ = _tensor_facts(initializers[name])
                params += elements
                nbytes += size
        if params and params >= min_params:
            found.append((node.name, node.op_type, params, nbytes))
    return sorted(found, key=lambda item: item[2], reverse=True)
