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
    import os

    path = path or Path(os.environ.get("CRISISRISK_MODEL_CONFIG", CONFIG_PATH))
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


def fit_xgb(X: pd.DataFrame, y: pd.Series, config: dict[str, Any], monotone: dict[str, int] | None = None) -> xgb.Booster:
    """Fit a booster; deterministic for the same data, seed and thread count."""
    params, rounds = xgb_params(config)
    if monotone:
        params["monotone_constraints"] = "(" + ",".join(str(int(monotone.get(c, 0))) for c in X.columns) + ")"
    dtrain = xgb.DMatrix(X.to_numpy(dtype=float), label=y.to_numpy(dtype=float), feature_names=list(X.columns),
                         missing=np.nan)
    return xgb.train(params, dtrain, num_boost_round=rounds)


def predict_margin(booster: xgb.Booster, X: pd.DataFrame) -> np.ndarray:
    """Predictions in the label space (log1p of detected victims per 100k)."""
    d = xgb.DMatrix(X.to_numpy(dtype=float), feature_names=list(X.columns), missing=np.nan)
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
