"""Splitting the real voice into encoder + decoder, and refusing graphs that do not split."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from macbot import cli
from macbot.core.engines.chunked import (
    DECODER_FILE,
    ENCODER_FILE,
    FLOW_CONTEXT,
    FLOW_FILE,
    PRIOR_FILE,
    ChunkedEngine,
    find_split,
)
from macbot.core.hashing import file_sha256
from macbot.core.manifests import Manifest
from macbot.core.voices import bundled_voice
from macbot.errors import ExitCode, MissingExtraError
from macbot.tools.split import (
    MAX_DIFF,
    SPLIT_FORMAT,
    SplitError,
    find_cut,
    find_flow,
    split_format,
    split_voice,
)

pytestmark = pytest.mark.slow


def test_split_reproduces_the_full_model(voice_split):
    voice, folder = voice_split
    manifest = Manifest.load(folder)
    # The cut is found from the graph; the joe voice's is the tensor measured by hand.
    assert manifest.parameters["cut_tensor"] == "/Mul_7_output_0"
    assert manifest.parameters["hop_length"] == 256
    assert manifest.parameters["channels"] == 192
    assert manifest.quality["max_abs_diff"] <= MAX_DIFF
    assert manifest.quality["check_sentences"] >= 4
    assert manifest.source_sha256 == file_sha256(voice.model_path)
    assert manifest.verdict.usable
    assert 1.0 < manifest.parameters["gain"] < 3.0  # 0.9 / max raw peak; tanh output peaks < 1
    for name in (ENCODER_FILE, DECODER_FILE):
        assert manifest.sizes[name.removesuffix(".onnx")] == (folder / name).stat().st_size
    assert find_split(voice, folder.parent) == folder


def test_encoder_decoder_rejoin_exactly_on_new_text(voice_split, full_engine, plain):
    """Not just the manifest's word: run the pair on a sentence it was not checked on."""
    _, folder = voice_split
    encoder = ort.InferenceSession(str(folder / ENCODER_FILE), providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(str(folder / DECODER_FILE), providers=["CPUExecutionProvider"])
    (sentence,) = full_engine.sentences("Please remind me to water the plants on Sunday morning.")
    feed = full_engine.model_inputs(sentence.phoneme_ids, plain)
    latent = encoder.run(None, feed)[0]
    audio = decoder.run(None, {"/Mul_7_output_0": latent})[0].reshape(-1)
    reference = full_engine.infer(sentence.phoneme_ids, plain)
    assert audio.shape == reference.shape == (latent.shape[-1] * 256,)
    assert float(np.max(np.abs(audio - reference))) <= MAX_DIFF


def test_decoder_shapes_dynamic_and_static(voice_split):
    _, folder = voice_split
    dynamic = ort.InferenceSession(str(folder / DECODER_FILE), providers=["CPUExecutionProvider"])
    assert dynamic.get_inputs()[0].shape[:2] == [1, 192]
    assert isinstance(dynamic.get_inputs()[0].shape[2], str)
    static = ort.InferenceSession(
        str(folder / "decoder.static96.onnx"), providers=["CPUExecutionProvider"]
    )
    assert static.get_inputs()[0].shape == [1, 192, 96]
    out = static.run(None, {static.get_inputs()[0].name: np.zeros((1, 192, 96), np.float32)})
    assert out[0].size == 96 * 256
    with pytest.raises(Exception, match=r"dimensions|shape|Got invalid"):
        static.run(None, {static.get_inputs()[0].name: np.zeros((1, 192, 95), np.float32)})
    model = onnx.load(str(folder / "decoder.static96.onnx"), load_external_data=False)
    output_dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert output_dims[-1] == 96 * 256  # static all the way through (what CoreML needs)


def test_find_split_refuses_another_models_split(voice_split, tmp_path):
    voice, folder = voice_split
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    data = json.loads((copy / "manifest.json").read_text())
    data["source_sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(data))
    assert find_split(voice, tmp_path) is None
    assert find_split(voice, tmp_path / "empty") is None


# -- voices that do not split ------------------------------------------------------------------


def _graph(decoder_inputs: int, name_prefix: str = "/dec/") -> onnx.ModelProto:
    """A tiny Piper-like graph: an 'encoder' Mul, then a 'decoder' reading one or two tensors
    from outside (two: like a multi-speaker decoder that also reads the speaker embedding)."""
    nodes = [
        helper.make_node("Mul", ["input", "scale"], ["/Mul_7_output_0"], name="/Mul_7"),
        helper.make_node("Relu", ["input"], ["/emb_g/out"], name="/emb_g/Relu"),
    ]
    dec_inputs = ["/Mul_7_output_0", "/emb_g/out"][:decoder_inputs]
    nodes.append(helper.make_node("Sum", dec_inputs, ["dec_out"], name=f"{name_prefix}Sum"))
    nodes.append(helper.make_node("Tanh", ["dec_out"], ["output"], name=f"{name_prefix}Tanh"))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4, "frames"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, "frames"])],
        initializer=[helper.make_tensor("scale", TensorProto.FLOAT, [1], [2.0])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


def test_decoder_reading_two_outside_tensors_is_refused():
    with pytest.raises(SplitError, match=r"reads 2 tensors from outside.*exactly one"):
        find_cut(_graph(decoder_inputs=2))


def test_graph_without_a_decoder_is_refused():
    with pytest.raises(SplitError, match="no decoder subgraph"):
        find_cut(_graph(decoder_inputs=1, name_prefix="/vocoder/"))


def test_decoder_not_starting_with_a_conv_is_refused():
    with pytest.raises(SplitError, match="does not start with a Conv"):
        find_cut(_graph(decoder_inputs=1))


def _voice_files(tmp_path, model: onnx.ModelProto | bytes):
    path = tmp_path / "odd.onnx"
    if isinstance(model, bytes):
        path.write_bytes(model)
    else:
        onnx.save(model, str(path))
    shutil.copy(bundled_voice().config_path, tmp_path / "odd.onnx.json")
    return path


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_graph(decoder_inputs=2), "reads 2 tensors from outside"),
        (b"not an onnx model", "cannot read"),
    ],
)
def test_cli_exit_code_for_a_voice_that_does_not_split(tmp_path, capsys, model, message):
    path = _voice_files(tmp_path, model)
    code = cli.main(["split", "--model", str(path), "--output", str(tmp_path / "out")])
    assert code == ExitCode.MODEL_UNSUPPORTED
    err = capsys.readouterr().err
    assert err.startswith("macbot: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out" / "odd.split" / "manifest.json").exists()


def test_cli_exit_code_for_a_missing_voice(tmp_path, capsys):
    code = cli.main(["split", "--model", str(tmp_path / "none.onnx")])
    assert code == ExitCode.VOICE_NOT_FOUND
    assert "voice model not found" in capsys.readouterr().err


def test_without_onnx_the_error_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # what an install without the extra sees
    with pytest.raises(MissingExtraError, match=r"macbot-tts\[toolkit\]"):
        split_voice(bundled_voice(), tmp_path)
    code = cli.main(["split", "--output", str(tmp_path)])
    assert code == ExitCode.MISSING_EXTRA
    assert "pip install 'macbot-tts[toolkit]'" in capsys.readouterr().err


def test_log_spectral_distance():
    from macbot.tools.split_quant import log_spectral_distance

    rng = np.random.default_rng(0)
    x = rng.standard_normal(22050).astype(np.float32)
    assert log_spectral_distance(x, x) == 0.0
    assert log_spectral_distance(x, 0.5 * x) == pytest.approx(20 * np.log10(2), rel=1e-3)
    with pytest.raises(ValueError, match="at least"):
        log_spectral_distance(x[:100], x[:100])


def test_quantized_decoder_is_measured(voice_split, tmp_path):
    """Static QDQ on real latents (two calibration sentences to stay fast): written, runs, and
    its speed and spectral distance land in the manifest."""
    from macbot.tools.split_quant import QDQ_DECODER_FILE, quantize_decoder

    voice, folder = voice_split
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    result = quantize_decoder(
        voice,
        copy,
        calibration_texts=("Hello there, how are you?",),
        test_texts=("Yes.",),
        rounds=1,
    )
    assert (copy / QDQ_DECODER_FILE).is_file()
    assert result["size"] < result["float_size"]
    assert 0 < result["lsd_db"] < 40 and result["speedup"] > 0  # a measurement, not a gate
    assert Manifest.load(copy).parameters["variants"]["decoder_qdq"] == result
    session = ort.InferenceSession(str(copy / QDQ_DECODER_FILE), providers=["CPUExecutionProvider"])
    assert any(
        n.op_type == "DequantizeLinear" for n in onnx.load(str(copy / QDQ_DECODER_FILE)).graph.node
    )
    assert session.get_inputs()[0].shape[:2] == [1, 192]


def test_the_split_records_its_format_and_the_durations_output(voice_split, tmp_path):
    """Issue 14: format 2 adds the encoder's phoneme durations; a split without the record
    (made before) reads as format 1, which the optimizer makes again."""
    _, folder = voice_split
    assert split_format(folder) == SPLIT_FORMAT == 3
    assert Manifest.load(folder).parameters["durations_output"] == "/Ceil_output_0"
    old = tmp_path / folder.name
    shutil.copytree(folder, old)
    manifest = Manifest.load(old)
    del manifest.parameters["format"]
    manifest.save(old)
    assert split_format(old) == 1


def test_format_3_cuts_the_encoder_before_its_flow(voice_split):
    """Issue 20 item 7: the prior and the flow, checked exact against the encoder (whole, and
    the first window from a flow run over its frames plus the context), and hashed."""
    voice, folder = voice_split
    manifest = Manifest.load(folder)
    params = manifest.parameters
    assert (params["prior"], params["flow"]) == (PRIOR_FILE, FLOW_FILE)
    assert params["flow_inputs"] == ["/Add_output_0", "/Cast_2_output_0"]
    assert params["flow_context"] == FLOW_CONTEXT
    assert params["flow_max_diff"] <= MAX_DIFF
    for name in (PRIOR_FILE, FLOW_FILE):
        assert manifest.files[name] == file_sha256(folder / name)
    prior = ort.InferenceSession(str(folder / PRIOR_FILE), providers=["CPUExecutionProvider"])
    assert [o.name for o in prior.get_outputs()] == [*params["flow_inputs"], "/Ceil_output_0"]
    cut = find_cut(onnx.load(str(voice.model_path)))
    assert find_flow(onnx.load(str(folder / DECODER_FILE)), cut) is None  # no /flow/ nodes


def test_a_split_without_the_flow_still_streams(voice_split, tmp_path, plain):
    """A format-2 split (or a voice whose flow does not cut) loads its encoder.onnx and
    streams as before; the engine with the pair gives the same audio."""
    voice, folder = voice_split
    old = tmp_path / folder.name
    shutil.copytree(folder, old)
    manifest = Manifest.load(old)
    for key in ("prior", "flow", "flow_inputs", "flow_context", "flow_max_diff"):
        del manifest.parameters[key]
    manifest.parameters["format"] = 2
    for name in (PRIOR_FILE, FLOW_FILE):
        del manifest.files[name]
        (old / name).unlink()
    manifest.save(old)
    before = ChunkedEngine.load_split(voice, old)
    after = ChunkedEngine.load_split(voice, folder)
    assert before.flow is None and after.flow is not None
    assert isinstance(before.encoder, ort.InferenceSession) and after.encoder is after.flow
    (sentence,) = after.sentences("I have set a timer for ten minutes.")
    streamed = [list(e.stream_sentence(sentence, plain)) for e in (before, after)]
    assert len(streamed[0]) == len(streamed[1]) > 1
    for a, b in zip(*streamed, strict=True):
        np.testing.assert_allclose(a.samples, b.samples, atol=MAX_DIFF)
