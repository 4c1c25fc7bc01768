"""``macbot voices``: the voices that can be used."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from ..config import AppConfig
from ..core.voices import all_voices
from ..errors import ExitCode
from .common import command, out_console


def register(sub) -> None:
    parser = command(sub, "voices", help="list the voices that can be used")
    parser.add_argument("--json", action="store_true", help="print JSON (default: a table)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: AppConfig) -> int:
    voices = [v.describe() for v in all_voices(config.tts)]
    if args.json:
        print(json.dumps(voices, indent=2))
        return ExitCode.OK
    table = Table(title=f"Voices (Piper folder: {config.tts.voices_dir}; Kokoro and blends)")
    for column in ("name", "family", "source", "language", "quality", "speakers", "size MB"):
        table.add_column(column)
    for v in voices:
        table.add_row(
            *(
                str(v.get(key) if v.get(key) is not None else "-")
                for key in (
                    "name",
                    "family",
                    "source",
                    "language",
                    "quality",
                    "num_speakers",
                    "size_mb",
                )
            )
        )
    out_console().print(table)
    out_console().print(
        "Use one with: macbot say TEXT --voice NAME; add more in "
        f"{config.tts.voices_dir} (see piper_voices/README.md)"
    )
    return ExitCode.OK
