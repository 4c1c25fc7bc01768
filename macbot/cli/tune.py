"""``macbot tune``: time the engine candidates here and store the winner."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from ..config import AppConfig
from ..errors import ExitCode, UsageError
from .common import command, out_console, spinner
from .optimize import speed_text


def register(sub) -> None:
    parser = command(
        sub,
        "tune",
        help="time the engine candidates here and store the winner",
        description="Time every engine candidate of the configured voice on this machine\n"
        "(interleaved rounds, noise 0, the daemon's own session settings) and store the\n"
        "winner in optimized_models/tune.json; the daemon follows it at its next start.",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds over the tune sentences (default: 3)",
    )
    parser.add_argument("--json", action="store_true", help="print the record as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: AppConfig) -> int:
    if args.rounds < 1:
        raise UsageError(f"--rounds must be at least 1 (got {args.rounds})")
    from ..tools.tune import tune, tune_chain

    chain = tune_chain(config)
    with spinner("tuning…") as status:
        record = tune(config, args.rounds, chain=chain, progress=status.update)
    if args.json:
        print(json.dumps(record, indent=2))
        return ExitCode.OK
    table = Table(title=f"macbot tune: winner {record['winner']}")
    for col in ("candidate", "file", "median RTF", "× original", "allowed", "why"):
        table.add_column(col)
    for e in record["results"]:
        table.add_row(
            e.get("name") or e["engine_type"],
            Path(e["path"]).name,
            str(e.get("median_rtf") if e.get("median_rtf") is not None else "-"),
            speed_text({"speedup": e.get("speedup_vs_original"), **e}),
            "yes" if e.get("chosen_ok") else "no",
            escape(e.get("reason", "")),
        )
    console = out_console()
    console.print(table)
    if record.get("busy"):
        console.print(f"[yellow]{escape(record['busy'])}[/]: run it again when the machine is idle")
    console.print(
        f"Saved to {chain.tune_path}. The daemon uses {record['winner']} from its next start "
        "(restart it: macbot service start)."
    )
    return ExitCode.OK
