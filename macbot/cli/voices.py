"""``macbot voices``: the voices that can be used; ``voices add|download|remove``: voices you
can add (checked, then installed in ``models.tts.voices_dir``)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from ..config import AppConfig
from ..core.voices import all_voices
from ..errors import ExitCode
from .common import command, err_console, out_console

ENV_VOICES_URL = "MACBOT_VOICES_URL"
"""Where ``voices download`` fetches from (default: the rhasspy/piper-voices catalogue)."""


def register(sub) -> None:
    parser = command(
        sub,
        "voices",
        help="list the voices that can be used; add, download or remove one",
        description="Without an action: the voices that can be used.\n\n"
        "  macbot voices add ~/Downloads/en_GB-alan-medium.onnx   # with its .onnx.json\n"
        "  macbot voices download en_GB-alan-medium               # piper-voices catalogue\n"
        "  macbot voices remove en_GB-alan-medium",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (default: a table)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    add = command(
        actions,
        "add",
        help="check a downloaded voice and install it in the voices folder",
        description="Check and install a Piper voice (NAME.onnx with NAME.onnx.json beside it)\n"
        "or a Kokoro model (.onnx) or voices file (.bin/.npz) in models.tts.voices_dir\n"
        "(Kokoro files go to its kokoro/ subfolder; the output names the config key).",
    )
    add.add_argument("path", type=Path, help="the .onnx model (or a Kokoro voices file)")
    add.add_argument("--name", help="the voice's name (default: the file's name)")
    add.add_argument("--force", action="store_true", help="replace a voice of the same name")
    download = command(
        actions,
        "download",
        help="fetch a Piper voice by its catalogue name (piper-tts's downloader)",
        description="Fetch a voice of the rhasspy/piper-voices catalogue by name\n"
        "(language_REGION-name-quality, e.g. en_GB-alan-medium), check it and install it.",
    )
    download.add_argument("name", help="the catalogue's name, e.g. en_GB-alan-medium")
    download.add_argument(
        "--base-url",
        default=os.environ.get(ENV_VOICES_URL) or None,
        help=f"where the catalogue is (default: ${ENV_VOICES_URL}, else piper-tts's "
        "huggingface.co/rhasspy/piper-voices)",
    )
    download.add_argument("--force", action="store_true", help="fetch it again if installed")
    remove = command(actions, "remove", help="remove an installed voice")
    remove.add_argument("name", help="the voice's name (as `macbot voices` lists it)")
    for action in (add, download, remove):
        action.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON"
        )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: AppConfig) -> int:
    voices_dir = Path(config.tts.voices_dir)
    if args.action == "add":
        from ..tools.installer import add

        return _installed(add(args.path, voices_dir, args.name, args.force), args.json)
    if args.action == "download":
        return _download(args, voices_dir)
    if args.action == "remove":
        from ..tools.installer import remove

        removed = remove(args.name, voices_dir)
        if args.json:
            print(json.dumps({"removed": [str(p) for p in removed]}, indent=2))
        else:
            for path in removed:
                print(f"removed {path}")
        return ExitCode.OK
    return _list(config, args.json)


def _download(args: argparse.Namespace, voices_dir: Path) -> int:
    from ..tools.installer import PIPER_BASE_URL, download

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console(),
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done)

    with bar:
        installed = download(
            args.name, voices_dir, args.base_url or PIPER_BASE_URL, progress, args.force
        )
    return _installed(installed, args.json)


def _installed(installed, as_json: bool) -> int:
    if as_json:
        print(
            json.dumps(
                {
                    "name": installed.name,
                    "kind": installed.kind,
                    "files": [str(p) for p in installed.files],
                    "notes": installed.notes,
                    **installed.facts,
                },
                indent=2,
            )
        )
        return ExitCode.OK
    console = out_console()
    console.print(f"installed {escape(installed.name)} ({installed.kind}):")
    for path in installed.files:
        console.print(f"  {escape(str(path))}", soft_wrap=True)
    for note in installed.notes:  # whole lines: a path or a config key is copied from them
        console.print(escape(note), soft_wrap=True)
    return ExitCode.OK


def _list(config: AppConfig, as_json: bool) -> int:
    voices = [v.describe() for v in all_voices(config.tts)]
    if as_json:
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
        "Use one with: macbot say TEXT --voice NAME; add more with `macbot voices add PATH` "
        "or `macbot voices download NAME`"
    )
    return ExitCode.OK
