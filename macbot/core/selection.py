"""The engine chain: CoreML → quantized ONNX → original ONNX, each accepted only after it loads
and passes a smoke synthesis; a measured choice (``macbot tune``, ``macbot optimize``)
overrules the order.

Candidates are the config's explicit paths (``coreml_path``, ``quantized_path``: tried first),
then every variant of the voice in ``optimized_dir`` that has a manifest made from this voice
(whole-model variants ``NAME.METHOD.onnx`` and encoder/decoder pairs of the voice's split in
``<voice>.split/<tag>/``), then the original. A variant found in ``optimized_dir`` must carry
a WER measurement that passed the quality gate: the daemon never picks a lossy variant by
itself without one.

A broken optimized model never stops the daemon: every failure becomes a rejected attempt
with its reason, and the original voice is always the last candidate. The whole decision
(mode, what was tried, why each was rejected, what won) is kept for ``/info``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import AppConfig
from ..errors import MacbotError, NoEngineError
from . import coreml_probe
from .engines import Engine, SynthesisOptions, registry
from .engines.chunked import CHUNKED, SPLIT_VARIANT, find_split, split_variants
from .engines.coreml import COREML, coreml_provider
from .engines.kokoro import KOKORO
from .hashing import cached_sha256, hash_index
from .manifests import Manifest, changed_files, manifest_path
from .probes import HostFacts, host_facts
from .records import key_id, load_records, save_record
from .sessions import CPU, SessionPlan, preoptimized_model_path
from .voices import VoiceInfo
from .workers import plan_workers

_LOGGER = logging.getLogger(__name__)

QUANTIZED, ORIGINAL = "piper_quantized", "piper"
"""Engine types, as reported in ``/tts-performance``."""

CONFIG, FOUND, VOICE = "config", "optimized_dir", "voice"
"""Where a candidate comes from: an explicit config path, a variant found in
``optimized_dir``, or the voice itself."""

SMOKE_TEXT = "Hello, this is a short test of the speech engine."
SECONDS_PER_PHONEME = (0.015, 0.5)
"""Plausible audio length per phoneme id for the smoke sentence (Piper voices give ~0.06)."""
MIN_PEAK, MIN_RMS = 1e-3, 1e-4
"""Raw model output below these is silence."""

TUNE_FILE = "tune.json"


class CandidateRejected(Exception):
    """A candidate failed; the message is the reason shown in the decision."""


@dataclass
class Candidate:
    """One way to run the voice."""

    engine_type: str
    """The implementation that runs it (``piper``, ``piper_quantized``, ``piper_chunked``,
    ``coreml``, ``kokoro``)."""
    path: Path
    format: str = "onnx"
    """``onnx``, ``mlpackage``, ``split`` (a folder: an encoder/decoder pair, chunked) or
    ``kokoro``: the registry's loader (:mod:`macbot.core.engines.registry`)."""
    providers: list[Any] = field(default_factory=list)
    is_variant: bool = True
    """Generated from the voice (needs a manifest check); ``False`` for the original."""
    notes: list[str] = field(default_factory=list)
    name: str = ""
    """Unique among a voice's candidates (tune records are keyed by it); default: the engine
    type. Variants found in ``optimized_dir`` are named after their file (``static``,
    ``split/q-dec``)."""
    origin: str = CONFIG
    """:data:`CONFIG`, :data:`FOUND` or :data:`VOICE`."""
    label: str = ""
    """What ``/info`` shows (default: the engine type; a split pair with a CoreML decoder:
    ``piper_chunked+coreml``)."""

    def __post_init__(self) -> None:
        self.name = self.name or self.engine_type
        self.label = self.label or self.engine_type

    @property
    def uses_coreml(self) -> bool:
        """It runs (in part) on onnxruntime's CoreML provider."""
        return self.format != "mlpackage" and COREML in self.label.split("+")

    @property
    def is_original(self) -> bool:
        """The voice's own model on the CPU (or CUDA): the chain's last resort and what tune
        records compare with; the voice's model on CoreML is not it."""
        return not self.is_variant and not self.uses_coreml

    @property
    def digest_file(self) -> Path:
        """The file whose SHA-256 identifies the candidate (a folder's manifest)."""
        return manifest_path(self.path) if self.format == "split" else self.path

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "engine_type": self.engine_type,
            "label": self.label,
            "path": str(self.path),
            "format": self.format,
            "origin": self.origin,
            "providers": [_provider_text(p) for p in self.providers],
            "notes": list(self.notes),
        }


@dataclass
class Attempt:
    """What happened to one candidate."""

    engine_type: str
    path: str
    accepted: bool = False
    name: str = ""
    """The candidate's name (default: its engine type)."""
    reason: str = ""
    warnings: list[str] = field(default_factory=list)
    load_seconds: float | None = None
    smoke: dict[str, Any] | None = None
    probe: dict[str, Any] | None = None
    """The CoreML provider's probe verdict (:mod:`.coreml_probe`), for a candidate that had
    to pass it."""
    wer_points: float | None = None
    """Its manifest's WER over the original's on the gate's sentences, in points (``None``:
    not measured; the original: 0)."""

    def __post_init__(self) -> None:
        self.name = self.name or self.engine_type


@dataclass
class Decision:
    """The chain's whole decision for a voice."""

    voice: str
    mode: str
    """``priority``, ``tuned`` or ``original-only``."""
    mode_reason: str
    candidates: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    winner: str | None = None
    """The name of the candidate in use."""
    seconds: float = 0.0
    streaming: str | None = None
    """The sub-sentence streaming form of the winner (``piper_chunked``), if one is in use."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _provider_text(p: Any) -> str:
    if isinstance(p, tuple):
        return f"{p[0]} {json.dumps(p[1], sort_keys=True)}"
    return str(p)


# -- providers -------------------------------------------------------------------------------


def onnx_providers(facts: HostFacts) -> list[Any]:
    """CUDA first when present (heuristic cuDNN algorithm search: no slow first run), else
    the CPU."""
    if facts.cuda:
        return [
            ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}),
            "CPUExecutionProvider",
        ]
    return ["CPUExecutionProvider"]


# -- tune records ----------------------------------------------------------------------------


def tune_key(voice_sha256: str, facts: HostFacts) -> dict[str, Any]:
    """What a measurement is valid for: the model, onnxruntime, the CPU and the providers."""
    return {
        "model_sha256": voice_sha256,
        "onnxruntime": facts.onnxruntime_version,
        "cpu": facts.cpu_model or "unknown",
        "providers": sorted(facts.providers),
    }


def load_tune_records(path: Path) -> dict[str, Any]:
    """All records in ``tune.json`` (empty when missing or unreadable, with a warning)."""
    return load_records(path)


def save_tune_record(path: Path, record: dict[str, Any]) -> None:
    """Store ``record`` under its key, keeping records for other keys."""
    save_record(path, record)


# -- the chain -------------------------------------------------------------------------------


class EngineChain:
    """Chooses and loads the engine for a voice.

    ``plan``: how every session is built (default: the worker plan of ``config``, as the
    daemon's synthesizer builds it; see :mod:`macbot.core.sessions`), so the chain,
    ``macbot tune`` and the daemon run the same sessions.
    ``preoptimize``: keep onnxruntime's optimized graph of each CPU model under
    ``optimized_dir/ort_cache/`` and load that next time (shorter load).
    ``coreml_child``: runs the CoreML provider's probe (default: a child process, see
    :mod:`.coreml_probe`).
    """

    def __init__(
        self,
        config: AppConfig,
        plan: SessionPlan | None = None,
        facts: HostFacts | None = None,
        preoptimize: bool = True,
        coreml_child: coreml_probe.Child | None = None,
    ) -> None:
        self.config = config
        self.plan = plan or plan_workers(config.performance).session
        self.facts = facts or host_facts()
        self.preoptimize = preoptimize
        self.coreml_child = coreml_child
        self.optimized_dir = Path(config.tts.optimized_dir)
        self.tune_path = self.optimized_dir / TUNE_FILE
        self.hash_index = hash_index(self.optimized_dir)

    def sha256(self, path: Path) -> str:
        """The file's SHA-256 (remembered in ``optimized_dir/ort_cache/sha256_index.json``)."""
        return cached_sha256(path, self.hash_index)

    # -- candidates ----------------------------------------------------------------------

    def candidates(self, voice: VoiceInfo) -> list[Candidate]:
        """Candidates in priority order: the config's explicit paths, then the variants of
        the voice found in ``optimized_dir`` (fastest measured first), the original last."""
        if voice.family == KOKORO:
            # the voice's model on CoreML (used only after its probe), the optimizer's
            # variants (kokoro.<recipe>.onnx), then the voice's model on the CPU
            fast = self.config.performance.tts_optimize_for_speed
            return [
                *([self._kokoro_coreml_candidate(voice)] if fast else []),
                *(self.found(voice) if fast else []),
                Candidate(
                    KOKORO, voice.model_path, KOKORO, self._onnx(), is_variant=False, origin=VOICE
                ),
            ]
        piper = self.config.tts.piper
        out: list[Candidate] = []
        if self.config.performance.tts_optimize_for_speed:
            if piper.coreml_path is not None:
                out.append(self._coreml_candidate(Path(piper.coreml_path)))
            if piper.quantized_path is not None:
                out.append(Candidate(QUANTIZED, Path(piper.quantized_path), "onnx", self._onnx()))
            configured = {c.path.resolve() for c in out if c.path.exists()}
            out += [c for c in self.found(voice) if c.path.resolve() not in configured]
        out.append(
            Candidate(
                ORIGINAL, voice.model_path, "onnx", self._onnx(), is_variant=False, origin=VOICE
            )
        )
        return out

    def found(self, voice: VoiceInfo) -> list[Candidate]:
        """Variants of ``voice`` in ``optimized_dir``: every ``NAME.METHOD.onnx`` whose
        manifest says it was made from this voice's model, and every encoder/decoder pair
        of the voice's split (``<voice>.split/<tag>/manifest.json``). Fastest first, by the
        speed-up their manifests measured. Whether each may be used is checked on loading."""
        voice_sha = self.sha256(voice.model_path)
        found: list[tuple[float, Candidate]] = []
        for path in sorted(self.optimized_dir.glob("*.manifest.json")):
            model = path.with_name(path.name.removesuffix(".manifest.json") + ".onnx")
            manifest = _read_manifest(path)
            if manifest is None or manifest.source_sha256 != voice_sha or not model.is_file():
                continue
            if manifest.method == "coreml":
                cand = self._coreml_candidate(model)
            elif voice.family == KOKORO:
                cand = Candidate(KOKORO, model, KOKORO, self._onnx())
            else:
                cand = Candidate(QUANTIZED, model, "onnx", self._onnx())
            cand.name = model.name.removesuffix(".onnx").removeprefix(f"{voice.name}.")
            cand.origin = FOUND
            found.append((_speedup(manifest), cand))
        for folder in split_variants(voice, self.optimized_dir):
            manifest = _read_manifest(manifest_path(folder))
            if manifest is None or manifest.source_sha256 != voice_sha:
                continue
            if manifest.method != SPLIT_VARIANT:
                _LOGGER.info(
                    "ignoring %s: method %r is not %r", folder, manifest.method, SPLIT_VARIANT
                )
                continue
            cand = Candidate(
                CHUNKED, folder, "split", self._onnx(), name=f"split/{folder.name}", origin=FOUND
            )
            if manifest.parameters.get("decoder_provider") == "coreml":
                cand.label = f"{CHUNKED}+{COREML}"
                cand.notes.append("decoder on CoreML (static shapes), encoder on the CPU")
            found.append((_speedup(manifest), cand))
        found.sort(key=lambda pair: -pair[0])
        return [cand for _, cand in found]

    def _onnx(self) -> list[Any]:
        return onnx_providers(self.facts)

    def _kokoro_coreml_candidate(self, voice: VoiceInfo) -> Candidate:
        cand = Candidate(
            KOKORO,
            voice.model_path,
            KOKORO,
            [coreml_provider(self.facts, self.optimized_dir / "coreml_cache", static=False), *CPU],
            is_variant=False,
            name=COREML,
            origin=VOICE,
            label=f"{KOKORO}+{COREML}",
        )
        cand.notes.append(
            "onnxruntime's CoreML provider on the voice's own model, used only where its probe "
            "(once per host, in a child process) finds it correct and faster than the CPU. No "
            "static-shape .mlpackage of Kokoro is built: coremltools converts PyTorch models, "
            "not ONNX, and only on a Mac"
        )
        return cand

    def _coreml_candidate(self, path: Path) -> Candidate:
        if path.suffix == ".mlpackage":
            return Candidate(COREML, path, "mlpackage", ["coremltools"])
        cand = Candidate(COREML, path, "onnx")
        cand.notes.append(
            "a whole voice takes a variable number of phonemes: RequireStaticInputShapes=0 "
            "(CoreML may run parts on the CPU)"
        )
        cand.providers = [
            coreml_provider(self.facts, self.optimized_dir / "coreml_cache", static=False),
            *CPU,
        ]
        return cand

    # -- choosing ------------------------------------------------------------------------

    def load(self, voice: VoiceInfo) -> tuple[Engine, Decision]:
        """The first candidate that loads and passes the smoke test, and the decision.

        When that is the original model and the voice has a valid encoder/decoder split
        (``macbot split``), the chunked engine runs it instead and streams inside sentences.
        """
        started = time.perf_counter()
        cands = self.candidates(voice)
        if not self.config.performance.tts_optimize_for_speed:
            mode, mode_reason = "original-only", "tts_optimize_for_speed is false"
            tuned: dict[str, dict[str, Any]] = {}
        else:
            mode, mode_reason, tuned = self._tune_mode(voice, cands)
        decision = Decision(
            voice=voice.name,
            mode=mode,
            mode_reason=mode_reason,
            candidates=[c.describe() for c in cands],
        )
        order = self._order(cands, tuned) if tuned else cands
        engine = None
        for cand in order:
            attempt = Attempt(cand.engine_type, str(cand.path), name=cand.name)
            decision.attempts.append(attempt)
            try:
                if tuned:
                    self._check_tuned(cand, tuned)
                engine = self.try_candidate(cand, voice, attempt)
            except CandidateRejected as exc:
                attempt.reason = str(exc)
                # A variant found in optimized_dir that is not for here is routine, and so is
                # the CoreML provider on a voice's own model that this host cannot run or its
                # probe turned down; a configured one that fails is something to see.
                routine = cand.origin == FOUND or (cand.uses_coreml and cand.origin == VOICE)
                level = logging.INFO if routine else logging.WARNING
                _LOGGER.log(
                    level, "engine candidate %s (%s) rejected: %s", cand.name, cand.path, exc
                )
                continue
            attempt.accepted = True
            attempt.reason = attempt.reason or "loaded and passed the smoke test"
            decision.winner = cand.name
            break
        if engine is not None and decision.winner == ORIGINAL:
            chunked = self.streaming_engine(voice)
            if chunked is not None:
                decision.streaming = chunked.engine_type
                engine = chunked
        decision.seconds = round(time.perf_counter() - started, 3)
        if engine is None:
            raise NoEngineError(
                f"no engine for voice {voice.name}: "
                + "; ".join(f"{a.name}: {a.reason}" for a in decision.attempts),
                hint="check the voice file; `macbot doctor` shows what this machine can run",
            )
        _LOGGER.info(
            "engine for %s: %s%s (%s: %s)",
            voice.name,
            decision.winner,
            f" streaming through {decision.streaming}" if decision.streaming else "",
            mode,
            mode_reason,
        )
        return engine, decision

    def streaming_engine(self, voice: VoiceInfo) -> Engine | None:
        """The chunked engine of ``voice`` when ``models.tts.streaming.enabled`` and a valid
        split (its manifest's source hash is the voice's) is in ``optimized_dir``; else
        ``None``. It runs the original model, streaming inside sentences."""
        streaming = self.config.tts.streaming
        if not streaming.enabled or voice.family != "piper":
            return None
        folder = find_split(voice, self.optimized_dir)
        if folder is None:
            return None
        try:
            return registry.load(
                voice,
                folder,
                "split",
                plan=self.plan,
                chunk_frames=streaming.chunk_frames,
                context_frames=streaming.context_frames,
                growth=streaming.growth,
            )
        except Exception as exc:  # a broken split must not stop the daemon: fall back, say why
            _LOGGER.warning(
                "cannot load the split %s (%s); using the whole-sentence model", folder, exc
            )
            return None

    def _tune_mode(
        self, voice: VoiceInfo, cands: Sequence[Candidate]
    ) -> tuple[str, str, dict[str, dict[str, Any]]]:
        records = load_tune_records(self.tune_path)
        if not records:
            return "priority", f"no tune record ({self.tune_path}): priority order", {}
        key = tune_key(self.sha256(voice.model_path), self.facts)
        record = records.get(key_id(key))
        if record is None:
            return "priority", "no tune record for this model, onnxruntime, CPU and providers", {}
        measured = {r.get("name") or r["engine_type"]: r for r in record.get("results", [])}
        for cand in cands:
            r = measured.get(cand.name)
            if r is None or not cand.digest_file.exists():
                continue
            if r.get("path") != str(cand.path) or r.get("sha256") != self.sha256(cand.digest_file):
                return (
                    "priority",
                    f"tune record is stale: {cand.name} ({cand.path}) changed since "
                    "it was timed (`macbot tune` / `macbot optimize`)",
                    {},
                )
        by = record.get("measured_by", "`macbot tune`")
        return "tuned", f"following the {by} record (winner: {record.get('winner')})", measured

    @staticmethod
    def _order(cands: list[Candidate], tuned: dict[str, dict[str, Any]]) -> list[Candidate]:
        """The record's winner first when it is a variant (it may trade a little speed for
        word timings: :func:`macbot.tools.tune.choose`), then measured-and-allowed by median
        RTF, then unmeasured, the original always last (so the others' rejections are
        recorded)."""

        def rank(c: Candidate) -> tuple[int, float]:
            if c.is_original:
                return (2, 0.0)
            r = tuned.get(c.name)
            if r and r.get("winner"):
                return (-1, 0.0)
            if r and r.get("chosen_ok"):
                return (0, float(r.get("median_rtf") or 0))
            return (1, 0.0)

        return sorted(cands, key=rank)

    @staticmethod
    def _check_tuned(cand: Candidate, tuned: dict[str, dict[str, Any]]) -> None:
        r = tuned.get(cand.name)
        if not cand.is_original and r is not None and not r.get("chosen_ok"):
            raise CandidateRejected(f"tune record: {r.get('reason', 'not allowed')}")

    # -- one candidate -------------------------------------------------------------------

    def try_candidate(self, cand: Candidate, voice: VoiceInfo, attempt: Attempt) -> Engine:
        if not cand.path.exists():
            raise CandidateRejected(f"file not found: {cand.path}")
        if cand.uses_coreml and not self.facts.coreml:
            raise CandidateRejected(f"CoreML unavailable: {self.facts.why.get('coreml', '')}")
        if cand.format == "split" and not self.config.tts.streaming.enabled:
            raise CandidateRejected(
                "an encoder/decoder pair streams in chunks; models.tts.streaming.enabled is false"
            )
        if cand.is_variant:
            self._check_manifest(cand, voice, attempt)
        if cand.format == "split":
            engine = self.open_pair(cand, voice)
        elif cand.format == "mlpackage":
            try:
                engine = registry.load(voice, cand.path, "mlpackage")
            except MacbotError as exc:
                raise CandidateRejected(str(exc)) from exc
        elif cand.format == KOKORO:
            if cand.uses_coreml:
                self._probe_coreml(cand, voice, attempt)
            try:
                engine = registry.load(
                    voice,
                    cand.path,
                    KOKORO,
                    providers=cand.providers,
                    plan=self.plan,
                    label=cand.label,
                    language=self.config.tts.kokoro.language,
                )
            except MacbotError:
                raise
            except Exception as exc:  # onnxruntime raises its own types for bad models
                raise CandidateRejected(f"load error: {_first_line(exc)}") from exc
        else:
            engine = self._load_onnx(cand, voice, attempt)
        attempt.load_seconds = round(engine.load_seconds, 3)
        attempt.smoke = smoke_test(engine)
        return engine

    def _probe_coreml(self, cand: Candidate, voice: VoiceInfo, attempt: Attempt) -> None:
        """The CoreML provider's verdict on ``cand`` (probed once per host in a child process,
        :mod:`.coreml_probe`); :class:`CandidateRejected` with its reason unless it is correct
        and faster than the CPU."""
        provider = cand.providers[0]
        verdict = coreml_probe.verdict(
            voice,
            cand.path,
            cand.format,
            facts=self.facts,
            optimized_dir=self.optimized_dir,
            model_sha256=self.sha256(cand.path),
            provider=provider if isinstance(provider, tuple) else (str(provider), {}),
            child=self.coreml_child,
            threads=self.plan.intra_op_threads,
        )
        attempt.probe = verdict.to_dict()
        if not verdict.use:
            raise CandidateRejected(f"CoreML probe: {verdict.reason}")
        attempt.reason = f"CoreML probe: {verdict.reason}; loaded and passed the smoke test"

    def _check_manifest(self, cand: Candidate, voice: VoiceInfo, attempt: Attempt) -> None:
        try:
            manifest = Manifest.load(cand.path)
        except FileNotFoundError:
            attempt.warnings.append(
                "no manifest: no quality record for this variant; used in priority mode "
                "without a quality check"
            )
            return
        except (OSError, ValueError, TypeError) as exc:
            raise CandidateRejected(f"unreadable manifest: {exc}") from exc
        voice_sha = self.sha256(voice.model_path)
        if manifest.source_sha256 != voice_sha:
            raise CandidateRejected(
                f"manifest: made from another model (source_sha256 "
                f"{manifest.source_sha256[:12]}…, this voice is {voice_sha[:12]}…)"
            )
        if manifest.verdict is None:
            attempt.warnings.append("manifest has no quality verdict")
        elif not manifest.verdict.usable:
            why = "; ".join(manifest.verdict.reasons) or "no reason given"
            raise CandidateRejected(f"manifest verdict: not usable ({why})")
        quality = manifest.quality or {}
        if "wer_variant" in quality and "wer_original" in quality:
            attempt.wer_points = round(100 * (quality["wer_variant"] - quality["wer_original"]), 2)
        if cand.origin == FOUND and "wer_variant" not in quality:
            raise CandidateRejected(
                "no WER measurement in its manifest: a variant found in optimized_dir is used "
                "only after the quality gate measured it (macbot verify / macbot optimize)"
            )
        folder = cand.path if cand.format == "split" else cand.path.parent
        changed = changed_files(manifest, folder, lambda p: self.sha256(p))
        if changed:
            raise CandidateRejected(
                f"{', '.join(changed)} changed since the manifest was written (damaged or "
                "replaced; `macbot optimize` rebuilds it)"
            )
        method = str(manifest.method).lower()
        on_cpu_only = all(
            _provider_text(p).startswith("CPUExecutionProvider") for p in cand.providers
        )
        if "fp16" in method and on_cpu_only:
            raise CandidateRejected(
                "FP16 weights run slower than FP32 on onnxruntime's CPU provider; FP16 is used "
                "only with CUDA or CoreML"
            )

    def open_pair(self, cand: Candidate, voice: VoiceInfo) -> Engine:
        """An encoder/decoder pair of the voice's split, streaming as configured; a pair whose
        decoder runs on CoreML uses its static decoder there and the encoder on the CPU."""
        streaming = self.config.tts.streaming
        try:
            params = Manifest.load(cand.path).parameters
            if params.get("decoder_provider") == "coreml":
                frames = int(params["static_frames"])
                return registry.load(
                    voice,
                    cand.path,
                    "split",
                    plan=self.plan,
                    label=cand.label,
                    chunk_frames=frames - 2 * streaming.context_frames,
                    context_frames=streaming.context_frames,
                    growth=1.0,
                    encoder_providers=CPU,
                    decoder_providers=[
                        coreml_provider(self.facts, self.optimized_dir / "coreml_cache", True),
                        *CPU,
                    ],
                    static=True,
                )
            return registry.load(
                voice,
                cand.path,
                "split",
                plan=self.plan,
                label=cand.label,
                chunk_frames=streaming.chunk_frames,
                context_frames=streaming.context_frames,
                growth=streaming.growth,
            )
        except Exception as exc:  # onnxruntime and file errors: a rejection with its reason
            raise CandidateRejected(f"load error: {_first_line(exc)}") from exc

    def _load_onnx(self, cand: Candidate, voice: VoiceInfo, attempt: Attempt) -> Engine:
        cache = None
        if self.preoptimize and list(cand.providers) == list(CPU):
            key = hashlib.sha256(f"{self.sha256(cand.path)}{self.facts.cpu_model}".encode())
            cache = preoptimized_model_path(
                self.optimized_dir / "ort_cache", key.hexdigest(), CPU[0]
            )
        if cache is not None and cache.is_file():
            try:
                engine = registry.load(
                    voice,
                    cache,
                    "onnx",
                    providers=cand.providers,
                    plan=self.plan,
                    label=cand.label,
                    implementation=cand.engine_type,
                    preoptimized=True,
                    source_path=cand.path,
                )
                attempt.warnings.append(f"loaded onnxruntime's pre-optimized graph {cache.name}")
                return engine
            except Exception as exc:  # a damaged cache file: drop it and load the source
                _LOGGER.warning("pre-optimized model %s failed (%s); rebuilding", cache, exc)
                cache.unlink(missing_ok=True)
        tmp = None
        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_name(cache.name + f".{os.getpid()}.tmp")
            except OSError as exc:  # a read-only folder only costs load time
                _LOGGER.warning("cannot write %s: %s", cache.parent, exc)
                tmp = None
        try:
            engine = registry.load(
                voice,
                cand.path,
                "onnx",
                providers=cand.providers,
                plan=self.plan,
                label=cand.label,
                implementation=cand.engine_type,
                optimized_model_out=tmp,
            )
        except Exception as exc:  # onnxruntime raises its own types for bad models
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise CandidateRejected(f"load error: {_first_line(exc)}") from exc
        if tmp is not None and cache is not None and tmp.is_file():
            os.replace(tmp, cache)
        return engine


def _read_manifest(path: Path) -> Manifest | None:
    """The manifest file at ``path``, or ``None`` when it cannot be read (logged)."""
    try:
        return Manifest.read(path)
    except (OSError, ValueError, TypeError) as exc:
        _LOGGER.warning("ignoring unreadable manifest %s: %s", path, exc)
        return None


def _speedup(manifest: Manifest) -> float:
    value = (manifest.speed or {}).get("speedup")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def smoke_test(engine: Engine) -> dict[str, Any]:
    """Synthesize :data:`SMOKE_TEXT` with noise 0; reject non-finite, silent or implausibly
    long/short audio. Returns the measured values."""
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    sentences = engine.sentences(SMOKE_TEXT)
    phonemes = sum(len(s.phoneme_ids) for s in sentences)
    chunks = []
    for sentence in sentences:
        try:
            chunks.append(engine.infer(sentence.phoneme_ids, options))
        except Exception as exc:  # any model failure is a rejection, not a crash
            raise CandidateRejected(f"smoke synthesis failed: {_first_line(exc)}") from exc
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    seconds = audio.size / engine.sample_rate
    result = {"audio_seconds": round(seconds, 3), "phonemes": phonemes}
    if not np.all(np.isfinite(audio)):
        raise CandidateRejected("smoke synthesis: non-finite samples (NaN or inf)")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    rms = float(np.sqrt(np.mean(np.square(audio)))) if audio.size else 0.0
    result.update(peak=round(peak, 5), rms=round(rms, 6))
    if peak < MIN_PEAK or rms < MIN_RMS:
        raise CandidateRejected(f"smoke synthesis: silent output (peak {peak:.2e}, rms {rms:.2e})")
    per = seconds / max(phonemes, 1)
    lo, hi = SECONDS_PER_PHONEME
    if not lo <= per <= hi:
        raise CandidateRejected(
            f"smoke synthesis: implausible length {seconds:.2f}s for {phonemes} phonemes"
        )
    return result
