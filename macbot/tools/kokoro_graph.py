"""Editing Kokoro-82M's ONNX graph (offline; needs onnx).

:func:`with_durations` exposes the duration predictor's frames per token as an extra output
named ``duration``, the name kokoro-onnx 0.6.1 reads (``Kokoro._setup``: ``has_timings =
"duration" in outputs``; ``_infer`` returns ``outputs[1]``), so the model itself times every
phoneme and the engine gives word timings, as the Piper split exposes ``/Ceil_output_0``.

In the exported graph the predictor's logits (``/encoder/predictor/duration_proj/...``) go
through ``Sigmoid → ReduceSum → Div(speed) → Round → Clip(min 1) → Cast(int64)``: the cast's
output is the integer number of frames of every token (the pads included), which is what the
model then expands the text features by. That tensor becomes the output.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx
from onnx import TensorProto, helper

DURATION_OUTPUT = "duration"
"""The output kokoro-onnx reads durations from."""
DURATION_PROJ = "/encoder/predictor/duration_proj/"
"""The prefix of the duration predictor's last layer in Kokoro's export."""
MAX_STEPS = 12
"""How many nodes the walk from the predictor's logits to the integer durations may take."""


class GraphEditError(ValueError):
    """The graph is not the Kokoro export this edit knows."""


def duration_tensor(model: onnx.ModelProto) -> str:
    """The name of the int64 frames-per-token tensor of a Kokoro graph.

    Found by walking from the last node of ``duration_proj`` along single consumers to the
    first ``Cast`` to int64 (through Sigmoid, ReduceSum, Div, Round, Clip).
    """
    nodes = list(model.graph.node)
    proj = [n for n in nodes if n.name.startswith(DURATION_PROJ)]
    if not proj:
        raise GraphEditError(f"no node named {DURATION_PROJ}… (not a Kokoro graph?)")
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    proj_outputs = {o for n in proj for o in n.output}
    # the layer's result: an output of the layer that no node of the layer consumes
    ends = [
        o
        for o in proj_outputs
        if not any(c.name.startswith(DURATION_PROJ) for c in consumers.get(o, []))
    ]
    if len(ends) != 1:
        raise GraphEditError(f"{DURATION_PROJ} has {len(ends)} results, expected 1")
    tensor = ends[0]
    for _ in range(MAX_STEPS):
        nxt = consumers.get(tensor, [])
        if len(nxt) != 1:
            raise GraphEditError(f"{tensor} has {len(nxt)} consumers on the way to the durations")
        node = nxt[0]
        tensor = node.output[0]
        if node.op_type == "Cast" and any(
            a.name == "to" and a.i == TensorProto.INT64 for a in node.attribute
        ):
            return tensor
    raise GraphEditError(f"no Cast to int64 within {MAX_STEPS} nodes after {DURATION_PROJ}")


def add_duration_output(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with a ``duration`` output (int64, ``[1, tokens]``), changed in place. A
    model that already has one is returned unchanged."""
    if any(o.name == DURATION_OUTPUT for o in model.graph.output):
        return model
    source = duration_tensor(model)
    model.graph.node.append(
        helper.make_node("Identity", [source], [DURATION_OUTPUT], name="/durations/Identity")
    )
    model.graph.output.append(
        helper.make_tensor_value_info(DURATION_OUTPUT, TensorProto.INT64, [1, "tokens"])
    )
    return model


def with_durations(src: Path | str, dst: Path | str) -> Path:
    """Write a copy of the Kokoro model ``src`` to ``dst`` with the ``duration`` output
    (:func:`add_duration_output`); written to a temporary file and renamed, so ``dst`` is
    never half written. Returns ``dst``."""
    dst = Path(dst)
    model = add_duration_output(onnx.load(str(src)))
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f"{dst.name}.{os.getpid()}.tmp")
    try:
        onnx.save(model, str(tmp))
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst
