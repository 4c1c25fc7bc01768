"""``macbot``: parse, load the config, run the command, render its error once.

Every command module has ``register(subparsers)``, which adds its parsers (with
:func:`~macbot.cli.common.command`) and ``set_defaults(handler=fn)``; ``fn(args, config)``
returns an exit code or raises :class:`~macbot.errors.MacbotError`, which :func:`main` prints
as one line (with its hint) and turns into that error's exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..config import load_config
from ..errors import ExitCode, MacbotError
from ..version import __version__
from . import (
    agents,
    bench,
    doctor,
    estimate_size,
    export_optimized,
    inspect,
    menubar,
    normalize,
    optimize,
    page,
    quantize,
    say,
    serve,
    service,
    split,
    trial,
    tune,
    verify,
    voices,
)
from .common import GLOBAL, HelpFormatter

_LOGGER = logging.getLogger("macbot")

COMMAND_MODULES = (
    say,
    normalize,
    serve,
    agents,
    page,
    voices,
    doctor,
    optimize,
    tune,
    split,
    bench,
    service,
    menubar,
    quantize,
    inspect,
    verify,
    trial,
    estimate_size,
    export_optimized,
)
"""The command groups, in the order ``macbot --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="macbot",
        description="MacBot TTS: a local text-to-speech daemon with Piper voices.",
        epilog="Global options (--config, -v) also work after the command: "
        "macbot serve --config FILE.",
        parents=[GLOBAL],
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"macbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", 0)
    _setup_logging(verbose)
    try:
        config = load_config(getattr(args, "config", None))
        return int(args.handler(args, config))
    except MacbotError as exc:
        _fail(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("macbot: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: one line for the user, the traceback with -vv
        if verbose >= 2:
            raise
        _LOGGER.debug("unexpected error", exc_info=True)
        print(
            f"macbot: internal error: {type(exc).__name__}: {exc} "
            "(a bug; run again with -vv for the traceback and report it)",
            file=sys.stderr,
        )
        return int(ExitCode.FAILURE)


def _fail(exc: MacbotError) -> None:
    hint = f" (hint: {exc.hint})" if exc.hint else ""
    print(f"macbot: error: {exc}{hint}", file=sys.stderr)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
