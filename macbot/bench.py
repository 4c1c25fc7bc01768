"""Benchmarks, measured side by side in one run so that ratios are fair on a busy machine.

Each suite is a function ``(args) -> dict`` registered in :data:`SUITES`; ``macbot bench`` and
``scripts/benchmark_tts.py`` run them and print a Markdown table plus JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import soundfile as sf

SENTENCES = [
    "Good morning, the weather today is sunny with a light breeze from the west.",
    "Your next meeting starts in fifteen minutes in the small conference room.",
    "I have set a timer for ten minutes.",
    "The package you ordered last Tuesday will arrive tomorrow before noon.",
    "Turning off the lights in the living room and the kitchen now.",
    "There are three new messages from your team about the quarterly report.",
    "Playing your favourite playlist at a comfortable volume.",
    "The traffic on your usual route to work is heavier than normal, so leave early.",
]
"""Typical assistant replies, used by every suite."""

Suite = Callable[[argparse.Namespace], dict]
SUITES: dict[str, Suite] = {}


def suite(name: str) -> Callable[[Suite], Suite]:
    def register(fn: Suite) -> Suite:
        SUITES[name] = fn
        return fn

    return register


def _timed(fn: Callable[[], float]) -> tuple[float, float]:
    """(wall seconds, audio seconds returned by ``fn``)."""
    started = time.perf_counter()
    audio = fn()
    return time.perf_counter() - started, audio


@suite("rtf")
def rtf_suite(args: argparse.Namespace) -> dict:
    """Real-time factor of piper-tts in-process, the macbot engine, `/speak` and `macbot say`.

    Every round times each contender on the same sentence, in turn, with noise scales 0 (the
    same audio from all). RTF = synthesis seconds / audio seconds (lower is faster).
    """
    import requests
    from piper import PiperVoice, SynthesisConfig

    from .app import create_app
    from .config import config_from_dict
    from .playback import Player, SoundDeviceOutput
    from .server import Server
    from .synthesizer import Synthesizer
    from .voices import bundled_voice

    det = {"noise_scale": 0.0, "noise_w_scale": 0.0, "sentence_silence": 0.0}
    config = config_from_dict(
        {
            "models": {"tts": {"piper": det}},
            "voice_assistant": {"performance": {"tts_cache_enabled": False}},
        }
    )
    voice = PiperVoice.load(bundled_voice().model_path)
    piper_cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    synth = Synthesizer(config)
    synth.warmup()
    engine = synth.engine()
    options = synth.default_options()
    app = create_app(config, synthesizer=Synthesizer(config), player=Player(SoundDeviceOutput()))
    app.extensions["macbot"]["synthesizer"].warmup()
    server = Server(app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    http = requests.Session()
    sample_rate = engine.sample_rate
    for _ in range(2):  # warm every path
        list(voice.synthesize(SENTENCES[0], piper_cfg))
        http.post(server.url + "/speak", json={"text": SENTENCES[0], "play": False})

    def piper_run(text: str) -> float:
        return (
            sum(len(c.audio_float_array) for c in voice.synthesize(text, piper_cfg)) / sample_rate
        )

    def engine_run(text: str) -> float:
        return sum(c.duration for c in engine.synthesize(text, options))

    def http_run(text: str) -> float:
        resp = http.post(server.url + "/speak", json={"text": text, "play": False}, timeout=60)
        resp.raise_for_status()
        return float(resp.headers["X-Audio-Duration"])

    tmp = Path(tempfile.mkdtemp())

    def cli_run(text: str) -> float:
        out = tmp / "say.wav"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "macbot",
                "say",
                text,
                "-o",
                str(out),
                "--noise-scale",
                "0",
                "--noise-w-scale",
                "0",
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "MACBOT_CONFIG": ""},
        )
        return sf.info(str(out)).duration

    contenders = {
        "piper-tts PiperVoice.synthesize (in-process)": piper_run,
        "macbot engine (in-process)": engine_run,
        "POST /speak (HTTP, cache off)": http_run,
    }
    results: dict[str, dict[str, list[float]]] = {n: {"wall": [], "audio": []} for n in contenders}
    results["macbot say (new process, incl. load)"] = {"wall": [], "audio": []}
    for _ in range(args.rounds):
        for text in SENTENCES:
            for name, fn in contenders.items():
                wall, audio = _timed(lambda fn=fn, text=text: fn(text))
                results[name]["wall"].append(wall)
                results[name]["audio"].append(audio)
    for text in SENTENCES[: args.cli_runs]:
        wall, audio = _timed(lambda text=text: cli_run(text))
        results["macbot say (new process, incl. load)"]["wall"].append(wall)
        results["macbot say (new process, incl. load)"]["audio"].append(audio)
    server.request_stop()
    thread.join(timeout=10)
    base = sum(results["piper-tts PiperVoice.synthesize (in-process)"]["wall"]) / sum(
        results["piper-tts PiperVoice.synthesize (in-process)"]["audio"]
    )
    rows = []
    for name, r in results.items():
        rtf = sum(r["wall"]) / sum(r["audio"])
        rows.append(
            {
                "contender": name,
                "runs": len(r["wall"]),
                "rtf": round(rtf, 4),
                "median_s": round(statistics.median(r["wall"]), 4),
                "vs_piper": round(rtf / base, 3),
            }
        )
    return {"suite": "rtf", "sentences": len(SENTENCES), "rounds": args.rounds, "rows": rows}


@suite("variants")
def variants_suite(args: argparse.Namespace) -> dict:
    """Every optimized variant of the bundled voice (manifests in ``optimized_models/``, or
    ``--variants``) against the original and piper-tts's runtime, at 1 and 2 threads: RTF,
    time to first audio, RSS, load time. See :mod:`macbot.toolkit.benchmark`."""
    from .toolkit.benchmark import discover, run_variants
    from .voices import bundled_voice

    if getattr(args, "variants", None):
        variants = {Path(p).name.removesuffix(".onnx"): Path(p) for p in args.variants}
    else:
        variants = discover(Path("optimized_models"), bundled_voice().model_path)
    return run_variants(
        variants,
        rounds=args.rounds,
        out_dir=getattr(args, "out", None) or Path("bench_results/variants"),
    )


def markdown(result: dict) -> str:
    rows = result["rows"]
    if not rows:
        return ""
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(description="Benchmark MacBot TTS.")
    parser.add_argument("suites", nargs="*", default=["rtf"], help=f"suites: {', '.join(SUITES)}")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the sentences")
    parser.add_argument("--cli-runs", type=int, default=4, help="`macbot say` processes to time")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--variants", nargs="*", help="variants: models to compare (.onnx)")
    parser.add_argument("--out", type=Path, help="variants: output folder (JSON, Markdown, PNG)")
    return parser


def register(sub) -> None:
    """Add ``macbot bench`` (see :data:`macbot.cli.COMMAND_MODULES`)."""
    parser = sub.add_parser("bench", help="benchmark engines side by side")
    build_parser(parser)
    parser.set_defaults(handler=lambda args, _config: run(args))


def run(args: argparse.Namespace) -> int:
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        print(
            f"benchmark: error: unknown suite {unknown[0]!r} (have: {', '.join(SUITES)})",
            file=sys.stderr,
        )
        return 2
    results = []
    for name in args.suites:
        result = SUITES[name](args)
        results.append(result)
        print(f"\n## {name}\n\n{markdown(result)}\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0
