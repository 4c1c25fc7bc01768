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


def optimization_check(config: AppConfig) -> dict[str, Any]:
    """The configured voice's optimization for this host: whether the daemon optimizes in the
    background, the stored result (``optimize.json``), whether a run is due and why, and the
    running daemon's live state when one answers."""
    from ..client.http import DaemonClient
    from ..config import auto_optimize
    from ..core.budget import auto_voice
    from ..core.optimization import OptimizationState, check
    from ..core.selection import EngineChain
    from ..errors import DaemonError, ServiceNotRunning

    voice = auto_voice(config.tts)
    enabled, why_auto = auto_optimize(config)
    needed, record = check(EngineChain(config, preoptimize=False), voice)
    stored = OptimizationState.from_dict(record) if record else None
    live = None
    try:
        live = DaemonClient.from_config(config, timeout=2).info(timeout=2).get("optimization")
    except (ServiceNotRunning, DaemonError):  # no daemon, or an older one: stored state only
        live = None
    return {
        "voice": voice.name,
        "auto": enabled,
        "auto_reason": why_auto,
        "stored": stored.summary() | {"reason": stored.reason} if stored else None,
        "needs_run": needed,
        "daemon": {k: live.get(k) for k in ("state", "step", "progress", "winner", "reason")}
        if live
        else None,
    }


def families_check(config: AppConfig) -> dict[str, Any]:
    """Each model family's recorded figures on this host (first audio of a typical sentence,
    real-time factor; the daemon measures a family at its first load), what ``voice: auto``
    chooses from them, with why, and whether Kokoro runs on CoreML here (the probe's
    recorded verdict, or why it was not probed)."""
    from ..core import budget, coreml_probe

    tts = config.tts
    figures = budget.recorded_figures(tts)
    choice = budget.recorded_choice(tts)
    return {
        "voice": tts.voice,
        "prefer": list(tts.prefer),
        "latency_budget_ms": tts.latency_budget_ms,
        "max_rtf": budget.MAX_RTF,
        "figures": {f: v.to_dict() if v else None for f, v in figures.items()},
        "auto_choice": choice.voice if choice else None,
        "auto_reason": choice.reason
        if choice
        else "not measured on this host yet (the daemon measures at its first start)",
        "kokoro_coreml": coreml_probe.status(tts),
    }


def listeners_check(config: AppConfig) -> dict[str, Any]:
    """The running daemon's ``/health``: its status and the enabled listeners (WebSocket,
    Wyoming) that could not bind, each with why; ``daemon: false`` when none answers."""
    from ..client.http import DaemonClient
    from ..errors import DaemonError, ServiceNotRunning

    try:
        health = DaemonClient.from_config(config, timeout=2).health(timeout=2)
    except (ServiceNotRunning, DaemonError) as exc:
        return {"daemon": False, "reason": str(exc), "failed": {}}
    return {
        "daemon": True,
        "status": health.get("status"),
        "failed": dict(health.get("failed_listeners") or {}),
    }


def run(args: argparse.Namespace, config: AppConfig) -> int:
    from ..core.probes import probe_host

    facts = probe_host()
    report = {
        **facts.to_dict(),
        "audio": audio_check(config),
        "config": config_check(config),
        "optimization": optimization_check(config),
        "families": families_check(config),
        "listeners": listeners_check(config),
    }
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
    _print_optimization(console, report["optimization"])
    _print_families(console, report["families"])
    _print_listeners(console, report["listeners"])
    return ExitCode.OK


def _print_families(console: Any, fam: dict[str, Any]) -> None:
    console.print(
        f"families on this host (voice: {escape(fam['voice'])}, prefer "
        f"{', '.join(fam['prefer'])}, budget {fam['latency_budget_ms']:.0f} ms first audio, "
        f"RTF <= {fam['max_rtf']}):"
    )
    for family, figures in fam["figures"].items():
        if figures:
            console.print(
                f"  {family}: first audio {figures['first_audio_ms']:.0f} ms, RTF "
                f"{figures['rtf']:.2f} ({escape(figures['voice'])}, {figures['measured_by']})"
            )
        else:
            console.print(f"  {family}: not measured on this host yet")
    coreml = fam["kokoro_coreml"]
    console.print(
        f"  kokoro on CoreML: {'used' if coreml['use'] else 'not used'}: "
        f"{escape(coreml['reason'])}",
        soft_wrap=True,
    )
    choice = fam["auto_choice"] or "-"
    console.print(f"  auto chooses {escape(choice)}: {escape(fam['auto_reason'])}", soft_wrap=True)


def _print_listeners(console: Any, listeners: dict[str, Any]) -> None:
    if not listeners["daemon"]:
        console.print(f"daemon: not running ({escape(listeners['reason'])})", soft_wrap=True)
        return
    console.print(f"daemon: {escape(str(listeners['status']))}")
    for name, why in listeners["failed"].items():
        console.print(f"  [red]{escape(name)} not listening[/red]: {escape(why)}", soft_wrap=True)


def _print_optimization(console: Any, opt: dict[str, Any]) -> None:
    console.print(
        f"optimization of {escape(opt['voice'])}: background "
        f"{'on' if opt['auto'] else 'off'} ({escape(opt['auto_reason'])})"
    )
    stored = opt["stored"]
    if stored:
        console.print(
            f"  stored: {stored['state']}, winner {escape(str(stored['winner']))} "
            f"(finished {stored['finished_at']}): {escape(stored['reason'])}"
        )
    if opt["needs_run"]:
        console.print(f"  due: {escape(opt['needs_run'])} (macbot optimize, or the daemon)")
    live = opt["daemon"]
    if live:
        step = f", step {live['step']} {100 * (live['progress'] or 0):.0f}%" if live["step"] else ""
        console.print(f"  daemon: {live['state']}{step}: {escape(live['reason'] or '')}")


def _shown(value: Any) -> str:
    if value is None or value == ():
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
