"""One training run end to end: panel -> backtest -> final model -> predictions, SHAP, admin-1 -> registry."""

from __future__ import annotations

import datetime as dt
import logging
import platform
import secrets
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from etl.faults import fault_point
from etl.schema import explanation, model_run, prediction
from etl.warehouse import bulk_insert, read_observations, read_regions
from models import downscale as ds
from models.card import model_card
from models.evaluate import backtest, calibration, candidates, pooled
from models.explain import BIAS, global_importance, shap_values
from models.features import (
    FEATURES,
    build_panel,
    feature_families,
    feature_names,
    needed_indicators,
    panel_sha256,
)
from models.registry import deployed_run, promote, registry_dir, save_artefacts
from models.train import fit_xgb, load_config, predict_margin

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
XGB_VARIANTS = {"xgboost": (True, False), "xgboost_no_past_victims": (False, False), "xgboost_monotone": (True, True)}


class TrainingError(RuntimeError):
    """Training cannot run on this warehouse (e.g. no labels or no population)."""


def load_panel(engine: Engine, config: dict[str, Any]) -> pd.DataFrame:
    """Read level-0 yearly observations and build the feature panel."""
    obs = read_observations(engine, indicators=needed_indicators(), level=0)
    if obs.empty or not (obs["indicator"] == "trafficking.victims_detected").any():
        raise TrainingError("the warehouse has no UNODC GLOTIP detected-victims observations; run `crisisrisk etl run`")
    if not (obs["indicator"] == "structural.population").any():
        raise TrainingError("the warehouse has no population observations (wb_population); run `crisisrisk etl run`")
    last_pop = int(obs.loc[obs["indicator"] == "structural.population", "year"].max())
    years = list(range(int(config["predictions"]["first_year"]) - 5, last_pop + 2))
    return build_panel(obs, years, float(config["label"]["censored_fraction"]))


def risk_scores(frame: pd.DataFrame, bands: dict[str, float], group: str = "year") -> pd.DataFrame:
    """Percentile of the estimate within its year (0-100), the band, and the rank (1 = highest)."""
    frame = frame.copy()
    frame["risk_score"] = frame.groupby(group)["estimate_per_100k"].rank(pct=True, method="average") * 100
    frame["rank"] = frame.groupby(group)["estimate_per_100k"].rank(ascending=False, method="min").astype(int)
    frame["risk_band"] = pd.cut(frame["risk_score"], [-0.1, bands["moderate"], bands["high"], bands["very_high"], 100.1],
                                labels=["low", "moderate", "high", "very high"], right=False).astype(str)
    return frame


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def train_run(engine: Engine, deploy: bool = True, progress: Progress | None = None,
              config: dict[str, Any] | None = None, registry_root: Path | None = None) -> str:
    """Train, backtest, explain, store and (if it passes the baseline gate) deploy. Returns the run id."""
    config = config or load_config()
    say = progress or (lambda _m: None)
    say("building the feature panel")
    panel = load_panel(engine, config)
    labelled = panel[panel["label"].notna()]
    say(f"backtesting on {len(labelled):,} labelled country-years")
    per_origin, oos = backtest(panel, config, candidates(config, config.get("monotone")), progress=say)
    pooled_table = pooled(oos)
    scores = pooled_table.set_index("model")["rmsle"]
    variant = min((v for v in XGB_VARIANTS if v in scores.index), key=lambda v: scores[v])
    include_past, use_monotone = XGB_VARIANTS[variant]
    features = feature_names(include_past_victims=include_past)
    monotone = config.get("monotone") if use_monotone else None
    gate_passed = bool(scores[variant] < scores["last_value"])
    resid = oos[oos["model"] == variant]
    level = float(config["backtest"]["interval"])
    q = float(np.quantile(np.abs(resid["y_true"] - resid["y_pred"]), level))
    # Countries with no earlier label are extrapolation: their interval comes from the backtest errors on
    # countries that were also reporting for the first time.
    new = resid[~resid["has_history"].astype(bool)]
    q_new = float(np.quantile(np.abs(new["y_true"] - new["y_pred"]), level)) if len(new) >= 10 else 2 * q
    q_new = max(q_new, q)

    say(f"fitting the final model ({variant}) on {len(labelled):,} rows")
    booster = fit_xgb(labelled[features], labelled["label"], config, monotone)
    first_year = int(config["predictions"]["first_year"])
    scope = panel[panel.index.get_level_values("year") >= first_year]
    margin = predict_margin(booster, scope[features])
    labelled_once = set(labelled.index.get_level_values(0))
    history = scope.index.get_level_values(0).isin(labelled_once)
    half = np.where(history, q, q_new)
    preds = pd.DataFrame({
        "region_id": scope.index.get_level_values(0), "year": scope.index.get_level_values(1).astype(int),
        "estimate_per_100k": np.expm1(np.maximum(margin, 0.0)),
        "lower_per_100k": np.expm1(np.maximum(margin - half, 0.0)),
        "upper_per_100k": np.expm1(np.maximum(margin, 0.0) + half),
        "label_per_100k": scope["label_per_100k"].to_numpy(),
        "method": np.where(history, "model", "model_no_label_history"),
    })
    preds = risk_scores(preds, config["risk_bands"])

    say(f"computing SHAP for {len(scope):,} predictions")
    shap = shap_values(booster, scope[features])
    families = feature_families()
    fam_importance, feat_importance = global_importance(shap, families)

    say("spreading country estimates to admin-1 units by exposure")
    admin = _admin1(engine, preds, config)

    run_id = new_run_id()
    created = dt.datetime.now(dt.UTC)
    metrics = {
        "backtest_per_origin": _records(per_origin),
        "backtest_pooled": _records(pooled_table),
        "calibration": calibration(oos, variant),
        "gate": {"passed": gate_passed, "model": variant, "model_rmsle": float(scores[variant]),
                 "last_value_rmsle": float(scores["last_value"])},
        "interval_halfwidth_log": q,
        "interval_halfwidth_log_no_label_history": q_new,
        "coverage_by_history": _coverage_by_history(resid),
    }
    label_years = labelled.index.get_level_values("year")
    metadata: dict[str, Any] = {
        "run_id": run_id, "created_at": created.isoformat(), "level": 0,
        "label": "log1p detected trafficking victims per 100,000 (UNODC GLOTIP)",
        "target_description": "risk of DETECTED trafficking: detected victims per 100,000 people",
        "variant": variant, "features": features, "feature_families": {f: families[f] for f in features},
        "feature_sources": {f.name: list(f.indicators) for f in FEATURES if f.name in features},
        "feature_descriptions": {f.name: f.description for f in FEATURES if f.name in features},
        "monotone_constraints": monotone or {},
        "training_window": [int(label_years.min()), int(label_years.max())],
        "training_rows": len(labelled), "censored_labels": int(labelled["label_censored"].sum()),
        "prediction_years": [int(preds["year"].min()), int(preds["year"].max())],
        "countries_predicted": int(preds["region_id"].nunique()),
        "countries_without_label_history": sorted(set(preds.loc[preds["method"] != "model", "region_id"])),
        "panel_sha256": panel_sha256(panel),
        "versions": {"python": platform.python_version(), **{p: version(p) for p in
                                                             ("xgboost", "pandas", "numpy", "shap", "sqlalchemy")}},
        "hyperparameters": config["xgboost"], "config": config,
        "metrics": metrics, "global_shap": fam_importance, "global_shap_features": feat_importance,
        "admin1": {"method": "exposure_downscaled", "rows": len(admin),
                   "units_with_subnational_data": int(admin["has_subnational_data"].sum()) if len(admin) else 0},
    }
    metadata["model_card_md"] = model_card(metadata)
    sha = save_artefacts(run_id, booster, _clean(metadata), registry_root)

    say("writing predictions and explanations")
    _write(engine, run_id, created, sha, metadata, preds, admin, shap, scope[features], families)
    from models.watchlist import train_watchlist  # issue 11: the watch list and pair model of this run
    train_watchlist(engine, run_id, registry_root or registry_dir(), say)
    if deploy and gate_passed:
        promote(engine, run_id, registry_root)
        say(f"deployed run {run_id}")
    elif deploy and deployed_run(engine) is None:
        # Nothing is deployed yet: serve the best honest variant; its model card says it fails the gate.
        promote(engine, run_id, registry_root)
        say(f"deployed run {run_id} although it does not beat the last-value baseline (no other run exists)")
    elif deploy:
        say(f"run {run_id} did not beat the last-value baseline; kept as candidate")
    return run_id


def _admin1(engine: Engine, preds: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    units = read_regions(engine, level=1)
    obs = read_observations(engine, level=1, indicators=[ds.DEATHS, ds.EVENTS, *ds.DISPLACED, *ds.POPULATION])
    pop = read_observations(engine, level=0, indicators=["structural.population"])[["region_id", "year", "value"]]
    admin = ds.downscale(preds, units, obs, pop)
    if admin.empty:
        return admin
    admin = risk_scores(admin, config["risk_bands"])
    return admin


def _write(engine: Engine, run_id: str, created: dt.datetime, sha: str, metadata: dict, preds: pd.DataFrame,
           admin: pd.DataFrame, shap: pd.DataFrame, X: pd.DataFrame, families: dict[str, str]) -> None:
    pred_rows = [{
        "run_id": run_id, "region_id": r.region_id, "year": int(r.year), "level": 0,
        "estimate_per_100k": float(r.estimate_per_100k), "lower_per_100k": float(r.lower_per_100k),
        "upper_per_100k": float(r.upper_per_100k), "risk_score": float(r.risk_score), "risk_band": r.risk_band,
        "rank": int(r.rank), "label_per_100k": None if pd.isna(r.label_per_100k) else float(r.label_per_100k),
        "method": r.method, "has_subnational_data": None,
    } for r in preds.itertuples()]
    for r in admin.itertuples():
        pred_rows.append({
            "run_id": run_id, "region_id": r.region_id, "year": int(r.year), "level": 1,
            "estimate_per_100k": float(r.estimate_per_100k), "lower_per_100k": float(r.lower_per_100k),
            "upper_per_100k": float(r.upper_per_100k), "risk_score": float(r.risk_score), "risk_band": r.risk_band,
            "rank": int(r.rank), "label_per_100k": None, "method": "exposure_downscaled",
            "has_subnational_data": bool(r.has_subnational_data),
        })
    long = shap.stack().rename("value").reset_index()
    long.columns = ["region_id", "year", "feature", "value"]
    fv = X.stack(future_stack=True).rename("feature_value").reset_index()
    fv.columns = ["region_id", "year", "feature", "feature_value"]
    long = long.merge(fv, on=["region_id", "year", "feature"], how="left")
    long["family"] = long["feature"].map(families).fillna("bias")
    long.loc[long["feature"] == BIAS, "family"] = "bias"
    expl_rows = [{"run_id": run_id, "region_id": a, "year": int(b), "feature": c, "family": f, "value": float(v),
                  "feature_value": None if pd.isna(x) else float(x)}
                 for a, b, c, v, x, f in zip(long["region_id"], long["year"], long["feature"], long["value"],
                                             long["feature_value"], long["family"], strict=True)]
    with engine.begin() as conn:
        conn.execute(model_run.insert().values(
            run_id=run_id, created_at=created, status="candidate", level=0, artefact_sha256=sha,
            panel_sha256=metadata["panel_sha256"], metadata_json=_clean(metadata), metrics_json=_clean(metadata["metrics"]),
            deployed_at=None))
        bulk_insert(conn, prediction, pred_rows)
        bulk_insert(conn, explanation, expl_rows)
        fault_point("model.write.before_commit")


def _coverage_by_history(resid: pd.DataFrame) -> dict[str, Any]:
    """Backtest coverage of the 80% interval for countries with and without earlier labels."""
    out = {}
    for flag, grp in resid.groupby(resid["has_history"].astype(bool)):
        inside = (grp["y_true"] >= grp["lower"]) & (grp["y_true"] <= grp["upper"])
        out["with_history" if flag else "first_label"] = {"n": len(grp), "coverage80": float(inside.mean())}
    return out


def _records(frame: pd.DataFrame) -> list[dict]:
    return [_clean(r) for r in frame.to_dict("records")]


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
