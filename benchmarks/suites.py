"""The suites, registered here and nowhere else: :data:`SUITES` names each one, says what it
measures and where its function lives; :func:`run` runs some in order.

A suite is a function ``(BenchOptions) -> dict`` with the result's ``rows`` (printed as a
Markdown table) and whatever else it measured. Its module is imported only when the suite runs
(``macbot bench --help`` reads this table without loading onnx, whisper or a voice).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .common import markdown
from .options import BenchOptions

Suite = Callable[[BenchOptions], dict]


@dataclass(frozen=True)
class SuiteEntry:
    module: str
    """The module of ``benchmarks`` that holds the suite's function."""
    function: str
    about: str
    """What it measures, in a few words."""

    def load(self) -> Suite:
        suite: Suite = getattr(importlib.import_module(f"benchmarks.{self.module}"), self.function)
        return suite


SUITES: dict[str, SuiteEntry] = {
    "rtf": SuiteEntry("rtf", "rtf_suite", "piper-tts, the engine, /speak and `macbot say`"),
    "daemon": SuiteEntry("daemon", "daemon_suite", "the daemon over HTTP against piper-tts"),
    "split": SuiteEntry("split", "split_suite", "streaming inside a sentence"),
    "load": SuiteEntry("session", "load_suite", "voice load time by session setting"),
    "rss": SuiteEntry("session", "rss_suite", "RSS by memory setting"),
    "memspeed": SuiteEntry("session", "memspeed_suite", "speed by memory setting"),
    "variants": SuiteEntry("variants", "variants_suite", "quantized models"),
    "runs": SuiteEntry("memory", "runs_suite", "one model run's memory and time by length"),
    "memory": SuiteEntry("memory", "memory_suite", "a served daemon's RSS over a day in small"),
    "soak": SuiteEntry("soak", "soak_suite", "1,000 mixed requests"),
    "frontend": SuiteEntry("frontend", "frontend_suite", "LLM replies heard through whisper"),
    "optimize": SuiteEntry("optimize", "optimize_suite", "the daemon optimizing itself"),
    "pareto": SuiteEntry("optimize", "pareto_suite", "quantization worth choosing"),
    "websocket": SuiteEntry("livespeech", "websocket_suite", "text streamed in, first audio"),
    "word-timings": SuiteEntry("livespeech", "word_timings_suite", "word timings vs whisper"),
    "bad-messages": SuiteEntry(
        "badmessages", "bad_messages_suite", "bad messages on the WebSocket and Wyoming"
    ),
    "live-bounds": SuiteEntry(
        "livebounds", "live_bounds_suite", "Wyoming's loop under load, the splitter's cost"
    ),
    "captions": SuiteEntry("captions", "captions_suite", "caption cues vs whisper's word times"),
    "kokoro-variants": SuiteEntry(
        "kokoro", "kokoro_variants_suite", "Kokoro's recipes against kokoro-onnx"
    ),
    "kokoro-stream": SuiteEntry("kokoro", "kokoro_stream_suite", "Kokoro streaming"),
    "kokoro-targets": SuiteEntry(
        "kokoro", "kokoro_targets_suite", "Kokoro's targets after self-optimization"
    ),
    "background": SuiteEntry(
        "background", "background_suite", "piper-tts in another session while optimizing"
    ),
    "bounds": SuiteEntry("bounds", "bounds_suite", "peak RSS of every request within limits"),
    "families-rss": SuiteEntry(
        "families", "families_rss_suite", "RSS with a Piper and a Kokoro voice, alternating"
    ),
}
"""Every suite, in the order ``macbot bench --help`` lists them."""

DEFAULT_SUITE = "rtf"


def run(names: Sequence[str], bench: BenchOptions) -> list[dict]:
    """Run the suites ``names`` in order; print each as Markdown on stdout; return the results
    (also written to :attr:`BenchOptions.json` when set). Unknown names: ``KeyError`` before
    anything runs."""
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        raise KeyError(unknown[0])
    results = []
    for name in names:
        result = SUITES[name].load()(bench)
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
    if bench.json:
        bench.json.write_text(json.dumps(results, indent=2))
    return results
