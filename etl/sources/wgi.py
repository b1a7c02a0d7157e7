"""World Bank Worldwide Governance Indicators (2024 update), country x year x dimension, long CSV.

One row = World Bank code x year x indicator (``va``, ``pv``, ``ge``, ``rq``, ``rl``, ``cc``). The
``estimate`` (about -2.5..2.5, lower = worse governance) becomes ``structural.wgi_<x>`` and its
``stddev`` (the standard error of the estimate) ``structural.wgi_<x>_se``. ``..`` marks a missing
value, as in the World Bank's file; a row with neither estimate nor standard error is rejected as
``missing_value``. ``nsource`` and the percentile ranks are derived from the estimate and not loaded.

Non-ISO World Bank codes (ADO, ROM, ZAR, TMP, WBG, KSV) resolve through the shared code aliases.
``ANT`` (Netherlands Antilles, dissolved 2010) has no present-day region: rejected as
``historical_entity`` by a source-local rule (the name fallback would otherwise match the Netherlands).
WGI was not published for 1997, 1999 and 2001; those years are simply absent (not interpolated here).
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

COLUMNS = ["code", "countryname", "year", "indicator", "estimate", "stddev"]
DIMENSIONS = {
    "va": "Voice and accountability",
    "pv": "Political stability and absence of violence/terrorism",
    "ge": "Government effectiveness",
    "rq": "Regulatory quality",
    "rl": "Rule of law",
    "cc": "Control of corruption",
}
# Source-local: WB codes of entities with no present-day region (move to etl.countries.CODE_ALIASES as None).
HISTORICAL_CODES = {"ANT": "Netherlands Antilles (dissolved in 2010)"}

INDICATORS = tuple(
    [
        IndicatorDef(
            f"structural.wgi_{k}",
            "structural",
            "index (about -2.5..2.5)",
            "lower_is_riskier",
            f"WGI {label}: estimate of governance, standard normal units (World Bank)",
        )
        for k, label in DIMENSIONS.items()
    ]
    + [
        IndicatorDef(
            f"structural.wgi_{k}_se",
            "structural",
            "index units",
            "neutral",
            f"WGI {label}: standard error of the estimate (World Bank)",
        )
        for k, label in DIMENSIONS.items()
    ]
)


@register
class Wgi(Source):
    name = "wgi"
    title = "Worldwide Governance Indicators (WGI), 2024 update"
    publisher = "World Bank (Kaufmann & Kraay)"
    licence = "CC BY 4.0"
    coverage = "214 economies, 1996-2023 (no 1997, 1999, 2001), six dimensions"
    folder = "covariates_country_year"
    file_patterns = ("wgi_*_long.csv.gz", "wgi_*_long.csv")
    order = 10
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        """Type year, estimate and standard error; '..' is missing; unknown dimensions are out of scope."""
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "year", minimum=1990)
        frame["_estimate"] = parse_number(frame, "estimate", minimum=-5, maximum=5)
        frame["_se"] = parse_number(frame, "stddev", minimum=0, maximum=5)
        dim = frame["indicator"].astype(str).str.strip().str.lower()
        frame["_dim"] = dim
        mark_unused(
            frame,
            ~dim.isin(list(DIMENSIONS)),
            "out_of_scope",
            "column 'indicator': '"
            + frame["indicator"].astype(str)
            + "' is not one of the six WGI dimensions",
        )
        reject(
            frame,
            frame["_estimate"].isna() & frame["_se"].isna(),
            "missing_value",
            "columns 'estimate' and 'stddev' are both missing ('..')",
        )
        reject_duplicates(frame, ["code", "year", "_dim"], "country-year-dimension")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx: MappingContext) -> pd.DataFrame:
        """Map WB codes to regions and melt estimate and standard error into two indicators per dimension."""
        code = parsed["code"].astype(str).str.strip().str.upper()
        for wb_code, why in HISTORICAL_CODES.items():
            reject(
                parsed,
                code == wb_code,
                "historical_entity",
                f"code '{wb_code}' is {why}; no present-day region",
            )
        ctx.countries_by_code(parsed, "code", name_column="countryname")
        # two codes for one region (e.g. ROM and ROU) would give two values for one observation
        reject_duplicates(parsed, ["_region_id", "_year", "_dim"], "region-year-dimension")
        ok = parsed[REJECT].isna()
        parsed["_period_start"] = None
        parsed.loc[ok, "_period_start"] = year_start(parsed.loc[ok, "_year"])
        parts = []
        for dim in DIMENSIONS:
            sub = parsed[parsed["_dim"] == dim]
            parts.append(
                long_observations(
                    sub, {"_estimate": f"structural.wgi_{dim}", "_se": f"structural.wgi_{dim}_se"}
                )
            )
        return pd.concat(parts, ignore_index=True)


__all__ = ["DIMENSIONS", "Wgi"]
