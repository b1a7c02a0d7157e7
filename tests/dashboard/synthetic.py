"""A small warehouse for dashboard tests: the REAL Natural Earth regions plus SYNTHETIC model outputs.

Everything this module writes besides the regions is made up, deterministic (seeded) test data. It only
exercises the dashboard's code paths (bands, intervals, missing years, admin-1 downscaling, rejected rows).
It is not an estimate of anything and must never be shown as one: the run id, the model card and the
source name all say "synthetic".
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from etl.config import PROJECT_ROOT
from etl.schema import (
    explanation,
    indicator,
    model_run,
    observation,
    prediction,
    region,
    rejected_row,
    source_load,
)

RAW_DIR = PROJECT_ROOT / "data" / "raw"
RUN_ID = "SYNTHETIC-TEST-RUN-deployed"
OLD_RUN_ID = "SYNTHETIC-TEST-RUN-archived"
SOURCE = "synthetic_fixture"
YEARS = list(range(2016, 2021))
ADMIN1_COUNTRIES = ("NGA", "UKR", "COL", "SSD")
NO_PREDICTION = ("GRL", "ATA", "RUS", "CAN", "AUS")  # shown as "no data" on the map
FEATURES = {
    "displacement.refugees_by_origin_per100k_lag1": "displacement",
    "displacement.idps_per100k_lag1": "displacement",
    "conflict.deaths_per100k_lag1": "conflict",
    "trafficking.victims_detected_per100k_lag1": "trafficking",
    "detection.tip_tier_lag1": "detection",
    "detection.prosecutions_per100k_lag1": "detection",
    "structural.gdp_per_capita_lag1": "structural",
    "response.fts_coverage_pct_lag1": "response",
    "hazard.disaster_deaths_per100k_lag1": "hazard",
}
INDICATORS = [  # code, family, unit
    ("displacement.refugees_by_origin", "displacement", "persons"),
    ("displacement.refugees_hosted", "displacement", "persons"),
    ("displacement.idmc_conflict_idps", "displacement", "persons"),
    ("conflict.deaths", "conflict", "deaths"),
    ("detection.persons_prosecuted", "detection", "persons"),
    ("trafficking.victims_detected", "trafficking", "persons"),
    ("response.fts_requirements_usd", "response", "USD"),
    ("response.fts_funding_usd", "response", "USD"),
]


def band(score: float) -> str:
    return "low" if score < 25 else "moderate" if score < 50 else "high" if score < 75 else "very high"


def _scored(frame: pd.DataFrame) -> pd.DataFrame:
    frame["risk_score"] = frame.groupby("year")["estimate_per_100k"].rank(pct=True) * 100
    frame["rank"] = frame.groupby("year")["estimate_per_100k"].rank(ascending=False, method="first").astype(int)
    frame["risk_band"] = frame["risk_score"].map(band)
    return frame


def build_synthetic_warehouse(engine: Engine, raw_dir: Path = RAW_DIR) -> Engine:
    """Load real regions, then add synthetic model outputs and observations (see the module docstring)."""
    from etl.db import migrate
    from etl.loader import load_source
    from etl.sources import get_source

    migrate(engine)
    result = load_source(engine, get_source("natural_earth"), raw_dir)
    assert result.status in ("loaded", "unchanged"), result.error
    rng = np.random.default_rng(7)
    with engine.connect() as conn:
        regions = pd.DataFrame(conn.execute(select(region.c.region_id, region.c.level, region.c.parent_id,
                                                   region.c.geometry_wkb.is_not(None))).all(),
                               columns=["region_id", "level", "parent_id", "has_geom"])
    countries = sorted(regions[(regions["level"] == 0) & regions["has_geom"]]["region_id"])
    countries = [c for c in countries if c not in NO_PREDICTION]
    base = {c: rng.normal(0.3, 1.0) for c in countries}
    rows = []
    for c in countries:
        for i, y in enumerate(YEARS):
            if c == "FRA" and y == YEARS[0]:
                continue  # a country with a missing year
            est = float(math.exp(base[c] + 0.15 * i * rng.normal(0.2, 1)))
            rows.append({"region_id": c, "year": y, "estimate_per_100k": est})
    pred0 = pd.DataFrame(rows)
    pred0["lower_per_100k"] = pred0["estimate_per_100k"] * 0.45
    pred0["upper_per_100k"] = pred0["estimate_per_100k"] * 2.1
    pred0 = _scored(pred0)
    pred0["label_per_100k"] = [e * rng.uniform(0.6, 1.4) if rng.random() < 0.5 else None
                               for e in pred0["estimate_per_100k"]]
    pred0["level"], pred0["method"], pred0["has_subnational_data"] = 0, "model", None

    adm = regions[(regions["level"] == 1) & regions["parent_id"].isin(ADMIN1_COUNTRIES)]
    rows = []
    for rid, parent in zip(adm["region_id"], adm["parent_id"], strict=True):
        weight = rng.lognormal(0, 0.6)
        has_sub = bool(rng.random() < 0.7)
        for y in YEARS:
            cest = pred0[(pred0["region_id"] == parent) & (pred0["year"] == y)]["estimate_per_100k"].iloc[0]
            est = float(cest * (weight if has_sub else 1.0))
            rows.append({"region_id": rid, "year": y, "estimate_per_100k": est, "has_subnational_data": has_sub})
    pred1 = pd.DataFrame(rows)
    pred1["lower_per_100k"] = pred1["estimate_per_100k"] * 0.4
    pred1["upper_per_100k"] = pred1["estimate_per_100k"] * 2.4
    pred1 = _scored(pred1)
    pred1["label_per_100k"], pred1["level"], pred1["method"] = None, 1, "exposure_downscaled"

    expl = []
    feats = list(FEATURES)
    bias = float(np.log1p(pred0["estimate_per_100k"]).mean())
    for r in pred0.itertuples():
        margin = math.log1p(r.estimate_per_100k)
        vals = rng.normal(0, 0.3, len(feats))
        vals[-1] += margin - bias - vals.sum()
        for f, v in zip(feats, vals, strict=True):
            expl.append({"region_id": r.region_id, "year": r.year, "feature": f, "family": FEATURES[f],
                         "value": float(v), "feature_value": None if rng.random() < 0.1 else float(rng.gamma(2, 50))})
        expl.append({"region_id": r.region_id, "year": r.year, "feature": "__bias__", "family": "bias",
                     "value": bias, "feature_value": None})

    models = ["xgboost", "xgboost_no_past_victims", "last_value", "mean_3y", "ridge", "conflict_displacement_only"]
    per_origin = [{"origin": y - 1, "target_year": y, "model": m, "rmsle": float(0.5 + 0.1 * k + rng.uniform(0, .1)),
                   "mae": float(1 + k * 0.2), "spearman": float(0.8 - 0.05 * k), "top20_recall": float(0.6 - 0.04 * k),
                   "coverage80": float(rng.uniform(0.7, 0.9)), "width80": 1.2, "n": 90}
                  for y in YEARS for k, m in enumerate(models)]
    pooled = [{"model": m, "rmsle": 0.55 + 0.1 * k, "mae": 1 + 0.2 * k, "spearman": 0.8 - 0.05 * k,
               "top20_recall": 0.6 - 0.04 * k, "coverage80": 0.79, "width80": 1.2, "n": 450}
              for k, m in enumerate(models)]
    metrics = {"backtest_per_origin": per_origin, "backtest_pooled": pooled,
               "calibration": [{"nominal": 0.5, "empirical": 0.47}, {"nominal": 0.8, "empirical": 0.78},
                               {"nominal": 0.9, "empirical": 0.86}],
               "gate": {"passed": True, "model_rmsle": 0.55, "last_value_rmsle": 0.75}}
    fam_shap = {}
    for fam in FEATURES.values():
        fam_shap[fam] = fam_shap.get(fam, 0) + float(rng.uniform(0.05, 0.3))
    meta = {"run_id": RUN_ID, "created_at": "2026-01-01T00:00:00Z", "level": 0,
            "label": "log1p detected trafficking victims per 100,000 (UNODC GLOTIP)",
            "target_description": "SYNTHETIC TEST VALUES", "features": feats, "feature_families": FEATURES,
            "feature_sources": {f: [SOURCE] for f in feats}, "training_window": [2005, 2015],
            "prediction_years": [YEARS[0], YEARS[-1]], "panel_sha256": "0" * 64, "versions": {},
            "hyperparameters": {}, "variant": "with_past_victims", "metrics": metrics,
            "global_shap": [{"family": k, "mean_abs_shap": v} for k, v in fam_shap.items()],
            "global_shap_features": [{"feature": f, "family": FEATURES[f], "mean_abs_shap": 0.1} for f in feats],
            "model_card_md": "# Model card (SYNTHETIC TEST RUN)\n\nThese are **synthetic test values** made by the "
                             "dashboard test fixture. They describe nothing.\n\n| item | value |\n|---|---|\n"
                             "| label | detected victims per 100k |\n"}
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    obs_rows, rejected = _observations(countries, rng)
    with engine.begin() as conn:
        conn.execute(model_run.insert(), [
            {"run_id": OLD_RUN_ID, "created_at": now - dt.timedelta(days=30), "status": "archived", "level": 0,
             "artefact_sha256": "a" * 64, "panel_sha256": "0" * 64, "metadata_json": {**meta, "run_id": OLD_RUN_ID},
             "metrics_json": metrics, "deployed_at": None},
            {"run_id": RUN_ID, "created_at": now, "status": "deployed", "level": 0, "artefact_sha256": "b" * 64,
             "panel_sha256": "0" * 64, "metadata_json": meta, "metrics_json": metrics, "deployed_at": now}])
        cols = ["region_id", "year", "level", "estimate_per_100k", "lower_per_100k", "upper_per_100k", "risk_score",
                "risk_band", "rank", "label_per_100k", "method", "has_subnational_data"]
        for frame in (pred0, pred1):
            recs = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")
            conn.execute(prediction.insert(), [{**r, "run_id": RUN_ID} for r in recs])
        conn.execute(explanation.insert(), [{**e, "run_id": RUN_ID} for e in expl])
        conn.execute(indicator.insert(), [{"code": c, "family": f, "unit": u, "direction": "higher_is_riskier",
                                           "description": f"{c} (synthetic test values)", "source": SOURCE}
                                          for c, f, u in INDICATORS if c != "trafficking.victims_detected"
                                          or not _has_indicator(conn, c)])
        load_id = conn.execute(source_load.insert().values(
            source=SOURCE, file="synthetic/fixture.csv", sha256="0" * 64, rows_read=len(obs_rows) + len(rejected),
            rows_loaded=len(obs_rows), rows_rejected=len(rejected), observations=len(obs_rows), started_at=now,
            finished_at=now, status="loaded", software_version="test")).inserted_primary_key[0]
        conn.execute(observation.insert(), [{**o, "source": SOURCE, "load_id": load_id} for o in obs_rows])
        conn.execute(rejected_row.insert(), [{**r, "load_id": load_id} for r in rejected])
    return engine


def _has_indicator(conn, code: str) -> bool:
    return conn.execute(select(indicator.c.code).where(indicator.c.code == code)).first() is not None


def _observations(countries: list[str], rng) -> tuple[list[dict], list[dict]]:
    out = []
    for c in countries[::3] + ["NGA", "UKR", "COL", "SSD"]:
        for y in range(2012, 2021):
            for code, _fam, _unit in INDICATORS:
                if rng.random() < 0.2:
                    continue
                value = float(rng.gamma(2, 20_000)) if not code.startswith("response") else float(rng.gamma(2, 1e8))
                out.append({"region_id": c, "period_start": dt.date(y, 1, 1), "period_type": "year",
                            "indicator": code, "value": round(value), "censored": False})
    seen, uniq = set(), []
    for o in out:
        key = (o["region_id"], o["period_start"], o["indicator"])
        if key not in seen:
            seen.add(key)
            uniq.append(o)
    rejected = [{"row_number": 2, "reason_code": "unknown_country", "reason": "country 'Atlantis' is not known",
                 "raw": '{"country": "Atlantis", "value": "12"}'},
                {"row_number": 5, "reason_code": "bad_value", "reason": "value '=1+1' is not a number",
                 "raw": '{"country": "Chad", "value": "=1+1"}'}]
    return uniq, rejected
