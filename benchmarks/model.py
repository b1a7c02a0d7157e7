"""Model benchmark: training + backtest time, and SHAP for every prediction (native vs shap.TreeExplainer).

The backtest is the slowest step of `crisisrisk model train` (issue 16 item 4). It is timed twice in the same
run, so the ratio is measured under the same load: as before (origins one after the other, a fresh XGBoost
matrix per fit) and as train_run runs it now (origins in ``backtest_workers`` threads, one shared matrix per
origin); the predictions must be identical. The load average is printed with each, since the machine may be
shared.

Run: .venv/bin/python -m benchmarks.model   (needs a warehouse built by `crisisrisk etl run`)
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from models.evaluate import backtest_workers, candidates, rolling_origin
from models.explain import shap_values
from models.features import build_panel, feature_names
from models.pipeline import load_observations, panel_years
from models.train import fit_xgb, load_config
from warehouse.db import make_engine

REPEATS = 3


def main() -> None:
    """Time the steps of `crisisrisk model train` as train_run runs them (panels per horizon, backtest)."""
    config = load_config()
    engine = make_engine()
    t0 = time.perf_counter()
    obs = load_observations(engine)
    years = panel_years(obs, config)
    horizons = [int(h) for h in config["backtest"].get("horizons", [1, 2, 3])]
    censored_fraction = float(config["label"]["censored_fraction"])
    panels = {h: build_panel(obs, years, censored_fraction, h) for h in horizons}
    t_panel = time.perf_counter() - t0
    panel = panels[horizons[0]]
    labelled = panel[panel["label"].notna()]
    newest_label = int(labelled.index.get_level_values("year").max())
    bt = config["backtest"]
    last_origin = min(int(bt.get("last_origin", newest_label - 1)), newest_label - 1)
    origins = list(range(int(bt["first_origin"]), last_origin + 1))
    models = candidates(config)
    workers = backtest_workers(config, len(origins))
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    before = rolling_origin(panels.get, models, origins, horizons, workers=1, share_matrices=False)
    t_before = time.perf_counter() - t0
    load_mid = os.getloadavg()[0]
    per_horizon: dict[str, float] = {}
    t0 = time.perf_counter()
    after = rolling_origin(panels.get, models, origins, horizons, workers=workers, timings=per_horizon)
    t_backtest = time.perf_counter() - t0
    load_after = os.getloadavg()[0]
    pd.testing.assert_frame_equal(before, after, check_exact=True)
    features = feature_names()
    t0 = time.perf_counter()
    booster = fit_xgb(labelled[features], labelled["label"], config)
    t_fit = time.perf_counter() - t0
    print(
        f"panel build: {t_panel:.2f} s ({len(horizons)} horizons × {len(panel):,} country-years, "
        f"{len(labelled):,} labelled)"
    )
    print(
        f"backtest before (sequential, a matrix per fit): {t_before:.2f} s, load average {load_before:.2f} "
        f"at start; ({len(origins)} origins × {len(horizons)} horizons × {len(models)} candidates)"
    )
    print(
        f"backtest after ({workers} threads × nthread {config['xgboost'].get('nthread')}, shared matrices): "
        f"{t_backtest:.2f} s, load average {load_mid:.2f} at start, {load_after:.2f} at end; per horizon "
        + ", ".join(f"{k} {v:.1f} s" for k, v in per_horizon.items())
        + f"; identical predictions; one final fit: {t_fit:.2f} s"
    )
    print(f"ratio backtest before / after = {t_before / t_backtest:.2f}x on {os.cpu_count()} cores")

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
