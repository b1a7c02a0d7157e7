"""Point-in-polygon assignment of located records (events, displacement figures) to admin-1 units.

Points are matched only against the polygons of their own country, so a border event is never
credited to the neighbour. Points that fall just outside every polygon of their country (coastal
water, simplified borders) take the nearest polygon if it lies within ``tolerance_km``; otherwise
they are reported as unassigned with the distance, for the caller to quarantine.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import shapely
from shapely.strtree import STRtree

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE_KM = 25.0
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


class AdminIndex:
    """Spatial index of admin-1 polygons, one STRtree per country."""

    def __init__(self, region_ids: np.ndarray, iso3: np.ndarray, geometries: np.ndarray):
        self.region_ids = np.asarray(region_ids)
        self.iso3 = np.asarray(iso3)
        self.geometries = np.asarray(geometries)
        present = np.flatnonzero(~shapely.is_missing(self.geometries))
        # the point-in-polygon pass queries a tree of the points with every polygon, prepared once
        self._polygons = self.geometries[present].copy()
        shapely.prepare(self._polygons)
        self._polygon_rows = present
        self._polygon_iso3 = self.iso3[present]
        self._countries = pd.unique(self._polygon_iso3)
        self._polygon_country = pd.Index(self._countries).get_indexer(self._polygon_iso3)
        self._trees: dict[str, tuple[STRtree, np.ndarray]] = {}
        for code in np.unique(self.iso3):
            idx = present[self._polygon_iso3 == code]
            self._trees[code] = (STRtree(self.geometries[idx]), idx)

    def assign(
        self, lon: np.ndarray, lat: np.ndarray, iso3: np.ndarray, tolerance_km: float = DEFAULT_TOLERANCE_KM
    ) -> pd.DataFrame:
        """Return region_id, method ('within' | 'nearest' | None) and distance_km for each point."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        iso3 = np.asarray(iso3, dtype=object)
        n = len(lon)
        region = np.full(n, None, dtype=object)
        method = np.full(n, None, dtype=object)
        dist = np.full(n, np.nan)
        valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        valid &= pd.Index(self._countries).get_indexer(iso3) >= 0  # hashed: np.isin on objects is quadratic
        sel = np.flatnonzero(valid)
        pts = np.asarray(shapely.points(lon[sel], lat[sel]))  # stubs: Point | array; an array here
        hit = self._within_own_country(pts, iso3[sel])
        found = hit >= 0
        rows = self._polygon_rows[hit[found]]
        region[sel[found]] = self.region_ids[rows]
        method[sel[found]] = "within"
        dist[sel[found]] = 0.0
        # points outside every polygon of their country: the nearest one within the tolerance, per country
        pts_iso3 = iso3[sel]
        for code in pd.unique(pts_iso3[~found]):
            tree, gidx = self._trees[code]
            miss = np.flatnonzero(~found & (pts_iso3 == code))
            max_lat = min(85.0, float(np.nanmax(np.abs(lat[sel][pts_iso3 == code]))))
            max_deg = tolerance_km / 111.32 / max(np.cos(np.radians(max_lat)), 0.05)
            near = tree.query_nearest(pts[miss], max_distance=max_deg, all_matches=False)
            if not near.size:
                continue
            p_i, g_i = near
            nearest_lines = shapely.shortest_line(pts[miss][p_i], tree.geometries[g_i])
            coords = shapely.get_coordinates(nearest_lines).reshape(-1, 2, 2)
            d = haversine_km(coords[:, 0, 0], coords[:, 0, 1], coords[:, 1, 0], coords[:, 1, 1])
            ok = d <= tolerance_km
            rows = sel[miss[p_i]]
            dist[rows] = d
            region[rows[ok]] = self.region_ids[gidx[g_i[ok]]]
            method[rows[ok]] = "nearest"
        return pd.DataFrame({"region_id": region, "method": method, "distance_km": dist})

    def _within_own_country(self, points: np.ndarray, points_iso3: np.ndarray) -> np.ndarray:
        """Index into the present polygons of the polygon of its own country holding each point, or -1.

        One bulk query: a tree of the points is searched with every prepared polygon ('contains'), which is
        several times faster than one query per country and than querying the polygons with each point.
        Where polygons of one country overlap, the first one in file order wins.
        """
        hit = np.full(len(points), -1)
        if not len(points):
            return hit
        poly_i, point_i = STRtree(points).query(self._polygons, predicate="contains")
        point_country = pd.Index(self._countries).get_indexer(points_iso3)
        same = self._polygon_country[poly_i] == point_country[point_i]
        poly_i, point_i = poly_i[same], point_i[same]
        order = np.lexsort((poly_i, point_i))
        first_point, first_at = np.unique(point_i[order], return_index=True)
        hit[first_point] = poly_i[order][first_at]
        return hit


def naive_assign(lon: np.ndarray, lat: np.ndarray, region_ids: np.ndarray, geometries: np.ndarray) -> list:
    """Reference implementation for benchmarks: test every polygon for every point."""
    out = []
    for x, y in zip(lon, lat, strict=True):
        p = shapely.Point(x, y)
        found = None
        for rid, g in zip(region_ids, geometries, strict=True):
            if g is not None and g.contains(p):
                found = rid
                break
        out.append(found)
    return out
