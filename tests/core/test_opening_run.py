"""Only a request's first model run is chunked for an early first audio (issue 18, item 7):
``Sentence.index`` counts runs within a segment and starts again at 0 in each, so a later
segment's first sentence must not be taken for the request's (``Sentence.opens_request``)."""

from __future__ import annotations

from conftest import make_config

from macbot.core.engines.chunked import ChunkedEngine
from macbot.core.synthesizer import Synthesizer

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."


def test_only_the_requests_first_run_is_chunked_not_each_segments(voice_split, plain):
    _, folder = voice_split
    config = make_config(
        models__tts__optimized_dir=str(folder.parent),
        models__tts__streaming={"enabled": True},
        voice_assistant__performance={"tts_cache_enabled": False},
    )
    synth = Synthesizer(config)
    try:
        assert isinstance(synth.engine(), ChunkedEngine)
        # Three segments (text, a pause, text): the third's first run has index 0 too.
        ssml = f'<speak>{SENTENCE} <break time="200ms"/> {SENTENCE}</speak>'
        assert len(synth.normalize(ssml).segments) == 3
        spoken = [c for c in synth.stream(ssml, options=plain) if not c.pause]
        ends = [i for i, c in enumerate(spoken) if c.last_part]
        assert len(ends) == 2  # one sentence per text segment
        first, second = spoken[: ends[0] + 1], spoken[ends[0] + 1 :]
        assert len(first) > 1  # the request's first run: chunked for its first audio
        assert [c.part for c in first] == list(range(len(first)))
        assert len(second) == 1  # the third segment's first run (index 0): one piece
    finally:
        synth.close()
