"""The ``rtf`` suite: real-time factor of piper-tts, the engine, ``/speak`` and ``macbot say``."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import soundfile as sf
from piper import PiperVoice, SynthesisConfig

from macbot.config import config_from_dict
from macbot.core.synthesizer import Synthesizer
from macbot.core.voices import bundled_voice

from .common import SENTENCES, timed
from .harness import DETERMINISTIC, start_daemon
from .options import BenchOptions


def rtf_suite(bench: BenchOptions) -> dict:
    """Real-time factor of piper-tts in-process, the macbot engine, `/speak` and `macbot say`.

    Every round times each contender on the same sentence, in turn, with noise scales 0 (the
    same audio from all). RTF = synthesis seconds / audio seconds (lower is faster).
    """
    report = bench.reporter
    report.step("loading piper-tts, the engine and the daemon")
    voice = PiperVoice.load(bundled_voice().model_path)
    piper_cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    config = config_from_dict(
        {
            "models": {"tts": {"piper": DETERMINISTIC}},
            "voice_assistant": {"performance": {"tts_cache_enabled": False}},
        }
    )
    synth = Synthesizer(config)
    synth.warmup()
    engine = synth.engine()
    options = synth.default_options()
    daemon = start_daemon({"tts_cache_enabled": False}, threads=4)
    sample_rate = engine.sample_rate
    for _ in range(2):  # warm every path
        list(voice.synthesize(SENTENCES[0], piper_cfg))
        daemon.post_speak(SENTENCES[0])

    def piper_run(text: str) -> float:
        return (
            sum(len(c.audio_float_array) for c in voice.synthesize(text, piper_cfg)) / sample_rate
        )

    def engine_run(text: str) -> float:
        return sum(c.duration for c in engine.synthesize(text, options))

    tmp = Path(tempfile.mkdtemp())
    defaults = tmp / "defaults.yaml"
    defaults.write_text("{}\n", encoding="utf-8")  # built-in defaults, whatever the user has

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
                "--config",
                str(defaults),
            ],
            check=True,
            capture_output=True,
        )
        return sf.info(str(out)).duration

    contenders = {
        "piper-tts PiperVoice.synthesize (in-process)": piper_run,
        "macbot engine (in-process)": engine_run,
        "POST /speak (HTTP, cache off)": daemon.post_speak,
    }
    results: dict[str, dict[str, list[float]]] = {n: {"wall": [], "audio": []} for n in contenders}
    results["macbot say (new process, incl. load)"] = {"wall": [], "audio": []}
    report.step("interleaved rounds", bench.rounds * len(SENTENCES) + bench.cli_runs)
    for _ in range(bench.rounds):
        for text in SENTENCES:
            for name, fn in contenders.items():
                wall, audio = timed(lambda fn=fn, text=text: fn(text))
                results[name]["wall"].append(wall)
                results[name]["audio"].append(audio)
            report.advance()
    for text in SENTENCES[: bench.cli_runs]:
        wall, audio = timed(lambda text=text: cli_run(text))
        results["macbot say (new process, incl. load)"]["wall"].append(wall)
        results["macbot say (new process, incl. load)"]["audio"].append(audio)
        report.advance()
    daemon.stop()
    synth.close()
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
    return {"suite": "rtf", "sentences": len(SENTENCES), "rounds": bench.rounds, "rows": rows}
