"""Storing and reading the crisis-phase curves and their events (tables phase_result, phase_curve,
crisis_event).

Light (no xgboost) so the API, the pages and the export read the stored curves without recomputing them. A
computation is one transaction: a new phase_result with its curves and events; readers take the newest.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, func, select

from models.jsonsafe import finite_float as _num
from models.jsonsafe import json_safe as _clean
from warehouse.io import bulk_insert, inserted_id
from warehouse.schema import crisis_event, phase_curve, phase_result, region

log = logging.getLogger(__name__)

API_COLUMNS = ["event_type", "outcome", "k", "effect", "lower", "upper", "n"]
EXPORT_COLUMNS = [*API_COLUMNS, "n_countries", "factor", "result_id", "computed_at"]
KEEP_RESULTS = 5  # older computations are removed (they are recomputed from the warehouse at will)


def write_phases(engine: Engine, curves: pd.DataFrame, meta: dict[str, Any], events: pd.DataFrame) -> int:
    """Store one computation (curves, meta, events) in one transaction; returns its result_id."""
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        known = {r for (r,) in conn.execute(select(region.c.region_id).where(region.c.level == 0))}
        result_id = inserted_id(
            conn.execute(
                phase_result.insert().values(
                    computed_at=now,
                    watchlist_run_id=meta.get("watchlist_run_id"),
                    meta_json=_clean(meta),
                )
            )
        )
        rows = [
            {
                "result_id": result_id,
                "event_type": r["event_type"],
                "outcome": r["outcome"],
                "k": int(r["k"]),
                "effect": _num(r["effect"]),
                "lower": _num(r["lower"]),
                "upper": _num(r["upper"]),
                "n": int(r["n"]),
                "n_countries": int(r["n_countries"]),
            }
            for r in curves.to_dict("records")
        ]
        if rows:
            bulk_insert(conn, phase_curve, rows)
        ev = events[events["region_id"].isin(known)] if not events.empty else events
        if len(ev) < len(events):
            log.warning(
                "phases: %d events of regions outside the region table not stored", len(events) - len(ev)
            )
        ev_rows = [
            {
                "result_id": result_id,
                "region_id": r["region_id"],
                "year": int(r["year"]),
                "event_type": r["event_type"],
                "value": _num(r["value"]),
                "previous": _num(r["previous"]),
                "detail": r["detail"],
                "onset": bool(r["onset"]),
            }
            for r in ev.to_dict("records")
        ]
        if ev_rows:
            bulk_insert(conn, crisis_event, ev_rows)
        old = [
            r
            for (r,) in conn.execute(
                select(phase_result.c.result_id)
                .order_by(phase_result.c.result_id.desc())
                .offset(KEEP_RESULTS)
            )
        ]
        if old:
            conn.execute(delete(phase_curve).where(phase_curve.c.result_id.in_(old)))
            conn.execute(delete(crisis_event).where(crisis_event.c.result_id.in_(old)))
            conn.execute(delete(phase_result).where(phase_result.c.result_id.in_(old)))
    log.info("phases: stored result %s (%d curve points, %d events)", result_id, len(rows), len(ev_rows))
    return int(result_id)


def compute_and_store(engine: Engine, run_id: str | None = None) -> int:
    """Compute every curve from the warehouse and store it (used after loads and promotes, and by the CLI)."""
    from models import phases

    curves, meta, events = phases.phase_curves_from_warehouse(engine, run_id=run_id)
    return write_phases(engine, curves, meta, events)


def latest_result(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(select(phase_result).order_by(phase_result.c.result_id.desc()).limit(1))
            .mappings()
            .first()
        )
    return dict(row) if row else None


def read_curves(
    engine: Engine, event_type: str | None = None, outcome: str | None = None, result_id: int | None = None
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """Curve points of the newest (or given) computation, with its result row; empty frame and None if
    none."""
    result = latest_result(engine) if result_id is None else _result(engine, result_id)
    if result is None:
        return pd.DataFrame(columns=[*API_COLUMNS, "n_countries"]), None
    stmt = select(phase_curve).where(phase_curve.c.result_id == result["result_id"])
    if event_type:
        stmt = stmt.where(phase_curve.c.event_type == event_type)
    if outcome:
        stmt = stmt.where(phase_curve.c.outcome == outcome)
    with engine.connect() as conn:
        frame = pd.DataFrame(
            conn.execute(stmt.order_by(phase_curve.c.event_type, phase_curve.c.outcome, phase_curve.c.k))
            .mappings()
            .all()
        )
    if frame.empty:
        frame = pd.DataFrame(columns=["result_id", *API_COLUMNS, "n_countries"])
    return frame, result


def _result(engine: Engine, result_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(select(phase_result).where(phase_result.c.result_id == result_id)).mappings().first()
        )
    return dict(row) if row else None


def read_events(engine: Engine, region_id: str | None = None, onsets_only: bool = False) -> pd.DataFrame:
    """Events of the newest computation (region_id, year, event_type, value, previous, detail, onset)."""
    cols = ["region_id", "year", "event_type", "value", "previous", "detail", "onset"]
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(phase_result.c.result_id))).scalar()
        if newest is None:
            return pd.DataFrame(columns=cols)
        stmt = select(*[crisis_event.c[c] for c in cols]).where(crisis_event.c.result_id == newest)
        if region_id:
            stmt = stmt.where(crisis_event.c.region_id == region_id)
        if onsets_only:
            stmt = stmt.where(crisis_event.c.onset.is_(True))
        frame = pd.DataFrame(
            conn.execute(stmt.order_by(crisis_event.c.region_id, crisis_event.c.year)).all(), columns=cols
        )
    return frame


def export_frame(engine: Engine) -> pd.DataFrame:
    """The newest curves as one row per point, with exp(effect) as a factor (the CSV export)."""
    frame, result = read_curves(engine)
    if result is None:
        raise LookupError(
            "no phase curves computed yet: run `crisisrisk phases compute` (or load/promote data)"
        )
    out = frame.copy()
    out["factor"] = [None if pd.isna(e) else round(math.exp(e), 4) for e in out["effect"]]
    out["result_id"] = result["result_id"]
    out["computed_at"] = pd.Timestamp(result["computed_at"]).isoformat()
    return out[EXPORT_COLUMNS]


def country_phase_sentences(engine: Engine, region_id: str, year: int) -> list[str]:
    """The phase of one country in plain words (for its region page), from the newest computation."""
    from models.phases import country_phases

    result = latest_result(engine)
    if result is None:
        return []
    events = read_events(engine, region_id=region_id)
    return country_phases(events, (result["meta_json"] or {}).get("summaries", {}), region_id, year)
