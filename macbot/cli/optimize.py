"""``macbot optimize``: build, check and time this host's candidates for a voice, pick the
fastest that keeps quality (what the daemon does by itself in the background)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

from rich.markup import escape
from rich.table import Table

from ..config import AppConfig
from ..errors import ExitCode, UsageError
from .common import command, out_console, progress, voice_or_model


def register(sub) -> None:
    parser = command(
        sub,
        "optimize",
        help="make the fastest engine that keeps quality for this machine (split, quantize, "
        "gate, time)",
        description="Build the voice's candidates for this machine: the encoder/decoder split\n"
        "(streaming inside sentences), static INT8 encoders and decoders chosen by per-node\n"
        "trials, each checked by the quality gate (WER via whisper tiny.en + spectral\n"
        "distance) and timed with the daemon's own settings. The winner is recorded in\n"
        "optimized_models/ (tune.json, optimize.json) and used by the daemon from its next\n"
        "engine load; a running daemon does all this by itself in the background\n"
        "(voice_assistant.performance.tts_auto_optimize). Valid results are reused.\n\n"
        "  macbot optimize                     # the configured voice\n"
        "  macbot optimize --voice en_GB-alan-medium\n"
        "  macbot optimize --force             # rebuild and re-measure everything",
    )
    parser.add_argument("--voice", help="voice name or .onnx path (default: the configured voice)")
    parser.add_argument(
        "--sentences",
        type=int,
        default=32,
        help="quality-gate sentences (1 to 32; fewer than 30 gives provisional verdicts; "
        "default: 32)",
    )
    parser.add_argument(
        "--wer-margin",
        type=float,
        default=2.0,
        help="quality gate: WER points a candidate may add to the original's (default: 2)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="timing rounds over the tune sentences (default: 3)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="onnxruntime threads for building and checking (default: 0, every core); timing "
        "always uses the daemon's settings",
    )
    parser.add_argument(
        "--recipes",
        default="q-conv,q-trials,dec-conv,flow-conv,flow-poly",
        help="the encoder/decoder pairs to build, comma-separated: q-conv, q-trials, q-all "
        "(encoder and decoder in static INT8: the decoder's Convs only, every op but the "
        "nodes the trials keep float, or every op), q-enc (the encoder only), dec-conv, "
        "dec-trials, dec-all, dec-poly (the decoder only; poly: every op, its upsampling "
        "rewritten as Convs), flow-conv, flow-poly (the flow too; the prior with the "
        "durations float) (default: q-conv,q-trials,dec-conv,flow-conv,flow-poly)",
    )
    parser.add_argument(
        "--whole-model",
        action="store_true",
        help="also quantize the whole model (default: only for voices that cannot be split)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild and re-measure everything")
    parser.add_argument("--json", action="store_true", help="print the final state as JSON")
    parser.add_argument(
        "--background",
        action="store_true",
        help="run as the daemon's child: lowest CPU priority, one thread, one JSON state "
        "line per change on stdout",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: AppConfig) -> int:
    if args.background:  # first, before onnxruntime starts a thread or loads a model
        _into_background()
    from ..tools.kokoro_optimizer import optimize_voice as optimize
    from ..tools.optimizer import RECIPES, OptimizeOptions
    from ..tools.toolkit.phrases import VERIFY_SENTENCES

    if not 1 <= args.sentences <= len(VERIFY_SENTENCES):
        raise UsageError(f"--sentences must be 1 to {len(VERIFY_SENTENCES)} (got {args.sentences})")
    if args.rounds < 1:
        raise UsageError(f"--rounds must be at least 1 (got {args.rounds})")
    if not 0 <= args.wer_margin <= 100:
        raise UsageError(f"--wer-margin must be 0 to 100 points (got {args.wer_margin})")
    if args.threads < 0:
        raise UsageError(f"--threads must be 0 or more (got {args.threads})")
    tags = [t.strip() for t in args.recipes.split(",") if t.strip()]
    unknown = [t for t in tags if t not in RECIPES]
    if unknown:
        raise UsageError(
            f"unknown recipe {unknown[0]!r}", hint=f"the recipes are {', '.join(RECIPES)}"
        )
    voice = voice_or_model(args.voice, config)
    options = OptimizeOptions(
        gate_sentences=tuple(VERIFY_SENTENCES[: args.sentences]),
        recipes=tuple(RECIPES[t] for t in tags),
        whole_model=True if args.whole_model else None,
        tune_rounds=args.rounds,
        wer_margin_points=args.wer_margin,
        threads=args.threads or (1 if args.background else 0),
        force=args.force,
    )
    if args.background:
        return _background(config, voice, options, optimize)
    with progress() as bar:
        tasks: dict[str, Any] = {}

        def report(state) -> None:
            for step in state.steps:
                if step.state == "pending":
                    continue
                if step.name not in tasks:
                    tasks[step.name] = bar.add_task(step.name, total=1.0)
                label = step.name if step.state == "running" else f"{step.name}: {step.state}"
                bar.update(tasks[step.name], completed=step.progress, description=label)

        state = optimize(config, voice, options, report)
    if args.json:
        print(json.dumps(state.to_dict(), indent=2))
        return ExitCode.OK
    console = out_console()
    console.print(summary_table(state))
    for step in state.steps:
        if step.state == "skipped":
            console.print(f"{step.name}: skipped: {escape(step.reason)}")
    console.print(f"Chosen: {escape(state.reason)}")
    busy = [c for c in state.candidates if c.get("busy")]
    for c in busy:
        console.print(f"{c['name']}: {escape(c['busy'])}; run `macbot optimize --force` when idle")
    return ExitCode.OK


def summary_table(state) -> Table:
    """Every candidate: speed, size, MCD, WER, verdict, chosen."""
    table = Table(title=f"macbot optimize {state.voice}: winner {state.winner}")
    for col in ("candidate", "× original", "MB", "MCD dB", "WER orig→cand", "verdict", "chosen"):
        table.add_column(col, no_wrap=col != "candidate")
    for c in state.candidates:
        wer = (
            f"{100 * c['wer_original']:.1f}% → {100 * c['wer']:.1f}%"
            if c.get("wer") is not None
            else "-"
        )
        verdict = c.get("verdict", "-")
        if verdict == "rejected":
            verdict = "rejected: " + "; ".join(rejection(c))
        table.add_row(
            c["name"],
            speed_text(c),
            f"{c['size_mb']:.1f}" if c.get("size_mb") is not None else "-",
            f"{c['mcd_db']:.2f}" if c.get("mcd_db") is not None else "-",
            wer,
            escape(verdict),
            "yes" if c.get("chosen") else "",
        )
    return table


PARENT_ENV = "MACBOT_OPTIMIZER_PARENT"
"""The daemon's pid, set by the supervisor (``getppid`` would already be 1 if the daemon died
before the child asked)."""


def _into_background() -> None:
    """Background priority, and death with the daemon (:mod:`macbot.core.background`)."""
    from ..core.background import host

    system = host()
    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit():  # first: once the priority shows in /proc, the tie is made too
        system.tie_to_parent(int(parent))
    done = system.lower()
    print(f"background priority: {'; '.join(done)}", file=sys.stderr, flush=True)


def speed_text(row: dict[str, Any]) -> str:
    """``1.76× (1.70–1.82)``: the median over the timing rounds and their range."""
    if not row.get("speedup"):
        return "-"
    text = f"{row['speedup']:.2f}×"
    if row.get("speedup_range"):
        low, high = row["speedup_range"]
        text += f" ({low:.2f}–{high:.2f})"
    return text + (" busy" if row.get("busy") else "")


def rejection(candidate: dict[str, Any]) -> list[str]:
    """Why a candidate row was rejected: the checks that failed (rows of older records have
    only ``reasons``: those that are not a passed check)."""
    failed = candidate.get("failed")
    if failed is None:
        failed = [
            r
            for r in candidate.get("reasons", [])
            if "<=" not in r and not r.startswith("provisional")
        ]
    return list(failed) or ["no reason recorded"]


def _background(config: AppConfig, voice, options, optimize) -> int:
    """The daemon's child: JSON state lines, exit if the daemon goes away."""
    from ..core.optimization import EVENT

    parent = os.getppid()
    resumed = [0]

    def on_continue(_signum, _frame) -> None:
        resumed[0] += 1  # the daemon paused us while it synthesized (SIGSTOP … SIGCONT)

    if hasattr(signal, "SIGCONT"):
        signal.signal(signal.SIGCONT, on_continue)

    def report(state) -> None:
        if os.getppid() != parent:  # the daemon died: nobody reads the results
            sys.exit(int(ExitCode.INTERRUPTED))
        line = json.dumps({"event": EVENT, "state": state.to_dict()})
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            sys.exit(int(ExitCode.INTERRUPTED))

    optimize(config, voice, options, report, paused=lambda: resumed[0])
    return ExitCode.OK
