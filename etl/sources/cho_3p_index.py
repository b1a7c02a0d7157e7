"""Cho, Dreher & Neumayer 3P Anti-trafficking Policy Index, 1999-2014 (Kelley & Heiss compilation).

Prosecution, protection and prevention are each scored 1-5 (5 = best policy) and ``p`` is their sum
(3-15). A score outside its scale is ``out_of_range``; a row whose ``p`` is not the sum of its three
parts (when all four are given) is ``inconsistent_value``; a row with none of the four is
``missing_value`` (the country was not assessed that year). Period = the calendar year the score
refers to. The file's ``tier`` column repeats the TIP tiers that ``us_tip_tiers`` loads and is not
loaded here. Countries by ISO3 ``iso`` (``KOS`` = Kosovo); 15 small states have ``iso`` = NA and
are matched by ``countryname`` (e.g. ``St.Kitts&Nevis``, ``MarshallIs``). One row = one country and
year, so no aggregation is needed.
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
    reject_all_blank,
    reject_duplicates,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import IndicatorDef, Source, long_observations, year_start

log = logging.getLogger(__name__)

COLUMNS = ["countryname", "year", "cow", "tier", "p", "prosecution", "prevention", "protection", "iso"]
PARTS = ("prosecution", "protection", "prevention")
_WHY = (
    "Cho, Dreher & Neumayer 3P Anti-trafficking Policy Index, scores 2000-2013 (compiled by Kelley & Heiss); "
    "stored at the year the score refers to."
)
INDICATORS = (
    IndicatorDef(
        "detection.policy_3p",
        "detection",
        "score 3-15",
        "lower_is_riskier",
        f"3P index total (prosecution + protection + prevention; 15 = strongest policy). {_WHY}",
    ),
    *[
        IndicatorDef(
            f"detection.policy_3p_{part}",
            "detection",
            "score 1-5",
            "lower_is_riskier",
            f"3P index: {part} score (5 = strongest policy). {_WHY}",
        )
        for part in PARTS
    ],
)


@register
class Cho3pIndex(Source):
    name = "cho_3p_index"
    title = "3P Anti-trafficking Policy Index (Cho, Dreher & Neumayer), 1999-2014"
    publisher = "Seo-Young Cho, Axel Dreher, Eric Neumayer; compiled by Judith Kelley and Andrew Heiss"
    licence = (
        "Published by its authors for research use; cite Cho, Dreher & Neumayer (2014) and Kelley (2017)"
    )
    coverage = "73 countries in 2000 to 182 in 2013"
    folder = "us_tip_tiers"
    file_patterns = ("cho_3p_policy_index_*.csv",)
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "year", minimum=1990)
        frame["_p"] = parse_number(frame, "p", minimum=3, maximum=15, thousands=False)
        for part in PARTS:
            frame[f"_{part}"] = parse_number(frame, part, minimum=1, maximum=5, thousands=False)
        parts = frame[[f"_{p}" for p in PARTS]]
        complete = parts.notna().all(axis=1) & frame["_p"].notna()
        reject(
            frame,
            complete & (parts.sum(axis=1) != frame["_p"]),
            "inconsistent_value",
            "column 'p': "
            + frame["p"].astype(str)
            + " is not prosecution + protection + prevention ("
            + frame["prosecution"].astype(str)
            + " + "
            + frame["protection"].astype(str)
            + " + "
            + frame["prevention"].astype(str)
            + ")",
        )
        reject_all_blank(frame, ["_p", *[f"_{p}" for p in PARTS]], "p, prosecution, protection, prevention")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_code(parsed, "iso", name_column="countryname")
        reject_duplicates(parsed, ["_region_id", "_year"], "country and year")
        ok = parsed["_reject"].isna()
        parsed["_period_start"] = None
        parsed.loc[ok, "_period_start"] = year_start(parsed.loc[ok, "_year"])
        return long_observations(
            parsed, {"_p": "detection.policy_3p", **{f"_{p}": f"detection.policy_3p_{p}" for p in PARTS}}
        )


__all__ = ["Cho3pIndex"]
