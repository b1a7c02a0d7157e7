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
    dtrain: xgb.DMatrix | None = None,
) -> xgb.Booster:
    """Fit a booster; deterministic for the same data, seed and thread count.

    ``objective="aft"``: survival:aft on T = 1 + victims per 100k (ln T is the log1p label), with censored
    labels as the interval [lower, upper]; a normal AFT with fixed scale is squared error on exact labels.
    ``base_margin``: boosting starts from this value per row (e.g. the label-history anchor).
    ``dtrain``: a matrix of the same rows already built by ``training_matrix`` (shared by the variants of one
    origin); it must not carry a base margin, which is per variant.
    """
    params, rounds = xgb_params(config)
    if monotone:
        params["monotone_constraints"] = "(" + ",".join(str(int(monotone.get(c, 0))) for c in X.columns) + ")"
    if objective == "aft":
        aft = config.get("aft", {})
        params.update(
            objective="survival:aft",
            aft_loss_distribution=aft.get("distribution", "normal"),
            aft_loss_distribution_scale=float(aft.get("scale", 1.0)),
        )
        params.pop("eval_metric", None)
    if base_margin is not None or dtrain is None:
        dtrain = training_matrix(X, y, objective, lower, upper, int(params.get("max_bin", 256)))
    if base_margin is not None:
        dtrain.set_base_margin(np.asarray(base_margin, dtype=float))
    booster = xgb.train(params, dtrain, num_boost_round=rounds)
    # names are set once after training: a named training matrix makes xgb.train fetch and compare them from
    # C in every round (about 12% of the backtest); the trees are the same either way
    booster.feature_names = list(X.columns)
    return booster


def training_matrix(
    X: pd.DataFrame,
    y: pd.Series,
    objective: str = "squared",
    lower: pd.Series | None = None,
    upper: pd.Series | None = None,
    max_bin: int = 256,
) -> xgb.DMatrix:
    """The training rows as a QuantileDMatrix (with the AFT interval bounds for ``objective="aft"``).

    A QuantileDMatrix holds the histogram bins the ``hist`` method trains on, so variants trained on the same
    rows share one sketch; on these dense inputs the boosters are identical to those trained on a DMatrix
    (tests/models/test_model_core.py). Unnamed: ``fit_xgb`` names the booster after training.
    """
    dtrain = xgb.QuantileDMatrix(
        X.to_numpy(dtype=float), label=y.to_numpy(dtype=float), missing=np.nan, max_bin=max_bin
    )
    if objective == "aft":
        lo = (lower if lower is not None else y).fillna(y).to_numpy(dtype=float)
        hi = (upper if upper is not None else y).fillna(y).to_numpy(dtype=float)
        dtrain.set_float_info("label_lower_bound", np.exp(lo))
        dtrain.set_float_info("label_upper_bound", np.exp(hi))
    return dtrain


def prediction_matrix(X: pd.DataFrame) -> xgb.DMatrix:
    """The DMatrix of rows to predict (no label)."""
    return xgb.DMatrix(X.to_numpy(dtype=float), feature_names=list(X.columns), missing=np.nan)


def predict_margin(
    booster: xgb.Booster,
    X: pd.DataFrame,
    base_margin: np.ndarray | None = None,
    matrix: xgb.DMatrix | None = None,
) -> np.ndarray:
    """Predictions in the label space (log1p of detected victims per 100k).

    ``matrix``: ``prediction_matrix(X)`` built once for several boosters (ignored with a base margin).
    """
    if base_margin is not None or matrix is None:
        matrix = prediction_matrix(X)
    d = matrix
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
