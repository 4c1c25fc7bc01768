"""Issue 11, Found 1: one sentence grew memory with the square of its length. Text without
sentence punctuation stayed one model run however long (990 × ``word `` or a few hundred CJK
characters took gigabytes); every run is now at most ``MAX_PHONEME_IDS`` phoneme ids, cut at
clause punctuation, else at a word boundary, else hard."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.common import MORE_SENTENCES, SENTENCES
from macbot.core.engines.piper import (
    MAX_PHONEME_IDS,
    PiperEngine,
    SynthesisOptions,
    split_phonemes,
)

WORDS_4950 = "word " * 990
"""The issue's case: 4,950 characters, inside ``max_text_chars``, no sentence punctuation."""


@pytest.fixture(scope="module")
def engine(shared_synth) -> PiperEngine:
    return shared_synth.engine()


@pytest.fixture
def small_bound(shared_synth) -> PiperEngine:
    """The real voice with a bound of 120 ids, so that a short text is cut (fast to run)."""
    real = shared_synth.engine()
    engine = PiperEngine(real.voice, real.session, real.voice_config)
    engine.max_phoneme_ids = 120
    return engine


@pytest.mark.parametrize(
    "text",
    [WORDS_4950, "你好世界" * 75, "a" * 4000, "Supercalifragilistic" * 200],
    ids=["990 words", "300 CJK characters", "one letter 4000 times", "one long word"],
)
def test_found_1_no_model_run_exceeds_the_bound(engine, text):
    runs = engine.sentences(text)
    assert len(runs) > 1
    assert max(len(r.phoneme_ids) for r in runs) <= MAX_PHONEME_IDS
    assert [r.joins_next for r in runs] == [True] * (len(runs) - 1) + [False]
    assert [r.index for r in runs] == list(range(len(runs)))
    assert runs[-1].last and not any(r.last for r in runs[:-1])


def test_normal_text_is_never_cut(engine):
    paragraph = " ".join(SENTENCES + MORE_SENTENCES)
    runs = engine.sentences(paragraph)
    assert len(runs) == 10 and not any(r.joins_next for r in runs)
    assert max(len(r.phoneme_ids) for r in runs) < MAX_PHONEME_IDS // 2


def test_a_long_sentence_is_cut_after_clause_punctuation(engine):
    clauses = ", ".join(f"it was the age of number {n}" for n in range(40)) + "."
    runs = engine.sentences(clauses)
    assert len(runs) > 1
    for run in runs[:-1]:
        assert run.phonemes.endswith(",")  # the model renders the comma's pause itself
    assert runs[-1].phonemes.endswith(".")


def test_split_phonemes_prefers_clauses_then_words_then_cuts_hard():
    text = list("ab cd, ef gh ij kl")
    assert split_phonemes(text, 100) == [text]
    assert split_phonemes(text, 8) == [list("ab cd,"), list("ef gh ij"), list("kl")]
    assert split_phonemes(list("abcdefghij"), 4) == [list("abcd"), list("efgh"), list("ij")]
    for limit in range(2, 12):
        pieces = split_phonemes(text, limit)
        assert all(0 < len(p) <= limit for p in pieces)
        assert "".join("".join(p) for p in pieces).replace(" ", "") == "".join(text).replace(
            " ", ""
        )
    with pytest.raises(ValueError):
        split_phonemes(text, 1)


def test_pieces_of_one_sentence_join_without_sentence_silence(small_bound, engine):
    """The cut pieces play as one sentence: no ``sentence_silence`` between them, and the
    joined audio is about as long as the unsplit sentence."""
    text = "the quick brown fox jumps over the lazy dog " * 3
    runs = small_bound.sentences(text)
    assert len(runs) > 2
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.5)
    chunks = list(small_bound.synthesize(text, options))
    pieces = sum(len(c.samples) for c in chunks)
    no_silence = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.0)
    bare = sum(len(c.samples) for c in small_bound.synthesize(text, no_silence))
    assert pieces == bare  # no 0.5 s gap anywhere
    (one,) = engine.sentences(text)  # under the real bound: one run
    whole = np.asarray(engine.infer(one.phoneme_ids, no_silence), dtype=np.float32)
    assert 0.8 < pieces / len(whole) < 1.2


def test_found_1_a_long_unpunctuated_request_answers_with_audio(live_server):
    """Over HTTP, cut runs come back as one WAV (the 4,950-character case is measured in
    ``macbot bench runs``: bounded memory and time)."""
    resp = live_server.post("/speak", json={"text": "word " * 120, "play": False})
    assert resp.status_code == 200
    assert float(resp.headers["X-Audio-Duration"]) > 15  # 120 words


def test_idle_memory_is_released_after_a_burst():
    """Issue 11: the arena kept the longest sentence's peak for good. A burst now runs with
    it warm, and once idle the synthesizer shrinks it with one tiny run and trims the heap."""
    import time

    from conftest import make_config

    from macbot.core.synthesizer import IDLE_RELEASE_SECONDS, Synthesizer

    synth = Synthesizer(make_config())
    try:
        synth.synthesize("A sentence long enough to grow the arena a little, then rest.")
        assert synth.release_pending
        deadline = time.monotonic() + IDLE_RELEASE_SECONDS + 30
        while synth.release_pending and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not synth.release_pending  # the housekeeper ran release_idle_memory
        synth.release_idle_memory()  # and can run again at any time
    finally:
        synth.close()


class _Watched:
    """The real session, noting how many paced ids the engine's runs hold while each runs."""

    def __init__(self, engine: PiperEngine) -> None:
        self.engine = engine
        self.session = engine.session
        self.held: list[int] = []

    def run(self, *args, **kwargs):
        self.held.append(self.engine.budget.held)
        return self.session.run(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.session, name)


def test_found_6_the_whole_models_runs_share_one_budget(shared_synth):
    """Issue 21: two workers each ran 600 ids of spelled letters on the whole model at once
    (+887 MB). Its runs are now at most WHOLE_MODEL_IDS long, and together hold at most
    WHOLE_MODEL_IDS paced ids: a run of 300 waits while another of 300 runs, and at speed
    0.25 a run counts four times its ids."""
    from concurrent.futures import ThreadPoolExecutor

    from macbot.core.engines.piper import WHOLE_MODEL_IDS

    real = shared_synth.engine()
    engine = PiperEngine(real.voice, real.session, real.voice_config)
    assert engine.max_phoneme_ids == WHOLE_MODEL_IDS < MAX_PHONEME_IDS
    letters = " ".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(400))
    assert max(len(r.phoneme_ids) for r in engine.sentences(letters)) <= WHOLE_MODEL_IDS
    watched = _Watched(engine)
    engine.session = watched
    ids = engine.sentences(letters)[0].phoneme_ids[:300]
    quiet = SynthesisOptions(noise_scale=0, noise_w_scale=0)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: engine.infer(ids, quiet), range(4)))
    assert watched.held == [300] * 4  # each ran alone: 600 would not fit
    slow = SynthesisOptions(speed=0.25, noise_scale=0, noise_w_scale=0)
    runs = engine.sentences(letters, slow)
    assert max(len(r.phoneme_ids) for r in runs) <= WHOLE_MODEL_IDS // 4
    watched.held.clear()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda r: engine.infer(r.phoneme_ids, slow), runs[:2]))
    assert all(h <= WHOLE_MODEL_IDS for h in watched.held)
    assert engine.budget.held == 0
