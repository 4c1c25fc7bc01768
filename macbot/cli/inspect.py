"""``macbot inspect``: a model's size and parameters by op and dtype; the diff of two.

Shared helpers: :mod:`macbot.cli.toolkit`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.table import Table

from ..config import AppConfig
from ..errors import (
    ExitCode,
    ModelNotFoundError,
    UsageError,
)
from ..tools.toolkit.graph import GROUPINGS, diff, model_stats
from .common import command, model_file, out_console
from .toolkit import (
    mb,
    model_errors,
)


def cmd_inspect(args: argparse.Namespace, config: AppConfig) -> int:
    """Size and parameters by group; with ``--diff``, ops added/removed and the size change."""

    if args.by not in GROUPINGS:
        raise UsageError(f"--by must be one of {', '.join(GROUPINGS)}")
    model = model_file(args.model, config)
    console = out_console()
    with model_errors():
        try:
            stats = model_stats(model, args.by)
            other_path = model_file(args.diff, config) if args.diff else None
            other = model_stats(other_path, args.by) if other_path else None
        except ValueError as exc:
            raise ModelNotFoundError(str(exc)) from exc
        if args.json:
            print(json.dumps(_stats_json(stats, other, model, other_path), indent=2))
            return ExitCode.OK
        for s in (stats, other) if other else (stats,):
            total_bytes = sum(r.bytes for r in s.rows) or 1
            table = Table(
                title=f"{s.path.name}: {mb(s.file_bytes)} MB, {s.nodes} nodes, "
                f"{s.params:,} parameters"
            )
            for column in ("group", "size KB", "share", "parameters", "tensors"):
                table.add_column(column, justify="left" if column == "group" else "right")
            shown = s.rows[: args.max_rows]
            for r in shown:
                table.add_row(
                    r.group,
                    f"{r.bytes / 1024:,.1f}",
                    f"{100 * r.bytes / total_bytes:.1f}%",
                    f"{r.params:,}",
                    str(r.tensors),
                )
            rest = s.rows[args.max_rows :]
            if rest:
                table.add_row(
                    f"… and {len(rest)} more rows",
                    f"{sum(r.bytes for r in rest) / 1024:,.1f}",
                    f"{100 * sum(r.bytes for r in rest) / total_bytes:.1f}%",
                    f"{sum(r.params for r in rest):,}",
                    str(sum(r.tensors for r in rest)),
                )
            console.print(table)
        if other:
            d = diff(model, other_path)
            console.print(f"Added operations (in {Path(args.diff).name}):")
            for op, n in d.added.items():
                console.print(f"  {op}: {n} nodes")
            console.print("Removed operations:")
            for op, n in d.removed.items():
                console.print(f"  {op}: {n} nodes")
            console.print(
                f"Total nodes: {d.nodes_a} → {d.nodes_b} ({d.nodes_b - d.nodes_a:+d}); "
                f"size {mb(d.bytes_a)} MB → {mb(d.bytes_b)} MB "
                f"(reduction {100 * d.size_reduction:.1f}%)"
            )
    return ExitCode.OK


def _stats_json(stats: Any, other: Any, model: Path, other_path: Path | None) -> dict:

    def one(s: Any) -> dict:
        return {
            "path": str(s.path),
            "file_bytes": s.file_bytes,
            "nodes": s.nodes,
            "params": s.params,
            "rows": [asdict(r) for r in s.rows],
        }

    data: dict[str, Any] = {"model": one(stats)}
    if other:
        d = diff(model, other_path)
        data["other"] = one(other)
        data["diff"] = {**asdict(d), "size_reduction": round(d.size_reduction, 4)}
    return data


def register(sub: Any) -> None:
    """Add ``inspect``."""
    i = command(sub, "inspect", help="size and parameters of a model by op/dtype; diff two")
    i.add_argument("model", help="the model: a path to an .onnx, or a voice name")
    i.add_argument(
        "--by",
        default="op+dtype",
        help=f"group the rows by {', '.join(GROUPINGS)} (default: op+dtype)",
    )
    i.add_argument(
        "--diff",
        metavar="OTHER",
        help="compare with another model (path or voice name): ops added and removed, size "
        "change (default: none)",
    )
    i.add_argument("--max-rows", type=int, default=15, help="rows shown per model (default: 15)")
    i.add_argument("--json", action="store_true", help="print JSON (default: tables)")
    i.set_defaults(handler=cmd_inspect)
