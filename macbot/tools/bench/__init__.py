"""Benchmarks, measured side by side in one run so that ratios are fair on a busy machine.

Suites (``macbot bench SUITE`` or ``scripts/benchmark_tts.py SUITE``): ``rtf`` (piper-tts, the
engine, ``/speak`` and ``macbot say``), ``daemon`` (the daemon over HTTP against piper-tts:
one sentence, ten, cache, 8 clients, RSS), ``split`` (streaming inside a sentence), ``load``,
``rss`` and ``memspeed`` (session settings), ``variants`` (quantized models), ``runs`` (one
model run's memory and time by length), ``memory`` (a served daemon's RSS over requests,
clients, reloads and a 5,000-character text), ``soak`` (1,000 mixed requests), ``frontend``
(the text front end: LLM replies heard through whisper against their spoken forms), ``optimize``
(the daemon optimizing itself: the issue-12 targets) and ``pareto`` (quantization worth
choosing: speed, WER and size of every candidate), ``websocket`` and ``word-timings``
(live speech: text streamed in, word timings vs whisper), ``bad-messages`` (generated and
hand-made bad messages on the WebSocket and Wyoming), ``live-bounds`` (Wyoming's loop under
the longest synthesis, stop after a drop, the clause splitter's cost), ``captions`` (caption
cues vs whisper's word times), ``kokoro-variants``, ``kokoro-stream`` and ``kokoro-targets``
(Kokoro's variants, streaming and targets against kokoro-onnx's ``create()``), ``background``
(piper-tts in another session while the daemon optimizes itself, against alone), ``bounds``
(every request within the limits, peak RSS over rest per engine: original, split, quantized
winner).
"""

from __future__ import annotations

import argparse
import json
import sys

from . import (  # noqa: F401  (each registers its suites)
    background,
    badmessages,
    bounds,
    captions,
    daemon,
    frontend,
    kokoro,
    livebounds,
    livespeech,
    memory,
    optimize,
    rtf,
    session,
    soak,
    split,
    variants,
)
from .registry import SUITES, markdown


def run(args: argparse.Namespace) -> list[dict]:
    """Run the suites of ``args`` in order; print each as Markdown; return the results."""
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        raise ValueError(f"unknown suite {unknown[0]!r} (have: {', '.join(SUITES)})")
    results = []
    for name in args.suites:
        result = SUITES[name](args)
        results.append(result)
        plan = ""
        if "workers" in result:
            plan = (
                f"workers: {result['workers']}, intra-op threads: {result['intra_op_threads']}\n\n"
            )
        sys.stdout.write(f"\n## {name}\n\n{plan}{markdown(result)}\n\n")
        if result.get("sweep"):
            sys.stdout.write(f"### {name}: sweep\n\n{markdown({'rows': result['sweep'][1:]})}\n\n")
            sys.stdout.write(f"{result['sweep'][0]}\n\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results
