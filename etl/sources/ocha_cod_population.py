"""OCHA COD population statistics (COD-PS) by admin unit -> ``structural.population_admin1`` (T_TL).

Files are the HDX resources as published (``population_<iso3>_<hdx name>.csv``), one per country and
admin level, with different column names per country (``ADM1_FR``, ``ADM1_NAME``, ``admin1Name_fr``,
``Admin1_Name``...), a UTF-8 BOM (BFA, MLI, NGA, TCD), an HXL row (AFG), padded headers (``' T_TL '``)
and ``<Null>`` for empty names (MLI). All are handled here.

Which COD level is Natural Earth's admin-1 differs by country: in Burkina Faso Natural Earth's admin-1
units are the 45 provinces (COD admin-2), elsewhere they are COD admin-1. For each country the level
whose names match more Natural Earth units is used; the other level's rows are ``out_of_scope`` with
that reason. Names are matched with :mod:`etl.admin_names`; unmatched names are ``unmatched_admin1``.
Several COD units that match one Natural Earth unit are summed.

Admin-0 files are read to check that the used level sums to the national total (logged and written in
the admin-0 rows' reason); their rows are ``out_of_scope`` (the country total is not this indicator).

Year: the ``year`` column when present (BFA), else the four-digit year in the file name (AFG 2021,
NGA 2020, TCD 2021), else :data:`DEFAULT_YEARS` (Mali: 2018, the DNP projection year of the COD-PS).
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
    finite_numbers,
    parse_number,
    read_text_table,
    reject,
    reject_duplicates,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import IndicatorDef, Source, mark_unused

log = logging.getLogger(__name__)

NAME_COLUMNS = {
    1: ["ADM1_FR", "ADM1_EN", "ADM1_NAME", "ADM1_PT", "admin1Name_fr", "admin1Name_en", "Admin1_Name"],
    2: ["ADM2_FR", "ADM2_EN", "ADM2_NAME", "ADM2_PT", "admin2Name_fr", "admin2Name_en", "Admin2_Name"],
}
PCODE_COLUMNS = {
    1: ["ADM1_PCODE", "admin1Pcode", "Admin1_Code"],
    2: ["ADM2_PCODE", "admin2Pcode", "Admin2_Code"],
}
COUNTRY_COLUMNS = ["ISO3", "ADM0_PCODE", "admin0Pcode", "Admin0_Code"]
TOTAL = "T_TL"
NULL_MARKERS = ("<Null>", "<NULL>", "NULL", "null")
DEFAULT_YEARS = {"MLI": 2018}
_FILE = re.compile(r"population_([a-z]{3})_.*adm(\d)", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")
INDICATORS = (
    IndicatorDef(
        "structural.population_admin1",
        "structural",
        "persons",
        "neutral",
        "Population (T_TL, both sexes) of the admin-1 unit, OCHA COD-PS (national producers' census "
        "projections); COD units matched to Natural Earth admin-1 by name",
    ),
)


def _first_present(frame: pd.DataFrame, candidates: list[str], path: Path) -> str:
    for col in candidates:
        if col in frame.columns:
            return col
    raise ContractError(path, f"none of the columns {candidates} is present", column=candidates[0])


@register
class OchaCodPopulation(Source):
    name = "ocha_cod_population"
    title = "OCHA Common Operational Datasets: subnational population statistics (COD-PS)"
    publisher = "UN OCHA (HDX) with national statistics offices, UNFPA"
    licence = "CC BY-IGO (BFA, MLI, NGA, TCD), CC BY (AFG)"
    coverage = "Afghanistan 2021, Burkina Faso 2023, Mali 2018, Nigeria 2020, Chad 2021"
    folder = "ocha_cod_population"
    file_patterns = ("population_*_adm0*.csv", "population_*_adm1*.csv", "population_*_adm2*.csv")
    level = "admin1"
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        path = Path(path)
        m = _FILE.search(path.name)
        if not m:
            raise ContractError(
                path,
                "file name does not say the country and level "
                "(expected population_<iso3>_..._adm<0|1|2>...csv)",
            )
        iso3, level = m.group(1).upper(), int(m.group(2))
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, [TOTAL], path)
        country_col = _first_present(frame, COUNTRY_COLUMNS, path)
        name_col = _first_present(frame, NAME_COLUMNS[level], path) if level in NAME_COLUMNS else None
        if len(frame) and str(frame[TOTAL].iloc[0]).strip().startswith("#"):
            frame = frame.iloc[1:].reset_index(drop=True)  # HXL hashtag row, not data
            if len(frame) == 0:
                raise ContractError(path, "file has a header and an HXL row but no data rows")
        frame["_level"] = level
        frame["_file_iso3"] = iso3
        frame["_country_code"] = frame[country_col].astype(str).str.strip().str.upper()
        frame["_name"] = (
            frame[name_col].astype(str).str.strip().replace(list(NULL_MARKERS), "") if name_col else ""
        )
        frame["_value"] = parse_number(frame, TOTAL, allow_blank=False, minimum=0)
        frame["_year"] = self._year(frame, path, iso3)
        if name_col:
            reject(frame, frame["_name"] == "", "missing_value", f"column '{name_col}' is empty")
            pcode_col = next((c for c in PCODE_COLUMNS[level] if c in frame.columns), name_col)
            reject_duplicates(frame, [pcode_col, "_year"], "admin unit")
        return frame

    @staticmethod
    def _year(frame: pd.DataFrame, path: Path, iso3: str) -> pd.Series:
        if "year" in frame.columns:
            years = finite_numbers(
                frame["year"].astype(str).str.strip()
            )  # 'inf', 'NaN', '1e309' are no years
            ok = years.between(1950, 2100) & (years % 1 == 0)
            reject(
                frame,
                ~ok,
                "invalid_number",
                "column 'year': '" + frame["year"].astype(str) + "' is not a year",
            )
            return years.where(ok).astype("Int64")
        found = _YEAR.findall(path.name)
        year = int(found[-1]) if found else DEFAULT_YEARS.get(iso3)
        if year is None:
            raise ContractError(path, "no 'year' column and no year in the file name", column="year")
        return pd.Series(year, index=frame.index, dtype="Int64")

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        self._resolve_country(parsed, ctx)
        matcher = Admin1Matcher.from_context(ctx)
        sub = parsed[REJECT].isna() & parsed["_level"].isin([1, 2])
        res = matcher.match_frame(parsed.loc[sub, "_iso3"], parsed.loc[sub, "_name"])
        parsed["_region_id"] = res["region_id"].reindex(parsed.index)
        parsed["_method"] = res["method"].reindex(parsed.index)
        chosen = self._choose_level(parsed)
        use = parsed["_level"] == parsed["_iso3"].map(chosen)
        other = sub & ~use
        mark_unused(
            parsed,
            other,
            "out_of_scope",
            "COD admin-"
            + parsed["_level"].astype(str)
            + " not used: Natural Earth admin-1 in "
            + parsed["_iso3"].astype(str)
            + " corresponds to COD admin-"
            + parsed["_iso3"].map(chosen).astype("Int64").astype(str)
            + " (more names match)",
        )
        detail = reject_reason(parsed.loc[sub, "_name"], parsed.loc[sub, "_iso3"], res, "admin name")
        detail = detail.reindex(parsed.index)
        reject(parsed, sub & use & (parsed["_method"] == "ambiguous"), "ambiguous_admin1", detail)
        reject(parsed, sub & use & parsed["_region_id"].isna(), "unmatched_admin1", detail)
        self._check_national_totals(parsed, chosen)
        good = parsed[parsed[REJECT].isna() & parsed["_level"].isin([1, 2])]
        grouped = good.groupby(["_region_id", "_year"], as_index=False).agg(
            value=("_value", "sum"), **{FILE: (FILE, "first")}
        )
        return pd.DataFrame(
            {
                "region_id": grouped["_region_id"],
                "period_start": [dt.date(int(y), 1, 1) for y in grouped["_year"]],
                "period_type": "year",
                "indicator": INDICATORS[0].code,
                "value": grouped["value"].astype(float),
                "censored": False,
                FILE: grouped[FILE],
            }
        )

    @staticmethod
    def _resolve_country(parsed: pd.DataFrame, ctx) -> None:
        """ISO3 from the p-code column (ISO2 prefix such as 'AF', or ISO3), checked against the file name."""
        code = parsed["_country_code"].str.slice(0, 2)
        iso3 = code.map(lambda c: ctx.crosswalk.to_iso3("iso2", c))
        is3 = parsed["_country_code"].str.fullmatch(r"[A-Z]{3}")
        iso3 = iso3.where(~is3, parsed["_country_code"])
        parsed["_iso3"] = iso3
        reject(
            parsed,
            iso3.isna(),
            "unknown_country",
            "country code '" + parsed["_country_code"] + "' is neither ISO3 nor an ISO2 p-code prefix",
        )
        reject(
            parsed,
            iso3.notna() & (iso3 != parsed["_file_iso3"]),
            "conflicting_country",
            "country code '"
            + parsed["_country_code"]
            + "' is "
            + iso3.astype(str)
            + " but the file name says "
            + parsed["_file_iso3"],
        )
        reject(
            parsed,
            parsed[REJECT].isna() & ~iso3.isin(ctx.country_ids),
            "no_region",
            "ISO3 '" + iso3.astype(str) + "' has no region in the warehouse",
        )

    @staticmethod
    def _choose_level(parsed: pd.DataFrame) -> pd.Series:
        ok = parsed[parsed[REJECT].isna() & parsed["_level"].isin([1, 2])]
        hits = ok[ok["_region_id"].notna()].groupby(["_iso3", "_level"])["_region_id"].nunique()
        levels = ok.groupby(["_iso3", "_level"]).size()
        score = pd.DataFrame({"rows": levels, "hits": hits.reindex(levels.index).fillna(0)}).reset_index()
        score = score.sort_values(["_iso3", "hits", "_level"], ascending=[True, False, True])
        chosen = score.drop_duplicates("_iso3").set_index("_iso3")["_level"]
        for iso3, level, rows, hits in score[["_iso3", "_level", "rows", "hits"]].itertuples(
            index=False, name=None
        ):
            log.info(
                "COD-PS %s admin-%d: %d of %d names match Natural Earth admin-1%s",
                iso3,
                level,
                int(hits),
                rows,
                " (used)" if chosen[iso3] == level else "",
            )
        return chosen

    @staticmethod
    def _check_national_totals(parsed: pd.DataFrame, chosen: pd.Series) -> None:
        adm0 = parsed[REJECT].isna() & (parsed["_level"] == 0)
        units = parsed[
            parsed["_level"].isin([1, 2])
            & (parsed["_level"] == parsed["_iso3"].map(chosen))
            & (parsed[REJECT].isna() | parsed[REJECT].isin(["unmatched_admin1", "ambiguous_admin1"]))
        ]
        level_sum = units.groupby(["_iso3", "_year"])["_value"].sum()
        loaded_sum = units[units[REJECT].isna()].groupby(["_iso3", "_year"])["_value"].sum()
        for idx in parsed.index[adm0]:
            key = (parsed.at[idx, "_iso3"], parsed.at[idx, "_year"])
            total = parsed.at[idx, "_value"]
            s, loaded = level_sum.get(key, np.nan), loaded_sum.get(key, np.nan)
            verdict = "equals" if s == total else "differs from"
            msg = (
                f"national total {total:,.0f} of {key[0]} {key[1]}; the COD sub-national units sum to "
                f"{s:,.0f} ({verdict} it), {loaded:,.0f} loaded after name matching"
            )
            (log.info if s == total else log.warning)("COD-PS check: %s", msg)
            parsed.at[idx, REJECT] = "out_of_scope"
            parsed.at[idx, "_reject_detail"] = "admin-0 row used only as a check: " + msg


__all__ = ["DEFAULT_YEARS", "OchaCodPopulation"]
