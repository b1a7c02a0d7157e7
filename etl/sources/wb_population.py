"""World Bank WDI total population (SP.POP.TOTL), country-year, from the datasets/population package.

The file is the World Bank's long table ``Country Name, Country Code, Year, Value``. It mixes
countries with World Bank aggregates (``WLD``, ``SSF``, income groups ...): those are rejected as
``aggregate`` by the shared resolver. ``CHI`` (Channel Islands) is Jersey and Guernsey together, two
separate regions in the warehouse, so it is rejected as ``aggregate`` too (source-local rule).
Each (country, year) appears once in the published file; a repeated key is rejected as ``duplicate``.

:class:`WorldBankIndicatorSource` is shared with :mod:`etl.sources.wb_gdp` (same layout).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

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
from etl.sources.base import IndicatorDef, Source, long_observations, year_start

log = logging.getLogger(__name__)

WB_COLUMNS = ["Country Name", "Country Code", "Year", "Value"]
# World Bank codes that are several warehouse regions at once (not in the shared aggregate list).
WB_LOCAL_AGGREGATES = {"CHI": "Channel Islands (Jersey and Guernsey together; two regions in the warehouse)"}


class WorldBankIndicatorSource(Source):
    """One WDI indicator in the datasets/* long layout: Country Name, Country Code, Year, Value."""

    indicator_code: ClassVar[str]
    min_year: ClassVar[int] = 1960

    def parse(self, path: Path) -> pd.DataFrame:
        """Read the long table, type Year and Value; negative values are ``out_of_range``."""
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, WB_COLUMNS, path)
        frame["_year"] = parse_year(frame, "Year", minimum=self.min_year)
        frame["_value"] = parse_number(frame, "Value", allow_blank=False, minimum=0)
        reject_duplicates(frame, ["Country Code", "Year"], "country-year")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx: MappingContext) -> pd.DataFrame:
        """Map WB codes to regions (aggregates rejected) and emit one observation per row."""
        code = parsed["Country Code"].astype(str).str.strip()
        for wb_code, why in WB_LOCAL_AGGREGATES.items():
            reject(parsed, code == wb_code, "aggregate", f"code '{wb_code}' is {why}, not one country")
        ctx.countries_by_code(parsed, "Country Code", name_column="Country Name")
        # two codes for one region (e.g. ROM and ROU in an older file) would give two values for one key
        reject_duplicates(parsed, ["_region_id", "_year"], "region-year")
        ok = parsed[REJECT].isna()
        parsed["_period_start"] = None
        parsed.loc[ok, "_period_start"] = year_start(parsed.loc[ok, "_year"])
        return long_observations(parsed, {"_value": self.indicator_code})


@register
class WbPopulation(WorldBankIndicatorSource):
    name = "wb_population"
    title = "World Bank WDI: population, total (SP.POP.TOTL)"
    publisher = "World Bank, World Development Indicators (via datasets/population)"
    licence = "CC BY 4.0 (WDI); package ODC-PDDL 1.0"
    coverage = "217 economies and WB aggregates, 1960-2024"
    folder = "covariates_country_year"
    file_patterns = ("wb_population_total.csv",)
    order = 10
    indicator_code = "structural.population"
    indicators = (
        IndicatorDef(
            "structural.population",
            "structural",
            "persons",
            "neutral",
            "Total population, mid-year (World Bank WDI SP.POP.TOTL)",
        ),
    )


__all__ = ["WB_COLUMNS", "WbPopulation", "WorldBankIndicatorSource"]
