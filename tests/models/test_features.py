"""Feature panel: no leakage from year t or later, rates per 100k, censored labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.features import FEATURES, LABEL_INDICATOR, POPULATION, build_panel, needed_indicators


def synthetic_obs(seed: int = 7) -> pd.DataFrame:
    """Hand-made observations: 4 countries × 2000–2016, every indicator the features use.

    Values are random positive numbers (populations in the millions, counts in the thousands); they only
    need to differ between years so that leakage would show.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for region in ("AAA", "BBB", "CCC", "DDD"):
        for year in range(2000, 2017):
            for code in sorted(needed_indicators()):
                value = rng.uniform(1e6, 5e7) if code == POPULATION else rng.uniform(0, 5000)
                if code == "detection.tip_tier":
                    value = rng.choice([1, 2, 2.5, 3])
                censored = code == LABEL_INDICATOR and rng.random() < 0.2
                rows.append(
                    {
                        "region_id": region,
                        "year": year,
                        "indicator": code,
                        "value": float(value),
                        "censored": bool(censored),
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("t", [2005, 2010, 2016])
def test_no_leakage_changing_year_t_or_later_leaves_features_unchanged(t):
    obs = synthetic_obs()
    before = build_panel(obs, years=[t])
    future = obs["year"] >= t
    mutated = obs.copy()
    mutated.loc[future, "value"] = mutated.loc[future, "value"] * 7.3 + 11
    mutated.loc[future, "censored"] = ~mutated.loc[future, "censored"]
    after = build_panel(mutated, years=[t])
    features = [f.name for f in FEATURES]
    pd.testing.assert_frame_equal(before[features], after[features])
    # the label for year t does change, so the test would notice a feature that reads year t
    assert not np.allclose(before["label"].to_numpy(), after["label"].to_numpy())


def test_rates_are_per_100k_of_last_years_population():
    obs = pd.DataFrame(
        [
            {
                "region_id": "AAA",
                "year": 2009,
                "indicator": POPULATION,
                "value": 2_000_000.0,
                "censored": False,
            },
            {
                "region_id": "AAA",
                "year": 2009,
                "indicator": "displacement.refugees_by_origin",
                "value": 1_000.0,
                "censored": False,
            },
            {
                "region_id": "AAA",
                "year": 2010,
                "indicator": POPULATION,
                "value": 4_000_000.0,
                "censored": False,
            },
            {"region_id": "AAA", "year": 2010, "indicator": LABEL_INDICATOR, "value": 5.0, "censored": True},
        ]
    )
    panel = build_panel(obs, years=[2010], censored_fraction=0.5)
    row = panel.loc[("AAA", 2010)]
    # 1,000 refugees / 2,000,000 residents in 2009 = 50 per 100k
    assert row["refugees_origin_per100k"] == pytest.approx(np.log1p(50.0))
    # '<5' counts as 2.5 victims; 2.5 / 4,000,000 × 1e5 = 0.0625 per 100k in the label year
    assert row["label_per_100k"] == pytest.approx(0.0625)
    assert bool(row["label_censored"]) is True


def test_years_since_the_last_report_and_carried_past_victims():
    rows = [
        {"region_id": "AAA", "year": y, "indicator": POPULATION, "value": 1e6, "censored": False}
        for y in range(2003, 2012)
    ]
    rows += [
        {"region_id": "AAA", "year": y, "indicator": LABEL_INDICATOR, "value": v, "censored": False}
        for y, v in ((2005, 10.0), (2008, 20.0))
    ]
    panel = build_panel(pd.DataFrame(rows), years=[2005, 2006, 2010])
    since = panel["years_since_victims_report"]
    assert np.isnan(since.loc[("AAA", 2005)])  # nothing reported before 2005
    assert since.loc[("AAA", 2006)] == 1 and since.loc[("AAA", 2010)] == 2
    # 20 victims per 1,000,000 people in 2008 = 2 per 100k, carried to 2010
    assert panel.loc[("AAA", 2010), "past_victims_per100k"] == pytest.approx(np.log1p(2.0))
