"""Host probes fed with recorded outputs of real machines (tests/fixtures/, sources in headers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from host_recordings import fixture, no_torch, recorded_runner

from macbot.core.probes import HostInputs, probe_host


def test_linux_recorded_cpuinfo_and_lscpu():
    inputs = HostInputs(
        system="Linux",
        machine="x86_64",
        os_version="6.18.44",
        run=recorded_runner({"lscpu": fixture("linux_xeon_lscpu.txt")}),
        read_text=lambda path: fixture("linux_xeon_proc_cpuinfo.txt"),
        which=lambda _name: None,
        ask_torch=no_torch,
        providers=["CPUExecutionProvider"],
    )
    facts = probe_host(inputs)
    assert facts.cpu_model == "Intel(R) Xeon(R) Processor"
    assert facts.instruction_sets == ("avx512_vnni", "avx512f", "avx_vnni", "avx2", "fma")
    assert facts.physical_cores == 2 and facts.logical_cores == 2
    assert facts.performance_cores is None and facts.recommended_threads() == 2
    absent = facts.absent()
    assert "Linux" in absent["mps"] and "Macs" in absent["apple_silicon"]
    assert "nvidia-smi is not on PATH" in absent["cuda"]
    assert "torch is not installed" in absent["cuda"]
    assert "CoreMLExecutionProvider" in absent["coreml"]


def test_apple_silicon_m1_recorded_sysctl():
    inputs = HostInputs(
        system="Darwin",
        machine="arm64",
        os_version="12.5",
        run=recorded_runner({"sysctl hw": fixture("macos_m1_sysctl_hw.txt")}),
        which=lambda _name: None,
        ask_torch=no_torch,
        providers=["CoreMLExecutionProvider", "AzureExecutionProvider", "CPUExecutionProvider"],
    )
    facts = probe_host(inputs)
    assert facts.apple_silicon and facts.neural_engine and facts.coreml
    assert facts.instruction_sets == ("neon", "dotprod")  # M1: no I8MM, no BF16 (M2 has both)
    assert facts.physical_cores == 8 and facts.performance_cores == 4
    assert facts.recommended_threads() == 4
    assert facts.mps and facts.mps_source == "inferred"
    assert "inferred" in facts.why["mps"] and "torch is not installed" in facts.why["mps"]
    # This capture is `sysctl hw` only: the brand string is absent, with the reason.
    assert facts.cpu_model is None
    assert "machdep.cpu.brand_string" in facts.absent()["cpu_model"]
    assert not facts.cuda


def test_apple_silicon_brand_and_old_macos():
    inputs = HostInputs(
        system="Darwin",
        machine="arm64",
        os_version="11.6",
        run=recorded_runner(
            {
                "sysctl hw": fixture("macos_m1_sysctl_hw.txt"),
                "sysctl -n machdep.cpu.brand_string": "Apple M1\n",
            }
        ),
        which=lambda _name: None,
        ask_torch=no_torch,
        providers=["CPUExecutionProvider"],
    )
    facts = probe_host(inputs)
    assert facts.cpu_model == "Apple M1"
    assert not facts.mps and "12.3" in facts.absent()["mps"]


def test_intel_mac_recorded_sysctl():
    inputs = HostInputs(
        system="Darwin",
        machine="x86_64",
        os_version="10.15.7",
        run=recorded_runner({"sysctl hw": fixture("macos_intel_i7_sysctl_hw.txt")}),
        which=lambda _name: None,
        ask_torch=no_torch,
        providers=["CPUExecutionProvider"],
    )
    facts = probe_host(inputs)
    assert not facts.apple_silicon and not facts.neural_engine
    assert "Intel Mac" in facts.absent()["neural_engine"]
    assert facts.instruction_sets == ("avx2", "fma")  # avx512f: 0 in the capture
    assert facts.physical_cores == 4 and facts.logical_cores == 8
    assert facts.performance_cores is None and "one kind of core" in facts.why["performance_cores"]
    assert facts.recommended_threads() == 4
    assert not facts.mps


def test_sysctl_missing_gives_reasons_not_errors():
    inputs = HostInputs(
        system="Darwin",
        machine="arm64",
        os_version="14.0",
        run=recorded_runner({}),
        which=lambda _name: None,
        ask_torch=no_torch,
        providers=["CPUExecutionProvider"],
    )
    facts = probe_host(inputs)
    assert facts.apple_silicon  # from platform.machine()
    assert facts.physical_cores is None and facts.instruction_sets == ()
    assert "no such command" in facts.absent()["instruction_sets"]


def test_nvidia_smi_failure_is_a_reason():
    inputs = HostInputs(
        system="Linux",
        machine="x86_64",
        os_version="6.1",
        run=recorded_runner({"lscpu": fixture("linux_xeon_lscpu.txt")}),
        read_text=lambda path: fixture("linux_xeon_proc_cpuinfo.txt"),
        which=lambda name: "/usr/bin/nvidia-smi" if name == "nvidia-smi" else None,
        ask_torch=no_torch,
        providers=["CPUExecutionProvider"],
    )
    facts = probe_host(inputs)
    assert not facts.cuda and "nvidia-smi -L: no such command recorded" in facts.absent()["cuda"]


@pytest.mark.parametrize("as_json", [True, False])
def test_doctor_cli(as_json):
    from macbot.config import load_config
    from macbot.core.budget import auto_voice

    # the shipped config says `voice: auto`: the voice its recorded figures choose here (the
    # first preferred family's when none are recorded), as the command line resolves it
    voice = auto_voice(load_config().tts).name
    args = [sys.executable, "-m", "macbot", "doctor"] + (["--json"] if as_json else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    if as_json:
        data = json.loads(done.stdout)
        assert data["os"] == "Linux" and data["physical_cores"] >= 1
        assert set(data["absent"]) >= {"apple_silicon", "neural_engine", "mps", "cuda", "coreml"}
        opt = data["optimization"]  # issue 12: the optimization state is shown too
        assert opt["voice"] == voice and opt["auto"] is False
        assert "$MACBOT_AUTO_OPTIMIZE" in opt["auto_reason"]  # the tests switch it off
        assert opt["daemon"] is None  # no daemon answers here
    else:
        assert "absent" in done.stdout and "CoreMLExecutionProvider" in done.stdout
        assert f"optimization of {voice}: background off" in done.stdout


def test_mps_answered_by_torch_in_a_child():
    """torch's own answer wins over the inference from the macOS version."""
    inputs = HostInputs(
        system="Darwin",
        machine="arm64",
        os_version="14.0",
        run=recorded_runner({"sysctl hw": fixture("macos_m1_sysctl_hw.txt")}),
        which=lambda _name: None,
        ask_torch=lambda: {"mps": False, "cuda": False, "device": None},
        providers=["CPUExecutionProvider"],
    )
    facts = probe_host(inputs)
    assert not facts.mps and facts.mps_source == "torch"
    assert "is False" in facts.why["mps"]


def test_probes_never_import_torch_in_the_daemon(tmp_path):
    """Issue 18: probes.py imported torch through importlib (past the core-is-plain contract),
    so the daemon loaded torch wherever the macos extra was installed. torch is now asked in a
    child process: here a stand-in torch package on the child's path answers, and the probing
    process itself never imports it."""
    fake = tmp_path / "torch"
    (fake / "backends").mkdir(parents=True)
    (fake / "__init__.py").write_text("from . import backends, cuda\n", encoding="utf-8")
    (fake / "backends" / "__init__.py").write_text("from . import mps\n", encoding="utf-8")
    (fake / "backends" / "mps.py").write_text(
        "def is_available():\n    return True\n", encoding="utf-8"
    )
    (fake / "cuda.py").write_text(
        "def is_available():\n    return True\n\n"
        "def get_device_name(index):\n    return 'Stand-in GPU'\n",
        encoding="utf-8",
    )
    script = (
        "import json, sys\n"
        "from macbot.core.probes import ask_torch\n"
        "answer = ask_torch()\n"
        "print(json.dumps({'answer': answer, 'imported': 'torch' in sys.modules}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout.strip().splitlines()[-1])
    assert data["answer"] == {"mps": True, "cuda": True, "device": "Stand-in GPU"}
    assert data["imported"] is False
