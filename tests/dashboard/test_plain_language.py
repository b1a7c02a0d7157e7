"""Plain language on the screens (issue 13 item 5): features read in words with real values, no internal codes
or raw floats in tables, and a glossary in the nav that explains the terms with their sources.

The frames here are small hand-made test values (explained per test), not estimates.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboard import figures
from models.features import FEATURES

JARGON = ("log1p", "Log population", "Policy 3P", "__bias__")


def test_every_model_feature_has_a_plain_label():
    missing = [f.name for f in FEATURES if f.name not in figures.PLAIN_FEATURES]
    assert missing == []


@pytest.mark.parametrize(
    "feature,stored,expected",
    [
        ("log_population", math.log(24_200_000), "24.2 million people"),  # stored as log(population)
        ("conflict_deaths_per100k_lag1", math.log1p(8.8), "8.8 per 100,000 people"),  # log1p rate, lag kept
        ("policy_3p", 8.0, "8 of 15 (3 = weakest)"),
        ("tip_tier", 2.0, "tier 2 (1 best, 3 worst)"),
        ("wgi_rule_of_law", -2.04, "-2.04 (−2.5 to +2.5, higher is better)"),
        ("log_gdp_per_capita", math.log(1339.0), "US$1,339"),
        ("past_label_censored", 1.0, "yes"),
    ],
)
def test_feature_values_read_on_the_scale_people_use(feature, stored, expected):
    assert figures.plain_feature_value(feature, stored) == expected


def test_waterfall_speaks_plainly():
    """Two inputs of one hand-made explanation: no log1p, no code, no raw 'Log population = 17'."""
    expl = pd.DataFrame(
        {
            "feature": ["__bias__", "log_population", "wgi_rule_of_law"],
            "family": ["bias", "structural", "structural"],
            "value": [-1.0, -0.08, 0.03],
            "feature_value": [float("nan"), 17.0, -2.04],
        }
    )
    fig = figures.waterfall_figure(expl, {"log_population": "Log population"}, year=2025)
    text = " ".join([*fig.data[0].y, fig.layout.title.text, fig.layout.xaxis.title.text])
    for word in JARGON:
        assert word not in text, word
    assert "Population<br>24.2 million people" in fig.data[0].y
    assert "per 100,000 people" in fig.data[0].y[-1]


def test_runs_table_is_rounded_and_named():
    """Metrics of a run as stored (16-digit floats) show with 2-3 decimals; columns are named, not codes."""
    from dashboard.pages.model import _rounded_runs, _runs_columns

    runs = pd.DataFrame(
        {
            "run_id": ["r1"],
            "rmsle": [0.6190312345678901],
            "coverage80": [0.7923456789012345],
            "gate_passed": [False],
        }
    )
    shown = _rounded_runs(runs)
    assert shown.loc[0, "rmsle"] == 0.619 and shown.loc[0, "coverage80"] == 0.79
    assert shown.loc[0, "gate_passed"] == "no"
    names = [c["name"] for c in _runs_columns(runs)]
    assert "rmsle" not in names and any("RMSLE" in n for n in names)


def test_coverage_table_names_indicators_not_codes():
    from dashboard.pages.region import _coverage_table

    cov = pd.DataFrame(
        {
            "indicator": ["conflict.battle_deaths"],
            "family": ["conflict"],
            "source": ["ucdp"],
            "first": [2000],
            "last": [2023],
            "n": [24],
            "loaded_at": ["2026-12-01T00:00:00"],
        }
    )
    indicators = pd.DataFrame(
        {
            "code": ["conflict.battle_deaths"],
            "description": ["Battle-related deaths (UCDP)"],
            "unit": ["persons"],
        }
    )
    data = _coverage_table(cov, indicators).data
    assert data[0]["Indicator"] == "Battle-related deaths (UCDP)" and data[0]["Unit"] == "persons"


def test_glossary_is_in_the_nav_and_explains_the_terms(client):
    from dashboard.pages.glossary import TERMS

    anchors = {anchor for anchor, *_ in TERMS}
    assert {"tip-tier", "3p-index", "wgi", "shap", "detection-bias", "basis", "risk-band", "rmsle"} <= anchors
    assert all(text and len(text) > 40 for _a, _t, text, _s in TERMS)  # a sentence, not a stub
    from dashboard.app import nav_links

    with client.application.test_request_context("/"):
        assert ("Glossary", "/glossary") in nav_links()
    page = client.get("/glossary")
    assert page.status_code == 200 and "Glossary" in page.get_data(as_text=True)
