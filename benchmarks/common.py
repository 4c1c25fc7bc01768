"""What every suite shares: the sentences, progress reporting, timing and Markdown tables.

Suites measure contenders side by side in one run (interleaved rounds), so that ratios stay
fair on a busy machine; compare ratios, not absolute times. Long suites report progress
through :attr:`~benchmarks.options.BenchOptions.reporter` (a :class:`Reporter`).
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from macbot.core.clauses import ClauseSplitter
from macbot.tools.toolkit.phrases import VERIFY_SENTENCES

CHECKOUT = Path(__file__).resolve().parents[1]
"""The source checkout that holds ``benchmarks/`` (put on a child's path by :func:`child`)."""

SENTENCES = VERIFY_SENTENCES[:8]
"""Typical assistant replies, used by every suite."""

MORE_SENTENCES = [
    "Your sister called twice this afternoon and asked you to call her back.",
    "The oven has reached two hundred degrees and is ready for the bread.",
]
"""With :data:`SENTENCES`, the ten sentences of the multi-sentence request."""


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` as the daemon cuts streamed text (its
    :class:`~macbot.core.clauses.ClauseSplitter`, at sentence ends only: abbreviations,
    decimals and markup are read as the daemon reads them); all of it when nothing ends."""
    whole = max(len(text.split()), 1)
    splitter = ClauseSplitter(min_words=whole, max_words=whole)
    pieces = splitter.feed(text)
    return pieces[0] if pieces else splitter.flush()


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


def with_environment(**values: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run the decorated suite with these environment variables set, and put back what was
    there after it (a suite run inside pytest must not change the tests that follow)."""

    def decorate(suite: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(suite)
        def run(*args: Any, **kwargs: Any) -> Any:
            saved = {name: os.environ.get(name) for name in values}
            os.environ.update(values)
            try:
                return suite(*args, **kwargs)
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value

        return run

    return decorate


def child(code: str, *argv: str, env: dict[str, str] | None = None, timeout: float = 1800) -> Any:
    """Run ``python -c code argv…`` in a fresh process that can import ``benchmarks`` (from any
    working folder); return the JSON of its last line of output."""
    path = os.pathsep.join(p for p in (str(CHECKOUT), os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
        env={**os.environ, **(env or {}), "PYTHONPATH": path},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


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
