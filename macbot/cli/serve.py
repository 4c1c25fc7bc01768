"""``macbot serve``: run the daemon in the foreground (what ``make run`` and the service run)."""

from __future__ import annotations

import argparse
import errno
import logging
from pathlib import Path

from ..config import AppConfig, replace
from ..errors import AddressInUseError
from .common import command


def register(sub) -> None:
    parser = command(
        sub,
        "serve",
        help="run the daemon (HTTP API on server.host:server.port)",
        description="Run the daemon in the foreground: bind, warm the voice up, serve until\n"
        "SIGTERM or Ctrl-C (in-flight requests finish first); SIGHUP re-reads the config.",
    )
    parser.add_argument("--host", help="interface to bind (default: server.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default: server.port, 8123)")
    parser.add_argument(
        "--log-file",
        type=Path,
        help="log here instead of stderr, rotated at 5 MB keeping 3 old files (default: "
        "stderr; the launchd agent uses ~/Library/Logs/MacBot/macbot.log)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: AppConfig) -> int:
    overrides: dict[str, object] = {}
    if args.host:
        overrides["server.host"] = args.host
    if args.port is not None:
        overrides["server.port"] = args.port
    if overrides:
        config = replace(config, overrides)
    from ..daemon.logfile import log_to_file
    from ..daemon.server import serve

    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    if args.log_file is not None:
        log_to_file(args.log_file.expanduser())
    try:
        return serve(config)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise AddressInUseError(
                f"{config.server.host}:{config.server.port} is already in use",
                hint="is another macbot running? `macbot service status`, or --port",
            ) from exc
        raise
