"""The benchmark registry: each suite is a function ``(args) -> dict`` registered with
:func:`suite`; results are printed as Markdown tables (:func:`markdown`) and JSON.

Suites measure contenders side by side in one run (interleaved rounds), so that ratios stay
fair on a busy machine; compare ratios, not absolute times. Long suites report progress
through ``args.reporter`` (:class:`Reporter`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Protocol

from ..toolkit.phrases import VERIFY_SENTENCES

SENTENCES = VERIFY_SENTENCES[:8]
"""Typical assistant replies, used by every suite."""

MORE_SENTENCES = [
    "Your sister called twice this afternoon and asked you to call her back.",
    "The oven has reached two hundred degrees and is ready for the bread.",
]
"""With :data:`SENTENCES`, the ten sentences of the multi-sentence request."""

Suite = Callable[[argparse.Namespace], dict]
SUITES: dict[str, Suite] = {}


def suite(name: str) -> Callable[[Suite], Suite]:
    """Register a suite under ``name``."""

    def register(fn: Suite) -> Suite:
        SUITES[name] = fn
        return fn

    return register


class Reporter(Protocol):
    """Where a suite reports what it is doing (a progress bar in the CLI)."""

    def step(self, description: str, total: int | None = None) -> None:
        """A new step of ``total`` units (``None``: unknown)."""

    def advance(self, units: int = 1) -> None:
        """``units`` more of the current step are done."""


class Silent:
    """A :class:`Reporter` that reports nothing (tests, library use)."""

    def step(self, description: str, total: int | None = None) -> None:
        pass

    def advance(self, units: int = 1) -> None:
        pass


def reporter(args: argparse.Namespace) -> Reporter:
    """The suite's reporter (silent when the caller gave none)."""
    return getattr(args, "reporter", None) or Silent()


def timed(fn: Callable[[], float]) -> tuple[float, float]:
    """(wall seconds, the value ``fn`` returns: audio seconds, say)."""
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def markdown(result: dict) -> str:
    """``result["rows"]`` as a Markdown table."""
    rows = result["rows"]
    if not rows:
        return ""
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)
