"""The background optimizer's pipeline for a Kokoro voice (issue 20 item 3).

The same runner as Piper's (:class:`~.pipeline.Pipeline`: its state, gate, tune and record), with
Kokoro's steps:

1. **durations**: ``kokoro.timed.onnx``, the packaged model with the duration predictor's frames
   per token as an output (:func:`.kokoro_graph.with_durations`): the same audio, plus word
   timings. Exact, but gated like the rest (its MCD is 0).
2. **quantize**: the recipes of :data:`DEFAULT_RECIPES` (:mod:`.kokoro_variants`) built from the
   timed model, so every variant keeps the word timings; ``kokoro.<recipe>.onnx``.
3. **gate**: WER through whisper tiny.en and MCD against the packaged model.
4. **tune**: every candidate timed with the daemon's own session plan; the record in
   ``tune.json`` names the winner, which the engine chain follows (it finds the variants by
   their manifests' source SHA-256, :meth:`~macbot.core.selection.EngineChain.found`).

After the run the winner's figures for ``voice: auto`` are measured again
(:func:`macbot.core.budget.measure`), so ``auto`` sees the faster Kokoro.

Variants are per model, not per voice: the five voices and every blend share them.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import AppConfig
from ..core import budget
from ..core.engines import Engine, registry
from ..core.engines.kokoro import KOKORO
from ..core.manifests import Manifest, changed_files, manifest_path
from ..core.optimization import OptimizationState
from ..core.selection import FOUND, Candidate, onnx_providers
from ..core.voices import VoiceInfo
from .kokoro_graph import with_durations
from .kokoro_variants import build_recipe, calibration_feeds
from .optimizer import optimize
from .pipeline import Built, OptimizeOptions, Pipeline, Report
from .toolkit.phrases import CALIBRATION_PHRASES

_LOGGER = logging.getLogger(__name__)

KOKORO_STEPS = ("durations", "quantize", "gate", "tune")
WEIGHTS = {"durations": 2, "quantize": 20, "gate": 50, "tune": 28}
TIMED = "timed"
DEFAULT_RECIPES = ("static-dec", "static-gen", "float-matmul")
"""Built by default besides the timed model, and left to the gate and the timing to choose
(docs/OPTIMIZATION.md, "Kokoro"; on a quiet 2-core EPYC, 32 gate sentences, 2 threads):

- ``static-dec``: static int8 of the decoder only: 1.60–1.68× kokoro-onnx's speed, WER
  +0.3 points: it passes;
- ``static-gen``: static int8 of everything but ``conv_post``: 1.72–1.75×, but WER +1.8 to
  +2.4 points, at the gate's edge (it failed the 2-point margin in two runs of three);
- ``float-matmul``: float MatMuls and LSTMs, the int8 Convs kept: 0.91–0.96× here (a CPU
  with VNNI runs integer Convs fast); kept for CPUs where dynamic int8 is slow
  (sherpa-onnx#2374).

``macbot bench kokoro-variants`` measures every recipe."""


def variant_file(optimized_dir: Path, recipe: str) -> Path:
    return Path(optimized_dir) / f"kokoro.{recipe}.onnx"


class KokoroOptimizer(Pipeline):
    """One run of the pipeline for a Kokoro voice (see the module docstring); the runner, the
    gate and the tune are :class:`~.pipeline.Pipeline`'s."""

    recipes: tuple[str, ...] = DEFAULT_RECIPES
    _calibration: list[dict] | None = None
    """The static recipes' calibration feeds, once made (see :meth:`_feeds`)."""

    step_names = KOKORO_STEPS
    weights = WEIGHTS

    def steps(self) -> list[Callable[[], object]]:
        return [self.step_durations, self.step_variants, self.step_gate, self.step_tune]

    def after_run(self) -> None:
        self.remeasure_family()

    # -- 1. durations ------------------------------------------------------------------------

    def step_durations(self) -> None:
        self._begin("durations")
        built, reused = self._variant(TIMED, self._make_timed)
        self.run_.built.append(built)
        self._end("durations", "done", "reused (hash matches)" if reused else "made")

    def _make_timed(self, path: Path) -> dict[str, Any]:
        with_durations(self.voice.model_path, path)
        return {"method": "the packaged model with its duration output"}

    # -- 2. variants -------------------------------------------------------------------------

    def step_variants(self) -> None:
        self._begin("quantize")
        made = []
        for i, recipe in enumerate(self.recipes):
            built, reused = self._variant(recipe, lambda path, r=recipe: self._make(r, path))
            self.run_.built.append(built)
            made.append(f"{recipe} ({'reused' if reused else 'made'})")
            self._progress("quantize", (i + 1) / len(self.recipes))
        self._end("quantize", "done", ", ".join(made) or "no recipes")

    def _make(self, recipe: str, path: Path) -> dict[str, Any]:
        timed = variant_file(self.optimized_dir, TIMED)
        scratch = self.optimized_dir / "kokoro.float.scratch.onnx"
        try:
            return build_recipe(recipe, timed, path, scratch, self._feeds)
        finally:
            scratch.unlink(missing_ok=True)

    def _feeds(self) -> list[dict]:
        """The static recipes' calibration feeds, made once per run (each made them anew:
        the timed model loaded and the phrases phonemized once per recipe)."""
        if self._calibration is None:
            timed = variant_file(self.optimized_dir, TIMED)
            engine = registry.load(self.voice, timed, KOKORO, plan=self.work_plan)
            kokoro = engine.kokoro
            self._calibration = calibration_feeds(
                kokoro.tokenizer, kokoro.voices["jm_kumo"], CALIBRATION_PHRASES
            )
        return self._calibration

    def _variant(self, recipe: str, make) -> tuple[Built, bool]:
        """The candidate ``kokoro.<recipe>.onnx``: reused when its manifest matches the source
        and its file's SHA-256, else (re)made by ``make(path)``."""
        path = variant_file(self.optimized_dir, recipe)
        source_sha = self.chain.sha256(self.voice.model_path)
        reused = False
        manifest = None
        if path.is_file() and not self.options.force:
            try:
                manifest = Manifest.load(path)
            except (OSError, ValueError, TypeError):
                manifest = None
            if manifest is not None and (
                manifest.source_sha256 != source_sha
                or changed_files(manifest, path.parent, self.chain.sha256)
            ):
                manifest = None
            reused = manifest is not None
        if manifest is None:
            started = time.perf_counter()
            facts = make(path)
            manifest = Manifest(
                method=f"kokoro-{recipe}",
                source=str(self.voice.model_path),
                source_sha256=source_sha,
                parameters={**facts, "build_seconds": round(time.perf_counter() - started, 1)},
                sizes={
                    "source": Path(self.voice.model_path).stat().st_size,
                    "output": path.stat().st_size,
                },
                files={path.name: self.chain.sha256(path)},
            )
            manifest.save(path)
        self._artifact(path)
        self._artifact(manifest_path(path))
        name = path.name.removesuffix(".onnx")
        cand = Candidate(
            KOKORO, path, KOKORO, onnx_providers(self.chain.facts), name=name, origin=FOUND
        )
        return Built(cand, manifest, reused), reused

    def _open(self, cand: Candidate) -> Engine:
        return registry.load(self.voice, cand.path, KOKORO, plan=self.work_plan)

    # -- after the swap: auto's figures -----------------------------------------------------

    def remeasure_family(self) -> budget.Figures | None:
        """Measure the winner's first audio and real-time factor for ``voice: auto`` and keep
        them (:func:`macbot.core.budget.record`), so ``auto`` sees the faster Kokoro."""
        try:
            engine, decision = self.chain.load(self.voice)
            figures = dataclasses.replace(
                budget.measure(engine), measured_by=f"the optimizer ({decision.winner})"
            )
            key = budget.family_key(
                KOKORO, self.chain.sha256(self.voice.model_path), self.chain.facts
            )
            budget.record(self.optimized_dir, key, figures)
        except Exception as exc:  # the run itself succeeded; auto keeps its older figures
            _LOGGER.warning("could not measure Kokoro's figures after the run: %s", exc)
            return None
        _LOGGER.info(
            "Kokoro on this host after optimizing: first audio %.0f ms, RTF %.3f (%s)",
            figures.first_audio_ms,
            figures.rtf,
            figures.engine,
        )
        return figures


def optimize_voice(
    config: AppConfig,
    voice: VoiceInfo,
    options: OptimizeOptions | None = None,
    report: Report | None = None,
    paused: Callable[[], int] | None = None,
) -> OptimizationState:
    """The pipeline of ``voice``'s family: Kokoro's (:class:`KokoroOptimizer`) or Piper's
    (:func:`.optimizer.optimize`)."""
    if voice.family == KOKORO:
        return KokoroOptimizer(config, voice, options, report, paused).run()
    return optimize(config, voice, options, report, paused)
