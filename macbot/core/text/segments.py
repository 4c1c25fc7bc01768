"""What the text front end hands the synthesizer: an :class:`Utterance` of :class:`Segment` s.

A segment is a run of speech with one rate and volume (or a pause). Its words are
:class:`Span` s, each either text for the voice's phonemizer or phonemes to speak as they are,
and each remembers the written form it came from (``"$5"`` → ``"five dollars"``), so that word
timings can be mapped back to the words of the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SPACES = re.compile(r"\s+")
_PHONEME_OPEN = re.compile(r"\[\[")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+(?=[,.;:!?](?:\s|$))")
_REPEATED_PUNCT = re.compile(r"([,;:])(?:\s*[,;:])+|,\s*(?=[.!?])")
SENTENCE_END = (".", "!", "?")
"""Characters after which the voice starts a new sentence."""


def tidy(text: str) -> str:
    """One line with single spaces, no space before punctuation, no doubled commas."""
    text = _SPACES.sub(" ", text).strip()
    text = _REPEATED_PUNCT.sub(lambda m: m.group(1) or "", text)
    return _SPACE_BEFORE_PUNCT.sub("", text).rstrip(" ,;")


@dataclass(frozen=True)
class Span:
    """One piece of a segment: the words to say, and the written text they stand for."""

    spoken: str
    """Text for the phonemizer, or IPA phonemes when :attr:`phonemes`."""
    source: str = ""
    """The input text this piece came from (``""``: inserted by the front end, e.g. a pause
    note or the sentence end after a heading)."""
    phonemes: bool = False
    """:attr:`spoken` is phonemes (SSML ``<phoneme>``, a lexicon entry), not text."""

    def engine_text(self) -> str:
        """The piece as the engine reads it: phonemes in piper's ``[[ … ]]`` blocks; text with
        any ``[[`` broken up, so that no typed text is ever read as phonemes."""
        if self.phonemes:
            return f" [[ {self.spoken} ]] "
        return _PHONEME_OPEN.sub("[ [", self.spoken)


@dataclass(frozen=True)
class Run:
    """A piece of the input as SSML or ``[[…]]`` commands cut it, before the rules run."""

    kind: str
    """``text`` (markup and all rules apply), ``plain`` (SSML text: no markdown), ``say-as``,
    ``sub`` (:attr:`value` is said, :attr:`source` is the written text), ``phonemes``,
    ``pause`` (:attr:`seconds`) or ``sentence`` (an SSML ``<s>``/``<p>`` ends)."""
    value: str = ""
    rate: float = 1.0
    volume: float = 1.0
    seconds: float = 0.0
    source: str = ""
    interpret_as: str = ""
    date_format: str | None = None


@dataclass(frozen=True)
class Segment:
    """Speech with one rate and volume, or a pause (no spans, :attr:`pause` > 0)."""

    spans: tuple[Span, ...] = ()
    rate: float = 1.0
    """Multiplies the request's speed (SSML ``<prosody rate>``, ``[[rate]]``)."""
    volume: float = 1.0
    """Multiplies the request's volume (SSML ``<prosody volume>``, ``[[volm]]``)."""
    pause: float = 0.0
    """Seconds of silence (SSML ``<break>``, ``[[slnc]]``); a pause has no spans."""

    @property
    def text(self) -> str:
        """What this segment says, phonemes shown as ``[[ … ]]`` (one line, single spaces)."""
        return tidy("".join(s.engine_text() for s in self.spans))

    @property
    def is_pause(self) -> bool:
        return not self.spans

    @property
    def ends_sentence(self) -> bool:
        """The segment ends with sentence punctuation (the voice then pauses after it)."""
        return self.text.endswith(SENTENCE_END)

    def to_dict(self) -> dict[str, object]:
        """JSON form (``POST /normalize``)."""
        if self.is_pause:
            return {"pause": round(self.pause, 3)}
        out: dict[str, object] = {"text": self.text}
        if self.rate != 1.0:
            out["rate"] = round(self.rate, 4)
        if self.volume != 1.0:
            out["volume"] = round(self.volume, 4)
        return out


@dataclass(frozen=True)
class Utterance:
    """The front end's result: segments in order, and the language whose rules made them."""

    segments: tuple[Segment, ...] = ()
    language: str = ""
    """The voice's language (``en-us``); ``""``: no language rules applied."""
    notes: tuple[str, ...] = field(default=(), compare=False)
    """What the front end did that a user may want to know (``"skipped a code block"``)."""

    @property
    def text(self) -> str:
        """The spoken form as one string (pauses as ``[[slnc MS]]``; rate and volume not
        shown): what ``macbot normalize`` prints."""
        parts = []
        for seg in self.segments:
            parts.append(f"[[slnc {round(seg.pause * 1000)}]]" if seg.is_pause else seg.text)
        return " ".join(p for p in parts if p)

    @property
    def empty(self) -> bool:
        """Nothing to say (pauses alone say nothing)."""
        return not any(seg.text for seg in self.segments)

    def key(self) -> tuple[object, ...]:
        """Everything in the utterance that changes the audio, hashable (for cache keys)."""
        return tuple(
            (seg.text, round(seg.rate, 4), round(seg.volume, 4), round(seg.pause, 4))
            for seg in self.segments
        )

    def to_dict(self) -> dict[str, object]:
        """JSON form (``POST /normalize``)."""
        return {
            "text": self.text,
            "language": self.language or None,
            "segments": [seg.to_dict() for seg in self.segments],
            "notes": list(self.notes),
        }
