"""Whether onnxruntime's CoreML provider may run a model on this Mac: probed once, in a child.

Peers' reports say the provider fails on Kokoro in every way a provider can: making the
session raises (kokoro-onnx#16: ``Unable to get shape for output: /Squeeze_output_0``), the
process aborts in native code (sherpa-onnx#1792: ``libc++abi: terminating due to uncaught
exception of type Ort::Exception`` on the same graph), it runs but is no faster
(sherpa-onnx#1792; kokoro-onnx#56: 1,051 of 2,478 nodes on CoreML, in 129 partitions), or
float16 compute distorts the audio (FluidAudio#445). So the engine chain never trusts it: it
asks :func:`verdict` first, and uses the provider only when the probe found it correct and
faster than the CPU.

The probe runs in a child process (``python -m macbot.core.coreml_probe FOLDER``), so that a
native crash kills the child, never the daemon. The child (:func:`run_child`) opens the model
twice through the engine registry, on the CPU and with the provider (the session the daemon
would open), warms both up on one sentence, then times them in turns on another (a new input
length: a provider that compiles per shape pays for it there) and writes both outputs. The
parent judges (:func:`judge`): the provider must be in the session, its audio finite, as long
as the CPU's (within :data:`LENGTH_TOLERANCE`) and close to it (mel-cepstral distortion at
most :data:`MCD_BOUND_DB`), and its median time at most :data:`SPEED_MARGIN` of the CPU's.
Anything else means the CPU, with the reason.

The verdict is kept in ``optimized_dir/coreml_probe.json`` under the model's SHA-256, the
onnxruntime version, the OS version and the provider's options (:func:`probe_key`), so the
probe runs once per host and model; ``/info`` and ``macbot doctor`` show it (:func:`status`).
Delete the file to probe again.
"""

from __future__ import annotations

import json
import logging
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import TTSConfig
from ..errors import MacbotError
from . import kokoro_files
from .engines import Engine, SynthesisOptions, registry
from .engines.coreml import coreml_provider
from .hashing import cached_sha256, hash_index
from .probes import HostFacts, host_facts
from .records import find_record, save_record
from .sessions import CPU, Providers, SessionPlan
from .spectral import mel_cepstral_distortion
from .voices import VoiceInfo

_LOGGER = logging.getLogger(__name__)

PROVIDER = "CoreMLExecutionProvider"
PROBE_FILE = "coreml_probe.json"
WARMUP_TEXT = "Hello."
PROBE_TEXT = "This is a short test of the speech engine."
RUNS = 3
"""Timed runs per side (their median is compared)."""
TIMEOUT_S = 300.0
"""The child's time limit: making a CoreML session compiles the model, which takes minutes
for large models (onnxruntime#20897)."""
MCD_BOUND_DB = 2.0
"""The most mel-cepstral distortion from the CPU's audio (:mod:`.spectral`). The same model on
another provider should differ by rounding only: float16 rounding of the CPU's own audio gives
0.01 dB, Kokoro's float rebuild of its int8 weights 0.86–0.90 dB (docs/OPTIMIZATION.md), the
scratchy audio of a float16 failure (noise at a twentieth of full scale) over 5 dB."""
LENGTH_TOLERANCE = 0.02
"""The most the provider's audio may be longer or shorter than the CPU's (a fraction)."""
SPEED_MARGIN = 0.9
""""Faster" means at most this fraction of the CPU's median time: measurably faster, not a
tie decided by noise."""
CHILD_FAILED = 3
"""The child's exit code when it caught an error (written to its folder's ``error.json``)."""
_REQUEST, _RESULT, _AUDIO, _ERROR = "request.json", "result.json", "audio.npz", "error.json"


class ProviderFailed(Exception):
    """The provider could not be measured; the message is the reason."""


@dataclass(frozen=True)
class ProbeRequest:
    """What the child measures: ``model`` (format ``fmt`` of the engine registry) spoken by
    ``voice``, on the CPU and with ``provider``."""

    voice: VoiceInfo
    model: Path
    fmt: str
    provider: tuple[str, dict[str, str]]
    threads: int = 0
    runs: int = RUNS
    warmup_text: str = WARMUP_TEXT
    text: str = PROBE_TEXT

    def write(self, folder: Path) -> None:
        data = asdict(self)
        data["voice"] = {k: str(v) if isinstance(v, Path) else v for k, v in data["voice"].items()}
        data["model"] = str(self.model)
        (folder / _REQUEST).write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> ProbeRequest:
        data = json.loads((folder / _REQUEST).read_text(encoding="utf-8"))
        voice = data.pop("voice")
        voice.update(
            model_path=Path(voice["model_path"]),
            config_path=Path(voice["config_path"]),
            blend=tuple((name, float(weight)) for name, weight in voice["blend"]),
        )
        name, options = data.pop("provider")
        return cls(
            voice=VoiceInfo(**voice),
            model=Path(data.pop("model")),
            provider=(name, dict(options)),
            **data,
        )


@dataclass(frozen=True)
class ProbeResult:
    """What the child measured."""

    sample_rate: int
    cpu_audio: np.ndarray
    provider_audio: np.ndarray
    cpu_seconds: tuple[float, ...]
    provider_seconds: tuple[float, ...]
    providers: tuple[str, ...]
    """The providers of the provider's session (onnxruntime drops one it cannot use)."""
    load_seconds: float
    """Making the provider's session (CoreML compiles the model then)."""
    first_run_seconds: float
    """The provider's first run (the warm-up)."""

    def write(self, folder: Path) -> None:
        np.savez(folder / _AUDIO, cpu=self.cpu_audio, provider=self.provider_audio)
        facts = {k: v for k, v in asdict(self).items() if not k.endswith("_audio")}
        (folder / _RESULT).write_text(json.dumps(facts), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> ProbeResult:
        facts = json.loads((folder / _RESULT).read_text(encoding="utf-8"))
        with np.load(folder / _AUDIO) as audio:
            cpu, provider = audio["cpu"], audio["provider"]
        return cls(
            sample_rate=int(facts["sample_rate"]),
            cpu_audio=cpu,
            provider_audio=provider,
            cpu_seconds=tuple(facts["cpu_seconds"]),
            provider_seconds=tuple(facts["provider_seconds"]),
            providers=tuple(facts["providers"]),
            load_seconds=float(facts["load_seconds"]),
            first_run_seconds=float(facts["first_run_seconds"]),
        )


@dataclass(frozen=True)
class Verdict:
    """Whether the provider may run the model here, and why."""

    provider: str
    use: bool
    reason: str
    probed: bool = True
    """``False``: not probed (the provider is not listed here, or not yet)."""
    figures: dict[str, float] = field(default_factory=dict)
    """Median ms per run on each side, MCD, audio seconds, session and first-run times."""
    measured_at: float | None = None
    cached: bool = False
    """Read from ``coreml_probe.json`` (probed at an earlier start)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        fields = ("provider", "use", "reason", "probed", "figures")
        known = {k: data[k] for k in fields if k in data}
        return cls(**known, measured_at=data.get("measured_at"), cached=True)


Child = Callable[[ProbeRequest], ProbeResult]
"""Runs a probe and returns what it measured; raises :class:`ProviderFailed` with the reason."""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class ChildProcess:
    """The real :data:`Child`: ``command`` (default ``python -m macbot.core.coreml_probe``)
    run with a folder holding the request, where it leaves its result."""

    def __init__(self, command: Sequence[str] | None = None, timeout: float = TIMEOUT_S) -> None:
        self.command = list(command or [sys.executable, "-m", __name__])
        self.timeout = timeout

    def __call__(self, request: ProbeRequest) -> ProbeResult:
        with tempfile.TemporaryDirectory(prefix="macbot-coreml-probe-") as tmp:
            folder = Path(tmp)
            request.write(folder)
            try:
                done = subprocess.run(
                    [*self.command, str(folder)],
                    capture_output=True,
                    text=True,
                    timeout=self.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise ProviderFailed(
                    f"the probe did not finish in {self.timeout:.0f} s (stopped)"
                ) from exc
            except OSError as exc:
                raise ProviderFailed(f"cannot start the probe: {exc}") from exc
            said = _last_line(done.stderr)
            if done.returncode < 0:
                _LOGGER.warning("the CoreML probe's child died; its stderr:\n%s", done.stderr)
                raise ProviderFailed(
                    f"the probe's child process died by {_signal_name(-done.returncode)}"
                    + (f": {said}" if said else "")
                )
            if done.returncode == CHILD_FAILED and (folder / _ERROR).is_file():
                error = json.loads((folder / _ERROR).read_text(encoding="utf-8"))
                raise ProviderFailed(f"{error['stage']} failed: {error['error']}")
            if done.returncode != 0:
                raise ProviderFailed(
                    f"the probe's child exited {done.returncode}" + (f": {said}" if said else "")
                )
            try:
                return ProbeResult.read(folder)
            except (OSError, ValueError, KeyError) as exc:
                raise ProviderFailed(f"the probe's child left no readable result: {exc}") from exc


# -- the parent's side -------------------------------------------------------------------------


def judge(result: ProbeResult, provider: str = PROVIDER) -> Verdict:
    """The verdict on what the child measured (see the module docstring for the checks)."""
    cpu_ms = 1000 * statistics.median(result.cpu_seconds)
    provider_ms = 1000 * statistics.median(result.provider_seconds)
    figures: dict[str, float] = {
        "cpu_ms": round(cpu_ms, 1),
        "provider_ms": round(provider_ms, 1),
        "runs": len(result.provider_seconds),
        "session_seconds": round(result.load_seconds, 3),
        "first_run_seconds": round(result.first_run_seconds, 3),
    }

    def no(reason: str) -> Verdict:
        return Verdict(provider, False, reason, figures=figures, measured_at=round(time.time()))

    if provider not in result.providers:
        return no(
            f"onnxruntime ran the session without {provider} "
            f"(its providers: {', '.join(result.providers) or 'none'})"
        )
    cpu, out = result.cpu_audio, result.provider_audio
    if not np.all(np.isfinite(out)):
        return no("its audio has non-finite samples (NaN or inf)")
    cpu_s, out_s = cpu.size / result.sample_rate, out.size / result.sample_rate
    figures.update(cpu_audio_seconds=round(cpu_s, 3), provider_audio_seconds=round(out_s, 3))
    if abs(out.size - cpu.size) > LENGTH_TOLERANCE * cpu.size:
        return no(f"its audio lasts {out_s:.2f} s, the CPU's {cpu_s:.2f} s")
    mcd = mel_cepstral_distortion(cpu, out, result.sample_rate)
    figures["mcd_db"] = round(mcd, 3)
    if mcd > MCD_BOUND_DB:
        return no(
            f"its audio differs from the CPU's: mel-cepstral distortion {mcd:.2f} dB "
            f"> {MCD_BOUND_DB:.1f} dB"
        )
    if provider_ms > SPEED_MARGIN * cpu_ms:
        return no(
            f"not faster than the CPU: {provider_ms:.0f} ms against {cpu_ms:.0f} ms a run "
            f"(median of {len(result.provider_seconds)}; it must take at most "
            f"{SPEED_MARGIN:.0%} of the CPU's time)"
        )
    return Verdict(
        provider,
        True,
        f"correct (MCD {mcd:.2f} dB) and faster: {provider_ms:.0f} ms against "
        f"{cpu_ms:.0f} ms a run on the CPU",
        figures=figures,
        measured_at=round(time.time()),
    )


def probe(request: ProbeRequest, child: Child | None = None) -> Verdict:
    """Run ``request`` through ``child`` (default: a :class:`ChildProcess`) and judge it; a
    failure of the provider is a verdict with its reason, never an exception."""
    name = request.provider[0]
    try:
        result = (child or ChildProcess())(request)
    except ProviderFailed as exc:
        return Verdict(name, False, str(exc), measured_at=round(time.time()))
    return judge(result, name)


def probe_key(model_sha256: str, facts: HostFacts, provider: tuple[str, dict[str, str]]) -> dict:
    """What a verdict is valid for: the model, onnxruntime, the OS (CoreML is part of macOS)
    and the provider's options (its cache folder aside)."""
    name, options = provider
    return {
        "model_sha256": model_sha256,
        "onnxruntime": facts.onnxruntime_version,
        "os_version": facts.os_version,
        "provider": name,
        "options": {k: v for k, v in options.items() if k != "ModelCacheDirectory"},
    }


def recorded(optimized_dir: Path, key: dict[str, Any]) -> Verdict | None:
    """The verdict stored for ``key``, or ``None``."""
    found = find_record(Path(optimized_dir) / PROBE_FILE, key)
    if not found or not isinstance(found.get("verdict"), dict):
        return None
    try:
        return Verdict.from_dict(found["verdict"])
    except TypeError:
        return None


def not_listed(facts: HostFacts, provider: str = PROVIDER) -> Verdict:
    """The verdict where onnxruntime does not list ``provider``: not probed, with the probes'
    reason."""
    reason = facts.why.get("coreml") or f"onnxruntime here has no {provider}"
    return Verdict(provider, False, f"not probed: {reason}", probed=False)


def verdict(
    voice: VoiceInfo,
    model: Path,
    fmt: str,
    *,
    facts: HostFacts,
    optimized_dir: Path,
    model_sha256: str,
    provider: tuple[str, dict[str, str]],
    child: Child | None = None,
    threads: int = 0,
) -> Verdict:
    """Whether ``provider`` may run ``model`` here: not probed when onnxruntime does not list
    it; else the recorded verdict, or the probe's (recorded for the next start)."""
    if provider[0] not in facts.providers:
        return not_listed(facts, provider[0])
    key = probe_key(model_sha256, facts, provider)
    found = recorded(optimized_dir, key)
    if found is not None:
        return found
    _LOGGER.info("probing %s on %s in a child process (once per host)", provider[0], model.name)
    request = ProbeRequest(voice, Path(model), fmt, provider, threads=threads)
    result = probe(request, child)
    try:
        save_record(Path(optimized_dir) / PROBE_FILE, {"key": key, "verdict": result.to_dict()})
    except OSError as exc:  # a read-only folder costs a probe at the next start, nothing more
        _LOGGER.warning("cannot keep the CoreML probe's verdict in %s: %s", optimized_dir, exc)
    _LOGGER.info(
        "%s on %s: %s (%s)",
        provider[0],
        model.name,
        "used" if result.use else "not used",
        result.reason,
    )
    return result


def status(tts: TTSConfig, facts: HostFacts | None = None) -> dict[str, Any]:
    """The CoreML verdict on the Kokoro model here, as recorded (``/info``, ``macbot
    doctor``): nothing is probed or loaded."""
    facts = facts or host_facts()
    if PROVIDER not in facts.providers:
        return not_listed(facts).to_dict()
    try:
        model = kokoro_files.model_path(tts.kokoro)
    except MacbotError as exc:  # the model cannot be had: nothing was probed
        return Verdict(PROVIDER, False, f"not probed: {exc}", probed=False).to_dict()
    optimized_dir = Path(tts.optimized_dir)
    provider = coreml_provider(facts, optimized_dir / "coreml_cache", static=False)
    key = probe_key(cached_sha256(model, hash_index(optimized_dir)), facts, provider)
    found = recorded(optimized_dir, key)
    if found is not None:
        return found.to_dict()
    return Verdict(
        PROVIDER, False, "not probed yet: the daemon probes at its first Kokoro load", False
    ).to_dict()


# -- the child's side --------------------------------------------------------------------------

OpenEngine = Callable[[VoiceInfo, Path, str, Providers, SessionPlan], Engine]
"""Opens the engine of a model (format of the registry) on providers."""


def open_engine(
    voice: VoiceInfo, model: Path, fmt: str, providers: Providers, plan: SessionPlan
) -> Engine:
    """The real :data:`OpenEngine`: the engine registry's loader, as the daemon loads it."""
    return registry.load(voice, model, fmt, providers=providers, plan=plan)


def _render(engine: Engine, runs: list[list[int]], options: SynthesisOptions) -> np.ndarray:
    return np.concatenate([np.asarray(engine.infer(ids, options)).reshape(-1) for ids in runs])


def run_child(
    folder: Path,
    open_engine: OpenEngine = open_engine,
    clock: Callable[[], float] = time.perf_counter,
) -> int:
    """The child: measure the request in ``folder`` and write the result there (exit code 0),
    or the failing stage and its error (:data:`CHILD_FAILED`). A native crash ends the
    process: the parent reads the signal."""
    request = ProbeRequest.read(folder)
    plan = SessionPlan(intra_op_threads=request.threads)
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    name = request.provider[0]
    stage = "the CPU session"
    try:
        cpu = open_engine(request.voice, request.model, request.fmt, CPU, plan)
        stage = f"making the {name} session"
        started = clock()
        out = open_engine(request.voice, request.model, request.fmt, [request.provider, *CPU], plan)
        load_seconds = clock() - started
        stage = f"running on {name}"
        warmup = [s.phoneme_ids for s in cpu.sentences(request.warmup_text)]
        timed = [s.phoneme_ids for s in cpu.sentences(request.text)]
        _render(cpu, warmup, options)
        started = clock()
        _render(out, warmup, options)
        first_run = clock() - started
        seconds: dict[str, list[float]] = {"cpu": [], "provider": []}
        audio: dict[str, np.ndarray] = {}
        for _ in range(max(1, request.runs)):  # in turns: a busy machine slows both alike
            for side, engine in (("cpu", cpu), ("provider", out)):
                started = clock()
                audio[side] = _render(engine, timed, options)
                seconds[side].append(clock() - started)
    except Exception as exc:  # every failure is the verdict's reason: written for the parent
        text = str(exc).strip().splitlines()
        error = {"stage": stage, "error": (text[0] if text else type(exc).__name__)[:300]}
        (folder / _ERROR).write_text(json.dumps(error), encoding="utf-8")
        return CHILD_FAILED
    ProbeResult(
        sample_rate=cpu.sample_rate,
        cpu_audio=audio["cpu"],
        provider_audio=audio["provider"],
        cpu_seconds=tuple(seconds["cpu"]),
        provider_seconds=tuple(seconds["provider"]),
        providers=tuple(getattr(out, "providers", ())),
        load_seconds=load_seconds,
        first_run_seconds=first_run,
    ).write(folder)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m macbot.core.coreml_probe FOLDER``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m macbot.core.coreml_probe FOLDER", file=sys.stderr)
        return 2
    return run_child(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
