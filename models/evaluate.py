"""Rolling-origin backtest with baselines, metrics and split-conformal intervals.

For each origin Y: train on label years <= Y and predict Y + 1. Never random K-fold. Intervals are
split-conformal: a model fitted on years <= Y - 1 is scored on year Y, and the 80% quantile of its
absolute log errors widens the origin's predictions for Y + 1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from models.features import CONFLICT_DISPLACEMENT_FAMILIES, feature_names
from models.train import RidgeModel, fit_xgb, predict_margin

log = logging.getLogger(__name__)
Fitter = Callable[[pd.DataFrame, pd.DataFrame], Callable[[pd.DataFrame], np.ndarray]]


@dataclass(frozen=True)
class Candidate:
    """A model in the backtest: a name and how to fit it on a training panel."""

    name: str
    fit: Fitter
    description: str


def _xgb_fitter(features: list[str], config: dict, monotone: dict[str, int] | None = None) -> Fitter:
    def fit(train: pd.DataFrame, _history: pd.DataFrame):
        booster = fit_xgb(train[features], train["label"], config, monotone)
        return lambda X: predict_margin(booster, X[features])
    return fit


def _ridge_fitter(features: list[str]) -> Fitter:
    def fit(train: pd.DataFrame, _history: pd.DataFrame):
        model = RidgeModel().fit(train[features], train["label"])
        return lambda X: model.predict(X[features])
    return fit


def _last_value_fitter() -> Fitter:
    """Last observed label of the country before the target year; training median if none."""
    def fit(train: pd.DataFrame, history: pd.DataFrame):
        median = float(train["label"].median())

        def predict(X: pd.DataFrame) -> np.ndarray:
            out = []
            for region_id, year in X.index:
                past = history.loc[(history.index.get_level_values(0) == region_id)
                                   & (history.index.get_level_values(1) < year), "label"].dropna()
                out.append(float(past.iloc[-1]) if len(past) else median)
            return np.array(out)
        return predict
    return fit


def _mean_3y_fitter() -> Fitter:
    """Mean label over the three years before the target year; last value, then median, as fallbacks."""
    def fit(train: pd.DataFrame, history: pd.DataFrame):
        median = float(train["label"].median())

        def predict(X: pd.DataFrame) -> np.ndarray:
            out = []
            for region_id, year in X.index:
                mask = (history.index.get_level_values(0) == region_id) & (history.index.get_level_values(1) < year)
                past = history.loc[mask, "label"].dropna()
                recent = past[past.index.get_level_values(1) >= year - 3]
                out.append(float(recent.mean()) if len(recent) else (float(past.iloc[-1]) if len(past) else median))
            return np.array(out)
        return predict
    return fit


def candidates(config: dict, monotone: dict[str, int] | None = None) -> list[Candidate]:
    """The model variants and the baselines scored in the same backtest."""
    with_past = feature_names(include_past_victims=True)
    without_past = feature_names(include_past_victims=False)
    conflict_disp = feature_names(include_past_victims=False, families=CONFLICT_DISPLACEMENT_FAMILIES)
    out = [
        Candidate("xgboost", _xgb_fitter(with_past, config), "XGBoost, all features incl. past detected victims"),
        Candidate("xgboost_no_past_victims", _xgb_fitter(without_past, config),
                  "XGBoost without past detected victims"),
    ]
    if monotone:
        out.append(Candidate("xgboost_monotone", _xgb_fitter(with_past, config, monotone),
                             f"XGBoost with monotone constraints {monotone}"))
    out += [
        Candidate("last_value", _last_value_fitter(), "Baseline: last observed value"),
        Candidate("mean_3y", _mean_3y_fitter(), "Baseline: mean of the last 3 years"),
        Candidate("ridge", _ridge_fitter(with_past), "Baseline: ridge regression on the same features"),
        Candidate("conflict_displacement_only", _xgb_fitter(conflict_disp, config),
                  "Baseline: XGBoost on conflict and displacement features only"),
    ]
    return out


def metrics(y_true: np.ndarray, y_pred: np.ndarray, lower: np.ndarray | None = None,
            upper: np.ndarray | None = None, top_k: int = 20) -> dict[str, float]:
    """RMSLE (labels are log1p already), MAE per 100k, Spearman, top-k recall, interval coverage/width."""
    y_true = np.asarray(y_true, float)
    y_pred = np.asarray(y_pred, float)
    n = len(y_true)
    out = {"n": int(n), "rmsle": float(np.sqrt(np.mean((y_pred - y_true) ** 2))) if n else np.nan,
           "mae": float(np.mean(np.abs(np.expm1(y_pred) - np.expm1(y_true)))) if n else np.nan}
    constant = n < 3 or np.ptp(y_true) == 0 or np.ptp(y_pred) == 0
    out["spearman"] = np.nan if constant else float(spearmanr(y_true, y_pred).statistic)
    k = min(top_k, n)
    if k:
        true_top = set(np.argsort(-y_true)[:k])
        pred_top = set(np.argsort(-y_pred)[:k])
        out["top20_recall"] = len(true_top & pred_top) / k
    else:
        out["top20_recall"] = np.nan
    if lower is not None and upper is not None and n:
        out["coverage80"] = float(np.mean((y_true >= lower) & (y_true <= upper)))
        out["width80"] = float(np.mean(np.expm1(upper) - np.expm1(lower)))
    return out


def backtest(panel: pd.DataFrame, config: dict, models: list[Candidate] | None = None,
             progress: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling-origin backtest. Returns (per-origin metrics, out-of-sample predictions)."""
    bt = config["backtest"]
    level = float(bt.get("interval", 0.8))
    models = models or candidates(config, config.get("monotone"))
    labelled = panel[panel["label"].notna()]
    rows, preds = [], []
    for origin in range(int(bt["first_origin"]), int(bt["last_origin"]) + 1):
        target = labelled[labelled.index.get_level_values("year") == origin + 1]
        train = labelled[labelled.index.get_level_values("year") <= origin]
        calib_train = labelled[labelled.index.get_level_values("year") <= origin - 1]
        calib = labelled[labelled.index.get_level_values("year") == origin]
        if target.empty or train.empty:
            continue
        history = labelled[labelled.index.get_level_values("year") <= origin]
        for cand in models:
            if progress:
                progress(f"backtest origin {origin}: {cand.name}")
            q = np.nan
            if len(calib_train) and len(calib):
                calib_pred = cand.fit(calib_train, calib_train)(calib)
                q = float(np.quantile(np.abs(calib["label"].to_numpy() - calib_pred), level))
            predict = cand.fit(train, history)
            yhat = predict(target)
            lower, upper = np.maximum(yhat - q, 0.0), yhat + q
            m = metrics(target["label"].to_numpy(), yhat, lower, upper)
            rows.append({"origin": origin, "target_year": origin + 1, "model": cand.name, **m})
            seen = set(history.index.get_level_values(0))
            preds.append(pd.DataFrame({"region_id": target.index.get_level_values(0), "year": origin + 1,
                                       "model": cand.name, "y_true": target["label"].to_numpy(), "y_pred": yhat,
                                       "lower": lower, "upper": upper,
                                       "has_history": target.index.get_level_values(0).isin(seen)}))
    return pd.DataFrame(rows), pd.concat(preds, ignore_index=True) if preds else pd.DataFrame()


def pooled(preds: pd.DataFrame) -> pd.DataFrame:
    """Metrics over all origins together, one row per model."""
    out = []
    for name, grp in preds.groupby("model", sort=False):
        out.append({"model": name, **metrics(grp["y_true"].to_numpy(), grp["y_pred"].to_numpy(),
                                              grp["lower"].to_numpy(), grp["upper"].to_numpy())})
    return pd.DataFrame(out)


def calibration(preds: pd.DataFrame, model: str, nominal: tuple[float, ...] = (0.5, 0.8, 0.9)) -> list[dict]:
    """Empirical coverage of symmetric conformal intervals at several nominal levels, per model.

    Uses leave-one-origin-out residual quantiles so the check does not reuse its own residuals.
    """
    sub = preds[preds["model"] == model]
    out = []
    for level in nominal:
        hits = []
        for year, grp in sub.groupby("year"):
            others = sub[sub["year"] != year]
            if others.empty:
                continue
            q = np.quantile(np.abs(others["y_true"] - others["y_pred"]), level)
            hits.append(np.abs(grp["y_true"] - grp["y_pred"]) <= q)
        out.append({"nominal": level, "empirical": float(pd.concat(hits).mean()) if hits else np.nan})
    return out
