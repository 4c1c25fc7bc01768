"""Make one variant of a voice, measure it and write its manifest: the whole pipeline behind
``macbot quantize``.

``NAME.METHOD.onnx`` goes to the output folder with ``NAME.METHOD.manifest.json`` beside it:
source hash, method, parameters, sizes, speed (side by side with the source), quality
(spectral distance and WER from :mod:`.verifier`) and the gate's verdict.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.hashing import file_sha256
from ...core.manifests import Manifest, Verdict, manifest_path
from ...core.voices import VoiceInfo
from . import quantizer
from .gate import judge
from .phrases import CALIBRATION_PHRASES, VERIFY_SENTENCES
from .speed import compare_speed
from .verifier import verify

_LOGGER = logging.getLogger(__name__)

SPEED_SENTENCES = VERIFY_SENTENCES[:4]


@dataclass
class Options:
    """Everything a method may use (each takes what applies to it)."""

    exclude: str | None = None
    weight_type: str = "QUInt8"
    """Dynamic: QUInt8 (fast here); QInt8 makes ConvInteger 2–3× slower on x86."""
    op_types: Sequence[str] | None = None
    static_op_types: Sequence[str] | None = ("Conv",)
    """Static, when ``op_types`` is not given: only ``Conv`` gets QDQ (tuned: quantizing the
    Add/Mul/LeakyRelu activations too is faster but costs +4 to +5 WER points here)."""
    per_channel: bool = False
    calibration_phrases: Sequence[str] = field(default_factory=lambda: CALIBRATION_PHRASES[:4])
    activation_type: str = "QUInt8"
    static_weight_type: str = "QInt8"
    calibration_method: str = "MinMax"
    """Static: MinMax, Percentile (99.999 %) or Entropy."""
    block_size: int = 128
    accuracy_level: int = 4
    execution_provider: str = "cpu"
    suffix: str = ""
    """Appended to the file name (``NAME.static-pc.onnx``) to keep several tunings apart."""


def variant_path(output_dir: Path, source: Path, method: str, suffix: str = "") -> Path:
    """``output_dir/NAME.METHOD[SUFFIX].onnx`` for a source ``NAME.onnx``."""
    stem = Path(source).name.removesuffix(".onnx")
    return Path(output_dir) / f"{stem}.{method}{suffix}.onnx"


def make(
    method: str, voice: VoiceInfo, source: Path, output_dir: Path, options: Options
) -> tuple[Path, dict[str, Any]]:
    """Write the ``method`` variant of ``source``; returns (its path, the parameters used)."""
    if method not in quantizer.METHODS:
        raise ValueError(f"unknown method {method!r} (have: {', '.join(quantizer.METHODS)})")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    output = variant_path(output_dir, source, method, options.suffix)
    if method == "dynamic":
        params = quantizer.quantize_dynamic(
            source, output, options.weight_type, options.op_types, options.exclude
        )
    elif method == "static":
        feeds = quantizer.calibration_feeds(voice, options.calibration_phrases)
        params = quantizer.quantize_static(
            source,
            output,
            feeds,
            per_channel=options.per_channel,
            exclude=options.exclude,
            op_types=options.op_types or options.static_op_types,
            activation_type=options.activation_type,
            weight_type=options.static_weight_type,
            calibration_method=options.calibration_method,
        )
        params["calibration_phrases"] = len(options.calibration_phrases)
    elif method == "int4":
        params = quantizer.quantize_int4(
            source,
            output,
            options.block_size,
            options.accuracy_level,
            options.execution_provider,
            options.exclude,
        )
    elif method == "fp16":
        params = quantizer.convert_fp16(source, output, options.exclude)
    else:
        params = quantizer.prepare_coreml(source, output)
    return output, params


def measure_speed(
    voice: VoiceInfo,
    source: Path,
    output: Path,
    sentences: Sequence[str] = SPEED_SENTENCES,
    rounds: int = 1,
    threads: Sequence[int] = (0,),
) -> dict[str, Any]:
    """RTF of source and variant side by side (interleaved) per thread count, and the ratio."""
    speed: dict[str, Any] = {
        "host": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "sentences": len(sentences),
        "rounds": rounds,
        "provider": "CPUExecutionProvider",
        "by_threads": {},
    }
    for count in threads:
        result = compare_speed(
            voice, {"source": source, "variant": output}, sentences, rounds, count
        )
        speed["by_threads"][str(count or "default")] = {
            "rtf_source": result["source"]["rtf"],
            "rtf_variant": result["variant"]["rtf"],
            "speedup": round(result["source"]["rtf"] / result["variant"]["rtf"], 3),
            "load_seconds_variant": result["variant"]["load_seconds"],
        }
    speed["speedup"] = min(v["speedup"] for v in speed["by_threads"].values())
    return speed


def build(
    method: str,
    voice: VoiceInfo,
    source: Path,
    output_dir: Path,
    options: Options | None = None,
    **measure: Any,
) -> tuple[Path, Manifest]:
    """Make one variant, then :func:`record` it (``measure``: :func:`record`'s keywords)."""
    options = options or Options()
    step = measure.get("progress") or (lambda _name: None)
    step(f"{method}: making")
    output = variant_path(output_dir, source, method, options.suffix)
    try:
        output, params = make(method, voice, source, output_dir, options)
        return output, record(method, voice, source, output, params, **measure)
    except KeyboardInterrupt:
        # Ctrl-C: a half-made variant beside a manifest saying "not measured yet" would be
        # found and skipped forever after (issue 11); leave nothing instead.
        discard(output)
        raise


def discard(output: Path) -> None:
    """Remove a variant and its manifest (those that exist)."""
    for path in (Path(output), manifest_path(output)):
        path.unlink(missing_ok=True)


def record(
    method: str,
    voice: VoiceInfo,
    source: Path,
    output: Path,
    params: dict[str, Any],
    *,
    verify_sentences: Sequence[str] | None = VERIFY_SENTENCES,
    transcriber: Any | None = None,
    speed_rounds: int = 1,
    speed_threads: Sequence[int] = (0,),
    speed_sentences: Sequence[str] = SPEED_SENTENCES,
    wav_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    sentence_done: Callable[[], None] | None = None,
) -> Manifest:
    """Measure ``output`` against ``source``, gate it and write its manifest.

    ``speed_rounds=0`` skips the speed measurement (the ``variants`` benchmark fills it in).
    ``verify_sentences=None`` skips quality (the verdict is then "not verified"); a
    ``transcriber`` adds WER. ``progress(step)`` is told each step's name.
    """
    step = progress or (lambda _name: None)
    manifest = Manifest(
        method=method,
        source=str(source),
        source_sha256=file_sha256(source),
        parameters={**params, "voice": voice.name},
        sizes={"source": Path(source).stat().st_size, "output": Path(output).stat().st_size},
        files={Path(output).name: file_sha256(output)},
    )
    manifest.verdict = Verdict(False, ["not measured yet"])
    manifest.save(output)  # a manifest exists even if a measurement below fails
    if speed_rounds > 0:
        step(f"{method}: speed")
        manifest.speed = measure_speed(
            voice, source, output, speed_sentences, speed_rounds, speed_threads
        )
    else:
        manifest.speed = {"skipped": "run `macbot bench variants` (it records speed here)"}
    if verify_sentences:
        step(f"{method}: quality")
        manifest.quality = verify(
            voice,
            source,
            output,
            verify_sentences,
            out_dir=wav_dir,
            transcriber=transcriber,
            progress=sentence_done,
        )
        manifest.verdict = judge(manifest.quality)
    else:
        manifest.verdict = Verdict(False, ["not verified (run `macbot verify` on it)"])
    manifest.save(output)
    return manifest


def reverify(
    voice: VoiceInfo,
    variant: Path,
    original: Path,
    sentences: Sequence[str],
    transcriber: Any | None,
    wav_dir: Path | None,
    sentence_done: Callable[[], None] | None = None,
) -> Manifest:
    """Verify an existing variant and update (or create) its manifest with quality + verdict."""
    try:
        manifest = Manifest.load(variant)
    except (FileNotFoundError, ValueError, TypeError):
        manifest = Manifest(
            method="unknown",
            source=str(original),
            source_sha256=file_sha256(original),
            sizes={"source": original.stat().st_size, "output": variant.stat().st_size},
        )
    manifest.quality = verify(
        voice, original, variant, sentences, wav_dir, transcriber, sentence_done
    )
    manifest.verdict = judge(manifest.quality)
    manifest.save(variant)
    return manifest
