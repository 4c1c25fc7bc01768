"""``macbot trial``: quantize each large node alone and measure it (a CSV for
``estimate-size`` and ``export-optimized``).

Shared helpers: :mod:`macbot.cli.toolkit`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import AppConfig
from ..errors import ExitCode
from ..tools.toolkit.extras import require
from .common import command, out_console, progress
from .toolkit import (
    MODEL_HELP,
    TRIALS_CSV,
    model_errors,
    source_voice,
    verify_sentences,
)


def cmd_trial(args: argparse.Namespace, config: AppConfig) -> int:
    """Quantize each large node alone, measure its distance, write the CSV."""
    from ..tools.toolkit.trials import candidates, run_trials, write_csv

    voice, source = source_voice(args.model, config)
    with model_errors():
        require("onnx", "toolkit")

        total = len(candidates(source, args.min_params, args.exclude)[: args.limit])
        with progress() as bar:
            task = bar.add_task("trial quantization", total=total)
            rows = run_trials(
                voice,
                source,
                verify_sentences(args.sentences),
                args.min_params,
                args.limit,
                args.exclude,
                done=lambda _row: bar.advance(task),
            )
        path = write_csv(rows, args.csv)
    out_console().print(
        f"wrote {len(rows)} trials to {path}. Next: `macbot estimate-size --csv {path}` to "
        "choose a threshold, then `macbot export-optimized --quant-threshold DB`."
    )
    return ExitCode.OK


def register(sub: Any) -> None:
    """Add ``trial``."""
    t = command(sub, "trial", help="quantize each large node alone and measure it (CSV)")
    t.add_argument("--model", help=MODEL_HELP)
    t.add_argument("--csv", type=Path, default=TRIALS_CSV, help=f"output (default: {TRIALS_CSV})")
    t.add_argument(
        "--min-params",
        type=int,
        default=100_000,
        help="trial only nodes with at least this many parameters (default: 100000)",
    )
    t.add_argument("--limit", type=int, help="only the N largest nodes (default: all)")
    t.add_argument(
        "--sentences", type=int, default=2, help="sentences rendered per trial (default: 2)"
    )
    t.add_argument("--exclude", help="regex of node names not to trial (default: none excluded)")
    t.set_defaults(handler=cmd_trial)
