"""Detected victims of human trafficking by country and year (Our World in Data grapher, CTDC-based).

An OWID grapher download (``Entity, Code, Year, <value>``); the value header has a leading space
(``" Detected victims of human trafficking"``, compared with spaces stripped). The counts are far
below UNODC's national totals and match the scale of the Counter Trafficking Data Collaborative (IOM)
case records, so they measure which organisations contribute cases, not prevalence: a second, weak
outcome signal independent of GLOTIP. Countries by ``Code`` (ISO3) with ``Entity`` as fallback.
OWID's own codes: ``OWID_KOS`` is Kosovo; every other ``OWID_*`` code (``OWID_WRL`` ...) and rows
with an empty code and a region name (``Europe``, ``High-income countries``) are ``aggregate``.
Period: the calendar year. One row = one country and year; no aggregation.
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
from etl.sources.base import IndicatorDef, Source, long_observations, year_start

log = logging.getLogger(__name__)

VALUE = "Detected victims of human trafficking"
COLUMNS = ["Entity", "Code", "Year", VALUE]
# OWID's non-ISO codes that are countries; the resolver matches them by the Entity name ('Kosovo').
# Candidate for etl.countries.CODE_ALIASES: "OWID_KOS": "XKX".
OWID_COUNTRY_CODES = {"OWID_KOS": "XKX"}

INDICATORS = (
    IndicatorDef(
        "trafficking.ctdc_victims_detected",
        "trafficking",
        "persons",
        "higher_is_riskier",
        "Detected/registered victims of human trafficking in CTDC-type case data (Our World in Data chart "
        "'Detected victims of human trafficking'); reflects contributing organisations' coverage. "
        "Stored at the calendar year of detection.",
    ),
)


@register
class CtdcDetectedVictims(Source):
    name = "ctdc_detected_victims"
    title = "Detected victims of human trafficking (OWID chart, CTDC-based)"
    publisher = (
        "Our World in Data; underlying data most likely the Counter Trafficking Data Collaborative (IOM)"
    )
    licence = "OWID charts CC BY 4.0; CTDC data under CTDC terms of use (non-commercial research)"
    coverage = "84 countries, 2007-2021"
    folder = "ctdc_detected_victims"
    file_patterns = ("human-trafficking-victims*.csv",)
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "Year", minimum=1990)
        frame["_victims"] = parse_number(frame, VALUE, allow_blank=False, minimum=0)
        code = frame["Code"].astype(str).str.strip().str.upper()
        owid = code.str.startswith("OWID_") & ~code.isin(list(OWID_COUNTRY_CODES))
        reject(
            frame,
            owid,
            "aggregate",
            "column 'Code': '"
            + code
            + "' ("
            + frame["Entity"].astype(str)
            + ") is an OWID aggregate, not a country",
        )
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_code(parsed, "Code", name_column="Entity")
        reject_duplicates(parsed, ["_region_id", "_year"], "country and year")
        ok = parsed["_reject"].isna()
        parsed["_period_start"] = None
        parsed.loc[ok, "_period_start"] = year_start(parsed.loc[ok, "_year"])
        return long_observations(parsed, {"_victims": "trafficking.ctdc_victims_detected"})


__all__ = ["CtdcDetectedVictims"]
