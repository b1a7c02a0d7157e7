"""UCDP Battle-Related Deaths (dyadic, v24.1): battle deaths per country and year.

One input row is a conflict dyad in a year. ``gwno_battle`` lists the Gleditsch–Ward codes of the
countries where the fighting took place, comma-separated when several ("652, 663"). UCDP does not
say how the deaths divide between them, so they are **split equally** between the listed
countries (a dyad-year with 900 deaths in "652, 663" gives 450 to each). Country-year values are
then **summed over dyads**; they can therefore be fractional. GW codes go to ISO3 through the
countrycode crosswalk (historical states to their successor, UCDP's convention, see
``etl.countries.Crosswalk``). A row with any code that cannot be mapped is quarantined whole, so no
share of its deaths is silently lost or moved.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

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
from etl.sources.base import FILE, OBSERVATION_COLUMNS, IndicatorDef, Source, year_start

log = logging.getLogger(__name__)

COLUMNS = ["conflict_id", "dyad_id", "year", "bd_best", "bd_low", "bd_high", "gwno_battle"]
VALUES = {
    "bd_best": "conflict.battle_deaths",
    "bd_low": "conflict.battle_deaths_low",
    "bd_high": "conflict.battle_deaths_high",
}
_CODE_LIST = r"\s*\d+(?:\s*,\s*\d+)*\s*"
# GW codes UCDP uses that the shipped countrycode crosswalk lacks (to move to etl.countries.Crosswalk):
# - 751 Hyderabad (1947-1948, annexed by India): to the present-day region, as the crosswalk already does
#   for other predecessor states (260 West Germany -> DEU, 817 South Vietnam -> VNM);
# - 55 Grenada: a microstate missing from the Gleditsch-Ward list; UCDP uses its COW code.
GW_ALIASES = {"751": "IND", "55": "GRD"}

INDICATORS = (
    IndicatorDef(
        "conflict.battle_deaths",
        "conflict",
        "deaths",
        "higher_is_riskier",
        "UCDP battle-related deaths (best estimate) where the fighting took place; dyads summed, "
        "deaths of multi-country dyads split equally",
    ),
    IndicatorDef(
        "conflict.battle_deaths_low",
        "conflict",
        "deaths",
        "higher_is_riskier",
        "UCDP battle-related deaths, low estimate (as conflict.battle_deaths)",
    ),
    IndicatorDef(
        "conflict.battle_deaths_high",
        "conflict",
        "deaths",
        "higher_is_riskier",
        "UCDP battle-related deaths, high estimate (as conflict.battle_deaths)",
    ),
)


def check_code_lists(frame: pd.DataFrame, column: str) -> None:
    """A GW code list is blank (missing_value) or integers separated by commas (else invalid_code)."""
    text = frame[column].astype(str).str.strip()
    reject(frame, text == "", "missing_value", f"column '{column}' is empty")
    reject(
        frame,
        ~text.str.fullmatch(_CODE_LIST),
        "invalid_code",
        "column '"
        + column
        + "': '"
        + frame[column].astype(str).str.slice(0, 40)
        + "' is not a list of Gleditsch–Ward codes such as '652, 663'",
    )


def explode_gw(frame: pd.DataFrame, column: str, ctx) -> pd.DataFrame:
    """One row per (accepted input row, listed country) with ``_iso3`` and ``_share`` = 1 / number listed.

    Input rows with any unmapped code are quarantined (``unknown_country`` or ``no_region``).
    """
    ok = frame[frame[REJECT].isna()]
    if ok.empty:
        return pd.DataFrame(
            {
                "_idx": pd.Series(dtype="int64"),
                "_code": pd.Series(dtype=object),
                "_iso3": pd.Series(dtype=object),
                "_share": pd.Series(dtype=float),
            }
        )
    codes = ok[column].astype(str).str.split(",")
    long = pd.DataFrame(
        {"_idx": codes.index.repeat(codes.map(len)), "_code": [c.strip() for cs in codes for c in cs]}
    )
    lookup = {c: ctx.crosswalk.to_iso3("gw", c) or GW_ALIASES.get(c) for c in long["_code"].unique()}
    long["_iso3"] = long["_code"].map(lookup)
    long["_share"] = 1.0 / long.groupby("_idx")["_code"].transform("size")
    unknown = long[long["_iso3"].isna()].groupby("_idx")["_code"].agg(", ".join)
    mask = frame.index.isin(unknown.index)
    reject(
        frame,
        pd.Series(mask, index=frame.index),
        "unknown_country",
        "column '"
        + column
        + "': code(s) "
        + frame.index.to_series().map(unknown).astype(str)
        + " of '"
        + frame[column].astype(str)
        + "' are not known Gleditsch–Ward codes",
    )
    no_region = long[long["_iso3"].notna() & ~long["_iso3"].isin(ctx.country_ids)]
    missing = no_region.groupby("_idx")["_iso3"].agg(", ".join)
    reject(
        frame,
        pd.Series(frame.index.isin(missing.index), index=frame.index),
        "no_region",
        "column '"
        + column
        + "': ISO3 "
        + frame.index.to_series().map(missing).astype(str)
        + " has no region in the warehouse",
    )
    return long[long["_idx"].isin(frame.index[frame[REJECT].isna()])]


@register
class UcdpBrd(Source):
    name = "ucdp_brd"
    title = "UCDP Battle-Related Deaths Dataset (dyadic), version 24.1"
    publisher = "Uppsala Conflict Data Program (UCDP), Uppsala University"
    licence = "CC BY 4.0"
    coverage = "All countries with state-based conflict fighting, 1989-2023; country-year"
    folder = "ucdp_country_year"
    file_patterns = ("BattleDeaths_v*.csv", "ucdp-brd-dyadic-*.csv")
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "year", minimum=1946)
        for col in VALUES:
            frame[f"_{col}"] = parse_number(frame, col, minimum=0)
        blank = frame[[f"_{c}" for c in VALUES]].isna().all(axis=1)
        reject(frame, blank, "missing_value", "columns 'bd_best', 'bd_low' and 'bd_high' are all empty")
        check_code_lists(frame, "gwno_battle")
        frame["_dyad"] = frame["dyad_id"].astype(str).str.strip()
        reject_duplicates(frame, ["_dyad", "_year"], what="dyad-year")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        long = explode_gw(parsed, "gwno_battle", ctx)
        rows = parsed.loc[long["_idx"]]
        parts = pd.DataFrame(
            {
                "region_id": long["_iso3"].to_numpy(),
                "_year": rows["_year"].to_numpy(),
                FILE: rows[FILE].to_numpy(),
            }
        )
        for col in VALUES:
            parts[col] = rows[f"_{col}"].to_numpy() * long["_share"].to_numpy()
        groups = parts.groupby(["region_id", "_year"])
        cells = groups[list(VALUES)].sum(min_count=1).join(groups[FILE].first()).reset_index()
        cells["period_start"] = year_start(cells["_year"])
        out = []
        for col, code in VALUES.items():
            sub = cells[cells[col].notna()]
            out.append(
                pd.DataFrame(
                    {
                        "region_id": sub["region_id"],
                        "period_start": sub["period_start"],
                        "period_type": "year",
                        "indicator": code,
                        "value": sub[col].astype(float),
                        "censored": False,
                        FILE: sub[FILE],
                    }
                )
            )
        return pd.concat(out, ignore_index=True)[OBSERVATION_COLUMNS]


__all__ = ["GW_ALIASES", "UcdpBrd", "check_code_lists", "explode_gw"]
