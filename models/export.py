"""CSV exports of predictions and explanations. Column names are a public contract: keep them."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from models import fields
from models.registry import deployed_run
from warehouse.csvsafe import neutralise
from warehouse.schema import explanation, prediction, region

log = logging.getLogger(__name__)

# Column lists and HXL tags come from the one field table (models.fields); these names are kept for callers.
DETECTED_CONTRACT = fields.DETECTED_CONTRACT
PREDICTION_COLUMNS = fields.DETECTED_CORE  # the first fields of /api/v1/predictions too
STALENESS_COLUMNS = fields.DETECTED_STALENESS
DETECTED_EXPORT_COLUMNS = fields.DETECTED_EXPORT
EXPLANATION_COLUMNS = fields.EXPLANATION_EXPORT
REGION_COLUMNS = ("iso3", "name")  # read from the region table; the others are prediction columns
EXPLANATION_HXL = fields.hxl_row(fields.EXPLANATION, EXPLANATION_COLUMNS)


def prediction_hxl(level: int) -> list[str]:
    """The HXL row of the detected export at one level (a region is a country at 0, an admin-1 unit at 1)."""
    return fields.hxl_row(fields.DETECTED, DETECTED_EXPORT_COLUMNS, level)


class ExportError(ValueError):
    """Bad export request (unknown level, empty range, no deployed run)."""


def predictions_frame(
    engine: Engine,
    level: int,
    year_from: int,
    year_to: int,
    run_id: str | None = None,
    region_id: str | None = None,
) -> pd.DataFrame:
    """Detected-victims predictions of a run (default: deployed) with their basis, horizon and input years."""
    run_id = run_id or _deployed_id(engine)
    p = prediction.c
    stmt = (
        select(*[region.c[c] if c in REGION_COLUMNS else p[c] for c in DETECTED_EXPORT_COLUMNS])
        .join(region, region.c.region_id == p.region_id)
        .where(p.run_id == run_id, p.level == level, p.year >= year_from, p.year <= year_to)
        .order_by(p.year, p.region_id)
    )
    if region_id:
        stmt = stmt.where(p.region_id == region_id)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=DETECTED_EXPORT_COLUMNS)
    for col in ("horizon", "label_year", "conflict_year", "displacement_year"):  # NULL-able integers
        frame[col] = frame[col].astype("Int64")
    return frame.round(fields.decimals(fields.DETECTED, DETECTED_EXPORT_COLUMNS))


# target -> (frame builder, HXL row of a level). The watch list's "rise" goes through models.watchlist_cli.
EXPORTERS: dict[str, tuple[Callable[..., pd.DataFrame], Callable[[int], list[str]]]] = {
    "detected": (predictions_frame, prediction_hxl),
}


def explanations_frame(
    engine: Engine, year_from: int, year_to: int, run_id: str | None = None, region_id: str | None = None
) -> pd.DataFrame:
    run_id = run_id or _deployed_id(engine)
    e = explanation.c
    stmt = (
        select(
            e.region_id,
            region.c.iso3,
            region.c.name,
            e.year,
            e.feature,
            e.family,
            e.value,
            e.feature_value,
            e.run_id,
        )
        .join(region, region.c.region_id == e.region_id)
        .where(e.run_id == run_id, e.year >= year_from, e.year <= year_to)
        .order_by(explanation.c.year, explanation.c.region_id, explanation.c.feature)
    )
    if region_id:
        stmt = stmt.where(explanation.c.region_id == region_id)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(stmt).all(), columns=EXPLANATION_COLUMNS)


def write_csv(frame: pd.DataFrame, out: Path, hxl: list[str] | None = None) -> int:
    """Write with an optional HXL hashtag row; every text cell is neutralised. Returns data rows written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(frame.columns)
        if hxl:
            writer.writerow(hxl)
        for row in frame.itertuples(index=False):
            writer.writerow([neutralise(v) for v in row])
    return len(frame)


def _deployed_id(engine: Engine) -> str:
    run = deployed_run(engine)
    if run is None:
        raise ExportError("no model is deployed; run `crisisrisk model train` first")
    return run["run_id"]
