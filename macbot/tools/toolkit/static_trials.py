"""Per-node trials for static (QDQ) quantization: seed 003's ``trial-quantization`` applied to
weights *and activations*.

Static QDQ puts QuantizeLinear/DequantizeLinear pairs on a node's inputs and outputs so that
onnxruntime runs it as an integer kernel (``QLinearConv``, ``QLinearAdd`` …). On a Piper voice
the convolutions quantize cheaply, while some activations (the residual sums) cost words. A
trial measures, one node at a time, what quantizing it costs in spectral distance (mel-cepstral
distortion from the float model, :mod:`.spectral`) and what it saves in time:

- ``add``: the base quantizes every ``Conv`` (``conv_post`` excluded, seed 003's lesson); a
  trial quantizes one more node;
- ``drop``: the base quantizes every node (``conv_post`` excluded); a trial keeps one node's
  *output* in float: QDQ rounds tensors, not nodes, so the node and the consumers of its
  output that are not convolutions (those quantize their own inputs) are left out together
  (:func:`float_unit`). Leaving out one node alone changes nothing: its neighbours still
  round the same tensors (measured: 0.000 dB for every Add and LeakyRelu of the decoder).

Activation ranges are calibrated once and reused for every trial (onnxruntime's calibration
cache), so a trial of a split voice's decoder costs one quantization pass (a fraction of a
second) and a few decodes. :func:`select` then picks the nodes worth quantizing by cost per
millisecond, and :func:`quantize_nodes` writes the model.
"""

from __future__ import annotations

import csv
import inspect
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ...core.sessions import SessionPlan, open_session
from ...core.spectral import mel_cepstral_distortion
from .extras import require
from .graph import load_model
from .quantizer import FeedReader, quiet_quantizer_logs

MODES = ("add", "drop")
ALWAYS_FLOAT = r"conv_post"
"""Node names never quantized: the decoder's last convolution adds audible static (seed 003)."""
SKIP_OPS = ("Unsqueeze", "Squeeze", "Reshape", "Shape", "Constant", "Cast", "Tanh")
"""Nodes not worth a trial: no arithmetic, or (Tanh) the output itself."""


@dataclass
class Subject:
    """A model under trial: its file, the feeds to calibrate and to test on, and how its
    outputs become audio (a decoder's output is audio; an encoder's latent goes through the
    float decoder)."""

    model: Path
    calibration: list[dict[str, np.ndarray]]
    tests: list[dict[str, np.ndarray]]
    audio: Callable[[list[np.ndarray]], np.ndarray]
    sample_rate: int


@dataclass
class TrialRow:
    """One node's trial (one CSV row)."""

    name: str
    op_type: str
    mode: str
    distance_db: float
    """Mean mel-cepstral distortion of the trial model from the float model."""
    delta_db: float
    """``distance_db`` minus the base's: what this node's quantization costs (``add``) or
    what keeping it in float saves (``drop``)."""
    ms_saved: float
    """Per test sentence, base time minus trial time (``add``: positive when quantizing the
    node speeds up; ``drop``: negative when keeping it float slows down)."""
    params: int


CSV_FIELDS = tuple(f.name for f in fields(TrialRow))


@dataclass
class Measured:
    """Distance and time of one model on the subject's test feeds."""

    distance_db: float
    seconds: float


def trial_nodes(model_path: Path, exclude: str | None = ALWAYS_FLOAT) -> list[tuple[str, str]]:
    """(name, op type) of every node worth a trial: arithmetic nodes not matched by
    ``exclude``, in graph order."""
    regex = re.compile(exclude) if exclude else None
    model = load_model(model_path)
    return [
        (n.name, n.op_type)
        for n in model.graph.node
        if n.op_type not in SKIP_OPS and not (regex and regex.search(n.name))
    ]


CONVOLUTIONS = ("Conv", "ConvTranspose")


def float_unit(model: Any, name: str) -> list[str]:
    """The nodes to leave out of quantization so that node ``name``'s output stays float: the
    node and every consumer of its outputs that is not a convolution."""
    node = next(n for n in model.graph.node if n.name == name)
    outputs = set(node.output)
    consumers = [
        n.name
        for n in model.graph.node
        if n.op_type not in CONVOLUTIONS and outputs.intersection(n.input)
    ]
    return [name, *consumers]


def _params(model_path: Path) -> dict[str, int]:
    model = load_model(model_path)
    sizes = {t.name: int(np.prod(t.dims)) for t in model.graph.initializer}
    return {n.name: sum(sizes.get(i, 0) for i in n.input) for n in model.graph.node}


def quantize_nodes(
    subject: Subject,
    output: Path,
    nodes: Sequence[str] | None,
    exclude: Sequence[str] = (),
    per_channel: bool = False,
    cache: Path | None = None,
) -> Path:
    """Static QDQ (uint8 activations, int8 weights, MinMax) of ``nodes`` (``None``: every
    node) minus ``exclude``, calibrated on ``subject.calibration``. ``cache``: a calibration
    cache file (computed on first use with every node, reused after)."""
    require("onnx", "toolkit")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static as ort_quantize_static

    extra: dict[str, Any] = {}
    if (
        cache is not None
        and "calibration_cache_path" in inspect.signature(ort_quantize_static).parameters
    ):
        if not cache.is_file() and nodes is not None:
            # The cache must hold the ranges of every tensor: fill it with all nodes first.
            quantize_nodes(subject, output, None, exclude, per_channel, cache)
        extra["calibration_cache_path"] = str(cache)
    with tempfile.TemporaryDirectory(prefix="macbot-qdq-") as tmp, quiet_quantizer_logs():
        kwargs: dict[str, Any] = dict(extra)
        if "calibration_data_dir" in inspect.signature(ort_quantize_static).parameters:
            kwargs["calibration_data_dir"] = tmp
        ort_quantize_static(
            str(subject.model),
            str(output),
            FeedReader(subject.calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_quantize=list(nodes) if nodes is not None else None,
            nodes_to_exclude=list(exclude) or None,
            calibrate_method=CalibrationMethod.MinMax,
            calibration_providers=["CPUExecutionProvider"],
            extra_options={"CalibTensorRangeSymmetric": False},
            **kwargs,
        )
    return output


class Bench:
    """Runs models on the subject's test feeds: audio, distance from the float model, time."""

    def __init__(self, subject: Subject, threads: int = 0) -> None:
        self.subject = subject
        self.plan = SessionPlan(intra_op_threads=threads)
        self.float = open_session(subject.model, self.plan)
        self.reference = self.render(self.float)

    def render(self, session: Any) -> list[np.ndarray]:
        return [self.subject.audio(session.run(None, feed)) for feed in self.subject.tests]

    def distance(self, audio: Sequence[np.ndarray]) -> float:
        rate = self.subject.sample_rate
        return float(
            np.mean(
                [
                    mel_cepstral_distortion(r, a, rate) if a.size else float("inf")
                    for r, a in zip(self.reference, audio, strict=True)
                ]
            )
        )

    def times(self, sessions: Sequence[Any], reps: int = 2) -> list[float]:
        """Seconds per test sentence of each session, timed in turn feed by feed."""
        totals = [0.0] * len(sessions)
        for session in sessions:
            session.run(None, self.subject.tests[0])
        for _ in range(reps):
            for feed in self.subject.tests:
                for i, session in enumerate(sessions):
                    started = time.perf_counter()
                    session.run(None, feed)
                    totals[i] += time.perf_counter() - started
        return [t / (reps * len(self.subject.tests)) for t in totals]

    def measure(self, model: Path, reps: int = 2) -> Measured:
        """Distance from the float model and seconds per sentence (``reps`` 0: not timed)."""
        session = open_session(model, self.plan)
        distance = self.distance(self.render(session))
        return Measured(distance, self.times([session], reps)[0] if reps else 0.0)


def run_trials(
    subject: Subject,
    mode: str = "add",
    nodes: Sequence[tuple[str, str]] | None = None,
    threads: int = 0,
    reps: int = 2,
    work_dir: Path | None = None,
    done: Callable[[TrialRow], None] | None = None,
) -> tuple[dict[str, Measured], list[TrialRow]]:
    """Trial every node of ``nodes`` (default: :func:`trial_nodes`) in ``mode``.

    Returns the measurements of the float model and the two bases (``float``, ``conv``,
    ``all``) and one row per node. Each trial is timed side by side with its base over
    ``reps`` passes (0: distance only, ``ms_saved`` 0).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    model = load_model(subject.model)
    always = [n.name for n in model.graph.node if re.search(ALWAYS_FLOAT, n.name)]
    convs = [n.name for n in model.graph.node if n.op_type == "Conv" and n.name not in always]
    if nodes is None:  # in "add" mode the Convs are in the base already
        nodes = [n for n in trial_nodes(subject.model) if mode == "drop" or n[0] not in convs]
    params = _params(subject.model)
    bench = Bench(subject, threads)
    with tempfile.TemporaryDirectory(prefix="macbot-trials-") as tmp:
        folder = Path(work_dir or tmp)
        cache = folder / "calibration-ranges.json"
        all_path = quantize_nodes(subject, folder / "base-all.onnx", None, always, cache=cache)
        conv_path = quantize_nodes(subject, folder / "base-conv.onnx", convs, always, cache=cache)
        bases = {
            "float": Measured(0.0, bench.times([bench.float], reps)[0] if reps else 0.0),
            "conv": bench.measure(conv_path, reps=reps),
            "all": bench.measure(all_path, reps=reps),
        }
        base_path = conv_path if mode == "add" else all_path
        base = open_session(base_path, bench.plan)
        base_distance = bases["conv" if mode == "add" else "all"].distance_db
        rows = []
        trial = folder / "trial.onnx"
        for name, op_type in nodes:
            if mode == "add":
                quantize_nodes(subject, trial, [*convs, name], always, cache=cache)
            else:
                quantize_nodes(
                    subject, trial, None, [*always, *float_unit(model, name)], cache=cache
                )
            session = open_session(trial, bench.plan)
            distance = bench.distance(bench.render(session))
            base_s, trial_s = bench.times([base, session], reps) if reps else (0.0, 0.0)
            row = TrialRow(
                name=name,
                op_type=op_type,
                mode=mode,
                distance_db=round(distance, 4),
                delta_db=round(distance - base_distance, 4),
                ms_saved=round(1000 * (base_s - trial_s), 3),
                params=params.get(name, 0),
            )
            rows.append(row)
            if done is not None:
                done(row)
    return bases, rows


def select(
    rows: Sequence[TrialRow], max_delta_db: float, mode: str = "add", model: Any = None
) -> tuple[list[str], list[str]]:
    """(nodes to quantize, nodes to keep in float) from trials of one mode.

    ``add``: a node is quantized when quantizing it alone cost at most ``max_delta_db``.
    ``drop``: a node's output stays float when that alone lowered the distance by more than
    ``max_delta_db`` (``delta_db`` below ``-max_delta_db``); with ``model`` (the ONNX model
    tried) the kept nodes include each one's :func:`float_unit`.
    """
    rows = [r for r in rows if r.mode == mode]
    if mode == "add":
        chosen = [r.name for r in rows if r.delta_db <= max_delta_db]
        return chosen, [r.name for r in rows if r.name not in chosen]
    heads = [r.name for r in rows if r.delta_db < -max_delta_db]
    kept = list(dict.fromkeys(n for h in heads for n in (float_unit(model, h) if model else [h])))
    return [r.name for r in rows if r.name not in kept], kept


def write_csv(rows: Sequence[TrialRow], path: Path) -> Path:
    """One header line (:data:`CSV_FIELDS`), one row per trial."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    return Path(path)


def read_csv(path: Path) -> list[TrialRow]:
    """Rows of a static-trials CSV; ``ValueError`` naming the file if its columns are wrong."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != CSV_FIELDS:
            raise ValueError(f"{path}: expected columns {', '.join(CSV_FIELDS)}")
        return [
            TrialRow(
                name=r["name"],
                op_type=r["op_type"],
                mode=r["mode"],
                distance_db=float(r["distance_db"]),
                delta_db=float(r["delta_db"]),
                ms_saved=float(r["ms_saved"]),
                params=int(r["params"]),
            )
            for r in reader
        ]
