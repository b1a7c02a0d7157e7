"""UNODC GLOTIP: detected trafficking victims (total, by sex, age and form), prosecutions, convictions.

Values are published as text: ``1,269`` and ``<5``. A ``<N`` value is stored as ``value = N`` with
``censored = True``, meaning "fewer than N"; the model decides how to use it (DESIGN §5).

**Releases.** UNODC republishes the whole series with each Global Report and revises past values (France 2017:
198 in the 2023 release, 1,456 in the April 2025 one). Every folder ``data/raw/unodc_glotip*`` is read, and
each
file is one release, identified by :func:`release_of` (a ``YYYY-MM-DD`` date in the file name, or the two
shipped
file names). For each key the newest release wins; the older rows are quarantined as ``superseded``, naming
the
release, file and row that replaced them. Each loaded file records its release in ``source_load.release``.

**Citizenship pairs.** Rows 'Detected trafficking victims / by citizenship' load into ``glotip_pair`` (one row
per
detecting country, citizenship and year) and the census ``glotip_reporting``, with categories resolved only by
exact names and the reviewed table of :mod:`etl.sources.glotip_citizenship`. Precedence for pairs is per
detecting country-year: the newest release that reports a breakdown for that country-year supplies all of it,
so a citizenship reclassified between releases (Angola 2017: 'Congo' -> DR Congo) is not counted twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from etl.contract import (
    REJECT,
    REJECT_DETAIL,
    ROW,
    ContractError,
    finite_numbers,
    read_text_table,
    reject,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import FILE, IndicatorDef, Source, mark_unused, year_start
from etl.sources.glotip_citizenship import resolve_category
from warehouse.io import bulk_insert_frame
from warehouse.schema import glotip_pair, glotip_reporting, source_load

log = logging.getLogger(__name__)

COLUMNS = [
    "Iso3_code",
    "Country",
    "Indicator",
    "Dimension",
    "Category",
    "Sex",
    "Age",
    "Year",
    "Unit of measurement",
    "txtVALUE",
]
_CENSORED = re.compile(r"^<\s*(\d+(?:\.\d+)?)$")

VICTIMS = "Detected trafficking victims"
CITIZENSHIP = "by citizenship"
FOLDER_PREFIX = "unodc_glotip"
# Release date in a file name, e.g. glotip_2026-03-31.csv
_RELEASE_IN_NAME = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
# The shipped files are named by their data years; their releases are the portal export stamps (SOURCE.md).
SHIPPED_RELEASES = {"glotip_2003_2018.csv.gz": "2023-05-30", "glotip_2003_2020.csv.gz": "2025-04-14"}
# UNODC's own regional codes, published with an empty country name.
UNODC_REGION_CODES = frozenset({"CAR", "CAS", "EEU", "MCA", "MCN", "SAF", "SAM", "WCE", "NAF", "EAP", "SAS"})
AGE_CODES = {"0 to 17 years": "minor", "18 years or over": "adult"}
SEX_CODES = {"Female": "female", "Male": "male"}
FORM_CODES = {
    "Sexual exploitation": "sexual",
    "Forced labour": "forced_labour",
    "Other forms of exploitation": "other_forms",
}


def _ind(code: str, family: str, description: str) -> IndicatorDef:
    return IndicatorDef(
        code, family, "persons", "higher_is_riskier" if family == "trafficking" else "neutral", description
    )


INDICATORS = (
    _ind(
        "trafficking.victims_detected",
        "trafficking",
        "Detected victims of trafficking in persons (UNODC GLOTIP), all",
    ),
    *[
        _ind(
            f"trafficking.victims_detected.{s}", "trafficking", f"Detected trafficking victims, {lab.lower()}"
        )
        for lab, s in SEX_CODES.items()
    ],
    *[
        _ind(f"trafficking.victims_detected.{a}", "trafficking", f"Detected trafficking victims aged {lab}")
        for lab, a in AGE_CODES.items()
    ],
    *[
        _ind(
            f"trafficking.victims_detected.{s}_{a}",
            "trafficking",
            f"Detected trafficking victims, {sl.lower()}, aged {al}",
        )
        for sl, s in SEX_CODES.items()
        for al, a in AGE_CODES.items()
    ],
    *[
        _ind(
            f"trafficking.victims_detected.form.{f}",
            "trafficking",
            f"Detected trafficking victims by form of exploitation: {lab.lower()} (sub-forms summed)",
        )
        for lab, f in FORM_CODES.items()
    ],
    _ind(
        "detection.persons_prosecuted",
        "detection",
        "Persons prosecuted for trafficking in persons (UNODC GLOTIP)",
    ),
    _ind(
        "detection.persons_convicted",
        "detection",
        "Persons convicted of trafficking in persons (UNODC GLOTIP)",
    ),
)


def parse_count(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """'1,269' -> (1269, False); '<5' -> (5, True). Returns value, censored, is_bad."""
    clean = text.astype(str).str.strip()
    match = clean.str.extract(_CENSORED)[0]
    censored = match.notna()
    plain = finite_numbers(clean.str.replace(",", "", regex=False))  # "inf", "NaN", "1e309" are bad
    value = plain.where(~censored, finite_numbers(match))
    bad = value.isna() | (value < 0)
    return value.astype(float), censored, bad


def release_of(path: Path) -> str:
    """The release (ISO date of the portal export) a file belongs to, from its name; else a ContractError.

    The CSVs carry no release stamp of their own (the portal's banner rows were dropped in conversion), and
    the last data year is no guide (a held-out split of an older release can reach later years), so the
    release must be named: ``glotip_<YYYY-MM-DD>.csv[.gz]``, or one of the two shipped file names.
    """
    path = Path(path)
    found = _RELEASE_IN_NAME.search(path.name)
    if found:
        try:
            return dt.date.fromisoformat(found.group(1)).isoformat()
        except ValueError:
            raise ContractError(
                path, f"'{found.group(1)}' in the file name is not a valid release date (expected YYYY-MM-DD)"
            ) from None
    if path.name in SHIPPED_RELEASES:
        return SHIPPED_RELEASES[path.name]
    raise ContractError(
        path,
        "cannot tell which GLOTIP release this file is: put the release date of the "
        "dataUNODC export in its name, e.g. glotip_2026-03-31.csv",
    )


@register
class UnodcGlotip(Source):
    name = "unodc_glotip"
    title = "UNODC Global Report on Trafficking in Persons (GLOTIP) data"
    publisher = "United Nations Office on Drugs and Crime (UNODC)"
    licence = "UNODC data-portal terms (reuse with attribution)"
    coverage = (
        "releases 2023-05-30 (2003-2018) and 2025-04-14 (2003-2020); 206 countries/territories; "
        "victims by citizenship as detecting x citizenship pairs"
    )
    folder = "unodc_glotip"
    file_patterns = ("glotip_*.csv.gz", "glotip_*.csv", "data_glotip*.csv")
    indicators = INDICATORS
    keeps_releases = True

    def folders(self, raw_dir: Path | None = None) -> list[str]:
        """``unodc_glotip`` and every ``unodc_glotip_*`` folder (one per release, e.g.
        ``unodc_glotip_2025``)."""
        if raw_dir is None or not Path(raw_dir).is_dir():
            return [self.folder]
        extra = sorted(p.name for p in Path(raw_dir).glob(f"{FOLDER_PREFIX}_*") if p.is_dir())
        return [self.folder, *extra]

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_release"] = release_of(path)
        for col in ("Indicator", "Dimension", "Category", "Sex", "Age", "Iso3_code", "Country"):
            frame[col] = frame[col].astype(str).str.strip()
        value, censored, bad = parse_count(frame["txtVALUE"])
        frame["_value"] = value
        frame["_censored"] = censored
        reject(
            frame,
            bad,
            "invalid_number",
            "column 'txtVALUE': '"
            + frame["txtVALUE"].astype(str).str.slice(0, 40)
            + "' is not a count such as '1,269' or '<5'",
        )
        frame["_year"] = pd.to_numeric(frame["Year"].str.strip(), errors="coerce")
        reject(
            frame,
            frame["_year"].isna() | (frame["_year"] % 1 != 0),
            "invalid_number",
            "column 'Year': '" + frame["Year"].astype(str) + "' is not a year",
        )
        reject(
            frame,
            (frame["_year"] < 1990) | (frame["_year"] > 2100),
            "out_of_range",
            "column 'Year': " + frame["Year"].astype(str) + " is outside 1990-2100",
        )
        unit_bad = frame["Unit of measurement"].str.strip() != "Counts"
        reject(
            frame,
            unit_bad,
            "unexpected_unit",
            "column 'Unit of measurement': '"
            + frame["Unit of measurement"].astype(str)
            + "', expected 'Counts'",
        )
        frame["_indicator"] = self._indicator(frame)
        frame["_pair"] = (
            (frame["Indicator"] == VICTIMS)
            & (frame["Dimension"] == CITIZENSHIP)
            & (frame["Sex"] == "Total")
            & (frame["Age"] == "Total")
        )
        mark_unused(
            frame,
            frame["_indicator"].isna() & ~frame["_pair"],
            "out_of_scope",
            "breakdown not used by the product: "
            + frame["Indicator"]
            + " / "
            + frame["Dimension"]
            + " / "
            + frame["Category"]
            + " / "
            + frame["Sex"]
            + " / "
            + frame["Age"],
        )
        region_rows = frame["Iso3_code"].isin(UNODC_REGION_CODES) & (frame["Country"] == "")
        reject(
            frame,
            region_rows,
            "aggregate",
            "column 'Iso3_code': '" + frame["Iso3_code"] + "' is a UNODC regional aggregate, not a country",
        )
        self._reject_conflicts(frame)
        return frame

    @staticmethod
    def _indicator(frame: pd.DataFrame) -> pd.Series:
        ind, dim, cat, sex, age = (frame[c] for c in ("Indicator", "Dimension", "Category", "Sex", "Age"))
        out = pd.Series(None, index=frame.index, dtype=object)
        total = (dim == "Total") & (cat == "Total")
        victims = ind == VICTIMS
        out[victims & total & (sex == "Total") & (age == "Total")] = "trafficking.victims_detected"
        for lab, code in SEX_CODES.items():
            out[victims & total & (sex == lab) & (age == "Total")] = f"trafficking.victims_detected.{code}"
        for lab, code in AGE_CODES.items():
            out[victims & total & (sex == "Total") & (age == lab)] = f"trafficking.victims_detected.{code}"
        for sl, s in SEX_CODES.items():
            for al, a in AGE_CODES.items():
                out[victims & total & (sex == sl) & (age == al)] = f"trafficking.victims_detected.{s}_{a}"
        forms = victims & (dim == "by form of exploitation") & (sex == "Total") & (age == "Total")
        for lab, code in FORM_CODES.items():
            out[forms & (cat == lab)] = f"trafficking.victims_detected.form.{code}"
        all_total = total & (sex == "Total") & (age == "Total")
        out[(ind == "Persons prosecuted") & all_total] = "detection.persons_prosecuted"
        out[(ind == "Persons convicted") & all_total] = "detection.persons_convicted"
        return out

    @staticmethod
    def _reject_conflicts(frame: pd.DataFrame) -> None:
        """Same key twice: identical copies keep the first; conflicting values are ambiguous, so all go.

        'Other forms of exploitation' legitimately repeats (sub-forms share one label) and is summed later.
        """
        ok = frame[REJECT].isna() & (frame["_indicator"].notna())
        summed = frame["_indicator"] == "trafficking.victims_detected.form.other_forms"
        keys = ["Iso3_code", "Country", "_indicator", "_year", "_release"]
        sub = frame[ok & ~summed]
        dup_any = sub.duplicated(subset=keys, keep=False)
        if not dup_any.any():
            return
        groups = sub[dup_any].groupby(keys, dropna=False)
        for _, grp in groups:
            values = set(zip(grp["_value"], grp["_censored"], strict=True))
            rows = grp[ROW].tolist()
            if len(values) == 1:
                later = grp.index[1:]
                frame.loc[later, REJECT] = "duplicate"
                frame.loc[later, REJECT_DETAIL] = f"duplicate of row {rows[0]} (same key and value)"
            else:
                frame.loc[grp.index, REJECT] = "conflicting_duplicate"
                frame.loc[grp.index, REJECT_DETAIL] = (
                    f"rows {rows} give different values {sorted(grp['txtVALUE'].tolist())} for the same "
                    "country, year and breakdown; none can be chosen"
                )

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_code(parsed, "Iso3_code", name_column="Country")
        indicator_rows = parsed["_indicator"].notna()
        supersede(parsed, indicator_rows, ["_region_id", "_indicator", "_year"])
        self._reject_conflicts(parsed)  # the same key twice within one release, across its files
        self._map_pairs(parsed, ctx)
        ok = parsed[parsed[REJECT].isna() & indicator_rows].copy()
        ok["period_start"] = year_start(ok["_year"])
        grouped = ok.groupby(["_region_id", "period_start", "_indicator"], as_index=False).agg(
            value=("_value", "sum"), censored=("_censored", "any"), **{FILE: (FILE, "first")}
        )
        # A sum that includes a '<5' part is censored; its stored value is then an upper bound.
        return pd.DataFrame(
            {
                "region_id": grouped["_region_id"],
                "period_start": grouped["period_start"],
                "period_type": "year",
                "indicator": grouped["_indicator"],
                "value": grouped["value"].astype(float),
                "censored": grouped["censored"].astype(bool),
                FILE: grouped[FILE],
            }
        )

    @staticmethod
    def _map_pairs(parsed: pd.DataFrame, ctx) -> None:
        """Resolve citizenship categories of pair rows; reject aggregates, unknown names, superseded and
        twins."""
        pair = parsed["_pair"].astype(bool) & parsed[REJECT].isna()
        parsed["_citizenship"] = None
        parsed["_nationals"] = False
        if not pair.any():
            return
        resolved = {c: resolve_category(c) for c in parsed.loc[pair, "Category"].unique()}
        res = parsed.loc[pair, "Category"].map(resolved)
        nationals = res.map(lambda r: r.nationals)
        iso3 = res.map(lambda r: r.iso3).where(~nationals, parsed.loc[pair, "_region_id"])
        parsed.loc[pair, "_citizenship"] = iso3
        parsed.loc[pair, "_nationals"] = nationals.astype(bool)
        for code in ("aggregate", "unknown_country"):
            bad = pd.Series(False, index=parsed.index)
            bad[pair] = res.map(lambda r, c=code: r.reason_code == c).astype(bool)
            reject(
                parsed,
                bad,
                code,
                lambda rows: "column 'Category': " + rows["Category"].map(lambda c: resolved[c].reason),
            )
        no_region = pair & parsed["_citizenship"].notna() & ~parsed["_citizenship"].isin(ctx.country_ids)
        reject(
            parsed,
            no_region,
            "no_region",
            lambda rows: "column 'Category': citizenship ISO3 '"
            + rows["_citizenship"].astype(str)
            + "' has no region in the warehouse",
        )
        # the detecting country is the self-pair too: nationals listed under the country's own name
        parsed["_nationals"] = parsed["_nationals"] | (parsed["_citizenship"] == parsed["_region_id"])
        pair = parsed["_pair"].astype(bool)
        supersede(parsed, pair, ["_region_id", "_year"])
        _reject_twins(parsed, pair & parsed[REJECT].isna(), ["_region_id", "_citizenship", "_year"])

    def write_extra(self, conn, parsed: pd.DataFrame, load_ids: dict[str, int], ctx) -> None:
        """Record each file's release; replace the citizenship pairs and the reporting census."""
        for name, load_id in load_ids.items():
            release = parsed.loc[parsed[FILE] == name, "_release"]
            if len(release):
                conn.execute(
                    source_load.update()
                    .where(source_load.c.load_id == load_id)
                    .values(release=str(release.iloc[0]) or None)
                )
        conn.execute(glotip_reporting.delete())
        conn.execute(glotip_pair.delete())
        pairs = pair_frame(parsed)
        if pairs.empty:
            return
        pairs["load_id"] = pairs.pop(FILE).map(load_ids).astype(int)
        census = reporting_census(pairs)
        bulk_insert_frame(conn, glotip_pair, pairs)
        bulk_insert_frame(conn, glotip_reporting, census)


_KEY_NAMES = {"_region_id": "country", "_indicator": "indicator", "_year": "year"}


def supersede(frame: pd.DataFrame, rows: pd.Series, keys: list[str]) -> None:
    """Among accepted ``rows``, a key present in a newer release makes its older rows ``superseded``."""
    ok = rows.astype(bool) & frame[REJECT].isna()
    if not ok.any() or frame.loc[ok, "_release"].nunique() < 2:
        return
    sub = frame.loc[ok, [*keys, "_release", FILE, ROW]]
    newest = sub.groupby(keys, dropna=False)["_release"].transform("max")
    old = sub[sub["_release"] < newest]
    if old.empty:
        return
    winners = sub[sub["_release"] == newest].drop_duplicates(keys).set_index(keys)[[FILE, ROW, "_release"]]
    won = winners.reindex(pd.MultiIndex.from_frame(old[keys]) if len(keys) > 1 else old[keys[0]])
    detail = (
        "superseded by release "
        + won["_release"].astype(str).to_numpy()
        + " ("
        + won[FILE].astype(str).to_numpy()
        + ", row "
        + won[ROW].astype("Int64").astype(str).to_numpy()
        + ") for the same "
        + ", ".join(_KEY_NAMES.get(k, k) for k in keys)
    )
    frame.loc[old.index, REJECT] = "superseded"
    frame.loc[old.index, REJECT_DETAIL] = pd.Series(detail, index=old.index)


def _reject_twins(frame: pd.DataFrame, rows: pd.Series, keys: list[str]) -> None:
    """One pair listed twice in a release (e.g. 'Nationals' and the country's own name): same value keeps the
    first; different values are ambiguous, so all go."""
    sub = frame[rows]
    dup = sub.duplicated(subset=keys, keep=False)
    if not dup.any():
        return
    for _, grp in sub[dup].groupby(keys, dropna=False):
        values = set(zip(grp["_value"], grp["_censored"], strict=True))
        listed = [f"row {r} '{c}'" for r, c in zip(grp[ROW], grp["Category"], strict=True)]
        if len(values) == 1:
            frame.loc[grp.index[1:], REJECT] = "duplicate"
            frame.loc[grp.index[1:], REJECT_DETAIL] = f"same pair and value as {listed[0]}"
        else:
            frame.loc[grp.index, REJECT] = "conflicting_duplicate"
            frame.loc[grp.index, REJECT_DETAIL] = (
                f"{', '.join(listed)} give different values "
                f"{sorted(grp['txtVALUE'].tolist())} for the same pair"
            )


def pair_frame(parsed: pd.DataFrame) -> pd.DataFrame:
    """Accepted citizenship rows as ``glotip_pair`` records (plus the file name, for the load id)."""
    if "_pair" not in parsed.columns:
        return pd.DataFrame()
    ok = parsed[parsed["_pair"].astype(bool) & parsed[REJECT].isna()]
    return pd.DataFrame(
        {
            "detecting_iso3": ok["_region_id"].astype(str),
            "citizenship_iso3": ok["_citizenship"].astype(str),
            "year": ok["_year"].astype(int),
            "victims": ok["_value"].astype(float),
            "censored": ok["_censored"].astype(bool),
            "is_nationals": ok["_nationals"].astype(bool),
            "release": ok["_release"].astype(str),
            FILE: ok[FILE],
        }
    ).reset_index(drop=True)


def reporting_census(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per detecting country-year with at least one listed citizenship (pairs come from one
    release)."""
    return pairs.groupby(["detecting_iso3", "year"], as_index=False).agg(
        n_citizenships=("citizenship_iso3", "nunique"),
        release=("release", "max"),
        load_id=("load_id", "first"),
    )


__all__ = ["UnodcGlotip", "np", "pair_frame", "parse_count", "release_of", "reporting_census", "supersede"]
