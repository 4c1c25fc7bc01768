"""The model optimization toolkit on the real bundled voice: every method makes a loadable
model with a complete manifest; inspect/diff read real models; trials, the gate, the CLI errors
and the variants benchmark run for real (small sentence counts; no timing is asserted)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from macbot.cli import main
from macbot.core.hashing import file_sha256
from macbot.core.manifests import Manifest
from macbot.core.spectral import mel_cepstral_distortion
from macbot.core.voices import bundled_voice
from macbot.errors import ExitCode
from macbot.tools.toolkit import quantizer, trials
from macbot.tools.toolkit.gate import MCD_BOUND_DB, judge
from macbot.tools.toolkit.graph import diff, model_stats
from macbot.tools.toolkit.phrases import CALIBRATION_PHRASES, VERIFY_SENTENCES
from macbot.tools.toolkit.variants import Options, build

FEW = VERIFY_SENTENCES[:2]


@pytest.fixture(scope="session")
def voice():
    return bundled_voice()


@pytest.fixture(scope="session")
def variants(tmp_path_factory, voice) -> dict[str, tuple[Path, Manifest]]:
    """Every method once per session (static calibrated on one phrase to stay fast)."""
    out = tmp_path_factory.mktemp("variants")
    options = Options(
        exclude="conv_post", op_types=["Conv"], calibration_phrases=CALIBRATION_PHRASES[:1]
    )
    made = {}
    for method in quantizer.METHODS:
        made[method] = build(
            method,
            voice,
            voice.model_path,
            out,
            options,
            verify_sentences=FEW[:1],
            # speed is timed once here (the variants benchmark test fills in another)
            speed_rounds=1 if method == "dynamic" else 0,
            speed_sentences=FEW[:1],
        )
    return made


def _run(path: Path, voice) -> np.ndarray:
    from macbot.tools.toolkit.speed import load_engine
    from macbot.tools.toolkit.verifier import render

    return render(load_engine(voice, path), ["Testing one two three."])[0]


@pytest.mark.parametrize("method", quantizer.METHODS)
def test_each_method_makes_a_loadable_model_with_a_complete_manifest(variants, voice, method):
    path, _ = variants[method]
    audio = _run(path, voice)
    assert audio.size > 10_000 and np.isfinite(audio).all()
    loaded = Manifest.load(path)
    assert loaded.method == method
    assert loaded.source_sha256 == file_sha256(voice.model_path)
    assert loaded.sizes["output"] == path.stat().st_size
    assert loaded.sizes["source"] == voice.model_path.stat().st_size
    assert loaded.parameters["voice"] == voice.name
    if method == "dynamic":
        assert loaded.speed["speedup"] > 0 and "by_threads" in loaded.speed
    else:
        assert "macbot bench variants" in loaded.speed["skipped"]
    assert loaded.quality["mcd_db_mean"] >= 0 and loaded.quality["sentences"] == 1
    assert loaded.verdict is not None and loaded.verdict.reasons
    # no WER was measured here, so the gate must not call it usable
    assert loaded.verdict.usable is False
    assert any("WER not measured" in r for r in loaded.verdict.reasons)


def test_int8_variants_are_smaller_and_fp16_is_half(variants):
    sizes = {m: v[1].sizes["output"] / v[1].sizes["source"] for m, v in variants.items()}
    assert sizes["dynamic"] < 0.35 and sizes["static"] < 0.35
    assert 0.45 < sizes["fp16"] < 0.55
    # INT4 reaches nothing in a Piper voice: its MatMuls carry no weights
    int4 = variants["int4"][1].parameters
    assert int4["matmulnbits_nodes"] == 0
    assert int4["coverage"]["params_reachable"] == 0
    assert int4["coverage"]["matmul_nodes"] > 0
    assert "INT4 model is the float one" in int4["note"]


def test_static_excludes_conv_post_and_uses_qdq(variants):
    path, manifest = variants["static"]
    assert manifest.parameters["excluded_nodes"] == ["/dec/conv_post/Conv"]
    model = onnx.load(str(path))
    conv_post = next(n for n in model.graph.node if n.name == "/dec/conv_post/Conv")
    initializers = {t.name: t for t in model.graph.initializer}
    weight = initializers[conv_post.input[1]]  # read directly, not through DequantizeLinear
    assert weight.data_type == onnx.TensorProto.FLOAT
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)


def test_coreml_candidate_says_what_was_prepared(variants):
    params = variants["coreml"][1].parameters
    assert params["compiled"] is False  # this Linux machine has no CoreML
    assert "CoreMLExecutionProvider" in params["note"] and "Mac" in params["note"]
    model = onnx.load(str(variants["coreml"][0]))
    assert model.graph.input[2].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_inspect_groups_and_diff_real_models(variants, voice):
    stats = model_stats(voice.model_path, "op+dtype")
    assert stats.rows[0].group == "Conv (FLOAT)"
    assert stats.params == sum(r.params for r in stats.rows) > 15_000_000
    by_dtype = model_stats(variants["dynamic"][0], "dtype")
    assert {r.group for r in by_dtype.rows} >= {"UINT8", "FLOAT"}
    d = diff(voice.model_path, variants["dynamic"][0])
    assert d.removed["Conv"] > 100 and d.added["ConvInteger"] == d.removed["Conv"]
    assert 0.6 < d.size_reduction < 0.8


def test_inspect_cli_table_and_json(variants, voice, capsys):
    assert main(["inspect", str(voice.model_path), "--by", "op", "--max-rows", "3"]) == 0
    out = capsys.readouterr().out
    assert "Conv" in out and "more rows" in out
    static = variants["static"][0]
    assert main(["inspect", str(voice.model_path), "--diff", str(static), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["diff"]["added"]["QuantizeLinear"] > 0
    assert data["diff"]["size_reduction"] > 0.6


def test_spectral_distance_is_zero_for_identical_and_grows_with_noise(voice):
    audio = _run(voice.model_path, voice)
    rng = np.random.default_rng(0)
    assert mel_cepstral_distortion(audio, audio, 22050) == 0.0
    small = mel_cepstral_distortion(audio, audio + 0.001 * rng.standard_normal(audio.size), 22050)
    large = mel_cepstral_distortion(audio, audio + 0.05 * rng.standard_normal(audio.size), 22050)
    assert 0 < small < large


def test_gate_rules():
    good = {"sentences": 30, "mcd_db_mean": 3.0, "wer_original": 0.05, "wer_variant": 0.07}
    assert judge(good).usable
    assert not judge({**good, "wer_variant": 0.0701 + 0.0001}).usable
    assert not judge({**good, "mcd_db_mean": MCD_BOUND_DB + 0.01}).usable
    assert not judge({"sentences": 30, "mcd_db_mean": 1.0}).usable  # no WER: never usable
    assert any("provisional" in r for r in judge({**good, "sentences": 3}).reasons)


def test_a_rejection_names_the_check_that_failed_not_the_one_that_passed(tmp_path):
    """Issue 19 item 8: the report said "rejected: mel-cepstral distortion 3.17 dB <= bound
    5.00 dB" (the first reason, a pass) and hid the WER failure."""
    from macbot.cli.optimize import rejection

    wer_fails = {"sentences": 32, "mcd_db_mean": 3.17, "wer_original": 0.02, "wer_variant": 0.09}
    verdict = judge(wer_fails)
    assert not verdict.usable
    assert verdict.failures() == ["WER 9.0% > original 2.0% + 2 points"]
    assert "mel-cepstral distortion 3.17 dB <= bound 5.00 dB" in verdict.reasons
    assert judge({**wer_fails, "wer_variant": 0.03}).failures() == []
    both = judge({**wer_fails, "mcd_db_mean": 6.0}).failures()
    assert [r.split()[0] for r in both] == ["mel-cepstral", "WER"]
    # a row of /info or optimize.json, as the pipeline writes it, and one written before
    # verdicts listed their failures
    row = {"verdict": "rejected", "reasons": verdict.reasons, "failed": verdict.failures()}
    assert rejection(row) == ["WER 9.0% > original 2.0% + 2 points"]
    assert rejection({"verdict": "rejected", "reasons": verdict.reasons}) == rejection(row)
    stored = tmp_path / "old.manifest.json"
    stored.write_text(
        json.dumps(
            {
                "method": "static",
                "source": "x",
                "source_sha256": "0",
                "verdict": {"usable": False, "reasons": verdict.reasons},
            }
        )
    )
    old = Manifest.read(stored)
    assert old.verdict is not None and old.verdict.failures() == verdict.failures()


def _noisy_copy(source: Path, target: Path, sigma: float) -> Path:
    """The voice with Gaussian noise added to its raw output (a deliberately broken variant)."""
    model = onnx.load(str(source))
    out = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [f"{out}_clean" if o == out else o for o in node.output]
    model.graph.node.extend(
        [
            helper.make_node("RandomNormalLike", [f"{out}_clean"], ["noise"], scale=sigma),
            helper.make_node("Add", [f"{out}_clean", "noise"], [out]),
        ]
    )
    onnx.save(model, str(target))
    return target


@pytest.mark.slow
def test_gate_accepts_fp16_and_rejects_noise_measured_with_whisper(variants, voice, tmp_path):
    from macbot.tools.toolkit.transcriber import Transcriber
    from macbot.tools.toolkit.variants import reverify

    transcriber = Transcriber()
    sentences = VERIFY_SENTENCES[2:5]
    good = reverify(voice, variants["fp16"][0], voice.model_path, sentences, transcriber, tmp_path)
    assert good.verdict.usable, good.verdict.reasons
    assert good.quality["wer_variant"] <= good.quality["wer_original"] + 0.02
    assert Path(good.quality["wav_variant"]).is_file()
    assert Path(good.quality["wav_original"]).is_file()
    noisy = _noisy_copy(voice.model_path, tmp_path / "noisy.onnx", 0.01)
    bad = reverify(voice, noisy, voice.model_path, sentences, transcriber, None)
    assert not bad.verdict.usable
    assert bad.quality["mcd_db_mean"] > MCD_BOUND_DB
    assert Manifest.load(noisy).verdict.usable is False


def test_trials_csv_estimate_and_export(voice, tmp_path):
    rows = trials.run_trials(voice, voice.model_path, FEW[:1], min_params=400_000, limit=2)
    assert len(rows) == 2 and all(r.distance > 0 and r.op_type == "Conv" for r in rows)
    path = trials.write_csv(rows, tmp_path / "trials.csv")
    with open(path) as handle:
        assert next(csv.reader(handle)) == ["name", "op_type", "distance", "params", "size"]
    assert trials.read_csv(path) == rows
    everything = trials.estimate_size(rows, 63_000_000, threshold=1e9)
    assert everything["nodes"] == 2
    assert everything["estimated_bytes"] == 63_000_000 - sum(r.size * 3 // 4 for r in rows)
    assert trials.estimate_size(rows, 63_000_000, 1e9, exclude=rows[0].name)["nodes"] == 1
    out = tmp_path / "optimized.onnx"
    params = trials.export_by_threshold(voice, voice.model_path, rows, 1e9, out, rows[1].name)
    assert params["quantized_nodes"] == 1
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert ops.count("ConvInteger") == 1
    ort.InferenceSession(str(out))


def test_cli_errors_are_one_line_with_named_codes(tmp_path, capsys, monkeypatch):
    cases = [
        (
            ["quantize", "--model", str(tmp_path / "missing.onnx"), "--dynamic"],
            ExitCode.MODEL_NOT_FOUND,
        ),
        (["quantize", "--int4", "--block-size", "100"], ExitCode.USAGE),
        (["quantize", "--int4", "--accuracy-level", "7"], ExitCode.USAGE),
        (["quantize", "--int4", "--execution-provider", "tpu"], ExitCode.USAGE),
        (["quantize"], ExitCode.USAGE),
        (["inspect", str(tmp_path / "nope.onnx")], ExitCode.MODEL_NOT_FOUND),
        (["estimate-size", "--csv", str(tmp_path / "none.csv")], ExitCode.MODEL_NOT_FOUND),
    ]
    for argv, code in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("macbot: error: ") and "\n" not in err, err
    # a missing optional package names its extra
    monkeypatch.setitem(__import__("sys").modules, "faster_whisper", None)
    fake = tmp_path / "v.onnx"
    fake.write_bytes(b"x")
    assert main(["verify", str(fake), "--sentences", "1"]) == ExitCode.MISSING_EXTRA
    err = capsys.readouterr().err.strip()
    assert "macbot-tts[quality]" in err and "\n" not in err


def test_variants_benchmark_writes_json_markdown_and_plots(variants, tmp_path):
    from benchmarks.variants import PIPER, run_variants

    path = variants["static"][0]
    result = run_variants(
        {"static": path}, threads=(1,), rounds=1, sentences=FEW[:1], out_dir=tmp_path, rss=False
    )
    names = {r["contender"] for r in result["rows"]}
    assert PIPER in names and "static" in names and len(names) == 3
    for name in ("variants.json", "variants.md", "variants_rtf.png", "variants_ttfa.png"):
        assert (tmp_path / name).stat().st_size > 100
    assert Manifest.load(path).speed["measured_by"].startswith("macbot bench variants")


def test_quantize_says_what_to_do_next_without_the_retired_config_key(tmp_path):
    """Issue 19 item 9: `quantize` ended with "Next: set models.tts.piper.quantized_path",
    which ENGINES.md says is no longer needed (variants in optimized_dir are found)."""
    from macbot.cli.quantize import next_step

    optimized = tmp_path / "optimized_models"
    optimized.mkdir()
    measured = Manifest(
        method="static",
        source="x",
        source_sha256="0",
        quality={"wer_variant": 0.02, "wer_original": 0.02, "mcd_db_mean": 2.0},
    )
    inside = next_step(optimized / "joe.static.onnx", measured, optimized)
    assert "quantized_path" not in inside and "nothing to set" in inside
    elsewhere = next_step(tmp_path / "joe.static.onnx", measured, optimized)
    assert f"into {optimized}" in elsewhere and "quantized_path" not in elsewhere
    unmeasured = Manifest(method="static", source="x", source_sha256="0")
    assert "no WER measurement" in next_step(optimized / "joe.static.onnx", unmeasured, optimized)
