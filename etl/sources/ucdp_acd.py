"""UCDP/PRIO Armed Conflict Dataset (v24.1): state-based armed conflicts per country and year.

One input row is a conflict in a year. ``gwno_loc`` lists the Gleditsch–Ward codes of the countries
whose territory the conflict concerns, comma-separated when several ("625, 626"); the conflict then
counts in **each** listed country (no splitting: these are counts of conflicts, not of deaths).
Per country-year:

- ``conflict.armed_conflicts``: number of distinct active conflicts located in the country;
- ``conflict.max_intensity``: highest ``intensity_level`` (1 = 25–999 battle deaths, 2 = 1,000 or more);
- ``conflict.war``: 1 if that maximum is 2, else 0; emitted for every country-year with at least one
  conflict (a country-year with no row has no active conflict).

``start_date``/``end_date`` are checked as dates: the shipped file has ``DD-MM-YYYY`` (it was re-saved),
UCDP publishes ``YYYY-MM-DD``; both are accepted. All years of the file (1946–2023) are loaded.
``gwno_loc`` is taken as UCDP codes it: extrasystemic (colonial) conflicts are located in the colony's
later state (216 Vietnam vs France -> 816 -> VNM). GW codes missing from the crosswalk (751 Hyderabad,
55 Grenada) are mapped by ``etl.sources.ucdp_brd.GW_ALIASES``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from etl.contract import (
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
from etl.sources.ucdp_brd import check_code_lists, explode_gw

log = logging.getLogger(__name__)

COLUMNS = ["conflict_id", "year", "intensity_level", "gwno_loc", "start_date", "end_date"]

INDICATORS = (
    IndicatorDef(
        "conflict.armed_conflicts",
        "conflict",
        "conflicts",
        "higher_is_riskier",
        "Number of active state-based armed conflicts (UCDP/PRIO ACD) located in the country that year",
    ),
    IndicatorDef(
        "conflict.war",
        "conflict",
        "flag (0/1)",
        "higher_is_riskier",
        "1 if a conflict located in the country reached war intensity (1,000+ battle deaths) that year, "
        "0 if only minor conflicts were active",
    ),
    IndicatorDef(
        "conflict.max_intensity",
        "conflict",
        "level (1-2)",
        "higher_is_riskier",
        "Highest UCDP/PRIO intensity level of the conflicts located in the country that year "
        "(1 = 25-999 battle deaths, 2 = 1,000 or more)",
    ),
)


def parse_dates(frame: pd.DataFrame, column: str, *, allow_blank: bool) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` (UCDP) or ``DD-MM-YYYY`` (re-saved copies); others reject ``invalid_date``."""
    text = frame[column].astype(str).str.strip()
    iso = pd.to_datetime(
        text.where(text.str.fullmatch(r"\d{4}-\d{2}-\d{2}")), format="%Y-%m-%d", errors="coerce"
    )
    dmy = pd.to_datetime(
        text.where(text.str.fullmatch(r"\d{2}-\d{2}-\d{4}")), format="%d-%m-%Y", errors="coerce"
    )
    dates = iso.fillna(dmy)
    blank = text == ""
    if not allow_blank:
        reject(frame, blank, "missing_value", f"column '{column}' is empty")
    reject(
        frame,
        dates.isna() & ~blank,
        "invalid_date",
        "column '"
        + column
        + "': '"
        + frame[column].astype(str).str.slice(0, 40)
        + "' is not a date YYYY-MM-DD or DD-MM-YYYY",
    )
    return dates


@register
class UcdpAcd(Source):
    name = "ucdp_acd"
    title = "UCDP/PRIO Armed Conflict Dataset, version 24.1"
    publisher = "Uppsala Conflict Data Program (UCDP) and Peace Research Institute Oslo (PRIO)"
    licence = "CC BY 4.0"
    coverage = "All state-based armed conflicts, 1946-2023; country-year"
    folder = "ucdp_country_year"
    file_patterns = ("UcdpPrioConflict_v*.csv", "ucdp-prio-acd-*.csv")
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "year", minimum=1946)
        intensity = parse_number(frame, "intensity_level", allow_blank=False, thousands=False)
        reject(
            frame,
            intensity.notna() & ~intensity.isin([1, 2]),
            "out_of_range",
            "column 'intensity_level': '" + frame["intensity_level"].astype(str) + "' is not 1 or 2",
        )
        frame["_intensity"] = intensity
        frame["_start_date"] = parse_dates(frame, "start_date", allow_blank=False)
        frame["_end_date"] = parse_dates(frame, "end_date", allow_blank=True)
        check_code_lists(frame, "gwno_loc")
        frame["_conflict"] = frame["conflict_id"].astype(str).str.strip()
        reject(frame, frame["_conflict"] == "", "missing_value", "column 'conflict_id' is empty")
        reject_duplicates(frame, ["_conflict", "_year"], what="conflict-year")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        long = explode_gw(parsed, "gwno_loc", ctx)
        rows = parsed.loc[long["_idx"]]
        parts = pd.DataFrame(
            {
                "region_id": long["_iso3"].to_numpy(),
                "_year": rows["_year"].to_numpy(),
                "_conflict": rows["_conflict"].to_numpy(),
                "_intensity": rows["_intensity"].to_numpy(),
                FILE: rows[FILE].to_numpy(),
            }
        )
        groups = parts.groupby(["region_id", "_year"])
        cells = pd.DataFrame(
            {
                "conflicts": groups["_conflict"].nunique(),
                "intensity": groups["_intensity"].max(),
                FILE: groups[FILE].first(),
            }
        ).reset_index()
        cells["period_start"] = year_start(cells["_year"])
        values = {
            "conflict.armed_conflicts": cells["conflicts"].astype(float),
            "conflict.max_intensity": cells["intensity"].astype(float),
            "conflict.war": (cells["intensity"] == 2).astype(float),
        }
        out = [
            pd.DataFrame(
                {
                    "region_id": cells["region_id"],
                    "period_start": cells["period_start"],
                    "period_type": "year",
                    "indicator": code,
                    "value": value,
                    "censored": False,
                    FILE: cells[FILE],
                }
            )
            for code, value in values.items()
        ]
        return pd.concat(out, ignore_index=True)[OBSERVATION_COLUMNS]


__all__ = ["UcdpAcd", "parse_dates"]
