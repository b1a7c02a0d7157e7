"""IDMC conflict IDP stock per country-year, as redistributed in UNHCR's population statistics (1990-2025).

One row = IDMC's estimate of people internally displaced by conflict and violence at the end of ``year``
in one country (origin and asylum are the same country). Stored with ``period_start`` = 1 January of
``year`` (period type ``year``); the latest year of a package release is provisional.

For 1990-2008 the file holds only one row per year, under ``Unknown`` (``UNK``): IDMC's global total
before country figures exist (IDMC's country series starts in 2009). Those rows are rejected as
``aggregate``. ``UNK`` rows from 2009 on are small unattributed residuals (2 to 8 people) and are
rejected as ``not_a_country``. Countries are
resolved from ``coo_iso`` (name, then UNHCR code as fallback, as in :mod:`etl.sources.unhcr_population`);
the Abyei Area (``AB9``, disputed by Sudan and South Sudan) has no region and is rejected as
``disputed_area``.
A (year, country) key appears once; a repeat is a ``duplicate``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from etl.contract import (
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
from etl.sources.base import FILE, OBSERVATION_COLUMNS, IndicatorDef, Source, year_start
from etl.sources.idmc_country_year import reject_disputed
from etl.sources.unhcr_population import KEY_COLUMNS, resolve_side  # the same UNHCR key columns

log = logging.getLogger(__name__)

COLUMNS = KEY_COLUMNS + ["total"]
INDICATOR = "displacement.idmc_conflict_idps"
FIRST_COUNTRY_YEAR = 2009  # IDMC publishes conflict IDPs by country from 2009; before, a global total only

INDICATORS = (
    IndicatorDef(
        INDICATOR,
        "displacement",
        "persons",
        "higher_is_riskier",
        "People internally displaced by conflict and violence at year end (IDMC estimate, "
        "as published in UNHCR's population statistics), 2009-2025",
    ),
)


@register
class UnhcrIdmc(Source):
    name = "unhcr_idmc"
    title = "IDMC conflict IDPs by country-year (UNHCR population statistics)"
    publisher = "Internal Displacement Monitoring Centre (IDMC), via UNHCR's R package 'refugees'"
    licence = "IDMC figures: CC BY-NC 4.0 (non-commercial); UNHCR package CC BY 4.0"
    coverage = "Countries with conflict IDPs, end-year stocks 2009-2025 (global totals only before 2009)"
    folder = "unhcr_population"
    file_patterns = ("idmc.csv", "idmc.csv.gz")
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        for col in KEY_COLUMNS:
            frame[col] = frame[col].astype(str).str.strip()
        frame["_year"] = parse_year(frame, "year", minimum=1950, maximum=2100)
        frame["_total"] = parse_number(frame, "total", minimum=0)
        reject(frame, frame["_total"].isna(), "missing_value", "column 'total' is blank or '-'")
        reject(
            frame,
            frame["coo_iso"] != frame["coa_iso"],
            "inconsistent_row",
            "coo_iso '"
            + frame["coo_iso"]
            + "' differs from coa_iso '"
            + frame["coa_iso"]
            + "'; an IDP figure has one country",
        )
        reject_disputed(frame, "coo_iso")
        reject_duplicates(frame, ["_year", "coo_iso"], what="year/country row")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        unknown = parsed["coo_iso"].str.upper().isin(["UNK", "UKN"]) & parsed[REJECT].isna()
        global_total = unknown & (parsed["_year"] < FIRST_COUNTRY_YEAR)
        reject(
            parsed,
            global_total,
            "aggregate",
            "'Unknown' (UNK) before " + str(FIRST_COUNTRY_YEAR) + " is IDMC's global total, not a country",
        )
        reject(parsed, unknown, "not_a_country", "'Unknown' (UNK) is an unattributed residual, not a country")
        ok = parsed[REJECT].isna()
        side = resolve_side(parsed, ctx, "coo_iso", "coo", "coo_name")
        bad = ok & side["region_id"].isna()
        for code in side.loc[bad, "reason_code"].fillna("unknown_country").unique():
            mask = bad & (side["reason_code"].fillna("unknown_country") == code)
            reject(parsed, mask, str(code), side["reason"].fillna("country could not be resolved"))
        parsed["_region_id"] = side["region_id"]
        reject_duplicates(parsed, ["_year", "_region_id"], what="year/country (after code resolution)")
        ok = parsed[REJECT].isna()
        if not ok.any():
            return pd.DataFrame(columns=OBSERVATION_COLUMNS)
        return pd.DataFrame(
            {
                "region_id": parsed.loc[ok, "_region_id"].astype(str).values,
                "period_start": year_start(parsed.loc[ok, "_year"]).values,
                "period_type": "year",
                "indicator": INDICATOR,
                "value": parsed.loc[ok, "_total"].astype(float).values,
                "censored": False,
                FILE: parsed.loc[ok, FILE].values,
            }
        )


__all__ = ["UnhcrIdmc"]
