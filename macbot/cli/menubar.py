"""``macbot menubar``: the macOS menu-bar app (extra ``macos``: rumps)."""

from __future__ import annotations

import argparse

from ..client.http import DaemonClient
from ..client.menubar import EXTRA_HINT, MenuBarModel, run_app
from ..config import AppConfig
from ..errors import ExitCode, MissingExtraError, ServiceError
from ..service import manager_for
from .common import command


def register(sub) -> None:
    parser = command(sub, "menubar", help=f"menu-bar app for the daemon (macOS; {EXTRA_HINT})")
    parser.add_argument(
        "--interval", type=float, default=5.0, help="seconds between polls (default: 5)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: AppConfig) -> int:
    try:
        import rumps
    except ImportError as exc:
        raise MissingExtraError(f"the menu-bar app needs rumps (macOS only): {EXTRA_HINT}") from exc
    try:
        service = manager_for()
    except ServiceError:
        service = None
    model = MenuBarModel(DaemonClient.from_config(config, timeout=10), service)
    run_app(rumps, model, args.interval)
    return ExitCode.OK
