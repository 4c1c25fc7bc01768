"""Cue grouping and the two caption formats (issue 19), read back by real parsers."""

from __future__ import annotations

import html
import io
import itertools

import pytest
import srt
import webvtt

from macbot.core.audio import WordTiming
from macbot.core.captions import CaptionStyle, captions, cues, render, written_words
from macbot.errors import UsageError


def timed(text: str, start: float = 0.0, step: float = 0.3, gaps: dict[int, float] | None = None):
    """One WordTiming per word of ``text``, ``step`` seconds each, a pause after word i of
    ``gaps[i]`` seconds (punctuation dropped, as the engine's timings drop it)."""
    words, t = [], start
    for i, token in enumerate(text.split()):
        words.append(WordTiming(token.strip(".,!?"), t, t + step))
        t += step + (gaps or {}).get(i, 0.0)
    return words


def test_written_words_get_their_punctuation_back_without_markup():
    text = 'He said "hello, world!" and **left**. See [the docs](https://x.y).'
    words = timed(text.replace("*", "").replace("[", "").replace("](https://x.y)", ""))
    back = [w.word for w in written_words(text, words)]
    assert back[:4] == ["He", "said", '"hello,', 'world!"']
    assert "left." not in back and "left" in back  # ** is markup, the . after it is not joined
    assert back[-1] == "docs"  # "](url)" stays out


def test_a_short_reply_is_one_cue_per_sentence():
    text = "Hello there. How are you today?"
    made = cues(timed(text), text)
    assert [c.text for c in made] == ["Hello there.", "How are you today?"]
    assert made[0].start == 0.0 and made[1].start == pytest.approx(0.6)


def test_lines_stay_under_42_characters_and_cues_under_two_lines():
    text = (
        "The washing machine in the basement will be finished in about twenty five minutes, "
        "and after that the dryer needs another hour before the towels are ready to fold."
    )
    made = cues(timed(text), text)
    assert len(made) >= 2
    for cue in made:
        assert len(cue.lines) <= 2
        assert all(len(line) <= 42 for line in cue.lines)
        assert cue.end - cue.start <= 7.0
    # every word shown once, in order
    assert " ".join(" ".join(c.lines) for c in made).split() == text.split()


def test_a_long_sentence_splits_at_the_widest_gap():
    text = "Turn left at the bakery on the corner then walk straight on past the old church"
    gaps = {7: 0.25}  # the voice pauses after "corner"
    made = cues(timed(text, gaps=gaps), text, CaptionStyle(max_line_chars=42, max_lines=1))
    assert made[0].text.endswith("corner")


def test_a_pause_ends_a_cue_and_short_cues_stay_up_a_while():
    words = timed("Yes. Okay", gaps={0: 1.5})
    made = cues(words)
    assert [c.text for c in made] == ["Yes", "Okay"]
    assert made[0].end == pytest.approx(0.7)  # min_seconds, the next cue starts later


def test_cues_never_overlap():
    words = timed("one two three four five six seven eight nine ten " * 6, step=0.35)
    made = cues(words, style=CaptionStyle(max_seconds=2.0))
    assert all(a.end <= b.start for a, b in itertools.pairwise(made))
    assert all(c.end - c.start <= 2.0 for c in made)


def test_vtt_parses_with_webvtt_py_and_escapes_markup():
    text = "Is 3 < 4 & 5 > 2? Yes."
    made = cues(timed(text), text)
    vtt = render(made, "vtt")
    parsed = webvtt.from_buffer(io.StringIO(vtt))
    # webvtt-py keeps the character references; a player shows them as the characters
    assert [html.unescape(c.text) for c in parsed] == ["Is 3 < 4 & 5 > 2?", "Yes."]
    assert parsed[0].start == "00:00:00.000"
    assert "&lt;" in vtt and "&amp;" in vtt


def test_srt_parses_with_srt():
    text = "Hello there. How are you today?"
    parsed = list(srt.parse(captions(timed(text), "srt", text)))
    assert [s.content for s in parsed] == ["Hello there.", "How are you today?"]
    assert parsed[1].start.total_seconds() == pytest.approx(0.6)
    assert [s.index for s in parsed] == [1, 2]


def test_times_past_an_hour():
    vtt = render(cues([WordTiming("late", 3725.5, 3726.25)]), "vtt")
    assert "01:02:05.500 --> 01:02:06.250" in vtt


def test_unknown_format_is_a_usage_error():
    with pytest.raises(UsageError, match="vtt, srt"):
        render([], "ass")
