"""Recorded outputs of launchctl/systemctl (``tests/fixtures/service/``) and a runner that
answers with them in a scripted order, checking each command it is given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from macbot.service import CommandResult

FIXTURES = Path(__file__).parent / "fixtures" / "service"


def recording(name: str, args: Sequence[str] = ()) -> CommandResult:
    """A fixture file: ``# key: value`` header lines, ``---``, then the output verbatim."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    head, sep, body = text.partition("\n---\n")
    assert sep, f"{name}: no --- line"
    meta = {}
    for line in head.splitlines():
        key, _, value = line.removeprefix("# ").partition(": ")
        meta[key] = value
    assert meta.get("source"), f"{name}: the header must name its source"
    stream = meta["stream"]
    return CommandResult(
        tuple(args),
        int(meta["returncode"]),
        body if stream == "stdout" else "",
        body if stream == "stderr" else "",
    )


class ScriptedRunner:
    """Answers each call with the next recording; each step names the command it expects."""

    def __init__(self, *steps: tuple[tuple[str, ...], str]) -> None:
        self.steps = list(steps)
        self.calls: list[tuple[str, ...]] = []

    def run(self, args: Sequence[str], capture: bool = True) -> CommandResult:
        args = tuple(str(a) for a in args)
        self.calls.append(args)
        assert self.steps, f"unexpected call {args}"
        expected, name = self.steps.pop(0)
        assert args == expected, f"expected {expected}, got {args}"
        return recording(name, args)

    def done(self) -> bool:
        return not self.steps
