"""Host probes: what this machine can run, each absent thing with its reason.

Cheap and safe at startup: a few short ``sysctl`` / ``lscpu`` / ``nvidia-smi -L`` calls (2 s
timeout each), ``/proc/cpuinfo``, ``platform``, onnxruntime's provider list, and torch only when
it is installed, asked in a child process so that the daemon never loads it (hundreds of MB).
Every subprocess call goes through a :data:`Runner` so tests feed recorded outputs of real
machines (``tests/fixtures/``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

_LOGGER = logging.getLogger(__name__)

Runner = Callable[[Sequence[str]], str]
"""Runs a command and returns its stdout; raises :class:`CommandFailed` with the reason."""


class CommandFailed(RuntimeError):
    """A probe command could not run or failed; the message is the reason."""


def subprocess_runner(argv: Sequence[str], timeout: float = 2.0) -> str:
    """The real runner: ``argv`` on this machine, stdout as text."""
    if shutil.which(argv[0]) is None:
        raise CommandFailed(f"{argv[0]} is not on PATH")
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommandFailed(f"{' '.join(argv)} failed: {exc}") from exc
    if done.returncode != 0:
        err = (done.stderr or done.stdout).strip().splitlines()
        raise CommandFailed(
            f"{' '.join(argv)} exited {done.returncode}" + (f": {err[-1]}" if err else "")
        )
    return done.stdout


@dataclass
class HostInputs:
    """Where the probes read from (the real machine by default; recorded outputs in tests)."""

    system: str
    """``platform.system()``: ``Darwin``, ``Linux`` …"""
    machine: str
    """``platform.machine()``: ``arm64``, ``x86_64`` …"""
    os_version: str
    """macOS product version (``platform.mac_ver()``) or the kernel release."""
    run: Runner = subprocess_runner
    read_text: Callable[[str], str] = field(
        default=lambda p: Path(p).read_text(encoding="utf-8", errors="replace")
    )
    which: Callable[[str], str | None] = shutil.which
    ask_torch: Callable[[], dict[str, Any]] = field(default=lambda: ask_torch())
    """torch's answers (see :func:`ask_torch`); raises :class:`CommandFailed` with the reason."""
    providers: Sequence[str] | None = None
    """onnxruntime's available providers (``None``: ask onnxruntime)."""


def real_inputs() -> HostInputs:
    """Inputs read from this machine."""
    system = platform.system()
    version = platform.mac_ver()[0] if system == "Darwin" else platform.release()
    return HostInputs(system=system, machine=platform.machine(), os_version=version)


@dataclass(frozen=True)
class HostFacts:
    """What the probes found. ``why`` explains each fact: its source when present, the reason
    when absent (``None``/``False``/empty)."""

    os: str
    os_version: str
    arch: str
    apple_silicon: bool
    neural_engine: bool
    mps: bool
    mps_source: str | None
    """``torch`` (asked torch) or ``inferred`` (macOS ≥ 12.3 on arm64, torch not installed)."""
    cuda: bool
    """onnxruntime here can run CUDA (its CUDA provider is available)."""
    cuda_devices: tuple[str, ...]
    coreml: bool
    """onnxruntime here has the CoreML execution provider."""
    onnxruntime_version: str
    providers: tuple[str, ...]
    cpu_model: str | None
    instruction_sets: tuple[str, ...]
    """Normalized names: avx512_vnni, avx512f, avx_vnni, avx2, fma, neon, dotprod, i8mm, bf16."""
    physical_cores: int | None
    performance_cores: int | None
    logical_cores: int | None
    why: dict[str, str] = field(default_factory=dict, compare=False)

    def absent(self) -> dict[str, str]:
        """Reasons for every fact that is absent."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "why":
                continue
            value = getattr(self, f.name)
            if value in (None, False, ()) and f.name in self.why:
                out[f.name] = self.why[f.name]
        return out

    def recommended_threads(self) -> int:
        """intra-op threads for onnxruntime: the performance cores (Apple Silicon), else the
        physical cores, else 0 (onnxruntime decides)."""
        return self.performance_cores or self.physical_cores or 0

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["absent"] = self.absent()
        return data


# -- parsing ---------------------------------------------------------------------------------


def parse_sysctl(text: str) -> dict[str, str]:
    """``key: value`` lines of ``sysctl`` output (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def parse_colon_lines(text: str) -> list[dict[str, str]]:
    """``/proc/cpuinfo`` blocks (one dict per processor) or ``lscpu`` (one dict)."""
    blocks: list[dict[str, str]] = [{}]
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if blocks[-1]:
                blocks.append({})
            continue
        key, sep, value = line.partition(":")
        if sep:
            blocks[-1][key.strip()] = value.strip()
    return [b for b in blocks if b]


_LINUX_FLAGS = {
    "avx512_vnni": "avx512_vnni",
    "avx512f": "avx512f",
    "avx_vnni": "avx_vnni",
    "avx2": "avx2",
    "fma": "fma",
    "asimd": "neon",
    "asimddp": "dotprod",
    "i8mm": "i8mm",
    "bf16": "bf16",
}
_MAC_FLAGS = {
    "hw.optional.avx512vnni": "avx512_vnni",
    "hw.optional.avx512f": "avx512f",
    "hw.optional.avx2_0": "avx2",
    "hw.optional.fma": "fma",
    "hw.optional.neon": "neon",
    "hw.optional.AdvSIMD": "neon",
    "hw.optional.arm.FEAT_DotProd": "dotprod",
    "hw.optional.arm.FEAT_I8MM": "i8mm",
    "hw.optional.arm.FEAT_BF16": "bf16",
}
_ORDER = ("avx512_vnni", "avx512f", "avx_vnni", "avx2", "fma", "neon", "dotprod", "i8mm", "bf16")


def _ordered(found: set[str]) -> tuple[str, ...]:
    return tuple(name for name in _ORDER if name in found)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


# -- the probe -------------------------------------------------------------------------------


def probe_host(inputs: HostInputs | None = None) -> HostFacts:
    """Probe the host (the real machine unless ``inputs`` says otherwise). Never raises for a
    missing tool or file: the fact is absent with its reason."""
    inputs = inputs or real_inputs()
    why: dict[str, str] = {}
    facts: dict[str, Any] = {
        "os": inputs.system,
        "os_version": inputs.os_version,
        "arch": inputs.machine,
    }
    if inputs.system == "Darwin":
        _probe_macos(inputs, facts, why)
    elif inputs.system == "Linux":
        _probe_linux(inputs, facts, why)
    else:
        for name in ("cpu_model", "physical_cores", "performance_cores", "instruction_sets"):
            why[name] = f"no probe for {inputs.system}"
        facts.update(
            cpu_model=platform.processor() or None,
            instruction_sets=(),
            physical_cores=None,
            performance_cores=None,
            logical_cores=None,
            apple_silicon=False,
            neural_engine=False,
        )
        why["apple_silicon"] = why["neural_engine"] = f"{inputs.system} is not macOS"
    _probe_onnxruntime(inputs, facts, why)
    _probe_mps(inputs, facts, why)
    _probe_cuda(inputs, facts, why)
    return HostFacts(**facts, why=why)


def _probe_macos(inputs: HostInputs, facts: dict[str, Any], why: dict[str, str]) -> None:
    try:
        hw = parse_sysctl(inputs.run(["sysctl", "hw"]))
    except CommandFailed as exc:
        hw = {}
        why["sysctl"] = str(exc)
    arm64 = hw.get("hw.optional.arm64") == "1" or inputs.machine == "arm64"
    facts["apple_silicon"] = arm64
    if arm64:
        why["apple_silicon"] = "sysctl hw.optional.arm64: 1"
        facts["neural_engine"] = True
        why["neural_engine"] = "every Apple Silicon Mac (M1 and later) has a Neural Engine"
    else:
        why["apple_silicon"] = "Intel Mac (no hw.optional.arm64: 1 in sysctl hw)"
        facts["neural_engine"] = False
        why["neural_engine"] = "Intel Macs have no Neural Engine (Apple Silicon only)"
    try:
        brand = inputs.run(["sysctl", "-n", "machdep.cpu.brand_string"]).strip()
    except CommandFailed as exc:
        brand = ""
        why["cpu_model"] = f"sysctl -n machdep.cpu.brand_string: {exc}"
    facts["cpu_model"] = brand or None
    if brand:
        why["cpu_model"] = "sysctl machdep.cpu.brand_string"
    found = {name for key, name in _MAC_FLAGS.items() if hw.get(key) == "1"}
    facts["instruction_sets"] = _ordered(found)
    why["instruction_sets"] = (
        "sysctl hw.optional.*" if hw else why.get("sysctl", "sysctl hw gave nothing")
    )
    facts["physical_cores"] = _int(hw.get("hw.physicalcpu"))
    facts["logical_cores"] = _int(hw.get("hw.logicalcpu"))
    why["physical_cores"] = (
        "sysctl hw.physicalcpu" if facts["physical_cores"] else "no hw.physicalcpu in sysctl hw"
    )
    perf = _int(hw.get("hw.perflevel0.physicalcpu"))
    if perf and _int(hw.get("hw.nperflevels")) not in (None, 1):
        facts["performance_cores"] = perf
        why["performance_cores"] = "sysctl hw.perflevel0.physicalcpu"
    else:
        facts["performance_cores"] = None
        why["performance_cores"] = (
            "one kind of core (no hw.perflevel0/1 split in sysctl hw: not Apple Silicon)"
        )


def _probe_linux(inputs: HostInputs, facts: dict[str, Any], why: dict[str, str]) -> None:
    facts["apple_silicon"] = False
    facts["neural_engine"] = False
    why["apple_silicon"] = "Linux host: Apple Silicon exists only in Macs"
    why["neural_engine"] = "Linux host: the Neural Engine exists only in Apple Silicon Macs"
    try:
        blocks = parse_colon_lines(inputs.read_text("/proc/cpuinfo"))
    except OSError as exc:
        blocks = []
        why["cpuinfo"] = f"cannot read /proc/cpuinfo: {exc}"
    first = blocks[0] if blocks else {}
    flags = set((first.get("flags") or first.get("Features") or "").split())
    facts["instruction_sets"] = _ordered({v for k, v in _LINUX_FLAGS.items() if k in flags})
    why["instruction_sets"] = (
        "/proc/cpuinfo flags" if flags else why.get("cpuinfo", "no flags in /proc/cpuinfo")
    )
    try:
        lscpu = (parse_colon_lines(inputs.run(["lscpu"])) or [{}])[0]
    except CommandFailed as exc:
        lscpu = {}
        why["lscpu"] = str(exc)
    model = first.get("model name") or lscpu.get("Model name")
    facts["cpu_model"] = model
    why["cpu_model"] = (
        "/proc/cpuinfo model name" if model else "neither /proc/cpuinfo nor lscpu name the CPU"
    )
    cores, sockets = _int(lscpu.get("Core(s) per socket")), _int(lscpu.get("Socket(s)"))
    facts["physical_cores"] = cores * sockets if cores and sockets else None
    why["physical_cores"] = (
        "lscpu Core(s) per socket × Socket(s)"
        if facts["physical_cores"]
        else why.get("lscpu", "lscpu gave no core counts")
    )
    facts["logical_cores"] = _int(lscpu.get("CPU(s)")) or (len(blocks) or None)
    facts["performance_cores"] = None
    why["performance_cores"] = "Linux reports no performance/efficiency core split"


def _probe_onnxruntime(inputs: HostInputs, facts: dict[str, Any], why: dict[str, str]) -> None:
    providers = tuple(inputs.providers or ort.get_available_providers())
    facts["onnxruntime_version"] = ort.__version__
    facts["providers"] = providers
    facts["coreml"] = "CoreMLExecutionProvider" in providers
    why["coreml"] = (
        "onnxruntime provider CoreMLExecutionProvider"
        if facts["coreml"]
        else f"onnxruntime {ort.__version__} here has no CoreMLExecutionProvider "
        f"(providers: {', '.join(providers)}); it ships in onnxruntime's macOS wheels"
    )


TORCH_QUESTION = (
    "import json, torch; mps = getattr(torch.backends, 'mps', None); "
    "cuda = torch.cuda.is_available(); "
    "print(json.dumps({'mps': bool(mps and mps.is_available()), 'cuda': cuda, "
    "'device': torch.cuda.get_device_name(0) if cuda else None}))"
)
"""What the probes ask torch, in a child process."""

TORCH_MISSING = "torch is not installed (pip install 'macbot-tts[macos]')"


def ask_torch(timeout: float = 30.0) -> dict[str, Any]:
    """torch's view of MPS and CUDA (``{"mps", "cuda", "device"}``), asked in a child process
    so that the daemon never imports torch; :class:`CommandFailed` when it is not installed
    or fails."""
    if importlib.util.find_spec("torch") is None:
        raise CommandFailed(TORCH_MISSING)
    out = subprocess_runner([sys.executable, "-c", TORCH_QUESTION], timeout=timeout)
    try:
        answer = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise CommandFailed(f"torch gave no answer: {out.strip()[:200]!r}") from exc
    return dict(answer)


def _torch_answer(inputs: HostInputs) -> tuple[dict[str, Any] | None, str]:
    try:
        return inputs.ask_torch(), "torch"
    except CommandFailed as exc:  # not installed, or broken: the probes go on without it
        _LOGGER.info("torch: %s", exc)
        return None, str(exc)


def _probe_mps(inputs: HostInputs, facts: dict[str, Any], why: dict[str, str]) -> None:
    facts["mps"], facts["mps_source"] = False, None
    if inputs.system != "Darwin":
        why["mps"] = f"MPS is Apple's Metal backend; this host runs {inputs.system}"
        return
    torch, note = _torch_answer(inputs)
    if torch is not None:
        facts["mps"] = bool(torch.get("mps"))
        facts["mps_source"] = "torch"
        why["mps"] = (
            "torch.backends.mps.is_available()"
            if facts["mps"]
            else "torch.backends.mps.is_available() is False"
        )
        return
    new_enough = _version_tuple(inputs.os_version) >= (12, 3)
    if facts["apple_silicon"] and new_enough:
        facts["mps"], facts["mps_source"] = True, "inferred"
        why["mps"] = f"inferred: macOS {inputs.os_version} ≥ 12.3 on arm64 ({note})"
    else:
        why["mps"] = (
            f"inferred absent: needs macOS ≥ 12.3 on Apple Silicon (macOS "
            f"{inputs.os_version}, {inputs.machine}; {note})"
        )


def _probe_cuda(inputs: HostInputs, facts: dict[str, Any], why: dict[str, str]) -> None:
    reasons = []
    ort_cuda = "CUDAExecutionProvider" in facts["providers"]
    if not ort_cuda:
        reasons.append(
            "onnxruntime has no CUDAExecutionProvider (pip install 'macbot-tts[cuda]' on a "
            "machine with an NVIDIA GPU)"
        )
    devices: list[str] = []
    if inputs.which("nvidia-smi"):
        try:
            out = inputs.run(["nvidia-smi", "-L"])
            devices = [line.strip() for line in out.splitlines() if line.startswith("GPU ")]
            if not devices:
                reasons.append("nvidia-smi -L lists no GPU")
        except CommandFailed as exc:
            reasons.append(str(exc))
    else:
        reasons.append("nvidia-smi is not on PATH (no NVIDIA driver)")
    if inputs.system != "Darwin":  # torch on a Mac has no CUDA; skip the import there
        torch, note = _torch_answer(inputs)
        if torch is None:
            reasons.append(note)
        elif not torch.get("cuda"):
            reasons.append("torch.cuda.is_available() is False")
        elif not devices:
            devices = [f"torch: {torch.get('device')}"]
    facts["cuda"] = ort_cuda
    facts["cuda_devices"] = tuple(devices)
    why["cuda"] = "onnxruntime CUDAExecutionProvider" if facts["cuda"] else "; ".join(reasons)
    why["cuda_devices"] = "nvidia-smi -L" if devices else "; ".join(reasons)


_CACHED: HostFacts | None = None


def host_facts(refresh: bool = False) -> HostFacts:
    """The real host's facts, probed once per process."""
    global _CACHED
    if _CACHED is None or refresh:
        _CACHED = probe_host()
    return _CACHED
