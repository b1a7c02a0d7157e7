"""IDMC GIDD country-year displacement, 2008-2022 (2023 release): conflict and disaster, stocks and flows.

One row = one country (``ISO3``) and ``Year``. Each figure is published twice: rounded (as in IDMC's GRID
report) and unrounded (``... (Raw)``). The reader takes the unrounded value when the ``(Raw)`` column
exists and the cell is filled, else the rounded one; ``(Raw)`` columns are optional so that a release
without them still loads. Blank cells mean "not published" (no observation, not zero); a row with every
figure blank is ``missing_value``.

- ``displacement.conflict_idps_stock`` / ``displacement.disaster_idps_stock``: people living in
  displacement at 31 December of ``Year`` (stocks);
- ``displacement.conflict_new_displacements`` / ``displacement.disaster_new_displacements``: internal
  displacements (movements) during ``Year`` (flows).

All are stored with ``period_start`` = 1 January of ``Year``, ``period_type`` = ``year``. The Abyei Area
(``AB9``, disputed by Sudan and South Sudan) has no warehouse region and is rejected as ``disputed_area``.
IDMC revises past years between releases; this file is the 2023 release.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from etl.contract import (
    FILE,
    REJECT,
    parse_number,
    parse_year,
    read_text_table,
    reject,
    reject_duplicates,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import IndicatorDef, Source, long_observations, year_start

log = logging.getLogger(__name__)

# rounded column -> indicator; the unrounded twin is '<column> (Raw)'
FIGURES = {
    "Conflict Stock Displacement": "displacement.conflict_idps_stock",
    "Conflict Internal Displacements": "displacement.conflict_new_displacements",
    "Disaster Internal Displacements": "displacement.disaster_new_displacements",
    "Disaster Stock Displacement": "displacement.disaster_idps_stock",
}
COLUMNS = ["ISO3", "Name", "Year", *FIGURES]

# Areas IDMC reports separately that have no region of their own (source-local: not a country alias).
DISPUTED_AREAS = {"AB9": "Abyei Area (AB9) is disputed by Sudan and South Sudan and has no warehouse region"}

INDICATORS = (
    IndicatorDef(
        "displacement.conflict_idps_stock",
        "displacement",
        "persons",
        "higher_is_riskier",
        "People internally displaced by conflict and violence at year end (IDMC GIDD, unrounded)",
    ),
    IndicatorDef(
        "displacement.conflict_new_displacements",
        "displacement",
        "displacements",
        "higher_is_riskier",
        "Internal displacements (movements) caused by conflict and violence during the year (IDMC GIDD)",
    ),
    IndicatorDef(
        "displacement.disaster_new_displacements",
        "displacement",
        "displacements",
        "higher_is_riskier",
        "Internal displacements (movements) caused by disasters during the year (IDMC GIDD)",
    ),
    IndicatorDef(
        "displacement.disaster_idps_stock",
        "displacement",
        "persons",
        "higher_is_riskier",
        "People internally displaced by disasters at year end (IDMC GIDD; published from 2019)",
    ),
)


def reject_disputed(frame: pd.DataFrame, column: str) -> None:
    """IDMC's pseudo-ISO3 codes for disputed areas cannot become a country: say so precisely."""
    codes = frame[column].astype(str).str.strip().str.upper()
    for code, text in DISPUTED_AREAS.items():
        reject(frame, codes == code, "disputed_area", f"column '{column}': {text}")


@register
class IdmcCountryYear(Source):
    name = "idmc_country_year"
    title = "IDMC Global Internal Displacement Database: displacement by country and year"
    publisher = "Internal Displacement Monitoring Centre (IDMC)"
    licence = "CC BY-NC 4.0 (non-commercial)"
    coverage = "207 countries/areas, 2008-2022 (conflict from 2009, disaster stocks from 2019); 2023 release"
    folder = "idmc_gidd"
    file_patterns = ("idmc_displacement_country_year_*.csv", "idmc_displacement_country_year_*.csv.gz")
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["ISO3"] = frame["ISO3"].astype(str).str.strip()
        frame["Name"] = frame["Name"].astype(str).str.strip()
        frame["_year"] = parse_year(frame, "Year", minimum=2000, maximum=2100)
        for column in FIGURES:
            value = parse_number(frame, column, minimum=0)
            raw_column = f"{column} (Raw)"
            if raw_column in frame.columns:
                raw = parse_number(frame, raw_column, minimum=0)
                value = raw.where(raw.notna(), value)
            frame[f"_{column}"] = value
        reject(
            frame,
            frame[[f"_{c}" for c in FIGURES]].isna().all(axis=1),
            "missing_value",
            "every displacement figure is blank",
        )
        reject_disputed(frame, "ISO3")
        reject_duplicates(frame, ["ISO3", "_year"], what="country-year row")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_code(parsed, "ISO3", name_column="Name")
        reject_duplicates(parsed, ["_region_id", "_year"], what="country-year (after code resolution)")
        ok = parsed[REJECT].isna()
        parsed["_period_start"] = None
        if ok.any():
            parsed.loc[ok, "_period_start"] = year_start(parsed.loc[ok, "_year"])
        return long_observations(parsed, {f"_{c}": code for c, code in FIGURES.items()})


__all__ = ["DISPUTED_AREAS", "IdmcCountryYear", "reject_disputed", "FILE"]
