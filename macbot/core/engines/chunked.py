"""The chunked engine: a split voice's encoder once per sentence, its decoder chunk by chunk.

The decoder (HiFi-GAN) is convolutional, so audio frames ``[s, e)`` depend only on latent
frames near them. Decoding the window ``[s - context, e + context)`` and keeping the samples of
``[s, e)`` reproduces the full model's samples when ``context`` covers the decoder's receptive
field (measured on the joe voice: ≤ 1.3e-6 from 12 frames, 2e-3 at 8; see the ``split`` benchmark).
At the ends of the sentence the window stops at the sentence's edge, which is exact too: the
full model's convolutions see the same zero padding there.

**Fixed shapes** (``static_frames``): every decoder call gets exactly ``chunk + 2 × context``
frames, the form onnxruntime's CoreML provider and the Neural Engine need. A window that would
cross an edge is shifted inside the sentence (still exact). A sentence shorter than one window
goes to ``short_decoder`` (the dynamic decoder on the encoder's providers, exact) when there is
one; without it the window is zero-padded at the end and the output trimmed, which is not
exact near the end (zeros in the latent are not the convolutions' own edge padding): about
1e-4 on a real one-word sentence, which ends in silence, up to 2e-2 on a latent cut mid-word.

**The flow in windows** (split format 3): the opening run of a streamed request does not wait
for the whole encoder. ``prior.onnx`` gives the flow's input ``z_p`` (text encoder, duration
predictor, the expansion to frames) and ``flow.onnx`` turns it into the latent. The flow is
convolutional over frames too, so the first decoder window's frames come from a flow run over
only them plus :data:`FLOW_CONTEXT` frames (exact: see :mod:`macbot.tools.split`), and the rest
from one run over the whole sentence (:class:`FlowLatent`).

**Normalization**: Piper divides each sentence by its own peak, which is unknown until its last
chunk is decoded. Streamed audio is instead scaled by the voice's calibrated gain (from the
split's manifest: ``0.9 / max raw peak`` over calibration sentences) and clipped to [-1, 1],
so the streamed samples equal the unsplit engine's samples times a per-sentence constant
(``peak × gain``, about 0.58 to 0.9 on the calibration sentences).
:meth:`synthesize_sentence` returns the same audio as the stream in one piece.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
from piper.config import PiperConfig as VoiceConfig

from ...errors import SynthesisError
from ..audio import AudioChunk, WordTiming
from ..hashing import cached_sha256, hash_index
from ..manifests import FOLDER_MANIFEST, Manifest, changed_files, manifest_path
from ..sessions import CPU, Providers, SessionPlan, open_session, shrink_options
from ..timings import shifted, utterance_words
from ..voices import VoiceInfo
from .base import Sentence, SynthesisOptions
from .piper import PiperText, PiperTextEngine, load_voice_config, make_chunk

_LOGGER = logging.getLogger(__name__)

DEFAULT_CHUNK_FRAMES = 32
DEFAULT_CONTEXT_FRAMES = 12
DEFAULT_GROWTH = 4.0
MAX_DECODE_FRAMES = 384
"""The longest decoder call, in latent frames (4.5 s of audio from a 22.05 kHz voice): the
decoder's memory grows with its frames, so a long sentence, or any at speed 0.25 (issue 21:
one sentence of 600 phoneme ids decoded whole added 393 MB), is decoded in windows of at most
this many frames with the usual context, which is exact (see above)."""

ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
PRIOR_FILE = "prior.onnx"
FLOW_FILE = "flow.onnx"
FLOW_CONTEXT = 32
"""Frames of context that make a window of Piper's flow exact: its 4 coupling layers each run
4 convolutions of kernel 5 (2 frames each side), 4 × 4 × 2 = 32 (on joe: 0.0 from 32 frames,
5e-4 at 24, 0.07 at 16)."""
SPLIT_SUFFIX = ".split"
"""A voice's split lives in ``<optimized_dir>/<voice>.split/`` (made by ``macbot split``)."""

CHUNKED = "piper_chunked"
"""The engine type of a split voice decoded in chunks."""

SPLIT_VARIANT = "split-variant"
"""Manifest method of an encoder/decoder pair made from a split (quantized encoder and/or
decoder): a folder ``<voice>.split/<tag>/`` whose ``manifest.json`` names the two files
relative to itself (``../encoder.static.onnx``) with the split's hop length and gain."""


def static_decoder_file(frames: int) -> str:
    """File name of the decoder with a static frame axis of ``frames``."""
    return f"decoder.static{frames}.onnx"


def split_dir_for(voice: VoiceInfo, optimized_dir: Path) -> Path:
    """Where the split of ``voice`` lives: ``<optimized_dir>/<voice>.split/``."""
    return Path(optimized_dir) / f"{voice.name}{SPLIT_SUFFIX}"


def find_split(voice: VoiceInfo, optimized_dir: Path) -> Path | None:
    """The split folder of ``voice`` if one is there and valid, else ``None`` (logged why).

    Valid: ``manifest.json`` reads, its method is ``split``, its verdict is usable, its
    ``source_sha256`` matches the voice's model file (hashed once per file version, see
    :func:`~macbot.core.hashing.cached_sha256`), the files it lists still have their SHA-256,
    and the encoder and decoder exist.
    """
    folder = split_dir_for(voice, optimized_dir)
    if not manifest_path(folder).is_file():
        return None
    try:
        manifest = Manifest.load(folder)
    except (OSError, ValueError, TypeError) as exc:
        _LOGGER.warning("ignoring split %s: unreadable manifest (%s)", folder, exc)
        return None
    reason = None
    if manifest.method != "split":
        reason = f"method is {manifest.method!r}, not 'split'"
    elif manifest.verdict is None or not manifest.verdict.usable:
        reason = "its verdict is not usable"
    elif manifest.source_sha256 != cached_sha256(voice.model_path, hash_index(optimized_dir)):
        reason = f"it was made from another model than {voice.model_path}"
    elif changed := changed_files(
        manifest, folder, lambda p: cached_sha256(p, hash_index(optimized_dir))
    ):
        reason = f"{', '.join(changed)} changed since it was made (damaged, or being rewritten)"
    else:
        missing = [
            name
            for name in (
                manifest.parameters.get("encoder", ENCODER_FILE),
                manifest.parameters.get("decoder", DECODER_FILE),
            )
            if not (folder / name).is_file()
        ]
        if missing:
            reason = f"missing {', '.join(missing)}"
    if reason:
        _LOGGER.warning("ignoring split %s: %s", folder, reason)
        return None
    return folder


def split_variants(voice: VoiceInfo, optimized_dir: Path) -> list[Path]:
    """The pair folders ``<voice>.split/<tag>/`` that have a ``manifest.json`` (whether each
    may be used is the engine chain's check)."""
    folder = split_dir_for(voice, optimized_dir)
    if not folder.is_dir():
        return []
    return sorted(p.parent for p in folder.glob(f"*/{FOLDER_MANIFEST}"))


@dataclass(frozen=True)
class Window:
    """One decoder call: latent frames ``[start, stop)`` (padded to ``size`` frames when
    ``size > stop - start``), of which frames ``[keep_start, keep_stop)`` are the chunk's own."""

    start: int
    stop: int
    keep_start: int
    keep_stop: int
    size: int

    @property
    def padding(self) -> int:
        """Zero frames appended to reach ``size``."""
        return self.size - (self.stop - self.start)


def chunk_sizes(
    frames: int, chunk: int, growth: float = 1.0, largest: int | None = None
) -> list[int]:
    """Sizes of the chunks that cover ``frames``: ``chunk``, then each ``growth`` times the one
    before (rounded up; ``growth`` 0: the rest in one piece) but at most ``largest``, the last
    one cut to fit."""
    if chunk < 1 or not (growth == 0 or growth >= 1):
        raise ValueError(f"chunk must be >= 1 and growth 0 or >= 1 (got {chunk}, {growth})")
    sizes: list[int] = []
    size, done = chunk, 0
    while done < frames:
        sizes.append(min(size, frames - done))
        done += sizes[-1]
        size = frames if growth == 0 else math.ceil(size * growth)
        if largest is not None:
            size = max(1, min(size, largest))
    return sizes


def plan_chunks(
    frames: int,
    chunk: int,
    context: int,
    fixed: bool = False,
    growth: float = 1.0,
    largest: int | None = None,
) -> list[Window]:
    """Decoder windows for a sentence of ``frames`` latent frames.

    Chunks of :func:`chunk_sizes` cover the sentence in order (``growth`` 1: all ``chunk``
    frames, the last one may be shorter; none over ``largest``). Each window adds up to
    ``context`` frames on both sides, cut at the sentence's edges.

    ``fixed``: every window is ``chunk + 2·context`` frames (``growth`` must be 1). Windows
    crossing an edge are shifted inside the sentence; when the sentence is shorter than one
    window, the single window is the whole sentence zero-padded at the end.
    """
    if chunk < 1 or context < 0:
        raise ValueError(f"chunk must be >= 1 and context >= 0 (got {chunk}, {context})")
    if fixed and growth != 1:
        raise ValueError("fixed windows need growth 1 (one chunk size)")
    if frames < 1:
        return []
    size = chunk + 2 * context
    if fixed and frames <= size:
        return [Window(0, frames, 0, frames, size)]
    windows = []
    keep_start = 0
    for length in chunk_sizes(frames, chunk, growth, largest):
        keep_stop = keep_start + length
        if not fixed:
            start, stop = max(0, keep_start - context), min(frames, keep_stop + context)
            windows.append(Window(start, stop, keep_start, keep_stop, stop - start))
        else:
            start = min(max(0, keep_start - context), frames - size)
            windows.append(Window(start, start + size, keep_start, keep_stop, size))
        keep_start = keep_stop
    return windows


@dataclass(frozen=True)
class FlowPair:
    """A split's prior and flow sessions (split format 3), with the flow's context.

    It is also the engine's encoder: :meth:`run` gives what ``encoder.onnx`` gives (the latent,
    then the durations; the same numbers), so a split that has the pair loads no
    ``encoder.onnx`` (its weights are the pair's: 56 MB on joe)."""

    prior: ort.InferenceSession
    flow: ort.InferenceSession
    context: int = FLOW_CONTEXT
    _flow_inputs: list[str] = field(init=False, repr=False, compare=False)

    def run(self, output_names: object, feed: dict, run_options: object = None) -> list:
        """The encoder's outputs: the prior's run, then the flow over the whole sentence."""
        z_p, mask, *durations = self.prior.run(None, feed, run_options)
        return [self.run_flow(z_p, mask, run_options), *durations]

    def run_flow(self, z_p: np.ndarray, mask: np.ndarray, run_options: object = None):
        feed = dict(zip(self._flow_inputs, (z_p, mask), strict=True))
        return self.flow.run(None, feed, run_options)[0]

    def get_inputs(self) -> list:
        return self.prior.get_inputs()

    def get_outputs(self) -> list:
        return [self.flow.get_outputs()[0], *self.prior.get_outputs()[2:]]

    def get_providers(self) -> list[str]:
        return self.prior.get_providers()

    @classmethod
    def beside(cls, encoder: Path, session, flow: Path | None = None) -> FlowPair | None:
        """The pair made with the split ``encoder`` belongs to, opened by ``session(path)``;
        ``None`` for an encoder of another name (a quantized one: the pair would not match
        it) or a split made without them. ``flow``: another form of the split's flow (a
        quantized one, named by a pair's manifest) in place of its own."""
        if encoder.name != ENCODER_FILE:
            return None
        folder = encoder.resolve().parent
        try:
            params = Manifest.load(folder).parameters
        except (OSError, ValueError, TypeError):
            return None
        if "flow" not in params or "prior" not in params:
            return None
        context = int(params.get("flow_context", FLOW_CONTEXT))
        flow = flow or folder / params["flow"]
        return cls(session(folder / params["prior"]), session(flow), context)

    def __post_init__(self) -> None:
        # The flow's two input names, read once (a frozen dataclass: set through object).
        object.__setattr__(self, "_flow_inputs", [i.name for i in self.flow.get_inputs()])


class FlowLatent:
    """A sentence's latent from the flow, computed as the decoder reads it.

    The first read (the first decoder window, from frame 0) runs the flow over only the frames
    it asks for plus the flow's context, when that is at most half the sentence (a shorter
    sentence gets one run: the wait saved would not pay for the work run twice); any later
    read runs it once over the whole sentence.
    Reads are ``latent[:, :, start:stop]`` slices, as of the array the encoder gives."""

    def __init__(self, run, z_p: np.ndarray, mask: np.ndarray, context: int) -> None:
        self._run = run
        self._z_p = z_p
        self._mask = mask
        self._context = context
        self._whole: np.ndarray | None = None
        self._first = True
        self.flow_runs: list[int] = []
        """The frames of each flow run (for tests and benchmarks)."""

    @property
    def shape(self) -> tuple[int, ...]:
        return self._z_p.shape

    def __getitem__(self, key: tuple[slice, slice, slice]) -> np.ndarray:
        frames = key[2]
        if self._first and self._whole is None:
            self._first = False
            stop = frames.stop
            # Worth it when the first read's run is at most half the sentence: the first audio
            # then waits for at most half the flow, and the extra work (that run again inside
            # the whole one) is no more than what the wait saves.
            if stop is not None and 2 * (stop + self._context) <= self.shape[-1]:
                end = stop + self._context
                return self._flow(self._z_p[..., :end], self._mask[..., :end])[key]
        if self._whole is None:
            self._whole = self._flow(self._z_p, self._mask)
        return self._whole[key]

    def _flow(self, z_p: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self.flow_runs.append(z_p.shape[-1])
        return self._run(z_p, mask)


class ChunkedEngine(PiperTextEngine):
    """A split Piper voice: encoder once per sentence, decoder over chunks of latent frames.

    It holds the voice's :class:`~.piper.PiperText` (phonemes, the encoder's feed, word
    timings) as the whole-model engine does (:class:`~.piper.PiperTextEngine`); it inherits
    none of that engine's model runs.

    Its two sessions take turns, so they are built without thread-pool spinning (with it, the
    idle pool's threads kept spinning after each run and stole the cores: a paragraph took
    1.23× the unsplit engine with spinning, 0.81× without).
    """

    def __init__(
        self,
        voice: VoiceInfo,
        encoder: ort.InferenceSession,
        decoder: ort.InferenceSession,
        voice_config: VoiceConfig,
        *,
        hop_length: int,
        gain: float,
        chunk_frames: int = DEFAULT_CHUNK_FRAMES,
        context_frames: int = DEFAULT_CONTEXT_FRAMES,
        growth: float = DEFAULT_GROWTH,
        model_path: Path | None = None,
        short_decoder: ort.InferenceSession | None = None,
        flow: FlowPair | None = None,
        label: str | None = None,
        run_options: ort.RunOptions | None = None,
    ) -> None:
        self.voice = voice
        self.voice_config = voice_config
        self.implementation = CHUNKED
        self.label = label or (f"{CHUNKED}_static" if _static(decoder) else CHUNKED)
        """``piper_chunked``, ``piper_chunked_static``, or the chain's label (a CoreML
        decoder: ``piper_chunked+coreml``)."""
        self.model_path = model_path or voice.model_path
        self.text = PiperText(voice_config, {i.name for i in encoder.get_inputs()})
        self.run_options = run_options
        self.load_seconds = 0.0
        self.has_durations = len(encoder.get_outputs()) > 1
        """The split's encoder also outputs the phoneme durations (format 2 or later)."""
        self.encoder = encoder
        self.decoder = decoder
        self.hop_length = hop_length
        self.gain = gain
        self.chunk_frames = chunk_frames
        self.context_frames = context_frames
        self.growth = growth
        self.short_decoder = short_decoder
        """Static mode: decodes sentences shorter than one window at their own length."""
        self.flow = flow
        """The prior and the flow (split format 3): the opening run's first window waits only
        for the prior and a short flow run (:meth:`encode_in_steps`)."""
        self.max_decode_frames = MAX_DECODE_FRAMES
        """The longest call of the dynamic decoder (see :data:`MAX_DECODE_FRAMES`)."""
        self._decoder_input = decoder.get_inputs()[0].name
        frames_dim = decoder.get_inputs()[0].shape[-1]
        self.static_frames = frames_dim if isinstance(frames_dim, int) else None
        if self.static_frames is not None and self.static_frames != chunk_frames + 2 * (
            context_frames
        ):
            raise ValueError(
                f"the static decoder takes {self.static_frames} frames, but chunk "
                f"{chunk_frames} + 2 × context {context_frames} = "
                f"{chunk_frames + 2 * context_frames}"
            )
        chunk_sizes(1, chunk_frames, growth)  # validates the sizes
        plan_chunks(1, chunk_frames, context_frames)

    @classmethod
    def load_split(
        cls,
        voice: VoiceInfo,
        split_dir: Path,
        chunk_frames: int = DEFAULT_CHUNK_FRAMES,
        context_frames: int = DEFAULT_CONTEXT_FRAMES,
        growth: float = DEFAULT_GROWTH,
        encoder_providers: Providers = CPU,
        decoder_providers: Providers = CPU,
        static: bool = False,
        label: str | None = None,
        plan: SessionPlan | None = None,
        pad_short: bool = False,
    ) -> ChunkedEngine:
        """Load the split in ``split_dir`` (made by :func:`macbot.tools.split.split_voice`).

        ``static``: use ``decoder.static<F>.onnx`` with ``F = chunk + 2·context`` (it must have
        been exported: ``macbot split --static-frames F``) — the CoreML candidate's form, with
        ``decoder_providers=("CoreMLExecutionProvider", "CPUExecutionProvider")`` and the
        encoder on the CPU; sentences shorter than ``F`` frames then go to the dynamic decoder
        on ``encoder_providers`` (``pad_short``: pad them for the static decoder instead).
        Needs only onnxruntime.
        """
        started = time.perf_counter()
        split_dir = Path(split_dir)
        manifest = Manifest.load(split_dir)
        params = manifest.parameters
        if static:
            frames = chunk_frames + 2 * context_frames
            decoder_path = split_dir / static_decoder_file(frames)
            if not decoder_path.is_file():
                raise FileNotFoundError(
                    f"no static decoder for {frames} frames in {split_dir} "
                    f"(make it with: macbot split --static-frames {frames})"
                )
        dynamic_path = split_dir / params.get("decoder", DECODER_FILE)
        if not static:
            decoder_path = dynamic_path

        plan = (plan or SessionPlan()).without_spinning()

        def session(path: Path, providers: Providers) -> ort.InferenceSession:
            return open_session(path, plan, providers)

        decoder = session(decoder_path, decoder_providers)
        short = session(dynamic_path, encoder_providers) if static and not pad_short else None
        encoder_path = split_dir / params.get("encoder", ENCODER_FILE)
        flow = FlowPair.beside(
            encoder_path,
            lambda path: session(path, encoder_providers),
            split_dir / params["flow"] if "flow" in params else None,
        )
        encoder = flow or session(encoder_path, encoder_providers)
        voice_config = load_voice_config(voice)
        engine = cls(
            voice,
            encoder,
            decoder,
            voice_config,
            hop_length=int(params["hop_length"]),
            gain=float(params.get("gain", 1.0)),
            chunk_frames=chunk_frames,
            context_frames=context_frames,
            growth=growth,
            model_path=split_dir,
            short_decoder=short,
            flow=flow,
            label=label,
            run_options=plan.run_options(),
        )
        engine.load_seconds = time.perf_counter() - started
        if not engine.has_durations:
            _LOGGER.warning(
                "the split %s has no phoneme durations (made before format 2): it streams, but "
                "gives no word timings; run `macbot split` again to get them",
                split_dir,
            )
        _LOGGER.info(
            "loaded %s split from %s (chunk %d, context %d, %s decoder) in %.2fs",
            voice.name,
            split_dir,
            chunk_frames,
            context_frames,
            "static" if static else "dynamic",
            engine.load_seconds,
        )
        return engine

    # -- facts -------------------------------------------------------------------------------

    @property
    def providers(self) -> list[str]:
        return list(self.decoder.get_providers())

    def sentences(self, text: str, options: SynthesisOptions | None = None) -> list[Sentence]:
        """Phonemize ``text`` into model runs (see :meth:`~.piper.PiperText.sentences`), at
        :attr:`max_phoneme_ids` whatever the pace: the decoder's windows bound the memory of
        a slow sentence (``options`` is not needed)."""
        return self.text.sentences(text)

    def word_timings(
        self, sentence: Sentence, durations: np.ndarray | None, spoken: bool = False
    ) -> list[tuple[int, WordTiming]]:
        return self.text.word_timings(sentence, durations, self.frame_seconds, spoken)

    def describe(self) -> dict[str, object]:
        return {
            **super().describe(),
            "encoder_providers": list(self.encoder.get_providers()),
            "decoder_providers": list(self.decoder.get_providers()),
            "chunk_frames": self.chunk_frames,
            "context_frames": self.context_frames,
            "growth": self.growth,
            "static_frames": self.static_frames,
            "gain": self.gain,
            "flow_windows": self.flow is not None,
        }

    # -- latent → audio ----------------------------------------------------------------------

    def latent(self, phoneme_ids: list[int], options: SynthesisOptions) -> np.ndarray:
        """The encoder's output for one sentence: ``[1, channels, frames]``."""
        return self.encode(phoneme_ids, options)[0]

    def encode(
        self, phoneme_ids: list[int], options: SynthesisOptions
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The encoder's latent for one sentence and, from a split of format 2 or later, its
        frames per phoneme id (:attr:`has_durations`)."""
        feed = self.model_inputs(phoneme_ids, options)
        try:
            result = self.encoder.run(None, feed, self.run_options)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SynthesisError(f"{self.label} encoder failed: {exc}") from exc
        return result[0], (np.asarray(result[1]).reshape(-1) if len(result) > 1 else None)

    def encode_in_steps(
        self, phoneme_ids: list[int], options: SynthesisOptions
    ) -> tuple[FlowLatent, np.ndarray | None]:
        """The prior's run and a :class:`FlowLatent` that runs the flow as the decoder reads
        it, with the durations; the same latent as :meth:`encode`'s (needs :attr:`flow`)."""
        assert self.flow is not None
        flow = self.flow
        feed = self.model_inputs(phoneme_ids, options)
        try:
            result = flow.prior.run(None, feed, self.run_options)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SynthesisError(f"{self.label} prior failed: {exc}") from exc

        def run(z_p: np.ndarray, mask: np.ndarray) -> np.ndarray:
            try:
                return flow.run_flow(z_p, mask, self.run_options)
            except Exception as exc:  # onnxruntime raises its own exception types
                raise SynthesisError(f"{self.label} flow failed: {exc}") from exc

        durations = np.asarray(result[2]).reshape(-1) if len(result) > 2 else None
        return FlowLatent(run, result[0], result[1], flow.context), durations

    @property
    def frame_seconds(self) -> float:
        return self.hop_length / self.sample_rate

    def windows(self, frames: int, whole: bool = False) -> list[Window]:
        """The decoder calls for a latent of ``frames`` frames (see :meth:`decode`); a window
        of ``size`` 0 means "the whole latent, at its own length"."""
        short = self.short_decoder is not None and frames < (self.static_frames or 0)
        if frames > 0 and short:
            return [Window(0, frames, 0, frames, 0)]
        if self.static_frames is not None:
            return plan_chunks(frames, self.chunk_frames, self.context_frames, fixed=True)
        if whole and 0 < frames <= self.max_decode_frames:
            return [Window(0, frames, 0, frames, 0)]
        if whole:  # a long sentence, or a slow one: in windows, to bound the decoder's memory
            return plan_chunks(frames, self.max_decode_frames, self.context_frames)
        return plan_chunks(
            frames,
            self.chunk_frames,
            self.context_frames,
            growth=self.growth,
            largest=self.max_decode_frames,
        )

    def decode(self, latent: np.ndarray | FlowLatent, whole: bool = False) -> Iterator[np.ndarray]:
        """Raw audio of ``latent`` chunk by chunk (float32, before peak scaling); the pieces
        concatenated are the full model's raw output.

        Dynamic decoder: chunks of ``chunk_frames``, each next one ``growth`` times larger;
        ``whole``: one piece; none over :attr:`max_decode_frames`. Static decoder: chunks of
        ``chunk_frames`` (``whole`` ignored), sentences shorter than one window to
        ``short_decoder`` when there is one.
        """
        hop = self.hop_length
        for w in self.windows(latent.shape[-1], whole):
            if w.size == 0:
                yield self._run(self.short_decoder or self.decoder, latent[:, :, :])
                continue
            part = latent[:, :, w.start : w.stop]
            if w.padding:
                part = np.pad(part, ((0, 0), (0, 0), (0, w.padding)))
            audio = self._run(self.decoder, part)
            yield audio[(w.keep_start - w.start) * hop : (w.keep_stop - w.start) * hop]

    def _run(self, decoder: ort.InferenceSession, latent: np.ndarray) -> np.ndarray:
        try:
            return decoder.run(None, {self._decoder_input: latent}, self.run_options)[0].reshape(-1)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SynthesisError(f"{self.label} decoder failed: {exc}") from exc

    def release_arena(self) -> None:
        """One tiny encoder and decoder run that hand both arenas' memory back."""
        feed = self.model_inputs(
            self.text.tiny_ids(), SynthesisOptions(noise_scale=0, noise_w_scale=0)
        )
        shrink = shrink_options()
        try:
            latent = self.encoder.run(None, feed, shrink)[0]
            window = latent[:, :, : self.static_frames] if self.static_frames else latent
            if self.static_frames and window.shape[-1] < self.static_frames:
                window = np.pad(
                    window, ((0, 0), (0, 0), (0, self.static_frames - window.shape[-1]))
                )
            self.decoder.run(None, {self._decoder_input: window}, shrink)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SynthesisError(f"{self.label} failed: {exc}") from exc

    def infer(self, phoneme_ids: list[int], options: SynthesisOptions) -> np.ndarray:
        """Raw audio of one sentence (the decoded chunks joined)."""
        return np.concatenate(list(self.decode(self.latent(phoneme_ids, options))))

    # -- sentences → audio -------------------------------------------------------------------

    def stream_sentence(
        self, sentence: Sentence, options: SynthesisOptions
    ) -> Iterator[AudioChunk]:
        """Yield the sentence chunk by chunk as each is decoded, scaled by the voice's gain.

        Only the first sentence of a request (:attr:`Sentence.opens_request`) is chunked with
        the dynamic decoder: the audio of the sentences before a later one is its buffer, so it
        is decoded in one piece (no context overhead), and so is every sentence when
        ``options.whole`` says the consumer waits for whole sentences anyway. Every chunk has
        the sentence's ``index``; and its ``part`` (from 0) and ``last_part``. The
        trailing silence rides on the last part. Each word rides on the part where it starts,
        timed from that part's first sample.
        """
        whole = not sentence.opens_request or options.whole
        if whole or self.flow is None:
            latent, durations = self.encode(sentence.phoneme_ids, options)
        else:
            latent, durations = self.encode_in_steps(sentence.phoneme_ids, options)
        windows = self.windows(latent.shape[-1], whole)
        parts = len(windows)
        words = self.word_timings(sentence, durations)
        spoken = self.word_timings(sentence, durations, spoken=True) if words else []
        scale = self.gain * options.volume
        silence = options.sentence_silence > 0 and sentence.silence_after
        for part, raw in enumerate(self.decode(latent, whole=whole)):
            samples = np.clip(raw * scale, -1.0, 1.0).astype(np.float32)
            last = part == parts - 1
            if last and silence:
                gap = np.zeros(int(self.sample_rate * options.sentence_silence), np.float32)
                samples = np.concatenate([samples, gap])
            window = windows[part]
            chunk = make_chunk(self, samples, sentence, part, last)
            yield replace(
                chunk,
                words=self.in_part(words, window, last),
                spoken=self.in_part(spoken, window, last) if words else (),
            )

    def in_part(
        self, words: list[tuple[int, WordTiming]], window: Window, last: bool
    ) -> tuple[WordTiming, ...]:
        """The words that start in ``window``'s own frames (``last``: and any after them),
        timed from its first sample."""
        first, stop = window.keep_start, window.keep_stop
        return shifted(
            [w for start, w in words if first <= start < stop or (last and start >= stop)],
            -first * self.frame_seconds,
        )

    def synthesize_sentence(self, sentence: Sentence, options: SynthesisOptions) -> AudioChunk:
        """The same audio as :meth:`stream_sentence`, in one piece."""
        parts = list(self.stream_sentence(sentence, options))
        chunk = make_chunk(self, np.concatenate([p.samples for p in parts]), sentence)
        if not any(p.words for p in parts):
            return chunk
        spoken = utterance_words(parts, spoken=True)
        return replace(chunk, words=utterance_words(parts), spoken=spoken)


def _static(decoder: ort.InferenceSession) -> bool:
    return isinstance(decoder.get_inputs()[0].shape[-1], int)
