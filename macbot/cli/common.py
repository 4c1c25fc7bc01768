"""What every command shares: registration with the global options, consoles, progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from ..config import AppConfig
from ..core.budget import auto_voice
from ..core.voices import VoiceInfo, find_voice
from ..errors import EmptyTextError, ModelNotFoundError, VoiceNotFoundError

Handler = Callable[[argparse.Namespace, AppConfig], int]
"""A command: ``fn(args, config) -> exit code``; it raises :class:`~macbot.errors.MacbotError`
for anything a user should read."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their line breaks (examples), help lines wrap."""


def global_options(short_verbose: bool = True) -> argparse.ArgumentParser:
    """``--config`` and ``-v``, accepted after any command as well as before it (without
    ``-v`` for commands that give the letter another meaning, as ``say -v VOICE``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="YAML config file (default: $MACBOT_CONFIG, else macbot.yaml in the user's config "
        "folder, else the checkout's config/macbot.yaml, else built-in defaults)",
    )
    parent.add_argument(
        *(("-v", "--verbose") if short_verbose else ("--verbose",)),
        action="count",
        default=argparse.SUPPRESS,
        help=(
            "more logging: -v info, -vv debug (default: warnings only)"
            if short_verbose
            else "more logging: --verbose info, twice debug (default: warnings only)"
        ),
    )
    return parent


GLOBAL = global_options()
GLOBAL_LONG = global_options(short_verbose=False)
"""The global options without ``-v`` (``macbot say`` reads it as the voice, like ``say``)."""


def command(
    sub: Any,
    name: str,
    *,
    help: str,
    description: str | None = None,
    options: argparse.ArgumentParser = GLOBAL,
    **kw: Any,
):
    """A subcommand parser that also takes the global ``options`` (``macbot NAME --config F``)."""
    return sub.add_parser(
        name,
        help=help,
        description=description or help[:1].upper() + help[1:] + ".",
        parents=[options],
        formatter_class=HelpFormatter,
        **kw,
    )


def err_console() -> Console:
    """Progress, tables meant for people, and warnings: on stderr, so stdout stays data."""
    return Console(stderr=True)


def out_console() -> Console:
    """Tables and summaries on stdout (wide enough when piped)."""
    return Console(width=None if sys.stdout.isatty() else 140)


def progress() -> Progress:
    """A rich progress display on stderr: spinner, description, bar, count, elapsed."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    )


class ProgressReporter:
    """A benchmark reporter (``benchmarks.common.Reporter``) on a rich progress bar."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.task: Any = None

    def step(self, description: str, total: int | None = None) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(description, total=total)

    def advance(self, units: float = 1) -> None:
        if self.task is not None:
            self.bar.advance(self.task, units)


@contextmanager
def spinner(message: str) -> Iterator[Any]:
    """A status line on stderr while a step runs (``status.update(text)`` changes it)."""
    with err_console().status(message) as status:
        yield status


def read_text(arg: str) -> str:
    """The text argument, or standard input for ``-``; empty is an error."""
    text = sys.stdin.read() if arg == "-" else arg
    if not text.strip():
        raise EmptyTextError("no text to speak (empty input)", hint='macbot say "Hello"')
    return text


def voice_or_model(spec: str | None, config: AppConfig) -> VoiceInfo:
    """A voice by name (``macbot voices``) or by the path of its ``.onnx``; ``None``: the
    configured voice."""
    if spec is None:
        return auto_voice(config.tts)
    return find_voice(spec, config.tts)


def model_file(spec: str | Path, config: AppConfig) -> Path:
    """A model file given by path, or a voice's model given by its name."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.suffix == ".onnx" or "/" in str(spec):
        raise ModelNotFoundError(f"model not found: {path}")
    try:
        return voice_or_model(str(spec), config).model_path
    except VoiceNotFoundError as exc:
        raise ModelNotFoundError(
            str(exc), hint="give a path, or a name from `macbot voices`"
        ) from exc
