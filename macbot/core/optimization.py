"""The state of a voice's optimization for this host, and whether it must be run (again).

``macbot optimize`` (in the foreground, or as the daemon's low-priority child process) builds
a voice's variants for this host: the encoder/decoder split, quantized candidates, their
quality-gate verdicts, the timing of every candidate and the winner. Its progress is an
:class:`OptimizationState`, printed as one JSON line per change in ``--background`` mode (the
daemon reads them and shows the latest in ``/info``); at the end the state is stored in
``optimize.json`` under the same key as ``tune.json`` (voice sha256, onnxruntime version,
CPU, providers), with the SHA-256 of every artifact made.

:func:`check` decides at daemon start, in well under a second (hashes come from the hash
index), whether a run is needed: none for this key yet, a failed run by an older version, an
artifact missing or changed (damaged files are rebuilt), or a variant in ``optimized_dir``
that was never timed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..version import __version__
from .engines.chunked import DECODER_FILE, ENCODER_FILE, SPLIT_SUFFIX
from .manifests import FOLDER_MANIFEST, Manifest
from .records import find_record, save_record
from .selection import EngineChain, tune_key
from .voices import VoiceInfo

OPTIMIZE_FILE = "optimize.json"

STATES = ("idle", "running", "done", "failed")
"""A voice's optimization: not started (or off), in progress, finished, failed."""

STEP_STATES = ("pending", "running", "done", "skipped", "failed")

STEPS = ("split", "calibrate", "trials", "quantize", "gate", "coreml", "tune")
"""The pipeline's steps, in order."""

RETRY_FAILED_AFTER_S = 3600.0
"""A run that failed is retried at a later start once this old, or at once by another version
(a daemon restarted in a loop must not start a failing run each time)."""

EVENT = "state"
"""``--background`` prints ``{"event": "state", "state": {...}}`` lines."""


@dataclass
class Step:
    """One step of the pipeline."""

    name: str
    state: str = "pending"
    reason: str = ""
    """What it did, or why it was skipped or failed."""
    progress: float = 0.0
    seconds: float | None = None


@dataclass
class OptimizationState:
    """A voice's optimization, as ``/info`` shows it (``optimization``)."""

    voice: str
    state: str = "idle"
    step: str | None = None
    """The step running now (``None`` when not running)."""
    progress: float = 0.0
    """Overall, 0 to 1."""
    steps: list[Step] = field(default_factory=lambda: [Step(name) for name in STEPS])
    candidates: list[dict[str, Any]] = field(default_factory=list)
    """One summary per candidate: name, engine type, size, MCD, WER, verdict, speed, chosen."""
    winner: str | None = None
    reason: str = ""
    """Why the state is what it is (what was chosen and why; why nothing runs)."""
    started_at: str | None = None
    finished_at: str | None = None
    paused: bool = False
    """The daemon has paused the run while it synthesizes."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizationState:
        """The state in ``data`` (a stored record or a progress line); unknown keys ignored."""
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        steps = values.pop("steps", None)
        state = cls(**values)
        if isinstance(steps, list):
            state.steps = [
                Step(**{k: v for k, v in s.items() if k in Step.__dataclass_fields__})
                for s in steps
                if isinstance(s, dict) and "name" in s
            ]
        return state

    def step_named(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        step = Step(name)
        self.steps.append(step)
        return step

    def summary(self) -> dict[str, Any]:
        """The short form (other voices in ``/info``, the menu bar)."""
        return {
            "voice": self.voice,
            "state": self.state,
            "step": self.step,
            "progress": round(self.progress, 3),
            "winner": self.winner,
            "finished_at": self.finished_at,
        }


def now_iso() -> str:
    """The time now, ISO 8601 in UTC (``finished_at``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record_path(optimized_dir: Path) -> Path:
    return Path(optimized_dir) / OPTIMIZE_FILE


def record_key(chain: EngineChain, voice: VoiceInfo) -> dict[str, Any]:
    """What a run is valid for: :func:`~macbot.core.selection.tune_key` and the voice's name
    (its split folder is named after it, so two names for one model are two runs)."""
    return {**tune_key(chain.sha256(voice.model_path), chain.facts), "voice": voice.name}


def load_state(chain: EngineChain, voice: VoiceInfo) -> tuple[dict[str, Any] | None, dict]:
    """(the stored record of ``voice`` for this host or ``None``, its key)."""
    key = record_key(chain, voice)
    return find_record(record_path(chain.optimized_dir), key), key


def save_state(
    chain: EngineChain, voice: VoiceInfo, state: OptimizationState, artifacts: dict[str, str]
) -> dict[str, Any]:
    """Store ``state`` for ``voice`` on this host with the SHA-256 of its ``artifacts``
    (paths relative to ``optimized_dir``); returns the record."""
    record = {
        "key": record_key(chain, voice),
        "version": __version__,
        "saved": time.time(),
        "artifacts": artifacts,
        **state.to_dict(),
    }
    save_record(record_path(chain.optimized_dir), record)
    return record


def check(chain: EngineChain, voice: VoiceInfo) -> tuple[str | None, dict[str, Any] | None]:
    """(why ``voice`` needs an optimization run here, or ``None``; the stored record).

    Up to date means: a record for this (voice sha256, onnxruntime, CPU, providers) that
    finished, every artifact it made still has its recorded SHA-256, and every variant of the
    voice in ``optimized_dir`` was timed by it (a variant made by hand since is not).
    """
    record, _key = load_state(chain, voice)
    if record is None:
        return "not optimized yet for this voice, onnxruntime version, CPU and providers", None
    if record.get("state") == "failed":
        age = time.time() - float(record.get("saved") or 0)
        if record.get("version") == __version__ and age < RETRY_FAILED_AFTER_S:
            return None, record
        return f"the last run failed ({record.get('reason', '')}); trying again", record
    if record.get("state") != "done":
        return f"the last run did not finish (state {record.get('state')!r})", record
    for rel, digest in (record.get("artifacts") or {}).items():
        path = chain.optimized_dir / rel
        if not path.is_file():
            return f"{rel} is missing: rebuilding it", record
        if chain.sha256(path) != digest and not _same_split(chain, voice, rel, record):
            return f"{rel} changed since it was made (damaged or replaced): rebuilding it", record
    timed = {c.get("name") for c in record.get("candidates", [])}
    for cand in chain.found(voice):
        if cand.name not in timed:
            return f"variant {cand.name} in {chain.optimized_dir} was never timed here", record
    return None, record


def _same_split(chain: EngineChain, voice: VoiceInfo, rel: str, record: dict[str, Any]) -> bool:
    """``rel`` is the manifest of the voice's split, written again (``macbot split`` run by
    hand, as ENGINES.md says) over the same encoder and decoder: still the split this run
    made, not a damaged one (issue 19 item 8: the next start optimized from scratch)."""
    path = Path(rel)
    if path.name != FOLDER_MANIFEST or not path.parent.name.endswith(SPLIT_SUFFIX):
        return False
    artifacts = record.get("artifacts") or {}
    try:
        manifest = Manifest.read(chain.optimized_dir / rel)
    except (OSError, ValueError, TypeError):
        return False
    if manifest.method != "split" or manifest.source_sha256 != chain.sha256(voice.model_path):
        return False
    for name in (ENCODER_FILE, DECODER_FILE):
        recorded = artifacts.get(str(path.parent / name))
        if recorded is None or manifest.files.get(name) != recorded:
            return False
    return True
