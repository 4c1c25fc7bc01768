"""The live-speech benchmark's own logic (issue 14): pairing words with whisper's, and the
first sentence of a streamed reply (the suites themselves run under `benchmark_tts.py`)."""

from __future__ import annotations

from benchmarks.common import first_sentence
from benchmarks.livespeech import REPLIES, UNSEEN_SENTENCES, pair_words
from macbot.tools.split import CALIBRATION_TEXTS
from macbot.tools.toolkit.phrases import CALIBRATION_PHRASES, VERIFY_SENTENCES


def test_words_pair_in_order_after_normalization():
    ours = [("The", 0.0, 0.1), ("$1,234", 0.1, 1.0), ("bill", 1.0, 1.2), ("today", 1.3, 1.6)]
    heard = [("the", 0.02, 0.1), ("$1,234", 0.15, 0.9), ("pill", 1.0, 1.2), ("today.", 1.3, 1.7)]
    pairs = pair_words(ours, heard)
    assert [(o[0], h[0]) for o, h in pairs] == [
        ("The", "the"),
        ("$1,234", "$1,234"),
        ("today", "today."),
    ]


def test_first_sentence_of_a_reply():
    assert first_sentence("Sure. I have moved it.") == "Sure."
    assert first_sentence("No mark at all") == "No mark at all"
    assert all(first_sentence(r).endswith((".", "?", "!")) for r in REPLIES)


def test_the_first_sentence_is_cut_where_the_daemon_cuts_it():
    """The product's splitter, not a regex of the benchmark's own: the abbreviation table and
    decimals do not end a sentence (issue 18, item 6)."""
    assert first_sentence("Dr. Lee moved it to 3.30 today. Then lunch.") == (
        "Dr. Lee moved it to 3.30 today."
    )
    assert first_sentence("Ask for Mr. Lee, please! Now.") == "Ask for Mr. Lee, please!"


def test_the_unseen_sentences_are_unseen():
    seen = {*CALIBRATION_PHRASES, *VERIFY_SENTENCES, *CALIBRATION_TEXTS}
    assert not seen & set(UNSEEN_SENTENCES) and len(set(UNSEEN_SENTENCES)) == 12
