"""Democracy scores by Gleditsch-Ward state and year, as compiled by the R package peacesciencer.

Columns: ``gwcode``, ``year``, ``v2x_polyarchy`` (V-Dem electoral democracy, 0..1), ``polity2``
(Polity, -10..10), ``xm_qudsest`` (Unified Democracy Scores posterior mean, about -2.5..3.5).
GW codes are mapped to ISO3 with the shared countrycode crosswalk (``ctx.countries_by_scheme``).
Years before 1946 are ``out_of_scope`` (outside the post-war model window; pre-1946 GW states such as
Bavaria have no present-day region anyway).

Scores are not additive, so two GW states that map to one region in the same year are never summed:
the region keeps the state listed in :data:`CONTINUING_STATE` (West Germany over East Germany 1949-1990,
Serbia over Serbia and Montenegro in 2006, North over South Vietnam 1954-1975, North over South
Yemen 1967-1990); the other state's row is ``out_of_scope`` with the reason. A clash not covered by
that table rejects every clashing row as ``conflicting_duplicate``.

GW codes of entities with no present-day region that remain after 1946 (Tibet 711 until 1950,
Zanzibar 511 in 1963-64) are ``historical_entity`` (source-local table :data:`HISTORICAL_GW`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from etl.context import MappingContext
from etl.contract import (
    REJECT,
    REJECT_DETAIL,
    ROW,
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

COLUMNS = ["gwcode", "year", "v2x_polyarchy", "polity2", "xm_qudsest"]
FIRST_YEAR = 1946
VALUES = {
    "v2x_polyarchy": "structural.vdem_polyarchy",
    "polity2": "structural.polity2",
    "xm_qudsest": "structural.uds_democracy",
}
# region -> the GW code whose score the region keeps when several GW states map to it in one year.
CONTINUING_STATE = {"DEU": "260", "SRB": "340", "VNM": "816", "YEM": "678"}
# Source-local: GW codes with no present-day region (move to the shared crosswalk rules).
HISTORICAL_GW = {"711": "Tibet", "511": "Zanzibar"}


@register
class Democracy(Source):
    name = "democracy"
    title = "Democracy scores (V-Dem polyarchy, Polity2, UDS) by GW state-year, via peacesciencer"
    publisher = (
        "V-Dem Institute; Center for Systemic Peace; Pemstein, Meserve & Melton; compiled by S. Miller"
    )
    licence = "peacesciencer GPL-2; V-Dem CC BY-SA 4.0; Polity free for research; UDS open"
    coverage = "Gleditsch-Ward states, 1816-2020; loaded 1946-2020"
    folder = "covariates_country_year"
    file_patterns = ("peacesciencer_gwcode_democracy.csv",)
    order = 10
    indicators = (
        IndicatorDef(
            "structural.vdem_polyarchy",
            "structural",
            "index 0..1",
            "lower_is_riskier",
            "V-Dem electoral democracy index (v2x_polyarchy)",
        ),
        IndicatorDef(
            "structural.polity2",
            "structural",
            "score -10..10",
            "lower_is_riskier",
            "Polity2 combined democracy-autocracy score (Polity project)",
        ),
        IndicatorDef(
            "structural.uds_democracy",
            "structural",
            "latent score (about -2.5..3.5)",
            "lower_is_riskier",
            "Unified Democracy Scores posterior mean (xm_qudsest)",
        ),
    )

    def parse(self, path: Path) -> pd.DataFrame:
        """Type the three scores with their published ranges; pre-1946 rows are out of scope."""
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["gwcode"] = frame["gwcode"].astype(str)
        frame["_gw"] = frame["gwcode"].str.strip().str.replace(r"\.0$", "", regex=True)
        frame["_year"] = parse_year(frame, "year", minimum=1800)
        frame["_polyarchy"] = parse_number(frame, "v2x_polyarchy", minimum=0, maximum=1)
        frame["_polity2"] = parse_number(frame, "polity2", minimum=-10, maximum=10)
        frame["_uds"] = parse_number(frame, "xm_qudsest", minimum=-5, maximum=5)
        mark_unused(
            frame,
            frame["_year"] < FIRST_YEAR,
            "out_of_scope",
            "year " + frame["year"].astype(str) + f" is before {FIRST_YEAR}, outside the model window",
        )
        reject(
            frame,
            frame[["_polyarchy", "_polity2", "_uds"]].isna().all(axis=1),
            "missing_value",
            "columns 'v2x_polyarchy', 'polity2' and 'xm_qudsest' are all empty",
        )
        reject_duplicates(frame, ["_gw", "_year"], "GW state-year")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx: MappingContext) -> pd.DataFrame:
        """GW code -> region via the crosswalk; resolve successor clashes; one observation per score."""
        for gw, label in HISTORICAL_GW.items():
            reject(
                parsed,
                parsed["_gw"] == gw,
                "historical_entity",
                f"column 'gwcode': GW {gw} ({label}) has no present-day region",
            )
        ctx.countries_by_scheme(parsed, "_gw", "gw")
        self._resolve_clashes(parsed)
        ok = parsed[REJECT].isna()
        parsed["_period_start"] = None
        parsed.loc[ok, "_period_start"] = year_start(parsed.loc[ok, "_year"])
        return long_observations(
            parsed,
            {
                "_polyarchy": VALUES["v2x_polyarchy"],
                "_polity2": VALUES["polity2"],
                "_uds": VALUES["xm_qudsest"],
            },
        )

    @staticmethod
    def _resolve_clashes(frame: pd.DataFrame) -> None:
        ok = frame[REJECT].isna()
        keys = ["_region_id", "_year"]
        clash = ok & frame[ok].duplicated(subset=keys, keep=False).reindex(frame.index, fill_value=False)
        if not clash.any():
            return
        keep_gw = frame["_region_id"].map(CONTINUING_STATE)
        known = clash & keep_gw.notna()
        drop = known & (frame["_gw"] != keep_gw)
        sub = frame[drop]
        detail = (
            "GW "
            + sub["_gw"]
            + " and GW "
            + keep_gw[drop].astype(str)
            + " both map to region "
            + sub["_region_id"].astype(str)
            + " in "
            + sub["_year"].astype(str)
            + "; scores are not additive, the region keeps the continuing state GW "
            + keep_gw[drop].astype(str)
        )
        reject(frame, drop, "out_of_scope", detail.reindex(frame.index))
        left = frame[REJECT].isna() & clash
        still = frame[left].duplicated(subset=keys, keep=False)
        for _, grp in frame[left][still].groupby(keys):
            frame.loc[grp.index, REJECT] = "conflicting_duplicate"
            frame.loc[grp.index, REJECT_DETAIL] = (
                f"GW states {sorted(grp['_gw'])} (rows {grp[ROW].tolist()}) all map to region "
                f"{grp['_region_id'].iloc[0]} in {grp['_year'].iloc[0]}; no continuing state is defined"
            )


__all__ = ["CONTINUING_STATE", "Democracy"]
