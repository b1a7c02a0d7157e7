"""IOM DTM public API (admin levels 0-2, as compiled for HDX): IDPs present -> country-year and admin-1 ×
year.

Files: one CSV.gz per extract of the HDX scraper (``dtm_api_admin0_2_<countries>_snapshot<YYYY-MM>.csv.gz``),
an HXL hashtag row on line 2 (skipped, not counted). One row = one IDP figure for an operation × admin
unit × reporting date (round); the 2025 extract also splits figures by displacement reason and origin.

Rules, in the order they are applied (every row not used is rejected with its reason):

1. ``admin-2`` rows are ``out_of_scope`` (the admin-0 and admin-1 figures are published separately).
2. A country in two extracts (Haiti): the newer extract (snapshot in the file name) wins. Older rows for a
   (country, level, operation, reporting date) that the newer extract also reports are ``duplicate``;
   DTM ``id`` values are not stable between extracts (the 2025 one splits rows by reason), so the id alone
   cannot pair them. Within a file, a repeated (level, ``id``) is a ``duplicate``.
3. Where a baseline assessment (``BA``) and a site assessment (``SA``) report the same unit and date, the
   ``SA`` figure (IDPs in sites, part of the baseline) is ``out_of_scope``.
4. One operation per country and year, so overlapping operations are never summed (Sudan: "Darfur
   conflict" vs "Armed Clashes in Sudan" and its "(Overview)"/"(Monthly)" series): the operation named
   overview/countrywide first, then "(Monthly)", then any other; ties go to the operation with the latest
   reporting date in the year, then the larger admin-0 figure. Other operations' rows that year are
   ``out_of_scope``. (Caveat: in years with two distinct crises, e.g. Haiti 2016, this undercounts.)
5. Several rounds per year: per unit, the latest reporting date in the year is the year's value;
   earlier rounds are ``out_of_scope``.
6. The remaining rows of a unit and date are **summed** (reason/origin splits, and several DTM units
   that match one Natural Earth unit).

Admin-0 rows give ``displacement.dtm_idps`` for the country; admin-1 rows are matched by ``admin1Name``
to a Natural Earth admin-1 unit of the same country (:mod:`etl.admin_names`); unmatched names are
rejected as ``unmatched_admin1``. Period: the calendar year of ``reportingDate``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from etl.admin_names import Admin1Matcher, reject_reason
from etl.contract import (
    FILE,
    REJECT,
    ContractError,
    parse_number,
    read_text_table,
    reject,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import IndicatorDef, Source, mark_unused

log = logging.getLogger(__name__)

COLUMNS = [
    "id",
    "operation",
    "admin0Name",
    "admin0Pcode",
    "admin1Name",
    "admin1Pcode",
    "admin2Name",
    "admin2Pcode",
    "numPresentIdpInd",
    "reportingDate",
    "assessmentType",
]
DTM_IDPS = IndicatorDef(
    "displacement.dtm_idps",
    "displacement",
    "persons",
    "higher_is_riskier",
    "IDP individuals present (IOM Displacement Tracking Matrix). DTM API: one operation per country-year, "
    "latest round in the year per unit. South Sudan admin-1: Mobility Tracking R16 locations summed "
    "(collected Dec 2024-Feb 2025, stored as 2025).",
)
_SNAPSHOT = re.compile(r"snapshot[_-]?(\d{4})-(\d{2})")
_OVERVIEW = re.compile(r"overview|countrywide|country-wide|national", re.IGNORECASE)
_MONTHLY = re.compile(r"monthly", re.IGNORECASE)


def drop_hxl_row(frame: pd.DataFrame, column: str, path: Path) -> pd.DataFrame:
    """Drop the HXL hashtag row under the header (not data, not counted); warn if it is missing."""
    if len(frame) and str(frame[column].iloc[0]).strip().startswith("#"):
        frame = frame.iloc[1:].reset_index(drop=True)
    else:
        log.warning("%s: no HXL hashtag row under the header; reading all rows as data", Path(path).name)
    if len(frame) == 0:
        raise ContractError(path, "file has a header but no data rows")
    return frame


def snapshot_key(name: str) -> str:
    """Sortable extract date from the file name ('2024-09'); files without one sort first."""
    m = _SNAPSHOT.search(name)
    return f"{m.group(1)}-{m.group(2)}" if m else "0000-00"


@register
class IomDtmApi(Source):
    name = "iom_dtm_api"
    title = "IOM DTM API: IDPs at admin levels 0-2 (HDX 'Global IOM DTM data for admin levels 0-2')"
    publisher = "International Organization for Migration (IOM), Displacement Tracking Matrix"
    licence = "CC BY-IGO (HDX); attribution to IOM DTM"
    coverage = "Iraq, Sudan, Haiti, Afghanistan, Chad; 2010-2025, irregular rounds"
    folder = "iom_dtm_api"
    file_patterns = ("dtm_api_admin0_2_*.csv.gz", "dtm_api_admin0_2_*.csv")
    level = "admin1"
    indicators = (DTM_IDPS,)

    def parse(self, path: Path) -> pd.DataFrame:
        path = Path(path)
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame = drop_hxl_row(frame, "operation", path)
        for col in COLUMNS:
            frame[col] = frame[col].astype(str).str.strip()
        frame["_value"] = parse_number(frame, "numPresentIdpInd", allow_blank=False, minimum=0)
        frame["_date"] = pd.to_datetime(
            frame["reportingDate"].str.slice(0, 10), format="%Y-%m-%d", errors="coerce"
        )
        reject(
            frame,
            frame["_date"].isna(),
            "invalid_date",
            "column 'reportingDate': '" + frame["reportingDate"] + "' is not a date (YYYY-MM-DD...)",
        )
        has2 = (frame["admin2Name"] != "") | (frame["admin2Pcode"] != "")
        has1 = (frame["admin1Name"] != "") | (frame["admin1Pcode"] != "")
        frame["_level"] = np.where(has2, 2, np.where(has1, 1, 0))
        mark_unused(
            frame,
            frame["_level"] == 2,
            "out_of_scope",
            "admin-2 detail not used (admin-0 and admin-1 figures are published separately)",
        )
        reject(frame, frame["operation"] == "", "missing_value", "column 'operation' is empty")
        ok = frame[REJECT].isna() & (frame["id"] != "")
        dup = ok & frame[ok].duplicated(subset=["_level", "id"], keep="first").reindex(
            frame.index, fill_value=False
        )
        reject(
            frame,
            dup,
            "duplicate",
            "repeated DTM id '"
            + frame["id"]
            + "' at admin level "
            + frame["_level"].astype(str)
            + " (first copy kept)",
        )
        frame["_snapshot"] = snapshot_key(path.name)
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_code(parsed, "admin0Pcode", name_column="admin0Name", out="_iso3")
        parsed["_unit"] = np.where(
            parsed["_level"] == 1, parsed["admin1Pcode"] + "|" + parsed["admin1Name"], ""
        )
        self._supersede_older_extracts(parsed)
        self._match_admin1(parsed, ctx)
        self._drop_site_assessments(parsed)
        parsed["_year"] = parsed["_date"].dt.year
        self._one_operation_per_year(parsed)
        self._latest_round(parsed)
        ok = parsed[parsed[REJECT].isna()].copy()
        ok["_target"] = np.where(ok["_level"] == 1, ok["_region_id"], ok["_iso3"])
        grouped = ok.groupby(["_target", "_year"], as_index=False).agg(
            value=("_value", "sum"), **{FILE: (FILE, "last")}
        )
        return pd.DataFrame(
            {
                "region_id": grouped["_target"],
                "period_start": [dt.date(int(y), 1, 1) for y in grouped["_year"]],
                "period_type": "year",
                "indicator": DTM_IDPS.code,
                "value": grouped["value"].astype(float),
                "censored": False,
                FILE: grouped[FILE],
            }
        )

    @staticmethod
    def _supersede_older_extracts(parsed: pd.DataFrame) -> None:
        ok = parsed[REJECT].isna()
        key = ["_iso3", "_level", "operation", "_date"]
        newer = parsed[ok].groupby(key)["_snapshot"].transform("max")
        older = pd.Series(False, index=parsed.index)
        older[newer.index] = parsed.loc[newer.index, "_snapshot"] < newer
        if older.any():
            file_of = parsed[ok].drop_duplicates("_snapshot").set_index("_snapshot")[FILE]
            detail = (
                "superseded by the newer extract "
                + newer.reindex(parsed.index).map(file_of).astype(str)
                + " (same country, admin level, operation and reporting date)"
            )
            reject(parsed, older, "duplicate", detail)

    @staticmethod
    def _match_admin1(parsed: pd.DataFrame, ctx) -> None:
        lvl1 = (parsed["_level"] == 1) & parsed[REJECT].isna()
        parsed["_region_id"] = None
        if not lvl1.any():
            return
        matcher = Admin1Matcher.from_context(ctx)
        res = matcher.match_frame(parsed.loc[lvl1, "_iso3"], parsed.loc[lvl1, "admin1Name"])
        parsed.loc[lvl1, "_region_id"] = res["region_id"]
        names, iso3 = parsed.loc[lvl1, "admin1Name"], parsed.loc[lvl1, "_iso3"]
        detail = reject_reason(names, iso3, res, "admin1Name").reindex(parsed.index)
        amb = pd.Series(False, index=parsed.index)
        amb[lvl1] = (res["method"] == "ambiguous").to_numpy()
        reject(parsed, amb, "ambiguous_admin1", detail)
        reject(parsed, lvl1 & parsed["_region_id"].isna(), "unmatched_admin1", detail)
        methods = res.assign(name=names).drop_duplicates("name")["method"].value_counts().to_dict()
        log.info("DTM API admin-1 name matching (unique names by method): %s", methods)

    @staticmethod
    def _drop_site_assessments(parsed: pd.DataFrame) -> None:
        ok = parsed[REJECT].isna()
        key = ["_iso3", "_level", "_unit", "operation", "_date"]
        has_ba = parsed[ok].assign(_ba=parsed["assessmentType"] == "BA").groupby(key)["_ba"].transform("any")
        sa = pd.Series(False, index=parsed.index)
        sa[has_ba.index] = has_ba & (parsed.loc[has_ba.index, "assessmentType"] != "BA")
        mark_unused(
            parsed,
            sa,
            "out_of_scope",
            "site assessment ("
            + parsed["assessmentType"]
            + ") not used where a baseline assessment (BA) reports the same unit and date",
        )

    @staticmethod
    def _one_operation_per_year(parsed: pd.DataFrame) -> None:
        ok = parsed[parsed[REJECT].isna()]
        if ok.empty:  # every row rejected: an empty groupby-agg fails on Arrow strings (found by fuzzing)
            return
        ops = ok.groupby(["_iso3", "_year", "operation"], as_index=False).agg(last=("_date", "max"))
        adm0 = ok[ok["_level"] == 0].groupby(["_iso3", "_year", "operation"])["_value"].sum().rename("adm0")
        ops = ops.join(adm0, on=["_iso3", "_year", "operation"])
        ops["rank"] = np.where(
            ops["operation"].str.contains(_OVERVIEW),
            0,
            np.where(ops["operation"].str.contains(_MONTHLY), 1, 2),
        )
        ops = ops.sort_values(
            ["_iso3", "_year", "rank", "last", "adm0"],
            ascending=[True, True, True, False, False],
            na_position="last",
        )
        chosen = ops.drop_duplicates(["_iso3", "_year"]).set_index(["_iso3", "_year"])["operation"]
        multi = ops.groupby(["_iso3", "_year"])["operation"].nunique()
        many = multi[multi > 1]
        for (iso3, year), n in zip(many.index.tolist(), many.tolist(), strict=True):
            log.info("DTM API %s %s: %d operations, using '%s'", iso3, year, n, chosen[(iso3, year)])
        pick = pd.Series(list(zip(parsed["_iso3"], parsed["_year"], strict=True)), index=parsed.index).map(
            chosen
        )
        other = parsed[REJECT].isna() & (parsed["operation"] != pick)
        mark_unused(
            parsed,
            other,
            "out_of_scope",
            "operation '"
            + parsed["operation"]
            + "' not used for "
            + parsed["_iso3"].astype(str)
            + " "
            + parsed["_year"].astype("Int64").astype(str)
            + ": '"
            + pick.astype(str)
            + "' is used (one operation per country-year, so overlapping operations are not summed)",
        )

    @staticmethod
    def _latest_round(parsed: pd.DataFrame) -> None:
        ok = parsed[REJECT].isna()
        key = ["_iso3", "_level", "_unit", "_year"]
        latest = parsed[ok].groupby(key)["_date"].transform("max")
        earlier = pd.Series(False, index=parsed.index)
        earlier[latest.index] = parsed.loc[latest.index, "_date"] < latest
        mark_unused(
            parsed,
            earlier,
            "out_of_scope",
            "earlier round ("
            + parsed["_date"].dt.strftime("%Y-%m-%d")
            + "): the latest reporting date in the year per unit is used ("
            + latest.reindex(parsed.index).dt.strftime("%Y-%m-%d").fillna("")
            + ")",
        )


__all__ = ["DTM_IDPS", "IomDtmApi", "drop_hxl_row", "snapshot_key"]
