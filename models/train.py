"""Training: XGBoost (hist) on the feature panel, with settings from ``models/config.toml``."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

log = logging.getLogger(__name__)
CONFIG_PATH = Path(__file__).with_name("config.toml")


def load_config(path: Path | None = None) -> dict[str, Any]:
    """Settings from models/config.toml, or the file named by CRISISRISK_MODEL_CONFIG."""
    from warehouse import settings

    path = path or settings.get("CRISISRISK_MODEL_CONFIG")
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def xgb_params(config: dict[str, Any], n_threads: int | None = None) -> tuple[dict[str, Any], int]:
    """Split the config into booster params and the number of rounds."""
    p = dict(config["xgboost"])
    rounds = int(p.pop("n_estimators"))
    p["seed"] = int(p.get("seed", 0))
    if n_threads:
        p["nthread"] = n_threads
    return p, rounds


def fit_xgb(
    X: pd.DataFrame,
    y: pd.Series,
    config: dict[str, Any],
    monotone: dict[str, int] | None = None,
    base_margin: np.ndarray | None = None,
    objective: str = "squared",
    lower: pd.Series | None = None,
    upper: pd.Series | None = None,
) -> xgb.Booster:
    """Fit a booster; deterministic for the same data, seed and thread count.

    ``objective="aft"``: survival:aft on T = 1 + victims per 100k (ln T is the log1p label), with censored
    labels as the interval [lower, upper]; a normal AFT with fixed scale is squared error on exact labels.
    ``base_margin``: boosting starts from this value per row (e.g. the label-history anchor).
    """
    params, rounds = xgb_params(config)
    if monotone:
        params["monotone_constraints"] = "(" + ",".join(str(int(monotone.get(c, 0))) for c in X.columns) + ")"
    dtrain = xgb.DMatrix(
        X.to_numpy(dtype=float), label=y.to_numpy(dtype=float), feature_names=list(X.columns), missing=np.nan
    )
    if objective == "aft":
        lo = (lower if lower is not None else y).fillna(y).to_numpy(dtype=float)
        hi = (upper if upper is not None else y).fillna(y).to_numpy(dtype=float)
        dtrain.set_float_info("label_lower_bound", np.exp(lo))
        dtrain.set_float_info("label_upper_bound", np.exp(hi))
        aft = config.get("aft", {})
        params.update(
            objective="survival:aft",
            aft_loss_distribution=aft.get("distribution", "normal"),
            aft_loss_distribution_scale=float(aft.get("scale", 1.0)),
        )
        params.pop("eval_metric", None)
    if base_margin is not None:
        dtrain.set_base_margin(np.asarray(base_margin, dtype=float))
    return xgb.train(params, dtrain, num_boost_round=rounds)


def predict_margin(
    booster: xgb.Booster, X: pd.DataFrame, base_margin: np.ndarray | None = None
) -> np.ndarray:
    """Predictions in the label space (log1p of detected victims per 100k)."""
    d = xgb.DMatrix(X.to_numpy(dtype=float), feature_names=list(X.columns), missing=np.nan)
    if base_margin is not None:
        d.set_base_margin(np.asarray(base_margin, dtype=float))
    return booster.predict(d, output_margin=True)


class RidgeModel:
    """Regularised linear baseline on the same features (median-imputed, with missing flags, standardised)."""

    def __init__(self, alpha: float = 3.0):
        self.alpha = alpha

    def fit(self, X: pd.DataFrame, y: pd.Series) -> RidgeModel:
        from sklearn.linear_model import Ridge

        self.columns = list(X.columns)
        self.medians = X.median()
        Z = self._design(X, fit=True)
        self.model = Ridge(alpha=self.alpha).fit(Z, y.to_numpy(dtype=float))
        return self

    def _design(self, X: pd.DataFrame, fit: bool = False) -> np.ndarray:
        filled = X.fillna(self.medians).fillna(0.0)
        flags = X.isna().astype(float).add_suffix("_missing")
        Z = pd.concat([filled, flags], axis=1)
        if fit:
            self.mean = Z.mean()
            self.std = Z.std().replace(0, 1).fillna(1)
        return ((Z - self.mean) / self.std).to_numpy(dtype=float)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict(self._design(X[self.columns]))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Exact additive contributions per input feature (its value and its missing flag) plus the intercept.

        On standardised inputs the linear SHAP value of a column is coef × z (training mean of z is 0), so the
        row sums equal ``predict``.
        """
        Z = self._design(X[self.columns])
        parts = Z * self.model.coef_[None, :]
        design_cols = [*self.columns, *[f"{c}_missing" for c in self.columns]]
        frame = pd.DataFrame(parts, index=X.index, columns=design_cols)
        out = pd.DataFrame({c: frame[c] + frame[f"{c}_missing"] for c in self.columns}, index=X.index)
        out["__bias__"] = float(self.model.intercept_)
        return out
