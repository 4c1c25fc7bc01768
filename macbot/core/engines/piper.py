"""The Piper engine: text → phonemes (piper-tts) → audio (our own onnxruntime session).

``PiperEngine.load()`` builds the session; :meth:`PiperEngine.synthesize` yields one
:class:`~macbot.core.audio.AudioChunk` per sentence, so WAV writing, playback and HTTP
streaming only consume chunks.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from piper.config import PiperConfig as VoiceConfig
from piper.voice import PiperVoice

from ...errors import SynthesisError, UsageError
from ..audio import AudioChunk, WordTiming
from ..sessions import CPU, Providers, SessionPlan, open_session, shrink_options
from ..text.segments import Segment
from ..timings import label_segment, phoneme_word_frames, sentence_words
from ..voices import VoiceInfo
from .base import (
    RunBudget,
    Sentence,
    SentenceStreamer,
    SynthesisOptions,
)

_LOGGER = logging.getLogger(__name__)


MAX_PHONEME_IDS = 600
"""The longest model run, in phoneme ids (about 300 characters of English). A model run holds
activations for the whole sentence at once, so its memory grows with its length without
limit: measured on the joe voice (``macbot bench runs``, one run per fresh process, 2 threads)
150 ids added 35 MB at peak, 300 ids 71 MB, 600 ids 145 MB, 1,200 ids 301 MB and 3,000 ids
725 MB (about 0.24 MB per id), and the issue's 1,200 CJK characters (tens of thousands of ids)
failed at a 12 GB cap. 600 ids bounds a run to ~145 MB and well under a second on a quiet
machine, and splits only sentences far longer than an assistant's: the ten benchmark
sentences have 81 to 175 ids, so normal text is never cut."""

WHOLE_MODEL_IDS = 400
"""Phoneme ids, times the pace's stretch (see :meth:`PiperText.stretch`), that the whole model
runs at once, across all the workers that share it (issue 21). Its memory grows with the
frames it makes, about 0.23 MB a frame on joe (one run per fresh process), and a phoneme id makes
2.0 frames in prose, 3.0 in spelled letters and 3.1 in a list of letters and commas at the
voice's own pace, four times that at speed 0.25. So a cut at :data:`MAX_PHONEME_IDS` was not
a bound: two workers' runs of 600 ids of spelled letters peaked at +887 MB, and two runs at
speed 0.25 at +534 MB. A run is now at most this long, and the runs of all workers together
hold at most this many paced ids (a worker waits for the others' runs to end): at most ~1,250
frames, ~290 MB, in the worst text measured. Two typical sentences (81 to 175 ids) still run
side by side, and a sentence of up to ~165 characters (2.4 ids each) is never cut. The split
(:mod:`.chunked`) bounds its decoder in frames, since it knows the durations before decoding."""

MIN_RUN_IDS = 64
"""The shortest cut of :meth:`PiperEngine.run_limit` (a run at the slowest pace)."""

CLAUSE_MARKS = frozenset(",;:—–")
"""Phonemes a long sentence is preferably cut after (espeak keeps clause punctuation)."""


def split_phonemes(phonemes: list[str], limit: int) -> list[list[str]]:
    """``phonemes`` in pieces of at most ``limit`` phonemes, each cut after the last clause
    mark (``,``, ``;``, ``:``, dashes) in the second half of the allowed length, else at the
    last word boundary there, else hard at ``limit``. A cut at a word boundary drops the
    space; concatenated, the pieces are the phonemes minus those spaces."""
    if limit < 2:
        raise ValueError(f"limit must be at least 2 phonemes (got {limit})")
    pieces: list[list[str]] = []
    rest = list(phonemes)
    while len(rest) > limit:
        window = range(limit, limit // 2, -1)
        cut = next((i for i in window if rest[i - 1] in CLAUSE_MARKS), None)
        if cut is None:
            space = next((i for i in window if rest[i] == " "), None)
            if space is not None:
                pieces.append(rest[:space])
                rest = rest[space + 1 :]
                continue
            cut = limit
        pieces.append(rest[:cut])
        rest = rest[cut:]
        while rest and rest[0] == " ":
            rest = rest[1:]
    if rest:
        pieces.append(rest)
    return pieces


def model_feed(
    cfg: VoiceConfig, phoneme_ids: list[int], options: SynthesisOptions, takes_sid: bool = True
) -> dict[str, Any]:
    """A Piper model's input feed for one sentence (``takes_sid``: the graph has a ``sid``
    input; only multi-speaker voices use it)."""
    length = options.length_scale if options.length_scale is not None else cfg.length_scale
    noise = options.noise_scale if options.noise_scale is not None else cfg.noise_scale
    noise_w = options.noise_w_scale if options.noise_w_scale is not None else cfg.noise_w_scale
    feed: dict[str, Any] = {
        "input": np.array([phoneme_ids], dtype=np.int64),
        "input_lengths": np.array([len(phoneme_ids)], dtype=np.int64),
        "scales": np.array([noise, length / options.speed, noise_w], dtype=np.float32),
    }
    if cfg.num_speakers > 1 and takes_sid:
        speaker = options.speaker if options.speaker is not None else cfg.default_speaker_id
        if not 0 <= speaker < cfg.num_speakers:
            raise UsageError(
                f"speaker {speaker} out of range 0..{cfg.num_speakers - 1}", param="speaker"
            )
        feed["sid"] = np.array([speaker], dtype=np.int64)
    return feed


def load_voice_config(voice: VoiceInfo) -> VoiceConfig:
    """piper-tts's config of a voice (its ``.onnx.json``)."""
    return VoiceConfig.from_dict(json.loads(voice.config_path.read_text(encoding="utf-8")))


class PiperText:
    """A Piper voice's side of the model that is not the model: text → phonemes → ids
    (piper-tts's phonemizer), the model's input feed, and phoneme durations → word timings.
    The whole-model engine and the chunked engine each hold one."""

    def __init__(self, voice_config: VoiceConfig, input_names: set[str]) -> None:
        self.voice_config = voice_config
        self._phonemizer = PiperVoice(session=None, config=voice_config)  # phonemes only
        self._input_names = input_names
        self.max_phoneme_ids = MAX_PHONEME_IDS
        """The bound on one model run (see :data:`MAX_PHONEME_IDS`)."""

    def run_limit(self, options: SynthesisOptions | None = None) -> int:
        """The most phoneme ids of one run spoken with ``options``: :attr:`max_phoneme_ids`
        at the voice's own pace, proportionally fewer when slower (its length scale over the
        speed), since the whole model's memory grows with the frames it makes (issue 21: 600
        ids at speed 0.25 added 373 MB, 150 ids 129 MB)."""
        stretch = self.stretch(options)
        if stretch <= 1.0:
            return self.max_phoneme_ids
        return max(min(MIN_RUN_IDS, self.max_phoneme_ids), int(self.max_phoneme_ids / stretch))

    def stretch(self, options: SynthesisOptions | None) -> float:
        """How many times longer than at the voice's own pace ``options`` speak (its length
        scale over the speed): the frames, and the whole model's memory, grow with it."""
        if options is None:
            return 1.0
        own = self.voice_config.length_scale or 1.0
        length = options.length_scale if options.length_scale is not None else own
        return length / options.speed / own

    def sentences(self, text: str, options: SynthesisOptions | None = None) -> list[Sentence]:
        """Phonemize ``text`` into model runs (empty list: nothing speakable).

        One run per sentence, except that a sentence over :meth:`run_limit` (for ``options``:
        :attr:`max_phoneme_ids` at the voice's own pace) is cut (:func:`split_phonemes`) so
        that no run's memory and time grow without bound: text without sentence punctuation is
        otherwise one sentence however long it is.
        """
        most = self.run_limit(options)
        pieces: list[tuple[list[str], bool]] = []
        for phonemes in self._phonemizer.phonemize(text):
            if not phonemes:
                continue
            ids = self._phonemizer.phonemes_to_ids(phonemes)
            if len(ids) <= most:
                pieces.append((phonemes, False))
                continue
            # ids are BOS, then each phoneme's ids and a pad, then EOS: 2 per phoneme here.
            per_phoneme = max(1.0, (len(ids) - 2) / len(phonemes))
            limit = max(2, int((most - 2) / per_phoneme))
            parts = split_phonemes(phonemes, limit)
            pieces += [(part, j < len(parts) - 1) for j, part in enumerate(parts)]
        return [
            Sentence(
                index=i,
                phonemes="".join(phonemes),
                phoneme_ids=self._phonemizer.phonemes_to_ids(phonemes),
                last=i == len(pieces) - 1,
                joins_next=joins,
                opens_request=i == 0,
            )
            for i, (phonemes, joins) in enumerate(pieces)
        ]

    def model_inputs(self, phoneme_ids: list[int], options: SynthesisOptions) -> dict[str, Any]:
        """The model's input feed for one sentence."""
        return model_feed(self.voice_config, phoneme_ids, options, "sid" in self._input_names)

    def word_timings(
        self,
        sentence: Sentence,
        durations: np.ndarray | None,
        frame_seconds: float,
        spoken: bool = False,
    ) -> list[tuple[int, WordTiming]]:
        """The input words of ``sentence`` (its :attr:`Sentence.words`) timed by the model's
        ``durations``: ``(start frame, timing)``, times from the sentence's first sample.
        Empty without durations or labels. ``spoken``: the spoken words instead (see
        :func:`~macbot.core.timings.sentence_words`)."""
        if durations is None or not sentence.words:
            return []
        frames = phoneme_word_frames(
            sentence.phoneme_ids, durations, self.voice_config.phoneme_id_map
        )
        return sentence_words(sentence.words, frames, frame_seconds, spoken)

    def label_sentences(self, sentences: list[Sentence], segment: Segment) -> list[Sentence]:
        """``sentences`` (this voice's sentences of ``segment``) with the input word of each
        phoneme word (see :func:`~macbot.core.timings.label_segment`)."""
        labels = label_segment(segment, [s.phonemes for s in sentences])
        return [replace(s, words=w) for s, w in zip(sentences, labels, strict=True)]

    def tiny_ids(self) -> list[int]:
        """The ids of a one-word sentence (arena release)."""
        return self.sentences("Ok.")[0].phoneme_ids


def make_chunk(
    engine: Any, samples: np.ndarray, sentence: Sentence, part: int = 0, last_part: bool = True
) -> AudioChunk:
    """An :class:`AudioChunk` of ``sentence`` (its ``part``) made by ``engine`` (any family)."""
    return AudioChunk(
        samples=samples,
        sample_rate=engine.sample_rate,
        engine=engine.label,
        voice=engine.voice.name,
        text=sentence.phonemes,
        index=sentence.index,
        part=part,
        last_part=last_part,
    )


def scale_to_peak(audio: np.ndarray, volume: float = 1.0) -> np.ndarray:
    """``audio`` scaled so that its peak is ``volume`` (clipped to [-1, 1]; silence stays
    silent): what Piper calls normalizing, done per sentence."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    audio = np.zeros_like(audio) if peak < 1e-8 else audio / peak
    if volume != 1.0:
        audio = audio * volume
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def finish_sentence(
    engine: Any, audio: np.ndarray, sentence: Sentence, options: SynthesisOptions
) -> AudioChunk:
    """Scale to the sentence's peak, apply volume and the sentence silence: Piper's
    post-processing, sentence by sentence."""
    audio = scale_to_peak(audio, options.volume)
    if options.sentence_silence > 0 and sentence.silence_after:
        gap = np.zeros(int(engine.sample_rate * options.sentence_silence), dtype=np.float32)
        audio = np.concatenate([audio, gap])
    return make_chunk(engine, audio, sentence)


class PiperTextEngine(SentenceStreamer):
    """What every engine of a Piper voice (whole model, split, ``.mlpackage``) shares: its
    text side, :class:`PiperText` in ``self.text``, and the voice's JSON config in
    ``self.voice_config``."""

    family = "piper"
    text: PiperText
    voice_config: VoiceConfig

    @property
    def max_phoneme_ids(self) -> int:
        """The bound on one model run (see :data:`MAX_PHONEME_IDS`)."""
        return self.text.max_phoneme_ids

    @max_phoneme_ids.setter
    def max_phoneme_ids(self, value: int) -> None:
        self.text.max_phoneme_ids = value

    @property
    def sample_rate(self) -> int:
        return self.voice_config.sample_rate

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "num_speakers": self.voice_config.num_speakers}

    def sentences(self, text: str, options: SynthesisOptions | None = None) -> list[Sentence]:
        """Phonemize ``text`` into model runs, shorter when ``options`` speak slower (see
        :meth:`PiperText.sentences`)."""
        return self.text.sentences(text, options)

    def label_sentences(self, sentences: list[Sentence], segment: Segment) -> list[Sentence]:
        return self.text.label_sentences(sentences, segment)

    def model_inputs(self, phoneme_ids: list[int], options: SynthesisOptions) -> dict[str, Any]:
        """The model's input feed for one sentence."""
        return self.text.model_inputs(phoneme_ids, options)


class PiperEngine(PiperTextEngine):
    """A Piper voice run through onnxruntime, one model run per sentence, its runs bounded
    together by :data:`WHOLE_MODEL_IDS`."""

    def __init__(
        self,
        voice: VoiceInfo,
        session: Any,
        voice_config: VoiceConfig,
        implementation: str = "piper",
        model_path: Path | None = None,
        *,
        label: str | None = None,
        run_options: ort.RunOptions | None = None,
    ) -> None:
        self.voice = voice
        self.session = session
        """An onnxruntime session (or an object with its ``run``, ``get_inputs``,
        ``get_outputs`` and ``get_providers``)."""
        self.voice_config = voice_config
        self.implementation = implementation
        self.label = label or implementation
        self.model_path = model_path or voice.model_path
        self.text = PiperText(voice_config, {i.name for i in session.get_inputs()})
        self.text.max_phoneme_ids = WHOLE_MODEL_IDS
        self.budget = RunBudget(WHOLE_MODEL_IDS)
        """What the workers' runs of this model hold together."""
        self.load_seconds = 0.0
        self.run_options = run_options
        """Options of every model run (the session plan's: arena shrinkage)."""
        self.has_durations = len(session.get_outputs()) > 1
        """The model also outputs its phoneme durations (piper's alignment output, made by
        ``python -m piper.patch_voice_with_alignment``), so its chunks carry word timings."""

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        voice: VoiceInfo,
        model_path: Path | None = None,
        implementation: str = "piper",
        providers: Providers = CPU,
        plan: SessionPlan | None = None,
        *,
        preoptimized: bool = False,
        optimized_model_out: Path | None = None,
        source_path: Path | None = None,
        label: str | None = None,
    ) -> PiperEngine:
        """Load ``model_path`` (default: the voice's own model) with the voice's JSON config,
        its session built by ``plan`` (see :mod:`macbot.core.sessions`). ``source_path``: the
        file the chain knows the model as, when ``model_path`` is onnxruntime's pre-optimized
        copy of it."""
        started = time.perf_counter()
        voice_config = load_voice_config(voice)
        path = Path(model_path or voice.model_path)
        plan = plan or SessionPlan()
        session = open_session(
            path,
            plan,
            providers,
            preoptimized=preoptimized,
            optimized_model_out=optimized_model_out,
        )
        engine = cls(
            voice,
            session,
            voice_config,
            implementation,
            model_path=source_path or path,
            label=label,
            run_options=plan.run_options(),
        )
        engine.load_seconds = time.perf_counter() - started
        _LOGGER.info(
            "loaded %s (%s) from %s in %.2fs", voice.name, implementation, path, engine.load_seconds
        )
        return engine

    # -- facts -------------------------------------------------------------------------------

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    # -- sentences → audio -------------------------------------------------------------------

    def infer(self, phoneme_ids: list[int], options: SynthesisOptions) -> np.ndarray:
        """Raw model output for one sentence (float32, before peak scaling)."""
        return self.infer_timed(phoneme_ids, options)[0]

    def infer_timed(
        self, phoneme_ids: list[int], options: SynthesisOptions
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw model output for one sentence and, when the model has them
        (:attr:`has_durations`), its frames per phoneme id."""
        feed = self.model_inputs(phoneme_ids, options)
        try:
            with self.budget.hold(len(phoneme_ids) * self.text.stretch(options)):
                result = self.session.run(None, feed, self.run_options)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SynthesisError(f"{self.label} model failed: {exc}") from exc
        durations = np.asarray(result[1]).reshape(-1) if len(result) > 1 else None
        return np.asarray(result[0], dtype=np.float32).reshape(-1), durations

    # -- word timings ------------------------------------------------------------------------

    @property
    def frame_seconds(self) -> float:
        """Seconds of audio per frame of the duration predictor (hop length / sample rate)."""
        return self.voice_config.hop_length / self.sample_rate

    def word_timings(
        self, sentence: Sentence, durations: np.ndarray | None, spoken: bool = False
    ) -> list[tuple[int, WordTiming]]:
        """See :meth:`PiperText.word_timings`."""
        return self.text.word_timings(sentence, durations, self.frame_seconds, spoken)

    def release_arena(self) -> None:
        """One tiny run that hands the session's arena memory back when it ends (after a
        burst; see :func:`~macbot.core.sessions.shrink_options`)."""
        feed = self.model_inputs(
            self.text.tiny_ids(), SynthesisOptions(noise_scale=0, noise_w_scale=0)
        )
        try:
            self.session.run(None, feed, shrink_options())
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SynthesisError(f"{self.label} model failed: {exc}") from exc

    def finish(
        self, audio: np.ndarray, sentence: Sentence, options: SynthesisOptions
    ) -> AudioChunk:
        """Piper's post-processing of one sentence (see :func:`finish_sentence`)."""
        return finish_sentence(self, audio, sentence, options)

    def synthesize_sentence(self, sentence: Sentence, options: SynthesisOptions) -> AudioChunk:
        """The whole audio of one sentence (with its word timings when the model has
        durations and the sentence labels)."""
        audio, durations = self.infer_timed(sentence.phoneme_ids, options)
        chunk = self.finish(audio, sentence, options)
        words = self.word_timings(sentence, durations)
        if not words:
            return chunk
        spoken = tuple(w for _, w in self.word_timings(sentence, durations, spoken=True))
        return replace(chunk, words=tuple(w for _, w in words), spoken=spoken)
