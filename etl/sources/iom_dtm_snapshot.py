"""IOM DTM admin-1 IDP snapshot of OCHA's HDX DTM visualisation (16 countries, latest rounds 2018-2020).

The file carries no reference date or round: the figures are the latest DTM rounds available when each
country was added to the visualisation (Nov 2018 - Sep 2020). They are stored as **year 2020** under
their own indicator ``displacement.dtm_idps_snapshot`` so that they are never read as a 2020 time-series
value. The header is HXL hashtags only (no second header row).

Country: the name is resolved first, the code second (ISO3, or ISO2-like codes such as ``BF``/``ET`` via
the crosswalk). The file has a misspelt name ("Mozambiaue", which hdx-python-country's fuzzy match
would send to Zambia: a source-local alias fixes it) and a wrong code ("Zimbabwe" rows coded ``ZMB``).
Where name and code disagree, the country whose Natural Earth admin-1 units match the row's admin-1
names wins (Zimbabwe: Manicaland and Masvingo); with no evidence either way the row is rejected as
``conflicting_country``. Admin-1 names are matched with :mod:`etl.admin_names`; operation-area rows such
as Libya's "East"/"West"/"South" have no admin-1 unit and are rejected as ``unmatched_admin1``. Several
rows matching one Natural Earth unit are summed. Rows covering only part of a country are kept.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pandas as pd

from etl.admin_names import Admin1Matcher, reject_reason
from etl.contract import (
    FILE,
    REJECT,
    parse_number,
    read_text_table,
    reject,
    reject_duplicates,
    require_columns,
    strip_column_names,
)
from etl.countries import resolve_code, resolve_name
from etl.sources import register
from etl.sources.base import IndicatorDef, Source

log = logging.getLogger(__name__)

NAME, CODE, ADM1, ADM1_CODE, IDPS = (
    "#country+name",
    "#country+code",
    "#adm1+name",
    "#adm1+code",
    "#affected+idps+ind",
)
HH = "#affected+hh+idps"
COLUMNS = [NAME, CODE, ADM1, ADM1_CODE, IDPS]
PERIOD_YEAR = 2020
# source-local country aliases (to move to etl.countries.ALIASES): misspellings in this file
LOCAL_ALIASES = {"mozambiaue": "MOZ"}
INDICATORS = (
    IndicatorDef(
        "displacement.dtm_idps_snapshot",
        "displacement",
        "persons",
        "higher_is_riskier",
        "IDP individuals by admin-1 unit (IOM DTM via OCHA's HDX DTM visualisation): undated snapshot, "
        "latest DTM rounds 2018-2020, stored as 2020; some countries cover operation areas only",
    ),
)


@register
class IomDtmSnapshot(Source):
    name = "iom_dtm_snapshot"
    title = "IOM DTM admin-1 IDP snapshot (OCHA HDX DTM visualisation data, 2018-2020)"
    publisher = "International Organization for Migration (IOM) DTM, compiled by UN OCHA (HDX)"
    licence = "CC BY-IGO (IOM DTM on HDX); attribution to IOM DTM"
    coverage = "16 countries, 152 admin-1 rows; undated, latest rounds 2018-2020"
    folder = "iom_dtm_api"
    file_patterns = ("dtm_hdx_viz_admin1_idps_snapshot*.csv",)
    level = "admin1"
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        for col in (NAME, CODE, ADM1, ADM1_CODE):
            frame[col] = frame[col].astype(str).str.strip()
        frame["_idps"] = parse_number(frame, IDPS, minimum=0)
        if HH in frame.columns:
            parse_number(frame, HH, minimum=0)
        reject(frame, frame["_idps"].isna(), "missing_value", f"column '{IDPS}' is empty")
        reject(frame, frame[ADM1] == "", "missing_value", f"column '{ADM1}' is empty")
        reject_duplicates(frame, [NAME, CODE, ADM1], "admin-1 unit")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        matcher = Admin1Matcher.from_context(ctx)
        self._resolve_country(parsed, ctx, matcher)
        ok = parsed[REJECT].isna()
        res = matcher.match_frame(parsed.loc[ok, "_region_iso3"], parsed.loc[ok, ADM1])
        parsed["_region_id"] = res["region_id"].reindex(parsed.index)
        detail = reject_reason(parsed.loc[ok, ADM1], parsed.loc[ok, "_region_iso3"], res, ADM1).reindex(
            parsed.index
        )
        amb = pd.Series(False, index=parsed.index)
        amb[ok] = (res["method"] == "ambiguous").to_numpy()
        reject(parsed, amb, "ambiguous_admin1", detail)
        reject(parsed, ok & parsed["_region_id"].isna(), "unmatched_admin1", detail)
        good = parsed[parsed[REJECT].isna()]
        grouped = good.groupby("_region_id", as_index=False).agg(
            value=("_idps", "sum"), **{FILE: (FILE, "first")}
        )
        return pd.DataFrame(
            {
                "region_id": grouped["_region_id"],
                "period_start": dt.date(PERIOD_YEAR, 1, 1),
                "period_type": "year",
                "indicator": INDICATORS[0].code,
                "value": grouped["value"].astype(float),
                "censored": False,
                FILE: grouped[FILE],
            }
        )

    @staticmethod
    def _resolve_country(parsed: pd.DataFrame, ctx, matcher: Admin1Matcher) -> None:
        parsed["_region_iso3"] = None
        pairs = parsed.loc[parsed[REJECT].isna(), [NAME, CODE]].drop_duplicates()
        for name, code in pairs.itertuples(index=False):
            rows = parsed[REJECT].isna() & (parsed[NAME] == name) & (parsed[CODE] == code)
            by_name = LOCAL_ALIASES.get(name.lower()) or resolve_name(name).iso3
            if len(code) == 2:
                by_code = ctx.crosswalk.to_iso3("iso2", code.upper())
            else:
                by_code = resolve_code(code).iso3 if code else None
            if by_name and by_code and by_name != by_code:
                adm1 = parsed.loc[rows, ADM1].tolist()
                hits = {
                    c: sum(m.region_id is not None for m in matcher.match_names(c, adm1).values())
                    for c in (by_name, by_code)
                }
                if hits[by_name] == hits[by_code]:
                    reject(
                        parsed,
                        rows,
                        "conflicting_country",
                        f"name '{name}' is {by_name} but code '{code}' is {by_code}; admin-1 names do not"
                        " decide",
                    )
                    continue
                chosen = max(hits, key=lambda c: hits[c])
                log.warning(
                    "DTM snapshot: name '%s' (%s) and code '%s' (%s) disagree; %s chosen, its admin-1 "
                    "units match %d of %d names",
                    name,
                    by_name,
                    code,
                    by_code,
                    chosen,
                    hits[chosen],
                    len(adm1),
                )
                parsed.loc[rows, "_region_iso3"] = chosen
            elif by_name or by_code:
                parsed.loc[rows, "_region_iso3"] = by_name or by_code
            else:
                reject(
                    parsed, rows, "unknown_country", f"country '{name}' / code '{code}' could not be resolved"
                )
        missing = parsed[REJECT].isna() & ~parsed["_region_iso3"].isin(ctx.country_ids)
        reject(
            parsed, missing, "no_region", "ISO3 '" + parsed["_region_iso3"].astype(str) + "' has no region"
        )


__all__ = ["IomDtmSnapshot", "LOCAL_ALIASES"]
