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

The steps are Piper's; the runner, the gate (5) and the tune (7), which every family shares, are
:class:`~.pipeline.Pipeline`'s.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import AppConfig
from ..core.engines import Engine, SynthesisOptions, registry
from ..core.engines.chunked import (
    CHUNKED,
    DECODER_FILE,
    ENCODER_FILE,
    FLOW_FILE,
    PRIOR_FILE,
    SPLIT_VARIANT,
    ChunkedEngine,
    find_split,
    split_dir_for,
    static_decoder_file,
)
from ..core.engines.piper import load_voice_config
from ..core.manifests import FOLDER_MANIFEST, Manifest, Verdict, changed_files, manifest_path
from ..core.optimization import STEPS, OptimizationState
from ..core.selection import FOUND, QUANTIZED, Candidate, onnx_providers
from ..core.sessions import SessionPlan, open_session
from ..core.voices import VoiceInfo
from ..errors import ModelUnsupportedError
from .pipeline import Built, OptimizeOptions, Pipeline, Report
from .split import SPLIT_FORMAT, export_static_decoder, split_format, split_voice
from .toolkit import polyphase, static_trials
from .toolkit.graph import load_model
from .toolkit.variants import Options, make, variant_path

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

POLYPHASE_MAX_DIFF = 1e-4
"""The most the polyphase decoder (float) may differ from the split's (1e-7 on joe)."""

FLOW_Q = "flow.static.onnx"
"""The split's flow (format 3) in static QDQ, every op, per-channel weights. The flow maps the
prior's sample to the decoder's latent frame by frame, after the durations are fixed, so its
rounding cannot move words as a quantized duration predictor does: on joe, 62 sentences, WER
4.8 % with it against 4.7 % with the float flow (both with the Conv-QDQ decoder), and the flow
2.1–2.7× faster (39 → 14–18 ms on a 454-frame sentence, 2 threads)."""


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
    ``conv_post``), ``poly`` (every op but ``conv_post``, the upsampling ``ConvTranspose``s
    first rewritten as ``Conv``s: :mod:`.toolkit.polyphase`) or ``float`` (not quantized)."""
    flow: str = "float"
    """``static`` (:data:`FLOW_Q`, with the float encoder's prior) or ``float`` (the split's
    own, or none with a quantized encoder)."""


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
        Recipe("dec-poly", ENCODER_FILE, "poly"),
        Recipe("flow-conv", ENCODER_FILE, "conv", flow="static"),
        Recipe("flow-poly", ENCODER_FILE, "poly", flow="static"),
    )
}
"""Every pair the pipeline knows: ``q-*`` quantize the encoder (``q-enc``: only the
encoder), ``dec-*`` only the decoder (float encoder: cheap to build, for small runs),
``flow-*`` the flow and the decoder (the prior, with the durations, float)."""

DEFAULT_RECIPES = ("q-conv", "q-trials", "dec-conv", "flow-conv", "flow-poly")
"""The pairs built for every splittable voice. ``dec-conv`` (float encoder, the same INT8
decoder as ``q-conv``) costs one more gate run: on the gate's own 32 sentences the pairs with a
quantized encoder measured +3.3 to +3.9 WER points once (the duration predictor's rounding
moves words), so without it a fresh install could end with no lossy candidate at all.
``flow-conv`` is ``dec-conv`` with the flow in INT8 too, the part of the encoder that can be
quantized without moving words (see :data:`FLOW_Q`); ``flow-poly`` has every op of the decoder
in INT8 once its upsampling is ordinary convolutions (:mod:`.toolkit.polyphase`)."""


class Optimizer(Pipeline):
    """One run of Piper's pipeline for one voice (see the module docstring); the runner, the
    gate and the tune are :class:`~.pipeline.Pipeline`'s."""

    step_names = STEPS
    weights = WEIGHTS

    def __init__(
        self,
        config: AppConfig,
        voice: VoiceInfo,
        options: OptimizeOptions | None = None,
        report: Report | None = None,
        paused: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(config, voice, options, report, paused)
        self.recipes: tuple[Recipe, ...] = tuple(
            self.options.recipes
            if self.options.recipes is not None
            else (RECIPES[t] for t in DEFAULT_RECIPES)
        )
        self.split_dir = split_dir_for(voice, self.optimized_dir)
        self.split_ok = False
        """Whether the voice has a split (the split step's outcome, read by the later steps)."""
        self._calibration: dict[str, list[dict[str, np.ndarray]]] = {}
        self._keep_float: list[str] | None = None

    def steps(self) -> list[Callable[[], object]]:
        return [
            self.step_split,
            self.step_calibrate,
            self.step_trials,
            self.step_quantize,
            self.step_gate,
            self.step_coreml,
            self.step_tune,
        ]

    # -- 1. split ----------------------------------------------------------------------------

    def step_split(self) -> None:
        """The voice's float split (reused when valid); :attr:`split_ok` says whether there is
        one."""
        self.split_ok = self._split()

    def _split(self) -> bool:
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
        flow = [n for n in (PRIOR_FILE, FLOW_FILE) if n in manifest.files]
        for name in (ENCODER_FILE, DECODER_FILE, *flow, FOLDER_MANIFEST):
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

    def step_calibrate(self) -> None:
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
        if self.split_ok:
            engine = self._pair_engine(self.split_dir, self.work_plan)
            name = engine.decoder.get_inputs()[0].name
            self._calibration["encoder"] = [
                {k: v for k, v in f.items() if k in {i.name for i in engine.encoder.get_inputs()}}
                for f in feeds
            ]
            # Every output kept is a copy (np.array): onnxruntime's outputs are views on its
            # own buffers, and kept past their session's end the prior's crashed the run later
            # in whisper (glibc: "corrupted size vs. prev_size", "double free or corruption")
            # in 3 of 5 runs of the supervisor's tests; copied, in none of 6.
            latents = []
            for i, feed in enumerate(self._calibration["encoder"]):
                latents.append({name: np.array(engine.encoder.run(None, feed)[0])})
                self._progress("calibrate", 0.8 * (i + 1) / len(feeds))
            self._calibration["decoder"] = latents
            flows = any(r.flow != "float" for r in self.recipes)
            if flows and engine.flow is not None:  # the flow's inputs: the prior's z_p, mask
                names = [i.name for i in engine.flow.flow.get_inputs()]
                self._calibration["flow"] = [
                    dict(
                        zip(
                            names,
                            map(np.array, engine.flow.prior.run(None, feed)[:2]),
                            strict=False,
                        )
                    )
                    for feed in self._calibration["encoder"]
                ]
            self._calibration["decoder_tests"] = [
                {name: np.array(engine.latent(s.phoneme_ids, exact))}
                for text in self.options.trial_phrases
                for s in engine.sentences(text)
            ]
        self._end("calibrate", "done", f"{len(feeds)} inputs from {len(phrases)} phrases")

    # -- 3. trials ---------------------------------------------------------------------------

    def step_trials(self) -> None:
        """Per-node static trials of the decoder, ``drop`` mode: which nodes to keep float."""
        self._begin("trials")
        if not self.split_ok or not any(r.decoder == "trials" for r in self.recipes):
            self._end(
                "trials",
                "skipped",
                "no split decoder to try" if not self.split_ok else "no recipe uses them",
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

    def step_quantize(self) -> None:
        """Quantized parts and the candidates made of them (reused when intact)."""
        self._begin("quantize")
        made: list[str] = []
        recipes = list(self.recipes) if self.split_ok else []
        if "flow" not in self._calibration:  # a voice whose split has no flow of its own
            recipes = [r for r in recipes if r.flow == "float"]
        encoders = sorted({r.encoder for r in recipes if r.encoder != ENCODER_FILE})
        decoders = sorted({r.decoder for r in recipes if r.decoder != "float"})
        flows = any(r.flow != "float" for r in recipes)
        total = len(encoders) + len(decoders) + flows + len(recipes) + 1
        done = 0
        for name in encoders:
            made.append(self._quantize_part(ENCODER_FILE, self.split_dir / name, "encoder"))
            done += 1
            self._progress("quantize", done / total)
        if flows:
            flow = self._quantize_part(FLOW_FILE, self.split_dir / FLOW_Q, "flow", per_channel=True)
            made.append(flow)
            done += 1
            self._progress("quantize", done / total)
        for decoder in decoders:
            try:
                made.append(self._quantize_decoder(decoder))
            except ModelUnsupportedError as exc:  # a decoder form this voice cannot take
                made.append(f"no {decoder_file(decoder)}: {exc}")
                recipes = [r for r in recipes if r.decoder != decoder]
            done += 1
            self._progress("quantize", done / total)
        for recipe in recipes:
            self.run_.built.append(self._pair(recipe))
            done += 1
        whole = self.options.whole_model
        if whole or (whole is None and not self.split_ok):
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

    def _quantize_part(
        self, part: str, target: Path, calibration: str, *, per_channel: bool = False
    ) -> str:
        """A part of the split (its encoder, or its flow) in static QDQ, every op, calibrated
        on ``self._calibration[calibration]``; reused when its manifest says it is current."""
        source = self.split_dir / part
        if self._part_manifest(target, source) is None:
            subject = static_trials.Subject(
                source, self._calibration[calibration], [], lambda o: o[0], self._sample_rate()
            )
            static_trials.quantize_nodes(subject, target, None, per_channel=per_channel)
            params: dict[str, Any] = {"ops": "all", "format": "QDQ"}
            if per_channel:
                params["per_channel"] = True
            self._part_record(target, source, "static", params)
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
            elif recipe == "poly":
                params = self._quantize_polyphase(source, target, subject, post)
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

    def _quantize_polyphase(
        self, source: Path, target: Path, subject: static_trials.Subject, post: list[str]
    ) -> dict[str, Any]:
        """``target``: the decoder with its ``ConvTranspose``s rewritten as ``Conv``s (checked
        against the decoder in float on a calibration latent), every op but ``post`` in QDQ."""
        rewritten = self.split_dir / "decoder.polyphase.scratch.onnx"
        try:
            count = polyphase.rewrite_file(source, rewritten)
            if not count:
                raise ModelUnsupportedError("the decoder has no ConvTranspose of that form")
            feed = subject.calibration[0]
            plan = SessionPlan(intra_op_threads=self.options.threads)
            a, b = (open_session(p, plan).run(None, feed)[0] for p in (source, rewritten))
            diff = float(np.max(np.abs(a - b)))
            if not diff <= POLYPHASE_MAX_DIFF:
                raise ModelUnsupportedError(
                    f"the rewritten decoder differs by {diff:.3g} (> {POLYPHASE_MAX_DIFF:g})"
                )
            rewritten_subject = replace(subject, model=rewritten)
            static_trials.quantize_nodes(rewritten_subject, target, None, post)
        finally:
            rewritten.unlink(missing_ok=True)
        return {"ops": "all", "float_nodes": post, "polyphase": count, "polyphase_diff": diff}

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
        flow = {"flow": f"../{FLOW_Q}"} if recipe.flow == "static" else {}
        split = Manifest.load(self.split_dir)
        files = {
            name: self.chain.sha256(folder.parent / name.removeprefix("../"))
            for name in (encoder, decoder, *flow.values())
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
                **flow,
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

    def _open(self, cand: Candidate) -> Engine:
        if cand.format == "split":
            return self.work_chain.open_pair(cand, self.voice)
        return registry.load(
            self.voice, cand.path, "onnx", plan=self.work_plan, implementation=cand.engine_type
        )

    def _pair_engine(self, folder: Path, plan: SessionPlan) -> ChunkedEngine:
        return ChunkedEngine.load_split(self.voice, folder, plan=plan)

    # -- 6. coreml ---------------------------------------------------------------------------

    def step_coreml(self) -> None:
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
        if not self.split_ok:
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


def optimize(
    config: AppConfig,
    voice: VoiceInfo,
    options: OptimizeOptions | None = None,
    report: Report | None = None,
    paused: Callable[[], int] | None = None,
) -> OptimizationState:
    """Run the whole pipeline for ``voice`` (see :class:`Optimizer`)."""
    return Optimizer(config, voice, options, report, paused).run()
