"""The ``variants`` benchmark: every model variant side by side with the original and with
piper-tts's own runtime, per thread count.

For each thread count, all contenders are loaded (load time measured), warmed up, then timed
in turn on the same sentences (interleaved, so a busy machine slows all alike):

- **RTF** = synthesis seconds / audio seconds over all sentences and rounds (lower is faster);
  ``speedup`` = the original's RTF / this RTF, from the same run;
- **TTFA** = time to first audio of a two-sentence reply (first chunk yielded), median;
- **RSS** = resident memory of a fresh process that loaded the model and spoke one sentence
  (measured in a subprocess per contender so the models do not share a process).

Writes ``variants.json``, ``variants.md`` and PNG plots (matplotlib, extra ``toolkit``).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from piper import SynthesisConfig
from piper.voice import PiperVoice

from macbot.core.hashing import file_sha256
from macbot.core.manifests import Manifest
from macbot.core.sessions import SessionPlan, open_session
from macbot.core.voices import bundled_voice
from macbot.tools.toolkit.extras import require
from macbot.tools.toolkit.phrases import VERIFY_SENTENCES
from macbot.tools.toolkit.speed import DETERMINISTIC, load_engine

from .common import Reporter, Silent, markdown
from .options import BenchOptions

_LOGGER = logging.getLogger(__name__)

ORIGINAL = "original (macbot engine)"
PIPER = "piper-tts runtime (original model)"

_RSS_SCRIPT = """
import json, sys, psutil
from pathlib import Path
from macbot.tools.toolkit.speed import DETERMINISTIC, load_engine
from macbot.core.voices import bundled_voice, voice_from_path
voice = voice_from_path(Path(sys.argv[2])) if sys.argv[2] != '-' else bundled_voice()
base = psutil.Process().memory_info().rss
engine = load_engine(voice, Path(sys.argv[1]), int(sys.argv[3]))
list(engine.synthesize(sys.argv[4], DETERMINISTIC))
print(json.dumps({"rss_mb": psutil.Process().memory_info().rss / 1e6,
                  "model_rss_mb": (psutil.Process().memory_info().rss - base) / 1e6}))
"""


def discover(folder: Path, source: Path) -> dict[str, Path]:
    """Variants in ``folder`` whose manifest names ``source`` (by path or hash), by file name."""
    found: dict[str, Path] = {}
    digest = None
    for model in sorted(Path(folder).glob("*.onnx")):
        try:
            manifest = Manifest.load(model)
        except (FileNotFoundError, ValueError, TypeError):
            continue
        if manifest.source != str(source):
            digest = digest or file_sha256(source)
            if manifest.source_sha256 != digest:
                continue
        found[model.name.removesuffix(".onnx")] = model
    return found


def _rss(model: Path, config: str, threads: int, text: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(model), config, str(threads), text],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_variants(
    variants: dict[str, Path],
    threads: tuple[int, ...] = (1, 2),
    rounds: int = 2,
    sentences: list[str] | None = None,
    out_dir: Path | None = None,
    rss: bool = True,
    report: Reporter | None = None,
) -> dict[str, Any]:
    """Benchmark the original, piper-tts and ``variants``; returns the suite's result dict."""
    report = report or Silent()
    voice = bundled_voice()
    sentences = sentences or VERIFY_SENTENCES[:8]
    reply = " ".join(sentences[:2])
    models = {ORIGINAL: voice.model_path, **variants}
    rows = []
    for count in threads:
        report.step(f"{count} thread(s): loading {len(models) + 1} contenders", rounds)
        contenders: dict[str, Callable[[str], Any]] = {}
        load: dict[str, float] = {}
        engines = {}
        for name, path in models.items():
            engines[name] = load_engine(voice, path, count)
            load[name] = engines[name].load_seconds
            contenders[name] = lambda text, e=engines[name]: e.synthesize(text, DETERMINISTIC)
        started = time.perf_counter()
        piper = PiperVoice(
            session=open_session(voice.model_path, SessionPlan(intra_op_threads=count)),
            config=engines[ORIGINAL].voice_config,
        )
        load[PIPER] = time.perf_counter() - started

        piper_cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
        contenders[PIPER] = lambda text, p=piper, c=piper_cfg: p.synthesize(text, c)
        rate = engines[ORIGINAL].sample_rate

        wall = dict.fromkeys(contenders, 0.0)
        audio = dict.fromkeys(contenders, 0.0)
        ttfa: dict[str, list[float]] = {n: [] for n in contenders}
        for fn in contenders.values():  # warm-up
            list(fn(sentences[0]))
        for _ in range(rounds):
            for text in sentences:
                for name, fn in contenders.items():
                    t0 = time.perf_counter()
                    n = sum(
                        len(c.samples) if hasattr(c, "samples") else len(c.audio_float_array)
                        for c in fn(text)
                    )
                    wall[name] += time.perf_counter() - t0
                    audio[name] += n / rate
            for name, fn in contenders.items():
                t0 = time.perf_counter()
                next(iter(fn(reply)))
                ttfa[name].append(time.perf_counter() - t0)
            report.advance()
        base = wall[ORIGINAL] / audio[ORIGINAL]
        for name in contenders:
            rtf = wall[name] / audio[name]
            path = models.get(name, voice.model_path)
            row = {
                "contender": name,
                "threads": count,
                "rtf": round(rtf, 4),
                "speedup": round(base / rtf, 3),
                "ttfa_ms": round(1000 * statistics.median(ttfa[name]), 1),
                "load_s": round(load[name], 3),
                "size_mb": round(Path(path).stat().st_size / 1e6, 1),
                "usable": _usable(name, path),
            }
            if rss:
                measured = _rss(path, "-", count, sentences[0])
                row["rss_mb"] = round(measured["rss_mb"], 1)
            rows.append(row)
        engines.clear()
        contenders.clear()
    result = {
        "suite": "variants",
        "sentences": len(sentences),
        "rounds": rounds,
        "note": "speedup = original RTF / contender RTF in the same run and thread count; "
        "rss_mb of piper-tts is the macbot engine's on the same model (same onnxruntime "
        "session)",
        "rows": rows,
    }
    if out_dir is not None:
        write_outputs(result, Path(out_dir))
    record_speed(result, variants)
    return result


def record_speed(result: dict[str, Any], variants: dict[str, Path]) -> None:
    """Write each variant's measured speed into its manifest (``speed`` section)."""
    for name, path in variants.items():
        try:
            manifest = Manifest.load(path)
        except (FileNotFoundError, ValueError, TypeError):
            continue
        by_threads = {
            str(r["threads"]): {
                k: r[k] for k in ("rtf", "speedup", "ttfa_ms", "load_s", "rss_mb") if k in r
            }
            for r in result["rows"]
            if r["contender"] == name
        }
        manifest.speed = {
            "host": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
            "measured_by": "macbot bench variants (side by side with the original)",
            "sentences": result["sentences"],
            "rounds": result["rounds"],
            "by_threads": by_threads,
            "speedup": min(v["speedup"] for v in by_threads.values()),
        }
        manifest.save(path)


def _usable(name: str, path: Path) -> str:
    if name in (ORIGINAL, PIPER):
        return "reference"
    try:
        verdict = Manifest.load(path).verdict
    except (FileNotFoundError, ValueError, TypeError):
        return "no manifest"
    return "yes" if verdict and verdict.usable else "no"


def write_outputs(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """``variants.json``, ``variants.md`` and ``variants_rtf.png`` / ``variants_ttfa.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "variants.json", out_dir / "variants.md"]
    written[0].write_text(json.dumps(result, indent=2) + "\n")
    written[1].write_text(f"# variants benchmark\n\n{result['note']}\n\n{markdown(result)}\n")
    matplotlib = require("matplotlib", "toolkit")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    names = list(dict.fromkeys(r["contender"] for r in rows))
    threads = sorted({r["threads"] for r in rows})
    for metric, label in (
        ("rtf", "real-time factor (lower is faster)"),
        ("ttfa_ms", "time to first audio, ms"),
    ):
        fig, ax = plt.subplots(figsize=(10, 0.6 * len(names) + 1.5))
        height = 0.8 / len(threads)
        for k, count in enumerate(threads):
            values = [
                next((r[metric] for r in rows if r["contender"] == n and r["threads"] == count), 0)
                for n in names
            ]
            ax.barh(
                [i + k * height for i in range(len(names))],
                values,
                height,
                label=f"{count} thread(s)",
            )
        ax.set_yticks([i + height * (len(threads) - 1) / 2 for i in range(len(names))], names)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"variants_{metric.split('_')[0]}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def variants_suite(bench: BenchOptions) -> dict:
    """Every optimized variant of the bundled voice (manifests in ``optimized_models/``, or
    ``--variants``) against the original and piper-tts's runtime, at 1 and 2 threads: RTF,
    time to first audio, RSS, load time."""
    if bench.variants:
        variants = {Path(p).name.removesuffix(".onnx"): Path(p) for p in bench.variants}
    else:
        variants = discover(Path("optimized_models"), bundled_voice().model_path)
    return run_variants(
        variants,
        rounds=bench.rounds,
        out_dir=bench.out or Path("bench_results/variants"),
        report=bench.reporter,
    )
