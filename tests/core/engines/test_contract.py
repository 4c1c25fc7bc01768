"""The engine contract (macbot.core.engines.Engine), checked on every implementation this
machine can run, of both families: the whole-sentence Piper engine, the split voice's chunked
engine with its dynamic and its fixed-shape decoder (the CoreML candidate's form, run here on
the CPU), the .mlpackage engine (over a stand-in for coremltools' model that answers with the
voice's real output: this machine has no CoreML), and Kokoro-82M (the packaged int8 model with
its duration output exposed). uvicorn's tests run on every implementation of its registry the
same way (STYLE.md #17)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from macbot.core.audio import AudioChunk
from macbot.core.engines import Engine, SynthesisOptions, registry, streams_within_sentence
from macbot.core.engines.coreml import MLPackageEngine
from macbot.core.text.segments import Segment, Span

LONG = (
    "Your next meeting starts in fifteen minutes in the small conference room on the third "
    "floor, and the agenda has been shared with everyone. Bring the slides."
)
SHORT = "Your meeting starts soon. Bring the slides."
"""Kokoro's text: short, as it runs several times slower than Piper."""
OPTIONS = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.1)
RATES = {"piper": 22050, "kokoro": 24000}


class _CoreMLModel:
    """Stands in for a coremltools model (this machine has no CoreML): answers with the real
    voice's real output, as a converted model does (one output: the audio)."""

    def __init__(self, session) -> None:
        self.session = session

    def predict(self, feed):
        return {"output": self.session.run(None, feed)[0]}

    def get_spec(self):
        names = [SimpleNamespace(name=n) for n in ("input", "input_lengths", "scales")]
        return SimpleNamespace(description=SimpleNamespace(input=names))


@pytest.fixture(
    scope="module", params=["piper", "chunked", "chunked-static", "mlpackage", "kokoro"]
)
def engine(request, voice_split) -> Engine:
    voice, folder = voice_split
    if request.param == "piper":
        return registry.load(voice)
    if request.param == "mlpackage":
        piper = registry.load(voice)
        return MLPackageEngine(voice, _CoreMLModel(piper.session), voice.model_path)
    if request.param == "chunked":
        return registry.load(voice, folder, "split", chunk_frames=32, context_frames=12, growth=4.0)
    if request.param == "chunked-static":
        return registry.load(
            voice, folder, "split", chunk_frames=64, context_frames=16, static=True
        )
    return request.getfixturevalue("kokoro_engine")


def _text(engine: Engine) -> str:
    return SHORT if engine.family == "kokoro" else LONG


def test_every_format_is_registered():
    assert set(registry.formats()) >= {"onnx", "split", "mlpackage", "kokoro"}


def test_it_is_an_engine(engine):
    assert isinstance(engine, Engine)
    facts = engine.describe()
    assert facts["engine_type"] == engine.engine_type == engine.label
    assert facts["family"] == engine.family and facts["sample_rate"] == RATES[engine.family]
    assert facts["streams_within_sentence"] is streams_within_sentence(engine)
    assert engine.warmup() > 0


def test_one_chunk_per_sentence_in_order(engine):
    text = _text(engine)
    sentences = engine.sentences(text)
    assert len(sentences) == 2 and sentences[-1].last and not sentences[0].last
    assert sentences[0].opens_request and not sentences[1].opens_request
    chunks = list(engine.synthesize(text, OPTIONS))
    assert [c.index for c in chunks] == [0, 1]
    for chunk in chunks:
        assert isinstance(chunk, AudioChunk) and chunk.engine == engine.engine_type
        assert chunk.sample_rate == engine.sample_rate
        assert chunk.samples.dtype == np.float32 and np.all(np.isfinite(chunk.samples))
        assert 0.05 < float(np.max(np.abs(chunk.samples))) <= 1.0
    gap = int(OPTIONS.sentence_silence * engine.sample_rate)
    assert np.all(chunks[0].samples[-gap:] == 0)  # the pause after every sentence but the last
    assert chunks[1].duration > 0.5


def test_the_stream_joins_to_the_whole_sentence(engine):
    first = engine.sentences(_text(engine))[0]
    pieces = list(engine.stream_sentence(first, OPTIONS))
    whole = engine.synthesize_sentence(first, OPTIONS)
    joined = np.concatenate([p.samples for p in pieces])
    assert joined.shape == whole.samples.shape
    assert float(np.max(np.abs(joined - whole.samples))) <= 1e-6
    assert all(p.index == first.index for p in pieces)
    # The capability is read from the contract: an engine that streams within a sentence
    # overrides stream_sentence (issue 18: the old flag was never read).
    if not streams_within_sentence(engine):
        assert len(pieces) == 1


def test_words_ride_on_the_chunk_where_they_start(engine):
    """Issue 14: an engine with phoneme durations (the split's encoder, Kokoro's exposed
    duration output) times the input's words; one without (the voice's own Piper model) gives
    none, and says so in describe()."""
    text = _text(engine)
    assert engine.describe()["word_timings"] is engine.has_durations
    chunks = list(engine.synthesize(text, OPTIONS))
    if not engine.has_durations:
        assert all(c.words == () for c in chunks)
        return
    words = []
    for chunk in chunks:
        for w in chunk.words:
            assert 0 <= w.start < chunk.duration and w.end > w.start
        words += [w.word for w in chunk.words]
    assert words == [w.strip(",.") for w in text.split()]
    first = engine.label_sentences(engine.sentences(text), _segment(text))[0]
    pieces = list(engine.stream_sentence(first, OPTIONS))
    for piece in pieces:
        assert all(0 <= w.start < piece.duration for w in piece.words)
    assert [w.word for p in pieces for w in p.words] == words[: len(text.split(". ")[0].split())]


def test_a_run_is_bounded(engine):
    """No model run grows without bound: Piper's at its max_phoneme_ids, Kokoro's at its
    run_limit() tokens (a sentence without punctuation is cut into runs that each fit)."""
    text = " ".join(["word"] * 400) + "."
    limit = engine.run_limit() + 2 if engine.family == "kokoro" else engine.max_phoneme_ids
    sentences = engine.sentences(text)
    assert len(sentences) > 1 and all(len(s.phoneme_ids) <= limit for s in sentences)
    assert all(s.joins_next for s in sentences[:-1]) and not sentences[-1].joins_next


def _segment(text: str) -> Segment:
    return Segment((Span(text, text),))
