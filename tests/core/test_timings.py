"""Word timings (issue 14): the model's own phoneme durations, mapped to the input's words.

Real parts: the bundled voice's split (its encoder outputs the durations), the voice model
patched with piper's own alignment output, the real text front end and synthesizer."""

from __future__ import annotations

import math
import random
import re
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import make_config

from macbot.core.audio import WordTiming
from macbot.core.engines import Engine, SynthesisOptions
from macbot.core.engines.chunked import ChunkedEngine
from macbot.core.engines.coreml import MLPackageEngine
from macbot.core.engines.piper import PiperEngine
from macbot.core.synthesizer import Synthesizer
from macbot.core.text.segments import Segment, Span
from macbot.core.timings import (
    NO_DURATIONS,
    Numbering,
    align,
    input_word,
    label_segment,
    phoneme_word_frames,
    spoken_tokens,
)

OPTIONS = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.2)
TEXT = "Good morning, Dave! It costs $1,234 today. Your meeting starts at 5:30pm in room 12."
INPUT_WORDS = [
    "Good", "morning", "Dave", "It", "costs", "$1,234", "today",
    "Your", "meeting", "starts", "at", "5:30pm", "in", "room", "12",
]  # fmt: skip


def check_timings(words, duration: float) -> None:
    """Ordered, non-overlapping, each of positive length, all within the audio."""
    assert words
    previous_end = 0.0
    for w in words:
        assert w.start >= previous_end - 1e-9, (w, previous_end)
        assert w.end > w.start
        previous_end = w.end
    assert previous_end <= duration + 1e-9


# -- labels ------------------------------------------------------------------------------------


def test_input_words_keep_their_own_punctuation_only():
    assert input_word("world!") == "world"
    assert input_word('"Hello,') == "Hello"
    assert input_word("U.S.") == "U.S."
    assert input_word("$1,234.") == "$1,234"
    assert input_word("don't") == "don't"


def test_a_number_spoken_as_several_words_is_one_input_word(shared_synth):
    utterance = shared_synth.normalize("It costs $1,234 today.")
    (segment,) = [s for s in utterance.segments if not s.is_pause]
    tokens = spoken_tokens(segment)
    words = [t.word if t else None for t in tokens]
    # "one thousand two hundred and thirty four dollars": eight spoken words, one input word
    assert words == ["It", "costs", *["$1,234"] * 8, "today"]
    assert [t.key for t in tokens] == [0, 1, *[2] * 8, 3]


def test_labels_pair_each_phoneme_word_with_its_input_word(shared_synth):
    engine = shared_synth.engine()
    segment = Segment((Span("Hello, world! How are you?", "Hello, world! How are you?"),))
    sentences = engine.sentences(segment.text)
    numbering = Numbering()
    labels = label_segment(segment, [s.phonemes for s in sentences], numbering)
    assert (numbering.key, numbering.token) == (5, 5)
    assert [[[lab.word for lab in said] for said in sl] for sl in labels] == [
        [["Hello"], ["world"]],
        [["How"], ["are"], ["you"]],
    ]


def test_words_espeak_joins_or_splits_are_paired_by_length():
    # espeak says "in the" as one phoneme word; a long word may come out as two
    segment = Segment((Span("lights in the kitchen", "lights in the kitchen"),))
    labels = label_segment(segment, ["lˈaɪts ɪnðə kˈɪtʃən"])
    assert [[lab.word for lab in said] for said in labels[0]] == [
        ["lights"],
        ["in", "the"],
        ["kitchen"],
    ]
    segment = Segment((Span("well-known fact", "well-known fact"),))
    labels = label_segment(segment, ["wˈɛl nˈoʊn fˈækt"])
    assert [[lab.word for lab in said] for said in labels[0]] == [
        ["well-known"],
        ["well-known"],
        ["fact"],
    ]


def whole_table_align(letters, phonemes):
    """The alignment as it was before issue 21: the whole n×m table (the reference)."""
    n, m = len(letters), len(phonemes)
    best = [[math.inf] * (m + 1) for _ in range(n + 1)]
    step = [[(0, 0)] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    moves = ((1, 1, 0.0), (2, 1, 0.35), (1, 2, 0.35), (1, 0, 2.0), (0, 1, 2.0))
    for i in range(n + 1):
        for j in range(m + 1):
            if best[i][j] == math.inf:
                continue
            for di, dj, extra in moves:
                a, b = i + di, j + dj
                if a > n or b > m:
                    continue
                cost = best[i][j] + extra
                if di and dj:
                    ratio = (sum(letters[i:a]) + 1) / (sum(phonemes[j:b]) + 1)
                    cost += abs(math.log(ratio))
                if cost < best[a][b]:
                    best[a][b], step[a][b] = cost, (di, dj)
    pairs = []
    i, j = n, m
    while i or j:
        di, dj = step[i][j]
        pairs.append((list(range(i - di, i)), list(range(j - dj, j))))
        i, j = i - di, j - dj
    return pairs[::-1]


def espeak_like(rng: random.Random, words: int) -> tuple[list[int], list[int]]:
    """Letter counts of ``words`` words and the phoneme counts of a voice that says most one to
    one, joins some pairs into one word and splits some words in two."""
    letters = [rng.randint(1, 12) for _ in range(words)]
    phonemes: list[int] = []
    i = 0
    while i < words:
        roll = rng.random()
        if roll < 0.08 and i + 1 < words:
            phonemes.append(letters[i] + letters[i + 1] + rng.randint(-2, 1))
            i += 2
            continue
        if roll < 0.12 and letters[i] > 5:
            phonemes.extend([letters[i] // 2, letters[i] - letters[i] // 2])
        else:
            phonemes.append(max(0, letters[i] + rng.randint(-2, 2)))
        i += 1
    return letters, phonemes


def test_alignment_pairs_as_the_whole_table_did():
    # issue 21 item 5: the banded search gives the whole table's pairing, ties included
    rng = random.Random(21)
    for _ in range(400):
        letters, phonemes = espeak_like(rng, rng.randint(0, 30))
        assert align(letters, phonemes) == whole_table_align(letters, phonemes)
        # a narrow band on short text: still the whole table's pairing wherever it stays near
        # the line, and always a complete one
        pairs = align(letters, phonemes, band=2)
        assert [k for said, _ in pairs for k in said] == list(range(len(letters)))
        assert [k for _, sounds in pairs for k in sounds] == list(range(len(phonemes)))
    for _ in range(3):
        # a long paragraph (wider than the band): the same pairing
        letters, phonemes = espeak_like(rng, 400)
        assert align(letters, phonemes, band=32) == whole_table_align(letters, phonemes)


def test_2500_one_letter_words_align_in_bounded_memory(shared_synth):
    # issue 21 item 5: "a b c …" within the 5,000-character limit took 30.6 s and 740 MB (the
    # whole 2,500 × 2,500 table of Python floats); the band keeps it near linear
    text = " ".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(2500))
    segment = Segment((Span(text, text),))
    sentences = [s.phonemes for s in shared_synth.engine().sentences(segment.text)]
    tracemalloc.start()
    try:
        labels = label_segment(segment, sentences)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40_000_000, f"{peak / 1e6:.0f} MB"
    said = [lab.word for sentence in labels for piece in sentence for lab in piece]
    assert said[:3] == ["a", "b", "c"] and len(said) >= 2400


def test_phoneme_word_frames_skip_pauses_and_sentence_marks():
    id_map = {"_": [0], "^": [1], "$": [2], " ": [3], "a": [4], "b": [5], ",": [6]}
    #        ^  _  a  _  b  _  ,  _  ␣  _  a  _  $
    ids = [1, 0, 4, 0, 5, 0, 6, 0, 3, 0, 4, 0, 2]
    durations = np.array([[[2, 1, 3, 1, 4, 1, 5, 1, 1, 1, 2, 1, 3]]], dtype=np.float32)
    # word 1: from a (frame 3) to the pad after b (frame 12); the comma's pause is not in it
    # word 2: from a (frame 20) to the pad after it (frame 23); the end mark is not in it
    assert phoneme_word_frames(ids, durations, id_map) == [(3, 12), (20, 23)]
    with pytest.raises(ValueError, match="durations"):
        phoneme_word_frames(ids[:-1], durations, id_map)


# -- engines -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chunked(voice_split) -> ChunkedEngine:
    voice, folder = voice_split
    return ChunkedEngine.load_split(voice, folder)


@pytest.fixture(scope="module")
def aligned(voice_split, tmp_path_factory) -> PiperEngine:
    """The whole voice model with piper's own alignment output (its ``w_ceil``)."""
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    voice, _ = voice_split
    model = onnx.load(str(voice.model_path))
    add_alignment_output(model)
    path = tmp_path_factory.mktemp("aligned") / "voice.onnx"
    onnx.save(model, str(path))
    return PiperEngine.load(voice, model_path=path)


def test_the_split_encoder_gives_durations_that_cover_the_audio(chunked):
    sentence = chunked.sentences("Turning off the lights in the kitchen now.")[0]
    latent, durations = chunked.encode(sentence.phoneme_ids, OPTIONS)
    assert durations is not None and durations.size == len(sentence.phoneme_ids)
    assert int(durations.sum()) == latent.shape[-1]  # frames of the latent, exactly


def test_chunked_words_are_the_input_words_in_time(chunked):
    text = "Turning off the lights in the kitchen now, and locking the front door."
    (sentence,) = chunked.label_sentences(chunked.sentences(text), _plain(text))
    chunks = list(chunked.stream_sentence(sentence, OPTIONS))
    assert len(chunks) > 1  # words ride on the part where they start
    words = []
    offset = 0.0
    for chunk in chunks:
        for w in chunk.words:
            assert 0 <= w.start < chunk.duration  # starts inside its own chunk
            words.append((w.word, w.start + offset, w.end + offset))
        offset += chunk.duration
    assert [w for w, _, _ in words] == re.findall(r"[A-Za-z]+", text)
    check_timings([WordTiming(*w) for w in words], offset)


def test_the_whole_model_with_alignment_times_words_like_the_split(chunked, aligned):
    assert aligned.has_durations and chunked.has_durations
    assert aligned.describe()["word_timings"] is True
    text = "Playing your favourite playlist at a comfortable volume."
    (a,) = aligned.synthesize(text, OPTIONS)
    (c,) = chunked.synthesize(text, OPTIONS)
    assert [w.word for w in a.words] == [w.word for w in c.words]
    times = [t for w in a.words for t in (w.start, w.end)]
    assert times == pytest.approx([t for w in c.words for t in (w.start, w.end)], abs=1e-6)
    check_timings(a.words, a.duration)


def test_a_voice_without_durations_gives_no_words(full_engine):
    assert not full_engine.has_durations
    (chunk,) = full_engine.synthesize("Hello there.", OPTIONS)
    assert chunk.words == ()
    assert "macbot split" in NO_DURATIONS


def test_speed_scales_the_times(chunked):
    text = "The package will arrive tomorrow before noon."
    (normal,) = chunked.synthesize(text, OPTIONS)
    (fast,) = chunked.synthesize(text, SynthesisOptions(**{**OPTIONS.__dict__, "speed": 2.0}))
    assert [w.word for w in fast.words] == [w.word for w in normal.words]
    ratio = fast.words[-1].end / normal.words[-1].end
    # each phoneme's frames are rounded up, so short phonemes shrink less than half
    assert 0.45 < ratio < 0.65
    assert ratio == pytest.approx(fast.duration / normal.duration, abs=0.05)
    check_timings(fast.words, fast.duration)


def _plain(text: str) -> Segment:
    return Segment((Span(text, text),))


# -- the synthesizer: front end, several sentences, the cache ----------------------------------


@pytest.fixture(scope="module")
def split_synth(voice_split) -> Synthesizer:
    _, folder = voice_split
    synth = Synthesizer(
        make_config(
            models__tts__streaming={"enabled": True},
            models__tts__optimized_dir=str(folder.parent),
        )
    )
    assert synth.engine().engine_type == "piper_chunked"
    yield synth
    synth.close()


def test_utterance_words_match_the_input_words(split_synth):
    split_synth.cache.clear()
    result = split_synth.synthesize(TEXT)
    assert [w.word for w in result.words] == INPUT_WORDS
    check_timings(result.words, result.duration)


def test_a_cache_hit_gives_the_same_words(split_synth):
    split_synth.cache.clear()
    first = split_synth.synthesize(TEXT)
    again = split_synth.synthesize(TEXT)
    assert not first.cached and again.cached
    assert again.words == first.words


def test_same_sound_other_words_share_the_audio_not_the_words(split_synth):
    split_synth.cache.clear()
    a = split_synth.synthesize("It is $5.")
    b = split_synth.synthesize("It is 5 dollars.")
    assert not a.cached and b.cached  # one entry: the same spoken form (issue 13)
    assert [w.word for w in a.words] == ["It", "is", "$5"]
    assert [w.word for w in b.words] == ["It", "is", "5", "dollars"]
    assert (b.words[2].start, b.words[3].end) == (a.words[2].start, a.words[2].end)


def test_words_survive_the_disk_cache(voice_split, tmp_path):
    _, folder = voice_split
    config = make_config(
        models__tts__streaming={"enabled": True},
        models__tts__optimized_dir=str(folder.parent),
        voice_assistant__performance={"tts_cache_persist": True, "tts_cache_dir": str(tmp_path)},
    )
    first = Synthesizer(config)
    made = first.synthesize("Reminder: call the dentist.")
    first.close()
    second = Synthesizer(config)
    again = second.synthesize("Reminder: call the dentist.")
    second.close()
    assert again.cached and again.words == made.words
    assert [w.word for w in again.words] == ["Reminder", "call", "the", "dentist"]


class _CoreMLModel:
    """Stands in for a coremltools model (this machine has no CoreML): answers with the real
    voice's real output, as a converted model does (its one output: the audio)."""

    def __init__(self, engine: PiperEngine) -> None:
        self.engine = engine

    def predict(self, feed):
        return {"output": self.engine.session.run(None, feed)[0]}

    def get_spec(self):
        """coremltools' spec: the model's input names (``spec.description.input[i].name``)."""
        names = [SimpleNamespace(name=n) for n in ("input", "input_lengths", "scales")]
        return SimpleNamespace(description=SimpleNamespace(input=names))


def test_an_mlpackage_engine_has_no_durations(full_engine):
    """Issue 18: the .mlpackage engine is its own implementation of the contract (no fake
    onnxruntime session under a PiperEngine)."""
    engine = MLPackageEngine(full_engine.voice, _CoreMLModel(full_engine), full_engine.model_path)
    assert isinstance(engine, Engine) and engine.implementation == "coreml"
    assert not engine.has_durations
    (chunk,) = engine.synthesize("Hello there.", OPTIONS)
    assert chunk.words == () and chunk.duration > 0.3
