"""Natural Earth admin-0 and admin-1 boundaries -> the ``region`` table.

Any vector format GDAL reads works (the published shapefile, GeoJSON, GeoPackage), so a newer Natural
Earth release loads as is. Natural Earth's ``adm0_a3`` is mapped to ISO3 (``SDS`` -> ``SSD``,
``KOS`` -> ``XKX``, Somaliland's units -> ``SOM``); features with no country (Spratly Is.) are
quarantined. Countries that hdx-python-country knows but Natural Earth has no polygon for are added
without geometry, so every resolvable country has a region.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select

from etl.admin_names import NE_ADMIN1_GLOB, remember_alternative_names
from etl.contract import FILE, REJECT, REJECT_DETAIL, ROW, ContractError, reject, reject_duplicates
from etl.countries import CODE_ALIASES, known_iso3, resolve_code
from etl.sources import register
from etl.sources.base import OBSERVATION_COLUMNS, Source
from warehouse.io import upsert
from warehouse.schema import region

log = logging.getLogger(__name__)

ADMIN1_COLUMNS = [
    "adm1_code",
    "adm0_a3",
    "iso_a2",
    "admin",
    "name",
    "name_en",
    "type_en",
    "iso_3166_2",
    "area_sqkm",
    "latitude",
    "longitude",
]
ADMIN0_COLUMNS = ["adm0_a3", "iso_a2", "admin"]


def ne_to_iso3(adm0_a3: str, iso_a2: str | None = None) -> str | None:
    """Map a Natural Earth ``adm0_a3`` to ISO3 (None for units with no country)."""
    code = (adm0_a3 or "").strip().upper()
    if code in CODE_ALIASES:
        return CODE_ALIASES[code]
    if code in known_iso3():
        return code
    if iso_a2 and iso_a2 not in ("-1", "-99"):
        from hdx.location.country import Country

        return Country.get_iso3_from_iso2(iso_a2, use_live=False)
    res = resolve_code(code)
    return res.iso3


@register
class NaturalEarth(Source):
    name = "natural_earth"
    title = "Natural Earth admin-0 and admin-1 boundaries (10m, simplified)"
    publisher = "Natural Earth"
    licence = "Public domain"
    coverage = "world; 4,596 admin-1 units, 251 admin-0 units"
    folder = "natural_earth"
    file_patterns = (
        "ne_10m_admin_1_states_provinces*.geojson",
        "ne_10m_admin_0*.geojson",
        "ne_10m_admin_1_states_provinces*.shp",
        "ne_10m_admin_0*.shp",
    )
    level = "regions"
    needs_regions = False
    order = 0

    def parse(self, path: Path) -> pd.DataFrame:
        try:
            gdf = gpd.read_file(path)
        except Exception as exc:  # noqa: BLE001 - GDAL raises several types for unreadable files
            raise ContractError(path, f"not a readable vector file ({type(exc).__name__}: {exc})") from None
        if len(gdf) == 0:
            raise ContractError(path, "file has no features; expected Natural Earth polygons")
        is_admin1 = "adm1_code" in gdf.columns or "admin_1_states" in path.name
        required = ADMIN1_COLUMNS if is_admin1 else ADMIN0_COLUMNS
        missing = [c for c in required if c not in gdf.columns]
        if missing:
            raise ContractError(
                path,
                f"missing column(s) {missing}; expected Natural Earth attributes {required}",
                column=missing[0],
            )
        if gdf.crs is not None and gdf.crs.to_epsg() not in (4326, None):
            gdf = gdf.to_crs(4326)
        frame = pd.DataFrame(gdf.drop(columns="geometry")).astype(object)
        frame = frame.where(frame.notna(), None)
        frame.insert(0, ROW, range(1, len(frame) + 1))  # feature number (1-based)
        frame[REJECT] = None
        frame[REJECT_DETAIL] = None
        frame[FILE] = path.name
        geoms = gdf.geometry.to_numpy()
        frame["_geometry"] = geoms
        frame["_level"] = 1 if is_admin1 else 0
        iso3 = [ne_to_iso3(a, b) for a, b in zip(frame["adm0_a3"], frame["iso_a2"], strict=True)]
        # Units with no ISO3 country (Spratly Is.) keep Natural Earth's own code as their country id.
        frame["_iso3"] = [i or str(a).strip().upper() for i, a in zip(iso3, frame["adm0_a3"], strict=True)]
        frame["_disputed"] = [i is None for i in iso3]
        reject(
            frame,
            frame["_iso3"].str.len() != 3,
            "no_country",
            "adm0_a3 '" + frame["adm0_a3"].astype(str) + "' is not a three-letter code",
        )
        empty = pd.Series(shapely.is_missing(geoms) | shapely.is_empty(geoms), index=frame.index)
        reject(frame, empty, "missing_geometry", "feature has no geometry")
        if is_admin1:
            reject(
                frame,
                frame["adm1_code"].isna() | (frame["adm1_code"].astype(str).str.strip() == ""),
                "missing_value",
                "column 'adm1_code' is empty",
            )
            reject_duplicates(frame, ["adm1_code"], "admin-1 unit")
            if path.match(NE_ADMIN1_GLOB):
                remember_alternative_names(path, frame)
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        return pd.DataFrame(columns=OBSERVATION_COLUMNS)

    def write_extra(self, conn, parsed: pd.DataFrame, load_ids: dict[str, int], ctx) -> None:
        ok = parsed[parsed[REJECT].isna()]
        adm0 = ok[ok["_level"] == 0]
        adm1 = ok[ok["_level"] == 1]
        rows: list[dict] = []
        names = {}
        if len(adm0):
            for key, grp in adm0.groupby("_iso3"):
                iso3 = str(key)
                geom = (
                    shapely.union_all(grp["_geometry"].to_numpy())
                    if len(grp) > 1
                    else grp["_geometry"].iloc[0]
                )
                # the unit whose own code is the ISO3 names the country (Somalia, not Somaliland)
                main = grp[grp["adm0_a3"].map(lambda a, iso3=iso3: ne_to_iso3(a) == iso3 and a in (iso3,))]
                names[iso3] = str((main if len(main) else grp)["admin"].iloc[0])
                row = self._country_row(iso3, names[iso3], geom)
                if bool(grp["_disputed"].iloc[0]):
                    row["type"] = "Disputed territory (Natural Earth code, no ISO3)"
                rows.append(row)
        from hdx.location.country import Country

        existing = {r[0] for r in conn.execute(select(region.c.region_id).where(region.c.level == 0))}
        for iso3 in sorted(known_iso3() - set(names) - existing):
            name = Country.get_country_name_from_iso3(iso3, use_live=False) or (
                "Kosovo" if iso3 == "XKX" else iso3
            )
            rows.append(self._country_row(iso3, name, None))
        upsert(conn, region, rows, ["region_id"])
        adm1_rows = []
        areas = equal_area_km2(adm1["_geometry"].to_numpy())
        for rec, geom, area in zip(adm1.to_dict("records"), adm1["_geometry"], areas, strict=True):
            adm1_rows.append(
                {
                    "region_id": str(rec["adm1_code"]).strip(),
                    "level": 1,
                    "iso3": rec["_iso3"],
                    "parent_id": rec["_iso3"],
                    "name": str(rec.get("name_en") or rec.get("name") or rec["adm1_code"]),
                    "name_local": rec.get("name"),
                    "type": rec.get("type_en"),
                    "iso_3166_2": rec.get("iso_3166_2"),
                    "area_km2": area,
                    "label_lon": _float(rec.get("longitude")),
                    "label_lat": _float(rec.get("latitude")),
                    "geometry_wkb": shapely.to_wkb(geom, hex=True),
                }
            )
        missing_parents = {r["parent_id"] for r in adm1_rows} - existing - {r["region_id"] for r in rows}
        if missing_parents:
            upsert(
                conn, region, [self._country_row(i, i, None) for i in sorted(missing_parents)], ["region_id"]
            )
        upsert(conn, region, adm1_rows, ["region_id"])

    @staticmethod
    def _country_row(iso3: str, name: str, geom) -> dict:
        rep = shapely.point_on_surface(geom) if geom is not None else None
        return {
            "region_id": iso3,
            "level": 0,
            "iso3": iso3,
            "parent_id": None,
            "name": name,
            "name_local": None,
            "type": "Country",
            "iso_3166_2": None,
            "area_km2": equal_area_km2(np.array([geom], dtype=object))[0] if geom is not None else None,
            "label_lon": float(rep.x) if rep is not None else None,
            "label_lat": float(rep.y) if rep is not None else None,
            "geometry_wkb": shapely.to_wkb(geom, hex=True) if geom is not None else None,
        }


def equal_area_km2(geoms: np.ndarray) -> list[float | None]:
    """Area from the polygons in an equal-area projection (EPSG:6933); Natural Earth's area_sqkm is often
    0."""
    series = gpd.GeoSeries(list(geoms), crs=4326)
    areas = series.to_crs(6933).area / 1e6
    return [None if pd.isna(a) else float(a) for a in areas]


def _float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None
