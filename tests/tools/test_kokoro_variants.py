"""Kokoro's variants (issue 20 item 3) and its decoder in windows (item 4), on the real packaged
model. Kokoro is slow on 2 cores: one float build per session, short sentences."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import make_config

from macbot.core.kokoro_files import packaged_model, packaged_voices
from macbot.tools.kokoro_graph import with_durations
from macbot.tools.kokoro_variants import (
    BASELINE,
    CONV_POST,
    ENCODER_PREFIX,
    build_float,
    build_recipe,
    calibration_feeds,
    decode_windows,
    dequantized,
    kokoro_onnx,
    measure,
    split_decoder,
)
from macbot.tools.toolkit.transcriber import Transcriber

QUANTIZED = {"ConvInteger", "MatMulInteger", "DynamicQuantizeLSTM", "DynamicQuantizeLinear"}


@pytest.fixture(scope="module")
def float_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kokoro-float") / "kokoro.float.onnx"
    facts = build_float(packaged_model(), path)
    assert facts["rebuilt"] == {
        "ConvInteger": 87,
        "MatMulInteger": 148,
        "DynamicQuantizeLSTM": 6,
        "Gather": 4,
    }
    return path


def test_the_float_rebuild_has_no_quantized_op_left(float_model):
    ops = Counter(n.op_type for n in onnx.load(str(float_model)).graph.node)
    assert not QUANTIZED & set(ops), {op: ops[op] for op in QUANTIZED if ops[op]}
    assert ops["Conv"] == 88  # the 87 rebuilt and conv_post, which was never quantized
    assert ops["LSTM"] == 6


def test_a_partial_rebuild_keeps_the_other_ops_in_int8():
    model, counts = dequantized(onnx.load(str(packaged_model())), ("ConvInteger",))
    ops = Counter(n.op_type for n in model.graph.node)
    assert counts == {"ConvInteger": 87}
    assert ops["ConvInteger"] == 0
    assert ops["MatMulInteger"] == 148
    assert ops["DynamicQuantizeLSTM"] == 6


def test_the_float_graph_takes_the_duration_output(float_model, tmp_path):
    """k1's with_durations finds the predictor in the rebuilt graph too (word timings)."""
    timed = with_durations(float_model, tmp_path / "timed.onnx")
    engine = kokoro_onnx(timed, packaged_voices(), 2)
    assert engine.has_timings
    _, _, spoken = engine.create_timed("Good morning.", "jm_kumo")
    assert spoken


def test_the_gate_passes_the_float_rebuild_and_rejects_a_broken_variant(float_model, tmp_path):
    model = onnx.load(str(float_model))
    (conv_post,) = [n for n in model.graph.node if n.name == CONV_POST]
    weights = {t.name: t for t in model.graph.initializer}
    broken = onnx.numpy_helper.to_array(weights[conv_post.input[1]]).copy()
    broken += np.random.default_rng(0).normal(0, 0.05, broken.shape).astype(broken.dtype)
    weights[conv_post.input[1]].CopyFrom(onnx.numpy_helper.from_array(broken, conv_post.input[1]))
    onnx.save(model, str(tmp_path / "broken.onnx"))
    rows = measure(
        packaged_model(),
        {"float": float_model, "broken": tmp_path / "broken.onnx"},
        packaged_voices(),
        ["The front door is locked.", "I have set a timer for ten minutes."],
        transcriber=Transcriber(threads=2),
    )
    by = {r["candidate"]: r for r in rows}
    assert by[BASELINE]["gate"] == "original"
    assert by["float"]["gate"] == "pass", by["float"]["reasons"]
    assert by["broken"]["gate"] == "fail", by["broken"]["reasons"]
    assert by["broken"]["mcd_db"] > by["float"]["mcd_db"]


def test_static_dec_quantizes_the_decoder_and_keeps_the_encoder_float(float_model, tmp_path):
    """The recipe that passes the gate on this host (docs/OPTIMIZATION.md, "Kokoro"): every
    decoder Conv and MatMul but conv_post in static QDQ int8, nothing before the decoder."""
    calls = []

    def feeds() -> list[dict]:
        calls.append(1)
        engine = kokoro_onnx(float_model, packaged_voices(), 2)
        return calibration_feeds(engine.tokenizer, engine.voices["jm_kumo"], ["Turn left here."])

    path = tmp_path / "kokoro.static-dec.onnx"
    facts = build_recipe("static-dec", packaged_model(), path, float_model, feeds)
    assert calls == [1] and facts["method"] == "static QDQ int8"
    nodes = onnx.load(str(path)).graph.node
    quantized = {n.output[0] for n in nodes if n.op_type == "DequantizeLinear"}
    computed = [n for n in nodes if n.op_type in ("Conv", "MatMul")]
    fed = {n.name: any(i in quantized for i in n.input) for n in computed}
    encoder = [name for name in fed if name.startswith(ENCODER_PREFIX)]
    decoder = [name for name in fed if not name.startswith(ENCODER_PREFIX) and name != CONV_POST]
    assert encoder and not any(fed[name] for name in encoder)
    assert decoder and all(fed[name] for name in decoder), [n for n in decoder if not fed[n]]
    assert not fed[CONV_POST]
    samples, _ = kokoro_onnx(path, packaged_voices(), 2).create("Turn left here.", "jm_kumo")
    assert 0.3 < len(samples) / 24_000 < 3 and np.abs(samples).max() > 0.05
    with pytest.raises(ValueError, match="unknown Kokoro recipe 'static-all'"):
        build_recipe("static-all", packaged_model(), tmp_path / "x.onnx", float_model, feeds)


def test_the_decoder_split_and_windows_reproduce_the_whole_sentence(float_model, tmp_path):
    encoder_path, decoder_path = split_decoder(float_model, tmp_path / "split")
    voices = packaged_voices()
    full = kokoro_onnx(float_model, voices, 2)
    encoder, decoder = (kokoro_onnx(p, voices, 2).sess for p in (encoder_path, decoder_path))
    (feed,) = calibration_feeds(full.tokenizer, full.voices["jm_kumo"], ["Turn left here."])
    whole = full.sess.run(None, feed)[0].reshape(-1)
    asr, f0, energy = encoder.run(None, feed)
    assert f0.shape[1] == 2 * asr.shape[2]
    one_window = decode_windows(decoder, asr, f0, energy, feed["style"], asr.shape[2], 0)
    assert np.abs(np.concatenate(one_window) - whole).max() < 1e-4
    pieces = decode_windows(decoder, asr, f0, energy, feed["style"], 8, 4)
    assert len(pieces) == -(-asr.shape[2] // 8)
    assert sum(len(p) for p in pieces) == len(whole)


@pytest.mark.timeout(1800)  # Kokoro gate and tune on 2 shared cores
def test_the_pipeline_builds_gates_times_and_picks_kokoro_variants(tmp_path):
    """The background optimizer's pipeline for a Kokoro voice: the timed model and one recipe,
    gated and timed; the engine chain then finds them and follows the tune record; auto's
    figures are measured again after the run."""
    from macbot.config import KokoroSettings
    from macbot.core import budget
    from macbot.core.selection import EngineChain
    from macbot.core.voices import kokoro_voice
    from macbot.tools.kokoro_optimizer import DEFAULT_RECIPES, KokoroOptimizer, optimize_voice
    from macbot.tools.optimizer import OptimizeOptions

    config = make_config(tmp_path, models__tts__optimized_dir=str(tmp_path / "optimized"))
    voice = kokoro_voice("jm_kumo", KokoroSettings())
    options = OptimizeOptions(
        gate_sentences=("The front door is locked.", "I have set a timer for ten minutes."),
        wer_margin_points=16.0,  # two sentences: one misheard word is ~9 points
        tune_rounds=1,
        tune_sentences=("Turn left here.",),
        threads=2,
    )
    KokoroOptimizer.recipes = ("float-matmul",)
    try:
        state = optimize_voice(config, voice, options)
    finally:
        KokoroOptimizer.recipes = DEFAULT_RECIPES
    assert state.state == "done", state.reason
    assert [s.name for s in state.steps] == ["durations", "quantize", "gate", "tune"]
    rows = {c["name"]: c for c in state.candidates}
    assert rows["kokoro.timed"]["mcd_db"] == 0.0
    assert rows["kokoro.timed"]["verdict"] == "usable"
    assert rows["kokoro.float-matmul"]["wer"] is not None
    assert state.winner in rows
    chain = EngineChain(config)
    names = [c.name for c in chain.candidates(voice)]
    assert names[-1] == "kokoro"
    assert {"kokoro.timed", "kokoro.float-matmul"} <= set(names)
    engine, decision = chain.load(voice)
    assert decision.winner == state.winner
    if state.winner != "kokoro":
        assert engine.has_durations  # every variant is built from the timed model
    key = budget.family_key("kokoro", chain.sha256(voice.model_path), chain.facts)
    figures = budget.recorded(chain.optimized_dir, key)
    assert figures is not None
    assert figures.measured_by.startswith("the optimizer")
