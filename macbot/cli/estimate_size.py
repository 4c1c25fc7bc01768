"""``macbot estimate-size``: the estimated size of a voice quantized by threshold, from a
trials CSV.

Shared helpers: :mod:`macbot.cli.toolkit`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from ..config import AppConfig
from ..errors import (
    ExitCode,
    UsageError,
)
from .common import command, out_console
from .toolkit import (
    MODEL_HELP,
    TRIALS_CSV,
    mb,
    read_trials,
    source_voice,
)


def cmd_estimate_size(args: argparse.Namespace, config: AppConfig) -> int:
    """Estimated size for each threshold, before exporting."""
    from ..tools.toolkit.trials import estimate_size

    rows = read_trials(args.csv)
    _, source = source_voice(args.model, config)
    try:
        thresholds = [float(t) for t in args.thresholds.split(",")]
    except ValueError as exc:
        raise UsageError(f"--thresholds: {exc}") from exc
    table = Table(title=f"Estimated size of {source.name} quantized by threshold (dB)")
    for column in ("threshold", "nodes", "parameters", "estimated MB", "reduction"):
        table.add_column(column, justify="right")
    for t in thresholds:
        e = estimate_size(rows, source.stat().st_size, t, args.exclude)
        table.add_row(
            f"{t:g}",
            str(e["nodes"]),
            f"{e['params']:,}",
            mb(e["estimated_bytes"]),
            f"{100 * e['reduction']:.1f}%",
        )
    out_console().print(table)
    return ExitCode.OK


def register(sub: Any) -> None:
    """Add ``estimate-size``."""
    e = command(sub, "estimate-size", help="estimated size by threshold from a trials CSV")
    e.add_argument("--model", help=MODEL_HELP)
    e.add_argument(
        "--csv", type=Path, default=TRIALS_CSV, help=f"the trials (default: {TRIALS_CSV})"
    )
    e.add_argument(
        "--thresholds",
        default="0.1,0.2,0.5,1,2,5",
        help="comma-separated distances in dB; nodes under each are counted (default: "
        "0.1,0.2,0.5,1,2,5)",
    )
    e.add_argument("--exclude", help="regex of node names kept in float32 (default: none excluded)")
    e.set_defaults(handler=cmd_estimate_size)
