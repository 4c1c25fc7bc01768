"""The ``split`` suite: streaming inside a sentence, against piper-tts and the unsplit engine."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from piper import PiperVoice, SynthesisConfig

from macbot.config import AppConfig
from macbot.core.engines import SynthesisOptions, registry
from macbot.core.engines.chunked import ChunkedEngine, find_split, split_dir_for
from macbot.core.voices import bundled_voice
from macbot.tools.split import split_voice

from .options import BenchOptions

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
    found = find_split(voice, optimized_dir)
    if found is not None:
        return found
    tmp = Path(tempfile.mkdtemp(prefix="macbot-split-"))
    split_voice(voice, tmp, static_frames=(static_frames,))
    return split_dir_for(voice, tmp)


def split_suite(bench: BenchOptions) -> dict:
    """Streaming inside a sentence: the chunked split engine vs piper-tts and the unsplit engine.

    Every round times, on each paragraph in turn: piper-tts's ``PiperVoice.synthesize``
    (time to its first chunk = the first sentence, and to the end), the unsplit macbot engine
    (whole paragraph), the chunked engine (time to its first chunk, and to the end) and the
    chunked engine with the fixed-shape decoder on the CPU (the CoreML candidate's form).
    Noise scales 0. ``exact`` checks the chunked engine's raw audio against the full model's.
    Then a sweep of chunk × context sizes: max difference of the joined chunks, time to first
    audio and to the end, as ratios to decoding each sentence whole.
    """
    report = bench.reporter
    report.step("splitting the voice (when needed) and loading the engines")
    voice = bundled_voice()
    config = AppConfig()
    folder = _split_for_bench(
        voice, config.tts.optimized_dir, bench.static_chunk_frames + 2 * bench.context_frames
    )
    chunk = bench.chunk_frames
    context = bench.context_frames
    growth = bench.growth
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.0)
    piper_voice = PiperVoice.load(voice.model_path)
    piper_cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    unsplit = registry.load(voice)
    chunked = ChunkedEngine.load_split(voice, folder, chunk, context, growth)
    static = None
    static_chunk = bench.static_chunk_frames
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
    report.step("interleaved rounds", bench.rounds * len(PARAGRAPHS))
    for _ in range(bench.rounds):
        for text in PARAGRAPHS:
            for name, fn in contenders.items():
                first, total = fn(text)
                times[name]["first"].append(first)
                times[name]["total"].append(total)
            report.advance()

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
    report.step("chunk x context sweep")
    sweep = _chunk_sweep(voice, folder, options, bench)
    return {
        "suite": "split",
        "paragraphs": len(PARAGRAPHS),
        "rounds": bench.rounds,
        "split": str(folder),
        "rows": rows,
        "sweep": sweep,
    }


SWEEP_CONTEXTS = (4, 8, 12, 16, 24)
SWEEP_CHUNKS = (16, 32, 64)
SWEEP_GROWTHS = (1.0, 2.0, 4.0, 0.0)


def _chunk_sweep(voice, folder: Path, options, bench: BenchOptions) -> list[dict]:
    """On each paragraph's first sentence: for each context (chunk 64, growth 1) the max
    difference of the joined chunks from decoding whole; for each first chunk × growth (at
    ``--context-frames``) the time to first audio (encoder + first chunk), the decode time
    relative to decoding whole, and the worst stall: how late a chunk is after the audio
    before it has played (0: playback never waits)."""
    engine = ChunkedEngine.load_split(voice, folder, 64, 16)
    sentences = [engine.sentences(text)[0] for text in PARAGRAPHS]
    latents = [engine.latent(s.phoneme_ids, options) for s in sentences]
    whole_audio = [_decode_whole(engine, z) for z in latents]
    encoder_s = []
    for _ in range(bench.sweep_rounds):
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
        for _ in range(bench.sweep_rounds):
            for z, reference in zip(latents, whole_audio, strict=True):
                engine.chunk_frames, engine.context_frames, engine.growth = chunk, context, growth
                started = time.perf_counter()
                _decode_whole(engine, z)
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
        measure(chunk, bench.context_frames, growth)
        for chunk in SWEEP_CHUNKS
        for growth in SWEEP_GROWTHS
    ]
    return [{"encoder_s": round(encoder, 4)}, *rows]


def _decode_whole(engine: ChunkedEngine, latent: np.ndarray) -> np.ndarray:
    return np.concatenate(list(engine.decode(latent, whole=True)))
