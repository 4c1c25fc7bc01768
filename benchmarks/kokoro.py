"""Kokoro's variants and streaming, against ``kokoro-onnx``'s own ``create()`` (issue 20).

``kokoro-variants``: every recipe of :mod:`macbot.tools.kokoro_variants` built from the
packaged int8 model, timed against ``kokoro-onnx``'s ``create()`` on that model with the same
thread count (in turn, sentence by sentence), gated (WER through whisper tiny.en, MCD) and
plotted as a Pareto front (``OUT/kokoro-pareto.png``).

``kokoro-stream``: streaming inside a Kokoro sentence. The decoder cut after the alignment step
and run over windows of frames (with context) against the whole sentence: waveform SNR, MCD,
the work of all windows and the time of the first one relative to one whole-sentence run. And
the alternative that keeps every model run whole: a short first piece of the reply (its first
clause), then the rest, timed against ``create()`` of the whole first sentence.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from macbot.config import config_from_dict
from macbot.core.engines import registry
from macbot.core.kokoro_files import packaged_model, packaged_voices
from macbot.core.synthesizer import Synthesizer
from macbot.core.voices import bundled_voice, kokoro_voice
from macbot.tools.kokoro_optimizer import optimize_voice
from macbot.tools.kokoro_variants import (
    BASELINE,
    RECIPES,
    build_all,
    calibration_feeds,
    chunked_error,
    kokoro_onnx,
    measure,
    split_decoder,
)
from macbot.tools.optimizer import OptimizeOptions
from macbot.tools.toolkit.phrases import HELDOUT_SENTENCES, VERIFY_SENTENCES
from macbot.tools.toolkit.transcriber import Transcriber, word_error_rate

from .common import first_sentence, markdown, p50
from .livespeech import pair_words
from .optimize import pareto_front, plot_pareto
from .options import BenchOptions

THREADS = 2
VOICE = "jm_kumo"
REPLY = (
    "Good morning, the next train to the airport leaves at ten past four from platform two. "
    "It takes about forty minutes. You should arrive just before five."
)
"""A three-sentence reply for the first-audio measurement."""


def _out(bench: BenchOptions, name: str) -> Path:
    out = Path(bench.out or f"bench_results/{name}")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _sentences(bench: BenchOptions) -> list[str]:
    return list(HELDOUT_SENTENCES[: bench.kokoro_sentences or 8])


def kokoro_variants_suite(bench: BenchOptions) -> dict:
    """Each Kokoro recipe against kokoro-onnx's create() on the int8 original (2 threads)."""
    report = bench.reporter
    out = _out(bench, "kokoro-variants")
    original, voices = packaged_model(), packaged_voices()
    recipes = bench.kokoro_recipes or list(RECIPES)
    report.step(f"building {len(recipes)} Kokoro variants", None)
    built = build_all(original, out / "models", voices, recipes)
    sentences = _sentences(bench)
    report.step(f"timing and gating on {len(sentences)} unseen sentences", None)
    rows = measure(
        original,
        built,
        voices,
        sentences,
        voice=VOICE,
        threads=THREADS,
        rounds=bench.rounds,
        transcriber=Transcriber(threads=THREADS),
    )
    plotted = [
        {
            **r,
            "candidate": r["candidate"],
            "gate": {"pass": "usable", "fail": "rejected"}.get(r["gate"], r["gate"]),
        }
        for r in rows
    ]
    front = pareto_front(plotted)
    for r, p in zip(rows, plotted, strict=True):
        r["pareto"] = p["pareto"] = "yes" if r["candidate"] in front else ""
    plot_pareto(plotted, out / "kokoro-pareto.png")
    result = {
        "suite": "kokoro-variants",
        "voice": VOICE,
        "threads": THREADS,
        "sentences": len(sentences),
        "rounds": bench.rounds,
        "note": f"vs_kokoro_onnx: seconds per sentence / {BASELINE}'s (create(), same session "
        "options and threads), timed in turn; WER and MCD against the original's audio",
        "rows": [{k: v for k, v in r.items() if k != "reasons"} for r in rows],
    }
    (out / "kokoro-variants.json").write_text(json.dumps({**result, "full": rows}, indent=2))
    (out / "kokoro-variants.md").write_text(f"# kokoro-variants\n\n{markdown(result)}\n")
    return result


WINDOWS = ((20, 10), (40, 20), (40, 40), (80, 40))
"""(chunk, context) frames of the decoder's windows (one frame: 25 ms of audio)."""


def first_piece(text: str) -> str:
    """The reply's first model run as the Kokoro engine plans it: the first sentence's first
    clause (:func:`macbot.core.engines.kokoro.first_clause`, on phonemes), else the sentence."""
    match = re.search(r"^(.*?[,;:])\s", text)
    return match.group(1) if match else text


def kokoro_stream_suite(bench: BenchOptions) -> dict:
    """The decoder in windows vs the whole sentence; a short first piece vs the first
    sentence (first audio of :data:`REPLY`)."""
    report = bench.reporter
    out = _out(bench, "kokoro-stream")
    original, voices = packaged_model(), packaged_voices()
    float_model = build_all(original, out / "models", voices, ["float"])["float"]
    encoder_path, decoder_path = split_decoder(float_model, out / "models" / "split")
    engine = kokoro_onnx(original, voices, THREADS)
    feeds = calibration_feeds(engine.tokenizer, engine.voices[VOICE], _sentences(bench)[:4])
    split = [kokoro_onnx(p, voices, THREADS).sess for p in (encoder_path, decoder_path)]
    rows = []
    report.step("decoding in windows", len(WINDOWS))
    for chunk, context in WINDOWS:
        rows.append({"approach": "decoder windows", **chunked_error(*split, feeds, chunk, context)})
        report.advance()
    report.step("first piece vs first sentence", None)
    first = first_sentence(REPLY)
    piece = first_piece(first)
    engine.create("Hello.", VOICE)
    whole_s = piece_s = 0.0
    for _ in range(bench.rounds):
        started = time.perf_counter()
        engine.create(first, VOICE)
        whole_s += time.perf_counter() - started
        started = time.perf_counter()
        engine.create(piece, VOICE)
        piece_s += time.perf_counter() - started
    rows.append(
        {
            "approach": f"first piece {piece!r} of {first!r}",
            "first_vs_whole": round(piece_s / whole_s, 3),
        }
    )
    result = {
        "suite": "kokoro-stream",
        "note": "first_vs_whole: time to the first audio / kokoro-onnx's create() of the whole "
        "first sentence (decoder windows: the first window / one whole decoder run); "
        "work_vs_whole: all windows / one whole run",
        "rows": rows,
    }
    (out / "kokoro-stream.json").write_text(json.dumps(result, indent=2))
    return result


def kokoro_targets_suite(bench: BenchOptions) -> dict:
    """Issue 20's Kokoro targets through the daemon's synthesizer (in-process; the same engine
    chain, session plan and planning as ``macbot serve``) after its self-optimization into
    ``OUT/optimized`` (reused by a second run): per-sentence time and the first streamed audio
    of :data:`REPLY` against kokoro-onnx's ``create()`` on the packaged model (same threads),
    WER on unseen sentences against Piper's joe, word timings against whisper's."""
    report = bench.reporter
    out = _out(bench, "kokoro-targets")
    optimized = (out / "optimized").resolve()
    config = config_from_dict(
        {
            "models": {"tts": {"voice": VOICE, "optimized_dir": str(optimized)}},
            "voice_assistant": {
                "performance": {"tts_cache_enabled": False, "tts_cache_persist": False}
            },
        }
    )
    gate = tuple(VERIFY_SENTENCES[: bench.kokoro_gate_sentences or 32])
    report.step(f"self-optimizing Kokoro (gate on {len(gate)} sentences)", None)
    state = optimize_voice(
        config,
        kokoro_voice(VOICE, config.tts.kokoro),
        OptimizeOptions(gate_sentences=gate, tune_rounds=2, threads=THREADS),
    )
    synth = Synthesizer(config)
    synth.warmup()
    baseline = kokoro_onnx(packaged_model(), packaged_voices(), THREADS)
    baseline.create("Hello.", VOICE)
    sentences = _sentences(bench)
    report.step("per sentence and first audio, in turn", bench.rounds * len(sentences))
    ours = theirs = 0.0
    first_ours: list[float] = []
    first_theirs: list[float] = []
    first = first_sentence(REPLY)
    try:
        for _ in range(bench.rounds):
            for text in sentences:
                ours += synth.synthesize(text).seconds
                started = time.perf_counter()
                baseline.create(text, VOICE)
                theirs += time.perf_counter() - started
                report.advance()
            started = time.perf_counter()
            stream = synth.stream(REPLY)
            next(iter(stream))
            first_ours.append(time.perf_counter() - started)
            stream.close()
            started = time.perf_counter()
            baseline.create(first, VOICE)
            first_theirs.append(time.perf_counter() - started)
        report.step("WER and word timings on unseen sentences", None)
        transcriber = Transcriber(threads=THREADS)
        piper = registry.load(bundled_voice())
        heard_k, heard_p, starts = [], [], []
        for text in sentences:
            result = synth.synthesize(text)
            heard_k.append(transcriber.transcribe(result.samples, result.sample_rate))
            words = [(w.word, w.start, w.end) for w in result.words]
            pairs = pair_words(words, transcriber.words(result.samples, result.sample_rate))
            starts += [abs(o[1] - h[1]) for o, h in pairs]
            audio = [c.samples for c in piper.synthesize(text)]
            heard_p.append(transcriber.transcribe(np.concatenate(audio), piper.sample_rate))
        engine = synth.engine().describe()
    finally:
        synth.close()
    rows = [
        {
            "target": "per sentence vs kokoro-onnx create()",
            "value": round(ours / theirs, 3),
            "limit": "<= 0.75",
        },
        {
            "target": "first streamed audio vs create() of the first sentence",
            "value": round(p50(first_ours) / p50(first_theirs), 3),
            "limit": "<= 0.5",
        },
        {
            "target": "WER Kokoro (unseen sentences)",
            "value": round(word_error_rate(sentences, heard_k), 4),
            "limit": f"<= Piper joe's {word_error_rate(sentences, heard_p):.4f}",
        },
        {
            "target": "word timings: median |start - whisper's| (s)",
            "value": round(p50(starts), 3),
            "limit": "<= 0.10",
        },
    ]
    return {
        "suite": "kokoro-targets",
        "winner": state.winner,
        "engine": engine,
        "sentences": len(sentences),
        "rounds": bench.rounds,
        "rows": rows,
    }
