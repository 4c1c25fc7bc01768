"""The engine chain with real broken candidates: it ends on a working engine and says why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import DETERMINISTIC, RecordingOutput, start_server
from onnx import TensorProto, helper
from onnxruntime.quantization import QuantType, quantize_dynamic

from macbot.config import config_from_dict
from macbot.core.engines.coreml import COREML, coreml_provider
from macbot.core.hashing import cached_sha256
from macbot.core.manifests import Manifest, Verdict
from macbot.core.probes import host_facts
from macbot.core.selection import (
    ORIGINAL,
    QUANTIZED,
    Attempt,
    EngineChain,
    save_tune_record,
    tune_key,
)
from macbot.core.synthesizer import Synthesizer
from macbot.core.voices import bundled_voice
from macbot.daemon.state import state_of


@pytest.fixture(scope="session")
def variants(tmp_path_factory) -> dict[str, Path]:
    """Real variant files made once per session: a dynamic-INT8 quantized voice (with its
    manifest), a copy of the voice whose output is multiplied by 0, random bytes, a tiny valid
    ONNX graph of the wrong model."""
    root = tmp_path_factory.mktemp("variants")
    voice = bundled_voice()
    voice_sha = cached_sha256(voice.model_path)
    quant = root / "joe.int8.onnx"
    quantize_dynamic(str(voice.model_path), str(quant), weight_type=QuantType.QUInt8)
    Manifest(
        method="dynamic",
        source=str(voice.model_path),
        source_sha256=voice_sha,
        verdict=Verdict(usable=True, reasons=["test: made in the fixture"]),
    ).save(quant)

    model = onnx.load(str(voice.model_path))
    out = model.graph.output[0]
    zero = helper.make_tensor("zero_scale", TensorProto.FLOAT, [], [0.0])
    model.graph.initializer.append(zero)
    for node in model.graph.node:
        node.output[:] = [f"{o}_pre" if o == out.name else o for o in node.output]
    model.graph.node.append(helper.make_node("Mul", [f"{out.name}_pre", "zero_scale"], [out.name]))
    silent = root / "joe.silent.onnx"
    onnx.save(model, str(silent))

    corrupt = root / "corrupt.onnx"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    tiny = helper.make_model(
        helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "t", [x], [y])
    )
    tiny.opset_import[0].version = 17
    wrong = root / "wrong_model.onnx"
    onnx.save(tiny, str(wrong))
    return {"quant": quant, "silent": silent, "corrupt": corrupt, "wrong": wrong, "root": root}


def _config(tmp_path: Path, **piper):
    data = {
        "models": {
            "tts": {
                "optimized_dir": str(tmp_path / "opt"),
                "piper": {**DETERMINISTIC, **{k: str(v) for k, v in piper.items()}},
            }
        }
    }
    return config_from_dict(data)


def _load(tmp_path: Path, **piper):
    chain = EngineChain(_config(tmp_path, **piper), preoptimize=False)
    return chain.load(bundled_voice())


def _rejected(decision, engine_type: str) -> str:
    attempt = next(a for a in decision.attempts if engine_type in (a.engine_type, a.name))
    assert not attempt.accepted
    return attempt.reason


def test_good_quantized_variant_wins(tmp_path, variants):
    engine, decision = _load(tmp_path, quantized_path=variants["quant"])
    assert decision.winner == QUANTIZED and engine.engine_type == QUANTIZED
    assert decision.mode == "priority"
    assert decision.attempts[0].smoke["peak"] > 0.01


@pytest.mark.parametrize(
    ("which", "reason"),
    [
        ("missing", "file not found"),
        ("corrupt", "load error"),
        ("wrong", "smoke synthesis failed"),
        ("silent", "silent output"),
    ],
)
def test_broken_variant_falls_back_to_original(tmp_path, variants, which, reason):
    path = tmp_path / "nope.onnx" if which == "missing" else variants[which]
    engine, decision = _load(tmp_path, quantized_path=path)
    assert decision.winner == ORIGINAL and engine.engine_type == ORIGINAL
    assert reason in _rejected(decision, QUANTIZED)
    chunk = next(engine.synthesize("Still speaking."))
    assert np.max(np.abs(chunk.samples)) > 0.1


def test_manifest_not_usable_is_rejected(tmp_path, variants):
    model = tmp_path / "q.onnx"
    model.symlink_to(variants["quant"])
    Manifest(
        method="dynamic",
        source="x",
        source_sha256=cached_sha256(bundled_voice().model_path),
        verdict=Verdict(usable=False, reasons=["WER 0.41 > bound 0.05"]),
    ).save(model)
    _, decision = _load(tmp_path, quantized_path=model)
    assert decision.winner == ORIGINAL
    assert "not usable (WER 0.41 > bound 0.05)" in _rejected(decision, QUANTIZED)


def test_manifest_from_another_source_is_rejected(tmp_path, variants):
    model = tmp_path / "q.onnx"
    model.symlink_to(variants["quant"])
    Manifest(
        method="dynamic", source="x", source_sha256="ab" * 32, verdict=Verdict(usable=True)
    ).save(model)
    _, decision = _load(tmp_path, quantized_path=model)
    assert decision.winner == ORIGINAL
    assert "made from another model" in _rejected(decision, QUANTIZED)


def test_fp16_variant_is_not_used_on_cpu(tmp_path, variants):
    model = tmp_path / "q.onnx"
    model.symlink_to(variants["quant"])
    Manifest(
        method="fp16",
        source="x",
        source_sha256=cached_sha256(bundled_voice().model_path),
        verdict=Verdict(usable=True),
    ).save(model)
    _, decision = _load(tmp_path, quantized_path=model)
    assert "FP16" in _rejected(decision, QUANTIZED)


def test_variant_without_manifest_is_used_with_a_warning(tmp_path, variants):
    model = tmp_path / "q.onnx"
    model.symlink_to(variants["quant"])
    _, decision = _load(tmp_path, quantized_path=model)
    assert decision.winner == QUANTIZED
    assert any("no manifest" in w for w in decision.attempts[0].warnings)


def test_coreml_absent_on_linux_gives_its_reason(tmp_path, variants):
    _, decision = _load(tmp_path, coreml_path=variants["quant"])
    reason = _rejected(decision, COREML)
    assert "CoreML unavailable" in reason and "CoreMLExecutionProvider" in reason
    coreml = decision.candidates[0]
    assert coreml["providers"][0].startswith("CoreMLExecutionProvider")
    assert '"ModelFormat": "MLProgram"' in coreml["providers"][0]
    assert decision.winner == ORIGINAL


def test_coreml_compute_units_follow_the_probes(tmp_path):
    from dataclasses import replace

    facts = host_facts()
    apple = replace(facts, neural_engine=True, mps=True)
    name, opts = coreml_provider(apple, tmp_path, static=False)
    assert name == "CoreMLExecutionProvider"
    assert opts["MLComputeUnits"] == "ALL" and opts["RequireStaticInputShapes"] == "0"
    assert coreml_provider(replace(facts, neural_engine=True), tmp_path, True)[1] == {
        "ModelFormat": "MLProgram",
        "MLComputeUnits": "CPUAndNeuralEngine",
        "RequireStaticInputShapes": "1",
        "ModelCacheDirectory": str(tmp_path),
    }
    assert coreml_provider(facts, tmp_path, False)[1]["MLComputeUnits"] == "CPUOnly"


def test_optimize_for_speed_false_means_original(tmp_path, variants):
    config = config_from_dict(
        {
            "models": {
                "tts": {
                    "optimized_dir": str(tmp_path),
                    "piper": {"quantized_path": str(variants["quant"])},
                }
            },
            "voice_assistant": {"performance": {"tts_optimize_for_speed": False}},
        }
    )
    _, decision = EngineChain(config, preoptimize=False).load(bundled_voice())
    assert decision.mode == "original-only" and decision.winner == ORIGINAL
    assert [c["engine_type"] for c in decision.candidates] == [ORIGINAL]


def _record(voice_sha, quant: Path, quant_rtf: float, orig_rtf: float) -> dict:
    slower = quant_rtf > orig_rtf
    return {
        "key": tune_key(voice_sha, host_facts()),
        "winner": ORIGINAL if slower else QUANTIZED,
        "results": [
            {
                "engine_type": QUANTIZED,
                "path": str(quant),
                "sha256": cached_sha256(quant),
                "median_rtf": quant_rtf,
                "chosen_ok": not slower,
                "reason": f"slower than the original (median RTF {quant_rtf} vs {orig_rtf})"
                if slower
                else "faster",
            },
            {
                "engine_type": ORIGINAL,
                "path": str(bundled_voice().model_path),
                "sha256": voice_sha,
                "median_rtf": orig_rtf,
                "chosen_ok": True,
            },
        ],
    }


def test_variant_too_slow_per_tune_record_is_rejected(tmp_path, variants):
    config = _config(tmp_path, quantized_path=variants["quant"])
    voice_sha = cached_sha256(bundled_voice().model_path)
    chain = EngineChain(config, preoptimize=False)
    save_tune_record(chain.tune_path, _record(voice_sha, variants["quant"], 0.5, 0.2))
    _, decision = chain.load(bundled_voice())
    assert decision.mode == "tuned"
    assert decision.winner == ORIGINAL
    assert "tune record: slower than the original" in _rejected(decision, QUANTIZED)


def test_stale_tune_record_falls_back_to_priority(tmp_path, variants):
    config = _config(tmp_path, quantized_path=variants["quant"])
    chain = EngineChain(config, preoptimize=False)
    record = _record(cached_sha256(bundled_voice().model_path), variants["quant"], 0.5, 0.2)
    record["results"][0]["sha256"] = "0" * 64  # the variant changed since tuning
    save_tune_record(chain.tune_path, record)
    _, decision = chain.load(bundled_voice())
    assert decision.mode == "priority" and "stale" in decision.mode_reason
    assert decision.winner == QUANTIZED


def test_preoptimized_model_is_saved_once_and_reused(tmp_path):
    config = _config(tmp_path)
    _, first = EngineChain(config).load(bundled_voice())
    cached = list((tmp_path / "opt" / "ort_cache").glob("*.optimized.onnx"))
    assert len(cached) == 1
    engine, second = EngineChain(config).load(bundled_voice())
    assert any("pre-optimized" in w for w in second.attempts[0].warnings)
    assert engine.model_path == bundled_voice().model_path
    assert second.attempts[0].smoke == first.attempts[0].smoke
    cached[0].write_bytes(b"garbage")  # a damaged cache is rebuilt, not fatal
    _, third = EngineChain(config).load(bundled_voice())
    assert third.winner == ORIGINAL


def test_info_over_http_shows_probes_candidates_and_decision(tmp_path, variants):
    config = _config(tmp_path, quantized_path=variants["corrupt"])
    live, server, thread = start_server(config, RecordingOutput())
    try:
        info = live.get("/info").json()
        perf = live.get("/tts-performance").json()
        spoken = live.post("/speak", json={"text": "Fallback works.", "play": False})
    finally:
        server.request_stop()
        thread.join(timeout=5)
        state_of(live.app).player.close()
    assert info["probes"]["os"] == "Linux"
    assert "coreml" in info["probes"]["absent"]
    decision = info["engine_decision"]
    assert [c["engine_type"] for c in decision["candidates"]] == [QUANTIZED, ORIGINAL]
    assert decision["attempts"][0]["reason"].startswith("load error")
    assert decision["winner"] == ORIGINAL and info["engine"]["engine_type"] == ORIGINAL
    assert perf["engine_type"] == ORIGINAL
    assert perf["engine_decision"]["rejected"][QUANTIZED].startswith("load error")
    assert spoken.status_code == 200


def test_tune_picks_a_winner_and_the_next_daemon_follows_it(tmp_path, variants):
    from macbot.tools.tune import tune

    config = _config(tmp_path, quantized_path=variants["quant"])
    record = tune(config, rounds=1, sentences=["I have set a timer for ten minutes."])
    by_type = {r["engine_type"]: r for r in record["results"]}
    assert set(by_type) == {QUANTIZED, ORIGINAL}
    allowed = [r for r in record["results"] if r["chosen_ok"]]
    assert record["winner"] == min(allowed, key=lambda r: r["median_rtf"])["engine_type"]
    if by_type[QUANTIZED]["median_rtf"] > by_type[ORIGINAL]["median_rtf"]:
        assert record["winner"] == ORIGINAL and not by_type[QUANTIZED]["chosen_ok"]
    stored = json.loads((tmp_path / "opt" / "tune.json").read_text())
    assert len(stored["records"]) == 1
    synth = Synthesizer(config)  # "after a restart": a fresh synthesizer reads the record
    synth.warmup()
    decision = synth.decisions[synth.default_voice.name].to_dict()  # /info's
    assert decision["mode"] == "tuned"
    assert decision["winner"] == record["winner"] == synth.engine().engine_type


def test_tune_cli_rejects_bad_rounds():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "macbot", "tune", "--rounds", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "macbot: error: --rounds must be at least 1 (got 0)"


def test_tune_times_the_sessions_the_daemon_runs():
    """Issue 10: tune measured with the memory arena off while the daemon ran with it on."""
    from macbot.tools.tune import tune_chain

    for performance in ({}, {"tts_memory_arena": False, "tts_intra_op_threads": 1}):
        config = config_from_dict({"voice_assistant": {"performance": performance}})
        synth = Synthesizer(config)
        assert tune_chain(config).plan == synth.plan.session
        chain = tune_chain(config)
        original = chain.candidates(bundled_voice())[-1]
        engine = chain.try_candidate(original, bundled_voice(), Attempt("piper", ""))
        opts = engine.session.get_session_options()
        daemon = synth.engine().session.get_session_options()
        for attr in ("intra_op_num_threads", "enable_cpu_mem_arena", "enable_mem_pattern"):
            assert getattr(opts, attr) == getattr(daemon, attr), attr
        synth.close()


# -- variants found in optimized_dir (issue 12) --------------------------------------------------

MEASURED = {"sentences": 32, "mcd_db_mean": 2.0, "wer_original": 0.033, "wer_variant": 0.033}
"""A quality section as the gate writes it (the chain reads it; the gate itself is tested in
tests/tools)."""


def _found_variant(folder: Path, source: Path, quality: dict | None, source_sha: str | None = None):
    """The session's real dynamic-INT8 voice as ``macbot quantize`` leaves it in ``folder``."""
    from macbot.core.hashing import file_sha256

    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{bundled_voice().name}.dynamic.onnx"
    shutil.copy(source, model)
    Manifest(
        method="dynamic",
        source=str(bundled_voice().model_path),
        source_sha256=source_sha or cached_sha256(bundled_voice().model_path),
        quality=quality or {},
        speed={"speedup": 1.1},
        verdict=Verdict(usable=True, reasons=["test: a verdict the gate wrote"]),
        files={model.name: file_sha256(model)},
    ).save(model)
    return model


def test_a_variant_in_optimized_dir_is_a_candidate_without_any_config(tmp_path, variants):
    """Issue 12, item 2: `macbot quantize` output is used without editing quantized_path, and
    `macbot tune` times it."""
    from macbot.tools.tune import tune

    model = _found_variant(tmp_path / "opt", variants["quant"], MEASURED)
    config = _config(tmp_path)
    engine, decision = EngineChain(config, preoptimize=False).load(bundled_voice())
    assert [c["name"] for c in decision.candidates] == ["dynamic", ORIGINAL]
    assert decision.candidates[0]["origin"] == "optimized_dir"
    assert decision.winner == "dynamic" and engine.model_path == model
    record = tune(config, rounds=1, sentences=["I have set a timer for ten minutes."])
    assert {r["name"] for r in record["results"]} == {"dynamic", ORIGINAL}


def test_a_found_variant_without_a_wer_measurement_is_never_chosen(tmp_path, variants):
    _found_variant(tmp_path / "opt", variants["quant"], {"sentences": 32, "mcd_db_mean": 2.0})
    _, decision = EngineChain(_config(tmp_path), preoptimize=False).load(bundled_voice())
    assert decision.winner == ORIGINAL
    assert "no WER measurement" in _rejected(decision, QUANTIZED)


def test_a_variant_of_another_voice_is_not_a_candidate(tmp_path, variants):
    _found_variant(tmp_path / "opt", variants["quant"], MEASURED, source_sha="ab" * 32)
    chain = EngineChain(_config(tmp_path), preoptimize=False)
    assert [c.name for c in chain.candidates(bundled_voice())] == [ORIGINAL]


def test_the_config_path_stays_an_explicit_override(tmp_path, variants):
    """A configured quantized_path is tried before what is found; the same file found in
    optimized_dir is not a second candidate."""
    found = _found_variant(tmp_path / "opt", variants["quant"], MEASURED)
    _, decision = _load(tmp_path, quantized_path=variants["quant"])
    assert [c["name"] for c in decision.candidates] == [QUANTIZED, "dynamic", ORIGINAL]
    assert decision.winner == QUANTIZED
    _, same = _load(tmp_path, quantized_path=found)
    assert [c["name"] for c in same.candidates] == [QUANTIZED, ORIGINAL]


def test_a_damaged_found_variant_is_rejected_with_the_reason(tmp_path, variants):
    model = _found_variant(tmp_path / "opt", variants["quant"], MEASURED)
    with open(model, "r+b") as handle:  # flip bytes in place: the size stays the same
        handle.seek(1000)
        handle.write(b"\0" * 64)
    _, decision = EngineChain(_config(tmp_path), preoptimize=False).load(bundled_voice())
    assert decision.winner == ORIGINAL
    assert "changed since the manifest was written" in _rejected(decision, QUANTIZED)
