"""The text front end: a reply in, the words a person would say out (:class:`FrontEnd`).

The steps, each in its own module:

1. SSML (:mod:`.ssml`) or ``say``'s embedded commands (:mod:`.embedded`) cut the text into
   runs with their rate, volume and pauses;
2. markup (:mod:`.markup`): markdown and HTML tags become plain blocks;
3. emoji and emoticons (:mod:`.pictographs`);
4. the user lexicon (:mod:`.lexicon`);
5. the language's rules for numbers, dates, URLs … (:mod:`.en.rules` for English; languages
   without rules keep their words as written, rather than get English ones).

The result is an :class:`~macbot.core.text.segments.Utterance`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

from ..voices import VoiceInfo
from .embedded import has_commands
from .embedded import parse as parse_commands
from .en.rules import EnglishRules
from .lexicon import Lexicon, phoneme_text, unknown_phonemes
from .markup import blocks
from .options import TextOptions
from .pictographs import replace as replace_pictographs
from .segments import SENTENCE_END, Run, Segment, Span, Utterance, tidy
from .ssml import is_ssml
from .ssml import parse as parse_ssml

_LOGGER = logging.getLogger(__name__)

_BLOCK_END = (*SENTENCE_END, ":", ";")

RULES_LANGUAGES = ("en",)
"""The language families that have rules (:func:`rules_for`)."""


def missing_rules(language: str) -> str | None:
    """What a voice of ``language`` goes without, or ``None`` when its rules exist: the
    warning said when such a voice is added and each time it is loaded (issue 19 item 6)."""
    if rules_for(language) is not None:
        return None
    return (
        f"no text front-end rules for language {language!r} (rules exist for "
        f"{', '.join(RULES_LANGUAGES)}): numbers, dates, times, units, currencies and URLs are "
        "spoken as written, and emoji are dropped rather than named"
    )


def rules_for(language: str) -> EnglishRules | None:
    """The rules of a voice's language (its espeak voice: ``en-us``, ``en-gb-x-rp``, ``de``);
    ``None`` where there are none yet (the text is then spoken as written)."""
    family, _, rest = language.lower().replace("_", "-").partition("-")
    if family == "en":
        return EnglishRules(rest.split("-")[0] or "us")
    return None


class FrontEnd:
    """The front end for one voice: its language's rules, its phonemes, the user lexicon."""

    def __init__(
        self,
        language: str = "en-us",
        phonemes: frozenset[str] | set[str] = frozenset(),
        lexicon: Lexicon | None = None,
    ) -> None:
        self.language = language
        self.rules = rules_for(language)
        self.missing = missing_rules(language)
        """Which rules this voice goes without (``None``: it has its language's rules)."""
        if self.missing:
            _LOGGER.warning("%s", self.missing)
        self.phonemes = frozenset(phonemes)
        """The voice's phoneme set (empty: phonemes are not checked)."""
        self.lexicon = lexicon
        if lexicon is not None:
            lexicon.check_phonemes(set(self.phonemes))

    def process(self, text: str, options: TextOptions | None = None) -> Utterance:
        """``text`` as an utterance. Raises :class:`~macbot.errors.MarkupError` for malformed
        SSML or a bad ``[[…]]`` command."""
        options = options or TextOptions()
        notes: list[str] = []
        if options.ssml and is_ssml(text):
            runs = parse_ssml(text, self._missing_phonemes)
        elif options.say_commands and has_commands(text):
            runs = parse_commands(text)
        else:
            runs = [Run("text", text)]
        segments: list[Segment] = []
        current: list[Span] = []
        voice = (1.0, 1.0)
        for run in runs:
            if run.kind == "pause":
                self._flush(segments, current, voice)
                current = []
                if run.seconds > 0:
                    segments.append(Segment(pause=run.seconds))
                continue
            if (run.rate, run.volume) != voice:
                self._flush(segments, current, voice)
                current = []
                voice = (run.rate, run.volume)
            current.extend(self._spans(run, options, notes))
        self._flush(segments, current, voice)
        if self.missing and options.enabled:
            notes.append(self.missing)
        return Utterance(tuple(segments), self.language if self.rules else "", tuple(notes))

    # -- runs → spans ----------------------------------------------------------------------

    def _spans(self, run: Run, options: TextOptions, notes: list[str]) -> list[Span]:
        if run.kind == "text":
            note = self.rules.code_block_note if self.rules else None
            if not options.enabled:
                return [Span(run.value, run.value)]
            found = blocks(
                run.value,
                markdown=options.markdown,
                html_tags=options.html,
                code_blocks=options.code_blocks,
                note=note,
            )
            spans: list[Span] = []
            for index, block in enumerate(found):
                if block.note:
                    notes.append("skipped a code block")
                    spans.append(Span(f" {block.text} ", ""))
                    continue
                words = self._words(block.text, options)
                spans.extend(words)
                if index < len(found) - 1 and not _ends_block(words):
                    spans.append(Span(".", ""))
                spans.append(Span(" ", ""))
            return spans
        if run.kind == "plain":
            return self._words(run.value, options) if options.enabled else [Span(run.value)]
        if run.kind == "sub":
            return [Span(f" {run.value} ", run.source)]
        if run.kind == "phonemes":
            return [Span(phoneme_text(run.value), run.source, phonemes=True)]
        if run.kind == "say-as":
            spoken = None
            if self.rules is not None:
                spoken = self.rules.say_as(run.interpret_as, run.value, run.date_format)
            elif run.interpret_as in ("characters", "spell-out", "verbatim"):
                spoken = " ".join(run.value.strip())
            return [Span(f" {spoken if spoken is not None else run.value} ", run.source)]
        if run.kind == "sentence":
            return [Span(". ", "")]
        raise ValueError(f"unknown run kind {run.kind!r}")  # a bug in a parser, not input

    def _words(self, text: str, options: TextOptions) -> list[Span]:
        """One block of plain text through emoji, the lexicon and the language's rules."""
        emoji = options.emoji if self.rules is not None or options.emoji != "name" else "drop"
        text = replace_pictographs(text, emoji, options.emoticons)
        if options.lexicon and self.lexicon is not None and len(self.lexicon):
            pieces = self.lexicon.apply(text)
        else:
            pieces = [Span(text, text)]
        if self.rules is None:
            return pieces
        spans: list[Span] = []
        for piece in pieces:
            if piece.phonemes or piece.spoken != piece.source:
                spans.append(
                    Span(
                        f" {piece.spoken} " if not piece.phonemes else piece.spoken,
                        piece.source,
                        piece.phonemes,
                    )
                )
            else:
                spans.extend(self.rules.verbalize(piece.spoken, options))
        return spans

    def _missing_phonemes(self, phonemes: str) -> list[str]:
        return unknown_phonemes(phonemes, set(self.phonemes))

    @staticmethod
    def _flush(segments: list[Segment], spans: list[Span], voice: tuple[float, float]) -> None:
        if any(s.phonemes or s.spoken.strip(" .,;:") for s in spans):
            segments.append(Segment(tuple(spans), rate=voice[0], volume=voice[1]))


def _ends_block(spans: list[Span]) -> bool:
    text = tidy("".join(s.spoken for s in spans if not s.phonemes))
    return not text or text.endswith(_BLOCK_END)


def kokoro_phonemes() -> frozenset[str]:
    """Kokoro's phoneme set: the vocabulary kokoro-onnx ships (its ``config.json``, read
    without importing the package, which loads espeak)."""
    spec = importlib.util.find_spec("kokoro_onnx")  # finds the package without running it
    if spec is None or spec.origin is None:
        return frozenset()
    vocab = Path(spec.origin).with_name("config.json")
    return frozenset(json.loads(vocab.read_text(encoding="utf-8"))["vocab"])


def kokoro_frontend(language: str, lexicon: Lexicon | None = None) -> FrontEnd:
    """The front end of the Kokoro family: the rules of ``language`` (espeak's, which
    phonemizes its English text) and Kokoro's phoneme set (kokoro-onnx's vocabulary)."""
    return FrontEnd(language, kokoro_phonemes(), lexicon)


def frontend_for(voice: VoiceInfo, lexicon: Lexicon | None = None) -> FrontEnd:
    """The front end of ``voice``: the rules of its language (the espeak voice in its JSON
    config), its phoneme set (SSML ``<phoneme>`` and lexicon phonemes are checked against it)
    and ``lexicon``. Reads the JSON only: the model is not loaded."""
    data = json.loads(voice.config_path.read_text(encoding="utf-8"))
    language = (data.get("espeak") or {}).get("voice") or "en-us"
    phonemes = frozenset((data.get("phoneme_id_map") or {}).keys())
    return FrontEnd(language, phonemes, lexicon)
