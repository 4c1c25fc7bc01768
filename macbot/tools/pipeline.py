"""One run of an optimization pipeline for one voice, whatever its family: the state and its
progress, the steps run in order (a failing step recorded as the run's failure), and the steps
every family shares: the quality gate of the candidates, the timing that picks the winner, the
record. A family's own steps: :mod:`.optimizer` (Piper: split, calibrate, trials, quantize,
CoreML) and :mod:`.kokoro_optimizer` (Kokoro: durations, quantize).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

from ..config import AppConfig
from ..core.engines import Engine, registry
from ..core.manifests import Manifest, Verdict, manifest_path
from ..core.optimization import OptimizationState, Step, check, now_iso, save_state
from ..core.selection import ORIGINAL, Candidate, EngineChain
from ..core.sessions import SessionPlan
from ..core.voices import VoiceInfo
from ..errors import MissingExtraError
from .toolkit.gate import MCD_BOUND_DB, WER_MARGIN_POINTS, judge
from .toolkit.phrases import CALIBRATION_PHRASES, VERIFY_SENTENCES
from .toolkit.transcriber import Transcriber
from .toolkit.verifier import Reference, compare, reference
from .tune import QUALITY_TIE, TIMINGS_COST, TUNE_SENTENCES, tune

_LOGGER = logging.getLogger(__name__)

SEEDED_STEPS = ("calibrate", "trials", "quantize")
"""Steps that run the models with the voice's own noise (calibration latents, the encoder's
activation ranges): each starts from :data:`SEED`, so the same voice on the same host always
gets the same variants and the same gate verdicts (unseeded, two runs on this machine kept 8
and 6 decoder nodes float and the gate passed ``q-trials`` once and refused it once)."""

SEED = 20261124


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
    recipes: Sequence[Any] | None = None
    """Piper's candidate pairs (:data:`.optimizer.RECIPES`); ``None``: its
    :data:`.optimizer.DEFAULT_RECIPES`. Kokoro's recipes are :attr:`.KokoroOptimizer.recipes`."""
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


class Pipeline:
    """One run of a family's steps for one voice (see the module docstring). A family names
    its steps (:attr:`step_names`, :meth:`steps`), their shares of the progress
    (:attr:`weights`) and how a candidate is opened (:meth:`_open`)."""

    step_names: tuple[str, ...] = ()
    weights: dict[str, float] = {}  # noqa: RUF012 (a family's table, never changed)

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
        self.state = OptimizationState(voice=voice.name)
        self.run_ = Run()
        self.record: dict[str, Any] = {}
        """The tune step's record (which names the winner)."""

    # -- reporting -------------------------------------------------------------------------

    def _emit(self) -> None:
        done = sum(
            self.weights.get(s.name, 0) * (1.0 if s.state in ("done", "skipped") else s.progress)
            for s in self.state.steps
        )
        self.state.progress = round(min(1.0, done / sum(self.weights.values())), 3)
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

    def steps(self) -> list[Callable[[], object]]:
        """The family's steps in order; the last is :meth:`step_tune`."""
        raise NotImplementedError

    def run(self) -> OptimizationState:
        """Run every step; returns the final state (also stored in ``optimize.json``)."""
        self.state.steps = [Step(name) for name in self.step_names]
        self.state.state = "running"
        self.state.started_at = now_iso()
        self.optimized_dir.mkdir(parents=True, exist_ok=True)
        try:
            for step in self.steps():
                step()
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
        self._finish(self.record)
        self.after_run()
        return self.state

    def after_run(self) -> None:
        """What the family does once the run is recorded (nothing by default)."""

    def _open(self, cand: Candidate) -> Engine:
        """An engine of ``cand`` on the building plan (for the gate)."""
        raise NotImplementedError

    def _save(self) -> None:
        save_state(self.chain, self.voice, self.state, self.run_.artifacts)

    def _artifact(self, path: Path) -> None:
        """Record ``path`` (its SHA-256, by its path relative to ``optimized_dir``)."""
        rel = str(Path(path).resolve().relative_to(self.optimized_dir.resolve()))
        self.run_.artifacts[rel] = self.chain.sha256(Path(path))

    # -- gate --------------------------------------------------------------------------------

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

    # -- tune --------------------------------------------------------------------------------

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
        self.record = record
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
            row["for_timings"] = row["chosen"] and bool(r.get("for_timings"))
            row["for_quality"] = row["chosen"] and bool(r.get("for_quality"))
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
    if row.get("for_timings"):
        why = (
            f"passed the quality gate and gives word timings, within {TIMINGS_COST:.2f}× of "
            "the fastest, which does not"
        )
    elif row.get("for_quality"):
        why = (
            f"passed the quality gate with the fewest word errors of those within "
            f"{QUALITY_TIE:.2f}× of the fastest"
        )
    else:
        why = "the fastest that passed the quality gate"
    return f"{winner}: " + ", ".join([*parts, why])


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
