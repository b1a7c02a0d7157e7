"""UNHCR population statistics: refugees, asylum-seekers, IDPs, stateless people, by origin and by host.

One published row is a stock at the end of ``year`` for one country of origin (``coo``) and one country
of asylum (``coa``). The product needs both views, so each row feeds two sides:

- **origin side** (``coo_iso``): refugees, asylum-seekers, returned refugees and other people in need of
  international protection (OIP) *from* a country, summed over every asylum country (including asylum
  ``Unknown``);
- **host side** (``coa_iso``): refugees, asylum-seekers, stateless people and OIP *in* a country, summed
  over every origin (including origin ``Unknown``, ``Stateless`` and ``Tibetan``);
- ``displacement.idps_unhcr``: UNHCR's IDPs of concern, published on rows where origin = asylum; they
  are credited to the asylum country (rows with origin != asylum carry 0; a non-zero value there would
  be credited to the asylum country too, never dropped).

Countries are resolved from the ISO3 columns, falling back to the name and then to UNHCR's own code
(``coo``/``coa``) through the countrycode crosswalk. ``Unknown`` (``UNK``), ``Stateless`` (``XXA``) and
``Tibetan`` (``TIB``) are origin groups, not countries: such a row is still loaded through its other side,
and its origin-side share is simply not part of any country's origin total (a log line counts it).
A row is rejected only when neither side can be used (reason of the failing side(s) in the detail).

**Pairs** (``displacement_pair``, written by ``write_extra`` in the same transaction): refugees and
asylum-seekers
of origin o in asylum country d, one row per (o, d, year). They are a *second view of loaded rows*, not extra
rows: rows read = loaded + rejected holds per file as before, and a loaded row also counts in the aggregates.
A
loaded row gives no pair when its origin or asylum is not a country (``UNK``, ``XXA``, ``TIB``, an unknown
name),
when origin = asylum (IDP rows), or when both refugees and asylum-seekers are blank; each exclusion is counted
in
the load's log. Two rows that resolve to the same (o, d, year) are summed, as in the aggregates.

Values: ``-`` and blanks are missing (no observation); a row with every used value missing is
``missing_value``; negative counts are ``out_of_range``; a repeated (year, origin, asylum) key is a
``duplicate``. Period: the published figures are end-year stocks (returned refugees: returns during the
year); they are stored with ``period_start`` = 1 January of ``year`` and ``period_type`` = ``year``.
The most recent year in a package release (2025 in version 2025.12.1) is provisional.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

import pandas as pd

from etl.contract import (
    REJECT,
    REJECT_DETAIL,
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
from warehouse.io import bulk_insert_frame
from warehouse.schema import displacement_pair

log = logging.getLogger(__name__)

KEY_COLUMNS = ["year", "coo_name", "coo", "coo_iso", "coa_name", "coa", "coa_iso"]
VALUE_COLUMNS = ["refugees", "asylum_seekers", "returned_refugees", "idps", "stateless", "oip"]
COLUMNS = KEY_COLUMNS + VALUE_COLUMNS

ORIGIN_SIDE = {
    "refugees": "displacement.refugees_by_origin",
    "asylum_seekers": "displacement.asylum_seekers_by_origin",
    "returned_refugees": "displacement.returned_refugees",
    "oip": "displacement.oip_by_origin",
}
HOST_SIDE = {
    "refugees": "displacement.refugees_hosted",
    "asylum_seekers": "displacement.asylum_seekers_hosted",
    "stateless": "displacement.stateless_hosted",
    "oip": "displacement.oip_hosted",
}
IDPS = ("idps", "displacement.idps_unhcr")

# UNHCR origin groups that are not countries (ISO-like code -> what it is). Source-local on purpose:
# the shared alias table maps countries; these are categories of people.
NON_COUNTRY_CODES = {
    "UNK": "'Unknown' (UNK) is UNHCR's unknown-country category, not a country",
    "XXA": "'Stateless' (XXA) is UNHCR's stateless-origin category, not a country",
    "TIB": "'Tibetan' (TIB) is a UNHCR origin group with no country of its own",
}

INDICATORS = (
    IndicatorDef(
        "displacement.refugees_by_origin",
        "displacement",
        "persons",
        "higher_is_riskier",
        "Refugees under UNHCR's mandate originating from the country, end-year, summed over asylum countries",
    ),
    IndicatorDef(
        "displacement.asylum_seekers_by_origin",
        "displacement",
        "persons",
        "higher_is_riskier",
        "Asylum-seekers (pending cases) originating from the country, end-year (UNHCR)",
    ),
    IndicatorDef(
        "displacement.refugees_hosted",
        "displacement",
        "persons",
        "higher_is_riskier",
        "Refugees under UNHCR's mandate hosted by the country, end-year, summed over origins",
    ),
    IndicatorDef(
        "displacement.asylum_seekers_hosted",
        "displacement",
        "persons",
        "higher_is_riskier",
        "Asylum-seekers (pending cases) in the country, end-year (UNHCR)",
    ),
    IndicatorDef(
        "displacement.idps_unhcr",
        "displacement",
        "persons",
        "higher_is_riskier",
        "Internally displaced persons of concern to UNHCR in the country, end-year "
        "(only where UNHCR reports IDPs)",
    ),
    IndicatorDef(
        "displacement.stateless_hosted",
        "displacement",
        "persons",
        "higher_is_riskier",
        "Stateless persons under UNHCR's statelessness mandate in the country, end-year",
    ),
    IndicatorDef(
        "displacement.returned_refugees",
        "displacement",
        "persons",
        "higher_is_riskier",
        "Refugees who returned to the country (of origin) during the year (UNHCR)",
    ),
    IndicatorDef(
        "displacement.oip_by_origin",
        "displacement",
        "persons",
        "higher_is_riskier",
        "Other people in need of international protection originating from the country, end-year "
        "(UNHCR; category exists from 2018)",
    ),
    IndicatorDef(
        "displacement.oip_hosted",
        "displacement",
        "persons",
        "higher_is_riskier",
        "Other people in need of international protection hosted by the country, end-year (UNHCR)",
    ),
)


def resolve_side(frame: pd.DataFrame, ctx, iso_col: str, code_col: str, name_col: str) -> pd.DataFrame:
    """Resolve one side (origin or asylum) without rejecting the row: region_id, reason_code, reason.

    ISO3 (with the name as fallback) first, then UNHCR's own code via the crosswalk.
    """
    keys = [iso_col, code_col, name_col]
    side = frame[keys].drop_duplicates().reset_index(drop=True)  # resolve each distinct entity once
    side[REJECT] = None
    side[REJECT_DETAIL] = None
    ctx.countries_by_code(side, iso_col, name_column=name_col)
    side["region_id"] = side["_region_id"].where(side[REJECT].isna(), None)
    side["reason_code"] = side[REJECT]
    side["reason"] = side[REJECT_DETAIL]
    todo = side["region_id"].isna() & side[code_col].astype(str).str.strip().ne("")
    if todo.any():
        alt = pd.DataFrame({code_col: side.loc[todo, code_col].astype(str).str.strip()})
        alt[REJECT] = None
        alt[REJECT_DETAIL] = None
        ctx.countries_by_scheme(alt, code_col, "unhcr")
        found = alt.index[alt[REJECT].isna() & alt["_region_id"].notna()]
        side.loc[found, "region_id"] = alt.loc[found, "_region_id"]
        side.loc[found, ["reason_code", "reason"]] = None
    iso = side[iso_col].astype(str).str.strip().str.upper()
    for non_country, text in NON_COUNTRY_CODES.items():
        mask = side["region_id"].isna() & (iso == non_country)
        side.loc[mask, "reason_code"] = "not_a_country"
        side.loc[mask, "reason"] = f"column '{iso_col}': {text}"
    out = frame[keys].merge(side[keys + ["region_id", "reason_code", "reason"]], on=keys, how="left")
    out.index = frame.index
    region, code, detail = out["region_id"], out["reason_code"], out["reason"]
    return pd.DataFrame({"region_id": region, "reason_code": code, "reason": detail}, index=frame.index)


def side_observations(frame: pd.DataFrame, region: pd.Series, columns: dict[str, str]) -> pd.DataFrame:
    """Sum the given value columns by (region, year); one observation per non-blank sum."""
    use = region.notna()
    if not use.any():
        return pd.DataFrame(columns=OBSERVATION_COLUMNS)
    value_cols = [f"_{c}" for c in columns]
    keys = [region[use].astype(object).rename("_side_region"), frame.loc[use, "_year"]]
    grouped = frame.loc[use, value_cols].groupby(keys).sum(min_count=1)
    files = frame.loc[use, FILE].groupby(keys).first()
    grouped.columns = [columns[c[1:]] for c in grouped.columns]
    grouped.columns.name = "indicator"
    stacked = cast(
        pd.Series, grouped.stack()
    )  # one column level: stack gives a Series (stubs: Series | DataFrame)
    long = stacked.dropna().rename("value").reset_index()
    long[FILE] = files.reindex(pd.MultiIndex.from_frame(long[["_side_region", "_year"]])).to_numpy()
    grouped = long
    return pd.DataFrame(
        {
            "region_id": grouped["_side_region"].astype(str),
            "period_start": year_start(grouped["_year"]),
            "period_type": "year",
            "indicator": grouped["indicator"],
            "value": grouped["value"].astype(float),
            "censored": False,
            FILE: grouped[FILE],
        }
    )


@register
class UnhcrPopulation(Source):
    name = "unhcr_population"
    title = "UNHCR Refugee Population Statistics: population by origin and asylum country"
    publisher = "UNHCR (Refugee Data Finder, via the UNHCR R package 'refugees')"
    licence = "CC BY 4.0"
    coverage = "Origin x asylum country, end-year stocks 1951-2025 (latest year provisional)"
    folder = "unhcr_population"
    file_patterns = ("population.csv.gz", "population.csv")
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        for col in KEY_COLUMNS:
            frame[col] = frame[col].astype(str).str.strip()
        frame["_year"] = parse_year(frame, "year", minimum=1950, maximum=2100)
        for col in VALUE_COLUMNS:
            frame[f"_{col}"] = parse_number(frame, col, minimum=0)
        values = frame[[f"_{c}" for c in VALUE_COLUMNS]]
        reject(
            frame,
            values.isna().all(axis=1),
            "missing_value",
            f"every value column ({', '.join(VALUE_COLUMNS)}) is blank or '-'",
        )
        reject_duplicates(frame, ["_year", "coo_iso", "coo", "coa_iso", "coa"], what="year/origin/asylum row")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ok = parsed[REJECT].isna()
        origin = resolve_side(parsed, ctx, "coo_iso", "coo", "coo_name")
        host = resolve_side(parsed, ctx, "coa_iso", "coa", "coa_name")
        origin_region = origin["region_id"].where(ok, None)
        host_region = host["region_id"].where(ok, None)

        def present(cols: list[str]) -> pd.Series:
            return parsed[[f"_{c}" for c in cols]].notna().any(axis=1)

        idps = parsed[f"_{IDPS[0]}"]
        idps_row = idps.notna() & ((parsed["coo_iso"] == parsed["coa_iso"]) | (idps > 0))
        uses_origin = origin_region.notna() & present(list(ORIGIN_SIDE))
        uses_host = host_region.notna() & (present(list(HOST_SIDE)) | idps_row)
        unused = ok & ~uses_origin & ~uses_host
        if unused.any():
            # the failing side explains why the row is unusable (asylum first when both fail)
            code = host["reason_code"].fillna(origin["reason_code"]).fillna("missing_value")
            one_side = origin_region.notna() | host_region.notna()
            detail = (
                "origin: "
                + origin["reason"].fillna("resolved to " + origin_region.fillna("?").astype(str))
                + "; asylum: "
                + host["reason"].fillna("resolved to " + host_region.fillna("?").astype(str))
            )
            detail = detail.where(~one_side, detail + "; the resolved side has no value among its indicators")
            for reason in code[unused].unique():
                reject(parsed, unused & (code == reason), str(reason), detail)
        kept = parsed[REJECT].isna()
        lost_origin = kept & origin_region.isna()
        lost_host = kept & host_region.isna()
        if lost_origin.any() or lost_host.any():
            log.info(
                "unhcr_population: %d loaded rows count only on the host side (origin not a country: %s); "
                "%d only on the origin side (asylum not a country: %s)",
                int(lost_origin.sum()),
                {k: int(v) for k, v in origin.loc[lost_origin, "reason_code"].value_counts().items()},
                int(lost_host.sum()),
                {k: int(v) for k, v in host.loc[lost_host, "reason_code"].value_counts().items()},
            )
        # kept for write_extra: the pairs are built from exactly the rows loaded here
        parsed["_origin_region"] = origin_region.where(kept, None)
        parsed["_host_region"] = host_region.where(kept, None)
        parsed["_origin_reason"] = origin["reason_code"]
        numbers = parsed[["_year", FILE] + [f"_{c}" for c in VALUE_COLUMNS]]
        parts = [
            side_observations(numbers, origin_region.where(kept, None), ORIGIN_SIDE),
            side_observations(numbers, host_region.where(kept, None), HOST_SIDE),
            side_observations(numbers, host_region.where(kept & idps_row, None), dict([IDPS])),
        ]
        parts = [p for p in parts if len(p)]
        if not parts:
            return pd.DataFrame(columns=OBSERVATION_COLUMNS)
        return pd.concat(parts, ignore_index=True)

    def write_extra(self, conn, parsed: pd.DataFrame, load_ids: dict[str, int], ctx) -> None:
        """Replace ``displacement_pair`` with this load's origin x asylum pairs (same transaction as the
        load)."""
        conn.execute(displacement_pair.delete())
        pairs, excluded = pair_frame(parsed)
        log.info(
            "unhcr_population: %d origin x asylum pairs from %d loaded rows; loaded rows without a pair: %s",
            len(pairs),
            int(parsed[REJECT].isna().sum()),
            excluded,
        )
        if pairs.empty:
            return
        pairs["load_id"] = pairs.pop(FILE).map(load_ids).astype(int)
        bulk_insert_frame(conn, displacement_pair, pairs)


def pair_frame(parsed: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Loaded rows as ``displacement_pair`` records (plus the file name), and why other loaded rows give none.

    Needs the ``_origin_region``/``_host_region`` columns that :meth:`UnhcrPopulation.to_observations` sets.
    """
    # only the columns used: a row selection of the whole frame (every raw text column) showed in the profile
    used = ["_refugees", "_asylum_seekers", "_origin_region", "_host_region", "_origin_reason", "_year", FILE]
    loaded = parsed.loc[parsed[REJECT].isna(), used]
    values = loaded[["_refugees", "_asylum_seekers"]]
    origin, host = loaded["_origin_region"], loaded["_host_region"]
    excluded: dict[str, int] = {}
    for code, n in loaded.loc[origin.isna(), "_origin_reason"].fillna("no_origin").value_counts().items():
        excluded[f"origin {code}"] = int(n)  # e.g. origin not_a_country: Unknown, Stateless, Tibetan
    no_host = origin.notna() & host.isna()
    self_row = origin.notna() & host.notna() & (origin == host)
    blank = origin.notna() & host.notna() & ~self_row & values.isna().all(axis=1)
    excluded.update(
        {
            "asylum not a country": int(no_host.sum()),
            "origin = asylum (IDP rows)": int(self_row.sum()),
            "refugees and asylum-seekers blank": int(blank.sum()),
        }
    )
    use = origin.notna() & host.notna() & ~self_row & ~blank
    sub = loaded[use]
    keys = [
        sub["_origin_region"].astype(str).rename("origin_iso3"),
        sub["_host_region"].astype(str).rename("asylum_iso3"),
        sub["_year"].astype(int).rename("year"),
    ]
    grouped = sub[["_refugees", "_asylum_seekers"]].groupby(keys).sum(min_count=1)
    merged = int(use.sum()) - len(grouped)
    if merged:
        excluded["summed into another row's pair"] = merged
    out = grouped.rename(columns={"_refugees": "refugees", "_asylum_seekers": "asylum_seekers"}).reset_index()
    out[FILE] = sub[FILE].groupby(keys).first().to_numpy()
    return out, {k: v for k, v in excluded.items() if v}


__all__ = ["UnhcrPopulation", "pair_frame", "resolve_side"]
