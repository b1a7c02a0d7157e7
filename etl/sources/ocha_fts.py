"""OCHA Financial Tracking Service: humanitarian requirements and funding by country, plan and year.

One row = country (``countryCode``, ISO3) x plan (``id``) x ``year``, or country x year with
``name`` = 'Not specified' (funding outside any plan, no requirements). Rows are summed to
country-year observations:

- ``response.fts_funding_usd``: funding of **all** rows (plans, multi-country plans, 'Not specified').
- ``response.fts_requirements_usd``: requirements of **single-country plans only**. A plan id that
  appears under several countries (regional refugee plans, the RMRP, GHRP ...) often repeats one
  plan-wide figure in each country's row, so summing it would count the same need several times.
  Those rows still contribute their (country-specific) funding; their requirements are ignored.
- ``response.fts_coverage_pct``: funding / requirements x 100 of the **same** single-country plans
  (plans with requirements > 0), so that numerator and denominator cover the same appeals. Funding
  outside plans or in multi-country plans is not counted against requirements it was not raised for.

``percentFunded`` is FTS's own derived ratio, rounded to whole percent; it is ignored (recomputed above).
Years after the current calendar year hold multi-year pledges (up to 2031) and are ``out_of_scope``.
Negative funding (net corrections reported on 'Not specified' rows) is ``out_of_range``. A row with
neither requirements nor funding is ``missing_value``; a multi-country plan row without funding has
nothing attributable left and is ``out_of_scope``.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
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
from etl.sources.base import FILE, IndicatorDef, Source, long_observations, mark_unused, year_start

log = logging.getLogger(__name__)

COLUMNS = [
    "countryCode",
    "id",
    "name",
    "code",
    "typeName",
    "year",
    "requirements",
    "funding",
    "percentFunded",
]

INDICATORS = (
    IndicatorDef(
        "response.fts_requirements_usd",
        "response",
        "US$",
        "higher_is_riskier",
        "Humanitarian requirements of single-country appeals/plans (OCHA FTS); multi-country plans excluded",
    ),
    IndicatorDef(
        "response.fts_funding_usd",
        "response",
        "US$",
        "neutral",
        "Humanitarian funding received for the country, all plans and outside plans (OCHA FTS)",
    ),
    IndicatorDef(
        "response.fts_coverage_pct",
        "response",
        "percent",
        "lower_is_riskier",
        "Funding as % of requirements of the country's single-country plans (OCHA FTS)",
    ),
)


def current_year() -> int:
    """The last year with actual (not pledged) figures; a function so tests can pin it."""
    return dt.date.today().year


@register
class OchaFts(Source):
    name = "ocha_fts"
    title = "OCHA FTS humanitarian requirements and funding by country and plan"
    publisher = "UN OCHA Financial Tracking Service (FTS), via HDX"
    licence = "CC BY-IGO 3.0 (OCHA FTS on HDX)"
    coverage = "109 crisis countries, 1999-present (future pledge years not loaded)"
    folder = "ocha_fts"
    file_patterns = ("fts_requirements_funding_global.csv",)
    order = 10
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        """Type year, requirements and funding; flag future years, negative funding and empty rows."""
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "year", minimum=1990)
        frame["_requirements"] = parse_number(frame, "requirements", minimum=0)
        frame["_funding"] = parse_number(frame, "funding", minimum=0)
        last = current_year()
        mark_unused(
            frame,
            frame["_year"] > last,
            "out_of_scope",
            "year "
            + frame["year"].astype(str)
            + f" is after the current year {last}: multi-year pledges, not funding received",
        )
        reject(
            frame,
            frame["_requirements"].isna() & frame["_funding"].isna(),
            "missing_value",
            "columns 'requirements' and 'funding' are both empty",
        )
        frame["_plan"] = frame["id"].astype(str).str.strip()
        # one row per country x plan x year; 'Not specified' rows (no plan id) once per country x year
        reject_duplicates(frame, ["countryCode", "_plan", "year"], "country-plan-year")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx: MappingContext) -> pd.DataFrame:
        """Drop multi-country requirements, sum to country-year, compute coverage of single-country plans."""
        ctx.countries_by_code(parsed, "countryCode")
        plans = parsed[(parsed["_plan"] != "") & parsed["_region_id"].notna()]
        countries_per_plan = plans.groupby("_plan")["_region_id"].nunique()
        multi = parsed["_plan"].isin(countries_per_plan.index[countries_per_plan > 1])
        parsed["_multi_country"] = multi
        parsed["_req_counted"] = parsed["_requirements"].where(~multi)
        mark_unused(
            parsed,
            multi & parsed["_funding"].isna(),
            "out_of_scope",
            "plan "
            + parsed["_plan"]
            + " covers several countries: its requirements are not attributable "
            "to one country and the row has no funding",
        )
        affected = int((multi & parsed["_requirements"].notna() & parsed[REJECT].isna()).sum())
        log.info(
            "ocha_fts: requirements of %d multi-country plan rows not counted in country totals", affected
        )

        ok = parsed[parsed[REJECT].isna()].copy()
        single = ok["_req_counted"].notna() & (ok["_req_counted"] > 0)
        ok["_cov_req"] = ok["_req_counted"].where(single)
        ok["_cov_fund"] = (
            ok["_funding"].fillna(0).where(single)
        )  # a plan with no funding row received nothing
        by = ok.groupby(["_region_id", "_year"])
        grouped = by[["_req_counted", "_funding", "_cov_req", "_cov_fund"]].sum(min_count=1)
        grouped = grouped.join(by[FILE].first()).reset_index()
        grouped["_coverage"] = np.where(
            grouped["_cov_req"] > 0, grouped["_cov_fund"] / grouped["_cov_req"] * 100.0, np.nan
        )
        grouped[REJECT] = None
        grouped["_period_start"] = year_start(grouped["_year"]) if len(grouped) else None
        return long_observations(
            grouped,
            {
                "_req_counted": "response.fts_requirements_usd",
                "_funding": "response.fts_funding_usd",
                "_coverage": "response.fts_coverage_pct",
            },
        )


__all__ = ["OchaFts", "current_year"]
