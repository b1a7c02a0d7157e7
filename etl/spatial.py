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
        self._trees: dict[str, tuple[STRtree, np.ndarray]] = {}
        for code in np.unique(self.iso3):
            idx = np.flatnonzero(self.iso3 == code)
            geoms = self.geometries[idx]
            keep = ~shapely.is_missing(geoms)
            self._trees[code] = (STRtree(geoms[keep]), idx[keep])

    def assign(self, lon: np.ndarray, lat: np.ndarray, iso3: np.ndarray,
               tolerance_km: float = DEFAULT_TOLERANCE_KM) -> pd.DataFrame:
        """Return region_id, method ('within' | 'nearest' | None) and distance_km for each point."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        iso3 = np.asarray(iso3, dtype=object)
        n = len(lon)
        region = np.full(n, None, dtype=object)
        method = np.full(n, None, dtype=object)
        dist = np.full(n, np.nan)
        valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        for code in pd.unique(iso3[valid]):
            if code not in self._trees:
                continue
            tree, gidx = self._trees[code]
            sel = np.flatnonzero(valid & (iso3 == code))
            pts = shapely.points(lon[sel], lat[sel])
            pairs = tree.query(pts, predicate="within")
            hit = np.zeros(len(sel), dtype=bool)
            if pairs.size:
                # first polygon wins where polygons overlap (rare after topology cleaning)
                first = pd.Series(pairs[1]).groupby(pairs[0]).first()
                region[sel[first.index.values]] = self.region_ids[gidx[first.values]]
                method[sel[first.index.values]] = "within"
                dist[sel[first.index.values]] = 0.0
                hit[first.index.values] = True
            miss = np.flatnonzero(~hit)
            if miss.size:
                max_deg = tolerance_km / 111.32 / max(np.cos(np.radians(min(85.0, np.nanmax(np.abs(lat[sel]))))), 0.05)
                near = tree.query_nearest(pts[miss], max_distance=max_deg, all_matches=False)
                if near.size:
                    p_i, g_i = near
                    geoms = tree.geometries[g_i]
                    nearest_pts = shapely.shortest_line(pts[miss][p_i], geoms)
                    coords = shapely.get_coordinates(nearest_pts).reshape(-1, 2, 2)
                    d = haversine_km(coords[:, 0, 0], coords[:, 0, 1], coords[:, 1, 0], coords[:, 1, 1])
                    ok = d <= tolerance_km
                    rows = sel[miss[p_i]]
                    dist[rows] = d
                    region[rows[ok]] = self.region_ids[gidx[g_i[ok]]]
                    method[rows[ok]] = "nearest"
        return pd.DataFrame({"region_id": region, "method": method, "distance_km": dist})


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
