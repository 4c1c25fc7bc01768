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
    piper_s, http_s, seq_s = [], [], []
    for _ in range(args.rounds):
        for text in SENTENCES:
            piper_s.append(timed(lambda text=text: piper_run(text)))
            http_s.append(timed(lambda text=text: post(nocache_url, text)))
            seq_s.append(timed(lambda text=text: post(seq_url, text)))
    row(
        "1 sentence: POST /speak, parallel plan",
        sum(http_s),
        sum(piper_s),
        "s total",
        "ratio <= 1.05",
    )
    row(
        "1 sentence: POST /speak, parallel off",
        sum(seq_s),
        sum(piper_s),
        "s total",
        "(for the record)",
    )

    # 2. a 10-sentence request vs piper on the same text
    paragraph = " ".join(SENTENCES + MORE_SENTENCES)
    p10, h10, q10, ttfa, total_stream = [], [], [], [], []
    for _ in range(args.rounds):
        p10.append(timed(lambda: piper_run(paragraph)))
        h10.append(timed(lambda: post(nocache_url, paragraph)))
        q10.append(timed(lambda: post(seq_url, paragraph)))
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

    for server, thread in ((s1, t1), (s2, t2), (s3, t3)):
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
