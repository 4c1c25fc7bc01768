"""The text front end: what an assistant typed → what a person would say.

:class:`FrontEnd` runs before sentences are split and phonemized (docs/TEXT.md): SSML and
``say``'s embedded commands, markdown and HTML, emoji, the user lexicon, and the language's
rules for numbers, money, times, dates, units, phone numbers, URLs, abbreviations and
symbols. Its result, an :class:`Utterance`, is a list of :class:`Segment` s (text or phonemes
with a rate and volume, or a pause) whose :class:`Span` s remember the written words they
came from.
"""

from .frontend import FrontEnd, frontend_for, kokoro_frontend, rules_for
from .lexicon import Lexicon
from .options import KOKORO_NAMES, TextOptions
from .segments import Segment, Span, Utterance

__all__ = [
    "KOKORO_NAMES",
    "FrontEnd",
    "Lexicon",
    "Segment",
    "Span",
    "TextOptions",
    "Utterance",
    "frontend_for",
    "kokoro_frontend",
    "rules_for",
]
