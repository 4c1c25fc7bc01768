"""The options of a benchmark run: one typed, frozen :class:`BenchOptions` every suite takes.

Each option is declared once, as a field with its default and its help; :func:`add_arguments`
turns the fields into ``macbot bench`` flags (``kokoro_sentences`` → ``--kokoro-sentences``)
and :func:`from_args` reads them back, so the command line and the suites cannot disagree.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from macbot.errors import UsageError

from .common import Reporter, Silent


def option(default: Any, help: str, **argparse_kwargs: Any) -> Any:
    """A field with its ``--flag``'s help (``argparse_kwargs``: the flag's ``type``, ``nargs``
    or ``action`` when the default does not tell it)."""
    return field(default=default, metadata={"help": help, **argparse_kwargs})


@dataclass(frozen=True)
class BenchOptions:
    """What a suite may be told; a suite reads only the fields it names in its help."""

    rounds: int = option(
        3,
        "rounds over the suite's sentences; each round times every contender on each sentence "
        "in turn",
    )
    json: Path | None = option(None, "also write the results here", type=Path)  # noqa: RUF009
    cli_runs: int = option(4, "rtf: `macbot say` processes to time")
    rss_requests: int = option(
        200, "daemon, memory, optimize, families-rss: varied requests for the RSS check"
    )
    soak_requests: int = option(1000, "soak: mixed requests to send")
    bad_messages: int = option(1000, "bad-messages: generated messages per protocol")
    chunk_frames: int = option(32, "split: first chunk, frames")
    context_frames: int = option(12, "split: context, frames")
    static_chunk_frames: int = option(64, "split: the static decoder's chunk, frames")
    growth: float = option(4.0, "split: chunk growth factor")
    sweep_rounds: int = option(1, "split: rounds of the sweep")
    variants: tuple[str, ...] = option(
        (),
        "variants: models to compare (.onnx; default: every variant with a manifest in "
        "optimized_models/)",
        nargs="*",
    )
    out: Path | None = option(  # noqa: RUF009 (a field(), as every option)
        None,
        "variants, soak, optimize, pareto, bounds, kokoro-*: output folder for JSON, Markdown "
        "and PNG (default: bench_results/SUITE)",
        type=Path,
    )
    probe_interval: float = option(
        1.0, "optimize: seconds between lone-sentence probes during the optimization"
    )
    kokoro_recipes: tuple[str, ...] = option(
        (),
        "kokoro-variants: recipes to build and measure (default: all of "
        "macbot.tools.kokoro_variants.RECIPES)",
        nargs="*",
    )
    kokoro_sentences: int = option(8, "kokoro-variants, kokoro-stream: unseen sentences to time")
    kokoro_gate_sentences: int = option(
        32, "kokoro-targets: sentences of the self-optimization's quality gate"
    )
    engines: tuple[str, ...] = option(
        (), "bounds: the engines to run (original, split, quantized; default: all three)", nargs="*"
    )
    cases: tuple[str, ...] = option(
        (),
        "bounds: only the cases whose names contain one of these (default: every case)",
        nargs="*",
    )
    force: bool = option(
        False,
        "pareto: rebuild and re-measure every candidate (default: reuse OUT/models)",
        action="store_true",
    )
    reporter: Reporter = field(default_factory=Silent, compare=False, repr=False)
    """Where suites report progress (the CLI's progress bar; silent by default)."""

    def __post_init__(self) -> None:
        for name in ("rounds", "cli_runs", "sweep_rounds", "kokoro_sentences"):
            if getattr(self, name) < 1:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} must be at least 1 (got {getattr(self, name)})")


def _flags() -> list[Any]:
    return [f for f in fields(BenchOptions) if "help" in f.metadata]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The fields of :class:`BenchOptions` as ``--flags`` of ``parser``."""
    for f in _flags():
        kwargs = {k: v for k, v in f.metadata.items() if k != "help"}
        if "nargs" in kwargs:
            kwargs.setdefault("type", str)
        elif "action" not in kwargs and "type" not in kwargs:
            kwargs["type"] = type(f.default)
        shown = "none" if f.default in (None, ()) else f.default
        help_text = f.metadata["help"]
        if "(default:" not in help_text and kwargs.get("action") != "store_true":
            help_text += f" (default: {shown})"
        parser.add_argument(
            "--" + f.name.replace("_", "-"), default=f.default, help=help_text, **kwargs
        )
    return parser


def from_args(args: argparse.Namespace, reporter: Reporter | None = None) -> BenchOptions:
    """The options parsed by :func:`add_arguments` (lists become tuples)."""
    values = {}
    for f in _flags():
        value = getattr(args, f.name)
        values[f.name] = tuple(value) if isinstance(value, list) else value
    return BenchOptions(**values, reporter=reporter or Silent())
