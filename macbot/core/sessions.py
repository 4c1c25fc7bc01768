"""The one place that builds onnxruntime sessions.

Every session of the package, the daemon's engines, the split engine's encoder and decoder,
``macbot tune`` and the tools' measurements, is made here from a :class:`SessionPlan`, so that
what is measured is what the daemon runs:

- intra-op threads from the worker plan (:func:`macbot.core.workers.plan_workers`);
- the CPU memory arena per ``tts_memory_arena``, kept during a burst of requests and shrunk
  once the daemon is idle (kept for good, it held the longest sentence's peak; see
  :attr:`SessionPlan.arena_shrinkage` and :func:`shrink_options`);
- the memory pattern always off: with inputs of varied length it plans and keeps new buffers
  for every new length (RSS grew ~80 % over 200 requests with it on);
- inter-op threads 1 (the graphs are sequential);
- thread-pool spinning off for engines whose sessions take turns (the split engine's encoder
  and decoder: spinning idle pools stole the cores, 1.23× slower than the unsplit engine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import onnxruntime as ort

Providers = Sequence[str | tuple[str, dict[str, Any]]]
"""onnxruntime providers, each a name or (name, options)."""

CPU: tuple[str, ...] = ("CPUExecutionProvider",)


@dataclass(frozen=True)
class SessionPlan:
    """How the sessions of one process run."""

    intra_op_threads: int = 0
    """Threads per model run (0: onnxruntime's default, every core)."""
    memory_arena: bool = True
    """onnxruntime's CPU memory arena."""
    spinning: bool = True
    """Idle intra-op threads spin for more work (off for sessions that take turns)."""
    arena_shrinkage: bool = False
    """With the arena: give its unused memory back at the end of *every* run (measured,
    issue 11: a few per cent slower than keeping it, ``memspeed``). The daemon keeps the arena
    during a burst and shrinks it once idle instead (``Synthesizer.release_idle_memory``);
    kept for good, it held the peak of the longest sentence so far (+224 MB over 146 varied
    ones)."""

    def run_options(self) -> ort.RunOptions | None:
        """Options for each ``session.run`` of this plan (``None``: onnxruntime's own)."""
        if not (self.memory_arena and self.arena_shrinkage):
            return None
        return shrink_options()

    def without_spinning(self) -> SessionPlan:
        return replace(self, spinning=False)

    def options(
        self, *, optimized_model_out: Path | None = None, preoptimized: bool = False
    ) -> ort.SessionOptions:
        """Fresh session options for this plan.

        ``optimized_model_out``: onnxruntime writes the graph it optimized there (loading that
        file next time skips the optimization, which is where load time goes).
        ``preoptimized``: the model being loaded is such a file; graph optimization is off.
        """
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.intra_op_threads
        opts.inter_op_num_threads = 1
        opts.enable_cpu_mem_arena = self.memory_arena
        opts.enable_mem_pattern = False
        opts.log_severity_level = 3  # the graph optimizer's warnings are noise here
        if not self.spinning:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if preoptimized:
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        elif optimized_model_out is not None:
            opts.optimized_model_filepath = str(optimized_model_out)
        return opts

    def describe(self) -> dict[str, Any]:
        return {
            "intra_op_threads": self.intra_op_threads,
            "memory_arena": self.memory_arena,
            "memory_pattern": False,
            "arena_shrinkage": self.memory_arena and self.arena_shrinkage,
            "spinning": self.spinning,
        }


def shrink_options() -> ort.RunOptions:
    """Run options that make a run hand the CPU arena's unused memory back when it ends (a
    small run after a burst frees what the burst's long sentences left in the arena)."""
    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


def open_session(
    path: Path,
    plan: SessionPlan,
    providers: Providers = CPU,
    *,
    optimized_model_out: Path | None = None,
    preoptimized: bool = False,
) -> ort.InferenceSession:
    """An ``InferenceSession`` of the model at ``path`` run by ``plan``."""
    return ort.InferenceSession(
        str(path),
        sess_options=plan.options(
            optimized_model_out=optimized_model_out, preoptimized=preoptimized
        ),
        providers=list(providers),
    )


def preoptimized_model_path(cache_dir: Path, key: str, provider: str) -> Path:
    """Where onnxruntime's optimized graph of a model is kept: keyed by ``key`` (a digest of the
    source and the CPU), the onnxruntime version and the provider; it is valid for those only."""
    tag = provider.removesuffix("ExecutionProvider").lower()
    return cache_dir / f"{key[:16]}-ort{ort.__version__}-{tag}.optimized.onnx"
