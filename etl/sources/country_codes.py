"""Country code crosswalk (R package countrycode's ``codelist``) as the warehouse ``country_code`` table.

A reference table, not observations: for each country row with an ISO3 code, one record per scheme
(``gw`` Gleditsch-Ward, ``cow`` Correlates of War, ``unhcr`` UNHCR, ``wb`` World Bank, ``iso2``,
``iso3n`` ISO numeric, zero-padded to three digits as in ISO 3166-1) mapping the code to ISO3, so SQL
users can join any publisher's codes the same way ``ctx.countries_by_scheme`` does.

Rows without ``iso3c`` are historical states (Bavaria, Czechoslovakia, Yugoslavia ...) and are
rejected as ``no_iso3``, except Kosovo, which countrycode leaves without ``iso3c`` but whose World
Bank code is ``XKX``, the code the warehouse uses (source-local :data:`ISO3_ALIASES`). Rows whose
ISO3 has no warehouse region are ``no_region``. The successor conventions of
:class:`etl.countries.Crosswalk` (e.g. GW 265 East Germany -> DEU) are code, not data, and are not
written here. A code that would map to two ISO3 codes in one scheme rejects the later row as
``duplicate``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, delete

from etl.context import MappingContext
from etl.contract import (
    FILE,
    REJECT,
    REJECT_DETAIL,
    ROW,
    read_text_table,
    reject,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import OBSERVATION_COLUMNS, Source
from warehouse.io import bulk_insert
from warehouse.schema import country_code

log = logging.getLogger(__name__)

# scheme -> column of the codelist
SCHEMES = {"gw": "gwn", "cow": "cown", "unhcr": "unhcr", "wb": "wb", "iso2": "iso2c", "iso3n": "iso3n"}
COLUMNS = ["country.name.en", "iso3c", *SCHEMES.values()]
# Source-local: rows with an empty iso3c that the warehouse nevertheless has a region for.
ISO3_ALIASES = {"Kosovo": "XKX"}


@register
class CountryCodes(Source):
    name = "country_codes"
    title = "Country code crosswalk (countrycode codelist): GW, COW, UNHCR, WB, ISO2, ISO numeric -> ISO3"
    publisher = "R package countrycode 1.7.0 (Arel-Bundock, Enevoldsen & Yetman)"
    licence = "GPL-3"
    coverage = "292 country rows incl. historical states"
    folder = "country_codes"
    file_patterns = ("countrycode_codelist.csv",)
    level = "reference"
    order = 1
    indicators = ()

    def parse(self, path: Path) -> pd.DataFrame:
        """Read the codelist; rows with no ISO3 (historical states) are ``no_iso3``."""
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        iso3 = frame["iso3c"].astype(str).str.strip().str.upper()
        name = frame["country.name.en"].astype(str).str.strip()
        iso3 = iso3.mask(iso3 == "", name.map(ISO3_ALIASES).fillna(""))
        frame["_iso3"] = iso3
        reject(
            frame,
            iso3 == "",
            "no_iso3",
            "column 'iso3c': '" + name + "' has no ISO3 code (historical state or non-country)",
        )
        reject(
            frame,
            (iso3 != "") & (iso3.str.len() != 3),
            "invalid_code",
            "column 'iso3c': '" + iso3 + "' is not a three-letter code",
        )
        for scheme, column in SCHEMES.items():
            code = frame[column].astype(str).str.strip()
            if scheme == "iso3n":
                digits = code.str.fullmatch(r"\d{1,3}")
                reject(
                    frame,
                    (code != "") & ~digits,
                    "invalid_code",
                    f"column '{column}': '" + code + "' is not an ISO numeric code",
                )
                code = code.where(~digits, code.str.zfill(3))
            if scheme in ("gw", "cow"):
                code = code.str.replace(r"\.0$", "", regex=True)
            frame["_" + scheme] = code
            self._reject_clashes(frame, scheme)
        return frame

    @staticmethod
    def _reject_clashes(frame: pd.DataFrame, scheme: str) -> None:
        col = "_" + scheme
        ok = frame[REJECT].isna() & (frame[col] != "")
        dup = frame[ok].duplicated(subset=[col], keep="first")
        if not dup.any():
            return
        first = frame[ok].drop_duplicates(subset=[col]).set_index(col)[ROW]
        idx = dup[dup].index
        frame.loc[idx, REJECT] = "duplicate"
        frame.loc[idx, REJECT_DETAIL] = [
            f"{scheme} code '{code}' already maps to ISO3 at row {first[code]}"
            for code in frame.loc[idx, col].astype(str)
        ]

    def to_observations(self, parsed: pd.DataFrame, ctx: MappingContext) -> pd.DataFrame:
        """No observations; rows whose ISO3 has no warehouse region are ``no_region``."""
        no_region = parsed[REJECT].isna() & ~parsed["_iso3"].isin(ctx.country_ids)
        reject(
            parsed,
            no_region,
            "no_region",
            "column 'iso3c': ISO3 '" + parsed["_iso3"].astype(str) + "' has no region in the warehouse",
        )
        return pd.DataFrame(columns=OBSERVATION_COLUMNS)

    def write_extra(
        self, conn: Connection, parsed: pd.DataFrame, load_ids: dict[str, int], ctx: MappingContext
    ) -> None:
        """Replace the ``country_code`` table with one record per (scheme, code) of accepted rows."""
        records = self.code_records(parsed)
        conn.execute(delete(country_code))
        bulk_insert(
            conn,
            country_code,
            [
                {"scheme": r.scheme, "code": r.code, "iso3": r.iso3, "load_id": load_ids[str(r.file)]}
                for r in records.itertuples(index=False)
            ],
        )
        log.info("country_codes: wrote %d codes", len(records))

    @staticmethod
    def code_records(parsed: pd.DataFrame) -> pd.DataFrame:
        """Long (scheme, code, iso3, file) records of accepted rows; blank codes are skipped."""
        ok = parsed[parsed[REJECT].isna()]
        parts = [
            pd.DataFrame(
                {
                    "scheme": scheme,
                    "code": ok["_" + scheme].values,
                    "iso3": ok["_iso3"].values,
                    "file": ok[FILE].values,
                }
            )
            for scheme in SCHEMES
        ]
        long = pd.concat(parts, ignore_index=True)
        return long[long["code"] != ""].reset_index(drop=True)


__all__ = ["SCHEMES", "CountryCodes"]
