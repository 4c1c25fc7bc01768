"""``macbot service install|uninstall|start|restart|stop|status|logs``: the daemon as a
launchd agent (macOS) or a systemd user unit (Linux)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from ..client.http import DaemonClient
from ..config import CHECKOUT_CONFIG, AppConfig, read_config_file
from ..errors import (
    ConfigError,
    DaemonError,
    DaemonUnavailable,
    ExitCode,
    ServiceError,
)
from ..service import ServiceSpec, ServiceStatus, manager_for
from .common import command


def register(sub) -> None:
    """Add ``service`` and its actions to the ``macbot`` parser."""
    service = command(
        sub,
        "service",
        help="run the daemon in the background (launchd agent on macOS, systemd user unit on "
        "Linux)",
    )
    actions = service.add_subparsers(dest="action", required=True, metavar="ACTION")
    install = command(
        actions, "install", help="write the agent/unit for this install's Python and start it"
    )
    install.add_argument(
        "--service-config",
        type=Path,
        help="config file the service uses (default: the config in force: --config, "
        "$MACBOT_CONFIG, the user's config folder, else config/macbot.yaml of this checkout)",
    )
    command(actions, "uninstall", help="stop the service and remove the agent/unit")
    command(actions, "start", help="start (or restart) the service")
    command(actions, "restart", help="restart the service (the same as start)")
    command(actions, "stop", help="stop the service (it starts again at the next login)")
    status = command(actions, "status", help="the manager's view plus the daemon's /health")
    status.add_argument("--json", action="store_true", help="print JSON (default: lines)")
    logs = command(actions, "logs", help="show the daemon's log")
    logs.add_argument("-n", "--lines", type=int, default=100, help="lines to show (default: 100)")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new lines (default: off)"
    )
    service.set_defaults(handler=run)


def _service_config(args: argparse.Namespace, config: AppConfig) -> Path | None:
    path = args.service_config or config.source
    if path is None and CHECKOUT_CONFIG.is_file():
        path = CHECKOUT_CONFIG
    if path is None:
        return None
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ConfigError("--service-config", f"config file not found: {path}")
    read_config_file(path)  # a service that cannot start is worse than an error now
    return path


def run(args: argparse.Namespace, config: AppConfig) -> int:
    """The ``service`` handler: one action, one line per step on stdout."""
    manager = manager_for()
    if args.action == "install":
        done = manager.install(ServiceSpec(config_path=_service_config(args, config)))
    elif args.action == "uninstall":
        done = manager.uninstall()
    elif args.action in ("start", "restart"):
        done = manager.start()
    elif args.action == "stop":
        done = manager.stop()
    elif args.action == "status":
        return _status(manager, config, args.json)
    else:
        return _logs(manager, args.lines, args.follow)
    for line in done:
        print(line)
    return ExitCode.OK


def _status(manager, config: AppConfig, as_json: bool) -> int:
    """The manager's view and the daemon's ``/health``, both always: a daemon started by hand
    (or a manager that cannot be asked) still answers, and ``--json`` is always JSON."""
    try:
        status = manager.status()
    except ServiceError as exc:  # reported beside the daemon's own answer below
        status = ServiceStatus(
            manager.name,
            manager.path.exists(),
            False,
            "unknown",
            path=manager.path,
            detail=str(exc),
        )
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
        print(f"manager:   {status.manager}")
        where = "" if status.installed else " (does not exist: not installed)"
        print(f"file:      {status.path}{where}")
        print(f"installed: {'yes' if status.installed else 'no'}")
        print(f"state:     {status.state}" + (f" (pid {status.pid})" if status.pid else ""))
        if status.last_exit:
            print(f"last exit: {status.last_exit}")
        if status.detail:
            print(f"detail:    {status.detail}")
        if health.get("ready"):
            shown = health.get("status", "ok")
            print(f"health:    {shown} at {health['url']} (macbot {health.get('version', '?')})")
            failed = health.get("failed_listeners") or {}
            for name, why in failed.items() if isinstance(failed, dict) else ():
                print(f"           {name} not listening: {why}")
        else:
            print(f"health:    not answering at {health['url']}: {health.get('error', 'starting')}")
    # The lines above say why; the exit code says it to scripts.
    return ExitCode.OK if health.get("ready") else ExitCode.SERVICE_NOT_RUNNING


def _logs(manager, lines: int, follow: bool) -> int:
    argv = manager.log_command(lines, follow)
    if shutil.which(argv[0]) is None:
        raise ServiceError(f"{argv[0]} not found: cannot show the log")
    sys.stdout.flush()
    if follow:
        os.execvp(argv[0], argv)  # hand the terminal to tail/journalctl
    return manager.runner.run(argv, capture=False).returncode
