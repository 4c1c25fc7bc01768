"""What one request may ask of the synthesizer, beyond its text's length (issue 21).

``server.max_text_chars`` bounds what a client sends; the text front end may still make much
more speech of it: 5,000 characters of digits are read as 56,000 characters of words (about
an hour at speed 0.25), and 5 KB of ``[[slnc 10000]]`` is an hour of silence. Time and the
audio a request makes grow with its speech, so the speech is bounded too, the same way on
every front end (HTTP, WebSocket, Wyoming, the command line), before any work starts.
"""

from __future__ import annotations

from ..errors import SpeechTooLong
from .text.segments import Utterance

SPOKEN_PER_TEXT_CHAR = 4
"""The spoken form may be this many times ``server.max_text_chars`` (or the text, when longer:
the command line has no text limit). Prose is read at about its own length; a text that is
mostly numbers, dates or URLs is read at up to eleven times its length."""

MAX_PAUSE_SECONDS = 120.0
"""Pauses (SSML ``<break>``, ``[[slnc]]``, at most 10 s each) add up to this per request."""


def check_speech(utterance: Utterance, text_chars: int, max_text_chars: int) -> None:
    """Raise :class:`~macbot.errors.SpeechTooLong` (400) when ``utterance`` (the front end's
    result for a text of ``text_chars`` characters) says more than one request may."""
    limit = SPOKEN_PER_TEXT_CHAR * max(text_chars, max_text_chars)
    spoken = sum(len(seg.text) for seg in utterance.segments if not seg.is_pause)
    if spoken > limit:
        raise SpeechTooLong(
            f"the text is read as {spoken} characters of speech (numbers, dates, URLs … said "
            f"in words); one request may make at most {limit} "
            f"({SPOKEN_PER_TEXT_CHAR} × server.max_text_chars)",
            param="text",
        )
    pauses = sum(seg.pause for seg in utterance.segments if seg.is_pause)
    if pauses > MAX_PAUSE_SECONDS:
        raise SpeechTooLong(
            f"the text's pauses add up to {pauses:g} s; one request may have at most "
            f"{MAX_PAUSE_SECONDS:g} s",
            param="text",
        )
