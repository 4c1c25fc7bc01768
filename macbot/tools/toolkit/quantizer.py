"""The quantization methods. Each writes one model file and returns the parameters it used
(plus notes worth keeping in the manifest); :mod:`.variants` measures and gates the result.

What each method does to a Piper (VITS) voice, whose 15.6 M parameters are 95 % ``Conv``
weights, 4 % ``ConvTranspose`` and a 49 k embedding (``Gather``); its 26 ``MatMul`` nodes
multiply activations by activations (attention) and carry no weights.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from piper.voice import PiperVoice

from ...core.engines.piper import SynthesisOptions, load_voice_config, model_feed
from ...core.sessions import CPU, SessionPlan, open_session
from .extras import require

_LOGGER = logging.getLogger(__name__)

METHODS = ("dynamic", "static", "int4", "fp16", "coreml")
EXECUTION_PROVIDERS = ("cpu", "cuda", "dml", "webgpu")
BLOCK_SIZES = (16, 32, 64, 128, 256)
ACCURACY_LEVELS = (1, 2, 3, 4)
QUANT_TYPES = ("QUInt8", "QInt8")


def check_int4_options(block_size: int, accuracy_level: int, provider: str) -> None:
    """``ValueError`` with a one-line reason for a bad INT4 option."""
    if block_size not in BLOCK_SIZES:
        raise ValueError(f"--block-size must be a power of two from 16 to 256 (got {block_size})")
    if accuracy_level not in ACCURACY_LEVELS:
        raise ValueError(f"--accuracy-level must be 1, 2, 3 or 4 (got {accuracy_level})")
    if provider not in EXECUTION_PROVIDERS:
        raise ValueError(
            f"--execution-provider must be one of {', '.join(EXECUTION_PROVIDERS)} "
            f"(got {provider!r})"
        )


def matching_nodes(model_path: Path, pattern: str | None) -> list[str]:
    """Names of the nodes of ``model_path`` that ``pattern`` (a regex, searched) matches."""
    if not pattern:
        return []
    onnx = require("onnx", "toolkit")
    regex = re.compile(pattern)
    model = onnx.load(str(model_path), load_external_data=False)
    return [n.name for n in model.graph.node if regex.search(n.name)]


def _quant_type(name: str) -> Any:
    from onnxruntime.quantization import QuantType

    if name not in QUANT_TYPES:
        raise ValueError(f"quantization type must be one of {', '.join(QUANT_TYPES)}")
    return getattr(QuantType, name)


# -- dynamic -------------------------------------------------------------------------------------


def quantize_dynamic(
    source: Path,
    output: Path,
    weight_type: str = "QUInt8",
    op_types: Sequence[str] | None = None,
    exclude: str | None = None,
    nodes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Dynamic INT8: weights stored as 8-bit, activations quantized at run time.

    ``QUInt8`` is the default: on this x86 CPU ``QInt8`` weights make ``ConvInteger`` 2–3×
    slower than float (measured; see the README). ``nodes`` restricts quantization to those
    node names (trials); ``exclude`` is a regex of node names to keep in float.
    """
    require("onnx", "toolkit")
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    excluded = matching_nodes(source, exclude)
    with quiet_quantizer_logs():
        ort_quantize_dynamic(
            str(source),
            str(output),
            weight_type=_quant_type(weight_type),
            op_types_to_quantize=list(op_types) if op_types else None,
            nodes_to_exclude=excluded or None,
            nodes_to_quantize=list(nodes) if nodes else None,
        )
    return {
        "weight_type": weight_type,
        "op_types": list(op_types) if op_types else "all supported",
        "exclude": exclude,
        "excluded_nodes": excluded,
        **({"nodes": list(nodes)} if nodes else {}),
    }


# -- static QDQ ----------------------------------------------------------------------------------


class FeedReader:
    """onnxruntime's ``CalibrationDataReader`` over prepared input feeds."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]) -> None:
        self._feeds = list(feeds)
        self._iter: Iterator[dict[str, np.ndarray]] = iter(self._feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = iter(self._feeds)


def calibration_feeds(voice: Any, phrases: Sequence[str]) -> list[dict[str, np.ndarray]]:
    """Model inputs (noise scales 0) for every sentence of ``phrases``, phonemized with the
    voice's own config (no model is run)."""
    config = load_voice_config(voice)
    phonemizer = PiperVoice(session=None, config=config)  # phonemization needs no session
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    feeds = []
    for text in phrases:
        for group in phonemizer.phonemize(text):
            if group:
                ids = phonemizer.phonemes_to_ids(group)
                feeds.append(model_feed(config, ids, options, takes_sid=False))
    if not feeds:
        raise ValueError("no speakable calibration text")
    return feeds


def quantize_static(
    source: Path,
    output: Path,
    feeds: Sequence[dict[str, np.ndarray]],
    per_channel: bool = False,
    exclude: str | None = None,
    op_types: Sequence[str] | None = None,
    activation_type: str = "QUInt8",
    weight_type: str = "QInt8",
    calibration_method: str = "MinMax",
) -> dict[str, Any]:
    """Static INT8 in QDQ format: activation ranges from running ``feeds`` through the model.

    QDQ pairs around weights and activations let onnxruntime fuse them into integer kernels
    (``QLinearConv`` …) on CPU.
    """
    require("onnx", "toolkit")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat
    from onnxruntime.quantization import quantize_static as ort_quantize_static

    excluded = matching_nodes(source, exclude)
    with tempfile.TemporaryDirectory(prefix="macbot-calib-") as tmp, quiet_quantizer_logs():
        ort_quantize_static(
            str(source),
            str(output),
            FeedReader(feeds),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(op_types) if op_types else None,
            per_channel=per_channel,
            activation_type=_quant_type(activation_type),
            weight_type=_quant_type(weight_type),
            nodes_to_exclude=excluded or None,
            calibrate_method=getattr(CalibrationMethod, calibration_method),
            calibration_providers=["CPUExecutionProvider"],
            extra_options={"CalibTensorRangeSymmetric": False},
            **_calibration_dir(tmp),
        )
    return {
        "format": "QDQ",
        "activation_type": activation_type,
        "weight_type": weight_type,
        "per_channel": per_channel,
        "calibration_method": calibration_method,
        "calibration_sentences": len(feeds),
        "op_types": list(op_types) if op_types else "all supported",
        "exclude": exclude,
        "excluded_nodes": excluded,
    }


@contextlib.contextmanager
def quiet_quantizer_logs() -> Iterator[None]:
    """onnxruntime's quantizer logs a multi-line WARNING on the root logger for every tensor
    whose type shape inference cannot tell (hundreds for a VITS graph); keep them at DEBUG."""
    root = logging.getLogger()
    level = root.level
    if level > logging.DEBUG:
        root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _calibration_dir(tmp: str) -> dict[str, Any]:
    """Keep the augmented calibration model out of the working directory when supported."""
    from onnxruntime.quantization import quantize_static as ort_quantize_static

    if "calibration_data_dir" in inspect.signature(ort_quantize_static).parameters:
        return {"calibration_data_dir": tmp}
    return {}


# -- INT4 ----------------------------------------------------------------------------------------


def int4_coverage(model_path: Path) -> dict[str, Any]:
    """How much of the model MatMulNBits can reach: MatMuls whose weight is an initializer."""
    onnx = require("onnx", "toolkit")
    model = onnx.load(str(model_path))
    inits = {t.name: t for t in model.graph.initializer}
    total = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    matmuls = [n for n in model.graph.node if n.op_type == "MatMul"]
    weighted = [n for n in matmuls if len(n.input) > 1 and n.input[1] in inits]
    params = sum(int(np.prod(inits[n.input[1]].dims)) for n in weighted)
    return {
        "matmul_nodes": len(matmuls),
        "matmul_nodes_with_weights": len(weighted),
        "params_reachable": params,
        "params_total": total,
        "fraction_reachable": round(params / total, 6) if total else 0.0,
    }


def quantize_int4(
    source: Path,
    output: Path,
    block_size: int = 128,
    accuracy_level: int = 4,
    provider: str = "cpu",
    exclude: str | None = None,
) -> dict[str, Any]:
    """INT4 weight-only (``MatMulNBits``) with onnxruntime's matmul_nbits quantizer.

    Only ``MatMul`` nodes with a constant weight are converted. A Piper voice has none (its
    MatMuls are attention products of activations), so the output computes exactly what the
    source does; the returned ``coverage`` says so with numbers. ``provider`` records the
    target (cpu/cuda/dml/webgpu as onnxruntime-genai's builder names them); the quantizer's
    output is the same for all of them, only ``accuracy_level`` changes how CPU kernels run.
    """
    check_int4_options(block_size, accuracy_level, provider)
    onnx = require("onnx", "toolkit")
    require("onnx_ir", "toolkit")
    from onnxruntime.quantization import matmul_nbits_quantizer as mnb

    coverage = int4_coverage(source)
    excluded = matching_nodes(source, exclude)
    model = onnx.load(str(source))
    config = mnb.DefaultWeightOnlyQuantConfig(
        block_size=block_size,
        is_symmetric=True,
        accuracy_level=accuracy_level,
        op_types_to_quantize=("MatMul",),
    )
    quantizer = mnb.MatMulNBitsQuantizer(
        model,
        block_size=block_size,
        is_symmetric=True,
        accuracy_level=accuracy_level,
        nodes_to_exclude=excluded,
        algo_config=config,
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(output), use_external_data_format=False)
    converted = sum(1 for n in onnx.load(str(output)).graph.node if n.op_type == "MatMulNBits")
    note = (
        f"{converted} of {coverage['matmul_nodes']} MatMul nodes became MatMulNBits; "
        f"{coverage['params_reachable']} of {coverage['params_total']} parameters "
        f"({coverage['fraction_reachable']:.1%}) are MatMul weights INT4 can reach"
    )
    if converted == 0:
        note += " — this voice's MatMuls multiply activations, so the INT4 model is the float one"
    _LOGGER.info("int4: %s", note)
    return {
        "bits": 4,
        "block_size": block_size,
        "accuracy_level": accuracy_level,
        "execution_provider": provider,
        "symmetric": True,
        "exclude": exclude,
        "matmulnbits_nodes": converted,
        "coverage": coverage,
        "note": note,
    }


# -- FP16 / CoreML -------------------------------------------------------------------------------


def convert_fp16(
    source: Path, output: Path, exclude: str | None = None, keep_ops: Sequence[str] = ()
) -> dict[str, Any]:
    """Float16 weights and activations, float32 inputs and outputs kept (``Cast`` at the edges).

    Uses onnxruntime's own converter (``onnxruntime.transformers.float16``, which keeps the
    ops that have no float16 kernels in float32 and retypes ``Cast`` nodes correctly;
    onnxconverter-common 1.16 leaves ``Cast(to=float)`` outputs typed float16 and the model does
    not load). Meant for GPUs and CoreML: a plain CPU has few half-precision kernels.
    """
    onnx = require("onnx", "toolkit")
    from onnxruntime.transformers import float16

    excluded = matching_nodes(source, exclude)
    block = list(dict.fromkeys([*float16.DEFAULT_OP_BLOCK_LIST, *keep_ops]))
    model = onnx.load(str(source))
    with warnings.catch_warnings(record=True) as caught:
        # One warning per weight outside float16's range ("will be truncated"): expected,
        # counted into the parameters instead of flooding the log.
        warnings.simplefilter("always")
        converted = float16.convert_float_to_float16(
            model,
            keep_io_types=True,
            op_block_list=block,
            node_block_list=excluded or None,
        )
    onnx.save(converted, str(output))
    return {
        "converter": "onnxruntime.transformers.float16",
        "keep_io_types": True,
        "values_clamped_to_fp16_range": len(caught),
        "float32_ops": sorted(block),
        "exclude": exclude,
        "excluded_nodes": excluded,
    }


def prepare_coreml(source: Path, output: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    """The CoreML candidate: an FP16 ONNX (float32 inputs/outputs) for onnxruntime's CoreML
    execution provider.

    On a Mac with ``CoreMLExecutionProvider`` available, the model is also compiled once
    (``MLProgram`` format) into ``cache_dir`` so the daemon's first load is fast. Elsewhere
    nothing is compiled and the parameters say so: on the Mac the first session created with
    the CoreML provider compiles it (seconds) and caches it in ``ModelCacheDirectory``.
    """
    params = convert_fp16(source, output)
    params["target"] = "onnxruntime CoreMLExecutionProvider (MLProgram)"
    available = "CoreMLExecutionProvider" in ort.get_available_providers()
    if sys.platform == "darwin" and available:
        cache = Path(cache_dir or output.with_suffix(".coreml-cache"))
        cache.mkdir(parents=True, exist_ok=True)
        open_session(
            output,
            SessionPlan(),
            [
                (
                    "CoreMLExecutionProvider",
                    {"ModelFormat": "MLProgram", "ModelCacheDirectory": str(cache)},
                ),
                *CPU,
            ],
        )
        params.update(compiled=True, cache_dir=str(cache))
        params["note"] = f"compiled for CoreML (MLProgram) into {cache}"
    else:
        params["compiled"] = False
        params["note"] = (
            f"prepared an FP16 ONNX with float32 inputs/outputs; not compiled: this is "
            f"{sys.platform} without CoreMLExecutionProvider. On a Mac, `macbot quantize "
            f"--coreml` compiles it into a CoreML cache; otherwise the first session opened "
            f"with CoreMLExecutionProvider compiles it (MLProgram, FP16 on the GPU/Neural "
            f"Engine). Here it was verified on the CPU provider only."
        )
    return params
