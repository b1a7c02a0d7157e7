"""SHAP additivity, determinism, registry round trip, metrics and the backtest's temporal discipline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluate import metrics
from models.explain import BIAS, shap_values
from models.features import build_panel, feature_names
from models.registry import RegistryError, load_run, save_artefacts
from models.train import fit_xgb, load_config, predict_margin
from tests.models.test_features import synthetic_obs


@pytest.fixture(scope="module")
def small():
    config = load_config()
    config["xgboost"]["n_estimators"] = 40
    panel = build_panel(synthetic_obs(), years=list(range(2002, 2017)))
    labelled = panel[panel["label"].notna()]
    return config, panel, labelled


def test_shap_values_plus_bias_equal_the_margin(small):
    config, _panel, labelled = small
    features = feature_names()
    booster = fit_xgb(labelled[features], labelled["label"], config)
    shap = shap_values(booster, labelled[features])
    margin = predict_margin(booster, labelled[features])
    assert BIAS in shap.columns
    np.testing.assert_allclose(shap.sum(axis=1).to_numpy(), margin, rtol=1e-5, atol=1e-5)


def test_same_seed_and_data_give_identical_predictions(small):
    config, _panel, labelled = small
    features = feature_names()
    a = predict_margin(fit_xgb(labelled[features], labelled["label"], config), labelled[features])
    b = predict_margin(fit_xgb(labelled[features], labelled["label"], config), labelled[features])
    np.testing.assert_array_equal(a, b)


def test_registry_round_trip_and_refusals(small, tmp_path):
    config, _panel, labelled = small
    features = feature_names()
    booster = fit_xgb(labelled[features], labelled["label"], config)
    meta = {"run_id": "r1", "features": features}
    save_artefacts("r1", booster, meta, tmp_path)
    loaded, loaded_meta = load_run("r1", tmp_path, expected_features=features)
    np.testing.assert_array_equal(
        predict_margin(loaded, labelled[features]), predict_margin(booster, labelled[features])
    )
    with pytest.raises(RegistryError, match="differ from the expected"):
        load_run("r1", tmp_path, expected_features=list(reversed(features)))
    # tampering with the model file is detected by the checksum
    model_file = tmp_path / "r1" / "model.ubj"
    model_file.write_bytes(model_file.read_bytes() + b"\x00")
    with pytest.raises(RegistryError, match="checksum mismatch for model.ubj"):
        load_run("r1", tmp_path)


def test_registry_refuses_metadata_whose_features_do_not_match_the_model(small, tmp_path):
    config, _panel, labelled = small
    features = feature_names()
    booster = fit_xgb(labelled[features], labelled["label"], config)
    save_artefacts("r2", booster, {"run_id": "r2", "features": features[:-1] + ["something_else"]}, tmp_path)
    with pytest.raises(RegistryError, match="model features"):
        load_run("r2", tmp_path)


def test_metrics_on_known_values():
    y = np.log1p(np.array([0.0, 1.0, 3.0, 7.0]))
    m = metrics(y, y, y - 0.1, y + 0.1)
    assert m["rmsle"] == 0 and m["mae"] == 0 and m["spearman"] == pytest.approx(1.0)
    assert m["coverage80"] == 1.0 and m["top20_recall"] == 1.0
    shifted = metrics(y, y + np.log(2.0))
    assert shifted["rmsle"] == pytest.approx(np.log(2.0))


def test_risk_scores_are_percentiles_within_year():
    from models.pipeline import risk_scores

    frame = pd.DataFrame(
        {"year": [2020] * 4 + [2021] * 2, "estimate_per_100k": [1.0, 2.0, 3.0, 4.0, 9.0, 1.0]}
    )
    out = risk_scores(frame, {"moderate": 50, "high": 75, "very_high": 90})
    assert out["risk_score"].tolist() == [25.0, 50.0, 75.0, 100.0, 100.0, 50.0]
    assert out["risk_band"].tolist() == ["low", "moderate", "high", "very high", "very high", "moderate"]
    assert out["rank"].tolist() == [4, 3, 2, 1, 1, 2]


def test_ranking_shrinks_tiny_and_uncertain_estimates_toward_the_year_median():
    from models.pipeline import shrunk_for_ranking

    log_est = pd.Series([3.0, 3.0, 1.0, 1.0, 1.0])
    year = pd.Series([2025] * 5)
    pop = pd.Series([10_000.0, 50_000_000.0, 1e6, 1e6, 1e6])
    half = pd.Series([0.5, 0.5, 0.5, 0.5, 0.5])
    out = shrunk_for_ranking(log_est, pop, year, 100_000, half)
    # the same estimate ranks far lower for 10,000 people than for 50 million (median of the year is 1.0)
    assert out[0] < 1.3 < out[1]
    wide = shrunk_for_ranking(log_est, pop, year, 100_000, pd.Series([2.0, 0.5, 0.5, 0.5, 0.5]))
    assert wide[0] < out[0]


def test_json_safe_turns_numpy_and_non_finite_values_into_plain_json():
    """Run metadata must load in PostgreSQL's JSON columns: no NaN, no numpy scalars."""
    import json

    import numpy as np

    from models.jsonsafe import json_safe

    raw = {"a": np.float64(1.5), "b": [np.int64(2), float("nan")], 3: (np.inf, "x", np.array(4.0))}
    assert json_safe(raw) == {"a": 1.5, "b": [2, None], "3": [None, "x", 4.0]}
    json.dumps(json_safe(raw), allow_nan=False)
