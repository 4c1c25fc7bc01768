"""The polyphase rewrite of a vocoder's upsampling ``ConvTranspose`` (:mod:`.toolkit.polyphase`):
the same numbers as onnxruntime's own ``ConvTranspose``, on made-up layers of every stride the
rewrite takes and on joe's real decoder; a layer of another form is left as it is."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from macbot.core.engines.chunked import DECODER_FILE
from macbot.tools.toolkit.polyphase import polyphase, rewrite_file


def _upsampler(stride: int, c_in: int, c_out: int, kernel: int, pads: int, bias: bool = True):
    rng = np.random.default_rng(stride * 100 + c_in)
    inits = [numpy_helper.from_array(rng.standard_normal((c_in, c_out, kernel), np.float32), "w")]
    inputs = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(c_out).astype(np.float32), "b"))
        inputs.append("b")
    node = helper.make_node(
        "ConvTranspose",
        inputs,
        ["up"],
        name="/dec/ups.0/ConvTranspose",
        strides=[stride],
        kernel_shape=[kernel],
        pads=[pads, pads],
    )
    act = helper.make_node("LeakyRelu", ["up"], ["y"], name="/dec/LeakyRelu", alpha=0.1)
    graph = helper.make_graph(
        [node, act],
        "up",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_in, "frames"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c_out, "samples"])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize(("stride", "bias"), [(2, True), (4, True), (8, True), (8, False)])
def test_the_two_convs_give_the_transposed_convolutions_samples(stride, bias):
    model = _upsampler(stride, 6, 5, 2 * stride, stride // 2, bias)
    x = np.random.default_rng(stride).standard_normal((1, 6, 13)).astype(np.float32)
    expected = _run(model, x)
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    assert polyphase(rewritten) == 1
    onnx.checker.check_model(rewritten)
    ops = [n.op_type for n in rewritten.graph.node]
    assert "ConvTranspose" not in ops and ops.count("Conv") == 2
    got = _run(rewritten, x)
    assert got.shape == expected.shape == (1, 5, 13 * stride)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # one frame in: the edges (the padding on both sides) are right too
    np.testing.assert_allclose(_run(rewritten, x[..., :1]), _run(model, x[..., :1]), atol=1e-5)


@pytest.mark.parametrize(
    ("kernel", "pads"),
    [(12, 2), (16, 3), (8, 0)],  # kernel not 2 × stride; padding not stride / 2
)
def test_a_layer_of_another_form_is_left_as_it_is(kernel, pads):
    model = _upsampler(4, 3, 2, kernel, pads)
    assert polyphase(model) == 0
    assert [n.op_type for n in model.graph.node] == ["ConvTranspose", "LeakyRelu"]


def test_joes_decoder_rewritten_gives_the_same_audio(voice_split, tmp_path):
    _, folder = voice_split
    source = folder / DECODER_FILE
    target = tmp_path / "decoder.polyphase.onnx"
    assert rewrite_file(source, target) == 3  # ups.0, ups.1, ups.2 (strides 8, 8, 4)
    model = onnx.load(str(target))
    assert not any(n.op_type == "ConvTranspose" for n in model.graph.node)
    assert any(n.name.startswith("/dec/conv_post") for n in model.graph.node)  # names kept
    latent = np.random.default_rng(0).standard_normal((1, 192, 41)).astype(np.float32)
    a, b = (_decode(p, latent) for p in (source, target))
    assert a.shape == b.shape and a.size == 41 * 256
    assert float(np.max(np.abs(a - b))) < 1e-4


def _decode(path, latent):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: latent})[0]
