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
from sqlalchemy import Engine, delete, select

from etl.sources import all_sources
from warehouse.config import PROJECT_ROOT
from warehouse.schema import (
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
    frame["rank"] = (
        frame.groupby("year")["estimate_per_100k"].rank(ascending=False, method="first").astype(int)
    )
    frame["risk_band"] = frame["risk_score"].map(band)
    return frame


def build_synthetic_warehouse(engine: Engine, raw_dir: Path = RAW_DIR) -> Engine:
    """Load real regions, then add synthetic model outputs and observations (see the module docstring)."""
    from etl.loader import load_source
    from etl.sources import get_source
    from warehouse.db import migrate

    migrate(engine)
    result = load_source(engine, get_source("natural_earth"), raw_dir)
    assert result.status in ("loaded", "unchanged"), result.error
    rng = np.random.default_rng(7)
    with engine.connect() as conn:
        regions = pd.DataFrame(
            conn.execute(
                select(
                    region.c.region_id, region.c.level, region.c.parent_id, region.c.geometry_wkb.is_not(None)
                )
            ).all(),
            columns=["region_id", "level", "parent_id", "has_geom"],
        )
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
    pred0["label_per_100k"] = [
        e * rng.uniform(0.6, 1.4) if rng.random() < 0.5 else None for e in pred0["estimate_per_100k"]
    ]
    pred0["level"], pred0["method"], pred0["has_subnational_data"] = 0, "model", None
    # issue 10 staleness: a labelled year is 'checked'; otherwise a nowcast from a label two years before
    pred0["basis"] = np.where(pred0["label_per_100k"].notna(), "checked", "nowcast")
    pred0["label_year"] = np.where(pred0["label_per_100k"].notna(), pred0["year"], pred0["year"] - 2)
    pred0["horizon"] = pred0["year"] - pred0["label_year"]
    pred0["conflict_year"], pred0["displacement_year"] = pred0["year"] - 1, pred0["year"] - 1

    adm = regions[(regions["level"] == 1) & regions["parent_id"].isin(ADMIN1_COUNTRIES)]
    rows = []
    for rid, parent in zip(adm["region_id"], adm["parent_id"], strict=True):
        weight = rng.lognormal(0, 0.6)
        has_sub = bool(rng.random() < 0.7)
        for y in YEARS:
            cest = pred0[(pred0["region_id"] == parent) & (pred0["year"] == y)]["estimate_per_100k"].iloc[0]
            est = float(cest * (weight if has_sub else 1.0))
            rows.append(
                {"region_id": rid, "year": y, "estimate_per_100k": est, "has_subnational_data": has_sub}
            )
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
            expl.append(
                {
                    "region_id": r.region_id,
                    "year": r.year,
                    "feature": f,
                    "family": FEATURES[f],
                    "value": float(v),
                    "feature_value": None if rng.random() < 0.1 else float(rng.gamma(2, 50)),
                }
            )
        expl.append(
            {
                "region_id": r.region_id,
                "year": r.year,
                "feature": "__bias__",
                "family": "bias",
                "value": bias,
                "feature_value": None,
            }
        )

    models = [
        "xgboost",
        "xgboost_no_past_victims",
        "last_value",
        "mean_3y",
        "ridge",
        "conflict_displacement_only",
    ]
    per_origin = [
        {
            "origin": y - 1,
            "target_year": y,
            "model": m,
            "rmsle": float(0.5 + 0.1 * k + rng.uniform(0, 0.1)),
            "mae": float(1 + k * 0.2),
            "spearman": float(0.8 - 0.05 * k),
            "top20_recall": float(0.6 - 0.04 * k),
            "coverage80": float(rng.uniform(0.7, 0.9)),
            "width80": 1.2,
            "n": 90,
        }
        for y in YEARS
        for k, m in enumerate(models)
    ]
    pooled = [
        {
            "model": m,
            "rmsle": 0.55 + 0.1 * k,
            "mae": 1 + 0.2 * k,
            "spearman": 0.8 - 0.05 * k,
            "top20_recall": 0.6 - 0.04 * k,
            "coverage80": 0.79,
            "width80": 1.2,
            "n": 450,
        }
        for k, m in enumerate(models)
    ]
    metrics = {
        "backtest_per_origin": per_origin,
        "backtest_pooled": pooled,
        "calibration": [
            {"nominal": 0.5, "empirical": 0.47},
            {"nominal": 0.8, "empirical": 0.78},
            {"nominal": 0.9, "empirical": 0.86},
        ],
        "gate": {"passed": True, "model_rmsle": 0.55, "last_value_rmsle": 0.75},
    }
    fam_shap = {}
    for fam in FEATURES.values():
        fam_shap[fam] = fam_shap.get(fam, 0) + float(rng.uniform(0.05, 0.3))
    meta = {
        "run_id": RUN_ID,
        "created_at": "2026-01-01T00:00:00Z",
        "level": 0,
        "label": "log1p detected trafficking victims per 100,000 (UNODC GLOTIP)",
        "target_description": "SYNTHETIC TEST VALUES",
        "features": feats,
        "feature_families": FEATURES,
        "feature_sources": {f: [SOURCE] for f in feats},
        "training_window": [2005, 2015],
        "prediction_years": [YEARS[0], YEARS[-1]],
        "panel_sha256": "0" * 64,
        "versions": {},
        "hyperparameters": {},
        "variant": "with_past_victims",
        "metrics": metrics,
        "global_shap": [{"family": k, "mean_abs_shap": v} for k, v in fam_shap.items()],
        "global_shap_features": [{"feature": f, "family": FEATURES[f], "mean_abs_shap": 0.1} for f in feats],
        "model_card_md": (
            "# Model card (SYNTHETIC TEST RUN)\n\nThese are **synthetic test values** made by the "
            "dashboard test fixture. They describe nothing.\n\n| item | value |\n|---|---|\n"
            "| label | detected victims per 100k |\n"
        ),
    }
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    obs_rows, rejected = _observations(countries, rng)
    with engine.begin() as conn:
        conn.execute(
            model_run.insert(),
            [
                {
                    "run_id": OLD_RUN_ID,
                    "created_at": now - dt.timedelta(days=30),
                    "status": "archived",
                    "level": 0,
                    "artefact_sha256": "a" * 64,
                    "panel_sha256": "0" * 64,
                    "metadata_json": {**meta, "run_id": OLD_RUN_ID},
                    "metrics_json": metrics,
                    "deployed_at": None,
                },
                {
                    "run_id": RUN_ID,
                    "created_at": now,
                    "status": "deployed",
                    "level": 0,
                    "artefact_sha256": "b" * 64,
                    "panel_sha256": "0" * 64,
                    "metadata_json": meta,
                    "metrics_json": metrics,
                    "deployed_at": now,
                },
            ],
        )
        cols = [
            "region_id",
            "year",
            "level",
            "estimate_per_100k",
            "lower_per_100k",
            "upper_per_100k",
            "risk_score",
            "risk_band",
            "rank",
            "label_per_100k",
            "method",
            "has_subnational_data",
            "basis",
            "label_year",
            "horizon",
            "conflict_year",
            "displacement_year",
        ]
        for frame in (pred0, pred1):
            frame = frame.reindex(columns=cols)
            recs = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")
            conn.execute(prediction.insert(), [{**r, "run_id": RUN_ID} for r in recs])
        conn.execute(explanation.insert(), [{**e, "run_id": RUN_ID} for e in expl])
        conn.execute(
            indicator.insert(),
            [
                {
                    "code": c,
                    "family": f,
                    "unit": u,
                    "direction": "higher_is_riskier",
                    "description": f"{c} (synthetic test values)",
                    "source": SOURCE,
                }
                for c, f, u in INDICATORS
                if c != "trafficking.victims_detected" or not _has_indicator(conn, c)
            ],
        )
        load_id = conn.execute(
            source_load.insert().values(
                source=SOURCE,
                file="synthetic/fixture.csv",
                sha256="0" * 64,
                rows_read=len(obs_rows) + len(rejected),
                rows_loaded=len(obs_rows),
                rows_rejected=len(rejected),
                observations=len(obs_rows),
                started_at=now,
                finished_at=now,
                status="loaded",
                software_version="test",
            )
        ).inserted_primary_key[0]
        conn.execute(observation.insert(), [{**o, "source": SOURCE, "load_id": load_id} for o in obs_rows])
        conn.execute(rejected_row.insert(), [{**r, "load_id": load_id} for r in rejected])
    add_watchlist(engine, countries, rng)
    return engine


# --- crisis watch list (issue 11): SYNTHETIC scores whose values the dashboard tests explain
WATCH_YEARS = list(range(2017, 2021))  # score years: inputs dated <= year, looks at year+1..year+3
# Fixed top of the 2020 list: (score on the log scale, top driver). rise factor = exp(score), 80% interval
# exp(score -/+ 0.25). Every other country scores rng.normal(0, 0.1) (always below these three).
WATCH_TOP = {
    "SYR": (0.60, "refugees and asylum-seekers abroad x2.4 in two years (2018-2020)"),
    "SDN": (0.45, "conflict IDPs x2.0 in two years (2018-2020)"),
    "NGA": (0.30, "12.0 conflict deaths per 100,000 (2020)"),
}
WATCH_PEOPLE = {
    "SYR": (6_700_000, 2020, 6_100_000, 2019, 900_000, 2020),
    "SDN": (800_000, 2020, 2_500_000, 2020, 1_100_000, 2020),
}
WATCH_BASIS = "refugees/asylum-seekers 2020; IDPs 2019; conflict deaths 2020; disasters 2020; population 2020"
WATCH_SKILL_SENTENCE = (
    "Historically (2009-2015), the 15 populations at the top of this list saw on average +13% "
    "more of their nationals detected as trafficking victims abroad over the next three years "
    "than the average population (95% interval +2% to +25%; mean rank correlation +0.10). "
    "Skill: weak. (SYNTHETIC TEST VALUES)"
)
# Pair model, citizenship SYR in 2021 (horizon 1): expected victims by detecting country, largest first.
WATCH_PAIRS = {
    "SYR": {"DEU": 40.0, "TUR": 25.0, "LBN": 12.0, "NLD": 6.0},
    "SDN": {"EGY": 30.0, "LBY": 9.0},
    "NGA": {"ITA": 55.0, "ESP": 20.0, "GBR": 8.0},
}
# Detection at home (observations): TIP tier and persons prosecuted. SYR: Tier 3 -> detection gap "yes";
# NGA: Tier 2 and 200 prosecutions -> "no"; SDN: nothing -> "unknown". LIE: population 39,000 -> small.
WATCH_DETECTION = [
    ("SYR", "detection.tip_tier", 2020, 3.0),
    ("NGA", "detection.tip_tier", 2020, 2.0),
    ("NGA", "detection.persons_prosecuted", 2019, 200.0),
    ("LIE", "structural.population", 2020, 39_000.0),
    ("SYR", "structural.population", 2020, 21_000_000.0),
    ("NGA", "structural.population", 2020, 208_000_000.0),
]
# Located admin-1 drivers in Nigeria for the admin-1 view: (unit index in sorted NGA ids, code, year, value).
WATCH_ADMIN1 = [
    (0, "conflict.ged_deaths_best", 2019, 300.0),
    (1, "conflict.ged_deaths_best", 2020, 100.0),
    (1, "displacement.dtm_idps", 2020, 100.0),
    (2, "displacement.dtm_idps", 2018, 500.0),
    (3, "conflict.ged_deaths_best", 2015, 999.0),
]  # 2015: outside the 2017-2020 window of 2020


def watch_scores(countries: list[str], rng) -> pd.DataFrame:
    """Watch-list rows for WATCH_YEARS (see WATCH_TOP for the values the tests check)."""
    rows = []
    for y in WATCH_YEARS:
        for c in countries:
            if c in WATCH_TOP and y == WATCH_YEARS[-1]:
                score, top = WATCH_TOP[c]
            else:
                score, top = float(rng.normal(0, 0.1)), "no rising crisis driver"
            disp = WATCH_PEOPLE.get(c)
            drivers = [
                {
                    "driver": "displaced_growth_2y",
                    "label": "refugees and asylum-seekers abroad, change over two years",
                    "value": 0.9,
                    "contribution": round(0.6 * score, 4),
                },
                {
                    "driver": "conflict_intensity",
                    "label": "deaths in organised violence per 100,000",
                    "value": 2.5,
                    "contribution": round(0.3 * score, 4),
                },
                {
                    "driver": "idp_growth_2y",
                    "label": "conflict IDPs, change over two years",
                    "value": 0.1,
                    "contribution": round(-0.1 * score, 4),
                },
                {
                    "driver": "vulnerability",
                    "label": "poverty and weak rule of law (modifier)",
                    "value": None,
                    "contribution": round(0.2 * score, 4),
                },
            ]
            rows.append(
                {
                    "region_id": c,
                    "year": y,
                    "score": score,
                    "rise_factor": math.exp(score),
                    "lower": math.exp(score - 0.25),
                    "upper": math.exp(score + 0.25),
                    "top_driver": top,
                    "drivers": drivers,
                    "displaced_abroad": disp[0] if disp else None,
                    "displaced_abroad_year": disp[1] if disp else None,
                    "idps": disp[2] if disp else None,
                    "idps_year": disp[3] if disp else None,
                    "hosted": disp[4] if disp else None,
                    "hosted_year": disp[5] if disp else None,
                    "basis": WATCH_BASIS.replace("2020", str(y)).replace("2019", str(y - 1)),
                    "method": "composite",
                }
            )
    frame = pd.DataFrame(rows)
    frame["rank"] = frame.groupby("year")["score"].rank(ascending=False, method="min").astype(int)
    frame["percentile"] = frame.groupby("year")["score"].rank(pct=True, method="average") * 100
    return frame


def add_watchlist(engine: Engine, countries: list[str], rng) -> None:
    """Watch-list scores, skill, pair predictions and detection observations of the deployed synthetic run."""
    from models.watchlist_store import write_watchlist

    scores = watch_scores(countries, rng)
    pairs = pd.DataFrame(
        [
            {
                "detecting_iso3": d,
                "citizenship_iso3": o,
                "year": WATCH_YEARS[-1] + h,
                "expected_victims": v * (1 + 0.1 * (h - 1)),
                "lower": v * 0.5,
                "upper": v * 2.0 + h,
                "horizon": h,
                "last_listed_year": 2018,
                "last_listed_victims": v,
            }
            for o, by in WATCH_PAIRS.items()
            for d, v in by.items()
            for h in (1, 2, 3)
        ]
    )
    meta = {
        "headline": "composite",
        "skill": {
            "candidate": "composite",
            "top15_lift_log": 0.12,
            "top15_lift_interval": [0.02, 0.22],
            "top15_pct_more": 13.0,
            "mean_spearman": 0.10,
            "strength": "weak",
            "sentence": WATCH_SKILL_SENTENCE,
        },
        "event_study": [
            {"k": k, "effect": e, "se": 0.3}
            for k, e in ((-2, 0.0), (-1, 0.05), (0, 0.1), (1, 0.3), (2, 0.5), (3, 0.7))
        ],
    }
    write_watchlist(engine, RUN_ID, scores, pairs, meta)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        nga_units = sorted(
            r[0] for r in conn.execute(select(region.c.region_id).where(region.c.parent_id == "NGA"))
        )
        extra = [(c, code, y, v) for c, code, y, v in WATCH_DETECTION] + [
            (nga_units[i], code, y, v) for i, code, y, v in WATCH_ADMIN1
        ]
        codes = sorted({code for _c, code, _y, _v in extra})
        for c, code, _y, _v in extra:  # these series are replaced by the explained values above
            conn.execute(
                delete(observation).where(observation.c.region_id == c, observation.c.indicator == code)
            )
        real = {d.code: d for source in all_sources() for d in source.indicators}
        for code in codes:
            if not _has_indicator(conn, code):
                conn.execute(
                    indicator.insert().values(  # the real source's unit: what a page shows for it
                        code=code,
                        family=code.split(".")[0],
                        unit=real[code].unit,
                        direction="higher_is_riskier",
                        source=SOURCE,
                        description=f"{code} (synthetic test values)",
                    )
                )
        load_id = conn.execute(
            source_load.insert().values(
                source=SOURCE + "_watch",
                file="synthetic/watch.csv",
                sha256="1" * 64,
                rows_read=len(extra),
                rows_loaded=len(extra),
                rows_rejected=0,
                observations=len(extra),
                started_at=now,
                finished_at=now,
                status="loaded",
                software_version="test",
            )
        ).inserted_primary_key[0]
        conn.execute(
            observation.insert(),
            [
                {
                    "region_id": c,
                    "period_start": dt.date(y, 1, 1),
                    "period_type": "year",
                    "indicator": code,
                    "value": v,
                    "censored": False,
                    "source": SOURCE,
                    "load_id": load_id,
                }
                for c, code, y, v in extra
            ],
        )


def _has_indicator(conn, code: str) -> bool:
    return conn.execute(select(indicator.c.code).where(indicator.c.code == code)).first() is not None


def _observations(countries: list[str], rng) -> tuple[list[dict], list[dict]]:
    out = []
    for c in countries[::3] + ["NGA", "UKR", "COL", "SSD"]:
        for y in range(2012, 2021):
            for code, _fam, _unit in INDICATORS:
                if rng.random() < 0.2:
                    continue
                value = (
                    float(rng.gamma(2, 20_000))
                    if not code.startswith("response")
                    else float(rng.gamma(2, 1e8))
                )
                out.append(
                    {
                        "region_id": c,
                        "period_start": dt.date(y, 1, 1),
                        "period_type": "year",
                        "indicator": code,
                        "value": round(value),
                        "censored": False,
                    }
                )
    seen, uniq = set(), []
    for o in out:
        key = (o["region_id"], o["period_start"], o["indicator"])
        if key not in seen:
            seen.add(key)
            uniq.append(o)
    rejected = [
        {
            "row_number": 2,
            "reason_code": "unknown_country",
            "reason": "country 'Atlantis' is not known",
            "raw": '{"country": "Atlantis", "value": "12"}',
        },
        {
            "row_number": 5,
            "reason_code": "bad_value",
            "reason": "value '=1+1' is not a number",
            "raw": '{"country": "Chad", "value": "=1+1"}',
        },
    ]
    return uniq, rejected


# --- alerts on the map (issue 14): hand-made review outcomes whose values the map tests check
# (region, starter rule, data year, status). Viewers see only confirmed alerts, so the map draws SYR (two
# alerts,
# 2020 listed before 2019) and SDN; the pending NGA alert must not appear anywhere on the map page.
MAP_ALERTS = [
    ("SYR", "outflow-surge", 2020, "confirmed"),
    ("SYR", "displacement-3y-high", 2019, "confirmed"),
    ("SDN", "conflict-deaths-3y-high", 2020, "confirmed"),
    ("NGA", "watchlist-enters-top", 2020, "pending"),
]


def add_map_alerts(engine: Engine) -> tuple[list[int], bool]:
    """Insert MAP_ALERTS (seeding the starter rules if the table is empty); returns (alert ids, rules
    seeded)."""
    from models.alerts import seed_starter_rules
    from warehouse.schema import alert, alert_rule

    seeded = seed_starter_rules(engine) > 0
    now = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    ids_ = []
    with engine.begin() as conn:
        rule_ids = dict(conn.execute(select(alert_rule.c.name, alert_rule.c.rule_id)).all())
        for region_id, rule, year, status in MAP_ALERTS:
            rid = rule_ids[rule]
            ids_.append(
                conn.execute(
                    alert.insert().values(
                        rule_id=rid,
                        region_id=region_id,
                        period=year,
                        dedup_key=f"test-map:{rid}:{region_id}:{year}",
                        status=status,
                        message=f"SYNTHETIC TEST ALERT {rule} {region_id} {year}",
                        created_at=now,
                        reviewed_by="synthetic" if status == "confirmed" else None,
                        reviewed_at=now if status == "confirmed" else None,
                    )
                ).inserted_primary_key[0]
            )
    return ids_, seeded


def remove_map_alerts(engine: Engine, alert_ids: list[int], rules_seeded: bool) -> None:
    """Undo add_map_alerts, so the shared warehouse has no alerts for the other tests."""
    from warehouse.schema import alert, alert_rule

    with engine.begin() as conn:
        conn.execute(delete(alert).where(alert.c.alert_id.in_(alert_ids)))
        if rules_seeded:
            conn.execute(delete(alert_rule))
