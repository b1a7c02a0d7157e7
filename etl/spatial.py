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
CELL_DEG = 0.1  # grid of the fast path: 3600 x 1800 cells
CELL_SPLIT = 3  # an edge-crossed cell is split into 3 x 3 cells (odd: a cell's centre is a fine cell's)
# the grid costs about 2 s of CPU to build (edges cut to 0.017 degrees): worth it from a few hundred thousand
# points on (the real GED files are 52k events and take the exact path)
GRID_MIN_POINTS = 200_000
UNKNOWN, NO_SINGLE_OWNER = -2, -1  # cell states besides "inside polygon k" (k >= 0)


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
        self._grid: CellGrid | None = None  # built on the first assignment

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
        country = self._country_codes(iso3)
        valid &= country >= 0
        sel = np.flatnonzero(valid)
        hit = self._locate(lon[sel], lat[sel], country[sel])
        found = hit >= 0
        rows = self._polygon_rows[hit[found]]
        region[sel[found]] = self.region_ids[rows]
        method[sel[found]] = "within"
        dist[sel[found]] = 0.0
        # points outside every polygon of their country: the nearest one within the tolerance, per country
        pts_iso3 = iso3[sel]
        pts = np.full(len(sel), None, dtype=object)
        pts[~found] = shapely.points(lon[sel][~found], lat[sel][~found])
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

    def _country_codes(self, iso3: np.ndarray) -> np.ndarray:
        """Index of each point's country among the polygons' countries (-1: none), hashed once per distinct
        code (an Index lookup per point converted every code to Arrow text first)."""
        codes, uniques = pd.factorize(iso3, use_na_sentinel=True)
        per_unique = np.append(pd.Index(self._countries, dtype=object).get_indexer(uniques), -1)
        return per_unique[codes]

    def _locate(self, lon: np.ndarray, lat: np.ndarray, point_country: np.ndarray) -> np.ndarray:
        """Index into the present polygons of the own-country polygon holding each point, or -1.

        Fast path (calls of at least GRID_MIN_POINTS points): a point in a grid cell that no polygon edge
        crosses and that lies inside exactly one polygon takes that polygon when it is of the point's country
        (an array lookup). Every other point (cells on a border or coast, outside every polygon, or inside
        overlapping polygons) takes the exact bulk query, so the result is the same as querying every point
        exactly.
        """
        if self._grid is None and len(lon) >= GRID_MIN_POINTS:
            self._grid = CellGrid(self._polygons)
        if self._grid is None:
            return self._within_own_country(np.asarray(shapely.points(lon, lat)), point_country)
        owner = self._grid.owners(lon, lat)
        fast = owner >= 0
        fast[fast] = self._polygon_country[owner[fast]] == point_country[fast]
        hit = np.where(fast, owner, -1)
        slow = np.flatnonzero(~fast)
        if len(slow):
            points = np.asarray(shapely.points(lon[slow], lat[slow]))  # stubs: Point | array; an array here
            hit[slow] = self._within_own_country(points, point_country[slow])
        return hit

    def _within_own_country(self, points: np.ndarray, point_country: np.ndarray) -> np.ndarray:
        """Index into the present polygons of the polygon of its own country holding each point, or -1.

        One bulk query: a tree of the points is searched with every prepared polygon ('contains'), which is
        several times faster than one query per country and than querying the polygons with each point.
        Where polygons of one country overlap, the first one in file order wins.
        """
        hit = np.full(len(points), -1)
        if not len(points):
            return hit
        poly_i, point_i = STRtree(points).query(self._polygons, predicate="contains")
        same = self._polygon_country[poly_i] == point_country[point_i]
        poly_i, point_i = poly_i[same], point_i[same]
        order = np.lexsort((poly_i, point_i))
        first_point, first_at = np.unique(point_i[order], return_index=True)
        hit[first_point] = poly_i[order][first_at]
        return hit


class CellGrid:
    """Two grid levels over the polygons: cells no polygon edge crosses, and the one polygon holding each.

    Level one has 0.1-degree cells; a cell that an edge crosses is split into 5 x 5 cells of 0.02 degrees.
    Every edge is cut into pieces shorter than half a fine cell, and each piece marks the (at most 2 x 2)
    fine cells of its bounding box, so every cell an edge passes through is marked (cells are preimages of
    one monotone ``floor`` of the coordinates, used for the points as well). In an unmarked cell every
    point lies inside the same polygons as the cell centre, so the centre's exact answer holds for the whole
    cell; it is computed once per cell, the first time a point falls there, and kept.
    """

    def __init__(self, polygons: np.ndarray, cell_deg: float = CELL_DEG, split: int = CELL_SPLIT):
        self.split = split
        self.fine = cell_deg / split
        self.nx, self.ny = int(round(360 / cell_deg)), int(round(180 / cell_deg))
        self._tree = STRtree(polygons)
        rings = shapely.get_rings(shapely.get_parts(polygons))
        coords, ring = shapely.get_coordinates(
            shapely.segmentize(rings, max_segment_length=self.fine / 2), return_index=True
        )
        fx, fy = self._fine_xy(coords[:, 0], coords[:, 1])
        same_ring = ring[1:] == ring[:-1]
        marked = [fx * self.ny * split + fy]  # every vertex's own cell (rings of one point too)
        for a, b in ((fx[:-1], fy[1:]), (fx[1:], fy[:-1])):  # the other corners of each piece's box
            marked.append((a * self.ny * split + b)[same_ring])
        crossed_fine = np.unique(np.concatenate(marked))
        cx, cy = crossed_fine // (self.ny * split), crossed_fine % (self.ny * split)
        coarse = (cx // split) * self.ny + cy // split
        split_cells = np.unique(coarse)
        self.slot = np.full(self.nx * self.ny, -1, dtype=np.int64)  # coarse cell -> its block of fine cells
        self.slot[split_cells] = np.arange(len(split_cells))
        n_coarse = self.nx * self.ny
        self.owner = np.full(n_coarse + len(split_cells) * split * split, UNKNOWN, dtype=np.int32)
        self.owner[split_cells] = NO_SINGLE_OWNER  # never looked up: its fine cells are
        fine_leaf = n_coarse + self.slot[coarse] * split * split + (cx % split) * split + cy % split
        self.owner[fine_leaf] = NO_SINGLE_OWNER

    def _fine_xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fx = np.clip(np.floor((lon + 180.0) / self.fine).astype(np.int64), 0, self.nx * self.split - 1)
        fy = np.clip(np.floor((lat + 90.0) / self.fine).astype(np.int64), 0, self.ny * self.split - 1)
        return fx, fy

    def _leaves(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """The cell of each point: its coarse cell, or the fine cell when the coarse one is split."""
        fx, fy = self._fine_xy(lon, lat)
        k = self.split
        coarse = (fx // k) * self.ny + fy // k
        slot = self.slot[coarse]
        return np.where(slot < 0, coarse, self.nx * self.ny + slot * k * k + (fx % k) * k + fy % k)

    def owners(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Per point: the one polygon (index) whose interior holds its whole cell, or -1 (ask exactly)."""
        leaves = self._leaves(lon, lat)
        owner = self.owner[leaves]
        new = np.unique(leaves[owner == UNKNOWN])
        if len(new):
            self.owner[new] = self._centre_owners(new)
            owner = self.owner[leaves]
        return owner

    def _centre_owners(self, leaves: np.ndarray) -> np.ndarray:
        """The polygon containing each cell's centre when exactly one does, else -1."""
        k, n_coarse = self.split, self.nx * self.ny
        coarse = leaves < n_coarse
        # fine-cell coordinates of each centre: the middle fine cell of a coarse cell (k is odd)
        fx = np.where(coarse, (leaves // self.ny) * k + k // 2, 0)
        fy = np.where(coarse, (leaves % self.ny) * k + k // 2, 0)
        rest = leaves[~coarse] - n_coarse
        block, local = rest // (k * k), rest % (k * k)
        split_cells = np.flatnonzero(self.slot >= 0)[block]
        fx[~coarse] = (split_cells // self.ny) * k + local // k
        fy[~coarse] = (split_cells % self.ny) * k + local % k
        centres = shapely.points((fx + 0.5) * self.fine - 180.0, (fy + 0.5) * self.fine - 90.0)
        centre_i, poly_i = self._tree.query(centres, predicate="within")
        count = np.bincount(centre_i, minlength=len(leaves))
        out = np.full(len(leaves), NO_SINGLE_OWNER, dtype=np.int32)
        single = count[centre_i] == 1
        out[centre_i[single]] = poly_i[single]
        return out


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
