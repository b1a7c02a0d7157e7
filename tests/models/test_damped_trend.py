"""The label history's trend and the damped-trend baseline (and ensemble partner) built on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluate import (
    add_blend,
    blend_weights,
    damped_phi,
    damped_steps,
    damped_trend_values,
    eb_mean_values,
)
from models.features import LABEL_INDICATOR, POPULATION, TREND_WINDOW, build_panel
from models.pipeline import _DampedTrend


def _obs(reports: dict[str, dict[int, float]]) -> pd.DataFrame:
    """Populations of 100,000, so victims = victims per 100k; ``reports``: victims per region and year."""
    rows = [
        {"region_id": r, "year": y, "indicator": POPULATION, "value": 1e5, "censored": False}
        for r in reports
        for y in range(1999, 2016)
    ]
    rows += [
        {"region_id": r, "year": y, "indicator": LABEL_INDICATOR, "value": v, "censored": False}
        for r, per_year in reports.items()
        for y, v in per_year.items()
    ]
    return pd.DataFrame(rows)


# RISE: log1p(victims) rises by exactly 0.2 a year from 2006 to 2010; FLAT: constant; FEW: two reports only;
# OLD: a steep rise that ended before the 5-year window, then flat
RISE = {y: float(np.expm1(1.0 + 0.2 * (y - 2006))) for y in range(2006, 2011)}
REPORTS = {
    "RISE": RISE,
    "FLAT": dict.fromkeys(range(2006, 2011), 20.0),
    "FEW": {2009: 5.0, 2010: 50.0},
    "OLD": {2001: 1.0, 2002: 100.0, 2003: 1000.0, **dict.fromkeys(range(2006, 2011), 30.0)},
}


def test_trend_is_the_least_squares_slope_of_the_reports_in_the_window_up_to_the_cutoff():
    panel = build_panel(_obs(REPORTS), [2012], label_lag=2).xs(2012, level="year")  # cutoff 2010
    assert panel.loc["RISE", "hist_trend"] == pytest.approx(0.2, abs=1e-9)
    assert panel.loc["FLAT", "hist_trend"] == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(panel.loc["FEW", "hist_trend"])  # fewer than 3 reports: no trend
    # reports older than the window (2001-2003) do not count: OLD's last 5 years are flat
    assert TREND_WINDOW == 5 and panel.loc["OLD", "hist_trend"] == pytest.approx(0.0, abs=1e-12)


def test_trend_uses_no_report_after_the_cutoff():
    later = {**REPORTS, "RISE": {**RISE, 2011: 1e6}, "FLAT": {**REPORTS["FLAT"], 2011: 1.0}}
    before = build_panel(_obs(REPORTS), [2012], label_lag=2)["hist_trend"]
    after = build_panel(_obs(later), [2012], label_lag=2)["hist_trend"]
    pd.testing.assert_series_equal(before, after)
    # at lag 1 the 2011 reports are inside the window, so a leak would have shown above
    assert not build_panel(_obs(later), [2012], label_lag=1)["hist_trend"].equals(
        build_panel(_obs(REPORTS), [2012], label_lag=1)["hist_trend"]
    )


def test_damped_steps_sum_phi_powers_up_to_the_age():
    np.testing.assert_allclose(damped_steps(np.array([0, 1, 2, 3]), 0.5), [0.0, 0.5, 0.75, 0.875])
    np.testing.assert_allclose(damped_steps(np.array([4.0]), 0.0), [0.0])  # phi 0: no trend at all


def test_damped_trend_adds_the_damped_slope_to_the_pooled_mean_for_the_labels_age():
    panel = build_panel(_obs(REPORTS), [2012], label_lag=2).xs(2012, level="year")
    level = eb_mean_values(panel, median=0.0)
    value = damped_trend_values(panel, median=0.0, phi=0.5)
    # RISE's newest report is 2010, two years before 2012: 0.2 x (0.5 + 0.25) on top of the pooled mean
    i = panel.index.get_loc("RISE")
    assert value[i] == pytest.approx(level[i] + 0.2 * 0.75)
    for flat in ("FLAT", "FEW", "OLD"):  # no trend or none measurable: the pooled mean itself
        j = panel.index.get_loc(flat)
        assert value[j] == pytest.approx(level[j], abs=1e-12)


def test_the_partner_contributions_add_up_to_its_prediction():
    panel = build_panel(_obs(REPORTS), [2011, 2012], label_lag=2)
    partner = _DampedTrend(median=0.7, phi=0.5)
    contrib = partner.contributions(panel)
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), partner.predict(panel), atol=1e-12)
    # the trend is attributed to the latest past value, the pooled level to the shrunken past value
    assert contrib.loc[("RISE", 2012), "past_victims_per100k"] == pytest.approx(0.2 * 0.75)


@pytest.mark.parametrize("phi", [-0.1, 1.0, 1.5])
def test_phi_outside_zero_to_one_is_refused_with_its_name(phi):
    with pytest.raises(ValueError, match=r"\[damped_trend\] phi"):
        damped_phi({"damped_trend": {"phi": phi}})


def test_first_time_reporters_get_their_own_blend_weight():
    """Two rows, model 1.0 and partner 0.0: the blend is the model's weight (0.5, or 0.7 with no history)."""
    rows = {"origin": 2010, "horizon": 1, "region_id": ["OLD", "NEW"], "first_time": [False, True]}
    oos = pd.concat(
        [
            pd.DataFrame({**rows, "model": "m", "y_true": 0.0, "y_pred": 1.0}),
            pd.DataFrame({**rows, "model": "p", "y_true": 0.0, "y_pred": 0.0}),
        ],
        ignore_index=True,
    )
    out = add_blend(oos, "m", "p", 0.5, "blend", weight_first_time=0.7)
    blend = out[out["model"] == "blend"].set_index("region_id")["y_pred"]
    assert blend["OLD"] == pytest.approx(0.5) and blend["NEW"] == pytest.approx(0.7)
    plain = add_blend(oos, "m", "p", 0.5, "blend")
    assert (plain.loc[plain["model"] == "blend", "y_pred"] == 0.5).all()
    np.testing.assert_allclose(blend_weights(np.array([True, False]), 0.5, None), [0.5, 0.5])
