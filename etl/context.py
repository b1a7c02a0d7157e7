"""What the region-mapping step of a source may use: the warehouse's regions and the code crosswalk."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, select

from etl.contract import REJECT, reject
from etl.countries import Crosswalk, resolve_codes, resolve_names
from etl.spatial import AdminIndex
from warehouse.schema import region

log = logging.getLogger(__name__)
CROSSWALK_FOLDER, CROSSWALK_NAME = "country_codes", "countrycode_codelist.csv"
CROSSWALK_FILE = Path(CROSSWALK_FOLDER) / CROSSWALK_NAME


@dataclass
class MappingContext:
    """Lazily loaded lookups for ``to_observations``; built from the warehouse, or from frames in tests."""

    raw_dir: Path
    engine: Engine | None = None
    _regions: pd.DataFrame | None = field(default=None, repr=False)

    @cached_property
    def regions(self) -> pd.DataFrame:
        """region_id, level, iso3, parent_id, name for every region (no geometry; see ``admin_index``)."""
        if self._regions is not None:
            return self._regions
        if self.engine is None:
            raise RuntimeError("no warehouse connection to read regions from")
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(region.c.region_id, region.c.level, region.c.iso3, region.c.parent_id, region.c.name)
            ).all()
        frame = pd.DataFrame(rows, columns=["region_id", "level", "iso3", "parent_id", "name"])
        if frame.empty:
            raise RuntimeError("the warehouse has no regions yet: load the 'natural_earth' source first")
        return frame

    @cached_property
    def country_ids(self) -> frozenset[str]:
        return frozenset(self.regions.loc[self.regions["level"] == 0, "region_id"])

    @property
    def cache_dir(self) -> Path:
        """The data dir's cache folder: tables derived from inputs that rarely change (etl.frame_cache)."""
        from warehouse.config import data_dir

        return data_dir() / "cache"

    @cached_property
    def admin_index(self) -> AdminIndex:
        """Admin-1 polygons by country, for point-in-polygon assignment (its cell grid is cached in the data
        dir, keyed by the polygons' WKB: etl.spatial)."""
        cache_dir = self.cache_dir
        if self._regions is not None and "geometry" in self._regions.columns:
            adm1 = self._regions[self._regions["level"] == 1]
            return AdminIndex(
                adm1["region_id"].to_numpy(),
                adm1["iso3"].to_numpy(),
                adm1["geometry"].to_numpy(),
                cache_dir=cache_dir,
            )
        if self.engine is None:
            raise RuntimeError("no warehouse connection to read admin-1 polygons from")
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(region.c.region_id, region.c.iso3, region.c.geometry_wkb).where(
                    region.c.level == 1, region.c.geometry_wkb.is_not(None)
                )
            ).all()
        wkb = [r[2] for r in rows]  # hex text or bytes, as stored
        geoms = shapely.from_wkb(np.array(wkb, dtype=object), on_invalid="ignore")
        return AdminIndex(
            np.array([r[0] for r in rows], dtype=object),
            np.array([r[1] for r in rows], dtype=object),
            geoms,
            cache_dir=cache_dir,
            wkb=wkb,
        )

    @cached_property
    def crosswalk(self) -> Crosswalk:
        from etl.sources.folders import resolve  # an old raw layout (country_code_crosswalk) still works

        return Crosswalk(self.raw_dir / resolve(self.raw_dir, CROSSWALK_FOLDER) / CROSSWALK_NAME)

    # --- mapping helpers used by sources ----------------------------------------------------
    def countries_by_name(self, frame: pd.DataFrame, column: str, out: str = "_region_id") -> None:
        """Resolve a name column to ISO3 region ids; unresolved rows are rejected with the reason."""
        res = resolve_names(frame[column].astype(str).str.strip())
        self._apply(frame, res, out, column)

    def countries_by_code(
        self, frame: pd.DataFrame, column: str, name_column: str | None = None, out: str = "_region_id"
    ) -> None:
        """Resolve an ISO3-like code column (falling back to a name column) to region ids."""
        names = frame[name_column].astype(str).str.strip() if name_column else None
        res = resolve_codes(frame[column].astype(str).str.strip(), names)
        self._apply(frame, res, out, column)

    def countries_by_scheme(
        self, frame: pd.DataFrame, column: str, scheme: str, out: str = "_region_id"
    ) -> None:
        """Resolve Gleditsch–Ward ('gw'), COW ('cow') or UNHCR ('unhcr') codes via the crosswalk."""
        uniques = {c: self.crosswalk.to_iso3(scheme, c) for c in frame[column].dropna().unique()}
        iso3 = frame[column].map(uniques)
        reason_code = pd.Series(np.full(len(frame), None, dtype=object), index=frame.index)
        reason_code[iso3.isna()] = "unknown_country"
        res = pd.DataFrame(
            {
                "iso3": iso3,
                "reason_code": reason_code,
                "reason": "code '" + frame[column].astype(str) + f"' is not a known {scheme.upper()} code",
            },
            index=frame.index,
        )
        self._apply(frame, res, out, column)

    def _apply(self, frame: pd.DataFrame, res: pd.DataFrame, out: str, column: str) -> None:
        frame[out] = res["iso3"]
        for code in res["reason_code"].dropna().unique():
            mask = res["reason_code"] == code
            reject(
                frame,
                mask,
                code,
                lambda rows: "column '" + column + "': " + res.loc[rows.index, "reason"].astype(str),
            )
        no_region = frame[out].notna() & ~frame[out].isin(self.country_ids) & frame[REJECT].isna()
        reject(
            frame,
            no_region,
            "no_region",
            lambda rows: "column '"
            + column
            + "': ISO3 '"
            + rows[out].astype(str)
            + "' has no region in the warehouse",
        )
