"""Kokoro's variants for this host, built by editing the packaged int8 graph.

The packaged ``kokoro-v1.0.int8.onnx`` is onnxruntime's *dynamic* INT8: every Conv is a
``ConvInteger`` whose input is quantized per run (``DynamicQuantizeLinear``), every MatMul a
``MatMulInteger``, every LSTM a ``DynamicQuantizeLSTM``, the embeddings a ``Gather`` of int8
rows and a ``DequantizeLinear``. On x86 CPUs ``ConvInteger`` has no fast kernel (im2col and an
integer GEMM, plus the per-run quantization of every activation), so float can be faster
(sherpa-onnx#2374). The variants:

- ``float``: every quantized weight dequantized back (``w = (q − zero) · scale``) and each
  quantized op replaced by its float op (``Conv``, ``MatMul``, ``LSTM``, ``Gather``) writing the
  same output tensor; the bias of a ``ConvInteger`` (quantized per run with the activation's
  scale) goes back into the ``Conv``. Same weights as the original, so only the activations'
  rounding is gone;
- ``float-<ops>``: only some op types rebuilt (e.g. ``float-conv``: float Convs, the MatMuls
  and LSTMs left in dynamic INT8): dynamic INT8 with excluded nodes;
- ``fp16``: the float graph with the weights of nodes above a size threshold in float16
  (seed 003's ``--fp16-threshold``), computed in float16 where onnxruntime has kernels;
- ``static``: static QDQ INT8 of the float graph's Convs and MatMuls, calibrated on assistant
  phrases, ``conv_post`` (and, per seed 003, the generator's resblocks) excluded.

:func:`measure` times each against ``kokoro-onnx``'s own ``create()`` on the original model
with the same thread count, side by side, and gates it (WER + MCD, :mod:`.toolkit.gate`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .toolkit.extras import require

_LOGGER = logging.getLogger(__name__)

REBUILT_OPS = ("ConvInteger", "MatMulInteger", "DynamicQuantizeLSTM", "Gather")
"""The quantized op types :func:`dequantized` can turn back into float ops."""

CONV_POST = "/decoder/decoder/generator/conv_post/Conv"
"""The generator's last convolution: quantized, it adds audible static (seed 003)."""
GENERATOR_RESBLOCKS = "/decoder/decoder/generator/resblocks"


class _Graph:
    """Producers and consumers of a graph's tensors, its initializers as arrays."""

    def __init__(self, model: Any) -> None:
        onnx = require("onnx", "toolkit")
        self.model = model
        self.graph = model.graph
        self.inits = {t.name: t for t in self.graph.initializer}
        self._numpy = onnx.numpy_helper
        self.producer = {o: n for n in self.graph.node for o in n.output}
        self.consumers: dict[str, list[Any]] = defaultdict(list)
        for n in self.graph.node:
            for i in n.input:
                self.consumers[i].append(n)

    def array(self, name: str) -> np.ndarray:
        return self._numpy.to_array(self.inits[name])

    def only_consumer(self, tensor: str, op_type: str) -> Any | None:
        found = self.consumers.get(tensor, [])
        if len(found) == 1 and found[0].op_type == op_type:
            return found[0]
        return None

    def weight_scale(self, scale_tensor: str, activation_scale: str) -> np.ndarray:
        """The weight's scale: ``scale_tensor`` is ``Mul(activation scale, weight scale)``."""
        mul = self.producer[scale_tensor]
        (other,) = [i for i in mul.input if i != activation_scale]
        return self.array(other)


def _dequantize(q: np.ndarray, zero: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    """``(q − zero) · scale`` with a per-tensor or per-channel (along ``axis``) zero/scale."""

    def along(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float32)
        if v.ndim == 0 or v.size == 1:
            return v.reshape(())
        shape = [1] * q.ndim
        shape[axis] = v.size
        return v.reshape(shape)

    return (q.astype(np.float32) - along(zero)) * along(scale)


def dequantized(model: Any, ops: Iterable[str] = REBUILT_OPS) -> tuple[Any, dict[str, int]]:
    """``model`` (dynamic INT8, as onnxruntime's ``quantize_dynamic`` writes it) with the
    quantized ops of the types in ``ops`` rebuilt as float ops. Returns (the model, how many
    of each type were rebuilt). Nodes left without a consumer are removed."""
    onnx = require("onnx", "toolkit")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    ops = set(ops)
    g = _Graph(model)
    new_inits: list[Any] = []
    replace: dict[int, Any] = {}  # id(node that produced the final tensor) → float node
    counts: dict[str, int] = defaultdict(int)

    added: set[str] = set()

    def add_init(name: str, value: np.ndarray) -> str:
        # ALBERT shares one layer's weights between its repeats: one float copy each
        if name not in added:
            added.add(name)
            new_inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    for node in list(g.graph.node):
        if node.op_type not in ops:
            continue
        if node.op_type in ("ConvInteger", "MatMulInteger"):
            quantizer = g.producer.get(node.input[0])
            if quantizer is None or quantizer.op_type != "DynamicQuantizeLinear":
                continue
            x, x_scale = quantizer.input[0], quantizer.output[1]
            tensor, bias = node.output[0], None
            add = g.only_consumer(tensor, "Add")
            if add is not None:  # the ConvInteger's bias, quantized per run
                bias_q = [i for i in add.input if i != tensor][0]
                bias = _float_bias(g, bias_q)
                tensor = add.output[0]
            cast = g.only_consumer(tensor, "Cast")
            mul = cast and g.only_consumer(cast.output[0], "Mul")
            if mul is None:
                continue
            scale_tensor = [i for i in mul.input if i != cast.output[0]][0]
            w_scale = g.weight_scale(scale_tensor, x_scale)
            q = g.array(node.input[1])
            zero = g.array(node.input[3]) if len(node.input) > 3 and node.input[3] else 0
            stem = node.input[1].removesuffix("_quantized") + "_float"
            if node.op_type == "ConvInteger":
                w = _dequantize(q, zero, w_scale, axis=0)
                inputs = [x, add_init(stem, w)]
                if bias is not None:
                    inputs.append(add_init(stem + "_bias", bias))
                attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
                new = helper.make_node(
                    "Conv", inputs, [mul.output[0]], name=node.name.removesuffix("_quant"), **attrs
                )
            else:
                w = _dequantize(q, zero, w_scale, axis=1)
                new = helper.make_node(
                    "MatMul",
                    [x, add_init(stem, w)],
                    [mul.output[0]],
                    name=node.name.removesuffix("_quant"),
                )
            replace[id(mul)] = new
        elif node.op_type == "DynamicQuantizeLSTM":
            ins = list(node.input) + [""] * (12 - len(node.input))
            w = _dequantize(g.array(ins[1]), g.array(ins[9]), g.array(ins[8]), axis=0)
            r = _dequantize(g.array(ins[2]), g.array(ins[11]), g.array(ins[10]), axis=0)
            # DynamicQuantizeLSTM keeps W as [dirs, input, 4·hidden]; LSTM wants [dirs, 4·hidden, input]
            w_name = add_init(ins[1].removesuffix("_quantized") + "_float", w.transpose(0, 2, 1))
            r_name = add_init(ins[2].removesuffix("_quantized") + "_float", r.transpose(0, 2, 1))
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            new = helper.make_node(
                "LSTM",
                [ins[0], w_name, r_name, *ins[3:8]],
                list(node.output),
                name=node.name.removesuffix("_quant"),
                **attrs,
            )
            while new.input and not new.input[-1]:
                new.input.pop()
            replace[id(node)] = new
        elif node.op_type == "Gather" and node.input[0] in g.inits:
            dq = g.only_consumer(node.output[0], "DequantizeLinear")
            if dq is None or g.inits[node.input[0]].data_type not in (2, 3):
                continue
            zero = g.array(dq.input[2]) if len(dq.input) > 2 and dq.input[2] else 0
            table = _dequantize(g.array(node.input[0]), zero, g.array(dq.input[1]), axis=1)
            name = add_init(node.input[0].removesuffix("_quantized") + "_float", table)
            new = helper.make_node(
                "Gather",
                [name, node.input[1]],
                [dq.output[0]],
                name=node.name.removesuffix("_quant"),
                axis=0,
            )
            replace[id(dq)] = new
        else:
            continue
        counts[node.op_type] += 1

    nodes = [replace.get(id(n), n) for n in g.graph.node]
    del g.graph.node[:]
    g.graph.node.extend(nodes)
    g.graph.initializer.extend(new_inits)
    _prune(model)
    return model, dict(counts)


def _float_bias(g: _Graph, bias_q: str) -> np.ndarray:
    """The float bias behind ``Reshape(Cast(Floor(Div(bias, scale))))`` (how the dynamic
    quantizer writes a ConvInteger's bias)."""
    tensor = bias_q
    for _ in range(6):
        node = g.producer.get(tensor)
        if node is None:
            break
        if node.op_type == "Div" and node.input[0] in g.inits:
            return g.array(node.input[0]).astype(np.float32)
        tensor = node.input[0]
    raise ValueError(f"no float bias found behind {bias_q}")


def _prune(model: Any) -> None:
    """Remove nodes and initializers that no graph output depends on."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    producer = {o: n for n in graph.node for o in n.output}
    keep: set[int] = set()
    stack = list(needed)
    while stack:
        tensor = stack.pop()
        node = producer.get(tensor)
        if node is None or id(node) in keep:
            continue
        keep.add(id(node))
        for i in node.input:
            if i:
                needed.add(i)
                stack.append(i)
        for attr in node.attribute:  # subgraphs (If/Loop) read outer tensors
            for sub in [attr.g, *attr.graphs] if attr.type in (5, 10) else []:
                for n in sub.node:
                    for i in n.input:
                        needed.add(i)
                        stack.append(i)
    nodes = [n for n in graph.node if id(n) in keep]
    del graph.node[:]
    graph.node.extend(nodes)
    inits = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)
