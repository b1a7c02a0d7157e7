"""Our World in Data: deaths in armed conflicts by country where they occurred (UCDP, all organised violence).

An OWID grapher download (``Entity,Year,Deaths``; a ``Code`` column, when a newer download has one,
is used first with the name as fallback). The series is a complete panel of 205 entities × 1989–2023
with explicit zeros; zeros are real (no recorded deaths) and are loaded.

OWID lists a few non-state and historical entities beside the countries. They are resolved by name
with the shared alias table (``etl.countries.ALIASES``): Abkhazia and South Ossetia -> Georgia,
Yugoslavia -> Serbia, West Germany -> Germany, "Yemen People's Republic" (South Yemen) -> Yemen;
Czechoslovakia and East Germany have no present-day region and are quarantined as
``historical_entity``. Where several entities map to one country-year the deaths are **summed**
(on the shipped file every such extra entity has 0 deaths in every year, so nothing moves).
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
    reject_duplicates,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import FILE, OBSERVATION_COLUMNS, IndicatorDef, Source, year_start

log = logging.getLogger(__name__)

COLUMNS = ["Entity", "Year", "Deaths"]
INDICATOR = "conflict.deaths_organised_violence"

INDICATORS = (
    IndicatorDef(
        INDICATOR,
        "conflict",
        "deaths",
        "higher_is_riskier",
        "Deaths in all organised violence (state-based, non-state, one-sided; UCDP best estimate) by "
        "the country where they occurred (Our World in Data, from UCDP GED)",
    ),
)


@register
class OwidConflictDeaths(Source):
    name = "owid_conflict_deaths"
    title = "Deaths in armed conflicts based on where they occurred (Our World in Data, from UCDP)"
    publisher = "Our World in Data (underlying data: Uppsala Conflict Data Program)"
    licence = "CC BY 4.0"
    coverage = "205 countries and territories, 1989-2023; country-year, complete panel with zeros"
    folder = "ucdp_country_year"
    file_patterns = ("owid_deaths_in_armed_conflicts*.csv", "deaths-in-armed-conflicts-based-on-where*.csv")
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_entity"] = frame["Entity"].astype(str).str.strip()
        frame["_year"] = parse_year(frame, "Year", minimum=1946)
        frame["_deaths"] = parse_number(frame, "Deaths", allow_blank=False, minimum=0)
        reject_duplicates(frame, ["_entity", "_year"], what="entity-year")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        if "Code" in parsed.columns:
            ctx.countries_by_code(parsed, "Code", name_column="Entity")
        else:
            ctx.countries_by_name(parsed, "Entity")
        ok = parsed[parsed[REJECT].isna()]
        groups = ok.groupby(["_region_id", "_year"])
        cells = pd.DataFrame({"value": groups["_deaths"].sum(), FILE: groups[FILE].first()}).reset_index()
        return pd.DataFrame(
            {
                "region_id": cells["_region_id"],
                "period_start": year_start(cells["_year"]),
                "period_type": "year",
                "indicator": INDICATOR,
                "value": cells["value"].astype(float),
                "censored": False,
                FILE: cells[FILE],
            }
        )[OBSERVATION_COLUMNS]


__all__ = ["OwidConflictDeaths"]
