"""US State Department TIP Report tier placements, report years 2020-2025 (compiled from three
transcriptions).

Continues ``us_tip_tiers`` (Kelley & Heiss, 2001-2015) with the same indicator and coding: Tier 1 = 1, Tier 2
= 2,
Tier 2 Watch List = 2.5, Tier 3 = 3, stored at the report year (published around June of that year).

Partial years. Report years 2022, 2024 and 2025 list only the Tier 2 Watch List and Tier 3 countries (the
``year_coverage`` column says ``partial``). A country absent from such a year is Tier 1, Tier 2 or a Special
Case,
not known to be any one of them, so only the listed rows are loaded; nothing is inferred for the others.

Rejected rows: ``special_case`` (the report did not rank the country: Libya, Somalia, Yemen in 2021), and
``conflicting_duplicate`` where one country has two different tiers in one report year (Republic of the Congo
2023: Tier 2 in one transcription, Watch List in another; SOURCE.md leaves it unresolved).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from etl.contract import (
    REJECT,
    REJECT_DETAIL,
    ROW,
    parse_year,
    read_text_table,
    reject,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import Source, long_observations, year_start
from etl.sources.us_tip_tiers import INDICATORS, parse_tier

log = logging.getLogger(__name__)

COLUMNS = ["report_year", "country_as_published", "iso3", "tier", "year_coverage"]
SPECIAL_CASE = "special case"


@register
class UsTipTiers2020(Source):
    name = "us_tip_tiers_2020_2025"
    title = "US Trafficking in Persons Report tier placements, 2020-2025"
    publisher = (
        "US Department of State (TIP Office); compiled from the CIA World Factbook and two transcribed "
        "web pages"
    )
    licence = "US government publication (public domain)"
    coverage = (
        "report years 2020, 2021, 2023 complete (185-188 countries); 2022, 2024, 2025 Tier 2 Watch List "
        "and Tier 3 only; no source for 2016-2019"
    )
    folder = "us_tip_tiers_2020_2025"
    file_patterns = ("tip_tiers_*.csv",)
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "report_year", minimum=1990)
        value, not_ranked, unknown = parse_tier(frame["tier"])
        frame["_tier"] = value
        label = frame["tier"].astype(str).str.split().str.join(" ")
        reject(
            frame,
            unknown,
            "invalid_value",
            "column 'tier': '"
            + label
            + "' is not a TIP tier (expected Tier 1, Tier 2, Tier 2 Watch List, Tier 3 or Special Case)",
        )
        reject(
            frame,
            label.str.lower() == SPECIAL_CASE,
            "special_case",
            "column 'tier': 'Special Case': the report did not rank this country in this year",
        )
        reject(
            frame,
            not_ranked,
            "missing_value",
            "column 'tier': '" + label + "': not ranked in this report year",
        )
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_code(parsed, "iso3", name_column="country_as_published")
        _reject_twins(parsed, ["_region_id", "_year"])
        ok = parsed[REJECT].isna()
        parsed["_period_start"] = None
        parsed.loc[ok, "_period_start"] = year_start(parsed.loc[ok, "_year"])
        return long_observations(parsed, {"_tier": "detection.tip_tier"})


def _reject_twins(frame: pd.DataFrame, keys: list[str]) -> None:
    """A country twice in a report year: the same tier keeps the first row; different tiers reject both."""
    ok = frame[REJECT].isna()
    sub = frame[ok]
    dup = sub.duplicated(subset=keys, keep=False)
    for _, grp in sub[dup].groupby(keys):
        rows = grp[ROW].tolist()
        if grp["_tier"].nunique() == 1:
            frame.loc[grp.index[1:], REJECT] = "duplicate"
            frame.loc[grp.index[1:], REJECT_DETAIL] = f"same country, report year and tier as row {rows[0]}"
        else:
            listed = ", ".join(
                f"row {r}: '{t}' ('{c}')"
                for r, t, c in zip(rows, grp["tier"], grp["country_as_published"], strict=True)
            )
            frame.loc[grp.index, REJECT] = "conflicting_duplicate"
            frame.loc[grp.index, REJECT_DETAIL] = (
                f"two tiers for one country and report year ({listed}); none chosen"
            )


__all__ = ["UsTipTiers2020"]
