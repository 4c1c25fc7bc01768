"""The engine contract (macbot.core.engines.Engine), checked on every implementation this
machine can run: the whole-sentence Piper engine, and the split voice's chunked engine with its
dynamic and its fixed-shape decoder (the CoreML candidate's form, run here on the CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from macbot.core.audio import AudioChunk
from macbot.core.engines import ChunkedEngine, Engine, PiperEngine, SynthesisOptions
from macbot.core.text.segments import Segment, Span

LONG = (
    "Your next meeting starts in fifteen minutes in the small conference room on the third "
    "floor, and the agenda has been shared with everyone. Bring the slides."
)
OPTIONS = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.1)


@pytest.fixture(scope="module", params=["piper", "chunked", "chunked-static"])
def engine(request, voice_split) -> Engine:
    voice, folder = voice_split
    if request.param == "piper":
        return PiperEngine.load(voice)
    if request.param == "chunked":
        return ChunkedEngine.load_split(voice, folder, 32, 12, 4.0)
    return ChunkedEngine.load_split(voice, folder, 64, 16, static=True)


def test_it_is_an_engine(engine):
    assert isinstance(engine, Engine)
    facts = engine.describe()
    assert facts["engine_type"] == engine.engine_type and facts["sample_rate"] == 22050
    assert engine.warmup() > 0


def test_one_chunk_per_sentence_in_order(engine):
    sentences = engine.sentences(LONG)
    assert len(sentences) == 2 and sentences[-1].last and not sentences[0].last
    chunks = list(engine.synthesize(LONG, OPTIONS))
    assert [c.index for c in chunks] == [0, 1]
    for chunk in chunks:
        assert isinstance(chunk, AudioChunk) and chunk.engine == engine.engine_type
        assert chunk.samples.dtype == np.float32 and np.all(np.isfinite(chunk.samples))
        assert 0.05 < float(np.max(np.abs(chunk.samples))) <= 1.0
    gap = int(OPTIONS.sentence_silence * engine.sample_rate)
    assert np.all(chunks[0].samples[-gap:] == 0)  # the pause after every sentence but the last
    assert chunks[1].duration > 0.5


def test_the_stream_joins_to_the_whole_sentence(engine):
    first = engine.sentences(LONG)[0]
    pieces = list(engine.stream_sentence(first, OPTIONS))
    whole = engine.synthesize_sentence(first, OPTIONS)
    joined = np.concatenate([p.samples for p in pieces])
    assert joined.shape == whole.samples.shape
    assert float(np.max(np.abs(joined - whole.samples))) <= 1e-6
    assert all(p.index == first.index for p in pieces)
    # The capability flag says what the stream does: pieces within a sentence, or one.
    assert (len(pieces) > 1) is engine.streams_within_sentence


def test_words_ride_on_the_chunk_where_they_start(engine):
    """Issue 14: an engine with phoneme durations (the split's encoder) times the input's words;
    one without (the voice's own model) gives none, and says so in describe()."""
    assert engine.describe()["word_timings"] is engine.has_durations
    chunks = list(engine.synthesize(LONG, OPTIONS))
    if not engine.has_durations:
        assert all(c.words == () for c in chunks)
        return
    words = []
    for chunk in chunks:
        for w in chunk.words:
            assert 0 <= w.start < chunk.duration and w.end > w.start
        words += [w.word for w in chunk.words]
    assert words == [w.strip(",.") for w in LONG.split()]
    first = engine.label(engine.sentences(LONG), _segment(LONG))[0]
    pieces = list(engine.stream_sentence(first, OPTIONS))
    for piece in pieces:
        assert all(0 <= w.start < piece.duration for w in piece.words)
    assert [w.word for p in pieces for w in p.words] == words[: len(LONG.split(". ")[0].split())]


def _segment(text: str) -> Segment:
    return Segment((Span(text, text),))
