"""US State Department TIP Report tier placements, report years 1999-2015 (Kelley & Heiss compilation).

The tier grades a government's anti-trafficking effort (an input, not an outcome). Stored numerically
as ``detection.tip_tier``: Tier 1 = 1, Tier 2 = 2, Tier 2 Watch List (``Watchlist``) = 2.5, Tier 3 = 3.
The published strings carry trailing spaces (``"Tier 2    "``); the State Department's own label
``Tier 2 Watch List`` is accepted too. ``NA`` (not ranked that year) and ``Special Case`` are
``missing_value`` rejects. Period = the report year (report published around June, covering roughly
April of the previous year to March of that year). Countries by ISO3 ``iso`` (``KOS`` = Kosovo), with
the name as fallback. One row = one country and report year, so no aggregation is needed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from etl.contract import (
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

COLUMNS = ["countryname", "iso", "year", "ccode", "tier"]
TIERS = {
    "tier 1": 1.0,
    "tier 2": 2.0,
    "watchlist": 2.5,
    "tier 2 watch list": 2.5,
    "tier 2 watchlist": 2.5,
    "watch list": 2.5,
    "tier 3": 3.0,
}
NOT_RANKED = {"", "na", "n/a", "special case", "not ranked"}

INDICATORS = (
    IndicatorDef(
        "detection.tip_tier",
        "detection",
        "tier (1, 2, 2.5 = Tier 2 Watch List, 3)",
        "higher_is_riskier",
        "US State Department Trafficking in Persons Report tier placement (government effort against "
        "trafficking; 3 = weakest). Stored at the TIP report year (published around June of that year); "
        "report years 2001-2015 compiled by Kelley & Heiss (source us_tip_tiers), 2020-2025 from "
        "us_tip_tiers_2020_2025 (2022, 2024, 2025 list only Watch List and Tier 3: an absent country "
        "there is Tier 1, Tier 2 or not ranked, not known).",
    ),
)


def parse_tier(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """'Tier 2    ' -> 2.0, 'Watchlist' -> 2.5. Returns value, not_ranked mask, unknown-label mask."""
    clean = text.astype(str).str.split().str.join(" ").str.lower()
    value = clean.map(TIERS).astype(float)
    not_ranked = clean.isin(NOT_RANKED)
    return value, not_ranked, value.isna() & ~not_ranked


@register
class UsTipTiers(Source):
    name = "us_tip_tiers"
    title = "US Trafficking in Persons Report tier placements, 1999-2015"
    publisher = "US Department of State (TIP Office); compiled by Judith Kelley and Andrew Heiss"
    licence = "US government publication (public domain); cite Kelley (2017), Heiss & Kelley (2017)"
    coverage = "79 countries ranked in 2001 to 186 in 2015; rows 1999-2015"
    folder = "us_tip_tiers"
    file_patterns = ("tip_tiers_*.csv",)
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "year", minimum=1990)
        value, not_ranked, unknown = parse_tier(frame["tier"])
        frame["_tier"] = value
        reject(
            frame,
            unknown,
            "invalid_value",
            "column 'tier': '"
            + frame["tier"].astype(str).str.strip()
            + "' is not a TIP tier (expected Tier 1, Tier 2, Watchlist/Tier 2 Watch List, Tier 3 or NA)",
        )
        reject(
            frame,
            not_ranked,
            "missing_value",
            "column 'tier': '" + frame["tier"].astype(str).str.strip() + "': not ranked in this report year",
        )
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_code(parsed, "iso", name_column="countryname")
        reject_duplicates(parsed, ["_region_id", "_year"], "country and report year")
        ok = parsed["_reject"].isna()
        parsed["_period_start"] = None
        parsed.loc[ok, "_period_start"] = year_start(parsed.loc[ok, "_year"])
        return long_observations(parsed, {"_tier": "detection.tip_tier"})


__all__ = ["UsTipTiers", "parse_tier"]
