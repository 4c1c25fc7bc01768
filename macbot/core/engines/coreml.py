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
from ..audio import AudioChunk
from ..probes import HostFacts
from ..voices import VoiceInfo
from .base import Sentence, SynthesisOptions
from .piper import PiperText, PiperTextEngine, finish_sentence, load_voice_config

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


class MLPackageEngine(PiperTextEngine):
    """A Piper voice converted to an ``.mlpackage``, run by coremltools: one prediction per
    sentence, Piper's post-processing, no phoneme durations (the package outputs audio only)."""

    implementation = COREML
    providers = ("coremltools",)
    has_durations = False

    def __init__(self, voice: VoiceInfo, model: Any, path: Path) -> None:
        self.voice = voice
        self.model = model
        self.model_path = path
        self.label = COREML
        self.voice_config = load_voice_config(voice)
        self._inputs = [i.name for i in model.get_spec().description.input]
        self.text = PiperText(self.voice_config, set(self._inputs))
        self.load_seconds = 0.0

    def infer(self, phoneme_ids: list[int], options: SynthesisOptions) -> np.ndarray:
        """The package's audio for one sentence (float32, before peak scaling)."""
        feed = self.model_inputs(phoneme_ids, options)
        try:
            out = self.model.predict({k: v for k, v in feed.items() if k in self._inputs})
        except Exception as exc:  # coremltools raises many types
            raise SynthesisError(f"{self.label} model failed: {exc}") from exc
        return np.asarray(next(iter(out.values())), dtype=np.float32).reshape(-1)

    def synthesize_sentence(self, sentence: Sentence, options: SynthesisOptions) -> AudioChunk:
        return finish_sentence(self, self.infer(sentence.phoneme_ids, options), sentence, options)

    def release_arena(self) -> None:
        """CoreML keeps no onnxruntime arena: nothing to hand back."""


def load_mlpackage(path: Path, voice: VoiceInfo) -> MLPackageEngine:
    """The engine of an ``.mlpackage`` (macOS, the ``macos`` extra)."""
    try:
        import coremltools as ct
    except ImportError as exc:
        raise MissingExtraError(f"an .mlpackage needs coremltools: {EXTRA_HINT}") from exc
    started = time.perf_counter()
    try:
        model = ct.models.MLModel(str(path))
    except Exception as exc:  # coremltools raises many types for a bad package
        raise SynthesisError(f"cannot load {path}: {exc}") from exc
    engine = MLPackageEngine(voice, model, path)
    engine.load_seconds = time.perf_counter() - started
    return engine
