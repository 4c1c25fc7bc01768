"""Issue 20 item 3: onnxruntime's CoreML provider on Kokoro, probed once per host in a child
process and used only when correct and faster; every failure falls back to the CPU with its
reason.

This Linux machine has no CoreML: the host is a recorded M1 (``sysctl hw``, tests/fixtures/)
whose onnxruntime lists the provider, and the provider's side of the probe is a recorded
outcome of peers' reports (tests/fixtures/coreml_child.py) inside the real child process. The
CPU side is the real packaged Kokoro model through real onnxruntime. No timing is asserted:
the recorded outcomes add 30 s of clock time to one side.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import make_config
from host_recordings import FIXTURES, m1_with_coreml

from macbot.config import KokoroSettings
from macbot.core import coreml_probe
from macbot.core.coreml_probe import (
    PROVIDER,
    ChildProcess,
    ProbeRequest,
    ProbeResult,
    ProviderFailed,
    judge,
)
from macbot.core.engines import SynthesisOptions, registry
from macbot.core.engines.coreml import COREML, coreml_provider
from macbot.core.probes import host_facts
from macbot.core.selection import Attempt, CandidateRejected, EngineChain
from macbot.core.voices import kokoro_voice
from macbot.errors import ModelUnsupportedError

CHILD = FIXTURES / "coreml_child.py"
SQUEEZE = "RegisterModelInputOutput Unable to get shape for output: /Squeeze_output_0"


def recorded_child(outcome: str):
    """The real child process with the provider's side as ``outcome``; the probe kept short
    (one timed run of two words: the verdicts do not depend on it)."""
    child = ChildProcess([sys.executable, str(CHILD), outcome])

    def run(request: ProbeRequest) -> ProbeResult:
        return child(replace(request, runs=1, warmup_text="Hi.", text="Turn left."))

    return run


class NotCalled:
    """A child that must not run."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: ProbeRequest) -> ProbeResult:
        self.calls += 1
        raise AssertionError("the probe ran")


@pytest.fixture(scope="module")
def voice():
    return kokoro_voice("jm_kumo", KokoroSettings())


def _chain(tmp_path: Path, facts, child) -> EngineChain:
    config = make_config(tmp_path, models__tts__optimized_dir=str(tmp_path / "optimized"))
    return EngineChain(config, facts=facts, coreml_child=child)


def _coreml_attempt(decision):
    (attempt,) = [a for a in decision.attempts if a.name == COREML]
    return attempt


def test_provider_not_listed_is_not_probed(tmp_path, voice):
    """Linux: the candidate is listed with one reason, and no child is started."""
    facts = host_facts()
    assert PROVIDER not in facts.providers
    child = NotCalled()
    chain = _chain(tmp_path, facts, child)
    cands = chain.candidates(voice)
    assert cands[0].name == COREML and cands[-1].name == "kokoro"
    # tune compares with the model on the CPU, never with the model on CoreML
    assert [c.name for c in cands if c.is_original] == ["kokoro"]
    engine, decision = chain.load(voice)
    attempt = _coreml_attempt(decision)
    assert not attempt.accepted and attempt.probe is None
    assert attempt.reason.startswith("CoreML unavailable") and PROVIDER in attempt.reason
    assert decision.winner == "kokoro" and engine.providers == ["CPUExecutionProvider"]
    assert child.calls == 0
    found = coreml_probe.verdict(
        voice,
        voice.model_path,
        "kokoro",
        facts=facts,
        optimized_dir=tmp_path,
        model_sha256="x",
        provider=coreml_provider(facts, tmp_path, static=False),
        child=child,
    )
    assert not found.probed and not found.use and child.calls == 0
    assert "not probed" in found.reason and PROVIDER in found.reason


FALLBACKS = [
    (
        "session_error",
        f"making the {PROVIDER} session failed: [ONNXRuntimeError] : 1 : FAIL : "
        f"model_builder.cc:768 {SQUEEZE}",
    ),
    (
        "crash",
        "the probe's child process died by SIGABRT: libc++abi: terminating due to uncaught "
        f"exception of type Ort::Exception: model_builder.cc:760 {SQUEEZE}",
    ),
    ("slower", "not faster than the CPU"),
    ("differs", "its audio differs from the CPU's: mel-cepstral distortion"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("outcome", "reason"), FALLBACKS, ids=[o for o, _ in FALLBACKS])
def test_each_failure_falls_back_to_the_cpu_with_its_reason(tmp_path, voice, outcome, reason):
    facts = m1_with_coreml()
    chain = _chain(tmp_path, facts, recorded_child(outcome))
    engine, decision = chain.load(voice)
    attempt = _coreml_attempt(decision)
    assert not attempt.accepted
    assert attempt.reason.startswith("CoreML probe: ")
    assert reason in attempt.reason
    assert attempt.probe["probed"] and not attempt.probe["use"]
    assert decision.winner == "kokoro" and engine.providers == ["CPUExecutionProvider"]
    # Kept for this host: the next start reads the verdict instead of probing again.
    child = NotCalled()
    again = coreml_probe.verdict(
        voice,
        voice.model_path,
        "kokoro",
        facts=facts,
        optimized_dir=chain.optimized_dir,
        model_sha256=chain.sha256(voice.model_path),
        provider=coreml_provider(facts, chain.optimized_dir / "coreml_cache", static=False),
        child=child,
    )
    assert again.cached and reason in again.reason and child.calls == 0
    assert coreml_probe.status(chain.config.tts, facts)["reason"] == again.reason


@pytest.mark.slow
def test_correct_and_faster_is_used(tmp_path, voice):
    """A provider as fast as the recorded outcome makes it passes, and the chain goes on to
    open the model with the CoreML provider (which only this Linux machine then lacks)."""
    facts = m1_with_coreml()
    chain = _chain(tmp_path, facts, recorded_child("faster"))
    with warnings.catch_warnings():
        # onnxruntime warns, then runs without a provider it does not have: made an error here,
        # so that the load fails as the missing provider (and not silently on the CPU)
        warnings.simplefilter("error")
        engine, decision = chain.load(voice)
    attempt = _coreml_attempt(decision)
    assert attempt.probe["use"] and attempt.probe["figures"]["mcd_db"] == 0.0
    assert attempt.probe["reason"].startswith("correct (MCD 0.00 dB) and faster")
    assert "load error" in attempt.reason and f"'{PROVIDER}' is not in available" in attempt.reason
    assert decision.winner == "kokoro" and engine.providers == ["CPUExecutionProvider"]


@pytest.mark.slow
def test_the_real_child_on_linux_sees_onnxruntime_drop_the_provider(voice, tmp_path):
    """The real child process (``python -m macbot.core.coreml_probe``) on the real model:
    onnxruntime here has no CoreML, so it runs the provider's session on the CPU, which the
    verdict says."""
    request = ProbeRequest(
        voice,
        voice.model_path,
        "kokoro",
        coreml_provider(m1_with_coreml(), tmp_path, static=False),
        runs=1,
        text="Turn left.",
    )
    found = coreml_probe.probe(request)
    assert not found.use and found.probed
    assert found.reason == (
        f"onnxruntime ran the session without {PROVIDER} (its providers: CPUExecutionProvider)"
    )
    assert found.figures["runs"] == 1 and found.figures["cpu_ms"] > 0


@pytest.fixture(scope="module")
def cpu_audio(voice) -> np.ndarray:
    engine = registry.load(voice)
    (sentence,) = engine.sentences("Turn left.")
    return np.asarray(engine.infer(sentence.phoneme_ids, SynthesisOptions()))


def _result(cpu: np.ndarray, out: np.ndarray) -> ProbeResult:
    return ProbeResult(24_000, cpu, out, (1.0,), (0.5,), (PROVIDER, "CPUExecutionProvider"), 2, 1)


def test_judge_checks_length_samples_and_closeness(cpu_audio):
    assert judge(_result(cpu_audio, cpu_audio)).use
    shorter = judge(_result(cpu_audio, cpu_audio[: int(cpu_audio.size * 0.9)]))
    assert not shorter.use and "its audio lasts" in shorter.reason
    broken = cpu_audio.copy()
    broken[100] = np.nan
    assert "non-finite" in judge(_result(cpu_audio, broken)).reason
    fp16 = cpu_audio.astype(np.float16).astype(np.float32)
    assert judge(_result(cpu_audio, fp16)).use  # rounding is not a difference


def test_status_reads_what_was_recorded(tmp_path, voice):
    """``/info`` and ``macbot doctor`` show the stored verdict; on this Linux host, why the
    provider is not probed."""
    config = make_config(tmp_path, models__tts__optimized_dir=str(tmp_path / "optimized"))
    linux = coreml_probe.status(config.tts)
    assert not linux["probed"] and PROVIDER in linux["reason"]
    facts = m1_with_coreml()
    assert coreml_probe.status(config.tts, facts)["reason"].startswith("not probed yet")

    def refuses(request: ProbeRequest) -> ProbeResult:
        raise ProviderFailed("the probe did not finish in 300 s (stopped)")

    chain = EngineChain(config, facts=facts, coreml_child=refuses)
    cand = chain.candidates(voice)[0]
    with pytest.raises(CandidateRejected, match="did not finish in 300 s"):
        chain.try_candidate(cand, voice, Attempt(COREML, str(cand.path)))
    shown = coreml_probe.status(config.tts, facts)
    assert shown["probed"] and not shown["use"] and shown["cached"]
    assert shown["reason"] == "the probe did not finish in 300 s (stopped)"


def test_no_mlpackage_engine_for_kokoro_says_why(voice, tmp_path):
    with pytest.raises(ModelUnsupportedError, match=r"no \.mlpackage engine for Kokoro"):
        registry.load(voice, tmp_path / "kokoro.mlpackage", "mlpackage")
