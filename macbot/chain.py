"""The engine chain: CoreML → quantized ONNX → original ONNX, each accepted only after it loads
and passes a smoke synthesis; a measured choice (``macbot tune``) overrules the order.

A broken optimized model never stops the daemon: every failure becomes a rejected attempt
with its reason, and the original voice is always the last candidate. The whole decision
(mode, what was tried, why each was rejected, what won) is kept for ``/info``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from .config import AppConfig
from .engine import (
    PiperEngine,
    SynthesisOptions,
    daemon_session_options,
    preoptimized_model_path,
)
from .manifest import Manifest, file_sha256
from .probes import HostFacts, host_facts
from .voices import VoiceInfo

_LOGGER = logging.getLogger(__name__)

COREML, QUANTIZED, ORIGINAL = "coreml", "piper_quantized", "piper"
"""Engine types, as reported in ``/tts-performance``."""

SMOKE_TEXT = "Hello, this is a short test of the speech engine."
SECONDS_PER_PHONEME = (0.015, 0.5)
"""Plausible audio length per phoneme id for the smoke sentence (Piper voices give ~0.06)."""
MIN_PEAK, MIN_RMS = 1e-3, 1e-4
"""Raw model output below these is silence."""

TUNE_FILE = "tune.json"

DAEMON_MEMORY = {"mem_pattern": False, "cpu_mem_arena": False}
"""Memory settings of the daemon's sessions, chosen by ``macbot bench rss`` / ``memspeed``:
with onnxruntime's defaults RSS grew from 161 MB to 693 MB over 100 syntheses of varied
lengths (every new input length plans and keeps new buffers); with both off it stayed at
~240 MB (peak 358 MB). Cost: median RTF 1.08× the default's (``memspeed``, interleaved);
``enable_mem_pattern=False`` alone cost 1.01× but held ~500 MB."""

SessionOptionsFactory = Callable[[], ort.SessionOptions]


class CandidateRejected(Exception):
    """A candidate failed; the message is the reason shown in the decision."""


@dataclass
class Candidate:
    """One way to run the voice."""

    engine_type: str
    path: Path
    format: str = "onnx"
    """``onnx`` or ``mlpackage``."""
    providers: list[Any] = field(default_factory=list)
    is_variant: bool = True
    """Generated from the voice (needs a manifest check); ``False`` for the original."""
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "engine_type": self.engine_type,
            "path": str(self.path),
            "format": self.format,
            "providers": [_provider_text(p) for p in self.providers],
            "notes": list(self.notes),
        }


@dataclass
class Attempt:
    """What happened to one candidate."""

    engine_type: str
    path: str
    accepted: bool = False
    reason: str = ""
    warnings: list[str] = field(default_factory=list)
    load_seconds: float | None = None
    smoke: dict[str, Any] | None = None


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
    seconds: float = 0.0
    streaming: str | None = None
    """The sub-sentence streaming form of the winner (``piper_chunked``), if one is in use."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _provider_text(p: Any) -> str:
    if isinstance(p, tuple):
        return f"{p[0]} {json.dumps(p[1], sort_keys=True)}"
    return str(p)


# -- hashing (cached: the voice is hashed once per file version) -----------------------------

_HASHES: dict[tuple[str, int, int], str] = {}


def cached_sha256(path: Path, index: Path | None = None) -> str:
    """SHA-256 of ``path``, remembered per (path, size, mtime) in memory and, when ``index``
    is given, in that JSON file (so a daemon restart does not hash a 60 MB voice again)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _HASHES:
        return _HASHES[key]
    stored: dict[str, str] = {}
    text_key = f"{key[0]}|{key[1]}|{key[2]}"
    if index is not None:
        try:
            stored = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        if isinstance(stored, dict) and isinstance(stored.get(text_key), str):
            _HASHES[key] = stored[text_key]
            return _HASHES[key]
    _HASHES[key] = file_sha256(path)
    if index is not None:
        try:
            index.parent.mkdir(parents=True, exist_ok=True)
            stored = stored if isinstance(stored, dict) else {}
            stored[text_key] = _HASHES[key]
            tmp = index.with_name(f"{index.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(stored, indent=1), encoding="utf-8")
            os.replace(tmp, index)
        except OSError as exc:  # a read-only folder only costs hashing time
            _LOGGER.warning("cannot write hash index %s: %s", index, exc)
    return _HASHES[key]


# -- providers -------------------------------------------------------------------------------


def compute_units(facts: HostFacts) -> str:
    """``MLComputeUnits`` for CoreML from the probes."""
    if facts.neural_engine and facts.mps:
        return "ALL"
    if facts.neural_engine:
        return "CPUAndNeuralEngine"
    if facts.mps:
        return "CPUAndGPU"
    return "CPUOnly"


def static_input_shapes(path: Path) -> bool | None:
    """Whether every input of the ONNX model has a fixed shape (``None``: unknown, onnx is not
    installed). Piper voices take a variable number of phonemes, so this is ``False`` for
    them unless the model was exported with fixed (padded) shapes."""
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load(str(path), load_external_data=False)
    for inp in model.graph.input:
        dims = inp.type.tensor_type.shape.dim
        if any(not d.HasField("dim_value") for d in dims):
            return False
    return True


def coreml_provider(facts: HostFacts, cache_dir: Path, static: bool) -> tuple[str, dict]:
    """onnxruntime's CoreML provider with its options (names as in onnxruntime's CoreML EP
    docs: ModelFormat, MLComputeUnits, RequireStaticInputShapes, ModelCacheDirectory)."""
    return (
        "CoreMLExecutionProvider",
        {
            "ModelFormat": "MLProgram",
            "MLComputeUnits": compute_units(facts),
            "RequireStaticInputShapes": "1" if static else "0",
            "ModelCacheDirectory": str(cache_dir),
        },
    )


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


def key_id(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def load_tune_records(path: Path) -> dict[str, Any]:
    """All records in ``tune.json`` (empty when missing or unreadable, with a warning)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _LOGGER.warning("ignoring unreadable tune record %s: %s", path, exc)
        return {}
    records = data.get("records") if isinstance(data, dict) else None
    return records if isinstance(records, dict) else {}


def save_tune_record(path: Path, record: dict[str, Any]) -> None:
    """Store ``record`` under its key, keeping records for other keys."""
    records = load_tune_records(path)
    records[key_id(record["key"])] = record
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"records": records}, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# -- the chain -------------------------------------------------------------------------------


class EngineChain:
    """Chooses and loads the engine for a voice.

    ``session_options`` makes fresh onnxruntime session options (thread settings; pass
    ``Synthesizer.session_options`` when it exists); by default threads come from the probes.
    ``preoptimize``: keep onnxruntime's optimized graph of each CPU model under
    ``optimized_dir/ort_cache/`` and load that next time (shorter load).
    """

    def __init__(
        self,
        config: AppConfig,
        facts: HostFacts | None = None,
        session_options: SessionOptionsFactory | None = None,
        preoptimize: bool = True,
    ) -> None:
        self.config = config
        self.facts = facts or host_facts()
        self._session_options = session_options or (
            lambda: daemon_session_options(self.facts.recommended_threads(), **DAEMON_MEMORY)
        )
        self.preoptimize = preoptimize
        self.optimized_dir = Path(config.tts.optimized_dir)
        self.tune_path = self.optimized_dir / TUNE_FILE
        self.hash_index = self.optimized_dir / "ort_cache" / "sha256_index.json"

    def sha256(self, path: Path) -> str:
        """The file's SHA-256 (remembered in ``optimized_dir/ort_cache/sha256_index.json``)."""
        return cached_sha256(path, self.hash_index)

    # -- candidates ----------------------------------------------------------------------

    def candidates(self, voice: VoiceInfo) -> list[Candidate]:
        """Configured candidates in priority order, the original last."""
        piper = self.config.tts.piper
        out: list[Candidate] = []
        if self.config.performance.tts_optimize_for_speed:
            if piper.coreml_path is not None:
                out.append(self._coreml_candidate(Path(piper.coreml_path)))
            if piper.quantized_path is not None:
                out.append(Candidate(QUANTIZED, Path(piper.quantized_path), "onnx", self._onnx()))
        out.append(Candidate(ORIGINAL, voice.model_path, "onnx", self._onnx(), is_variant=False))
        return out

    def _onnx(self) -> list[Any]:
        return onnx_providers(self.facts)

    def _coreml_candidate(self, path: Path) -> Candidate:
        if path.suffix == ".mlpackage":
            return Candidate(COREML, path, "mlpackage", ["coremltools"])
        cand = Candidate(COREML, path, "onnx")
        static = static_input_shapes(path) if path.is_file() else None
        if static is None:
            cand.notes.append("input shapes unknown (onnx not installed): dynamic assumed")
        elif not static:
            cand.notes.append(
                "dynamic input shapes: RequireStaticInputShapes=0 (CoreML may run parts on CPU)"
            )
        cand.providers = [
            coreml_provider(self.facts, self.optimized_dir / "coreml_cache", bool(static)),
            "CPUExecutionProvider",
        ]
        return cand

    # -- choosing ------------------------------------------------------------------------

    def load(self, voice: VoiceInfo) -> tuple[PiperEngine, Decision]:
        """The first candidate that loads and passes the smoke test, and the decision."""
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
            attempt = Attempt(cand.engine_type, str(cand.path))
            decision.attempts.append(attempt)
            try:
                if tuned:
                    self._check_tuned(cand, tuned)
                engine = self.try_candidate(cand, voice, attempt)
            except CandidateRejected as exc:
                attempt.reason = str(exc)
                _LOGGER.warning(
                    "engine candidate %s (%s) rejected: %s", cand.engine_type, cand.path, exc
                )
                continue
            attempt.accepted = True
            attempt.reason = attempt.reason or "loaded and passed the smoke test"
            decision.winner = cand.engine_type
            break
        decision.seconds = round(time.perf_counter() - started, 3)
        if engine is None:
            raise RuntimeError(
                f"no engine for voice {voice.name}: "
                + "; ".join(f"{a.engine_type}: {a.reason}" for a in decision.attempts)
            )
        _LOGGER.info("engine for %s: %s (%s)", voice.name, decision.winner, mode)
        return engine, decision

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
        measured = {r["engine_type"]: r for r in record.get("results", [])}
        for cand in cands:
            r = measured.get(cand.engine_type)
            if r is None or not cand.path.exists():
                continue
            if r.get("path") != str(cand.path) or r.get("sha256") != self.sha256(cand.path):
                return (
                    "priority",
                    f"tune record is stale: {cand.engine_type} ({cand.path}) changed since "
                    "`macbot tune`",
                    {},
                )
        return "tuned", f"following `macbot tune` record (winner: {record.get('winner')})", measured

    @staticmethod
    def _order(cands: list[Candidate], tuned: dict[str, dict[str, Any]]) -> list[Candidate]:
        """Measured-and-allowed by median RTF, then unmeasured, the original always last."""

        def rank(c: Candidate) -> tuple[int, float]:
            if not c.is_variant:
                return (2, 0.0)
            r = tuned.get(c.engine_type)
            if r and r.get("chosen_ok"):
                return (0, float(r.get("median_rtf") or 0))
            return (1, 0.0)

        return sorted(cands, key=rank)

    @staticmethod
    def _check_tuned(cand: Candidate, tuned: dict[str, dict[str, Any]]) -> None:
        r = tuned.get(cand.engine_type)
        if cand.is_variant and r is not None and not r.get("chosen_ok"):
            raise CandidateRejected(f"tune record: {r.get('reason', 'not allowed')}")

    # -- one candidate -------------------------------------------------------------------

    def try_candidate(self, cand: Candidate, voice: VoiceInfo, attempt: Attempt) -> PiperEngine:
        if not cand.path.exists():
            raise CandidateRejected(f"file not found: {cand.path}")
        if cand.engine_type == COREML and cand.format == "onnx" and not self.facts.coreml:
            raise CandidateRejected(f"CoreML unavailable: {self.facts.why.get('coreml', '')}")
        if cand.is_variant:
            self._check_manifest(cand, voice, attempt)
        if cand.format == "mlpackage":
            engine = _load_mlpackage(cand, voice)
        else:
            engine = self._load_onnx(cand, voice, attempt)
        attempt.load_seconds = round(engine.load_seconds, 3)
        attempt.smoke = smoke_test(engine)
        return engine

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
        method = str(manifest.method).lower()
        on_cpu_only = all(
            _provider_text(p).startswith("CPUExecutionProvider") for p in cand.providers
        )
        if "fp16" in method and on_cpu_only:
            raise CandidateRejected(
                "FP16 weights run slower than FP32 on onnxruntime's CPU provider; FP16 is used "
                "only with CUDA or CoreML"
            )

    def _load_onnx(self, cand: Candidate, voice: VoiceInfo, attempt: Attempt) -> PiperEngine:
        cpu_only = cand.providers == ["CPUExecutionProvider"]
        cache = None
        if self.preoptimize and cpu_only:
            key = f"{self.sha256(cand.path)}{self.facts.cpu_model}"
            import hashlib

            sha = hashlib.sha256(key.encode()).hexdigest()
            cache = preoptimized_model_path(
                self.optimized_dir / "ort_cache", sha, "CPUExecutionProvider"
            )
        if cache is not None and cache.is_file():
            opts = self._session_options()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            try:
                engine = PiperEngine.load(voice, cache, cand.engine_type, cand.providers, opts)
                engine.model_path = cand.path
                attempt.warnings.append(f"loaded onnxruntime's pre-optimized graph {cache.name}")
                return engine
            except Exception as exc:  # a damaged cache file: drop it and load the source
                _LOGGER.warning("pre-optimized model %s failed (%s); rebuilding", cache, exc)
                cache.unlink(missing_ok=True)
        opts = self._session_options()
        tmp = None
        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_name(cache.name + f".{os.getpid()}.tmp")
                opts.optimized_model_filepath = str(tmp)
            except OSError as exc:  # a read-only folder only costs load time
                _LOGGER.warning("cannot write %s: %s", cache.parent, exc)
                tmp = None
        try:
            engine = PiperEngine.load(voice, cand.path, cand.engine_type, cand.providers, opts)
        except Exception as exc:  # onnxruntime raises its own types for bad models
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise CandidateRejected(f"load error: {_first_line(exc)}") from exc
        if tmp is not None and tmp.is_file():
            os.replace(tmp, cache)
        return engine


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def smoke_test(engine: PiperEngine) -> dict[str, Any]:
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


# -- .mlpackage through coremltools (macOS only) ---------------------------------------------


class _MLPackageSession:
    """Enough of an onnxruntime session for :class:`PiperEngine` over a coremltools model."""

    def __init__(self, model: Any, input_names: list[str]) -> None:
        self._model = model
        self._inputs = input_names

    def get_inputs(self) -> list[Any]:
        return [type("Input", (), {"name": n})() for n in self._inputs]

    def get_providers(self) -> list[str]:
        return ["coremltools"]

    def run(self, _names: Any, feed: dict[str, Any]) -> list[np.ndarray]:
        out = self._model.predict({k: v for k, v in feed.items() if k in self._inputs})
        return [np.asarray(next(iter(out.values())))]


def _load_mlpackage(cand: Candidate, voice: VoiceInfo) -> PiperEngine:
    try:
        import coremltools as ct
    except ImportError as exc:
        raise CandidateRejected(
            "an .mlpackage needs coremltools: pip install 'macbot-tts[macos]'"
        ) from exc
    started = time.perf_counter()
    try:
        model = ct.models.MLModel(str(cand.path))
        names = [i.name for i in model.get_spec().description.input]
    except Exception as exc:  # coremltools raises many types for a bad package
        raise CandidateRejected(f"load error: {_first_line(exc)}") from exc
    from piper.config import PiperConfig as VoiceConfig

    config = VoiceConfig.from_dict(json.loads(voice.config_path.read_text(encoding="utf-8")))
    engine = PiperEngine(voice, _MLPackageSession(model, names), config, COREML, cand.path)
    engine.load_seconds = time.perf_counter() - started
    return engine
