"""Model benchmark: training + backtest time, and SHAP for every prediction (native vs shap.TreeExplainer).

Run: .venv/bin/python -m benchmarks.model   (needs a warehouse built by `crisisrisk etl run`)
"""

from __future__ import annotations

import time

import numpy as np

from models.evaluate import backtest, candidates, pooled
from models.explain import shap_values
from models.features import feature_names
from models.pipeline import load_panel
from models.train import fit_xgb, load_config
from warehouse.db import make_engine

REPEATS = 3


def main() -> None:
    config = load_config()
    engine = make_engine()
    t0 = time.perf_counter()
    panel = load_panel(engine, config)
    t_panel = time.perf_counter() - t0
    labelled = panel[panel["label"].notna()]
    t0 = time.perf_counter()
    per_origin, oos = backtest(panel, config, candidates(config, config.get("monotone")))
    pooled(oos)
    t_backtest = time.perf_counter() - t0
    features = feature_names()
    t0 = time.perf_counter()
    booster = fit_xgb(labelled[features], labelled["label"], config)
    t_fit = time.perf_counter() - t0
    print(f"panel build: {t_panel:.2f} s ({len(panel):,} country-years, {len(labelled):,} labelled)")
    print(
        f"backtest: {t_backtest:.2f} s ({per_origin['origin'].nunique()} origins × "
        f"{per_origin['model'].nunique()} models); final fit: {t_fit:.2f} s"
    )

    X = panel[panel.index.get_level_values("year") >= int(config["predictions"]["first_year"])][features]
    import shap

    t_native, t_shap = float("inf"), float("inf")
    for _ in range(
        REPEATS
    ):  # best of several runs: both are C++ TreeSHAP, timings on a shared machine are noisy
        t0 = time.perf_counter()
        native = shap_values(booster, X)
        t_native = min(t_native, time.perf_counter() - t0)
        t0 = time.perf_counter()
        explainer = shap.TreeExplainer(booster)
        reference = explainer.shap_values(X.to_numpy(dtype=float))
        t_shap = min(t_shap, time.perf_counter() - t0)
    diff = float(np.max(np.abs(reference - native.drop(columns="__bias__").to_numpy())))
    print(
        f"SHAP for {len(X):,} predictions × {len(features)} features (best of {REPEATS}): "
        f"native pred_contribs {t_native:.3f} s, "
        f"shap.TreeExplainer {t_shap:.3f} s; ratio TreeExplainer / native = {t_shap / t_native:.1f}x; "
        f"max |difference| = {diff:.2e}"
    )


if __name__ == "__main__":
    main()
