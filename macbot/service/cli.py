"""``macbot service install|uninstall|start|stop|status|logs``: the daemon as a launchd agent
(macOS) or a systemd user unit (Linux)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..config import AppConfig


def register(sub) -> None:
    """Add ``service`` and its actions to the ``macbot`` parser."""
    service = sub.add_parser(
        "service",
        help="run the daemon in the background (launchd agent on macOS, systemd user unit on "
        "Linux)",
    )
    actions = service.add_subparsers(dest="action", required=True, metavar="ACTION")
    install = actions.add_parser(
        "install", help="write the agent/unit for this install's Python and start it"
    )
    install.add_argument(
        "--service-config",
        type=Path,
        help="config file the service uses (default: --config, $MACBOT_CONFIG, else "
        "config/macbot.yaml of this checkout when it exists)",
    )
    actions.add_parser("uninstall", help="stop the service and remove the agent/unit")
    actions.add_parser("start", help="start (or restart) the service")
    actions.add_parser("stop", help="stop the service (it starts again at the next login)")
    status = actions.add_parser("status", help="the manager's view plus the daemon's /health")
    status.add_argument("--json", action="store_true", help="print JSON")
    logs = actions.add_parser("logs", help="show the daemon's log")
    logs.add_argument("-n", "--lines", type=int, default=100, help="lines to show (100)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    service.set_defaults(handler=run)


def _manager():
    from ..cli import CLIError, ExitCode
    from . import ServiceError, manager_for

    try:
        return manager_for()
    except ServiceError as exc:
        raise CLIError(ExitCode.SERVICE_FAILED, str(exc)) from exc


def _service_config(args: argparse.Namespace, config: AppConfig) -> Path | None:
    from ..cli import CLIError, ExitCode
    from ..config import PROJECT_ROOT, load_config

    path = args.service_config or config.source
    if path is None:
        default = PROJECT_ROOT / "config" / "macbot.yaml"
        path = default if default.is_file() else None
    if path is None:
        return None
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise CLIError(ExitCode.BAD_CONFIG, f"config file not found: {path}")
    load_config(path)  # a service that cannot start is worse than an error now
    return path


def run(args: argparse.Namespace, config: AppConfig) -> int:
    """The ``service`` handler: one action, one line per step on stdout."""
    from ..cli import CLIError, ExitCode
    from . import ServiceError, ServiceSpec

    manager = _manager()
    try:
        if args.action == "install":
            spec = ServiceSpec(config_path=_service_config(args, config))
            done = manager.install(spec)
        elif args.action == "uninstall":
            done = manager.uninstall()
        elif args.action == "start":
            done = manager.start()
        elif args.action == "stop":
            done = manager.stop()
        elif args.action == "status":
            return _status(manager, config, args.json)
        else:
            return _logs(manager, args.lines, args.follow)
    except ServiceError as exc:
        raise CLIError(ExitCode.SERVICE_FAILED, str(exc)) from exc
    for line in done:
        print(line)
    return ExitCode.OK


def _status(manager, config: AppConfig, as_json: bool) -> int:
    from ..cli import ExitCode
    from ..client import DaemonClient, DaemonError, DaemonUnavailable

    status = manager.status()
    client = DaemonClient.from_config(config, timeout=3)
    health: dict[str, object]
    try:
        health = {"url": client.url, **client.health(timeout=2)}
    except DaemonUnavailable as exc:
        health = {"url": client.url, "ready": False, "error": str(exc)}
    except DaemonError as exc:
        health = {"url": client.url, "ready": False, "error": str(exc)}
    if as_json:
        print(json.dumps({"service": status.to_dict(), "health": health}, indent=2))
    else:
        print(f"manager:   {status.manager} ({status.path})")
        print(f"installed: {'yes' if status.installed else 'no'}")
        print(f"state:     {status.state}" + (f" (pid {status.pid})" if status.pid else ""))
        if status.last_exit:
            print(f"last exit: {status.last_exit}")
        if status.detail:
            print(f"detail:    {status.detail}")
        if health.get("ready"):
            print(f"health:    ok at {health['url']} (macbot {health.get('version', '?')})")
        else:
            print(f"health:    not answering at {health['url']}: {health.get('error', 'starting')}")
    return ExitCode.OK if health.get("ready") else ExitCode.SERVICE_NOT_RUNNING


def _logs(manager, lines: int, follow: bool) -> int:
    import shutil

    from . import ServiceError

    command = manager.log_command(lines, follow)
    if shutil.which(command[0]) is None:
        raise ServiceError(f"{command[0]} not found: cannot show the log")
    sys.stdout.flush()
    if follow:
        os.execvp(command[0], command)  # hand the terminal to tail/journalctl
    return manager.runner.run(command, capture=False).returncode
