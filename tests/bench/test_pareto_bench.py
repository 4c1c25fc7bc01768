"""The ``pareto`` suite's front and plot (the suite itself runs under `macbot bench pareto`)."""

from __future__ import annotations

from benchmarks.optimize import pareto_front, plot_pareto


def test_pareto_front_and_plot(tmp_path):
    """The `pareto` suite's front: no other candidate is at least as fast, as accurate and as
    small while strictly better on one."""
    rows = [
        {"candidate": "piper", "speedup": 1.0, "size_mb": 63.2, "wer_delta_points": 0.0},
        {"candidate": "q-conv", "speedup": 1.4, "size_mb": 18.9, "wer_delta_points": 0.6},
        {"candidate": "q-all", "speedup": 1.6, "size_mb": 17.3, "wer_delta_points": 4.5},
        {"candidate": "dec-conv", "speedup": 1.2, "size_mb": 60.1, "wer_delta_points": 0.6},
        {"candidate": "unmeasured", "speedup": None, "size_mb": 1.0, "wer_delta_points": None},
    ]
    assert pareto_front(rows) == {"piper", "q-conv", "q-all"}
    for r in rows:
        r.update(gate="usable", pareto="")
    path = plot_pareto(rows, tmp_path / "pareto.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
