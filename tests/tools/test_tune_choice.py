"""How ``macbot tune`` chooses among timed candidates (:func:`macbot.tools.tune.choose`), fed
with the figures of real runs. The timing itself runs real engines in
tests/core/test_selection.py and tests/tools/test_kokoro_variants.py."""

from __future__ import annotations

import copy

import pytest

from macbot.core.selection import EngineChain
from macbot.tools.tune import QUALITY_TIE, TIMINGS_COST, choose

KOKORO_QUIET_RUN = {
    "kokoro": {"median_rtf": 0.5538, "word_timings": False, "speedup_range": [1.0, 1.0]},
    "kokoro.float-matmul": {
        "median_rtf": 0.58773,
        "word_timings": True,
        "speedup_range": [0.917, 1.008],
    },
    "kokoro.timed": {"median_rtf": 0.5805, "word_timings": True, "speedup_range": [0.954, 0.967]},
}
"""`macbot bench kokoro-targets --rounds 3` on a quiet machine (2026-12-03): the tune step's
median RTFs (2 rounds × 4 sentences, 2 threads). ``kokoro.timed`` is the packaged model with
its durations as an output (MCD 0.00 dB against it); the original gives no durations."""


def _results(figures: dict[str, dict]) -> dict[str, dict]:
    results = copy.deepcopy(figures)
    base = results["kokoro"]["median_rtf"] if "kokoro" in results else None
    for name, entry in results.items():
        entry.update(name=name, usable=True)
        if base is not None:
            entry["speedup_vs_original"] = round(base / entry["median_rtf"], 3)
            entry["speedup_rounds"] = entry["speedup_range"]
    return results


def test_the_timed_kokoro_model_wins_over_the_faster_original_without_timings():
    """Found on the quiet run: the original won by 4 %, and the daemon had no word timings
    (the benchmark's word-timings row read NaN)."""
    results = _results(KOKORO_QUIET_RUN)
    assert choose(results, "kokoro") == "kokoro.timed"
    assert results["kokoro.timed"]["chosen_ok"]
    assert "word timings" in results["kokoro.timed"]["reason"]
    assert results["kokoro.timed"]["for_timings"] and "for_timings" not in results["kokoro"]
    # the slower timed one is allowed too (within the cost) but is not the fastest of them
    assert results["kokoro.float-matmul"]["chosen_ok"]


def test_a_timed_engine_past_the_cost_is_refused():
    figures = copy.deepcopy(KOKORO_QUIET_RUN)
    for name in ("kokoro.timed", "kokoro.float-matmul"):
        figures[name]["median_rtf"] = round(figures["kokoro"]["median_rtf"] * 1.2, 5)
    results = _results(figures)
    assert choose(results, "kokoro") == "kokoro"
    assert not results["kokoro.timed"]["chosen_ok"]
    assert results["kokoro.timed"]["reason"].startswith("slower than the original")


def test_nothing_is_traded_when_the_original_has_timings_too():
    """A Piper voice that streams through its split has durations: a slower variant is
    refused as before."""
    figures = copy.deepcopy(KOKORO_QUIET_RUN)
    figures["kokoro"]["word_timings"] = True
    results = _results(figures)
    assert choose(results, "kokoro") == "kokoro"
    assert not results["kokoro.timed"]["chosen_ok"]


@pytest.mark.parametrize(
    ("slower", "winner"), [(TIMINGS_COST - 0.05, "timed"), (TIMINGS_COST + 0.05, "fast")]
)
def test_a_faster_variant_without_timings_gives_way_only_within_the_cost(slower, winner):
    figures = {
        "kokoro": {"median_rtf": 1.0, "word_timings": False, "speedup_range": [1.0, 1.0]},
        "fast": {"median_rtf": 0.5, "word_timings": False, "speedup_range": [2.0, 2.0]},
        "timed": {
            "median_rtf": 0.5 * slower,
            "word_timings": True,
            "speedup_range": [1.9, 1.9],
        },
    }
    assert choose(_results(figures), "kokoro") == winner


def test_the_chain_tries_the_records_winner_first():
    """The chain ordered allowed candidates by RTF alone, so it would have loaded a faster
    variant without timings over the winner the record names."""

    class Cand:
        def __init__(self, name, original=False):
            self.name, self.is_original = name, original

    cands = [Cand("fast"), Cand("timed"), Cand("kokoro", original=True)]
    tuned = {
        "fast": {"chosen_ok": True, "median_rtf": 0.5},
        "timed": {"chosen_ok": True, "median_rtf": 0.52, "winner": True},
        "kokoro": {"chosen_ok": True, "median_rtf": 1.0},
    }
    assert [c.name for c in EngineChain._order(cands, tuned)] == ["timed", "fast", "kokoro"]
    tuned["kokoro"]["winner"], tuned["timed"]["winner"] = True, False
    # the original winning stays last: the others' rejections are tried and recorded first
    assert [c.name for c in EngineChain._order(cands, tuned)][-1] == "kokoro"
    del tuned["kokoro"]["winner"], tuned["timed"]["winner"]  # a record from before: by RTF
    assert [c.name for c in EngineChain._order(cands, tuned)] == ["fast", "timed", "kokoro"]


KOKORO_GATED_RUN = {
    "kokoro": {"median_rtf": 0.555, "word_timings": False, "speedup_range": [1.0, 1.0]},
    "kokoro.timed": {
        "median_rtf": 0.5775,
        "word_timings": True,
        "speedup_range": [0.956, 0.966],
        "wer_points": 0.0,
    },
    "kokoro.static-dec": {
        "median_rtf": 0.3415,
        "word_timings": True,
        "speedup_range": [1.577, 1.673],
        "wer_points": 0.3,
    },
    "kokoro.static-gen": {
        "median_rtf": 0.33,
        "word_timings": True,
        "speedup_range": [1.642, 1.722],
        "wer_points": 1.81,
    },
    "kokoro.float-matmul": {
        "median_rtf": 0.549,
        "word_timings": True,
        "speedup_range": [0.987, 1.035],
        "wer_points": 0.6,
    },
}
"""`macbot bench kokoro-targets --rounds 3` on a quiet machine after static-dec came
(2026-12-03): every variant passed the gate on 32 sentences; static-gen was the fastest by 3 %,
with 1.5 points more WER than static-dec."""


def test_a_speed_up_within_the_tie_does_not_buy_word_errors():
    results = _results(KOKORO_GATED_RUN)
    assert choose(results, "kokoro") == "kokoro.static-dec"
    assert results["kokoro.static-dec"]["for_quality"]
    assert "for_quality" not in results["kokoro.static-gen"]


def test_past_the_tie_the_faster_wins_whatever_its_word_errors():
    figures = copy.deepcopy(KOKORO_GATED_RUN)
    figures["kokoro.static-gen"]["median_rtf"] = round(
        figures["kokoro.static-dec"]["median_rtf"] / (QUALITY_TIE + 0.02), 5
    )
    results = _results(figures)
    assert choose(results, "kokoro") == "kokoro.static-gen"
    assert "for_quality" not in results["kokoro.static-dec"]


def test_an_unmeasured_engine_counts_as_the_original():
    """No WER in its manifest (a candidate named in the config): it ties at 0, the faster
    wins, as before the tie."""
    figures = {
        "piper": {"median_rtf": 0.05, "word_timings": True, "speedup_range": [1.0, 1.0]},
        "coreml": {"median_rtf": 0.049, "word_timings": True, "speedup_range": [1.02, 1.02]},
    }
    results = _results(figures)
    for entry in results.values():
        entry["speedup_vs_original"] = 1.0
    assert choose(results, "piper") == "coreml"
