"""A thin layer over ``subprocess`` for ``launchctl``/``systemctl``/``journalctl``.

Service managers call :meth:`Runner.run` and read a :class:`CommandResult`; tests pass a runner
that answers with recorded outputs of the real tools (``tests/fixtures/``).
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

_LOGGER = logging.getLogger(__name__)

NOT_FOUND = 127
"""``returncode`` when the program does not exist (as a shell reports it)."""


@dataclass(frozen=True)
class CommandResult:
    """What a command did: its arguments, exit status and captured output."""

    args: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        """stdout and stderr together (launchctl writes its errors to either)."""
        return "\n".join(part for part in (self.stdout.strip(), self.stderr.strip()) if part)


class Runner(Protocol):
    def run(self, args: Sequence[str], capture: bool = True) -> CommandResult:
        """Run ``args``; with ``capture=False`` the output goes to the terminal (``logs``)."""
        ...


class SubprocessRunner:
    """Runs commands for real, with a timeout; a missing program is a result, not a raise."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout

    def run(self, args: Sequence[str], capture: bool = True) -> CommandResult:
        args = tuple(str(a) for a in args)
        _LOGGER.debug("running %s", " ".join(args))
        try:
            proc = subprocess.run(
                args,
                capture_output=capture,
                text=True,
                timeout=self.timeout if capture else None,
                check=False,
            )
        except FileNotFoundError:
            return CommandResult(args, NOT_FOUND, "", f"{args[0]}: command not found")
        except subprocess.TimeoutExpired:
            return CommandResult(args, 124, "", f"{args[0]}: timed out after {self.timeout:g}s")
        return CommandResult(args, proc.returncode, proc.stdout or "", proc.stderr or "")
