"""``macbot doctor``: the host probes, each absent thing with its reason."""

from __future__ import annotations

import argparse
import json

from .config import AppConfig


def register(sub) -> None:
    """Add ``macbot doctor`` (see :data:`macbot.cli.COMMAND_MODULES`)."""
    parser = sub.add_parser("doctor", help="show what this machine can run (probes)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_cmd_doctor)


def _cmd_doctor(args: argparse.Namespace, config: AppConfig) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .probes import probe_host

    facts = probe_host()
    if args.json:
        print(json.dumps(facts.to_dict(), indent=2))
        return 0
    table = Table(title="macbot doctor: host probes")
    for col in ("fact", "value", "source / reason"):
        table.add_column(col)
    absent = facts.absent()
    for name, value in facts.to_dict().items():
        if name in ("why", "absent"):
            continue
        shown = ", ".join(value) if isinstance(value, (list, tuple)) else str(value)
        if name in absent:
            table.add_row(name, "[red]absent[/red]", escape(absent[name]))
        else:
            table.add_row(name, escape(shown), escape(facts.why.get(name, "")))
    Console().print(table)
    return 0
