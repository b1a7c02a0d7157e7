"""CSV exports of predictions and explanations. Column names are a public contract: keep them."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from models.registry import deployed_run
from warehouse.schema import explanation, prediction, region

log = logging.getLogger(__name__)

# The contract of `export predictions --target detected` (issue 10): every one of these columns.
DETECTED_CONTRACT = ["iso3", "year", "estimate_per_100k", "lower_per_100k", "upper_per_100k", "risk_score",
                     "risk_band", "basis", "horizon", "run_id"]
# The first fields of /api/v1/predictions too (a dashboard test checks the prefix).
PREDICTION_COLUMNS = ["region_id", "iso3", "name", "level", "year", "estimate_per_100k", "lower_per_100k",
                      "upper_per_100k", "risk_score", "risk_band", "run_id"]
STALENESS_COLUMNS = ["basis", "horizon", "label_year", "conflict_year", "displacement_year", "small_population"]
DETECTED_EXPORT_COLUMNS = [*PREDICTION_COLUMNS, *STALENESS_COLUMNS]
PREDICTION_HXL = ["#loc+id", "#country+code", "#loc+name", "#loc+level", "#date+year",
                  "#indicator+trafficking_detected+per100k+estimate", "#indicator+trafficking_detected+per100k+lower",
                  "#indicator+trafficking_detected+per100k+upper", "#indicator+risk+score", "#indicator+risk+band",
                  "#meta+run", "#meta+basis", "#meta+horizon", "#date+year+label", "#date+year+conflict",
                  "#date+year+displacement", "#meta+small_population"]
EXPLANATION_COLUMNS = ["region_id", "iso3", "name", "year", "feature", "family", "shap_value", "feature_value", "run_id"]
EXPLANATION_HXL = ["#loc+id", "#country+code", "#loc+name", "#date+year", "#indicator+feature", "#indicator+family",
                   "#indicator+shap", "#indicator+feature+value", "#meta+run"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    """Bad export request (unknown level, empty range, no deployed run)."""


def neutralise(value: object) -> object:
    """Stop spreadsheet formula injection: text cells starting with = + - @ get a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def predictions_frame(engine: Engine, level: int, year_from: int, year_to: int, run_id: str | None = None,
                      region_id: str | None = None) -> pd.DataFrame:
    """Detected-victims predictions of a run (default: deployed) with their basis, horizon and input years."""
    run_id = run_id or _deployed_id(engine)
    p = prediction.c
    stmt = (select(p.region_id, region.c.iso3, region.c.name, p.level, p.year, p.estimate_per_100k,
                   p.lower_per_100k, p.upper_per_100k, p.risk_score, p.risk_band, p.run_id,
                   *[p[c] for c in STALENESS_COLUMNS])
            .join(region, region.c.region_id == p.region_id)
            .where(p.run_id == run_id, p.level == level, p.year >= year_from, p.year <= year_to)
            .order_by(p.year, p.region_id))
    if region_id:
        stmt = stmt.where(p.region_id == region_id)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=DETECTED_EXPORT_COLUMNS)
    for col in ("horizon", "label_year", "conflict_year", "displacement_year"):
        frame[col] = frame[col].astype("Int64")
    return frame.round({"estimate_per_100k": 4, "lower_per_100k": 4, "upper_per_100k": 4, "risk_score": 1})


# target -> (frame builder, HXL row). The watch list adds "rise" here.
EXPORTERS: dict[str, tuple[Callable[..., pd.DataFrame], list[str]]] = {
    "detected": (predictions_frame, PREDICTION_HXL),
}


def explanations_frame(engine: Engine, year_from: int, year_to: int, run_id: str | None = None,
                       region_id: str | None = None) -> pd.DataFrame:
    run_id = run_id or _deployed_id(engine)
    stmt = (select(explanation.c.region_id, region.c.iso3, region.c.name, explanation.c.year, explanation.c.feature,
                   explanation.c.family, explanation.c.value, explanation.c.feature_value, explanation.c.run_id)
            .join(region, region.c.region_id == explanation.c.region_id)
            .where(explanation.c.run_id == run_id, explanation.c.year >= year_from, explanation.c.year <= year_to)
            .order_by(explanation.c.year, explanation.c.region_id, explanation.c.feature))
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
