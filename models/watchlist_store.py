"""Reading and writing the crisis watch list and pair predictions (issue 11).

Kept light (no xgboost import) so the dashboard and the exports can read the watch list cheaply. The tables
are
`watchlist_score` and `pair_prediction` (warehouse/schema.py, migration 0007); docs/WATCHLIST.md describes
what each column means.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, func, select, update

from models.fields import RISE_EXPORT
from models.jsonsafe import json_safe as _clean
from warehouse.io import bulk_insert
from warehouse.schema import model_run, pair_prediction, watchlist_score

log = logging.getLogger(__name__)

WATCHLIST_COLUMNS = [
    "run_id",
    "region_id",
    "year",
    "score",
    "rise_factor",
    "lower",
    "upper",
    "rank",
    "percentile",
    "top_driver",
    "drivers",
    "displaced_abroad",
    "displaced_abroad_year",
    "idps",
    "idps_year",
    "hosted",
    "hosted_year",
    "people_exposed",
    "basis",
    "method",
]
PAIR_COLUMNS = [
    "run_id",
    "detecting_iso3",
    "citizenship_iso3",
    "year",
    "expected_victims",
    "lower",
    "upper",
    "horizon",
    "last_listed_year",
    "last_listed_victims",
]
RISE_EXPORT_COLUMNS = RISE_EXPORT  # models.fields: the `--target rise` export's columns


def _default_run(engine: Engine, run_id: str | None) -> str | None:
    """The given run, else the deployed run, else the newest run that has watch-list rows."""
    if run_id is not None:
        return run_id
    with engine.connect() as conn:
        deployed = conn.execute(select(model_run.c.run_id).where(model_run.c.status == "deployed")).scalar()
        if deployed is not None:
            return deployed
        return conn.execute(
            select(watchlist_score.c.run_id)
            .join(model_run, model_run.c.run_id == watchlist_score.c.run_id)
            .order_by(model_run.c.created_at.desc())
            .limit(1)
        ).scalar()


def people_exposed_text(row: Any) -> str:
    """Absolute numbers with their year, in words a donor reads at a glance."""
    parts = []
    for value, year, what in (
        (row.get("displaced_abroad"), row.get("displaced_abroad_year"), "refugees and asylum-seekers abroad"),
        (row.get("idps"), row.get("idps_year"), "IDPs"),
        (row.get("hosted"), row.get("hosted_year"), "refugees and asylum-seekers hosted"),
    ):
        if value is None or pd.isna(value) or year is None or pd.isna(year):
            continue
        parts.append(f"{_people(float(value))} {what} ({int(year)})")
    return "; ".join(parts) if parts else "no displacement figures"


def _people(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f} million"
    return f"{value:,.0f}"


def read_watchlist(
    engine: Engine,
    run_id: str | None = None,
    year: int | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    region_id: str | None = None,
) -> pd.DataFrame:
    """Watch-list rows of one run (default: the deployed run), sorted by year and rank."""
    run = _default_run(engine, run_id)
    if run is None:
        return pd.DataFrame(columns=WATCHLIST_COLUMNS)
    t = watchlist_score
    stmt = select(t).where(t.c.run_id == run)
    if year is not None:
        stmt = stmt.where(t.c.year == int(year))
    if year_from is not None:
        stmt = stmt.where(t.c.year >= int(year_from))
    if year_to is not None:
        stmt = stmt.where(t.c.year <= int(year_to))
    if region_id is not None:
        stmt = stmt.where(t.c.region_id == region_id)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt.order_by(t.c.year, t.c.rank)).mappings()]
    if not rows:
        return pd.DataFrame(columns=WATCHLIST_COLUMNS)
    for r in rows:
        r["drivers"] = r.pop("drivers_json") or []
        r["people_exposed"] = people_exposed_text(r)
    return pd.DataFrame(rows)[WATCHLIST_COLUMNS]


def latest_watchlist_year(engine: Engine, run_id: str | None = None) -> int | None:
    """The newest year the run scored (the headline year of the map)."""
    run = _default_run(engine, run_id)
    if run is None:
        return None
    with engine.connect() as conn:
        value = conn.execute(
            select(func.max(watchlist_score.c.year)).where(watchlist_score.c.run_id == run)
        ).scalar()
    return None if value is None else int(value)


def read_watchlist_skill(engine: Engine, run_id: str | None = None) -> dict[str, Any] | None:
    """The measured skill, protocol, external validity and pair-model tables stored with the run."""
    run = _default_run(engine, run_id)
    if run is None:
        return None
    with engine.connect() as conn:
        meta = conn.execute(select(model_run.c.metadata_json).where(model_run.c.run_id == run)).scalar()
    if not meta:
        return None
    return meta.get("watchlist")


def read_pair_predictions(
    engine: Engine,
    run_id: str | None = None,
    citizenship_iso3: str | None = None,
    detecting_iso3: str | None = None,
    year: int | None = None,
) -> pd.DataFrame:
    """Stored pair predictions: where a population's victims are expected to be detected."""
    run = _default_run(engine, run_id)
    if run is None:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    t = pair_prediction
    stmt = select(*[t.c[c] for c in PAIR_COLUMNS]).where(t.c.run_id == run)
    if citizenship_iso3 is not None:
        stmt = stmt.where(t.c.citizenship_iso3 == citizenship_iso3)
    if detecting_iso3 is not None:
        stmt = stmt.where(t.c.detecting_iso3 == detecting_iso3)
    if year is not None:
        stmt = stmt.where(t.c.year == int(year))
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(t.c.year, t.c.expected_victims.desc())).all()
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def rise_export_frame(
    engine: Engine, year_from: int, year_to: int, run_id: str | None = None
) -> pd.DataFrame:
    """Rows of `crisisrisk export predictions --target rise`: one per country and score year."""
    frame = read_watchlist(engine, run_id=run_id, year_from=year_from, year_to=year_to)
    if frame.empty:
        return pd.DataFrame(columns=RISE_EXPORT_COLUMNS)
    frame = frame.rename(columns={"region_id": "iso3"})
    for col in ("rise_factor", "lower", "upper"):
        frame[col] = frame[col].round(4)
    return frame[RISE_EXPORT_COLUMNS].reset_index(drop=True)


def write_watchlist(
    engine: Engine,
    run_id: str,
    scores: pd.DataFrame,
    pairs: pd.DataFrame | None,
    watchlist_meta: dict[str, Any],
) -> None:
    """Replace the run's watch-list rows and pair predictions and store its skill metadata, in one
    transaction."""
    score_rows = [
        {
            "run_id": run_id,
            "region_id": r["region_id"],
            "year": int(r["year"]),
            "score": float(r["score"]),
            "rise_factor": float(r["rise_factor"]),
            "lower": float(r["lower"]),
            "upper": float(r["upper"]),
            "rank": int(r["rank"]),
            "percentile": float(r["percentile"]),
            "top_driver": r.get("top_driver"),
            "drivers_json": _clean(r.get("drivers") or []),
            **{c: _opt_float(r.get(c)) for c in ("displaced_abroad", "idps", "hosted")},
            **{c: _opt_int(r.get(c)) for c in ("displaced_abroad_year", "idps_year", "hosted_year")},
            "basis": str(r["basis"])[:300],
            "method": str(r["method"])[:40],
        }
        for r in scores.to_dict("records")
    ]
    pair_rows = (
        []
        if pairs is None or pairs.empty
        else [
            {
                "run_id": run_id,
                "detecting_iso3": r["detecting_iso3"],
                "citizenship_iso3": r["citizenship_iso3"],
                "year": int(r["year"]),
                "expected_victims": float(r["expected_victims"]),
                "lower": float(r["lower"]),
                "upper": float(r["upper"]),
                "horizon": int(r["horizon"]),
                "last_listed_year": _opt_int(r.get("last_listed_year")),
                "last_listed_victims": _opt_float(r.get("last_listed_victims")),
            }
            for r in pairs.to_dict("records")
        ]
    )
    with engine.begin() as conn:
        meta = conn.execute(select(model_run.c.metadata_json).where(model_run.c.run_id == run_id)).scalar()
        if meta is None:
            raise ValueError(f"unknown run '{run_id}'")
        conn.execute(delete(watchlist_score).where(watchlist_score.c.run_id == run_id))
        conn.execute(delete(pair_prediction).where(pair_prediction.c.run_id == run_id))
        bulk_insert(conn, watchlist_score, score_rows)
        bulk_insert(conn, pair_prediction, pair_rows)
        meta = dict(meta)
        meta["watchlist"] = _clean(watchlist_meta)
        conn.execute(update(model_run).where(model_run.c.run_id == run_id).values(metadata_json=meta))
    log.info("run %s: %d watch-list rows, %d pair predictions", run_id, len(score_rows), len(pair_rows))


def _opt_float(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _opt_int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)
