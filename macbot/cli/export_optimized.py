"""``macbot export-optimized``: quantize the nodes under a threshold of a trials CSV,
measured and with its manifest.

Shared helpers: :mod:`macbot.cli.toolkit`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import AppConfig
from ..errors import (
    ExitCode,
    UsageError,
)
from ..tools.toolkit.phrases import CALIBRATION_PHRASES
from .common import command, out_console, progress
from .toolkit import (
    DEFAULT_OUTPUT,
    MODEL_HELP,
    TRIALS_CSV,
    add_measurement_arguments,
    load_transcriber,
    model_errors,
    read_trials,
    source_voice,
    summary_table,
    verify_sentences,
)


def cmd_export_optimized(args: argparse.Namespace, config: AppConfig) -> int:
    """Quantize the nodes under the threshold (minus the exclude regex), measure, manifest."""
    from ..tools.toolkit.trials import export_by_threshold
    from ..tools.toolkit.variants import record, variant_path

    rows = read_trials(args.csv)
    voice, source = source_voice(args.model, config)
    sentences = None if args.no_verify else verify_sentences(args.sentences)
    with model_errors():
        transcriber = load_transcriber(sentences is not None and not args.no_wer)
        output = variant_path(args.output, source, f"optimized-{args.method}", args.suffix)
        output.parent.mkdir(parents=True, exist_ok=True)
        try:
            params = export_by_threshold(
                voice,
                source,
                rows,
                args.quant_threshold,
                output,
                args.quant_exclude,
                args.method,
                CALIBRATION_PHRASES[:4],
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        with progress() as bar:
            task = bar.add_task("verifying", total=2 * len(sentences or ()))
            manifest = record(
                f"optimized-{args.method}",
                voice,
                source,
                output,
                params,
                verify_sentences=sentences,
                transcriber=transcriber,
                speed_rounds=0 if args.no_speed else 1,
                sentence_done=lambda: bar.advance(task),
            )
    console = out_console()
    console.print(summary_table([(output, manifest)]))
    console.print(f"wrote {output} and its manifest. Next: `macbot verify {output}`.")
    return ExitCode.OK


def register(sub: Any) -> None:
    """Add ``export-optimized``."""
    x = command(sub, "export-optimized", help="quantize by threshold from a trials CSV")
    x.add_argument("--model", help=MODEL_HELP)
    x.add_argument(
        "--csv", type=Path, default=TRIALS_CSV, help=f"the trials (default: {TRIALS_CSV})"
    )
    x.add_argument(
        "--quant-threshold",
        type=float,
        default=1.0,
        help="quantize the nodes whose trial distance is at most this, dB (default: 1)",
    )
    x.add_argument(
        "--quant-exclude",
        "--exclude",
        dest="quant_exclude",
        help="regex of node names kept in float32 (default: none excluded)",
    )
    x.add_argument(
        "--method",
        choices=("dynamic", "static"),
        default="dynamic",
        help="how the chosen nodes are quantized (default: dynamic)",
    )
    x.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"folder (default: {DEFAULT_OUTPUT})"
    )
    x.add_argument(
        "--suffix",
        default="",
        help="appended to the output name: NAME.optimized-dynamic-x (default: none)",
    )
    add_measurement_arguments(x)
    x.set_defaults(handler=cmd_export_optimized)
