"""Task planning: an utterance's segments → one task per sentence (through the engine's
sentences and phonemes) and one per pause, each with its segment's rate and volume."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from ..config import SPEED_RANGE
from .audio import AudioChunk
from .engines import Engine, SynthesisOptions
from .text import Utterance
from .timings import Numbering, label_segment
from .workers import Task


def plan_tasks(engine: Engine, utterance: Utterance, options: SynthesisOptions) -> list[Task]:
    """One task per sentence of each segment (with the segment's rate and volume) and one
    per pause. A segment's last sentence keeps the sentence silence when speech follows
    and the segment ends a sentence; a pause replaces it."""
    tasks: list[Task] = []
    segments = utterance.segments
    numbering = Numbering()  # the words' keys and positions run across segments
    opening = True  # the request's first model run (see Sentence.opens_request)
    for i, segment in enumerate(segments):
        if segment.is_pause:
            tasks.append(functools.partial(silence, engine, segment.pause))
            continue
        seg_options = options
        if (segment.rate, segment.volume) != (1.0, 1.0):
            speed = min(max(options.speed * segment.rate, SPEED_RANGE[0]), SPEED_RANGE[1])
            seg_options = replace(options, speed=speed, volume=options.volume * segment.volume)
        following = segments[i + 1] if i + 1 < len(segments) else None
        gap = following is not None and not following.is_pause and segment.ends_sentence
        sentences = engine.sentences(segment.text, seg_options)  # runs cut by pace too
        labels = label_segment(segment, [s.phonemes for s in sentences], numbering)
        for sentence, words in zip(sentences, labels, strict=True):
            sentence = replace(sentence, words=words)
            if sentence.last and gap:
                sentence = replace(sentence, last=False)
            sentence = replace(sentence, opens_request=opening)
            opening = False
            tasks.append(functools.partial(engine.stream_sentence, sentence, seg_options))
    return tasks


def silence(engine: Engine, seconds: float) -> Iterator[AudioChunk]:
    """A pause (SSML ``<break>``, ``[[slnc]]``) as one chunk of ``engine``'s audio."""
    samples = np.zeros(round(engine.sample_rate * seconds), dtype=np.float32)
    yield AudioChunk(
        samples, engine.sample_rate, engine.engine_type, engine.voice.name, pause=seconds
    )
