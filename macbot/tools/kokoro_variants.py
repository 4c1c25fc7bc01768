"""Kokoro's variants for this host, built by editing the packaged int8 graph.

The packaged ``kokoro-v1.0.int8.onnx`` is onnxruntime's *dynamic* INT8: every Conv is a
``ConvInteger`` whose input is quantized per run (``DynamicQuantizeLinear``), every MatMul a
``MatMulInteger``, every LSTM a ``DynamicQuantizeLSTM``, the embeddings a ``Gather`` of int8
rows and a ``DequantizeLinear``. On x86 CPUs ``ConvInteger`` has no fast kernel (im2col and an
integer GEMM, plus the per-run quantization of every activation), so float can be faster
(sherpa-onnx#2374). The variants:

- ``float``: every quantized weight dequantized back (``w = (q − zero) · scale``) and each
  quantized op replaced by its float op (``Conv``, ``MatMul``, ``LSTM``, ``Gather``) writing the
  same output tensor; the bias of a ``ConvInteger`` (quantized per run with the activation's
  scale) goes back into the ``Conv``. Same weights as the original, so only the activations'
  rounding is gone;
- ``float-<ops>``: only some op types rebuilt (e.g. ``float-conv``: float Convs, the MatMuls
  and LSTMs left in dynamic INT8): dynamic INT8 with excluded nodes;
- ``fp16``: the float graph with the weights of nodes above a size threshold in float16
  (seed 003's ``--fp16-threshold``), computed in float16 where onnxruntime has kernels;
- ``static``: static QDQ INT8 of the float graph's Convs and MatMuls, calibrated on assistant
  phrases, ``conv_post`` (and, per seed 003, the generator's resblocks) excluded;
  ``static-gen`` quantizes the resblocks too; ``static-dec`` only the decoder (the text
  encoder, ALBERT and the prosody predictor stay float: they decide what is said and how long,
  and quantized they cost the most words).

:func:`measure` times each against ``kokoro-onnx``'s own ``create()`` on the original model
with the same thread count, side by side, and gates it (WER + MCD, :mod:`.toolkit.gate`).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from kokoro_onnx import Kokoro

from ..core.sessions import SessionPlan, open_session
from ..core.spectral import mel_cepstral_distortion
from .toolkit.extras import require
from .toolkit.gate import judge
from .toolkit.phrases import CALIBRATION_PHRASES as CALIBRATION
from .toolkit.quantizer import quantize_static
from .toolkit.transcriber import word_error_rate

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 24_000

REBUILT_OPS = ("ConvInteger", "MatMulInteger", "DynamicQuantizeLSTM", "Gather")
"""The quantized op types :func:`dequantized` can turn back into float ops."""

ENCODER_PREFIX = "/encoder/"
"""Every node before the decoder: ALBERT, the text encoder, the duration and prosody predictor."""
CONV_POST = "/decoder/decoder/generator/conv_post/Conv"
"""The generator's last convolution: quantized, it adds audible static (seed 003)."""
GENERATOR_RESBLOCKS = "/decoder/decoder/generator/resblocks"


class _Graph:
    """Producers and consumers of a graph's tensors, its initializers as arrays."""

    def __init__(self, model: Any) -> None:
        onnx = require("onnx", "toolkit")
        self.model = model
        self.graph = model.graph
        self.inits = {t.name: t for t in self.graph.initializer}
        self._numpy = onnx.numpy_helper
        self.producer = {o: n for n in self.graph.node for o in n.output}
        self.consumers: dict[str, list[Any]] = defaultdict(list)
        for n in self.graph.node:
            for i in n.input:
                self.consumers[i].append(n)

    def array(self, name: str) -> np.ndarray:
        return self._numpy.to_array(self.inits[name])

    def only_consumer(self, tensor: str, op_type: str) -> Any | None:
        found = self.consumers.get(tensor, [])
        if len(found) == 1 and found[0].op_type == op_type:
            return found[0]
        return None

    def weight_scale(self, scale_tensor: str, activation_scale: str) -> np.ndarray:
        """The weight's scale: ``scale_tensor`` is ``Mul(activation scale, weight scale)``."""
        mul = self.producer[scale_tensor]
        (other,) = [i for i in mul.input if i != activation_scale]
        return self.array(other)


def _dequantize(q: np.ndarray, zero: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    """``(q − zero) · scale`` with a per-tensor or per-channel (along ``axis``) zero/scale."""

    def along(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float32)
        if v.ndim == 0 or v.size == 1:
            return v.reshape(())
        shape = [1] * q.ndim
        shape[axis] = v.size
        return v.reshape(shape)

    return (q.astype(np.float32) - along(zero)) * along(scale)


def dequantized(model: Any, ops: Iterable[str] = REBUILT_OPS) -> tuple[Any, dict[str, int]]:
    """``model`` (dynamic INT8, as onnxruntime's ``quantize_dynamic`` writes it) with the
    quantized ops of the types in ``ops`` rebuilt as float ops. Returns (the model, how many
    of each type were rebuilt). Nodes left without a consumer are removed."""
    onnx = require("onnx", "toolkit")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    ops = set(ops)
    g = _Graph(model)
    new_inits: list[Any] = []
    replace: dict[int, Any] = {}  # id(node that produced the final tensor) → float node
    counts: dict[str, int] = defaultdict(int)

    added: set[str] = set()

    def add_init(name: str, value: np.ndarray) -> str:
        # ALBERT shares one layer's weights between its repeats: one float copy each
        if name not in added:
            added.add(name)
            new_inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    for node in list(g.graph.node):
        if node.op_type not in ops:
            continue
        if node.op_type in ("ConvInteger", "MatMulInteger"):
            quantizer = g.producer.get(node.input[0])
            if quantizer is None or quantizer.op_type != "DynamicQuantizeLinear":
                continue
            x, x_scale = quantizer.input[0], quantizer.output[1]
            tensor, bias = node.output[0], None
            add = g.only_consumer(tensor, "Add")
            if add is not None:  # the ConvInteger's bias, quantized per run
                bias_q = next(i for i in add.input if i != tensor)
                bias = _float_bias(g, bias_q)
                tensor = add.output[0]
            cast = g.only_consumer(tensor, "Cast")
            mul = cast and g.only_consumer(cast.output[0], "Mul")
            if mul is None:
                continue
            scale_tensor = next(i for i in mul.input if i != cast.output[0])
            w_scale = g.weight_scale(scale_tensor, x_scale)
            q = g.array(node.input[1])
            zero = g.array(node.input[3]) if len(node.input) > 3 and node.input[3] else 0
            stem = node.input[1].removesuffix("_quantized") + "_float"
            if node.op_type == "ConvInteger":
                w = _dequantize(q, zero, w_scale, axis=0)
                inputs = [x, add_init(stem, w)]
                if bias is not None:
                    inputs.append(add_init(stem + "_bias", bias))
                attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
                new = helper.make_node(
                    "Conv", inputs, [mul.output[0]], name=node.name.removesuffix("_quant"), **attrs
                )
            else:
                w = _dequantize(q, zero, w_scale, axis=1)
                new = helper.make_node(
                    "MatMul",
                    [x, add_init(stem, w)],
                    [mul.output[0]],
                    name=node.name.removesuffix("_quant"),
                )
            replace[id(mul)] = new
        elif node.op_type == "DynamicQuantizeLSTM":
            ins = list(node.input) + [""] * (12 - len(node.input))
            w = _dequantize(g.array(ins[1]), g.array(ins[9]), g.array(ins[8]), axis=0)
            r = _dequantize(g.array(ins[2]), g.array(ins[11]), g.array(ins[10]), axis=0)
            # DynamicQuantizeLSTM keeps W as [dirs, input, 4·hidden]; LSTM: [dirs, 4·hidden, input]
            w_name = add_init(ins[1].removesuffix("_quantized") + "_float", w.transpose(0, 2, 1))
            r_name = add_init(ins[2].removesuffix("_quantized") + "_float", r.transpose(0, 2, 1))
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            new = helper.make_node(
                "LSTM",
                [ins[0], w_name, r_name, *ins[3:8]],
                list(node.output),
                name=node.name.removesuffix("_quant"),
                **attrs,
            )
            while new.input and not new.input[-1]:
                new.input.pop()
            replace[id(node)] = new
        elif node.op_type == "Gather" and node.input[0] in g.inits:
            dq = g.only_consumer(node.output[0], "DequantizeLinear")
            if dq is None or g.inits[node.input[0]].data_type not in (2, 3):
                continue
            zero = g.array(dq.input[2]) if len(dq.input) > 2 and dq.input[2] else 0
            table = _dequantize(g.array(node.input[0]), zero, g.array(dq.input[1]), axis=1)
            name = add_init(node.input[0].removesuffix("_quantized") + "_float", table)
            new = helper.make_node(
                "Gather",
                [name, node.input[1]],
                [dq.output[0]],
                name=node.name.removesuffix("_quant"),
                axis=0,
            )
            replace[id(dq)] = new
        else:
            continue
        counts[node.op_type] += 1

    nodes = [replace.get(id(n), n) for n in g.graph.node]
    del g.graph.node[:]
    g.graph.node.extend(nodes)
    g.graph.initializer.extend(new_inits)
    _prune(model)
    return model, dict(counts)


def _float_bias(g: _Graph, bias_q: str) -> np.ndarray:
    """The float bias behind ``Reshape(Cast(Floor(Div(bias, scale))))`` (how the dynamic
    quantizer writes a ConvInteger's bias)."""
    tensor = bias_q
    for _ in range(6):
        node = g.producer.get(tensor)
        if node is None:
            break
        if node.op_type == "Div" and node.input[0] in g.inits:
            return g.array(node.input[0]).astype(np.float32)
        tensor = node.input[0]
    raise ValueError(f"no float bias found behind {bias_q}")


def _prune(model: Any) -> None:
    """Remove nodes and initializers that no graph output depends on."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    producer = {o: n for n in graph.node for o in n.output}
    keep: set[int] = set()
    stack = list(needed)
    while stack:
        tensor = stack.pop()
        node = producer.get(tensor)
        if node is None or id(node) in keep:
            continue
        keep.add(id(node))
        for i in node.input:
            if i:
                needed.add(i)
                stack.append(i)
        for attr in node.attribute:  # subgraphs (If/Loop) read outer tensors
            for sub in [attr.g, *attr.graphs] if attr.type in (5, 10) else []:
                for n in sub.node:
                    for i in n.input:
                        needed.add(i)
                        stack.append(i)
    nodes = [n for n in graph.node if id(n) in keep]
    del graph.node[:]
    graph.node.extend(nodes)
    inits = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)


# -- the variants --------------------------------------------------------------------------------


def build_float(source: Path, output: Path, ops: Iterable[str] = REBUILT_OPS) -> dict[str, Any]:
    """Write ``source`` (dynamic INT8) with the quantized ops of the types ``ops`` rebuilt as
    float ops (all of them: the float graph; ``("ConvInteger",)``: float Convs, the MatMuls and
    LSTMs left in dynamic INT8). Returns the manifest's ``build`` facts."""
    onnx = require("onnx", "toolkit")
    model, counts = dequantized(onnx.load(str(source)), ops)
    if not counts:
        raise ValueError(f"{source} has no dynamically quantized {', '.join(ops)} to rebuild")
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(output))
    return {"method": "float rebuild of the int8 weights", "rebuilt": counts}


def large_weight_nodes(model: Any, min_params: int) -> list[str]:
    """Names of the nodes that read an initializer of more than ``min_params`` elements."""
    sizes = {t.name: int(np.prod(t.dims)) if t.dims else 1 for t in model.graph.initializer}
    return [n.name for n in model.graph.node if any(sizes.get(i, 0) > min_params for i in n.input)]


def build_fp16(float_model: Path, output: Path, min_params: int = 5_000) -> dict[str, Any]:
    """The float graph with the nodes whose weights have more than ``min_params`` elements in
    float16 (seed 003's FP16 threshold); the rest, and the inputs and outputs, stay float32."""
    onnx = require("onnx", "toolkit")
    from onnxruntime.transformers import float16

    model = onnx.load(str(float_model))
    large = set(large_weight_nodes(model, min_params))
    small = [n.name for n in model.graph.node if n.name not in large]
    converted = float16.convert_float_to_float16(
        model,
        keep_io_types=True,
        op_block_list=[*float16.DEFAULT_OP_BLOCK_LIST, "STFT", "LSTM", "Range", "CumSum"],
        node_block_list=small,
    )
    onnx.save(converted, str(output))
    return {
        "method": "fp16 above a size threshold",
        "min_params": min_params,
        "fp16_nodes": len(large),
    }


STATIC_EXCLUDE = f"^({CONV_POST}|{GENERATOR_RESBLOCKS}/)"
"""Kept float by the static variant: ``conv_post`` and the generator's resblocks (seed 003's
``model_uint8`` recipe)."""

STATIC_EXCLUDES = {
    "static": STATIC_EXCLUDE,
    "static-gen": f"^{CONV_POST}$",
    "static-dec": f"^({ENCODER_PREFIX}|{CONV_POST}$)",
}
"""The nodes each static recipe keeps float (regular expressions over node names)."""

FLOAT_OPS = {
    "float": REBUILT_OPS,
    "float-conv": ("ConvInteger", "Gather"),
    "float-matmul": ("MatMulInteger", "DynamicQuantizeLSTM", "Gather"),
}
"""The op types each float recipe rebuilds; the others stay dynamic INT8."""


def calibration_feeds(tokenizer: Any, style: np.ndarray, phrases: Sequence[str]) -> list[dict]:
    """The model's inputs for ``phrases`` (English, espeak) with ``style`` (510, 1, 256)."""
    feeds = []
    for text in phrases:
        tokens = tokenizer.tokenize(tokenizer.phonemize(text, "en-us"))
        feeds.append(
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": np.asarray(style[min(len(tokens), len(style)) - 1], np.float32).reshape(
                    1, -1
                ),
                "speed": np.array([1.0], dtype=np.float32),
            }
        )
    return feeds


def build_static(
    float_model: Path, output: Path, feeds: Sequence[dict], exclude: str = STATIC_EXCLUDE
) -> dict[str, Any]:
    """Static QDQ INT8 of the float graph's Convs and MatMuls (activations calibrated on
    ``feeds``), the nodes matching ``exclude`` kept float."""
    facts = quantize_static(
        float_model, output, feeds, per_channel=True, exclude=exclude, op_types=("Conv", "MatMul")
    )
    return {
        "method": "static QDQ int8",
        **{k: v for k, v in facts.items() if k != "excluded_nodes"},
        "excluded_nodes": len(facts["excluded_nodes"]),
    }


# -- streaming inside a sentence: the decoder in windows ----------------------------------------

DECODER_INPUTS = (
    "/encoder/MatMul_1_output_0",
    "/encoder/Reshape_output_0",
    "/encoder/Reshape_1_output_0",
)
"""What Kokoro's decoder reads from the rest of the graph besides ``style``: the aligned text
features ``asr`` ``[1, 512, frames]`` (text encoder × alignment) and the predicted F0 and energy
``[1, 2·frames]`` (the alignment step is done: durations are fixed)."""


def split_decoder(model_path: Path, folder: Path) -> tuple[Path, Path]:
    """Cut ``model_path`` after the duration/alignment step: ``encoder.onnx`` (tokens, style,
    speed → asr, F0, N) and ``decoder.onnx`` (asr, F0, N, style → audio), in ``folder``."""
    onnx = require("onnx", "toolkit")
    model = onnx.load(str(model_path))
    extractor = onnx.utils.Extractor(model)
    inputs = [i.name for i in model.graph.input]
    encoder = extractor.extract_model(inputs, list(DECODER_INPUTS))
    decoder = extractor.extract_model([*DECODER_INPUTS, "style"], ["audio"])
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "encoder.onnx", folder / "decoder.onnx"
    for part, path in zip((encoder, decoder), paths, strict=True):
        del part.opset_import[:]
        part.opset_import.extend(model.opset_import)
        part.ir_version = model.ir_version
        onnx.save(part, str(path))
    return paths


def decode_windows(
    decoder: Any,
    asr: np.ndarray,
    f0: np.ndarray,
    energy: np.ndarray,
    style: np.ndarray,
    chunk: int,
    context: int,
) -> list[np.ndarray]:
    """The audio of ``asr``'s frames decoded ``chunk`` frames at a time, each window with up to
    ``context`` frames on both sides (F0 and energy have two frames per ``asr`` frame); the
    pieces, in order, each cut to its own frames."""
    frames = asr.shape[2]
    pieces = []
    hop = 0
    for keep_start in range(0, frames, chunk):
        keep_stop = min(frames, keep_start + chunk)
        start, stop = max(0, keep_start - context), min(frames, keep_stop + context)
        audio = decoder.run(
            None,
            {
                DECODER_INPUTS[0]: asr[:, :, start:stop],
                DECODER_INPUTS[1]: f0[:, 2 * start : 2 * stop],
                DECODER_INPUTS[2]: energy[:, 2 * start : 2 * stop],
                "style": style,
            },
        )[0].reshape(-1)
        hop = hop or len(audio) // (stop - start)
        pieces.append(audio[(keep_start - start) * hop : (keep_stop - start) * hop])
    return pieces


def chunked_error(
    encoder: Any, decoder: Any, feeds: Sequence[dict], chunk: int, context: int
) -> dict[str, float]:
    """How far decoding in windows is from decoding the whole sentence: waveform SNR (dB) and
    mel-cepstral distortion (dB) over ``feeds``, and the windows' decoder time relative to one
    whole-sentence decoder run."""

    snrs, mcds, whole_s, windows_s, first_s = [], [], 0.0, 0.0, 0.0
    for feed in feeds:
        asr, f0, energy = encoder.run(None, feed)
        started = time.perf_counter()
        whole = decoder.run(
            None,
            {
                DECODER_INPUTS[0]: asr,
                DECODER_INPUTS[1]: f0,
                DECODER_INPUTS[2]: energy,
                "style": feed["style"],
            },
        )[0].reshape(-1)
        whole_s += time.perf_counter() - started
        started = time.perf_counter()
        pieces = decode_windows(decoder, asr, f0, energy, feed["style"], chunk, context)
        windows_s += time.perf_counter() - started
        started = time.perf_counter()  # the first window alone: when streamed audio starts
        decode_windows(
            decoder, asr[:, :, : chunk + context], f0, energy, feed["style"], chunk + context, 0
        )
        first_s += time.perf_counter() - started
        streamed = np.concatenate(pieces)[: len(whole)]
        error = whole[: len(streamed)] - streamed
        snrs.append(10 * np.log10(float(np.sum(whole**2)) / max(float(np.sum(error**2)), 1e-20)))
        mcds.append(mel_cepstral_distortion(whole, streamed, SAMPLE_RATE))
    return {
        "chunk_frames": chunk,
        "context_frames": context,
        "snr_db": round(float(np.mean(snrs)), 2),
        "mcd_db": round(float(np.mean(mcds)), 3),
        "work_vs_whole": round(windows_s / whole_s, 3),
        "first_vs_whole": round(first_s / whole_s, 3),
    }


# -- measuring: against kokoro-onnx's create() on the original -----------------------------------

BASELINE = "kokoro-onnx int8"
"""The row of ``kokoro-onnx``'s own ``create()`` on the original model."""


def kokoro_onnx(model: Path, voices: Path, threads: int) -> Any:
    """``kokoro_onnx.Kokoro`` over a session of ``model`` with ``threads`` intra-op threads
    (the daemon's session options otherwise)."""
    return Kokoro.from_session(
        open_session(model, SessionPlan(intra_op_threads=threads)), str(voices)
    )


def measure(
    original: Path,
    variants: dict[str, Path],
    voices: Path,
    sentences: Sequence[str],
    voice: str = "jm_kumo",
    threads: int = 2,
    rounds: int = 1,
    transcriber: Any | None = None,
) -> list[dict[str, Any]]:
    """Every variant against ``kokoro-onnx``'s ``create()`` on ``original``, each through the
    same ``create()`` with the same thread count, sentence by sentence in turn (a busy machine
    slows all alike). Rows: seconds per sentence and its ratio to the original's, size, MCD
    from the original's audio, WER through whisper (with a ``transcriber``) and the gate's
    verdict (:func:`~.toolkit.gate.judge`)."""

    models = {BASELINE: original, **variants}
    engines = {name: kokoro_onnx(path, voices, threads) for name, path in models.items()}
    for engine in engines.values():
        engine.create("Hello.", voice)  # warm-up: the first run allocates
    seconds = dict.fromkeys(engines, 0.0)
    audio: dict[str, list[np.ndarray]] = {name: [] for name in engines}
    for round_ in range(rounds):
        for text in sentences:
            for name, engine in engines.items():
                started = time.perf_counter()
                samples, _ = engine.create(text, voice)
                seconds[name] += time.perf_counter() - started
                if round_ == 0:
                    audio[name].append(samples)
    runs = rounds * len(sentences)
    heard = {}
    if transcriber is not None:
        heard = {
            name: [transcriber.transcribe(a, SAMPLE_RATE) for a in clips]
            for name, clips in audio.items()
        }
    rows = []
    for name, path in models.items():
        row: dict[str, Any] = {
            "candidate": name,
            "s_per_sentence": round(seconds[name] / runs, 3),
            "vs_kokoro_onnx": round(seconds[name] / seconds[BASELINE], 3),
            "speedup": round(seconds[BASELINE] / seconds[name], 3),
            "size_mb": round(Path(path).stat().st_size / 1e6, 1),
        }
        distances = [
            mel_cepstral_distortion(a, b, SAMPLE_RATE)
            for a, b in zip(audio[BASELINE], audio[name], strict=True)
        ]
        quality: dict[str, Any] = {
            "sentences": len(sentences),
            "mcd_db_mean": float(np.mean(distances)),
        }
        if heard:
            quality["wer_original"] = word_error_rate(sentences, heard[BASELINE])
            quality["wer_variant"] = word_error_rate(sentences, heard[name])
            row["wer_pct"] = round(100 * quality["wer_variant"], 2)
            row["wer_delta_points"] = round(
                100 * (quality["wer_variant"] - quality["wer_original"]), 2
            )
        row["mcd_db"] = round(quality["mcd_db_mean"], 3)
        verdict = judge(quality)
        row["gate"] = "original" if name == BASELINE else "pass" if verdict.usable else "fail"
        row["reasons"] = "; ".join(verdict.reasons)
        rows.append(row)
    return rows


def build_recipe(
    recipe: str, source: Path, path: Path, float_path: Path, feeds: Callable[[], list[dict]]
) -> dict[str, Any]:
    """Build ``recipe`` (a name of :data:`RECIPES`) from the int8 ``source`` into ``path``.
    The fp16 and static recipes start from the float graph at ``float_path`` (made from
    ``source`` when missing; the caller keeps or deletes it); ``feeds()`` gives the static
    recipes' calibration inputs (:func:`calibration_feeds`). Returns the recipe's facts."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown Kokoro recipe {recipe!r}; known: {', '.join(RECIPES)}")
    if recipe in FLOAT_OPS:
        return build_float(source, path, FLOAT_OPS[recipe])
    if not float_path.is_file():
        build_float(source, float_path)
    if recipe == "fp16":
        return build_fp16(float_path, path)
    return build_static(float_path, path, feeds(), STATIC_EXCLUDES[recipe])


def build_all(
    original: Path, folder: Path, voices: Path, recipes: Sequence[str]
) -> dict[str, Path]:
    """Build the ``recipes`` (names of :data:`RECIPES`) from ``original`` into ``folder``;
    existing files are reused. Returns {recipe: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    built: dict[str, Path] = {}

    def feeds() -> list[dict]:
        engine = kokoro_onnx(original, voices, 0)
        return calibration_feeds(engine.tokenizer, engine.voices["jm_kumo"], CALIBRATION)

    for name in recipes:
        path = folder / f"kokoro.{name}.onnx"
        built[name] = path
        if not path.is_file():
            _LOGGER.info("building the Kokoro variant %s", name)
            build_recipe(name, original, path, folder / "kokoro.float.onnx", feeds)
    return built


RECIPES = {
    "float": "every quantized op rebuilt in float from the int8 weights",
    "float-conv": "float Convs (ConvInteger rebuilt), MatMuls and LSTMs left dynamic int8",
    "float-matmul": "float MatMuls and LSTMs, Convs left dynamic int8",
    "fp16": "the float graph, weights of nodes > 5000 parameters in float16",
    "static": "static QDQ int8 of the float graph's Convs and MatMuls; conv_post and the "
    "generator's resblocks float",
    "static-gen": "static QDQ int8 of the float graph's Convs and MatMuls, the generator's "
    "resblocks too; only conv_post float",
    "static-dec": "static QDQ int8 of the decoder's Convs and MatMuls (conv_post float); the "
    "encoder, ALBERT and the predictor float",
}
