"""Live speech (``macbot.core.live.LiveSpeech``) on its own, with the real voice and engine:
text fed in pieces comes out as the audio of its clauses, in order, timed across the whole
stream; a clause that says nothing is skipped; ``end`` speaks the unfinished rest; ``cancel``
stops it; the text waiting for the synthesizer is bounded. Over the wire: the WebSocket's and
Wyoming's tests (tests/daemon)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import make_config

from macbot.core.engines.chunked import ChunkedEngine
from macbot.core.live import LiveSpeech
from macbot.core.synthesizer import Synthesizer
from macbot.errors import TextTooLong

CLAUSES = ("Good morning.", "The weather today is sunny and warm.", "Your meeting starts soon.")


@pytest.fixture(scope="module")
def synth(voice_split):
    """The bundled voice's split, which times its words (the unsplit model has no durations)."""
    _, folder = voice_split
    config = make_config(
        models__tts__optimized_dir=str(folder.parent),
        models__tts__streaming={"enabled": True},
        voice_assistant__performance={"tts_cache_enabled": False},
    )
    synth = Synthesizer(config)
    assert isinstance(synth.engine(), ChunkedEngine)
    yield synth
    synth.close()


def _feed_word_by_word(live: LiveSpeech, text: str) -> None:
    for word in text.split(" "):
        live.feed(word + " ")


def _by_clause(pieces) -> dict[int, np.ndarray]:
    joined: dict[int, list[np.ndarray]] = {}
    for piece in pieces:
        joined.setdefault(piece.clause, []).append(piece.chunk.samples)
    return {k: np.concatenate(v) for k, v in joined.items()}


def test_text_fed_word_by_word_is_the_audio_of_each_clause_in_order(synth, plain):
    live = LiveSpeech(synth, options=plain)
    _feed_word_by_word(live, " ".join(CLAUSES))
    live.end()
    pieces = list(live.pieces())

    assert [p.clause for p in pieces] == sorted(p.clause for p in pieces)
    assert live.clauses == len(CLAUSES)
    audio = _by_clause(pieces)
    for i, clause in enumerate(CLAUSES):  # the same audio as each clause said on its own
        alone = synth.synthesize(clause, options=plain).samples
        np.testing.assert_allclose(audio[i], alone, atol=1e-5)
    # Each piece starts where the ones before it ended; its words are timed on that clock.
    ends = np.cumsum([0.0] + [p.chunk.duration for p in pieces])
    assert [p.start for p in pieces] == pytest.approx(list(ends[:-1]))
    assert live.seconds == pytest.approx(ends[-1])
    words = [w for p in pieces for w in p.words]
    assert [w.word for w in words] == [w.strip(".,") for c in CLAUSES for w in c.split()]
    for piece in pieces:
        assert all(piece.start - 1e-6 <= w.start for w in piece.words)
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_a_clause_with_nothing_to_say_is_skipped(synth, plain):
    live = LiveSpeech(synth, options=plain)
    live.feed("👍👍👍. ")
    live.feed("Thanks, that helps a lot.")
    live.end()
    pieces = list(live.pieces())
    assert pieces and {p.clause for p in pieces} == {0}
    assert [w.word for p in pieces for w in p.words] == ["Thanks", "that", "helps", "a", "lot"]


def test_end_speaks_the_unfinished_rest(synth, plain):
    live = LiveSpeech(synth, options=plain)
    assert live.feed("no mark at the end") == 0  # nothing complete yet
    live.end()
    pieces = list(live.pieces())
    assert [w.word for p in pieces for w in p.words] == ["no", "mark", "at", "the", "end"]


def test_cancel_stops_the_pieces_and_lets_go_of_the_synthesis(synth, plain):
    live = LiveSpeech(synth, options=plain)
    live.feed(" ".join(f"Sentence number {i} of a long reply." for i in range(30)))
    pieces = live.pieces()
    first = next(pieces)
    assert first.clause == 0
    canceller = threading.Thread(target=live.cancel)
    canceller.start()
    canceller.join(timeout=10)
    assert live.cancelled
    rest = list(pieces)  # at most what was in flight: the queued clauses are dropped
    assert len({p.clause for p in rest}) <= 1
    assert live.clauses < 30


def test_text_waiting_for_the_synthesizer_is_bounded(synth, plain):
    live = LiveSpeech(synth, options=plain, max_pending=50)
    text = "One two three four. Five six seven eight. Nine ten eleven twelve. "
    assert live.feed(text, wait=False) == 3
    assert not live.has_room  # 63 characters of clauses wait: a waiting feed would block
    blocked = threading.Thread(target=live.feed, args=("and",))
    blocked.start()
    pieces = live.pieces()
    try:
        assert next(pieces).clause == 0  # taking a clause leaves 44 characters waiting …
        blocked.join(timeout=60)
        assert not blocked.is_alive() and live.has_room  # … and the waiting feed returns
    finally:
        live.cancel()
        pieces.close()
        blocked.join(timeout=10)
    # The splitter's own bound: text that never completes a clause is refused.
    unbounded = LiveSpeech(synth, options=plain, max_pending=40)
    with pytest.raises(TextTooLong):
        unbounded.feed("x" * 200, wait=False)
