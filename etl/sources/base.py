"""The contract every source module follows.

A source is registered once (``@register``) and has two steps, as in OCHA's HAPI pipelines:

1. ``parse(path)``: pure. Reads one published file, checks its column contract (a missing column is a
   :class:`~etl.contract.ContractError`), types the values and marks bad rows in ``_reject``.
   Original columns are kept untouched (they become the quarantined ``raw`` text); derived columns
   start with ``_``.
2. ``to_observations(parsed, ctx)``: maps parsed rows to warehouse regions (country codes, spatial
   join) and returns long observations. Rows it cannot map are marked in ``_reject`` too.

The loader (``etl.loader``) checks rows read = rows loaded + rows rejected and writes everything for a
source in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from etl.contract import FILE, REJECT, REJECT_DETAIL, ROW, ContractError, Detail, Mask, reject

if TYPE_CHECKING:
    from etl.context import MappingContext

log = logging.getLogger(__name__)

OBSERVATION_COLUMNS = ["region_id", "period_start", "period_type", "indicator", "value", "censored", FILE]


@dataclass(frozen=True)
class IndicatorDef:
    """One entry of the indicator catalogue."""

    code: str
    family: str
    unit: str
    direction: str
    description: str


@dataclass
class SourceInfo:
    """What ``etl sources`` prints about a source."""

    name: str
    title: str
    publisher: str
    licence: str
    coverage: str
    folder: str
    files: list[str] = field(default_factory=list)


class Source:
    """Base class for a registered source; subclasses set the class attributes and two steps."""

    name: ClassVar[str]
    title: ClassVar[str]
    publisher: ClassVar[str]
    licence: ClassVar[str]
    coverage: ClassVar[str]
    folder: ClassVar[str]
    file_patterns: ClassVar[tuple[str, ...]]
    level: ClassVar[str] = "country"  # country | admin1 | regions | reference
    indicators: ClassVar[tuple[IndicatorDef, ...]] = ()
    needs_regions: ClassVar[bool] = True
    order: ClassVar[int] = 100  # load order; regions first
    # True for a source whose files are releases (vintages) of one dataset: a new file adds a release and the
    # reader lets the newest win per key, so an upload must not remove the older releases.
    keeps_releases: ClassVar[bool] = False
    # Files the mapping step reads as lookups (a region list, polygons): they change the output, so the
    # loader hashes them with the data files (a changed one reloads the source) and records 0-row loads.
    lookup_patterns: ClassVar[tuple[str, ...]] = ()

    def folders(self, raw_dir: Path | None = None) -> list[str]:
        """The folders under data/raw this source reads (one, unless a source reads several releases)."""
        return [self.folder]

    def paths(self, raw_dir: Path) -> list[Path]:
        """The files of this source under its folder(s) in ``raw_dir``, sorted for stable load order."""
        from etl.sources.folders import resolve  # a raw folder laid out before the rename still loads

        found: set[Path] = set()
        for folder in self.folders(raw_dir):
            where = raw_dir / resolve(raw_dir, folder)
            for pattern in self.file_patterns:
                found.update(p for p in where.glob(pattern) if p.is_file())
        return sorted(found)

    def lookup_paths(self, raw_dir: Path) -> list[Path]:
        """The lookup files this source's mapping step reads, sorted; none for most sources."""
        from etl.sources.folders import resolve

        where = raw_dir / resolve(raw_dir, self.folder)
        return sorted({p for pattern in self.lookup_patterns for p in where.glob(pattern) if p.is_file()})

    def info(self, raw_dir: Path | None = None) -> SourceInfo:
        files = [p.name for p in self.paths(raw_dir)] if raw_dir else list(self.file_patterns)
        return SourceInfo(
            self.name, self.title, self.publisher, self.licence, self.coverage, self.folder, files
        )

    def parse(self, path: Path) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_observations(self, parsed: pd.DataFrame, ctx: MappingContext) -> pd.DataFrame:  # pragma: no cover
        raise NotImplementedError

    def write_extra(self, conn, parsed: pd.DataFrame, load_ids: dict[str, int], ctx: MappingContext) -> None:
        """Hook for sources that fill tables other than ``observation`` (regions, code crosswalk)."""

    # --- helpers shared by sources -------------------------------------------------------------
    def indicator_codes(self) -> set[str]:
        return {i.code for i in self.indicators}


def year_start(years: pd.Series) -> pd.Series:
    """Period start for annual values (1 January); one date object per distinct year, not per row."""
    codes, uniques = pd.factorize(years.astype(int))
    dates = np.array([dt.date(int(y), 1, 1) for y in uniques], dtype=object)
    return pd.Series(dates[codes], index=years.index, dtype=object)


def month_start(years: pd.Series, months: pd.Series) -> pd.Series:
    """Period start for monthly values (the 1st); one date object per distinct month, not per row."""
    keys = years.astype(int).to_numpy() * 100 + months.astype(int).to_numpy()
    codes, uniques = pd.factorize(keys)
    dates = np.array([dt.date(int(k) // 100, int(k) % 100, 1) for k in uniques], dtype=object)
    return pd.Series(dates[codes], index=years.index, dtype=object)


def long_observations(
    frame: pd.DataFrame,
    value_columns: dict[str, str],
    *,
    region_col: str = "_region_id",
    period_col: str = "_period_start",
    period_type: str = "year",
    censored_cols: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Melt accepted rows into observation records: one per (row, indicator) with a non-null value.

    ``value_columns`` maps a frame column to an indicator code.
    """
    used = {region_col, period_col, FILE, *value_columns, *(censored_cols or {}).values()}
    ok = frame.loc[frame[REJECT].isna(), [c for c in frame.columns if c in used]]  # not every raw column
    parts = []
    for column, code in value_columns.items():
        sub = ok[ok[column].notna()]
        censored = (
            sub[censored_cols[column]].astype(bool) if censored_cols and column in censored_cols else False
        )
        parts.append(
            pd.DataFrame(
                {
                    "region_id": sub[region_col].values,
                    "period_start": sub[period_col].values,
                    "period_type": period_type,
                    "indicator": code,
                    "value": sub[column].astype(float).values,
                    "censored": censored if isinstance(censored, bool) else censored.values,
                    FILE: sub[FILE].values,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=OBSERVATION_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def mark_unused(frame: pd.DataFrame, mask: Mask, code: str, detail: Detail) -> None:
    """Rows that are valid but out of the product's scope are still accounted for, with a reason."""
    reject(frame, mask, code, detail)


def require_file_rows(frame: pd.DataFrame, path: Path) -> None:
    if len(frame) == 0:
        raise ContractError(path, "file has a header but no data rows")


__all__ = [
    "FILE",
    "REJECT",
    "REJECT_DETAIL",
    "ROW",
    "IndicatorDef",
    "Source",
    "SourceInfo",
    "long_observations",
    "mark_unused",
    "month_start",
    "year_start",
]
