"""The ``bounds`` suite's table of scenarios (the suite itself runs under `macbot bench bounds`;
tests/daemon/test_request_bounds.py checks the bounds on a served daemon)."""

from __future__ import annotations

from benchmarks.bounds import PAUSES, Scenario, scenarios


def test_every_scenario_is_named_once_and_says_what_to_send():
    table = scenarios()
    assert len({s.name for s in table}) == len(table) == 14
    for scenario in table:
        if scenario.protocol == "http":
            assert scenario.path.startswith("/") and scenario.body and not scenario.messages
        elif scenario.protocol == "websocket":
            assert scenario.messages[-1] == {"type": "close"} and not scenario.path
        else:
            assert scenario.protocol == "wyoming" and scenario.body["text"]
    assert {s.protocol for s in table} == {"http", "websocket", "wyoming"}


def test_the_burst_is_four_copies_of_one_row():
    (burst,) = [s for s in scenarios() if s.at_once > 1]
    assert burst == Scenario(
        "4 x /speak 5 KB of [[slnc 10000]] at once",
        "http",
        "/speak",
        {"text": PAUSES, "play": False},
        at_once=4,
    )
