"""The CoreML candidate: onnxruntime's CoreML provider, or an ``.mlpackage`` via coremltools.

Only a Mac runs either. On other systems the engine chain rejects the candidate with the
probes' reason; the provider options are built from the probes (tests feed recorded ``sysctl``
outputs of real Macs).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import MissingExtraError, SynthesisError
from ..probes import HostFacts
from ..voices import VoiceInfo
from .piper import PiperEngine, load_voice_config

COREML = "coreml"
"""The engine type of the CoreML candidate."""

EXTRA_HINT = "pip install 'macbot-tts[macos]'"


def compute_units(facts: HostFacts) -> str:
    """``MLComputeUnits`` for CoreML from the probes."""
    if facts.neural_engine and facts.mps:
        return "ALL"
    if facts.neural_engine:
        return "CPUAndNeuralEngine"
    if facts.mps:
        return "CPUAndGPU"
    return "CPUOnly"


def coreml_provider(facts: HostFacts, cache_dir: Path, static: bool) -> tuple[str, dict]:
    """onnxruntime's CoreML provider with its options (names as in onnxruntime's CoreML EP
    docs: ModelFormat, MLComputeUnits, RequireStaticInputShapes, ModelCacheDirectory).

    ``static``: the model's inputs have fixed shapes (the split's static decoder). A whole
    Piper voice takes a variable number of phonemes, so it is never static.
    """
    return (
        "CoreMLExecutionProvider",
        {
            "ModelFormat": "MLProgram",
            "MLComputeUnits": compute_units(facts),
            "RequireStaticInputShapes": "1" if static else "0",
            "ModelCacheDirectory": str(cache_dir),
        },
    )


class MLPackageSession:
    """Enough of an onnxruntime session for :class:`PiperEngine` over a coremltools model."""

    def __init__(self, model: Any, input_names: list[str]) -> None:
        self._model = model
        self._inputs = input_names

    def get_inputs(self) -> list[Any]:
        return [type("Input", (), {"name": n})() for n in self._inputs]

    def get_outputs(self) -> list[Any]:
        """One output, the audio (:meth:`run` returns only it: no phoneme durations)."""
        return [type("Output", (), {"name": "output"})()]

    def get_providers(self) -> list[str]:
        return ["coremltools"]

    def run(self, _names: Any, feed: dict[str, Any], _options: Any = None) -> list[np.ndarray]:
        """The model's output (``_options``: onnxruntime's run options, which CoreML has not)."""
        out = self._model.predict({k: v for k, v in feed.items() if k in self._inputs})
        return [np.asarray(next(iter(out.values())))]


def load_mlpackage(path: Path, voice: VoiceInfo) -> PiperEngine:
    """A :class:`PiperEngine` over an ``.mlpackage`` (macOS, the ``macos`` extra)."""
    try:
        import coremltools as ct
    except ImportError as exc:
        raise MissingExtraError(f"an .mlpackage needs coremltools: {EXTRA_HINT}") from exc
    started = time.perf_counter()
    try:
        model = ct.models.MLModel(str(path))
        names = [i.name for i in model.get_spec().description.input]
    except Exception as exc:  # coremltools raises many types for a bad package
        raise SynthesisError(f"cannot load {path}: {exc}") from exc
    engine = PiperEngine(
        voice, MLPackageSession(model, names), load_voice_config(voice), COREML, path
    )
    engine.load_seconds = time.perf_counter() - started
    return engine
