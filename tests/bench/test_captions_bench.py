"""The captions benchmark's own logic (issue 19): its replies and reading cue starts back from
the WebVTT file (the whisper run itself is the benchmark)."""

from __future__ import annotations

from benchmarks.captions import parsed_starts, texts
from benchmarks.livespeech import REPLIES
from macbot.core.audio import WordTiming
from macbot.core.captions import cues, render


def test_replies_are_long_enough_for_several_cues():
    replies = texts()
    assert len(replies) >= 8 and set(REPLIES) <= set(replies)
    assert all(len(r) > 84 for r in replies)  # more than one cue of two 42-character lines


def test_cue_starts_are_read_back_from_the_file():
    words = [
        WordTiming("Hello", 0.125, 0.5),
        WordTiming("there.", 0.5, 0.9),
        WordTiming("Bye.", 1.75, 2.0),
    ]
    made = cues(words)
    assert parsed_starts(render(made, "vtt")) == [("Hello", 0.125), ("Bye.", 1.75)]
