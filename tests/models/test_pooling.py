"""Partial pooling of the label history and the choice of the deployed candidate on earlier origins."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.evaluate import eb_mean_values, latest_origins, selection_origins
from models.features import EB_MIN_WITHIN, LABEL_INDICATOR, POPULATION, build_panel


def _obs(extra: list[dict] | None = None) -> pd.DataFrame:
    """Populations 1e6 (TINY: 20,000); BIG reports 1,000 victims a year, MID1 100, MID2 10 (2000-2009,
    constant,
    so the pooled year-to-year variance is its floor); TINY one report of 3 victims in 2009; NEVER none."""
    pops = {"BIG": 1e6, "MID1": 1e6, "MID2": 1e6, "TINY": 2e4, "NEVER": 1e6}
    rows = [
        {"region_id": r, "year": y, "indicator": POPULATION, "value": p, "censored": False}
        for r, p in pops.items()
        for y in range(1999, 2012)
    ]
    for region, count in (("BIG", 1000.0), ("MID1", 100.0), ("MID2", 10.0)):
        rows += [
            {"region_id": region, "year": y, "indicator": LABEL_INDICATOR, "value": count, "censored": False}
            for y in range(2000, 2010)
        ]
    rows.append(
        {"region_id": "TINY", "year": 2009, "indicator": LABEL_INDICATOR, "value": 3.0, "censored": False}
    )
    return pd.DataFrame(rows + (extra or []))


def test_partial_pooling_shrinks_a_single_small_report_and_gives_never_reporters_the_prior():
    panel = build_panel(_obs(), [2011], label_lag=2).xs(2011, level="year")
    own = {"BIG": np.log1p(100.0), "MID1": np.log1p(10.0), "MID2": np.log1p(1.0), "TINY": np.log1p(15.0)}
    prior = np.mean(list(own.values()))
    assert np.allclose(panel["hist_eb_prior"], prior)
    # many large, constant reports: noise is the floor variance over ~3 effective reports, weight close to 1
    assert panel.loc["BIG", "hist_eb_weight"] > 0.95
    assert abs(panel.loc["BIG", "hist_eb_mean"] - own["BIG"]) < 0.05 * abs(own["BIG"] - prior)
    # one report of 3 victims: Poisson noise (15/16)^2 / 3 ≈ 0.29 on top of the floor -> pulled toward the
    # prior
    tiny_w = panel.loc["TINY", "hist_eb_weight"]
    assert tiny_w < panel.loc["BIG", "hist_eb_weight"] - 0.05
    # its weight is tau2 / (tau2 + sigma2) with sigma2 = floor + Poisson variance (one report)
    sigma2 = EB_MIN_WITHIN + (15 / 16) ** 2 / 3
    tau2 = tiny_w * sigma2 / (1 - tiny_w)
    assert 0.5 < tau2 < np.var(list(own.values()))
    assert prior < panel.loc["TINY", "hist_eb_mean"] < own["TINY"]
    # a country that never reported reads as a typical country (the prior), never as 0 or missing
    assert np.isnan(panel.loc["NEVER", "hist_eb_mean"])
    value = eb_mean_values(panel.loc[["NEVER"]], median=-1.0)
    assert np.allclose(value, prior) and value[0] > 0


def test_partial_pooling_uses_no_label_after_the_cutoff():
    later = [
        {"region_id": "TINY", "year": 2010, "indicator": LABEL_INDICATOR, "value": 400.0, "censored": False},
        {"region_id": "NEVER", "year": 2010, "indicator": LABEL_INDICATOR, "value": 5.0, "censored": True},
    ]
    cols = ["hist_eb_mean", "hist_eb_prior", "hist_eb_weight"]
    before = build_panel(_obs(), [2011], label_lag=2)[cols]
    after = build_panel(_obs(later), [2011], label_lag=2)[cols]
    pd.testing.assert_frame_equal(before, after)
    # at lag 1 the 2010 reports are inside the history, so the test above would have seen a leak
    assert not build_panel(_obs(later), [2011], label_lag=1)[cols].equals(
        build_panel(_obs(), [2011], label_lag=1)[cols]
    )


def test_selection_origins_are_exactly_the_origins_before_the_gates_latest_three():
    rows = [
        {"horizon": h, "origin": o, "model": "m", "y_true": 0.0, "y_pred": 0.0}
        for h in (1, 2, 3)
        for o in range(2010, 2020 - h)
    ]
    oos = pd.DataFrame(rows)
    sel, test = selection_origins(oos), latest_origins(oos)
    assert len(sel) + len(test) == len(oos)
    for h in (1, 2, 3):
        last = 2019 - h
        assert set(test.loc[test["horizon"] == h, "origin"]) == {last - 2, last - 1, last}
        assert sel.loc[sel["horizon"] == h, "origin"].max() == last - 3
