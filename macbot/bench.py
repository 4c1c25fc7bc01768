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

from .toolkit.phrases import VERIFY_SENTENCES

SENTENCES = VERIFY_SENTENCES[:8]
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


PARAGRAPHS = [
    "Your next meeting starts in fifteen minutes in the small conference room on the third "
    "floor, and the agenda has been shared with everyone who was invited. Bring the slides.",
    "Good morning, the weather today is sunny with a light breeze from the west and a high of "
    "twenty two degrees in the afternoon, so it is a good day for a walk. Enjoy it.",
    "The package you ordered last Tuesday from the online store has left the warehouse and will "
    "arrive at your front door tomorrow before noon. I will remind you in the morning.",
    "There are three new messages from your team about the quarterly report, and two of them "
    "ask whether the numbers for the last month are final yet. Shall I read them?",
]
"""Paragraphs whose first sentence has 20 or more words (the ``split`` suite)."""


def _split_for_bench(voice, optimized_dir: Path, static_frames: int) -> Path:
    """A valid split of ``voice``: the one in ``optimized_dir``, else a fresh one in a temp dir
    (with the static decoders the sweep needs)."""
    from .split import find_split, split_dir_for, split_voice

    found = find_split(voice, optimized_dir)
    if found is not None:
        return found
    tmp = Path(tempfile.mkdtemp(prefix="macbot-split-"))
    split_voice(voice, tmp, static_frames=(static_frames,))
    return split_dir_for(voice, tmp)


@suite("split")
def split_suite(args: argparse.Namespace) -> dict:
    """Streaming inside a sentence: the chunked split engine vs piper-tts and the unsplit engine.

    Every round times, on each paragraph in turn: piper-tts's ``PiperVoice.synthesize``
    (time to its first chunk = the first sentence, and to the end), the unsplit macbot engine
    (whole paragraph), the chunked engine (time to its first chunk, and to the end) and the
    chunked engine with the fixed-shape decoder on the CPU (the CoreML candidate's form).
    Noise scales 0. ``exact`` checks the chunked engine's raw audio against the full model's.
    Then a sweep of chunk × context sizes: max difference of the joined chunks, time to first
    audio and to the end, as ratios to decoding each sentence whole.
    """
    import numpy as np
    from piper import PiperVoice, SynthesisConfig

    from .chunked import ChunkedEngine
    from .config import load_config
    from .engine import PiperEngine, SynthesisOptions
    from .voices import bundled_voice

    voice = bundled_voice()
    config = load_config(None)
    folder = _split_for_bench(
        voice, config.tts.optimized_dir, args.static_chunk_frames + 2 * args.context_frames
    )
    chunk = args.chunk_frames
    context = args.context_frames
    growth = args.growth
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.0)
    piper_voice = PiperVoice.load(voice.model_path)
    piper_cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    unsplit = PiperEngine.load(voice)
    chunked = ChunkedEngine.load_split(voice, folder, chunk, context, growth)
    static = None
    static_chunk = args.static_chunk_frames
    if (folder / f"decoder.static{static_chunk + 2 * context}.onnx").is_file():
        static = ChunkedEngine.load_split(voice, folder, static_chunk, context, static=True)

    def first_and_total(stream) -> tuple[float, float]:
        started = time.perf_counter()
        first = None
        for _ in stream:
            if first is None:
                first = time.perf_counter() - started
        return float(first), time.perf_counter() - started

    def engine_stream(engine, text):
        for sentence in engine.sentences(text):
            yield from engine.stream_sentence(sentence, options)

    contenders = {
        "piper-tts PiperVoice.synthesize": lambda t: first_and_total(
            piper_voice.synthesize(t, piper_cfg)
        ),
        "macbot unsplit engine": lambda t: first_and_total(unsplit.synthesize(t, options)),
        f"macbot chunked {chunk}+2x{context} x{growth:g} (dynamic decoder)": lambda t: (
            first_and_total(engine_stream(chunked, t))
        ),
    }
    if static is not None:
        contenders[f"macbot chunked {static_chunk}+2x{context} (static decoder, CPU)"] = lambda t: (
            first_and_total(engine_stream(static, t))
        )
    for fn in contenders.values():  # warm every path
        fn(PARAGRAPHS[0])
    times = {n: {"first": [], "total": []} for n in contenders}
    for _ in range(args.rounds):
        for text in PARAGRAPHS:
            for name, fn in contenders.items():
                first, total = fn(text)
                times[name]["first"].append(first)
                times[name]["total"].append(total)

    # Exactness: raw chunked audio vs the full model, and streamed vs piper-tts's (normalized)
    # first sentence up to the normalization gain.
    worst_raw = worst_static = worst_piper = 0.0
    for text in PARAGRAPHS:
        for sentence in unsplit.sentences(text):
            reference = unsplit.infer(sentence.phoneme_ids, options)
            joined = chunked.infer(sentence.phoneme_ids, options)
            worst_raw = max(worst_raw, float(np.max(np.abs(joined - reference))))
            if static is not None:
                joined_static = static.infer(sentence.phoneme_ids, options)
                worst_static = max(worst_static, float(np.max(np.abs(joined_static - reference))))
        first_piper = next(iter(piper_voice.synthesize(text, piper_cfg))).audio_float_array
        streamed = np.concatenate(
            [c.samples for c in chunked.stream_sentence(chunked.sentences(text)[0], options)]
        )
        rescaled = streamed / np.max(np.abs(streamed))  # what Piper's peak normalization does
        worst_piper = max(worst_piper, float(np.max(np.abs(rescaled - first_piper))))

    base_first = statistics.median(times["piper-tts PiperVoice.synthesize"]["first"])
    base_total = statistics.median(times["macbot unsplit engine"]["total"])
    rows = []
    for name, t in times.items():
        first = statistics.median(t["first"])
        total = statistics.median(t["total"])
        exact = "reference"
        if "chunked" in name:
            diff = worst_static if "static" in name else worst_raw
            exact = f"raw max diff {diff:.2g}"
        elif name.startswith("piper"):
            exact = f"1st sentence vs chunked, peak-normalized: {worst_piper:.2g}"
        rows.append(
            {
                "contender": name,
                "runs": len(t["first"]),
                "first_audio_s": round(first, 4),
                "ttfa_vs_piper": round(first / base_first, 3),
                "paragraph_s": round(total, 4),
                "paragraph_vs_unsplit": round(total / base_total, 3),
                "audio": exact,
            }
        )
    sweep = _chunk_sweep(voice, folder, options, args)
    return {
        "suite": "split",
        "paragraphs": len(PARAGRAPHS),
        "rounds": args.rounds,
        "split": str(folder),
        "rows": rows,
        "sweep": sweep,
    }


SWEEP_CONTEXTS = (4, 8, 12, 16, 24)
SWEEP_CHUNKS = (16, 32, 64)
SWEEP_GROWTHS = (1.0, 2.0, 4.0, 0.0)


def _chunk_sweep(voice, folder: Path, options, args: argparse.Namespace) -> list[dict]:
    """On each paragraph's first sentence: for each context (chunk 64, growth 1) the max
    difference of the joined chunks from decoding whole; for each first chunk × growth (at
    ``--context-frames``) the time to first audio (encoder + first chunk), the decode time
    relative to decoding whole, and the worst stall: how late a chunk is after the audio
    before it has played (0: playback never waits)."""
    import numpy as np

    from .chunked import ChunkedEngine

    engine = ChunkedEngine.load_split(voice, folder, 64, 16)
    sentences = [engine.sentences(text)[0] for text in PARAGRAPHS]
    latents = [engine.latent(s.phoneme_ids, options) for s in sentences]
    whole_audio = [engine._run(engine.decoder, z) for z in latents]
    encoder_s = []
    for _ in range(args.sweep_rounds):
        for sentence in sentences:
            started = time.perf_counter()
            engine.latent(sentence.phoneme_ids, options)
            encoder_s.append(time.perf_counter() - started)
    encoder = statistics.median(encoder_s)
    rate = engine.sample_rate

    def measure(chunk: int, context: int, growth: float) -> dict:
        """Chunked and whole decoding of each latent in turn (ratios side by side)."""
        diff, stall = 0.0, 0.0
        firsts, chunked_s, whole_s = [], [], []
        for _ in range(args.sweep_rounds):
            for z, reference in zip(latents, whole_audio, strict=True):
                engine.chunk_frames, engine.context_frames, engine.growth = chunk, context, growth
                started = time.perf_counter()
                engine._run(engine.decoder, z)
                whole_s.append(time.perf_counter() - started)
                parts = []
                started = time.perf_counter()
                first = played = 0.0
                for part in engine.decode(z):
                    ready = time.perf_counter() - started
                    if not parts:
                        first = ready
                    else:  # audio of the parts so far has been playing since `first`
                        stall = max(stall, ready - (first + played))
                    played += part.size / rate
                    parts.append(part)
                firsts.append(first)
                chunked_s.append(time.perf_counter() - started)
                diff = max(diff, float(np.max(np.abs(np.concatenate(parts) - reference))))
        return {
            "chunk": chunk,
            "context": context,
            "growth": growth,
            "max_diff": float(f"{diff:.3g}"),
            "first_chunk_s": round(statistics.median(firsts), 4),
            "ttfa_s": round(encoder + statistics.median(firsts), 4),
            "decode_vs_whole": round(sum(chunked_s) / sum(whole_s), 3),
            "worst_stall_s": round(stall, 3),
        }

    rows = [measure(64, ctx, 1.0) for ctx in SWEEP_CONTEXTS]
    rows += [
        measure(chunk, args.context_frames, growth)
        for chunk in SWEEP_CHUNKS
        for growth in SWEEP_GROWTHS
    ]
    return [{"encoder_s": round(encoder, 4)}, *rows]


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
    parser.add_argument(
        "--rss-requests", type=int, default=200, help="varied requests for the RSS check (daemon)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--chunk-frames", type=int, default=32, help="split: chunk size")
    parser.add_argument("--context-frames", type=int, default=12, help="split: context size")
    parser.add_argument(
        "--static-chunk-frames", type=int, default=64, help="split: static decoder's chunk"
    )
    parser.add_argument("--growth", type=float, default=4.0, help="split: chunk growth")
    parser.add_argument("--sweep-rounds", type=int, default=1, help="split: sweep rounds")
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
        plan = ""
        if "workers" in result:
            plan = (
                f"workers: {result['workers']}, intra-op threads: {result['intra_op_threads']}\n\n"
            )
        print(f"\n## {name}\n\n{plan}{markdown(result)}\n")
        if result.get("sweep"):
            print(f"### {name}: sweep\n\n{markdown({'rows': result['sweep'][1:]})}\n")
            print(f"{result['sweep'][0]}\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


# -- the daemon suite ----------------------------------------------------------------------------

MORE_SENTENCES = [
    "Your sister called twice this afternoon and asked you to call her back.",
    "The oven has reached two hundred degrees and is ready for the bread.",
]
"""With :data:`SENTENCES`, the ten sentences of the multi-sentence request."""

_DET = {"noise_scale": 0.0, "noise_w_scale": 0.0, "sentence_silence": 0.0}


def _daemon(performance: dict, threads: int = 8):
    """A real daemon (app + waitress) in this process; returns (url, server, thread, synth)."""
    from .app import create_app
    from .config import config_from_dict
    from .playback import Player, SoundDeviceOutput
    from .server import Server
    from .synthesizer import Synthesizer

    config = config_from_dict(
        {
            "models": {"tts": {"piper": _DET}},
            "voice_assistant": {"performance": {"tts_cache_persist": False, **performance}},
        }
    )
    synth = Synthesizer(config)
    synth.warmup()
    app = create_app(config, synthesizer=synth, player=Player(SoundDeviceOutput()))
    server = Server(app, "127.0.0.1", 0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server.url, server, thread, synth


def _varied_texts(count: int, seed: int = 7) -> list[str]:
    """``count`` texts of 1 to 4 sentences of 2 to 40 words (shapes the model has not seen)."""
    import random

    rng = random.Random(seed)
    words = " ".join(SENTENCES + MORE_SENTENCES).replace(",", "").replace(".", "").split()
    texts = []
    for _ in range(count):
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(2, 40))).capitalize() + "."
            for _ in range(rng.randint(1, 4))
        ]
        texts.append(" ".join(sentences))
    return texts


def rss_probe(arena: bool, requests_count: int) -> dict:
    """RSS of a fresh daemon before and after ``requests_count`` varied requests (cache off),
    with onnxruntime's CPU memory arena on or off (the memory pattern is always off).

    Runs in its own process (``macbot.bench._rss_main``) so that nothing else shares the heap.
    """
    import requests

    from .stats import rss_mb

    url, server, thread, _synth = _daemon({"tts_cache_enabled": False, "tts_memory_arena": arena})
    http = requests.Session()
    for text in _varied_texts(10, seed=1):  # warm every code path first
        http.post(url + "/speak", json={"text": text, "play": False}, timeout=120)
    before = rss_mb()
    errors = 0
    for text in _varied_texts(requests_count):
        resp = http.post(url + "/speak", json={"text": text, "play": False}, timeout=120)
        errors += resp.status_code != 200
    after = rss_mb()
    server.request_stop()
    thread.join(timeout=10)
    return {"before_mb": round(before, 1), "after_mb": round(after, 1), "errors": errors}


def _rss_main() -> None:  # pragma: no cover - run as a child process by the daemon suite
    arena, count = sys.argv[1] == "1", int(sys.argv[2])
    print(json.dumps(rss_probe(arena, count)))


def _p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@suite("daemon")
def daemon_suite(args: argparse.Namespace) -> dict:
    """The daemon against piper-tts in-process, side by side in one run (targets in brackets).

    Every contender runs with noise scales 0 and no sentence silence, so all make the same audio.
    """
    import logging

    import requests
    from piper import PiperVoice, SynthesisConfig

    from .voices import bundled_voice

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # 8 clients queue by design
    voice = PiperVoice.load(bundled_voice().model_path)
    piper_cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    nocache_url, s1, t1, par = _daemon({"tts_cache_enabled": False})
    seq_url, s2, t2, _ = _daemon({"tts_cache_enabled": False, "tts_parallel_processing": False})
    # The other plan: two workers of one intra-op thread each (the default on 2-core machines
    # is one worker of two threads; see macbot.workers.THREADS_PER_WORKER).
    two_url, s4, t4, _ = _daemon({"tts_cache_enabled": False, "tts_workers": 2})
    cache_url, s3, t3, _ = _daemon({"tts_cache_enabled": True, "tts_cache_size": 1000})
    http = requests.Session()

    def piper_run(text: str) -> None:
        for _ in voice.synthesize(text, piper_cfg):
            pass

    def post(url: str, text: str, **extra) -> requests.Response:
        resp = http.post(url + "/speak", json={"text": text, "play": False, **extra}, timeout=120)
        resp.raise_for_status()
        return resp

    def timed(fn) -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    for text in SENTENCES[:2]:  # warm every path
        piper_run(text)
        post(nocache_url, text)
        post(seq_url, text)
        post(two_url, text)

    rows: list[dict] = []

    def row(measure: str, macbot: float, piper: float | None, unit: str, target: str) -> None:
        ratio = round(macbot / piper, 3) if piper else None
        rows.append(
            {
                "measure": measure,
                "macbot": round(macbot, 4),
                "baseline": round(piper, 4) if piper is not None else "",
                "unit": unit,
                "ratio": ratio if ratio is not None else "",
                "target": target,
            }
        )

    # 1. per-sentence HTTP throughput vs piper in-process (interleaved, cache off)
    piper_s, http_s, seq_s, two_s = [], [], [], []
    for _ in range(args.rounds):
        for text in SENTENCES:
            piper_s.append(timed(lambda text=text: piper_run(text)))
            http_s.append(timed(lambda text=text: post(nocache_url, text)))
            seq_s.append(timed(lambda text=text: post(seq_url, text)))
            two_s.append(timed(lambda text=text: post(two_url, text)))
    row(
        "1 sentence: POST /speak, parallel plan",
        sum(http_s),
        sum(piper_s),
        "s total",
        "ratio <= 1.05",
    )
    row("1 sentence: POST /speak, 2 workers x 1 thread", sum(two_s), sum(piper_s), "s total", "")
    row(
        "1 sentence: POST /speak, parallel off",
        sum(seq_s),
        sum(piper_s),
        "s total",
        "(for the record)",
    )

    # 2. a 10-sentence request vs piper on the same text
    paragraph = " ".join(SENTENCES + MORE_SENTENCES)
    p10, h10, q10, w10, ttfa, total_stream = [], [], [], [], [], []
    for _ in range(args.rounds):
        p10.append(timed(lambda: piper_run(paragraph)))
        h10.append(timed(lambda: post(nocache_url, paragraph)))
        q10.append(timed(lambda: post(seq_url, paragraph)))
        w10.append(timed(lambda: post(two_url, paragraph)))
        started = time.perf_counter()
        with http.post(
            nocache_url + "/speak",
            json={"text": paragraph, "stream": True, "format": "pcm"},
            stream=True,
            timeout=120,
        ) as resp:
            first = None
            for piece in resp.iter_content(chunk_size=None):
                if piece and first is None:
                    first = time.perf_counter() - started
            total_stream.append(time.perf_counter() - started)
        ttfa.append(first or float("nan"))
    row("10 sentences: POST /speak, parallel plan", _p50(h10), _p50(p10), "s p50", "ratio <= 0.75")
    row("10 sentences: POST /speak, 2 workers x 1 thread", _p50(w10), _p50(p10), "s p50", "")
    row(
        "10 sentences: POST /speak, parallel off", _p50(q10), _p50(p10), "s p50", "(for the record)"
    )
    row(
        "10 sentences streamed: time to first audio",
        _p50(ttfa),
        _p50(p10),
        "s p50",
        "(vs piper's whole paragraph)",
    )
    row("10 sentences streamed: last byte", _p50(total_stream), _p50(p10), "s p50", "")

    # 3. cache hit vs miss
    miss, hit = [], []
    for n, text in enumerate((SENTENCES + MORE_SENTENCES) * args.rounds):
        text = f"{text} Number {n}."
        miss.append(timed(lambda text=text: post(cache_url, text)))
        hit.append(timed(lambda text=text: post(cache_url, text)))
    row("cache hit vs miss (POST /speak)", _p50(hit), _p50(miss), "s p50", "ratio <= 0.02")

    # 4. 8 clients x 25 requests vs one client (cache off: every request synthesizes)
    texts = (SENTENCES + MORE_SENTENCES) * 3
    one = timed(lambda: [post(nocache_url, texts[i % len(texts)]) for i in range(25)])
    errors: list[str] = []

    def client(offset: int) -> None:
        session = requests.Session()
        for i in range(25):
            try:
                resp = session.post(
                    nocache_url + "/speak",
                    json={"text": texts[(offset + i) % len(texts)], "play": False},
                    timeout=300,
                )
                if resp.status_code != 200:
                    errors.append(str(resp.status_code))
            except requests.RequestException as exc:  # counted as an error of the run
                errors.append(type(exc).__name__)

    clients = [threading.Thread(target=client, args=(c * 3,)) for c in range(8)]
    started = time.perf_counter()
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    eight = time.perf_counter() - started
    row("8 clients x 25: throughput", 200 / eight, 25 / one, "req/s", "ratio >= 1.3")
    row("8 clients x 25: errors", float(len(errors)), None, "count", "0")

    for server, thread in ((s1, t1), (s2, t2), (s3, t3), (s4, t4)):
        server.request_stop()
        thread.join(timeout=10)

    # 5. RSS before/after varied requests, memory arena off (the default) and on
    for arena in (False, True):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from macbot.bench import _rss_main; _rss_main()",
                "1" if arena else "0",
                str(args.rss_requests),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        probe = json.loads(out.stdout.strip().splitlines()[-1])
        row(
            f"RSS after {args.rss_requests} varied requests, arena {'on' if arena else 'off'}"
            f" ({probe['errors']} errors)",
            probe["after_mb"],
            probe["before_mb"],
            "MB (before)",
            "ratio <= 1.25",
        )
    return {
        "suite": "daemon",
        "workers": par.workers,
        "intra_op_threads": par.intra_op_threads,
        "rounds": args.rounds,
        "rows": rows,
    }


from . import session_bench  # noqa: E402, F401  (registers the "load" and "rss" suites)
