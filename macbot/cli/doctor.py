"""``macbot doctor``: what this machine can run, which config is in force, whether sound works."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.markup import escape
from rich.table import Table

from ..config import AppConfig, search_order
from ..errors import ExitCode, MacbotError
from .common import command, out_console


def register(sub) -> None:
    parser = command(
        sub,
        "doctor",
        help="show what this machine can run, the config in force and the sound output",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (default: tables)")
    parser.set_defaults(handler=run)


def audio_check(config: AppConfig) -> dict[str, Any]:
    """Whether the configured sound output works here (PortAudio and a device), and why not."""
    from ..core.playback import SoundDeviceOutput

    output = SoundDeviceOutput(config.voice_assistant.audio.output_device)
    try:
        output.check()
        devices = output.devices()
    except MacbotError as exc:
        return {
            "available": False,
            "reason": str(exc),
            "hint": "Linux needs PortAudio (Debian/Ubuntu: sudo apt install libportaudio2) "
            "and a sound card; `macbot say -o FILE.wav` works without one",
        }
    return {"available": True, "devices": [d["name"] for d in devices]}


def config_check(config: AppConfig) -> dict[str, Any]:
    """The config file in force, where else one is looked for, and its warnings."""
    return {
        "source": str(config.source) if config.source else None,
        "search_order": [
            {
                "where": how,
                "path": str(path) if path else None,
                "exists": bool(path and path.is_file()),
            }
            for how, path in search_order()
        ],
        "warnings": list(config.warnings),
    }


def run(args: argparse.Namespace, config: AppConfig) -> int:
    from ..core.probes import probe_host

    facts = probe_host()
    report = {**facts.to_dict(), "audio": audio_check(config), "config": config_check(config)}
    if args.json:
        print(json.dumps(report, indent=2))
        return ExitCode.OK
    console = out_console()
    table = Table(title="macbot doctor: host probes")
    for col in ("fact", "value", "source / reason"):
        table.add_column(col)
    absent = facts.absent()
    for name, value in facts.to_dict().items():
        if name in ("why", "absent"):
            continue
        if name in absent:
            table.add_row(name, "[red]absent[/red]", escape(absent[name]))
        else:
            table.add_row(name, escape(_shown(value)), escape(facts.why.get(name, "")))
    console.print(table)
    audio = report["audio"]
    if audio["available"]:
        console.print(f"sound output: ok ({escape(', '.join(audio['devices']))})", soft_wrap=True)
    else:
        console.print(
            f"sound output: [red]unavailable[/red]: {escape(audio['reason'])}", soft_wrap=True
        )
        console.print(f"  hint: {escape(audio['hint'])}", soft_wrap=True)
    cfg = report["config"]
    console.print(
        f"config: {escape(cfg['source'] or 'built-in defaults (no config file)')}", soft_wrap=True
    )
    for place in cfg["search_order"]:
        mark = "found" if place["exists"] else "-"
        console.print(
            f"  looked in {place['where']}: {escape(place['path'] or 'not set')} ({mark})"
        )
    for warning in cfg["warnings"]:
        console.print(f"  [yellow]warning[/yellow]: {escape(warning)}", soft_wrap=True)
    return ExitCode.OK


def _shown(value: Any) -> str:
    if value is None or value == ():
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
