"""Scenario cards tell an unmeasured lever direction from an uncertain one, in the levers' own words."""

from __future__ import annotations

import json

from dashboard.pages.scenarios import result_cards
from models import scenarios as sc


def _result(directions: dict) -> dict:
    # one detected answer with made-up numbers; only the direction notes are under test
    item = {
        "target": "detected",
        "unit": "detected victims per 100,000",
        "baseline": 0.5,
        "baseline_lower": 0.1,
        "baseline_upper": 1.0,
        "scenario": 0.6,
        "lower": 0.2,
        "upper": 1.2,
        "difference": 0.1,
        "support": [],
        "directions": directions,
    }
    return {"data": [item], "meta": {"honesty": "learned association, not a causal effect"}}


def test_not_measured_and_uncertain_directions_are_told_apart_by_lever_label():
    label = {lv.name: lv.label for lv in sc.LEVERS}
    text = json.dumps(
        result_cards(
            _result(
                {
                    "conflict_deaths": {"verdict": "not measured"},
                    "policy_3p": {"verdict": "uncertain"},
                    "prosecutions": {"verdict": "supported"},
                }
            )
        ).to_plotly_json(),
        default=lambda o: o.to_plotly_json(),
    )
    assert (
        f"Direction not measured yet for this run (measuring in the background): {label['conflict_deaths']}"
        in text
    )
    assert f"Direction not supported by the backtest (uncertain): {label['policy_3p']}" in text
    assert label["prosecutions"] not in text
