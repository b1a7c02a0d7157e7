"""World Bank WDI GDP in current US$ (NY.GDP.MKTP.CD), country-year, from the datasets/gdp package.

Same long layout and rules as :mod:`etl.sources.wb_population` (aggregates rejected, one row per
country-year). Values are nominal US$ (not per capita, not PPP); divide by
``structural.population`` for GDP per capita.
"""

from __future__ import annotations

import logging

from etl.sources import register
from etl.sources.base import IndicatorDef
from etl.sources.wb_population import WorldBankIndicatorSource

log = logging.getLogger(__name__)


@register
class WbGdp(WorldBankIndicatorSource):
    name = "wb_gdp"
    title = "World Bank WDI: GDP, current US$ (NY.GDP.MKTP.CD)"
    publisher = "World Bank, World Development Indicators (via datasets/gdp)"
    licence = "CC BY 4.0 (WDI); package ODC-PDDL 1.0"
    coverage = "countries and WB aggregates, 1960-2023"
    folder = "covariates_country_year"
    file_patterns = ("wb_gdp_current_usd.csv",)
    order = 10
    indicator_code = "structural.gdp_current_usd"
    indicators = (
        IndicatorDef(
            "structural.gdp_current_usd",
            "structural",
            "US$ (current)",
            "lower_is_riskier",
            "Gross domestic product at market prices, current US$ (World Bank WDI NY.GDP.MKTP.CD)",
        ),
    )


__all__ = ["WbGdp"]
