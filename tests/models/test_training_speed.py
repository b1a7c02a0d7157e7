"""Training speed without changing results: shared XGBoost matrices per origin, origins fitted in parallel
threads (never more threads than cores), and per-step timings of a run (issue 16 item 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import evaluate
from models.evaluate import Candidate, FitContext, backtest_workers, candidates, rolling_origin
from models.features import build_panel, feature_names
from models.train import fit_xgb, load_config, predict_margin, prediction_matrix, training_matrix
from tests.models.test_features import synthetic_obs

YEARS = list(range(2002, 2017))
ORIGINS = [2009, 2010, 2011, 2012]


@pytest.fixture(scope="module")
def setup():
    config = load_config()
    config["xgboost"]["n_estimators"] = 25
    panels = {h: build_panel(synthetic_obs(), YEARS, label_lag=h) for h in (1, 2, 3)}
    return config, panels


def test_parallel_shared_matrix_backtest_equals_the_sequential_unshared_one(setup):
    """The speed-ups change nothing: 2 threads with shared matrices give exactly the sequential predictions
    with a fresh matrix per fit (same rows, same order, same floats)."""
    config, panels = setup
    models = candidates(config)
    assert sum(c.role == "model" for c in models) >= 3  # several XGBoost variants share an origin's matrices
    sequential = rolling_origin(panels.get, models, ORIGINS, workers=1, share_matrices=False)
    parallel = rolling_origin(panels.get, models, ORIGINS, workers=2, share_matrices=True)
    assert len(sequential) and set(sequential["horizon"]) == {1, 2, 3}
    pd.testing.assert_frame_equal(sequential, parallel, check_exact=True)


def test_an_origins_candidates_share_one_training_and_one_prediction_matrix(setup):
    """Per origin: one squared-error training matrix for xgboost and xgboost_mono, one AFT matrix, and one
    prediction matrix for the three variants."""
    config, panels = setup
    seen: list[evaluate.MatrixCache] = []

    def spy(_train: pd.DataFrame, ctx: FitContext):
        seen.append(ctx.matrices)
        return lambda X: np.zeros(len(X))

    models = [c for c in candidates(config) if c.role == "model"]
    assert {c.name for c in models} >= {"xgboost", "xgboost_mono", "xgboost_aft"}
    rolling_origin(panels.get, [*models, Candidate("spy", spy, "sees the cache")], [2010], horizons=(1,))
    cache = seen[0]
    assert cache.built == 3  # squared train, AFT train, prediction
    assert cache.reused == 2 * len(models) - 3


def test_a_shared_quantile_matrix_trains_the_same_booster_as_a_fresh_one(setup):
    config, panels = setup
    rows = panels[1][panels[1]["label"].notna()]
    features = feature_names()
    shared = training_matrix(rows[features], rows["label"])
    a = predict_margin(fit_xgb(rows[features], rows["label"], config), rows[features])
    b = fit_xgb(rows[features], rows["label"], config, dtrain=shared)
    c = fit_xgb(rows[features], rows["label"], config, dtrain=shared)
    assert b.feature_names == features
    matrix = prediction_matrix(rows[features])
    np.testing.assert_array_equal(a, predict_margin(b, rows[features], matrix=matrix))
    np.testing.assert_array_equal(a, predict_margin(c, rows[features], matrix=matrix))


def test_backtest_threads_times_xgboost_threads_never_exceed_the_cores(monkeypatch):
    monkeypatch.setattr(evaluate.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert backtest_workers({"xgboost": {"nthread": 1}}) == 2
    assert backtest_workers({"xgboost": {"nthread": 2}}) == 1
    assert backtest_workers({"xgboost": {"nthread": 1}}, tasks=1) == 1
    assert backtest_workers({"xgboost": {"nthread": 1}, "backtest": {"workers": 1}}) == 1
    monkeypatch.setattr(evaluate.os, "sched_getaffinity", lambda _pid: set(range(16)), raising=False)
    assert backtest_workers({"xgboost": {"nthread": 4}}) == 4
    assert backtest_workers({"xgboost": {"nthread": 1}}, tasks=10) == 10


def test_rolling_origin_reports_seconds_per_horizon(setup):
    config, panels = setup
    timings: dict[str, float] = {}
    models = [c for c in candidates(config) if c.name in ("xgboost", "mean_3y")]
    rolling_origin(panels.get, models, [2010, 2011], horizons=(1, 3), timings=timings, workers=2)
    assert set(timings) == {"h1", "h3"} and all(v > 0 for v in timings.values())


def test_pair_backtest_in_threads_equals_the_sequential_one(monkeypatch):
    """The pair model's cutoffs are fitted in threads (the blend still reads earlier cutoffs in order): the
    out-of-sample rows equal those of one thread."""
    from models import pairs as pm
    from models import watchlist as wl
    from tests.models.test_pairs import coords, synthetic_pairs
    from tests.models.test_watchlist import synthetic_obs

    monkeypatch.setattr(pm, "ROUNDS", 20)
    pairs, census = synthetic_pairs()
    drivers = wl.driver_panel(synthetic_obs(), years=list(range(2000, 2021))).drivers
    examples = pm.build_examples(pairs, census, drivers, coords())
    examples = examples[examples["cutoff"] >= 2011]
    monkeypatch.setattr(evaluate.os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    one_table, one = pm.backtest(examples, blend=True)
    monkeypatch.setattr(evaluate.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    two_table, two = pm.backtest(examples, blend=True)
    assert one["cutoff"].nunique() >= 3
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    pd.testing.assert_frame_equal(one_table, two_table, check_exact=True)
