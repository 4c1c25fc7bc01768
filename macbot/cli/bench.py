"""``macbot bench``: benchmarks, side by side (same as ``scripts/benchmark_tts.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import AppConfig
from ..errors import ExitCode, UsageError
from .common import ProgressReporter, command, progress

SUITE_NAMES = (
    "rtf",
    "daemon",
    "split",
    "load",
    "rss",
    "memspeed",
    "variants",
    "runs",
    "memory",
    "soak",
    "frontend",
    "optimize",
    "pareto",
    "websocket",
    "word-timings",
    "bad-messages",
    "live-bounds",
    "captions",
    "kokoro-variants",
    "kokoro-stream",
    "kokoro-targets",
    "background",
    "bounds",
)
"""The suites of :mod:`macbot.tools.bench` (a test keeps the two lists equal); named here so
that ``macbot --help`` does not import the benchmarks."""

DEFAULT_SUITE = "rtf"


def register(sub) -> None:
    parser = command(
        sub,
        "bench",
        help="benchmark engines side by side (Markdown tables on stdout)",
        description="Run benchmark suites; every contender is timed on the same sentences in\n"
        "turn, so the ratios are fair on a busy machine. Results: Markdown on stdout,\n"
        "JSON with --json.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The benchmark's options (``macbot bench`` and ``scripts/benchmark_tts.py``)."""
    parser.add_argument(
        "suites",
        nargs="*",
        default=[DEFAULT_SUITE],
        metavar="SUITE",
        help=f"suites to run, in order: {', '.join(SUITE_NAMES)} (default: {DEFAULT_SUITE}, the "
        "real-time factor of piper-tts, the engine, /speak and `macbot say`)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds over the suite's sentences; each round times every contender on each "
        "sentence in turn (default: 3)",
    )
    parser.add_argument(
        "--cli-runs", type=int, default=4, help="rtf: `macbot say` processes to time (default: 4)"
    )
    parser.add_argument(
        "--rss-requests",
        type=int,
        default=200,
        help="daemon: varied requests for the RSS check (default: 200)",
    )
    parser.add_argument(
        "--soak-requests",
        type=int,
        default=1000,
        help="soak: mixed requests to send (default: 1000)",
    )
    parser.add_argument(
        "--bad-messages",
        type=int,
        default=1000,
        help="bad-messages: generated messages per protocol (default: 1000)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here (default: none)")
    parser.add_argument(
        "--chunk-frames", type=int, default=32, help="split: first chunk, frames (default: 32)"
    )
    parser.add_argument(
        "--context-frames", type=int, default=12, help="split: context, frames (default: 12)"
    )
    parser.add_argument(
        "--static-chunk-frames",
        type=int,
        default=64,
        help="split: the static decoder's chunk, frames (default: 64)",
    )
    parser.add_argument(
        "--growth", type=float, default=4.0, help="split: chunk growth factor (default: 4)"
    )
    parser.add_argument(
        "--sweep-rounds", type=int, default=1, help="split: rounds of the sweep (default: 1)"
    )
    parser.add_argument(
        "--variants",
        nargs="*",
        help="variants: models to compare (.onnx; default: every variant with a manifest in "
        "optimized_models/)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="variants, soak, optimize, pareto, bounds: output folder for JSON, Markdown and PNG "
        "(default: bench_results/SUITE)",
    )
    parser.add_argument(
        "--probe-interval",
        type=float,
        default=1.0,
        help="optimize: seconds between lone-sentence probes during the optimization (default: 1)",
    )
    parser.add_argument(
        "--kokoro-recipes",
        nargs="*",
        help="kokoro-variants: recipes to build and measure (default: all of "
        "macbot.tools.kokoro_variants.RECIPES)",
    )
    parser.add_argument(
        "--kokoro-sentences",
        type=int,
        default=8,
        help="kokoro-variants, kokoro-stream: unseen sentences to time and gate (default: 8)",
    )
    parser.add_argument(
        "--kokoro-gate-sentences",
        type=int,
        default=32,
        help="kokoro-targets: sentences of the self-optimization's quality gate (default: 32)",
    )
    parser.add_argument(
        "--engines",
        nargs="*",
        help="bounds: the engines to run (original, split, quantized; default: all three)",
    )
    parser.add_argument(
        "--cases",
        nargs="*",
        help="bounds: only the cases whose names contain one of these (default: every case)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="pareto: rebuild and re-measure every candidate (default: reuse OUT/models)",
    )
    return parser


def run(args: argparse.Namespace, _config: AppConfig) -> int:
    if args.rounds < 1:
        raise UsageError(f"--rounds must be at least 1 (got {args.rounds})")
    unknown = [name for name in args.suites if name not in SUITE_NAMES]
    if unknown:
        raise UsageError(
            f"unknown suite {unknown[0]!r}", hint=f"the suites are {', '.join(SUITE_NAMES)}"
        )
    from ..tools import bench

    with progress() as bar:
        args.reporter = ProgressReporter(bar)
        bench.run(args)
    if args.json:
        print(f"results written to {args.json}")
    return ExitCode.OK
