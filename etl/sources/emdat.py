"""EM-DAT natural disasters by country and year, as aggregated by Our World in Data (167 columns).

Only the ``*_all_disasters`` totals are loaded: deaths, total affected (injured + affected +
homeless, EM-DAT's "total affected"), homeless, and total damages. EM-DAT publishes damages in
thousands of US$ (the OWID world total for 2011 is 364,095,168, i.e. US$ 364 billion), so damages are
multiplied by 1,000 and stored in US$ (current, not inflation-adjusted).

Rows exist only for entity-years with at least one recorded disaster: an absent country-year means no
EM-DAT event, **not** zero impact, so nothing is filled in. A row whose four values are all blank is
``missing_value``. OWID writes 0 where EM-DAT has no figure for an event (damages especially are
often unreported), so a 0 means "none recorded", not a measured zero. Two entities that resolve to one region
in one year would be summed (none do in the
2021 file). 'World' is rejected as ``aggregate`` by the resolver.

Dissolved federations ('Soviet Union', 'Yugoslavia', 'Serbia-Montenegro', 'Czechoslovakia') are
``historical_entity``: a disaster recorded for the federation happened in one of several successor
states (e.g. the 1988 Spitak earthquake in Armenia is filed under the Soviet Union), so it cannot be
given to the successor region that the shared alias table picks for conflict data (source-local rule).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from etl.context import MappingContext
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
from etl.sources.base import FILE, IndicatorDef, Source, long_observations, year_start

log = logging.getLogger(__name__)

VALUE_COLUMNS = {
    "deaths_all_disasters": "hazard.disaster_deaths",
    "total_affected_all_disasters": "hazard.disaster_affected",
    "homeless_all_disasters": "hazard.disaster_homeless",
    "total_damages_all_disasters": "hazard.disaster_damages_usd",
}
COLUMNS = ["Entity", "Year", *VALUE_COLUMNS]
DAMAGES_SCALE = 1000.0  # EM-DAT damages are in thousands of US$
# Source-local: federations whose disasters cannot be placed in one successor region.
DISSOLVED = frozenset(
    {"soviet union", "yugoslavia", "serbia-montenegro", "serbia and montenegro", "czechoslovakia"}
)

INDICATORS = (
    IndicatorDef(
        "hazard.disaster_deaths",
        "hazard",
        "persons",
        "higher_is_riskier",
        "Deaths in natural disasters recorded by EM-DAT (all disaster types), per country-year",
    ),
    IndicatorDef(
        "hazard.disaster_affected",
        "hazard",
        "persons",
        "higher_is_riskier",
        "People affected (injured, affected and made homeless) by natural disasters, EM-DAT",
    ),
    IndicatorDef(
        "hazard.disaster_homeless",
        "hazard",
        "persons",
        "higher_is_riskier",
        "People made homeless by natural disasters, EM-DAT",
    ),
    IndicatorDef(
        "hazard.disaster_damages_usd",
        "hazard",
        "US$ (current)",
        "higher_is_riskier",
        "Total damages of natural disasters, EM-DAT (published in thousand US$, stored in US$)",
    ),
)


@register
class Emdat(Source):
    name = "emdat"
    title = "EM-DAT natural disasters by country-year (Our World in Data aggregation)"
    publisher = "EM-DAT, CRED / UCLouvain; aggregated by Our World in Data"
    licence = "OWID CC BY 4.0; EM-DAT terms: research use, cite EM-DAT"
    coverage = "216 countries and World, 1900-2020 (years with a recorded disaster only)"
    folder = "emdat"
    file_patterns = ("owid_natural_disasters_emdat_country_year.csv.gz", "owid_natural_disasters_emdat*.csv")
    order = 10
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        """Read the wide OWID table; type the four all-disaster totals (non-negative)."""
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "Year", minimum=1900)
        for column in VALUE_COLUMNS:
            frame["_" + column] = parse_number(frame, column, minimum=0)
        frame["_total_damages_all_disasters"] = frame["_total_damages_all_disasters"] * DAMAGES_SCALE
        values = frame[["_" + c for c in VALUE_COLUMNS]]
        reject(
            frame,
            values.isna().all(axis=1),
            "missing_value",
            "the four '*_all_disasters' totals are all empty",
        )
        reject_duplicates(frame, ["Entity", "Year"], "entity-year")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx: MappingContext) -> pd.DataFrame:
        """Resolve entity names (World and dissolved federations rejected) and emit up to four
        observations."""
        entity = parsed["Entity"].astype(str).str.strip()
        reject(
            parsed,
            entity.str.lower().isin(DISSOLVED),
            "historical_entity",
            "column 'Entity': '"
            + entity
            + "' is a dissolved federation; its disasters cannot be placed in one successor region",
        )
        ctx.countries_by_name(parsed, "Entity")
        ok = parsed[parsed[REJECT].isna()]
        # Two entities resolving to one region in one year are summed (disaster totals are additive).
        value_cols = ["_" + c for c in VALUE_COLUMNS]
        by = ok.groupby(["_region_id", "_year"])
        grouped = by[value_cols].sum(min_count=1).join(by[FILE].first()).reset_index()
        grouped[REJECT] = None
        grouped["_period_start"] = year_start(grouped["_year"]) if len(grouped) else None
        return long_observations(grouped, {"_" + c: code for c, code in VALUE_COLUMNS.items()})


__all__ = ["Emdat"]
