"""``macbot quantize``: make optimized variants of a voice, measured and gated.

Shared helpers: :mod:`macbot.cli.toolkit`.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from ..config import AppConfig
from ..core.manifests import Manifest
from ..errors import (
    ExitCode,
    QuantizationError,
    UsageError,
)
from ..tools.toolkit.extras import require
from ..tools.toolkit.phrases import CALIBRATION_PHRASES, read_phrases
from .common import command, out_console, progress
from .toolkit import (
    DEFAULT_OUTPUT,
    MODEL_HELP,
    add_measurement_arguments,
    existing,
    load_transcriber,
    model_errors,
    source_voice,
    summary_table,
    verify_sentences,
)


def add_quantize_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``quantize`` options."""
    parser.add_argument("--model", help=MODEL_HELP)
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"folder for the variants and their manifests (default: {DEFAULT_OUTPUT})",
    )
    methods = parser.add_argument_group("methods (one or more)")
    methods.add_argument("--dynamic", action="store_true", help="dynamic INT8 (weights 8-bit)")
    methods.add_argument("--static", action="store_true", help="static INT8 QDQ, calibrated")
    methods.add_argument("--int4", action="store_true", help="INT4 MatMulNBits (weight-only)")
    methods.add_argument("--fp16", action="store_true", help="float16, float32 inputs/outputs")
    methods.add_argument("--coreml", action="store_true", help="prepare the CoreML candidate")
    methods.add_argument("--all", action="store_true", help="every method above")
    parser.add_argument(
        "--exclude",
        default="conv_post",
        help="regex of node names to leave in float32 (default: conv_post, the final conv: "
        "quantized it adds audible static; --exclude='' quantizes everything)",
    )
    parser.add_argument(
        "--weight-type",
        default="QUInt8",
        help="dynamic: the weight type, QUInt8 or QInt8 (default: QUInt8)",
    )
    parser.add_argument(
        "--op-types",
        help="comma-separated op types to quantize, or all (default: dynamic all, static Conv)",
    )
    parser.add_argument(
        "--per-channel",
        action="store_true",
        help="static: per-channel weights (default: per-tensor)",
    )
    parser.add_argument(
        "--calibration-method",
        choices=("MinMax",),
        default="MinMax",
        help="static: how activation ranges are found; Percentile and Entropy fail on "
        "variable-length audio (default: MinMax)",
    )
    parser.add_argument(
        "--calibration-text",
        type=Path,
        help="static: a file of calibration phrases, one per line (default: the built-in ones)",
    )
    parser.add_argument(
        "--calibration-phrases",
        type=int,
        default=4,
        help="static: how many built-in phrases to calibrate on (default: 4)",
    )
    parser.add_argument(
        "--block-size", type=int, default=128, help="int4: 16 to 256, a power of 2 (default: 128)"
    )
    parser.add_argument("--accuracy-level", type=int, default=4, help="int4: 1 to 4 (default: 4)")
    parser.add_argument(
        "--execution-provider",
        default="cpu",
        help="int4 target: cpu, cuda, dml or webgpu (default: cpu)",
    )
    parser.add_argument(
        "--suffix",
        default="",
        help="appended to output names, write it as --suffix=-x: NAME.static-x (default: none)",
    )
    parser.add_argument(
        "--benchmark",
        action="store_true",
        help="measure speed over 3 rounds at 1 and 2 threads (default: 1 round, all cores)",
    )
    add_measurement_arguments(parser)
    parser.add_argument(
        "--wav-dir",
        type=Path,
        help="also write each original/variant WAV pair here (default: none)",
    )
    return parser


def _op_types(text: str | None) -> list[str] | None:
    """``--op-types``: None for the method's default or ``all``, else the listed types."""
    if not text or text == "all":
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def quantize_options(args: argparse.Namespace) -> tuple[list[str], Any]:
    """The methods asked for and their :class:`~.variants.Options` (``CLIError`` if bad)."""
    from ..tools.toolkit import quantizer
    from ..tools.toolkit.variants import Options

    methods = [m for m in quantizer.METHODS if args.all or getattr(args, m)]
    if not methods:
        raise UsageError("choose a method: --dynamic, --static, --int4, --fp16, --coreml, --all")
    if "int4" in methods:
        try:
            quantizer.check_int4_options(
                args.block_size, args.accuracy_level, args.execution_provider
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    if args.weight_type not in quantizer.QUANT_TYPES:
        raise UsageError(f"--weight-type must be QUInt8 or QInt8 (got {args.weight_type})")
    if args.calibration_text is not None:
        try:
            phrases = read_phrases(existing(args.calibration_text, "calibration text"))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    else:
        if not 1 <= args.calibration_phrases <= len(CALIBRATION_PHRASES):
            raise UsageError(
                f"--calibration-phrases must be 1 to {len(CALIBRATION_PHRASES)}",
            )
        phrases = CALIBRATION_PHRASES[: args.calibration_phrases]
    if args.exclude:
        try:
            re.compile(args.exclude)
        except re.error as exc:
            raise UsageError(f"--exclude is not a valid regex: {exc}") from exc
    options = Options(
        exclude=args.exclude or None,
        weight_type=args.weight_type,
        op_types=_op_types(args.op_types),
        static_op_types=None if args.op_types == "all" else ("Conv",),
        per_channel=args.per_channel,
        calibration_phrases=phrases,
        calibration_method=args.calibration_method,
        block_size=args.block_size,
        accuracy_level=args.accuracy_level,
        execution_provider=args.execution_provider,
        suffix=args.suffix,
    )
    return methods, options


def next_step(path: Path, manifest: Manifest, optimized_dir: Path) -> str:
    """What to do with a usable variant: nothing in ``optimized_dir`` (the engine chain finds
    it there by its manifest: no config key since issue 13); elsewhere, move it there."""
    if "wer_variant" not in (manifest.quality or {}):
        return (
            f"Next: {path.name} has no WER measurement: the daemon uses a variant it finds only "
            "after the quality gate measured it (`macbot verify` with the quality extra)."
        )
    if Path(path).resolve().parent != Path(optimized_dir).resolve():
        return (
            f"Next: move {path.name} and its manifest into {optimized_dir} "
            "(models.tts.optimized_dir): the daemon finds variants there by their manifests."
        )
    return (
        f"Next: nothing to set: the daemon finds {path.name} in {optimized_dir} at its next "
        "start; `macbot tune` times it against the others here first."
    )


def cmd_quantize(args: argparse.Namespace, config: AppConfig) -> int:
    """Make every asked-for variant, measure it and write its manifest; print a summary."""
    from ..tools.toolkit.variants import build

    methods, options = quantize_options(args)
    voice, source = source_voice(args.model, config)
    sentences = None if args.no_verify else verify_sentences(args.sentences)
    with model_errors():
        require("onnx", "toolkit")
        transcriber = load_transcriber(sentences is not None and not args.no_wer)

        results = []
        with progress() as bar:
            steps = bar.add_task("variants", total=len(methods))
            per = bar.add_task("sentences", total=2 * len(sentences or ()) * len(methods))
            for method in methods:
                try:
                    path, manifest = build(
                        method,
                        voice,
                        source,
                        args.output,
                        options,
                        verify_sentences=sentences,
                        transcriber=transcriber,
                        speed_rounds=0 if args.no_speed else 3 if args.benchmark else 1,
                        speed_threads=(1, 2) if args.benchmark else (0,),
                        wav_dir=args.wav_dir,
                        progress=lambda name: bar.update(steps, description=name),
                        sentence_done=lambda: bar.advance(per),
                    )
                except (QuantizationError, ValueError, RuntimeError) as exc:
                    raise QuantizationError(f"{method} failed on {source}: {exc}") from exc
                results.append((path, manifest))
                bar.advance(steps)
    console = out_console()
    console.print(summary_table(results))
    for path, manifest in results:
        note = manifest.parameters.get("note")
        console.print(f"{path}: " + "; ".join(manifest.verdict.reasons if manifest.verdict else []))
        if note:
            console.print(f"  note: {note}")
    usable = [(path, m) for path, m in results if m.verdict and m.verdict.usable]
    if usable:
        console.print(next_step(*usable[0], Path(config.tts.optimized_dir)))
    else:
        console.print("No variant passed the quality gate; the daemon keeps the original.")
    return ExitCode.OK


def register(sub: Any) -> None:
    """Add ``quantize``."""
    q = command(sub, "quantize", help="make optimized variants of a voice, measured and gated")
    add_quantize_arguments(q).set_defaults(handler=cmd_quantize)
