"""Splitting a Piper voice into an encoder and a decoder, so the decoder can run in chunks.

A Piper (VITS) graph ends in a HiFi-GAN decoder whose nodes are named ``/dec/…``. That
subgraph reads exactly one tensor from the rest of the graph: the latent ``z`` of shape
``[1, channels, frames]`` (``/Mul_7_output_0`` in the joe voice). Cutting there gives

- ``encoder.onnx``: the voice's inputs (``input``, ``input_lengths``, ``scales``[, ``sid``])
  → the latent, and the duration predictor's frames per phoneme id (``w_ceil``, the graph's
  ``Ceil``: ``[1, 1, ids]``), from which the engine times words (format 2; a format-1 split
  has no durations and gives no word timings);
- ``decoder.onnx``: the latent (frame axis dynamic) → the voice's audio output;
- ``decoder.static<F>.onnx``: the same decoder with the frame axis fixed at ``F`` frames
  (chunk + 2 × context), the form onnxruntime's CoreML provider and the Neural Engine need;
- ``prior.onnx`` and ``flow.onnx`` (format 3): the encoder cut once more before its flow
  (``/flow/…``, the normalizing flow from the prior's ``z_p`` to the latent). The prior (text
  encoder, duration predictor, the frames it expands to) runs on phoneme ids; the flow is
  convolutional over frames, so the first decoder window's latent can come from a flow run over
  only its frames plus :data:`FLOW_CONTEXT`, which is exact (measured 0.0 from 32 frames on
  joe; the four coupling layers' four kernel-5 convolutions reach 32 frames). The opening run
  of a streamed request uses them (:class:`~macbot.core.engines.chunked.FlowLatent`): its
  first audio waits for the prior and that short flow run, not the whole encoder.

They live in ``optimized_models/<voice>.split/`` with ``manifest.json`` (see
:mod:`macbot.manifest`): the source's SHA-256, the cut tensor, the hop length, the measured
maximum difference against the full model, the calibrated streaming gain and the file sizes.

Making a split needs the ``onnx`` package (the ``toolkit`` extra); *using* one made earlier
(:mod:`macbot.core.engines.chunked`, which also finds it) needs only onnxruntime.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.engines import SynthesisOptions, registry
from ..core.engines.chunked import (
    DECODER_FILE,
    DEFAULT_CHUNK_FRAMES,
    DEFAULT_CONTEXT_FRAMES,
    ENCODER_FILE,
    FLOW_CONTEXT,
    FLOW_FILE,
    PRIOR_FILE,
    split_dir_for,
    static_decoder_file,
)
from ..core.hashing import file_sha256
from ..core.manifests import Manifest, Verdict
from ..core.sessions import SessionPlan, open_session
from ..core.voices import VoiceInfo
from ..errors import ModelUnsupportedError
from .toolkit.extras import require

if TYPE_CHECKING:  # onnx is optional at run time (toolkit extra)
    import onnx

_LOGGER = logging.getLogger(__name__)

DECODER_PREFIX = "/dec/"
"""Node-name prefix of the decoder subgraph in Piper's exports."""

GAIN_HEADROOM = 0.9
"""Streamed audio peaks at most this on the calibration sentences (about -0.9 dB)."""
MAX_DIFF = 1e-5
"""Largest absolute difference between split and full model accepted as "identical"."""

CHECK_TEXTS = (
    "Good morning, the weather today is sunny with a light breeze from the west.",
    "I have set a timer for ten minutes.",
    "Your next meeting starts in fifteen minutes in the small conference room, "
    "and the agenda has been shared with everyone who was invited last week.",
    "Yes.",
)
"""Sentences the pair is checked on (short, medium, long) with noise scales 0."""

CALIBRATION_TEXTS = (
    *CHECK_TEXTS,
    "The package you ordered last Tuesday will arrive tomorrow before noon.",
    "Turning off the lights in the living room and the kitchen now.",
    "There are three new messages from your team about the quarterly report.",
    "Playing your favourite playlist at a comfortable volume.",
    "The traffic on your usual route to work is heavier than normal, so leave early.",
    "What time is it?",
    "Okay!",
    "Reminder: call the dentist at four thirty.",
)
"""Sentences whose raw peaks calibrate the streaming gain (see :func:`calibrate_gain`)."""


SPLIT_FORMAT = 3
"""Version of the split's layout in its manifest (``parameters.format``): 2 adds the encoder's
second output, the phoneme durations (splits made before have none); 3 adds the prior and the
flow (``prior.onnx``, ``flow.onnx``) when the voice's graph has them."""

FLOW_PREFIX = "/flow/"
"""Node-name prefix of the normalizing flow in Piper's exports."""


def split_format(folder: Path) -> int:
    """The layout version of the split in ``folder`` (1: made before the format was recorded,
    without phoneme durations)."""
    return int(Manifest.load(folder).parameters.get("format", 1))


class SplitError(ModelUnsupportedError):
    """The voice's graph does not have the shape a split needs; the message says what."""


class SplitCheckError(ModelUnsupportedError):
    """The split pair does not reproduce the full model."""


def require_onnx() -> Any:
    """The ``onnx`` package, or :class:`~macbot.errors.MissingExtraError` naming the extra."""
    return require("onnx", "toolkit")


# -- finding the cut ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cut:
    """Where a voice's graph splits."""

    tensor: str
    """The single tensor the decoder subgraph reads from outside itself."""
    channels: int
    """Latent channels (the decoder's first convolution's input channels)."""
    hop_length: int
    """Audio samples per latent frame (product of the decoder's upsampling strides)."""
    decoder_nodes: int
    total_nodes: int
    durations: str | None = None
    """The duration predictor's rounded frames per phoneme id (the ``Ceil`` tensor, piper's
    ``w_ceil``); ``None`` when the graph has no single ``Ceil``."""


def find_cut(model: onnx.ModelProto, prefix: str = DECODER_PREFIX) -> Cut:
    """Find the encoder/decoder cut of a Piper graph.

    The decoder is the set of nodes whose names start with ``prefix``; its outside inputs are
    the tensors its nodes read that are neither produced inside it, nor initializers, nor
    outputs of ``Constant`` nodes. A splittable voice has exactly one, of rank 3
    ``[batch, channels, frames]``, produced by a node outside the decoder, and the graph's
    outputs depend on nothing else of the encoder. Raises :class:`SplitError` naming what is
    wrong otherwise.
    """
    graph = model.graph
    dec = [n for n in graph.node if n.name.startswith(prefix)]
    if not dec:
        raise SplitError(f"no decoder subgraph: no node name starts with {prefix!r}")
    produced = {o for n in dec for o in n.output}
    initializers = {i.name for i in graph.initializer}
    constants = {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    graph_inputs = {i.name for i in graph.input}
    outside: list[str] = []
    for node in dec:
        for name in node.input:
            if name and name not in produced | initializers | constants and name not in outside:
                outside.append(name)
    if len(outside) != 1:
        raise SplitError(
            f"the decoder subgraph ({prefix}*) reads {len(outside)} tensors from outside "
            f"({', '.join(outside) or 'none'}); a split needs exactly one (multi-speaker voices "
            "whose decoder also reads the speaker embedding are not supported)"
        )
    cut = outside[0]
    if cut in graph_inputs:
        raise SplitError(f"the decoder's input {cut!r} is a graph input: nothing to split off")
    # The graph's outputs must be reachable from the cut alone (plus constants).
    producers = {o: n for n in graph.node for o in n.output}
    for output in graph.output:
        _check_depends_only_on(output.name, cut, producers, initializers)
    first = next((n for n in dec if cut in n.input), None)
    if first is None or first.op_type != "Conv":
        raise SplitError(f"the decoder does not start with a Conv reading {cut!r}")
    weights = {i.name: i for i in graph.initializer}
    weight = weights.get(first.input[1])
    if weight is None or len(weight.dims) != 3:
        raise SplitError(f"the decoder's first Conv ({first.name}) has no 1-D conv weight")
    hop = 1
    for node in dec:
        if node.op_type == "ConvTranspose":
            strides = [a.ints for a in node.attribute if a.name == "strides"]
            hop *= int(strides[0][0]) if strides and strides[0] else 1
    ceils = [
        n.output[0] for n in graph.node if n.op_type == "Ceil" and not n.name.startswith(prefix)
    ]
    return Cut(
        tensor=cut,
        durations=ceils[0] if len(ceils) == 1 else None,
        channels=int(weight.dims[1]),
        hop_length=hop,
        decoder_nodes=len(dec),
        total_nodes=len(graph.node),
    )


def _check_depends_only_on(
    name: str, cut: str, producers: dict[str, Any], initializers: set[str]
) -> None:
    seen: set[str] = set()
    stack = [name]
    while stack:
        tensor = stack.pop()
        if tensor in seen or tensor == cut or tensor in initializers or not tensor:
            continue
        seen.add(tensor)
        node = producers.get(tensor)
        if node is None:
            raise SplitError(
                f"the output {name!r} depends on the graph input {tensor!r} besides the "
                f"decoder's input {cut!r}"
            )
        stack.extend(node.input)


@dataclass(frozen=True)
class FlowCut:
    """Where the encoder splits before its flow: the flow reads ``prior`` (``z_p``,
    ``[batch, channels, frames]``) and ``mask`` (``[batch, 1, frames]``) and gives the cut."""

    prior: str
    mask: str


def find_flow(
    model: onnx.ModelProto,
    cut: Cut,
    prefix: str = FLOW_PREFIX,
    inferred: onnx.ModelProto | None = None,
) -> FlowCut | None:
    """The flow's two inputs, or ``None`` when the graph has no flow of that shape.

    The flow is the nodes named ``prefix…`` and the unnamed ones they feed; its inputs are
    the tensors its named nodes read from upstream of all of them (not initializers or
    constants). A flow reads exactly two: the prior (``channels`` channels) and the mask.
    ``inferred``: ``model`` with its shapes inferred (default: inferred here)."""
    onnx = require_onnx()
    graph = model.graph
    flow = [n for n in graph.node if n.name.startswith(prefix)]
    if not flow:
        return None
    downstream = {o for n in flow for o in n.output}
    for node in graph.node:  # topological order
        if downstream.intersection(node.input):
            downstream.update(node.output)
    if cut.tensor not in downstream:
        return None
    static = {i.name for i in graph.initializer}
    static |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    inputs = []
    for node in flow:
        for name in node.input:
            if name and name not in downstream | static and name not in inputs:
                inputs.append(name)
    if len(inputs) != 2:
        return None
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (inferred or onnx.shape_inference.infer_shapes(model)).graph.value_info
    }
    channels = {name: (shapes.get(name) or [0, 0])[1] for name in inputs}
    prior = [n for n in inputs if channels[n] == cut.channels]
    mask = [n for n in inputs if channels[n] == 1]
    if len(prior) != 1 or len(mask) != 1:
        return None
    return FlowCut(prior=prior[0], mask=mask[0])


# -- writing the pair --------------------------------------------------------------------------


def _set_frames(model: onnx.ModelProto, channels: int, frames: int | str) -> None:
    """Give the decoder's input the shape ``[1, channels, frames]`` (int: static)."""
    onnx = require_onnx()
    value = model.graph.input[0]
    dims = [1, channels, frames]
    value.type.CopyFrom(onnx.helper.make_tensor_type_proto(onnx.TensorProto.FLOAT, dims))
    for output in model.graph.output:  # symbolic dims: shape inference fills in what it can
        rank = len(output.type.tensor_type.shape.dim)
        dims = [f"{output.name}_{i}" for i in range(rank)]
        output.type.CopyFrom(onnx.helper.make_tensor_type_proto(onnx.TensorProto.FLOAT, dims))


def extract(
    model: onnx.ModelProto, cut: Cut, inferred: onnx.ModelProto | None = None
) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """The encoder (voice inputs → cut and, when the graph has them, the phoneme durations)
    and decoder (cut → voice outputs) of ``model``; ``inferred``: ``model`` with its shapes
    inferred (default: inferred here; shape inference on a whole voice takes seconds)."""
    onnx = require_onnx()
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    extractor = onnx.utils.Extractor(inferred or onnx.shape_inference.infer_shapes(model))
    encoder_outputs = [cut.tensor, *([cut.durations] if cut.durations else [])]
    encoder = extractor.extract_model(inputs, encoder_outputs)
    decoder = extractor.extract_model([cut.tensor], outputs)
    for part in (encoder, decoder):
        part.graph.ClearField("value_info")  # stale shapes from the whole graph
        del part.opset_import[:]
        part.opset_import.extend(model.opset_import)
        part.ir_version = model.ir_version
    _set_frames(decoder, cut.channels, "frames")
    encoder.graph.output[0].type.CopyFrom(
        onnx.helper.make_tensor_type_proto(
            onnx.TensorProto.FLOAT, ["batch_size", cut.channels, "frames"]
        )
    )
    if cut.durations:
        encoder.graph.output[1].type.CopyFrom(
            onnx.helper.make_tensor_type_proto(onnx.TensorProto.FLOAT, ["batch_size", 1, "ids"])
        )
    onnx.checker.check_model(encoder)
    onnx.checker.check_model(decoder)
    return encoder, decoder


def extract_flow(
    model: onnx.ModelProto,
    cut: Cut,
    flow: FlowCut,
    inferred: onnx.ModelProto | None = None,
) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """The prior (voice inputs → ``z_p``, the mask and, when the graph has them, the phoneme
    durations) and the flow (``z_p``, mask → the cut) of ``model``; ``inferred`` as for
    :func:`extract`."""
    onnx = require_onnx()
    inputs = [i.name for i in model.graph.input]
    extractor = onnx.utils.Extractor(inferred or onnx.shape_inference.infer_shapes(model))
    prior_outputs = [flow.prior, flow.mask, *([cut.durations] if cut.durations else [])]
    prior = extractor.extract_model(inputs, prior_outputs)
    flow_model = extractor.extract_model([flow.prior, flow.mask], [cut.tensor])
    for part in (prior, flow_model):
        part.graph.ClearField("value_info")
        del part.opset_import[:]
        part.opset_import.extend(model.opset_import)
        part.ir_version = model.ir_version
        onnx.checker.check_model(part)
    return prior, flow_model


def check_flow(
    engine: Any,
    split_dir: Path,
    texts: Sequence[str] = CHECK_TEXTS,
    head: int = DEFAULT_CHUNK_FRAMES + DEFAULT_CONTEXT_FRAMES,
    encoder: Any = None,
) -> float:
    """The largest difference, over ``texts``, between the encoder's latent and the flow's
    output over only the first ``head`` frames plus :data:`FLOW_CONTEXT` (the first decoder
    window of a streamed sentence), and between the encoder's latent and prior → flow.
    ``encoder``: the split's encoder session (default: opened here)."""
    plan = SessionPlan()
    encoder = encoder or open_session(split_dir / ENCODER_FILE, plan)
    prior = open_session(split_dir / PRIOR_FILE, plan)
    flow = open_session(split_dir / FLOW_FILE, plan)
    names = [i.name for i in flow.get_inputs()]
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    worst = 0.0
    for text in texts:
        for sentence in engine.sentences(text):
            feed = engine.model_inputs(sentence.phoneme_ids, options)
            latent = encoder.run(None, feed)[0]
            z_p, mask = prior.run(None, feed)[:2]
            whole = flow.run(None, dict(zip(names, (z_p, mask), strict=True)))[0]
            stop = head + FLOW_CONTEXT
            part = flow.run(
                None, dict(zip(names, (z_p[..., :stop], mask[..., :stop]), strict=True))
            )
            first = part[0][..., :head]
            worst = max(
                worst,
                float(np.max(np.abs(whole - latent))),
                float(np.max(np.abs(first - latent[..., : first.shape[-1]]))),
            )
    return worst


def export_static_decoder(split_dir: Path, frames: int) -> Path:
    """Write ``decoder.static<frames>.onnx`` beside ``decoder.onnx``: the same weights with the
    input fixed at ``[1, channels, frames]`` and shapes inferred through the graph."""
    onnx = require_onnx()
    if frames < 1:
        raise ValueError(f"frames must be positive, got {frames}")
    split_dir = Path(split_dir)
    decoder = onnx.load(str(split_dir / DECODER_FILE))
    channels = decoder.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    _set_frames(decoder, channels, int(frames))
    decoder = onnx.shape_inference.infer_shapes(decoder)
    onnx.checker.check_model(decoder)
    path = split_dir / static_decoder_file(frames)
    onnx.save(decoder, str(path))
    return path


# -- checking ----------------------------------------------------------------------------------


def load_sessions(voice: VoiceInfo, split_dir: Path) -> tuple[Any, Any, Any]:
    """(unsplit engine, encoder session, decoder session), all on the CPU."""
    plan = SessionPlan()
    engine = registry.load(voice, plan=plan)
    return (
        engine,
        open_session(split_dir / ENCODER_FILE, plan),
        open_session(split_dir / DECODER_FILE, plan),
    )


def check_split(
    voice: VoiceInfo,
    split_dir: Path,
    texts: Sequence[str] = CHECK_TEXTS,
    sessions: tuple[Any, Any, Any] | None = None,
) -> dict[str, Any]:
    """Run full model and encoder → decoder on ``texts`` with noise scales 0.

    Returns ``max_abs_diff`` (over all samples of all sentences), ``sentences``, ``frames``
    (latent frames per sentence) and ``hop_length`` (measured: samples / frames).
    ``sessions``: from :func:`load_sessions` (default: loaded here).
    """
    engine, encoder, decoder = sessions or load_sessions(voice, split_dir)
    full = engine.session
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    worst = 0.0
    frames: list[int] = []
    hops: set[int] = set()
    count = 0
    for text in texts:
        for sentence in engine.sentences(text):
            feed = engine.model_inputs(sentence.phoneme_ids, options)
            reference = full.run(None, feed)[0].reshape(-1)
            latent = encoder.run(None, feed)[0]
            audio = decoder.run(None, {decoder.get_inputs()[0].name: latent})[0].reshape(-1)
            if audio.shape != reference.shape:
                raise SplitCheckError(
                    f"split output has {audio.size} samples, the full model {reference.size}"
                )
            worst = max(worst, float(np.max(np.abs(audio - reference))))
            frames.append(int(latent.shape[-1]))
            hops.add(audio.size // latent.shape[-1])
            count += 1
    return {
        "max_abs_diff": worst,
        "sentences": count,
        "frames": frames,
        "hop_length": sorted(hops)[0] if len(hops) == 1 else sorted(hops),
    }


def calibrate_gain(
    voice: VoiceInfo,
    split_dir: Path,
    texts: Sequence[str] = CALIBRATION_TEXTS,
    sessions: tuple[Any, Any, Any] | None = None,
) -> dict[str, float]:
    """The fixed gain that streamed audio is scaled by, in place of Piper's per-sentence peak
    scaling (the peak is unknown until the last chunk is decoded).

    Measures the raw peak of each sentence (voice's own noise scales, as spoken, so the peaks
    vary a little run to run) and returns ``gain = GAIN_HEADROOM / max(peaks)``, so no
    calibration sentence comes near clipping, plus the peak statistics.
    """
    engine = (sessions or load_sessions(voice, split_dir))[0]
    peaks = []
    for text in texts:
        for sentence in engine.sentences(text):
            audio = engine.infer(sentence.phoneme_ids, SynthesisOptions())
            peaks.append(float(np.max(np.abs(audio))))
    top = max(peaks)
    return {
        "gain": round(GAIN_HEADROOM / top, 6) if top > 1e-8 else 1.0,
        "peak_max": round(top, 6),
        "peak_median": round(float(np.median(peaks)), 6),
        "peak_min": round(min(peaks), 6),
        "sentences": len(peaks),
    }


def _split_flow(
    model: onnx.ModelProto,
    inferred: onnx.ModelProto,
    cut: Cut,
    out: Path,
    sessions: tuple[Any, Any, Any],
) -> dict[str, Any]:
    """Write ``prior.onnx`` and ``flow.onnx`` into ``out`` when the graph has a flow whose
    windows are exact (:func:`check_flow` within :data:`MAX_DIFF`); their manifest parameters,
    or none (the files removed) when not: the split then streams without them. ``inferred``:
    ``model`` with its shapes inferred; ``sessions``: :func:`load_sessions`'."""
    onnx = require_onnx()
    flow = find_flow(model, cut, inferred=inferred)
    paths = (out / PRIOR_FILE, out / FLOW_FILE)
    if flow is not None:
        for part, path in zip(extract_flow(model, cut, flow, inferred), paths, strict=True):
            onnx.save(part, str(path))
        engine, encoder, _decoder = sessions
        diff = check_flow(engine, out, encoder=encoder)
        if diff <= MAX_DIFF:
            return {
                "prior": PRIOR_FILE,
                "flow": FLOW_FILE,
                "flow_inputs": [flow.prior, flow.mask],
                "flow_context": FLOW_CONTEXT,
                "flow_max_diff": diff,
            }
        _LOGGER.warning(
            "not using the flow's windows for %s: they differ from the encoder by %.3g",
            out.name,
            diff,
        )
    else:
        _LOGGER.info("%s has no flow to split off: the first audio waits for its encoder", out)
    for path in paths:
        path.unlink(missing_ok=True)
    return {}


# -- the whole job -----------------------------------------------------------------------------


def split_voice(
    voice: VoiceInfo,
    optimized_dir: Path,
    static_frames: Sequence[int] = (),
    prefix: str = DECODER_PREFIX,
) -> Manifest:
    """Split ``voice``, check the pair against the full model, calibrate the streaming gain,
    export static decoders of ``static_frames`` frames, and write the manifest.

    Raises :class:`SplitError` (wrong graph shape), :class:`SplitCheckError` (the pair does
    not reproduce the model within :data:`MAX_DIFF`), :class:`~macbot.errors.MissingExtraError`.
    """
    onnx = require_onnx()
    started = time.perf_counter()
    model = onnx.load(str(voice.model_path))
    cut = find_cut(model, prefix)
    inferred = onnx.shape_inference.infer_shapes(model)  # once: seconds on a whole voice
    encoder, decoder = extract(model, cut, inferred)
    out = split_dir_for(voice, optimized_dir)
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(encoder, str(out / ENCODER_FILE))
    onnx.save(decoder, str(out / DECODER_FILE))
    sessions = load_sessions(voice, out)
    check = check_split(voice, out, sessions=sessions)
    if check["hop_length"] != cut.hop_length:
        raise SplitCheckError(
            f"decoder gives {check['hop_length']} samples per frame, its strides say "
            f"{cut.hop_length}"
        )
    if not check["max_abs_diff"] <= MAX_DIFF:
        raise SplitCheckError(
            f"encoder → decoder differs from the full model by {check['max_abs_diff']:.3g} "
            f"(> {MAX_DIFF:g})"
        )
    flow_params = _split_flow(model, inferred, cut, out, sessions)
    del inferred
    flow_files = (PRIOR_FILE, FLOW_FILE) if flow_params else ()
    statics = {}
    for frames in sorted(set(static_frames)):
        statics[str(frames)] = export_static_decoder(out, frames).name
    gain = calibrate_gain(voice, out, sessions=sessions)
    del sessions
    sizes = {
        "source": voice.model_path.stat().st_size,
        "encoder": (out / ENCODER_FILE).stat().st_size,
        "decoder": (out / DECODER_FILE).stat().st_size,
        **{f"decoder.static{f}": (out / n).stat().st_size for f, n in statics.items()},
        **{n.removesuffix(".onnx"): (out / n).stat().st_size for n in flow_files},
    }
    sizes["output"] = sum(v for k, v in sizes.items() if k != "source")
    manifest = Manifest(
        method="split",
        source=str(voice.model_path),
        source_sha256=file_sha256(voice.model_path),
        parameters={
            "voice": voice.name,
            "cut_tensor": cut.tensor,
            "decoder_prefix": prefix,
            "channels": cut.channels,
            "hop_length": cut.hop_length,
            "decoder_nodes": cut.decoder_nodes,
            "format": SPLIT_FORMAT,
            "durations_output": cut.durations,
            "total_nodes": cut.total_nodes,
            "encoder": ENCODER_FILE,
            "decoder": DECODER_FILE,
            "static_decoders": statics,
            "gain": gain["gain"],
            **flow_params,
        },
        sizes=sizes,
        quality={
            "max_abs_diff": check["max_abs_diff"],
            "check_sentences": check["sentences"],
            "check_frames": check["frames"],
            "noise_scales": 0.0,
            "calibration": gain,
        },
        verdict=Verdict(
            usable=True,
            reasons=[
                f"max |split - full| = {check['max_abs_diff']:.3g} <= {MAX_DIFF:g} "
                f"on {check['sentences']} sentences"
            ],
        ),
    )
    manifest.speed = {"split_seconds": round(time.perf_counter() - started, 2)}
    manifest.files = {
        name: file_sha256(out / name)
        for name in (ENCODER_FILE, DECODER_FILE, *flow_files, *statics.values())
    }
    manifest.save(out)
    _LOGGER.info(
        "split %s at %s into %s (max diff %.3g, gain %.3f)",
        voice.name,
        cut.tensor,
        out,
        check["max_abs_diff"],
        gain["gain"],
    )
    return manifest
