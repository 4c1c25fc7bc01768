"""``macbot bench``: the benchmark suites of a source checkout (same as
``scripts/benchmark_tts.py``).

The suites live beside the package, in the checkout's top-level ``benchmarks/`` (a wheel holds
none of them). This command is their one door from ``macbot``: it imports ``benchmarks`` only
from the checkout this package was imported from, and only its light modules
(``benchmarks.suites`` and ``benchmarks.options``: names and options) when building the parser;
a suite's own module is imported when the suite runs. Without a checkout, ``macbot bench``
says so in one line and exits with :attr:`~macbot.errors.ExitCode.NO_BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from types import ModuleType

from ..config import AppConfig
from ..errors import BenchmarksMissing, ExitCode, UsageError
from .common import ProgressReporter, command, progress

_LOGGER = logging.getLogger(__name__)

CHECKOUT = Path(__file__).resolve().parents[2]
"""The folder above the ``macbot`` package: a source checkout's root when run from one."""


def benchmarks() -> tuple[ModuleType, ModuleType] | None:
    """``benchmarks.suites`` and ``benchmarks.options`` of the checkout ``macbot`` was
    imported from, or ``None`` (an installed wheel: there is no checkout, or its
    ``benchmarks`` is not the one beside this package). A checkout's benchmarks that fail to
    import raise their ``ImportError`` (a bug to see, not a missing checkout)."""
    folder = CHECKOUT / "benchmarks"
    if not (folder / "suites.py").is_file():
        return None
    if str(CHECKOUT) not in sys.path:
        sys.path.append(str(CHECKOUT))
    from benchmarks import options, suites

    if Path(suites.__file__).resolve().parent != folder:
        return None  # another project's `benchmarks` came first on sys.path
    return suites, options


def register(sub) -> None:
    try:
        found = benchmarks()
    except ImportError as exc:  # every command builds this parser: only `bench` must fail
        _LOGGER.debug("the checkout's benchmarks do not import: %s", exc)
        found = None
    parser = command(
        sub,
        "bench",
        help="benchmark engines side by side (Markdown tables on stdout; source checkout only)",
        description="Run benchmark suites; every contender is timed on the same sentences in\n"
        "turn, so the ratios are fair on a busy machine. Results: Markdown on stdout,\n"
        "JSON with --json. The suites live in a source checkout's benchmarks/.",
    )
    if found is None:
        parser.add_argument("suites", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.set_defaults(handler=run)
        return
    suites, options = found
    width = max(map(len, suites.SUITES))
    parser.epilog = "suites:\n" + "\n".join(
        f"  {name:<{width}}  {entry.about}" for name, entry in suites.SUITES.items()
    )
    parser.add_argument(
        "suites",
        nargs="*",
        default=[suites.DEFAULT_SUITE],
        metavar="SUITE",
        help=f"suites to run, in order (listed below; default: {suites.DEFAULT_SUITE})",
    )
    options.add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, _config: AppConfig) -> int:
    found = benchmarks()
    if found is None:
        raise BenchmarksMissing(
            "the benchmarks live in a source checkout's benchmarks/, not in the installed package",
            hint="git clone the project and run `macbot bench` (or "
            "scripts/benchmark_tts.py) from its .venv",
        )
    suites, options = found
    unknown = [name for name in args.suites if name not in suites.SUITES]
    if unknown:
        raise UsageError(
            f"unknown suite {unknown[0]!r}", hint=f"the suites are {', '.join(suites.SUITES)}"
        )
    with progress() as bar:
        bench = options.from_args(args, ProgressReporter(bar))
        suites.run(args.suites, bench)
    if bench.json:
        print(f"results written to {bench.json}")
    return ExitCode.OK
