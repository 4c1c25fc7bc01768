"""Quantized decoders for a split voice: static QDQ (int8) calibrated on real latents.

The decoder is where most of a sentence's time goes, so it is the part worth quantizing.
:func:`quantize_decoder` runs onnxruntime's static quantization (QDQ format, per-channel int8
weights, uint8 activations, MinMax calibration) on ``decoder.onnx`` with calibration latents made
by the split's own encoder from real sentences, and measures the result against the float
decoder: decode time on the same latents and the log-spectral distance (dB) of the audio.
The result is written as ``decoder.qdq.onnx`` and recorded in the split's manifest under
``variants.decoder_qdq``; the engine chain's quality gate decides whether it is used.

Needs the ``toolkit`` extra (onnxruntime's quantization tools import ``onnx``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.engines.chunked import DECODER_FILE, ChunkedEngine
from ..core.engines.piper import SynthesisOptions
from ..core.manifests import Manifest
from ..core.sessions import SessionPlan, open_session
from ..core.voices import VoiceInfo
from .split import CALIBRATION_TEXTS, CHECK_TEXTS, require_onnx

_LOGGER = logging.getLogger(__name__)

QDQ_DECODER_FILE = "decoder.qdq.onnx"


def log_spectral_distance(a: np.ndarray, b: np.ndarray, n_fft: int = 1024, hop: int = 256) -> float:
    """Root-mean-square difference of the log power spectra of ``a`` and ``b`` (dB; 0: same).

    Hann-windowed STFT frames; powers floored 60 dB below the loudest bin of ``b`` (the
    reference), so noise in near-silence does not dominate.
    """
    length = min(a.size, b.size)
    if length < n_fft:
        raise ValueError(f"need at least {n_fft} samples, got {length}")
    window = np.hanning(n_fft).astype(np.float64)

    def power(x: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(x[:length], n_fft)[::hop]
        return np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2

    pa, pb = power(a.astype(np.float64)), power(b.astype(np.float64))
    floor = max(float(pb.max()), 1e-20) * 1e-6
    diff = 10.0 * (np.log10(np.maximum(pa, floor)) - np.log10(np.maximum(pb, floor)))
    return float(np.sqrt(np.mean(diff**2)))


def calibration_latents(
    voice: VoiceInfo, split_dir: Path, texts: Sequence[str] = CALIBRATION_TEXTS
) -> list[np.ndarray]:
    """Latents of ``texts`` from the split's encoder (the voice's own noise scales)."""
    engine = ChunkedEngine.load_split(voice, split_dir)
    return [  # copies: they outlive the engine (see Optimizer.step_calibrate)
        np.array(engine.latent(sentence.phoneme_ids, SynthesisOptions()))
        for text in texts
        for sentence in engine.sentences(text)
    ]


class _Latents:
    """onnxruntime's ``CalibrationDataReader`` over a list of latents."""

    def __init__(self, name: str, latents: Sequence[np.ndarray]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter([{name: z} for z in latents])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:  # pragma: no cover - part of the protocol, unused by MinMax
        pass


def quantize_decoder(
    voice: VoiceInfo,
    split_dir: Path,
    calibration_texts: Sequence[str] = CALIBRATION_TEXTS,
    test_texts: Sequence[str] = CHECK_TEXTS,
    rounds: int = 3,
) -> dict[str, Any]:
    """Write ``decoder.qdq.onnx`` (static QDQ int8) and return its measurements.

    Returns ``speedup`` (float decoder seconds / quantized, median over ``rounds`` passes over
    the test latents), ``lsd_db`` (mean log-spectral distance of the test sentences' audio,
    quantized vs float), ``max_abs_diff``, ``size`` and ``seconds`` (to make it); also stored
    in the split's manifest under ``variants.decoder_qdq``.
    """
    require_onnx()
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    started = time.perf_counter()
    split_dir = Path(split_dir)
    source = split_dir / DECODER_FILE
    prepared = split_dir / "decoder.qdq-pre.onnx"
    output = split_dir / QDQ_DECODER_FILE
    latents = calibration_latents(voice, split_dir, calibration_texts)
    tests = calibration_latents(voice, split_dir, test_texts)
    plan = SessionPlan()
    float_session = open_session(source, plan)
    name = float_session.get_inputs()[0].name
    try:
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(output),
            _Latents(name, latents),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    finally:
        prepared.unlink(missing_ok=True)
    quant_session = open_session(output, plan)

    def run_all(session: Any) -> tuple[float, list[np.ndarray]]:
        begun = time.perf_counter()
        audio = [session.run(None, {name: z})[0].reshape(-1) for z in tests]
        return time.perf_counter() - begun, audio

    run_all(float_session)
    run_all(quant_session)  # warm both
    float_times, quant_times = [], []
    for _ in range(rounds):
        seconds, reference = run_all(float_session)
        float_times.append(seconds)
        seconds, quantized = run_all(quant_session)
        quant_times.append(seconds)
    lsd = [log_spectral_distance(q, r) for q, r in zip(quantized, reference, strict=True)]
    result = {
        "file": output.name,
        "method": "static QDQ int8 (per-channel weights, uint8 activations, MinMax)",
        "calibration_sentences": len(latents),
        "test_sentences": len(tests),
        "float_s": round(float(np.median(float_times)), 4),
        "quantized_s": round(float(np.median(quant_times)), 4),
        "speedup": round(float(np.median(float_times) / np.median(quant_times)), 3),
        "lsd_db": round(float(np.mean(lsd)), 3),
        "max_abs_diff": round(
            max(float(np.max(np.abs(q - r))) for q, r in zip(quantized, reference, strict=True)),
            5,
        ),
        "size": output.stat().st_size,
        "float_size": source.stat().st_size,
        "seconds": round(time.perf_counter() - started, 1),
    }
    manifest = Manifest.load(split_dir)
    manifest.parameters.setdefault("variants", {})["decoder_qdq"] = result
    manifest.save(split_dir)
    _LOGGER.info(
        "quantized %s: %.2fx faster, LSD %.2f dB", output, result["speedup"], result["lsd_db"]
    )
    return result
