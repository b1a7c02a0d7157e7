"""Horizon-matched validation: no leakage from after the origin, the gate, split-conformal coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluate import (
    Candidate,
    FitContext,
    add_intervals,
    candidates,
    conformal_quantile,
    coverage,
    gate,
    group_quantiles,
    rolling_origin,
)
from models.features import build_panel, is_label_derived, label_derived_features
from models.train import load_config
from tests.models.test_features import synthetic_obs

YEARS = list(range(2002, 2017))


def _panels(obs: pd.DataFrame) -> dict[int, pd.DataFrame]:
    return {h: build_panel(obs, YEARS, label_lag=h) for h in (1, 2, 3)}


def test_label_source_features_are_found_by_indicator():
    names = set(label_derived_features())
    assert {
        "past_victims_per100k",
        "years_since_victims_report",
        "prosecutions_per100k",
        "convictions_per100k",
        "past_victims_mean3_per100k",
    } <= names
    assert "conflict_deaths_per100k" not in names and "tip_tier" not in names
    assert is_label_derived("trafficking.victims_detected.female_adult")


@pytest.mark.parametrize("origin", [2009, 2012])
def test_no_leak_a_label_source_value_after_the_origin_changes_no_prediction_at_that_origin(origin):
    """Every label-source observation dated after Y is changed; predictions at origin Y for Y+1..Y+3 must
    not."""
    config = load_config()
    config["xgboost"]["n_estimators"] = 30
    obs = synthetic_obs()
    mutated = obs.copy()
    after = mutated["indicator"].map(is_label_derived) & (mutated["year"] > origin)
    mutated.loc[after, "value"] = mutated.loc[after, "value"] * 9.1 + 17
    mutated.loc[after, "censored"] = ~mutated.loc[after, "censored"]
    models = [
        c
        for c in candidates(config)
        if c.name
        in ("xgboost", "xgboost_anchored_aft", "last_value", "eb_mean", "damped_trend", "mean_3y", "ridge")
    ]
    before = rolling_origin(_panels(obs).get, models, [origin])
    changed = rolling_origin(_panels(mutated).get, models, [origin])
    assert set(before["horizon"]) == {1, 2, 3} and len(before) == len(changed)
    np.testing.assert_allclose(before["y_pred"].to_numpy(), changed["y_pred"].to_numpy(), rtol=0, atol=1e-12)
    # the labels of the predicted years did change, so a model reading them would have been caught
    assert not np.allclose(before["y_true"].to_numpy(), changed["y_true"].to_numpy())


def test_rolling_origin_trains_on_years_up_to_the_origin_and_predicts_origin_plus_h():
    seen = []

    def spy(train: pd.DataFrame, ctx: FitContext):
        seen.append((ctx.origin, ctx.horizon, int(train.index.get_level_values("year").max())))
        return lambda X: np.zeros(len(X))

    oos = rolling_origin(
        _panels(synthetic_obs()).get, [Candidate("spy", spy, "records years")], [2010, 2011], horizons=(1, 3)
    )
    assert seen == [(2010, 1, 2010), (2011, 1, 2011), (2010, 3, 2010), (2011, 3, 2011)]
    assert set(zip(oos["origin"], oos["horizon"], oos["target_year"], strict=True)) == {
        (2010, 1, 2011),
        (2011, 1, 2012),
        (2010, 3, 2013),
        (2011, 3, 2014),
    }


def test_horizon_panel_dates_label_inputs_h_years_back():
    rows = [
        {"region_id": "AAA", "year": y, "indicator": "structural.population", "value": 1e6, "censored": False}
        for y in range(2000, 2012)
    ]
    rows += [
        {
            "region_id": "AAA",
            "year": y,
            "indicator": "trafficking.victims_detected",
            "value": 10.0 * (y - 2000),
            "censored": False,
        }
        for y in range(2001, 2011)
    ]
    obs = pd.DataFrame(rows)
    p1, p3 = build_panel(obs, [2010], label_lag=1), build_panel(obs, [2010], label_lag=3)
    # lag 1: 2009's 90 victims per 1e6 = 9 per 100k; lag 3: 2007's 70 -> 7 per 100k, reported 3 years before
    assert p1.loc[("AAA", 2010), "past_victims_per100k"] == pytest.approx(np.log1p(9.0))
    assert p3.loc[("AAA", 2010), "past_victims_per100k"] == pytest.approx(np.log1p(7.0))
    assert p3.loc[("AAA", 2010), "years_since_victims_report"] == 3
    assert p3.loc[("AAA", 2010), "hist_mean3_origin"] == pytest.approx(np.mean(np.log1p([5.0, 6.0, 7.0])))


def _table(rows):
    return pd.DataFrame(rows, columns=["horizon", "model", "rmsle", "spearman"])


def test_gate_refuses_a_model_that_wins_at_horizon_1_and_loses_at_horizon_2():
    table = _table(
        [
            (1, "xgboost", 0.30, 0.80),
            (1, "last_value", 0.35, 0.75),
            (1, "mean_3y", 0.34, 0.76),
            (2, "xgboost", 0.41, 0.70),
            (2, "last_value", 0.42, 0.69),
            (2, "mean_3y", 0.40, 0.69),
        ]
    )
    verdict = gate(table, "xgboost")
    assert verdict["passed"] is False
    by_h = {r["horizon"]: r for r in verdict["horizons"]}
    assert by_h[1]["passed"] and not by_h[2]["passed"] and by_h[2]["best_baseline"] == "mean_3y"


def test_gate_refuses_a_lower_spearman_and_passes_a_model_better_everywhere():
    worse_rank = _table([(1, "xgboost", 0.30, 0.70), (1, "mean_3y", 0.34, 0.76)])
    assert gate(worse_rank, "xgboost")["passed"] is False
    better = _table(
        [
            (1, "xgboost", 0.30, 0.80),
            (1, "mean_3y", 0.34, 0.76),
            (2, "xgboost", 0.35, 0.78),
            (2, "mean_3y", 0.40, 0.70),
        ]
    )
    assert gate(better, "xgboost")["passed"] is True


def test_conformal_quantile_has_the_known_coverage_on_exchangeable_residuals():
    """|N(0, 1)| residuals: the interval ± q from 999 calibration values covers new values at the nominal rate
    (finite-sample guarantee: between level and level + 1/1000 in expectation), checked on 200,000 new values.
    """
    rng = np.random.default_rng(3)
    for level in (0.5, 0.8, 0.9):
        q = np.mean([conformal_quantile(np.abs(rng.normal(size=999)), level) for _ in range(200)])
        new = np.abs(rng.normal(size=200_000))
        assert abs(np.mean(new <= q) - level) < 0.01
    assert conformal_quantile(np.array([0.1, 0.2]), 0.9) == float("inf")  # too few values for a 90% bound
    # ceil((4 + 1) * 0.5) = 3rd smallest of |r|
    assert conformal_quantile(np.array([4.0, 1.0, 3.0, 2.0]), 0.5) == 3.0


def test_intervals_are_wider_for_first_time_reporters_and_cover_per_group():
    """Regular rows have N(0, 0.2) errors, first-time reporters N(0, 1): Mondrian intervals keep ~80% in
    both."""
    rng = np.random.default_rng(5)
    n = 4000
    first = rng.random(n) < 0.3
    err = np.where(first, rng.normal(0, 1.0, n), rng.normal(0, 0.2, n))
    origin = np.repeat(np.arange(2000, 2010), n // 10)
    oos = pd.DataFrame(
        {
            "model": "m",
            "horizon": 1,
            "origin": origin,
            "target_year": origin + 1,
            "region_id": "X",
            "y_true": err,
            "y_pred": 0.0,
            "first_time": first,
            "history_censored": False,
        }
    )
    q = group_quantiles(oos)
    assert q["first_time"][0.8] > 3 * q["regular"][0.8]
    with_intervals = add_intervals(oos)
    scored = with_intervals[with_intervals["lower80"].notna()]
    for flag in (True, False):
        part = scored[scored["first_time"] == flag]
        inside = (part["y_true"] >= part["lower80"]) & (part["y_true"] <= part["upper80"])
        assert abs(inside.mean() - 0.8) < 0.03
    rows = coverage(with_intervals, "m")
    assert rows[0]["horizon"] == 1 and abs(rows[0]["coverage90"] - 0.9) < 0.03
