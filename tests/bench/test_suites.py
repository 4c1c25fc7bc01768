"""The benchmarks' one registry, their typed options, and ``macbot bench`` as their door from the
package: from a source checkout it runs them, from an installed package it says where they are
(issue 18, item 6: the suites moved out of ``macbot/`` into ``benchmarks/``)."""

from __future__ import annotations

import argparse
import ast
import inspect
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.options import BenchOptions, add_arguments, from_args
from benchmarks.suites import SUITES
from macbot.errors import ExitCode, UsageError

ROOT = Path(__file__).resolve().parents[2]


def macbot(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "macbot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("name", list(SUITES))
def test_every_registered_suite_loads_and_takes_the_options(name):
    suite = SUITES[name].load()
    (parameter,) = inspect.signature(suite).parameters.values()
    assert parameter.annotation in (BenchOptions, "BenchOptions")


def test_every_suite_function_is_registered_and_nothing_registers_itself():
    """The registry is the one place: each ``*_suite`` function of benchmarks/ is in it, and no
    module calls anything at import time to add one (the old ``@suite`` decorator)."""
    defined = set()
    for path in (ROOT / "benchmarks").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.endswith("_suite"):
                defined.add((path.stem, node.name))
                decorators = [ast.unparse(d) for d in node.decorator_list]
                assert all(d.startswith("with_environment(") for d in decorators), (
                    f"{path.stem}.{node.name} is decorated: {decorators}"
                )
    assert defined == {(entry.module, entry.function) for entry in SUITES.values()}


def test_the_flags_are_the_options_fields():
    parser = add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--rounds", "2", "--engines", "split", "--force", "--growth", "2"])
    parsed = from_args(args)
    assert parsed == replace(BenchOptions(), rounds=2, engines=("split",), force=True, growth=2.0)
    assert from_args(parser.parse_args([])) == BenchOptions()


@pytest.mark.parametrize("field", ["rounds", "cli_runs", "sweep_rounds", "kokoro_sentences"])
def test_a_count_below_one_is_refused_naming_its_flag(field):
    with pytest.raises(UsageError, match=f"--{field.replace('_', '-')} must be at least 1"):
        BenchOptions(**{field: 0})


def test_bench_help_lists_the_registry_and_refuses_an_unknown_suite():
    shown = macbot("bench", "--help")
    assert shown.returncode == 0, shown.stderr
    flat = " ".join(shown.stdout.split())
    assert all(name in flat for name in SUITES)
    assert "--kokoro-gate-sentences" in flat
    refused = macbot("bench", "no-such-suite", "--rounds", "1")
    assert refused.returncode == ExitCode.USAGE
    assert "unknown suite 'no-such-suite'" in refused.stderr
    assert ", ".join(SUITES) in refused.stderr
    zero = macbot("bench", "rtf", "--rounds", "0")
    assert zero.returncode == ExitCode.USAGE
    assert "--rounds must be at least 1" in zero.stderr


@pytest.mark.parametrize("args", [["bench"], ["bench", "kokoro-targets", "--rounds", "3"]])
def test_bench_from_an_installed_package_says_where_the_benchmarks_are(tmp_path, args):
    """The package alone (as a wheel installs it, no benchmarks/ beside it): one line and
    NO_BENCHMARKS, whatever the suites and flags asked for."""
    shutil.copytree(ROOT / "macbot", tmp_path / "macbot")
    proc = macbot(*args, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == ExitCode.NO_BENCHMARKS, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "benchmarks live in a source checkout's benchmarks/" in lines[0]
    assert len(lines) <= 2  # the line and its hint


def test_a_suite_puts_the_environment_back():
    """The background and optimize suites switch the daemon's background optimization on for
    their run: inside pytest that switch stayed on for every test after them (the menu bar's
    and doctor's tests then read the optimizer as on)."""
    import os

    from benchmarks.common import with_environment

    before = os.environ.get("MACBOT_AUTO_OPTIMIZE")

    @with_environment(MACBOT_AUTO_OPTIMIZE="1", MACBOT_NOT_SET_BEFORE="x")
    def suite(fail: bool) -> str:
        assert os.environ["MACBOT_AUTO_OPTIMIZE"] == "1"
        if fail:
            raise RuntimeError("a suite that fails")
        return os.environ["MACBOT_NOT_SET_BEFORE"]

    assert suite(False) == "x"
    with pytest.raises(RuntimeError):
        suite(True)
    assert os.environ.get("MACBOT_AUTO_OPTIMIZE") == before
    assert "MACBOT_NOT_SET_BEFORE" not in os.environ
