"""Maddison Project Database 2020 (Bolt & van Zanden), as republished by Our World in Data.

One row = entity x year with ``GDP per capita`` (2011 international $, PPP), ``Population`` and ``GDP``.
Only GDP per capita is loaded (``structural.gdp_per_capita_ppp``); population and total GDP come from
the World Bank sources. Rows before 1950 are ``out_of_scope``: they are sparse benchmark years
(1, 1000, 1500, 1820 ...) far outside the model's window. A row with no GDP per capita (OWID keeps
population-only rows) is ``missing_value``.

Maddison's regional totals ('Western Offshoots', 'Former USSR', 'Sub-Sahara Africa' ...) are rejected
as ``aggregate`` by a source-local list, because the fuzzy name matcher would otherwise map
'Western Offshoots' to Western Sahara.
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
from etl.sources.base import IndicatorDef, Source, long_observations, mark_unused, year_start

log = logging.getLogger(__name__)

COLUMNS = ["Entity", "Year", "GDP per capita"]
FIRST_YEAR = 1950
# Source-local: Maddison region names (move to etl.countries as aggregates).
MADDISON_AGGREGATES = frozenset(
    {
        "western offshoots",
        "former ussr",
        "former yugoslavia",
        "south and south-east asia",
        "sub-sahara africa",
        "east asia",
        "eastern europe",
        "latin america",
        "middle east",
        "western europe",
        "world",
    }
)


@register
class Maddison(Source):
    name = "maddison"
    title = "Maddison Project Database 2020: GDP per capita"
    publisher = "Maddison Project (Bolt & van Zanden 2020), via Our World in Data"
    licence = "CC BY 4.0"
    coverage = "169 countries and 11 regions; loaded 1950-2018"
    folder = "covariates_country_year"
    file_patterns = ("maddison_*.csv",)
    order = 10
    indicators = (
        IndicatorDef(
            "structural.gdp_per_capita_ppp",
            "structural",
            "2011 int.-$",
            "lower_is_riskier",
            "Real GDP per capita in 2011 international dollars, PPP (Maddison Project 2020)",
        ),
    )

    def parse(self, path: Path) -> pd.DataFrame:
        """Type year and GDP per capita; years before 1950 are out of scope."""
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "Year", minimum=1, maximum=2100)
        frame["_value"] = parse_number(frame, "GDP per capita", minimum=0)
        mark_unused(
            frame,
            frame["_year"] < FIRST_YEAR,
            "out_of_scope",
            "year "
            + frame["Year"].astype(str)
            + f" is before {FIRST_YEAR}: Maddison's early years are "
            "sparse benchmark estimates outside the model window",
        )
        reject(frame, frame["_value"].isna(), "missing_value", "column 'GDP per capita' is empty")
        reject_duplicates(frame, ["Entity", "Year"], "entity-year")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx: MappingContext) -> pd.DataFrame:
        """Resolve entity names (regional totals rejected) and emit one observation per row."""
        entity = parsed["Entity"].astype(str).str.strip()
        reject(
            parsed,
            entity.str.lower().isin(MADDISON_AGGREGATES),
            "aggregate",
            "column 'Entity': '" + entity + "' is a Maddison regional total, not a country",
        )
        ctx.countries_by_name(parsed, "Entity")
        reject_duplicates(parsed, ["_region_id", "_year"], "region-year")
        ok = parsed[REJECT].isna()
        parsed["_period_start"] = None
        parsed.loc[ok, "_period_start"] = year_start(parsed.loc[ok, "_year"])
        return long_observations(parsed, {"_value": "structural.gdp_per_capita_ppp"})


__all__ = ["Maddison"]
