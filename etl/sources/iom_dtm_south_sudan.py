"""IOM DTM South Sudan, Mobility Tracking Round 16 baseline: IDPs and returnees by location -> admin-1 × 2025.

The publisher's format is the Excel workbook (sheet ``MT R16 Baseline_Loc_Dataset``, an HXL hashtag row
under the header); the shipped ``.csv.gz`` is a straight export of that sheet. ``parse`` reads either,
by suffix, and skips the HXL row in both.

Each location is placed in a Natural Earth admin-1 unit by its latitude/longitude (point in polygon
within South Sudan, nearest unit within 25 km for points just outside the simplified borders); the
publisher's ``state_name`` is kept only as a cross-check (logged). Location values are **summed** per
admin-1 unit:

- ``displacement.dtm_idps`` = ``a_idp_inds_ssd`` (IDPs displaced within South Sudan) +
  ``c_idp_prev_abroad_ind`` (IDPs previously abroad); the national sum is 1,992,513 as in the Note sheet.
- ``displacement.dtm_returnees`` = ``i_returnees_internal_present_ind`` + ``k_abroad_ret_ind``;
  national sum 2,963,408 as in the Note sheet.

Period: data were collected December 2024 – February 2025 (published April 2025), stored as year 2025.
The HXL tags of the returnee columns are shifted by one column in the published file, so columns are
read by header name, never by HXL tag.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from etl.contract import (
    FILE,
    REJECT,
    ContractError,
    parse_number,
    read_excel_sheet,
    read_text_table,
    reject,
    reject_duplicates,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import IndicatorDef, Source
from etl.sources.iom_dtm_api import DTM_IDPS
from etl.spatial import DEFAULT_TOLERANCE_KM

log = logging.getLogger(__name__)

SHEET = "MT R16 Baseline_Loc_Dataset"
PERIOD_YEAR = 2025
IDP_COLUMNS = ("a_idp_inds_ssd", "c_idp_prev_abroad_ind")
RETURNEE_COLUMNS = ("i_returnees_internal_present_ind", "k_abroad_ret_ind")
COLUMNS = [
    "Country Code",
    "state_name",
    "location_ssid",
    "mt_round",
    "latitude",
    "longitude",
    *IDP_COLUMNS,
    *RETURNEE_COLUMNS,
]
INDICATORS = (
    DTM_IDPS,
    IndicatorDef(
        "displacement.dtm_returnees",
        "displacement",
        "persons",
        "higher_is_riskier",
        "Returnees present (IOM DTM South Sudan Mobility Tracking R16 baseline: internal returnees + "
        "returnees from abroad), locations summed per admin-1 unit; collected Dec 2024-Feb 2025, "
        "stored as 2025",
    ),
)
_HXL = re.compile(r"^#[a-z]")


def _drop_hxl_row(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The first data row holds HXL hashtags (``#adm1+name``); it is not data and is not counted."""
    if len(frame) and str(frame.iloc[0].get("state_name", "")).startswith("#"):
        return frame.iloc[1:].reset_index(drop=True)
    first = (
        frame.iloc[0].drop(labels=[c for c in frame.columns if str(c).startswith("_")])
        if len(frame)
        else None
    )
    if first is not None and first.astype(str).str.match(_HXL).any():
        return frame.iloc[1:].reset_index(drop=True)
    log.warning("%s: no HXL hashtag row under the header; reading all rows as data", path.name)
    return frame


@register
class IomDtmSouthSudan(Source):
    name = "iom_dtm_south_sudan"
    title = "IOM DTM South Sudan Mobility Tracking Round 16 baseline (location dataset)"
    publisher = "International Organization for Migration (IOM), Displacement Tracking Matrix"
    licence = "CC BY-IGO (IOM DTM on HDX)"
    coverage = "South Sudan, 4,074 locations in 10 states; data collected Dec 2024-Feb 2025"
    folder = "iom_dtm_south_sudan"
    file_patterns = (
        "ssd_dtm_mt_r*_locations.csv.gz",
        "ssd_dtm_mt_r*_locations.csv",
        "ssd-dtm-mobility-tracking-*baseline*dataset*.xlsx",
    )
    level = "admin1"
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        path = Path(path)
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            frame = read_excel_sheet(path, SHEET)
        else:
            frame = read_text_table(path)
        frame = strip_column_names(frame)
        require_columns(frame, COLUMNS, path)
        frame = _drop_hxl_row(frame, path)
        if len(frame) == 0:
            raise ContractError(path, "file has a header and an HXL row but no data rows")
        for col in (*IDP_COLUMNS, *RETURNEE_COLUMNS):
            frame["_" + col] = parse_number(frame, col, minimum=0)
        frame["_lat"] = parse_number(
            frame, "latitude", allow_blank=False, minimum=-90, maximum=90, thousands=False
        )
        frame["_lon"] = parse_number(
            frame, "longitude", allow_blank=False, minimum=-180, maximum=180, thousands=False
        )
        frame["_idps"] = self._sum_if_any(frame, IDP_COLUMNS)
        frame["_returnees"] = self._sum_if_any(frame, RETURNEE_COLUMNS)
        reject(
            frame,
            frame["_idps"].isna() & frame["_returnees"].isna(),
            "missing_value",
            "no IDP or returnee figure in the row",
        )
        frame["location_ssid"] = frame["location_ssid"].astype(str).str.strip()
        reject(frame, frame["location_ssid"] == "", "missing_value", "column 'location_ssid' is empty")
        frame["_round"] = pd.to_numeric(frame["mt_round"].astype(str).str.strip(), errors="coerce")
        reject_duplicates(frame, ["location_ssid", "_round"], "location")
        frame["_iso3"] = frame["Country Code"].astype(str).str.strip().str.upper()
        return frame

    @staticmethod
    def _sum_if_any(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
        parts = frame[["_" + c for c in columns]]
        return parts.sum(axis=1, min_count=1)

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        # the CSV export and the workbook hold the same locations: a location loads once (first file wins)
        reject_duplicates(parsed, ["location_ssid", "_round"], "location")
        ctx.countries_by_code(
            parsed, "Country Code", name_column="Country" if "Country" in parsed else None, out="_country"
        )
        ok = parsed[REJECT].isna()
        assigned = ctx.admin_index.assign(
            parsed.loc[ok, "_lon"].to_numpy(),
            parsed.loc[ok, "_lat"].to_numpy(),
            parsed.loc[ok, "_country"].to_numpy(),
            tolerance_km=DEFAULT_TOLERANCE_KM,
        )
        assigned.index = parsed.index[ok]
        parsed["_region_id"] = assigned["region_id"].reindex(parsed.index)
        parsed["_assign_method"] = assigned["method"].reindex(parsed.index)
        dist = assigned["distance_km"].reindex(parsed.index)
        unassigned = ok & parsed["_region_id"].isna()
        reject(
            parsed,
            unassigned,
            "outside_admin1",
            "point ("
            + parsed["_lat"].astype(str)
            + ", "
            + parsed["_lon"].astype(str)
            + ") lies "
            + dist.round(1).astype(str)
            + f" km from the nearest admin-1 unit of its country (tolerance {DEFAULT_TOLERANCE_KM:g} km)",
        )
        self._log_state_check(parsed, ctx)
        good = parsed[parsed[REJECT].isna()]
        log.info(
            "%s: %d locations assigned (%d by nearest-unit fallback)",
            self.name,
            len(good),
            int((good["_assign_method"] == "nearest").sum()),
        )
        parts = []
        for column, code in (
            ("_idps", "displacement.dtm_idps"),
            ("_returnees", "displacement.dtm_returnees"),
        ):
            sub = good[good[column].notna()]
            agg = sub.groupby("_region_id", as_index=False).agg(
                value=(column, "sum"), **{FILE: (FILE, "first")}
            )
            agg["indicator"] = code
            parts.append(agg)
        out = pd.concat(parts, ignore_index=True)
        return pd.DataFrame(
            {
                "region_id": out["_region_id"],
                "period_start": dt.date(PERIOD_YEAR, 1, 1),
                "period_type": "year",
                "indicator": out["indicator"],
                "value": out["value"].astype(float),
                "censored": False,
                FILE: out[FILE],
            }
        )

    @staticmethod
    def _log_state_check(parsed: pd.DataFrame, ctx) -> None:
        """Cross-check: the share of locations whose point falls in the unit named like their state."""
        good = parsed[parsed[REJECT].isna()]
        if good.empty:
            return
        names = ctx.regions.set_index("region_id")["name"]
        same = (
            good["_region_id"].map(names).astype(str).str.lower()
            == good["state_name"].astype(str).str.lower()
        )
        log.info(
            "DTM SSD: %.1f%% of locations fall in the Natural Earth unit named like their state_name",
            100 * float(np.mean(same)),
        )


__all__ = ["IomDtmSouthSudan"]
