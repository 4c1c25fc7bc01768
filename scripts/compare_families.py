"""Kokoro-82M beside Piper on this machine (issue 20): WER on the first 12 Harvard sentences
(whisper tiny.en through faster-whisper, jiwer), time per sentence, and first audio of a
typical sentence (macbot.core.budget.measure), all in one run so the ratios are side by side.

    flock /tmp/macbot-bench.lock .venv/bin/python scripts/compare_families.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from macbot.config import KokoroSettings
from macbot.core import budget
from macbot.core.engines import SynthesisOptions, registry
from macbot.core.sessions import SessionPlan
from macbot.core.voices import bundled_voice, kokoro_voice
from macbot.tools.toolkit.transcriber import Transcriber, word_error_rate

HARVARD = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    plan = SessionPlan(intra_op_threads=args.threads)
    engines = {"piper joe": registry.load(bundled_voice(), plan=plan)}
    kokoro = registry.load(kokoro_voice("jm_kumo", KokoroSettings()), plan=plan)
    engines["kokoro jm_kumo"] = kokoro
    engines["kokoro jf_alpha"] = kokoro.with_voice(kokoro_voice("jf_alpha", KokoroSettings()))
    transcriber = Transcriber(threads=args.threads)
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    rows = {}
    for name, engine in engines.items():
        engine.warmup()
        seconds, audio_seconds, heard = [], [], []
        for text in HARVARD:
            started = time.perf_counter()
            chunks = list(engine.synthesize(text, options))
            seconds.append(time.perf_counter() - started)
            samples = sum(len(c.samples) for c in chunks)
            audio_seconds.append(samples / engine.sample_rate)
            joined = np.concatenate([c.samples for c in chunks])
            heard.append(transcriber.transcribe(joined, engine.sample_rate))
        figures = budget.measure(engine)
        rows[name] = {
            "wer": round(word_error_rate(HARVARD, heard), 4),
            "median_seconds_per_sentence": round(statistics.median(seconds), 4),
            "total_seconds": round(sum(seconds), 3),
            "rtf": round(sum(seconds) / sum(audio_seconds), 4),
            "first_audio_ms": figures.first_audio_ms,
            "typical_rtf": figures.rtf,
        }
        print(name, json.dumps(rows[name]), flush=True)
    base = rows["piper joe"]["total_seconds"]
    for row in rows.values():
        row["time_vs_piper"] = round(row["total_seconds"] / base, 2)
    result = {"loadavg": os.getloadavg(), "threads": args.threads, "rows": rows}
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2)


if __name__ == "__main__":
    main()
