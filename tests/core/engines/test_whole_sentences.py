"""Requests that do not stream (issue 20, item 7): a consumer that waits for whole sentences
gets every sentence decoded in one piece by the split engine (no chunks' context, no extra
decoder runs), with the same audio as the chunked stream."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from conftest import make_config

from macbot.core.engines.chunked import ChunkedEngine
from macbot.core.synthesizer import Synthesizer

TEXT = "The quick brown fox jumps over the lazy dog near the river bank."


def test_a_whole_sentence_is_one_decoder_run(voice_split, plain):
    voice, folder = voice_split
    engine = ChunkedEngine.load_split(voice, folder)
    sentence = engine.label_sentences(engine.sentences(TEXT), _segment(TEXT))[0]
    assert sentence.opens_request
    chunked = list(engine.stream_sentence(sentence, plain))
    whole = list(engine.stream_sentence(sentence, replace(plain, whole=True)))
    assert len(chunked) > 1 and len(whole) == 1
    assert (whole[0].part, whole[0].last_part) == (0, True)
    parts = [w for i in range(len(chunked)) for w in _shifted(i, chunked)]
    assert [w.word for w in whole[0].words] == [w.word for w in parts]
    np.testing.assert_allclose(
        [w.start for w in whole[0].words], [w.start for w in parts], atol=1e-3
    )
    joined = np.concatenate([c.samples for c in chunked])
    np.testing.assert_allclose(whole[0].samples, joined, atol=1e-5)
    assert replace(plain, whole=True).key() == plain.key()  # same audio, same cache entry


def test_the_synthesizer_decodes_whole_sentences_when_nothing_streams(voice_split, plain):
    _, folder = voice_split
    config = make_config(
        models__tts__optimized_dir=str(folder.parent),
        models__tts__streaming={"enabled": True},
        voice_assistant__performance={"tts_cache_enabled": False},
    )
    synth = Synthesizer(config)
    submitted = []
    real = synth.pool.submit
    synth.pool.submit = lambda tasks, lead=False: submitted.append(lead) or real(tasks, lead)
    try:
        assert isinstance(synth.engine(), ChunkedEngine)
        text = f"{TEXT} It was a sunny day."
        streamed = list(synth.stream(text, options=plain))
        result = synth.synthesize(text, options=plain)
        assert submitted == [True, False]  # the whole request does not lead (nothing streams)
        assert len(streamed) > 2
        joined = np.concatenate([c.samples for c in streamed])
        np.testing.assert_allclose(result.samples, joined, atol=1e-5)
    finally:
        synth.close()


def _shifted(index, chunks):
    """The words of ``chunks[index]`` timed from the sentence's first sample."""
    chunk = chunks[index]
    offset = sum(len(c.samples) for c in chunks[:index]) / chunk.sample_rate
    return [replace(w, start=w.start + offset, end=w.end + offset) for w in chunk.words]


def _segment(text):
    from macbot.core.text.segments import Segment, Span

    return Segment((Span(text, text),))
