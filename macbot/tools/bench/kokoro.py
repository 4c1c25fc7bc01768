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

import argparse
import json
import re
import time
from pathlib import Path

from ...core.kokoro_files import packaged_model, packaged_voices
from ..kokoro_variants import (
    BASELINE,
    RECIPES,
    build_all,
    calibration_feeds,
    chunked_error,
    kokoro_onnx,
    measure,
    split_decoder,
)
from ..toolkit.phrases import HELDOUT_SENTENCES
from ..toolkit.transcriber import Transcriber
from .optimize import pareto_front, plot_pareto
from .registry import markdown, reporter, suite

THREADS = 2
VOICE = "jm_kumo"
REPLY = (
    "Good morning, the next train to the airport leaves at ten past four from platform two. "
    "It takes about forty minutes. You should arrive just before five."
)
"""A three-sentence reply for the first-audio measurement."""


def _out(args: argparse.Namespace, name: str) -> Path:
    out = Path(getattr(args, "out", None) or f"bench_results/{name}")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _sentences(args: argparse.Namespace) -> list[str]:
    return list(HELDOUT_SENTENCES[: getattr(args, "kokoro_sentences", None) or 8])


@suite("kokoro-variants")
def kokoro_variants_suite(args: argparse.Namespace) -> dict:
    """Each Kokoro recipe against kokoro-onnx's create() on the int8 original (2 threads)."""
    report = reporter(args)
    out = _out(args, "kokoro-variants")
    original, voices = packaged_model(), packaged_voices()
    recipes = getattr(args, "kokoro_recipes", None) or list(RECIPES)
    report.step(f"building {len(recipes)} Kokoro variants", None)
    built = build_all(original, out / "models", voices, recipes)
    sentences = _sentences(args)
    report.step(f"timing and gating on {len(sentences)} unseen sentences", None)
    rows = measure(
        original,
        built,
        voices,
        sentences,
        voice=VOICE,
        threads=THREADS,
        rounds=args.rounds,
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
        "rounds": args.rounds,
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


@suite("kokoro-stream")
def kokoro_stream_suite(args: argparse.Namespace) -> dict:
    """The decoder in windows vs the whole sentence; a short first piece vs the first
    sentence (first audio of :data:`REPLY`)."""
    report = reporter(args)
    out = _out(args, "kokoro-stream")
    original, voices = packaged_model(), packaged_voices()
    float_model = build_all(original, out / "models", voices, ["float"])["float"]
    encoder_path, decoder_path = split_decoder(float_model, out / "models" / "split")
    engine = kokoro_onnx(original, voices, THREADS)
    feeds = calibration_feeds(engine.tokenizer, engine.voices[VOICE], _sentences(args)[:4])
    split = [kokoro_onnx(p, voices, THREADS).sess for p in (encoder_path, decoder_path)]
    rows = []
    report.step("decoding in windows", len(WINDOWS))
    for chunk, context in WINDOWS:
        rows.append({"approach": "decoder windows", **chunked_error(*split, feeds, chunk, context)})
        report.advance()
    report.step("first piece vs first sentence", None)
    first_sentence = re.split(r"(?<=[.!?])\s+", REPLY)[0]
    piece = first_piece(first_sentence)
    engine.create("Hello.", VOICE)
    whole_s = piece_s = 0.0
    for _ in range(args.rounds):
        started = time.perf_counter()
        engine.create(first_sentence, VOICE)
        whole_s += time.perf_counter() - started
        started = time.perf_counter()
        engine.create(piece, VOICE)
        piece_s += time.perf_counter() - started
    rows.append(
        {
            "approach": f"first piece {piece!r} of {first_sentence!r}",
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
