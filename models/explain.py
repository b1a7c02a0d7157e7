"""SHAP explanations from XGBoost's native ``pred_contribs``, grouped by feature family."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xgboost as xgb

log = logging.getLogger(__name__)
BIAS = "__bias__"


def shap_values(booster: xgb.Booster, X: pd.DataFrame) -> pd.DataFrame:
    """Per-row SHAP contributions (columns = features + ``__bias__``), in margin space.

    Exact TreeSHAP computed inside XGBoost: faster than ``shap.TreeExplainer`` and additive by
    construction (sum of a row = the margin).
    """
    d = xgb.DMatrix(X.to_numpy(dtype=float), feature_names=list(X.columns), missing=np.nan)
    contribs = booster.predict(d, pred_contribs=True)
    return pd.DataFrame(contribs, index=X.index, columns=[*X.columns, BIAS])


def by_family(shap: pd.DataFrame, families: dict[str, str]) -> pd.DataFrame:
    """Sum contributions within each family (bias kept separately)."""
    cols = [c for c in shap.columns if c != BIAS]
    grouped = shap[cols].T.groupby(pd.Series(families)[cols]).sum().T
    return grouped


def global_importance(shap: pd.DataFrame, families: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """Mean |SHAP| by family and by feature."""
    cols = [c for c in shap.columns if c != BIAS]
    per_feature = shap[cols].abs().mean().sort_values(ascending=False)
    per_family = by_family(shap, families).abs().mean().sort_values(ascending=False)
    return (
        [{"family": f, "mean_abs_shap": float(v)} for f, v in per_family.items()],
        [
            {"feature": f, "family": families[str(f)], "mean_abs_shap": float(v)}
            for f, v in per_feature.items()
        ],
    )


def what_changed(shap: pd.DataFrame, families: dict[str, str]) -> pd.DataFrame:
    """Family contribution this year minus last year, per region (DESIGN §5 'what changed')."""
    fam = by_family(shap, families)
    prev = fam.groupby(level="region_id").shift(1)
    return (fam - prev).dropna(how="all")
