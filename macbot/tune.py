"""``macbot tune``: time every available engine candidate on this host and store the winner.

Rounds are interleaved (every candidate speaks the same sentence in turn, noise 0), the median
real-time factor (RTF = synthesis seconds / audio seconds) decides. A variant is allowed only
when it loads, passes the smoke test and its quality record, and is not slower than the
original. The record goes to ``optimized_models/tune.json`` keyed by (model sha256,
onnxruntime version, CPU model, providers); the daemon follows it at the next start.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from .chain import (
    Attempt,
    CandidateRejected,
    EngineChain,
    save_tune_record,
    tune_key,
)
from .config import AppConfig
from .voices import VoiceInfo, resolve_voice, voice_from_path

TUNE_SENTENCES = [
    "Good morning, the weather today is sunny with a light breeze from the west.",
    "Your next meeting starts in fifteen minutes in the small conference room.",
    "I have set a timer for ten minutes.",
    "Turning off the lights in the living room and the kitchen now.",
]
"""Typical assistant replies (short and long)."""


def _voice(config: AppConfig) -> VoiceInfo:
    tts = config.tts
    if tts.piper.voice_path is not None:
        return voice_from_path(tts.piper.voice_path)
    return resolve_voice(tts.voice, tts.voices_dir)


def tune(
    config: AppConfig,
    rounds: int = 3,
    chain: EngineChain | None = None,
    progress: Any = None,
    sentences: list[str] | None = None,
) -> dict[str, Any]:
    """Measure every candidate, save and return the record. ``progress``: a callable
    ``(message)`` for status lines (rich in the CLI)."""
    say = progress or (lambda _msg: None)
    chain = chain or EngineChain(config, preoptimize=False)
    voice = _voice(config)
    sentences = sentences or TUNE_SENTENCES
    loaded = {}
    results: dict[str, dict[str, Any]] = {}
    for cand in chain.candidates(voice):
        attempt = Attempt(cand.engine_type, str(cand.path))
        entry: dict[str, Any] = {
            "engine_type": cand.engine_type,
            "path": str(cand.path),
            "sha256": chain.sha256(cand.path) if cand.path.is_file() else None,
            "median_rtf": None,
        }
        results[cand.engine_type] = entry
        say(f"loading {cand.engine_type} ({cand.path.name})")
        try:
            loaded[cand.engine_type] = chain.try_candidate(cand, voice, attempt)
        except CandidateRejected as exc:
            entry.update(usable=False, chosen_ok=False, reason=str(exc))
            say(f"  rejected: {exc}")
            continue
        entry.update(usable=True, warnings=attempt.warnings)
    if "piper" not in loaded:
        raise RuntimeError(f"the original model does not load: {results['piper'].get('reason')}")
    from .engine import SynthesisOptions

    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.0)
    rtfs: dict[str, list[float]] = {name: [] for name in loaded}
    for engine in loaded.values():  # warm every session once
        list(engine.synthesize(sentences[0], options))
    for r in range(rounds):
        for text in sentences:
            for name, engine in loaded.items():
                started = time.perf_counter()
                audio = sum(c.duration for c in engine.synthesize(text, options))
                rtfs[name].append((time.perf_counter() - started) / max(audio, 1e-6))
        say(f"round {r + 1}/{rounds} done")
    base = statistics.median(rtfs["piper"])
    for name, values in rtfs.items():
        med = statistics.median(values)
        entry = results[name]
        entry["median_rtf"] = round(med, 5)
        entry["speedup_vs_original"] = round(base / med, 3)
        if name == "piper":
            entry.update(chosen_ok=True, reason="the original (always allowed)")
        elif med > base:
            entry.update(
                chosen_ok=False,
                reason=f"slower than the original (median RTF {med:.4f} vs {base:.4f})",
            )
        else:
            entry.update(
                chosen_ok=True, reason=f"{base / med:.2f}× the original's speed, quality ok"
            )
    allowed = [e for e in results.values() if e.get("chosen_ok")]
    winner = min(allowed, key=lambda e: e["median_rtf"])["engine_type"]
    record = {
        "key": tune_key(chain.sha256(voice.model_path), chain.facts),
        "created": time.time(),
        "rounds": rounds,
        "sentences": len(sentences),
        "winner": winner,
        "results": list(results.values()),
    }
    save_tune_record(chain.tune_path, record)
    return record


def register(sub) -> None:
    """Add ``macbot tune`` (see :data:`macbot.cli.COMMAND_MODULES`)."""
    parser = sub.add_parser("tune", help="time the engine candidates here and store the winner")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--json", action="store_true", help="print the record as JSON")
    parser.set_defaults(handler=_cmd_tune)


def _cmd_tune(args: argparse.Namespace, config: AppConfig) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .cli import CLIError, ExitCode
    from .voices import VoiceNotFoundError

    if args.rounds < 1:
        raise CLIError(ExitCode.USAGE, f"--rounds must be at least 1 (got {args.rounds})")
    import sys

    console = Console(stderr=args.json, width=None if sys.stdout.isatty() else 140)
    try:
        with console.status("tuning…") as status:
            record = tune(config, args.rounds, progress=lambda m: status.update(m))
    except VoiceNotFoundError as exc:
        raise CLIError(ExitCode.VOICE_NOT_FOUND, str(exc)) from exc
    except RuntimeError as exc:
        raise CLIError(ExitCode.SYNTHESIS_FAILED, str(exc)) from exc
    if args.json:
        print(json.dumps(record, indent=2))
        return ExitCode.OK
    table = Table(title=f"macbot tune: winner {record['winner']}")
    for col in ("engine", "file", "median RTF", "× original", "allowed", "why"):
        table.add_column(col)
    for e in record["results"]:
        table.add_row(
            e["engine_type"],
            Path(e["path"]).name,
            str(e.get("median_rtf")),
            str(e.get("speedup_vs_original", "")),
            "yes" if e.get("chosen_ok") else "no",
            escape(e.get("reason", "")),
        )
    console.print(table)
    console.print(f"saved to {EngineChain(config).tune_path}")
    return ExitCode.OK
