"""``macbot quantize | inspect | verify | trial | estimate-size | export-optimized``.

The handlers import the quantizer, whisper and the trials when they run (onnxruntime's
quantization tools are slow to import), so the other commands start fast.

Optional packages (onnx, faster-whisper) are imported by the toolkit only when a step needs
them; a missing one is a :class:`~macbot.errors.MissingExtraError` naming the extra to install
(exit code ``MISSING_EXTRA``). Models are given by path or by voice name.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.table import Table

from ..config import AppConfig
from ..core.manifests import Manifest
from ..core.voices import VoiceInfo
from ..errors import (
    ExitCode,
    MissingExtraError,
    ModelNotFoundError,
    QuantizationError,
    UsageError,
    VoiceNotFoundError,
)
from ..tools.toolkit.extras import require
from ..tools.toolkit.graph import GROUPINGS, diff, model_stats
from ..tools.toolkit.phrases import CALIBRATION_PHRASES, VERIFY_SENTENCES, read_phrases
from .common import command, model_file, out_console, progress, voice_or_model

_LOGGER = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path("optimized_models")


# -- shared helpers ------------------------------------------------------------------------------


def _source_voice(model: str | None, config: AppConfig) -> tuple[VoiceInfo, Path]:
    """(voice, model path) for ``--model``: a voice name or the path of its ``.onnx``
    (default: the configured voice)."""
    try:
        voice = voice_or_model(model, config)
    except VoiceNotFoundError as exc:
        raise ModelNotFoundError(str(exc), hint="`macbot voices` lists the names") from exc
    return voice, voice.model_path


def _existing(path: Path, what: str = "model") -> Path:
    if not Path(path).is_file():
        raise ModelNotFoundError(f"{what} not found: {path}")
    return Path(path)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """A file the toolkit cannot find is a missing model (exit ``MODEL_NOT_FOUND``)."""
    try:
        yield
    except FileNotFoundError as exc:
        raise ModelNotFoundError(str(exc).strip("'\"")) from exc


def _transcriber(enabled: bool) -> Any:
    """whisper tiny.en, or ``None`` (with a warning) when ``--no-wer`` or the extra is missing."""
    from ..tools.toolkit.transcriber import Transcriber

    if not enabled:
        return None

    try:
        return Transcriber()
    except MissingExtraError as exc:
        raise MissingExtraError(f"{exc} (or pass --no-wer: distance only, never usable)") from exc


def _sentences(count: int) -> list[str]:

    if not 1 <= count <= len(VERIFY_SENTENCES):
        raise UsageError(f"--sentences must be 1 to {len(VERIFY_SENTENCES)} (got {count})")
    return VERIFY_SENTENCES[:count]


def _mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:.1f}"


def _summary_table(rows: list[tuple[Path, Any]]) -> Any:

    table = Table(title="Variants (speed-up: source RTF / variant RTF, side by side)")
    table.add_column("variant", overflow="fold")
    for column in ("MB", "smaller", "speed-up", "MCD dB", "WER orig→var", "usable"):
        table.add_column(column, no_wrap=True)
    for path, m in rows:
        q = m.quality or {}
        wer = (
            f"{100 * q['wer_original']:.1f}% → {100 * q['wer_variant']:.1f}%"
            if "wer_variant" in q
            else "-"
        )
        table.add_row(
            path.name.removesuffix(".onnx"),
            _mb(m.sizes["output"]),
            f"{m.sizes['source'] / m.sizes['output']:.2f}×",
            f"{m.speed['speedup']:.2f}×" if "speedup" in (m.speed or {}) else "-",
            f"{q['mcd_db_mean']:.2f}" if "mcd_db_mean" in q else "-",
            wer,
            "yes" if m.verdict and m.verdict.usable else "no",
        )
    return table


# -- quantize ------------------------------------------------------------------------------------


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


def add_measurement_arguments(parser: argparse.ArgumentParser) -> None:
    """How a new variant is measured (``quantize``, ``export-optimized``)."""
    parser.add_argument(
        "--sentences",
        type=int,
        default=32,
        help="verification sentences, 1 to 32 (default: 32)",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the quality measurement (default: off)"
    )
    parser.add_argument(
        "--no-wer",
        action="store_true",
        help="distance only, no whisper; the variant is then never usable (default: off)",
    )
    parser.add_argument(
        "--no-speed",
        action="store_true",
        help="skip timing; `macbot bench variants` fills it in (default: off)",
    )


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
            phrases = read_phrases(_existing(args.calibration_text, "calibration text"))
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
    voice, source = _source_voice(args.model, config)
    sentences = None if args.no_verify else _sentences(args.sentences)
    with _errors():
        require("onnx", "toolkit")
        transcriber = _transcriber(sentences is not None and not args.no_wer)

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
    console.print(_summary_table(results))
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


# -- inspect -------------------------------------------------------------------------------------


def cmd_inspect(args: argparse.Namespace, config: AppConfig) -> int:
    """Size and parameters by group; with ``--diff``, ops added/removed and the size change."""

    if args.by not in GROUPINGS:
        raise UsageError(f"--by must be one of {', '.join(GROUPINGS)}")
    model = model_file(args.model, config)
    console = out_console()
    with _errors():
        try:
            stats = model_stats(model, args.by)
            other_path = model_file(args.diff, config) if args.diff else None
            other = model_stats(other_path, args.by) if other_path else None
        except ValueError as exc:
            raise ModelNotFoundError(str(exc)) from exc
        if args.json:
            print(json.dumps(_stats_json(stats, other, model, other_path), indent=2))
            return ExitCode.OK
        for s in (stats, other) if other else (stats,):
            total_bytes = sum(r.bytes for r in s.rows) or 1
            table = Table(
                title=f"{s.path.name}: {_mb(s.file_bytes)} MB, {s.nodes} nodes, "
                f"{s.params:,} parameters"
            )
            for column in ("group", "size KB", "share", "parameters", "tensors"):
                table.add_column(column, justify="left" if column == "group" else "right")
            shown = s.rows[: args.max_rows]
            for r in shown:
                table.add_row(
                    r.group,
                    f"{r.bytes / 1024:,.1f}",
                    f"{100 * r.bytes / total_bytes:.1f}%",
                    f"{r.params:,}",
                    str(r.tensors),
                )
            rest = s.rows[args.max_rows :]
            if rest:
                table.add_row(
                    f"… and {len(rest)} more rows",
                    f"{sum(r.bytes for r in rest) / 1024:,.1f}",
                    f"{100 * sum(r.bytes for r in rest) / total_bytes:.1f}%",
                    f"{sum(r.params for r in rest):,}",
                    str(sum(r.tensors for r in rest)),
                )
            console.print(table)
        if other:
            d = diff(model, other_path)
            console.print(f"Added operations (in {Path(args.diff).name}):")
            for op, n in d.added.items():
                console.print(f"  {op}: {n} nodes")
            console.print("Removed operations:")
            for op, n in d.removed.items():
                console.print(f"  {op}: {n} nodes")
            console.print(
                f"Total nodes: {d.nodes_a} → {d.nodes_b} ({d.nodes_b - d.nodes_a:+d}); "
                f"size {_mb(d.bytes_a)} MB → {_mb(d.bytes_b)} MB "
                f"(reduction {100 * d.size_reduction:.1f}%)"
            )
    return ExitCode.OK


def _stats_json(stats: Any, other: Any, model: Path, other_path: Path | None) -> dict:

    def one(s: Any) -> dict:
        return {
            "path": str(s.path),
            "file_bytes": s.file_bytes,
            "nodes": s.nodes,
            "params": s.params,
            "rows": [asdict(r) for r in s.rows],
        }

    data: dict[str, Any] = {"model": one(stats)}
    if other:
        d = diff(model, other_path)
        data["other"] = one(other)
        data["diff"] = {**asdict(d), "size_reduction": round(d.size_reduction, 4)}
    return data


# -- verify --------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace, config: AppConfig) -> int:
    """Distance + WER of a variant against its original; updates the variant's manifest."""
    from ..tools.toolkit.variants import reverify

    variant = model_file(args.variant, config)
    original = args.against
    if original is None:
        with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
            original = Path(Manifest.load(variant).source)
    voice, original = _source_voice(str(original) if original else None, config)
    sentences = _sentences(args.sentences)
    with _errors():
        transcriber = _transcriber(not args.no_wer)
        with progress() as bar:
            task = bar.add_task(f"verifying {variant.name}", total=2 * len(sentences))
            manifest = reverify(
                voice,
                variant,
                original,
                sentences,
                transcriber,
                args.out,
                lambda: bar.advance(task),
            )
    q = manifest.quality
    console = out_console()
    console.print(_summary_table([(variant, manifest)]))
    for reason in manifest.verdict.reasons:
        console.print(f"  {reason}")
    for key in ("wav_original", "wav_variant"):
        if key in q:
            console.print(f"  {key}: {q[key]}")
    if not manifest.verdict.usable:
        return ExitCode.QUALITY_GATE_FAILED
    return ExitCode.OK


# -- trials --------------------------------------------------------------------------------------


def cmd_trial(args: argparse.Namespace, config: AppConfig) -> int:
    """Quantize each large node alone, measure its distance, write the CSV."""
    from ..tools.toolkit.trials import candidates, run_trials, write_csv

    voice, source = _source_voice(args.model, config)
    with _errors():
        require("onnx", "toolkit")

        total = len(candidates(source, args.min_params, args.exclude)[: args.limit])
        with progress() as bar:
            task = bar.add_task("trial quantization", total=total)
            rows = run_trials(
                voice,
                source,
                _sentences(args.sentences),
                args.min_params,
                args.limit,
                args.exclude,
                done=lambda _row: bar.advance(task),
            )
        path = write_csv(rows, args.csv)
    out_console().print(
        f"wrote {len(rows)} trials to {path}. Next: `macbot estimate-size --csv {path}` to "
        "choose a threshold, then `macbot export-optimized --quant-threshold DB`."
    )
    return ExitCode.OK


def _read_trials(path: Path) -> list:
    from ..tools.toolkit.trials import read_csv

    try:
        return read_csv(_existing(path, "trials CSV"))
    except (ValueError, KeyError) as exc:
        raise UsageError(f"bad trials CSV {path}: {exc}") from exc


def cmd_estimate_size(args: argparse.Namespace, config: AppConfig) -> int:
    """Estimated size for each threshold, before exporting."""
    from ..tools.toolkit.trials import estimate_size

    rows = _read_trials(args.csv)
    _, source = _source_voice(args.model, config)
    try:
        thresholds = [float(t) for t in args.thresholds.split(",")]
    except ValueError as exc:
        raise UsageError(f"--thresholds: {exc}") from exc
    table = Table(title=f"Estimated size of {source.name} quantized by threshold (dB)")
    for column in ("threshold", "nodes", "parameters", "estimated MB", "reduction"):
        table.add_column(column, justify="right")
    for t in thresholds:
        e = estimate_size(rows, source.stat().st_size, t, args.exclude)
        table.add_row(
            f"{t:g}",
            str(e["nodes"]),
            f"{e['params']:,}",
            _mb(e["estimated_bytes"]),
            f"{100 * e['reduction']:.1f}%",
        )
    out_console().print(table)
    return ExitCode.OK


def cmd_export_optimized(args: argparse.Namespace, config: AppConfig) -> int:
    """Quantize the nodes under the threshold (minus the exclude regex), measure, manifest."""
    from ..tools.toolkit.trials import export_by_threshold
    from ..tools.toolkit.variants import record, variant_path

    rows = _read_trials(args.csv)
    voice, source = _source_voice(args.model, config)
    sentences = None if args.no_verify else _sentences(args.sentences)
    with _errors():
        transcriber = _transcriber(sentences is not None and not args.no_wer)
        output = variant_path(args.output, source, f"optimized-{args.method}", args.suffix)
        output.parent.mkdir(parents=True, exist_ok=True)
        try:
            params = export_by_threshold(
                voice,
                source,
                rows,
                args.quant_threshold,
                output,
                args.quant_exclude,
                args.method,
                CALIBRATION_PHRASES[:4],
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        with progress() as bar:
            task = bar.add_task("verifying", total=2 * len(sentences or ()))
            manifest = record(
                f"optimized-{args.method}",
                voice,
                source,
                output,
                params,
                verify_sentences=sentences,
                transcriber=transcriber,
                speed_rounds=0 if args.no_speed else 1,
                sentence_done=lambda: bar.advance(task),
            )
    console = out_console()
    console.print(_summary_table([(output, manifest)]))
    console.print(f"wrote {output} and its manifest. Next: `macbot verify {output}`.")
    return ExitCode.OK


# -- registration --------------------------------------------------------------------------------


MODEL_HELP = (
    "the voice: a name (see `macbot voices`) or the path of its .onnx (default: the configured "
    "voice, models.tts.voice)"
)
TRIALS_CSV = DEFAULT_OUTPUT / "quantization-trials.csv"


def register(sub: Any) -> None:
    """Add the toolkit's subcommands."""
    q = command(sub, "quantize", help="make optimized variants of a voice, measured and gated")
    add_quantize_arguments(q).set_defaults(handler=cmd_quantize)

    i = command(sub, "inspect", help="size and parameters of a model by op/dtype; diff two")
    i.add_argument("model", help="the model: a path to an .onnx, or a voice name")
    i.add_argument(
        "--by",
        default="op+dtype",
        help=f"group the rows by {', '.join(GROUPINGS)} (default: op+dtype)",
    )
    i.add_argument(
        "--diff",
        metavar="OTHER",
        help="compare with another model (path or voice name): ops added and removed, size "
        "change (default: none)",
    )
    i.add_argument("--max-rows", type=int, default=15, help="rows shown per model (default: 15)")
    i.add_argument("--json", action="store_true", help="print JSON (default: tables)")
    i.set_defaults(handler=cmd_inspect)

    v = command(sub, "verify", help="distance and WER of a variant against its original")
    v.add_argument("variant", help="the variant: a path to its .onnx")
    v.add_argument(
        "--against",
        help="the original: a path or voice name (default: the source named in the variant's "
        "manifest)",
    )
    v.add_argument(
        "--sentences",
        type=int,
        default=32,
        help="built-in sentences to render, 1 to 32; the gate needs at least 30 (default: 32)",
    )
    v.add_argument(
        "--out",
        type=Path,
        help="also write NAME.original.wav and NAME.variant.wav here (default: none)",
    )
    v.add_argument(
        "--no-wer",
        action="store_true",
        help="distance only, no whisper; the variant is then never usable (default: off)",
    )
    v.set_defaults(handler=cmd_verify)

    t = command(sub, "trial", help="quantize each large node alone and measure it (CSV)")
    t.add_argument("--model", help=MODEL_HELP)
    t.add_argument("--csv", type=Path, default=TRIALS_CSV, help=f"output (default: {TRIALS_CSV})")
    t.add_argument(
        "--min-params",
        type=int,
        default=100_000,
        help="trial only nodes with at least this many parameters (default: 100000)",
    )
    t.add_argument("--limit", type=int, help="only the N largest nodes (default: all)")
    t.add_argument(
        "--sentences", type=int, default=2, help="sentences rendered per trial (default: 2)"
    )
    t.add_argument("--exclude", help="regex of node names not to trial (default: none excluded)")
    t.set_defaults(handler=cmd_trial)

    e = command(sub, "estimate-size", help="estimated size by threshold from a trials CSV")
    e.add_argument("--model", help=MODEL_HELP)
    e.add_argument(
        "--csv", type=Path, default=TRIALS_CSV, help=f"the trials (default: {TRIALS_CSV})"
    )
    e.add_argument(
        "--thresholds",
        default="0.1,0.2,0.5,1,2,5",
        help="comma-separated distances in dB; nodes under each are counted (default: "
        "0.1,0.2,0.5,1,2,5)",
    )
    e.add_argument("--exclude", help="regex of node names kept in float32 (default: none excluded)")
    e.set_defaults(handler=cmd_estimate_size)

    x = command(sub, "export-optimized", help="quantize by threshold from a trials CSV")
    x.add_argument("--model", help=MODEL_HELP)
    x.add_argument(
        "--csv", type=Path, default=TRIALS_CSV, help=f"the trials (default: {TRIALS_CSV})"
    )
    x.add_argument(
        "--quant-threshold",
        type=float,
        default=1.0,
        help="quantize the nodes whose trial distance is at most this, dB (default: 1)",
    )
    x.add_argument(
        "--quant-exclude",
        "--exclude",
        dest="quant_exclude",
        help="regex of node names kept in float32 (default: none excluded)",
    )
    x.add_argument(
        "--method",
        choices=("dynamic", "static"),
        default="dynamic",
        help="how the chosen nodes are quantized (default: dynamic)",
    )
    x.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"folder (default: {DEFAULT_OUTPUT})"
    )
    x.add_argument(
        "--suffix",
        default="",
        help="appended to the output name: NAME.optimized-dynamic-x (default: none)",
    )
    add_measurement_arguments(x)
    x.set_defaults(handler=cmd_export_optimized)
