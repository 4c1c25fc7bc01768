"""``macbot optimize``: from a voice to the fastest engine that keeps its quality, on this host.

The pipeline (each step reports into an :class:`~macbot.core.optimization.OptimizationState`):

1. **split** the voice into encoder and decoder (:mod:`.split`; exact, so no gate needed) for
   streaming inside sentences. A voice the split cannot handle (a multi-speaker voice) skips
   it with the reason, and the whole model is quantized instead.
2. **calibrate**: real inputs for static quantization: the encoder's phoneme feeds and the
   decoder's latents for the calibration phrases, spoken with noise 0 and with the voice's
   own noise scales (ranges must cover what the daemon will say).
3. **trials**: per-node static quantization trials of the decoder (:mod:`.toolkit.static_trials`,
   seed 003's method applied to activations): starting from every node quantized, each node
   is kept in float alone; the nodes whose float form brings the spectral distance down the
   most stay float in the ``trials`` decoder.
4. **quantize**: the candidates: the encoder in static QDQ, the decoder in static QDQ (Convs
   only, and per the trials), paired as ``<voice>.split/<tag>/`` folders the engine chain
   finds; or, without a split, the whole model in the toolkit's best static form.
5. **gate**: every candidate against the original on the verification sentences: WER through
   whisper tiny.en and mel-cepstral distortion (:mod:`.toolkit.gate`); the verdict goes into
   the candidate's manifest. Without the quality packages no lossy candidate can pass.
6. **coreml**: on a Mac with CoreML, the static-shape decoder and a pair whose decoder runs on
   CoreML; elsewhere skipped with the probes' reason.
7. **tune**: every candidate (the config's, those found in ``optimized_dir``, the original)
   timed with the daemon's own session plan (:mod:`.tune`); the winner is recorded in
   ``tune.json``, which the engine chain follows.

Artifacts that exist and still match their manifests' SHA-256 are reused, so a second run is
quick and a damaged file is rebuilt. The final state goes to ``optimize.json``.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ..config import AppConfig
from ..core.engines import Engine, SynthesisOptions, registry
from ..core.engines.chunked import (
    CHUNKED,
    DECODER_FILE,
    ENCODER_FILE,
    SPLIT_VARIANT,
    ChunkedEngine,
    find_split,
    split_dir_for,
    static_decoder_file,
)
from ..core.engines.piper import load_voice_config
from ..core.manifests import FOLDER_MANIFEST, Manifest, Verdict, changed_files, manifest_path
from ..core.optimization import (
    OptimizationState,
    check,
    now_iso,
    save_state,
)
from ..core.selection import FOUND, ORIGINAL, QUANTIZED, Candidate, EngineChain, onnx_providers
from ..core.sessions import SessionPlan
from ..core.voices import VoiceInfo
from ..errors import MissingExtraError, ModelUnsupportedError
from .split import SPLIT_FORMAT, export_static_decoder, split_format, split_voice
from .toolkit import static_trials
from .toolkit.gate import MCD_BOUND_DB, WER_MARGIN_POINTS, judge
from .toolkit.graph import load_model
from .toolkit.phrases import CALIBRATION_PHRASES, VERIFY_SENTENCES
from .toolkit.transcriber import Transcriber
from .toolkit.variants import Options, make, variant_path
from .toolkit.verifier import Reference, compare, reference
from .tune import TUNE_SENTENCES, tune

_LOGGER = logging.getLogger(__name__)

WEIGHTS = {
    "split": 0.05,
    "calibrate": 0.05,
    "trials": 0.2,
    "quantize": 0.1,
    "gate": 0.45,
    "coreml": 0.0,
    "tune": 0.15,
}
"""Share of the whole run each step takes (for the overall progress)."""

ENCODER_Q = "encoder.static.onnx"
"""The static QDQ encoder (every op: 1.2 dB from the float encoder on the joe voice)."""


def decoder_file(recipe: str) -> str:
    """The decoder file of a recipe (``float``: the split's own decoder)."""
    return DECODER_FILE if recipe == "float" else f"decoder.{recipe}.onnx"


@dataclass(frozen=True)
class Recipe:
    """One candidate pair: which encoder and which decoder."""

    tag: str
    encoder: str
    """File in the split folder."""
    decoder: str
    """``conv`` (Convs in QDQ, ``conv_post`` float), ``trials`` (every op in QDQ except
    ``conv_post`` and the nodes the trials keep in float), ``all`` (every op but
    ``conv_post``) or ``float`` (not quantized)."""


RECIPES = {
    r.tag: r
    for r in (
        Recipe("q-conv", ENCODER_Q, "conv"),
        Recipe("q-trials", ENCODER_Q, "trials"),
        Recipe("q-all", ENCODER_Q, "all"),
        Recipe("q-enc", ENCODER_Q, "float"),
        Recipe("dec-conv", ENCODER_FILE, "conv"),
        Recipe("dec-trials", ENCODER_FILE, "trials"),
        Recipe("dec-all", ENCODER_FILE, "all"),
    )
}
"""Every pair the pipeline knows: ``q-*`` quantize the encoder (``q-enc``: only the
encoder), ``dec-*`` only the decoder (float encoder: cheap to build, for small runs)."""

SEEDED_STEPS = ("calibrate", "trials", "quantize")
"""Steps that run the models with the voice's own noise (calibration latents, the encoder's
activation ranges): each starts from :data:`SEED`, so the same voice on the same host always
gets the same variants and the same gate verdicts (unseeded, two runs on this machine kept 8
and 6 decoder nodes float and the gate passed ``q-trials`` once and refused it once)."""

SEED = 20261124

DEFAULT_RECIPES = ("q-conv", "q-trials", "dec-conv")
"""The pairs built for every splittable voice. ``dec-conv`` (float encoder, the same INT8
decoder as ``q-conv``) costs one more gate run: on the gate's own 32 sentences the pairs with a
quantized encoder measured +3.3 to +3.9 WER points once (the duration predictor's rounding
moves words), so without it a fresh install could end with no lossy candidate at all."""


@dataclass
class OptimizeOptions:
    """What the pipeline measures on (tests make it small; the defaults are the real thing)."""

    gate_sentences: Sequence[str] = tuple(VERIFY_SENTENCES)
    """Sentences of the quality gate (30 or more for a verdict that is not provisional)."""
    calibration_phrases: Sequence[str] = tuple(CALIBRATION_PHRASES[:8])
    trial_phrases: Sequence[str] = tuple(CALIBRATION_PHRASES[8:12])
    """The decoder trials' test phrases (not the gate's sentences)."""
    trial_keep_db: float = 0.05
    """The trials keep a node in float when that alone lowers the distance by more than this."""
    recipes: Sequence[Recipe] = tuple(RECIPES[t] for t in DEFAULT_RECIPES)
    whole_model: bool | None = None
    """Also quantize the whole model (``None``: only when the voice cannot be split)."""
    tune_rounds: int = 3
    tune_sentences: Sequence[str] = tuple(TUNE_SENTENCES)
    threads: int = 0
    """onnxruntime threads for building and checking (0: every core; the daemon's child: 1).
    Timing always uses the daemon's own session plan."""
    wer_margin_points: float = WER_MARGIN_POINTS
    mcd_bound_db: float = MCD_BOUND_DB
    coreml: bool = True
    force: bool = False
    """Rebuild and re-measure everything."""


Report = Callable[[OptimizationState], None]


@dataclass
class Built:
    """A candidate the pipeline made: its engine-chain candidate and manifest."""

    candidate: Candidate
    manifest: Manifest
    reused: bool = False


@dataclass
class Run:
    """Everything one run made (files for the record, candidates)."""

    artifacts: dict[str, str] = field(default_factory=dict)
    built: list[Built] = field(default_factory=list)


class Optimizer:
    """One run of the pipeline for one voice (see the module docstring)."""

    def __init__(
        self,
        config: AppConfig,
        voice: VoiceInfo,
        options: OptimizeOptions | None = None,
        report: Report | None = None,
        paused: Callable[[], int] | None = None,
    ) -> None:
        self.config = config
        self.voice = voice
        self.options = options or OptimizeOptions()
        self.report = report or (lambda _state: None)
        self.paused = paused
        self.chain = EngineChain(config, preoptimize=False)
        self.work_plan = SessionPlan(intra_op_threads=self.options.threads)
        self.work_chain = EngineChain(config, self.work_plan, self.chain.facts, preoptimize=False)
        self.optimized_dir = self.chain.optimized_dir
        self.split_dir = split_dir_for(voice, self.optimized_dir)
        self.state = OptimizationState(voice=voice.name)
        self.run_ = Run()
        self._calibration: dict[str, list[dict[str, np.ndarray]]] = {}
        self._keep_float: list[str] | None = None

    # -- reporting -------------------------------------------------------------------------

    def _emit(self) -> None:
        done = sum(
            WEIGHTS.get(s.name, 0) * (1.0 if s.state in ("done", "skipped") else s.progress)
            for s in self.state.steps
        )
        self.state.progress = round(min(1.0, done / sum(WEIGHTS.values())), 3)
        self.report(self.state)

    def _begin(self, name: str) -> None:
        step = self.state.step_named(name)
        step.state, step.progress = "running", 0.0
        self.state.step = name
        self._started = time.perf_counter()
        if name in SEEDED_STEPS:
            ort.set_seed(SEED)
        self._emit()

    def _progress(self, name: str, fraction: float) -> None:
        self.state.step_named(name).progress = round(min(1.0, fraction), 3)
        self._emit()

    def _end(self, name: str, state: str, reason: str) -> None:
        step = self.state.step_named(name)
        step.state, step.reason = state, reason
        step.progress = 1.0
        step.seconds = round(time.perf_counter() - self._started, 1)
        _LOGGER.info("optimize %s: %s %s (%s)", self.voice.name, name, state, reason)
        self._emit()

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> OptimizationState:
        """Run every step; returns the final state (also stored in ``optimize.json``)."""
        self.state.state = "running"
        self.state.started_at = now_iso()
        self.optimized_dir.mkdir(parents=True, exist_ok=True)
        try:
            split_ok = self.step_split()
            self.step_calibrate(split_ok)
            self.step_trials(split_ok)
            self.step_quantize(split_ok)
            self.step_gate()
            self.step_coreml(split_ok)
            record = self.step_tune()
        except Exception as exc:  # recorded as a failed run (stopping, e.g. SIGTERM, is not)
            failed = self.state.step or "?"
            if self.state.step_named(failed).state == "running":
                self._end(failed, "failed", one_line(exc))
            self.state.state = "failed"
            self.state.step = None
            self.state.finished_at = now_iso()
            self.state.reason = f"{failed} failed: {one_line(exc)}"
            self._save()
            self.report(self.state)
            raise
        self._finish(record)
        return self.state

    def _save(self) -> None:
        save_state(self.chain, self.voice, self.state, self.run_.artifacts)

    def _artifact(self, path: Path) -> None:
        """Record ``path`` (its SHA-256, by its path relative to ``optimized_dir``)."""
        rel = str(Path(path).resolve().relative_to(self.optimized_dir.resolve()))
        self.run_.artifacts[rel] = self.chain.sha256(Path(path))

    # -- 1. split ----------------------------------------------------------------------------

    def step_split(self) -> bool:
        """The voice's float split (reused when valid). Returns whether there is one."""
        self._begin("split")
        if not self.config.tts.streaming.enabled:
            self._end(
                "split",
                "skipped",
                "models.tts.streaming.enabled is false: whole sentences from one model",
            )
            return False
        folder = find_split(self.voice, self.optimized_dir)
        if (
            folder is not None
            and not self.options.force
            and self._intact(folder)
            and split_format(folder) >= SPLIT_FORMAT  # older ones lack the phoneme durations
        ):
            reason = f"reused {folder.name} (source hash and files match)"
        else:
            try:
                split_voice(self.voice, self.optimized_dir)
            except ModelUnsupportedError as exc:
                self._end("split", "skipped", f"this voice cannot be split: {exc}")
                return False
            folder = self.split_dir
            reason = f"made {folder.name} (encoder → decoder equals the model)"
        manifest = Manifest.load(folder)
        if not manifest.files:  # made before manifests recorded their files
            manifest.files = {
                name: self.chain.sha256(folder / name) for name in (ENCODER_FILE, DECODER_FILE)
            }
            manifest.save(folder)
        for name in (ENCODER_FILE, DECODER_FILE, FOLDER_MANIFEST):
            self._artifact(folder / name)
        self._end("split", "done", reason)
        return True

    def _intact(self, folder: Path, manifest: Manifest | None = None) -> bool:
        """The files of a manifest (in ``folder``) are all there with their SHA-256."""
        try:
            manifest = manifest or Manifest.load(folder)
        except (OSError, ValueError, TypeError):
            return False
        return not changed_files(manifest, folder, self.chain.sha256)

    # -- 2. calibrate ------------------------------------------------------------------------

    def step_calibrate(self, split_ok: bool) -> None:
        """Calibration inputs: encoder feeds, decoder latents (calibration and trial sets)."""
        self._begin("calibrate")
        original = registry.load(self.voice, plan=self.work_plan)
        spoken = SynthesisOptions()
        exact = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
        phrases = list(self.options.calibration_phrases)
        feeds = [
            original.model_inputs(sentence.phoneme_ids, options)
            for text in phrases
            for sentence in original.sentences(text)
            for options in (exact, spoken)
        ]
        self._calibration["model"] = feeds
        if split_ok:
            engine = self._pair_engine(self.split_dir, self.work_plan)
            name = engine.decoder.get_inputs()[0].name
            self._calibration["encoder"] = [
                {k: v for k, v in f.items() if k in {i.name for i in engine.encoder.get_inputs()}}
                for f in feeds
            ]
            latents = []
            for i, feed in enumerate(self._calibration["encoder"]):
                latents.append({name: engine.encoder.run(None, feed)[0]})
                self._progress("calibrate", 0.8 * (i + 1) / len(feeds))
            self._calibration["decoder"] = latents
            self._calibration["decoder_tests"] = [
                {name: engine.latent(s.phoneme_ids, exact)}
                for text in self.options.trial_phrases
                for s in engine.sentences(text)
            ]
        self._end("calibrate", "done", f"{len(feeds)} inputs from {len(phrases)} phrases")

    # -- 3. trials ---------------------------------------------------------------------------

    def step_trials(self, split_ok: bool) -> None:
        """Per-node static trials of the decoder, ``drop`` mode: which nodes to keep float."""
        self._begin("trials")
        if not split_ok or not any(r.decoder == "trials" for r in self.options.recipes):
            self._end(
                "trials",
                "skipped",
                "no split decoder to try" if not split_ok else "no recipe uses them",
            )
            return
        target = self.split_dir / decoder_file("trials")
        existing = self._part_manifest(target, self.split_dir / DECODER_FILE)
        if existing is not None:
            self._keep_float = list(existing.parameters.get("float_nodes", []))
            self._end("trials", "done", f"reused: {len(self._keep_float)} nodes kept in float")
            return
        subject = self._decoder_subject()
        nodes = static_trials.trial_nodes(subject.model)
        rows = []

        def done(row: static_trials.TrialRow) -> None:
            rows.append(row)
            self._progress("trials", len(rows) / max(len(nodes), 1))

        bases, _ = static_trials.run_trials(
            subject, "drop", nodes, threads=self.options.threads, reps=0, done=done
        )
        _quantized, kept = static_trials.select(
            rows, self.options.trial_keep_db, "drop", load_model(subject.model)
        )
        self._keep_float = kept
        static_trials.write_csv(rows, self.split_dir / "decoder-trials.csv")
        self._trial_bases = bases
        self._end(
            "trials",
            "done",
            f"{len(rows)} nodes tried; keeping {len(kept)} in float "
            f"(all-QDQ decoder {bases['all'].distance_db:.2f} dB from float, "
            f"Conv-only {bases['conv'].distance_db:.2f} dB)",
        )

    def _decoder_subject(self) -> static_trials.Subject:
        return static_trials.Subject(
            self.split_dir / DECODER_FILE,
            self._calibration["decoder"],
            self._calibration["decoder_tests"],
            lambda outputs: outputs[0].reshape(-1),
            self._sample_rate(),
        )

    def _sample_rate(self) -> int:
        return load_voice_config(self.voice).sample_rate

    # -- 4. quantize -------------------------------------------------------------------------

    def step_quantize(self, split_ok: bool) -> None:
        """Quantized parts and the candidates made of them (reused when intact)."""
        self._begin("quantize")
        made: list[str] = []
        recipes = list(self.options.recipes) if split_ok else []
        encoders = sorted({r.encoder for r in recipes if r.encoder != ENCODER_FILE})
        decoders = sorted({r.decoder for r in recipes if r.decoder != "float"})
        total = len(encoders) + len(decoders) + len(recipes) + 1
        done = 0
        for name in encoders:
            made.append(self._quantize_encoder(self.split_dir / name))
            done += 1
            self._progress("quantize", done / total)
        for recipe in decoders:
            made.append(self._quantize_decoder(recipe))
            done += 1
            self._progress("quantize", done / total)
        for recipe in recipes:
            self.run_.built.append(self._pair(recipe))
            done += 1
        whole = self.options.whole_model
        if whole or (whole is None and not split_ok):
            self.run_.built.append(self._whole_model())
            made.append("the whole model (static QDQ, Convs)")
        self._end(
            "quantize",
            "done",
            "; ".join(made) + f"; {len(self.run_.built)} candidates"
            if made
            else "nothing to quantize",
        )

    def _part_manifest(self, part: Path, source: Path) -> Manifest | None:
        """The manifest of a quantized part when it is intact and made from ``source`` as it
        is now (else ``None``: rebuild)."""
        if self.options.force:
            return None
        try:
            manifest = Manifest.load(part)
        except (OSError, ValueError, TypeError):
            return None
        if manifest.source_sha256 != self.chain.sha256(source):
            return None
        return manifest if self._intact(part.parent, manifest) else None

    def _quantize_encoder(self, target: Path) -> str:
        source = self.split_dir / ENCODER_FILE
        if self._part_manifest(target, source) is None:
            subject = static_trials.Subject(
                source, self._calibration["encoder"], [], lambda o: o[0], self._sample_rate()
            )
            static_trials.quantize_nodes(subject, target, None)
            self._part_record(target, source, "static", {"ops": "all", "format": "QDQ"})
            result = f"made {target.name}"
        else:
            result = f"reused {target.name}"
        self._artifact(target)
        self._artifact(manifest_path(target))
        return result

    def _quantize_decoder(self, recipe: str) -> str:
        source = self.split_dir / DECODER_FILE
        target = self.split_dir / decoder_file(recipe)
        if self._part_manifest(target, source) is None:
            subject = self._decoder_subject()
            always = static_trials.ALWAYS_FLOAT
            model_nodes = static_trials.trial_nodes(source, exclude=None)
            post = [n for n, _ in model_nodes if re.search(always, n)]
            if recipe == "conv":
                convs = [n for n, op in model_nodes if op == "Conv" and n not in post]
                static_trials.quantize_nodes(subject, target, convs, post)
                params: dict[str, Any] = {"ops": "Conv", "float_nodes": post}
            elif recipe == "all":
                static_trials.quantize_nodes(subject, target, None, post)
                params = {"ops": "all", "float_nodes": post}
            else:
                kept = list(self._keep_float or [])
                static_trials.quantize_nodes(subject, target, None, [*post, *kept])
                params = {"ops": "all", "float_nodes": kept, "always_float": post}
            self._part_record(target, source, "static", {"format": "QDQ", **params})
            result = f"made {target.name}"
        else:
            result = f"reused {target.name}"
        self._artifact(target)
        self._artifact(manifest_path(target))
        return result

    def _part_record(self, target: Path, source: Path, method: str, params: dict) -> None:
        Manifest(
            method=method,
            source=str(source),
            source_sha256=self.chain.sha256(source),
            parameters=params,
            sizes={"source": source.stat().st_size, "output": target.stat().st_size},
            verdict=Verdict(False, ["a part: judged as a pair (see the pair's manifest)"]),
            files={target.name: self.chain.sha256(target)},
        ).save(target)

    def _pair(self, recipe: Recipe) -> Built:
        """The pair folder ``<voice>.split/<tag>/``: its manifest names the two files."""
        folder = self.split_dir / recipe.tag
        encoder = f"../{recipe.encoder}"
        decoder = f"../{decoder_file(recipe.decoder)}"
        split = Manifest.load(self.split_dir)
        files = {
            name: self.chain.sha256(folder.parent / name.removeprefix("../"))
            for name in (encoder, decoder)
        }
        cand = Candidate(CHUNKED, folder, "split", name=f"split/{recipe.tag}", origin=FOUND)
        try:
            old = Manifest.load(folder)
        except (OSError, ValueError, TypeError):
            old = None
        if old is not None and old.files == files and not self.options.force:
            return Built(cand, old, reused=True)
        folder.mkdir(parents=True, exist_ok=True)
        manifest = Manifest(
            method=SPLIT_VARIANT,
            source=str(self.voice.model_path),
            source_sha256=self.chain.sha256(self.voice.model_path),
            parameters={
                "voice": self.voice.name,
                "encoder": encoder,
                "decoder": decoder,
                "hop_length": split.parameters["hop_length"],
                "gain": split.parameters.get("gain", 1.0),
                "recipe": recipe.tag,
            },
            sizes={
                "source": self.voice.model_path.stat().st_size,
                "output": sum(
                    (folder.parent / n.removeprefix("../")).stat().st_size for n in files
                ),
            },
            verdict=Verdict(False, ["not measured yet"]),
            files=files,
        )
        manifest.save(folder)
        return Built(cand, manifest)

    def _whole_model(self) -> Built:
        """The toolkit's best usable static form of the whole model (Convs in QDQ, conv_post
        float), calibrated on the calibration phrases."""
        source = self.voice.model_path
        target = variant_path(self.optimized_dir, source, "static")
        name = target.name.removesuffix(".onnx").removeprefix(f"{self.voice.name}.")
        cand = Candidate(
            QUANTIZED, target, "onnx", onnx_providers(self.chain.facts), name=name, origin=FOUND
        )
        try:
            old = Manifest.load(target)
        except (OSError, ValueError, TypeError):
            old = None
        if (
            old is not None
            and not self.options.force
            and old.source_sha256 == self.chain.sha256(source)
            and old.files
            and self._intact(target.parent, old)
        ):
            built = Built(cand, old, reused=True)
        else:
            options = Options(
                exclude=static_trials.ALWAYS_FLOAT,
                calibration_phrases=list(self.options.calibration_phrases),
            )
            output, params = make("static", self.voice, source, self.optimized_dir, options)
            manifest = Manifest(
                method="static",
                source=str(source),
                source_sha256=self.chain.sha256(source),
                parameters={**params, "voice": self.voice.name},
                sizes={"source": source.stat().st_size, "output": output.stat().st_size},
                verdict=Verdict(False, ["not measured yet"]),
                files={output.name: self.chain.sha256(output)},
            )
            manifest.save(output)
            built = Built(cand, manifest)
        self._artifact(target)
        return built

    # -- 5. gate -----------------------------------------------------------------------------

    def step_gate(self) -> None:
        """WER and spectral distance of every candidate against the original."""
        self._begin("gate")
        if not self.run_.built:
            self._end("gate", "done", "no candidates")
            return
        gated, why = self._gate(self.run_.built, "gate")
        usable = sum(1 for b in self.run_.built if b.manifest.verdict and b.manifest.verdict.usable)
        self._end(
            "gate",
            "done" if why is None else "skipped",
            why
            or f"{usable} of {len(self.run_.built)} candidates pass (WER ≤ original + "
            f"{self.options.wer_margin_points:g} points and MCD ≤ {self.options.mcd_bound_db:g} "
            f"dB over {len(self.options.gate_sentences)} sentences; {gated} measured now)",
        )

    def _gate(self, builts: Sequence[Built], step: str) -> tuple[int, str | None]:
        """Gate the candidates of ``builts`` that have no current verdict; returns (how many
        were measured, why the gate could not run or ``None``)."""
        pending = [b for b in builts if not self._gated(b)]
        why = None
        if pending:
            try:
                transcriber: Any = Transcriber(threads=max(1, self.options.threads or 2))
            except MissingExtraError as exc:
                transcriber = None
                why = f"quality gate unavailable ({exc}): no lossy variant can be chosen"
            sentences = list(self.options.gate_sentences)
            steps = len(sentences) * (1 + len(pending))
            count = [0]

            def tick() -> None:
                count[0] += 1
                self._progress(step, count[0] / steps)

            original = registry.load(self.voice, plan=self.work_plan)
            ref: Reference = reference(original, sentences, transcriber, tick)
            for built in pending:
                engine = self._open(built.candidate)
                quality = compare(ref, engine, transcriber, tick)
                manifest = built.manifest
                manifest.quality = quality
                manifest.verdict = (
                    judge(quality, self.options.wer_margin_points, self.options.mcd_bound_db)
                    if transcriber is not None
                    else Verdict(False, [str(why)])
                )
                manifest.save(built.candidate.path)
                del engine
        for built in builts:
            self._candidate_row(built)
            self._artifact(manifest_path(built.candidate.path))
        return len(pending), why

    def _gated(self, built: Built) -> bool:
        q = built.manifest.quality or {}
        return (
            built.reused
            and "wer_variant" in q
            and q.get("sentences") == len(self.options.gate_sentences)
            and built.manifest.verdict is not None
        )

    def _open(self, cand: Candidate) -> Engine:
        if cand.format == "split":
            return self.work_chain.open_pair(cand, self.voice)
        return registry.load(
            self.voice, cand.path, "onnx", plan=self.work_plan, implementation=cand.engine_type
        )

    def _pair_engine(self, folder: Path, plan: SessionPlan) -> ChunkedEngine:
        return ChunkedEngine.load_split(self.voice, folder, plan=plan)

    def _candidate_row(self, built: Built) -> None:
        m = built.manifest
        q = m.quality or {}
        row = {
            "name": built.candidate.name,
            "engine_type": built.candidate.engine_type,
            "path": str(built.candidate.path),
            "size_mb": round(m.sizes.get("output", 0) / 1e6, 2),
            "mcd_db": q.get("mcd_db_mean"),
            "wer": q.get("wer_variant"),
            "wer_original": q.get("wer_original"),
            "verdict": "usable" if m.verdict and m.verdict.usable else "rejected",
            "reasons": list(m.verdict.reasons) if m.verdict else [],
            "failed": m.verdict.failures() if m.verdict else ["not measured"],
            "speedup": None,
            "median_rtf": None,
            "chosen": False,
        }
        self.state.candidates = [c for c in self.state.candidates if c["name"] != row["name"]]
        self.state.candidates.append(row)

    # -- 6. coreml ---------------------------------------------------------------------------

    def step_coreml(self, split_ok: bool) -> None:
        """On a Mac with CoreML: the static decoder and its pair; elsewhere: skipped."""
        self._begin("coreml")
        facts = self.chain.facts
        if not self.options.coreml:
            self._end("coreml", "skipped", "switched off for this run")
            return
        if sys.platform != "darwin" or not facts.coreml:
            why = facts.why.get("coreml") or "CoreML exists only on macOS"
            self._end("coreml", "skipped", f"CoreML unavailable here: {why}")
            return
        if not split_ok:
            self._end("coreml", "skipped", "the CoreML form needs the split's static decoder")
            return
        streaming = self.config.tts.streaming
        frames = streaming.chunk_frames + 2 * streaming.context_frames
        static = self.split_dir / static_decoder_file(frames)
        if not static.is_file() or self.options.force:
            export_static_decoder(self.split_dir, frames)
        self._artifact(static)
        folder = self.split_dir / "coreml"
        folder.mkdir(exist_ok=True)
        split = Manifest.load(self.split_dir)
        files = {
            f"../{n}": self.chain.sha256(self.split_dir / n) for n in (ENCODER_FILE, static.name)
        }
        manifest = Manifest(
            method=SPLIT_VARIANT,
            source=str(self.voice.model_path),
            source_sha256=self.chain.sha256(self.voice.model_path),
            parameters={
                "voice": self.voice.name,
                "encoder": f"../{ENCODER_FILE}",
                "decoder": f"../{DECODER_FILE}",
                "static_frames": frames,
                "decoder_provider": "coreml",
                "hop_length": split.parameters["hop_length"],
                "gain": split.parameters.get("gain", 1.0),
                "mlpackage": "not built: coremltools converts PyTorch and TensorFlow models, "
                "not ONNX (its ONNX converter was removed in coremltools 6); onnxruntime's "
                "CoreML provider compiles the static decoder to an ML Program instead",
            },
            files=files,
            verdict=Verdict(False, ["not measured yet"]),
        )
        manifest.save(folder)
        cand = Candidate("coreml", folder, "split", name="split/coreml", origin=FOUND)
        built = Built(cand, manifest)
        self.run_.built.append(built)
        _gated, why = self._gate([built], "coreml")
        self._end(
            "coreml",
            "done",
            f"static decoder of {frames} frames on CoreML" + (f"; {why}" if why else ""),
        )

    # -- 7. tune -----------------------------------------------------------------------------

    def step_tune(self) -> dict[str, Any]:
        """Time every candidate with the daemon's plan; the record picks the winner."""
        self._begin("tune")
        rounds = self.options.tune_rounds
        record = tune(
            self.config,
            rounds,
            chain=self.chain,
            progress=lambda msg: self._tune_progress(msg, rounds),
            sentences=list(self.options.tune_sentences),
            voice=self.voice,
            paused=self.paused,
            measured_by="`macbot optimize`",
        )
        self._end("tune", "done", f"winner {record['winner']} ({rounds} rounds)")
        return record

    def _tune_progress(self, message: str, rounds: int) -> None:
        match = re.match(r"round (\d+)/", message)
        if match:
            self._progress("tune", int(match.group(1)) / rounds)

    def _finish(self, record: dict[str, Any]) -> None:
        results = {r.get("name") or r["engine_type"]: r for r in record["results"]}
        rows = {c["name"]: c for c in self.state.candidates}
        for name, r in results.items():
            row = rows.setdefault(
                name,
                {
                    "name": name,
                    "engine_type": r["engine_type"],
                    "path": r["path"],
                    "size_mb": _size_mb(Path(r["path"])),
                    "mcd_db": None,
                    "wer": None,
                    "wer_original": None,
                    "verdict": "reference" if name == ORIGINAL else "unknown",
                    "reasons": [],
                    "chosen": False,
                },
            )
            row["median_rtf"] = r.get("median_rtf")
            row["speedup"] = r.get("speedup_vs_original")
            row["speedup_range"] = r.get("speedup_range")
            row["busy"] = r.get("busy")
            row["chosen"] = name == record["winner"]
            if not r.get("chosen_ok", False) and r.get("reason"):
                row["reasons"] = [*row.get("reasons", []), f"not chosen: {r['reason']}"]
        self.state.candidates = list(rows.values())
        self.state.winner = record["winner"]
        self.state.reason = _why(record["winner"], rows)
        self.state.state = "done"
        self.state.step = None
        self.state.finished_at = now_iso()
        self._emit()
        self._save()
        self._artifact_check()
        _LOGGER.info(
            "optimize %s: chose %s: %s", self.voice.name, self.state.winner, self.state.reason
        )

    def _artifact_check(self) -> None:
        """Nothing must look stale right after a run (a bug otherwise: the daemon would run
        the optimizer at every start)."""
        why, _record = check(self.chain, self.voice)
        if why is not None:
            _LOGGER.warning("optimize %s: the record already looks stale: %s", self.voice.name, why)


def _why(winner: str, rows: dict[str, dict[str, Any]]) -> str:
    row = rows.get(winner, {})
    if winner == ORIGINAL:
        others = [r for n, r in rows.items() if n != ORIGINAL]
        if not others:
            return "the original: no candidate could be made here"
        return "the original: no candidate both passed the quality gate and ran faster"
    parts = [f"{row.get('speedup') or '?'}× the original's speed"]
    if row.get("speedup_range"):
        low, high = row["speedup_range"]
        parts[0] += f" (median over the timing rounds, {low:.2f}–{high:.2f}×)"
    if row.get("busy"):
        parts.append(row["busy"])
    if row.get("wer") is not None:
        original = 100 * (row.get("wer_original") or 0)
        parts.append(f"WER {100 * row['wer']:.1f}% vs the original's {original:.1f}%")
    if row.get("mcd_db") is not None:
        parts.append(f"MCD {row['mcd_db']:.2f} dB")
    return f"{winner}: " + ", ".join(parts) + ", the fastest that passed the quality gate"


def _size_mb(path: Path) -> float | None:
    if path.is_file():
        return round(path.stat().st_size / 1e6, 2)
    if path.is_dir():
        try:
            return round(Manifest.load(path).sizes.get("output", 0) / 1e6, 2)
        except (OSError, ValueError, TypeError):
            return None
    return None


def one_line(exc: BaseException) -> str:
    """The first line of ``exc`` (its type when it has no text), at most 300 characters."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def optimize(
    config: AppConfig,
    voice: VoiceInfo,
    options: OptimizeOptions | None = None,
    report: Report | None = None,
    paused: Callable[[], int] | None = None,
) -> OptimizationState:
    """Run the whole pipeline for ``voice`` (see :class:`Optimizer`)."""
    return Optimizer(config, voice, options, report, paused).run()
