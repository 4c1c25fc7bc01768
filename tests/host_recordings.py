"""Recorded outputs of real machines' probe commands (``tests/fixtures/``, sources in their
headers) and a runner that answers with them; a Mac whose onnxruntime lists CoreML."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from macbot.core.probes import CommandFailed, HostFacts, HostInputs, probe_host

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def recorded_runner(outputs: dict[str, str]):
    """Answers recorded commands; anything else fails the way a missing tool does."""

    def run(argv: Sequence[str]) -> str:
        key = " ".join(argv)
        if key not in outputs:
            raise CommandFailed(f"{key}: no such command recorded")
        return outputs[key]

    return run


def no_torch() -> dict:
    raise CommandFailed("torch is not installed (pip install 'macbot-tts[macos]')")


def m1_with_coreml() -> HostFacts:
    """An M1 (recorded ``sysctl hw``) on macOS 14.5 whose onnxruntime lists the CoreML
    provider, as onnxruntime's macOS wheels do."""
    inputs = HostInputs(
        system="Darwin",
        machine="arm64",
        os_version="14.5",
        run=recorded_runner({"sysctl hw": fixture("macos_m1_sysctl_hw.txt")}),
        which=lambda _name: None,
        ask_torch=no_torch,
        providers=["CoreMLExecutionProvider", "CPUExecutionProvider"],
    )
    return probe_host(inputs)
