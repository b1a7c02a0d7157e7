"""Point-in-polygon assignment of located records (events, displacement figures) to admin-1 units.

Points are matched only against the polygons of their own country, so a border event is never
credited to the neighbour. Where polygons of one country overlap, the first in file order wins. Points that
fall just outside every polygon of their country (coastal water, simplified borders) take the nearest polygon
if it lies within ``tolerance_km``; otherwise they are reported as unassigned with the distance, for the
caller to quarantine.

Method (issue 16, >= 1M events/s). Calls of fewer than GRID_CACHE_MIN_POINTS points take the exact bulk
query (a tree of the points searched with every prepared polygon, ``_within_own_country``). Larger calls use
a ``CellGrid`` when one is saved, or build one when the call has GRID_MIN_POINTS points or more (a build costs
more than the exact query of a few million points), kept as a NumPy ``.npz`` in ``<data dir>/cache``,
keyed by the sha256 of the polygons' WKB and the grid parameters; a missing, stale (other key) or damaged
file (CRC-32, shapes, index ranges) is rebuilt, never trusted, and nothing is unpickled:

- cells are powers of two: a 1440 x 720 root of 0.25 degrees; a cell that polygon edges cross (found from
  the edges cut into pieces shorter than a cell, widened by EPS_DEG, with the points' own monotone floor) is
  split 2 x 2 while it has more than MAX_LEAF_EDGES edges, down to 0.015625 degrees (about 1.7 km);
- a point in a cell no edge crosses takes the cell's value, one array lookup per level: no polygon, or the
  one polygon holding the cell (taken when it is of the point's country), or a leaf of several (overlaps);
- a point in a leaf (a crossed cell) is decided against that cell's few edges: the parity of the
  crossings of an L-shaped path (horizontal, then vertical) from the point to the cell centre, whose
  containment in every candidate polygon was computed at build time. Orientation signs are certified with
  Shewchuk's error bound; a point on an edge or within rounding distance of one (a few per 100,000 on real
  data) goes to the exact GEOS query, so every answer is the GEOS answer (tests: real polygons, points on
  vertices, edges, cell lines, in overlaps and holes, with wrong countries, against the exact query).

The build (``_Builder``, 7-9 s of CPU for the 4,596 Natural Earth units, once per data dir and polygon set):
root cells not crossed take their value from connected components (scipy.ndimage.label, 4-neighbours: no
edge separates them), one GEOS query per component; crossed root cells get the polygons holding their
centre from GEOS; every child's centre is then decided by the same certified parity from its parent's
centre (uncertain ones by GEOS, and such a centre is never used as a reference). The cache is about 26 MB.

The nearest-polygon fallback (own country, within tolerance_km) and the output frame are unchanged; the
frame's text columns are taken from arrays made once instead of being inferred per call.

Measured: see benchmarks/spatial.py (its docstring holds the figures, with load averages).
"""

from __future__ import annotations

import io
import logging
import mmap
import zipfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import shapely
from shapely.strtree import STRtree

from etl.frame_cache import cache_key, replace_atomically

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE_KM = 25.0
EARTH_RADIUS_KM = 6371.0088
ROOT_CELLS_PER_DEG = 4  # root cells of 0.25 degrees (powers of two: every level's floor is exact)
SPLIT_BITS = 1
SPLIT = 2**SPLIT_BITS  # a crossed cell with more than MAX_LEAF_EDGES edges is split into 2 x 2 cells ...
LEVELS = 5  # ... down to level 4 (0.25 / 2**4 = 0.015625 degrees, about 1.7 km)
MAX_LEAF_EDGES = 2
GRID_FORMAT = 1  # bump when the cache layout or the build changes
# a call of at least this many points uses the grid when one is in memory or saved in the cache folder; a grid
# is built (and saved, when a cache folder is given) only for calls of GRID_MIN_POINTS or more
GRID_CACHE_MIN_POINTS = 5_000
GRID_MIN_POINTS = 2_000_000  # a build costs about 5-8 s of CPU, the exact query about 1.5-3.5 us a point
CACHE_NAME = "admin1_grid.npz"
LOCATE_CHUNK = 1 << 17  # points per pass of the grid lookup
EMPTY = -1  # cell value: no polygon; >= 0 and < P: the one polygon; >= P: child block; <= -2: leaf -2 - v
EPS_DEG = 1e-9  # margin around edges when marking cells (covers the rounding of the edge pieces)
ORIENT_ERR = 1e-15  # relative error bound of a 2D orientation sign (Shewchuk's ccwerrboundA is 3.3e-16)


def haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def _str_dtype() -> Any:
    """The dtype pandas infers for text with missing values (``str`` in pandas 3, ``object`` before)."""
    return pd.Series(np.array(["a", None], dtype=object)).dtype


class AdminIndex:
    """Spatial index of admin-1 polygons, one STRtree per country, and the cell grid for large calls.

    ``cache_dir``: folder for the grid cache (None: no cache; the grid is then built in memory for calls of
    GRID_MIN_POINTS or more). ``wkb``: the polygons' WKB as read (same order as ``geometries``), hashed for
    the cache key instead of re-encoding the geometries.
    """

    def __init__(
        self,
        region_ids: np.ndarray,
        iso3: np.ndarray,
        geometries: np.ndarray,
        cache_dir: Path | None = None,
        wkb: Sequence[bytes | str | None] | None = None,
    ):
        self.region_ids = np.asarray(region_ids)
        self.iso3 = np.asarray(iso3)
        self.geometries = np.asarray(geometries)
        self.cache_dir = cache_dir
        self._wkb = wkb
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
        self._grid: CellGrid | None = None  # loaded or built on the first large assignment
        self._key: str | None = None  # _cache_key, once computed
        self.use_grid = True  # False: every call takes the exact query (tests compare the two)
        text = all(isinstance(r, str) for r in self.region_ids)
        self._out_dtype = _str_dtype()
        self._region_values = pd.array(self.region_ids, dtype=self._out_dtype) if text else None
        self._method_values = pd.array(np.array(["within", "nearest"], dtype=object), dtype=self._out_dtype)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_grid"] = None  # sent to Dask workers without the grid: each loads it when it needs it
        return state

    def assign(
        self, lon: np.ndarray, lat: np.ndarray, iso3: np.ndarray, tolerance_km: float = DEFAULT_TOLERANCE_KM
    ) -> pd.DataFrame:
        """Return region_id, method ('within' | 'nearest' | None) and distance_km for each point."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        iso3 = np.asarray(iso3, dtype=object)
        n = len(lon)
        row = np.full(n, -1, dtype=np.int64)  # row of the region in region_ids, -1: unassigned
        how = np.full(n, -1, dtype=np.int8)  # 0 within, 1 nearest, -1 None
        dist = np.full(n, np.nan)
        valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        country = self._country_codes(iso3)
        valid &= country >= 0
        sel = np.flatnonzero(valid)
        lon_s, lat_s, country_s = lon[sel], lat[sel], country[sel]
        hit = self._locate(lon_s, lat_s, country_s)
        found = hit >= 0
        row[sel[found]] = self._polygon_rows[hit[found]]
        how[sel[found]] = 0
        dist[sel[found]] = 0.0
        miss = np.flatnonzero(~found)
        if len(miss):
            self._nearest(lon_s, lat_s, country_s, miss, sel, tolerance_km, row, how, dist)
        return self._frame(row, how, dist)

    def _nearest(
        self,
        lon_s: np.ndarray,
        lat_s: np.ndarray,
        country_s: np.ndarray,
        miss: np.ndarray,
        sel: np.ndarray,
        tolerance_km: float,
        row: np.ndarray,
        how: np.ndarray,
        dist: np.ndarray,
    ) -> None:
        """Points outside every polygon of their country: the nearest one within the tolerance, per country.

        The search radius in degrees widens with the largest |latitude| among all the call's points of that
        country (as before: the answers are unchanged)."""
        max_abs_lat = np.full(len(self._countries), -np.inf)
        np.maximum.at(max_abs_lat, country_s, np.abs(lat_s))
        pts = shapely.points(lon_s[miss], lat_s[miss])
        miss_country = country_s[miss]
        order = np.argsort(miss_country, kind="stable")
        bounds = np.flatnonzero(np.r_[True, miss_country[order][1:] != miss_country[order][:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            c = int(miss_country[order[a]])
            tree, gidx = self._trees[self._countries[c]]
            local = order[a:b]
            max_lat = min(85.0, float(max_abs_lat[c]))
            max_deg = tolerance_km / 111.32 / max(np.cos(np.radians(max_lat)), 0.05)
            near = tree.query_nearest(pts[local], max_distance=max_deg, all_matches=False)
            if not near.size:
                continue
            p_i, g_i = near
            nearest_lines = shapely.shortest_line(pts[local][p_i], tree.geometries[g_i])
            coords = shapely.get_coordinates(nearest_lines).reshape(-1, 2, 2)
            d = haversine_km(coords[:, 0, 0], coords[:, 0, 1], coords[:, 1, 0], coords[:, 1, 1])
            ok = d <= tolerance_km
            rows = sel[miss[local[p_i]]]
            dist[rows] = d
            row[rows[ok]] = gidx[g_i[ok]]
            how[rows[ok]] = 1

    def _frame(self, row: np.ndarray, how: np.ndarray, dist: np.ndarray) -> pd.DataFrame:
        """The output frame; the text columns are taken from arrays made once (no per-call inference)."""
        if self._region_values is not None:
            region = self._region_values.take(row, allow_fill=True)
            method = self._method_values.take(how.astype(np.int64), allow_fill=True)
        else:
            region = np.full(len(row), None, dtype=object)
            region[row >= 0] = self.region_ids[row[row >= 0]]
            method = np.array([None, "within", "nearest"], dtype=object)[how + 1]
        return pd.DataFrame({"region_id": region, "method": method, "distance_km": dist})

    def _country_codes(self, iso3: np.ndarray) -> np.ndarray:
        """Index of each point's country among the polygons' countries (-1: none), hashed once per distinct
        code (an Index lookup per point converted every code to Arrow text first)."""
        codes, uniques = pd.factorize(iso3, use_na_sentinel=True)
        per_unique = np.append(pd.Index(self._countries, dtype=object).get_indexer(uniques), -1)
        return per_unique[codes]

    def grid(self, n_points: int) -> CellGrid | None:
        """The cell grid for a call of n_points: kept, loaded from the cache, or built (and saved)."""
        if self._grid is not None or not self.use_grid or not len(self._polygons):
            return self._grid
        if n_points < GRID_CACHE_MIN_POINTS:
            return None
        path = None if self.cache_dir is None else Path(self.cache_dir) / CACHE_NAME
        key = None
        if path is not None and path.exists():
            # the key's hash runs in a second thread while this one reads and CRC-checks the file (zlib and
            # hashlib release Python's lock on large buffers): together they were most of a GED call's time
            with ThreadPoolExecutor(1, thread_name_prefix="grid-key") as pool:
                pending = pool.submit(self._cache_key)
                self._grid = CellGrid.load(path, pending.result, len(self._polygons))
                key = pending.result()
        # a build (7-9 s of CPU) pays for itself only on millions of points: the shipped GED (52k events)
        # take the exact path (about 0.2 s) unless a grid was saved by an earlier large call
        if self._grid is None and n_points >= GRID_MIN_POINTS:
            self._grid = CellGrid.build(self._polygons)
            if path is not None:
                self._grid.save(path, key or self._cache_key())
        return self._grid

    def identity(self) -> str:
        """sha256 of the polygons' WKB, their region ids and countries: what a table derived from this
        index depends on (etl.frame_cache keys)."""
        return cache_key(
            [self._cache_key(), "\x1f".join(map(str, self.region_ids)), "\x1f".join(map(str, self.iso3))]
        )

    def _cache_key(self) -> str:
        """sha256 of the grid parameters and the polygons' WKB (as read, or encoded here); computed once per
        index (the polygons do not change), since the grid's load and a derived table's key both ask."""
        if self._key is None:
            wkb = self._wkb
            if wkb is None or len(wkb) != len(self.geometries):
                chosen: Sequence = list(shapely.to_wkb(self._polygons))
            elif len(self._polygon_rows) == len(wkb):
                chosen = wkb
            else:
                chosen = [wkb[int(i)] for i in self._polygon_rows]
            params = f"{GRID_FORMAT}:{ROOT_CELLS_PER_DEG}:{SPLIT}:{LEVELS}:{MAX_LEAF_EDGES}:{EPS_DEG}"
            # item by item: no copy of the whole (a 7.5 MB join costs more than the hash)
            self._key = cache_key([params, str(len(self._polygons)), *(w or b"" for w in chosen)])
        return self._key

    def _locate(self, lon: np.ndarray, lat: np.ndarray, point_country: np.ndarray) -> np.ndarray:
        """Index into the present polygons of the own-country polygon holding each point, or -1.

        The grid answers every point it can certify (see the module docstring); the others take the exact
        bulk query, so the result is the same as querying every point exactly."""
        grid = self.grid(len(lon))
        if grid is None:
            return self._within_own_country(np.asarray(shapely.points(lon, lat)), point_country)
        # in chunks: the temporaries stay small, in cache, and their memory is reused from chunk to chunk
        # (one pass over 2M points paid about 1 s of CPU more in fresh pages on a process's first call)
        hit = np.empty(len(lon), dtype=np.int64)
        slows = []
        for a in range(0, len(lon), LOCATE_CHUNK):
            b = a + LOCATE_CHUNK
            hit[a:b], part = grid.locate(lon[a:b], lat[a:b], point_country[a:b], self._polygon_country)
            slows.append(part + a)
        slow = np.concatenate(slows) if slows else np.zeros(0, dtype=np.int64)
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


def _offsets(count: np.ndarray) -> np.ndarray:
    """CSR offsets (n + 1) from per-row counts."""
    out = np.zeros(len(count) + 1, dtype=np.int32)
    np.cumsum(count, dtype=np.int32, out=out[1:])  # one pass (np.r_ and a cast were 2.5 times slower)
    return out


def _small(count: np.ndarray) -> np.ndarray:
    """Counts in the smallest unsigned type that holds them (the cache is read whole on every load)."""
    top = int(count.max()) if len(count) else 0
    return count.astype(np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.int32)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed .npz (as ``np.savez`` writes it), each member's CRC-32 checked and its
    array a read-only view of the memory-mapped file (``np.load`` copies members in 256 kB chunks: about 4
    times slower here). Object arrays are refused (never unpickled). The cache is replaced by rename, so
    a mapped file is never rewritten in place."""
    with path.open("rb") as fh:
        populate = getattr(mmap, "MAP_POPULATE", 0)  # Linux: map every page in one call (the CRC reads all)
        if populate:
            data = mmap.mmap(fh.fileno(), 0, flags=mmap.MAP_SHARED | populate, prot=mmap.PROT_READ)
        else:  # read-only pages, no copy
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(cast(Any, data)) as archive:  # an mmap reads and seeks like a file
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise ValueError(f"unexpected member {info.filename!r}")
            head = data[info.header_offset : info.header_offset + 30]
            if len(head) < 30 or head[:4] != b"PK\x03\x04":
                raise zipfile.BadZipFile("bad local header")
            start = info.header_offset + 30 + int.from_bytes(head[26:28], "little")
            start += int.from_bytes(head[28:30], "little")
            member = memoryview(data)[start : start + info.file_size]
            if len(member) != info.file_size or zlib.crc32(member) != info.CRC:
                raise zipfile.BadZipFile(f"bad CRC-32 in {info.filename!r}")
            buf = io.BytesIO(member[:4096])  # the .npy header
            version = np.lib.format.read_magic(buf)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf)
            if dtype.hasobject:
                raise ValueError("object arrays are not loaded")
            count = int(np.prod(shape))
            flat = np.frombuffer(member, dtype=dtype, count=count, offset=buf.tell())
            out[info.filename[:-4]] = flat.reshape(shape, order="F" if fortran else "C")
    return out


def _ragged(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups with (start, count): the group of each expanded item and its index start + j."""
    counts = counts.astype(np.int64)
    first = np.cumsum(counts) - counts
    group = np.repeat(np.arange(len(counts)), counts)
    return group, np.repeat(starts.astype(np.int64) - first, counts) + np.arange(len(group))


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (numpy's hash-based unique was several times slower on these keys)."""
    a = np.sort(a)
    return a[np.r_[True, a[1:] != a[:-1]]] if len(a) else a


def _orient(
    ax: np.ndarray, ay: np.ndarray, dx: np.ndarray, dy: np.ndarray, qx: np.ndarray, qy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sign of the orientation of q against the line a -> a + d (> 0: left), and whether it is uncertain.

    Shewchuk's filter: with the error bound below the computed sign is the exact sign of the exact inputs."""
    left = dx * (qy - ay)
    right = dy * (qx - ax)
    det = left - right
    return det > 0, np.abs(det) <= ORIENT_ERR * (np.abs(left) + np.abs(right))


def _crossings(
    pe: np.ndarray, n: int, x: np.ndarray, y: np.ndarray, cx: np.ndarray, cy: np.ndarray, seg: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """Which (point, edge) pairs cross the path p -> (cx, py) -> c of their point (half-open rules at
    vertices), and per point whether that is uncertain (p or the corner within rounding distance of an edge,
    or on one).

    One row per pair: ``pe`` its point (of n), x, y the point, cx, cy its reference, ``seg`` rows ax, ay,
    bx, by of the edge."""
    ax, ay, bx, by = seg
    span_v = (ax > cx) != (bx > cx)
    in_y = (np.minimum(ay, by) <= y) & (y <= np.maximum(ay, by))  # holds where span_h does
    w = np.flatnonzero(in_y | span_v)  # the other pairs neither cross nor touch p or the corner
    ax, ay, bx, by, x, y, cx, cy = ax[w], ay[w], bx[w], by[w], x[w], y[w], cx[w], cy[w]
    span_v, in_y = span_v[w], in_y[w]
    dx, dy = bx - ax, by - ay
    s_p, u_p = _orient(ax, ay, dx, dy, x, y)
    s_k, u_k = _orient(ax, ay, dx, dy, cx, y)
    s_c, u_c = _orient(ax, ay, dx, dy, cx, cy)
    span_h = (ay > y) != (by > y)
    lo_x, hi_x = np.minimum(ax, bx), np.maximum(ax, bx)
    box_p = in_y & (lo_x <= x) & (x <= hi_x)
    box_k = in_y & (lo_x <= cx) & (cx <= hi_x)
    bad = (u_p & (span_h | box_p)) | (u_k & (span_h | span_v | box_k)) | (u_c & span_v)
    cross = np.zeros(len(pe), dtype=bool)
    cross[w] = (span_h & (s_p != s_k)) ^ (span_v & (s_k != s_c))
    uncertain = np.zeros(n, dtype=bool)
    uncertain[pe[w[bad]]] = True
    return cross, uncertain


def _parity_inside(
    px: np.ndarray,
    py: np.ndarray,
    rx: np.ndarray,
    ry: np.ndarray,
    group: np.ndarray,
    t: _Table,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For points in groups (cells) of table t: every (point, candidate of its group) pair, inside or not,
    from the centre's containment and the parity of the crossings; and per point whether it is uncertain.

    Returns inside, the pair's point, the pair's candidate (row in t.cand_poly), uncertain."""
    c0 = t.cand_ptr[group]
    n_cand = t.cand_ptr[group + 1] - c0
    pc_point, pc_cand = _ragged(c0, n_cand)
    pc_first = np.cumsum(n_cand) - n_cand  # each point's first pair
    e0 = t.edge_ptr[group]
    pe, row = _ragged(e0, t.edge_ptr[group + 1] - e0)  # (point, edge) pairs; row in t.edge_id
    seg = t.segments(t.edge_id[row])
    cross, uncertain = _crossings(pe, len(px), px[pe], py[pe], rx[pe], ry[pe], seg)
    pair = pc_first[pe[cross]] + t.edge_slot[row[cross]]
    toggled = np.bincount(pair, minlength=len(pc_point)) % 2 == 1
    return t.cand_inside[pc_cand] ^ toggled, pc_point, pc_cand, uncertain


class _Table:
    """Cells with candidates and edges (CSR): the leaves of a grid, or the crossed cells of a level during
    the build. An edge is named by its first vertex in ``vertices`` (rows x, y; the next vertex ends it);
    ``edge_slot``: the place of each edge's polygon among its cell's candidates."""

    def __init__(
        self,
        cand_ptr: np.ndarray,
        cand_poly: np.ndarray,
        cand_inside: np.ndarray,
        edge_ptr: np.ndarray,
        edge_id: np.ndarray,
        edge_slot: np.ndarray,
        vertices: np.ndarray,
    ):
        self.cand_ptr, self.cand_poly, self.cand_inside = cand_ptr, cand_poly, cand_inside
        self.edge_ptr, self.edge_id, self.edge_slot, self.vertices = edge_ptr, edge_id, edge_slot, vertices

    def segments(self, edge_id: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """ax, ay, bx, by of these edges (four arrays: stacking them cost as much as the gathers)."""
        v = self.vertices
        return v[0][edge_id], v[1][edge_id], v[0][edge_id + 1], v[1][edge_id + 1]

    def subset(self, rows: np.ndarray) -> _Table:
        """The table of the given cells only."""
        c0, n_c = self.cand_ptr[rows], self.cand_ptr[rows + 1] - self.cand_ptr[rows]
        e0, n_e = self.edge_ptr[rows], self.edge_ptr[rows + 1] - self.edge_ptr[rows]
        _, ci = _ragged(c0, n_c)
        cell_of_edge, ei = _ragged(e0, n_e)
        cand_ptr = np.r_[0, np.cumsum(n_c)].astype(np.int64)
        return _Table(
            cand_ptr,
            self.cand_poly[ci],
            self.cand_inside[ci],
            np.r_[0, np.cumsum(n_e)].astype(np.int64),
            self.edge_id[ei],
            self.edge_slot[ei],
            self.vertices,
        )


class CellGrid:
    """The cell hierarchy (see the module docstring), as flat arrays that are saved and loaded as they are.

    ``level0``: int32 cell values of a dense 1440 x 720 grid; ``level1`` ...: blocks of SPLIT x SPLIT
    children, one block per crossed cell of the level above. The leaves (``_Table``): their candidate
    polygons (sorted, each with the containment of the cell centre) and, for crossed cells of the last level,
    the edges in the cell; ``leaf_exact`` leaves (centre on or next to an edge) go to the exact query.
    """

    ARRAYS = (
        *(f"level{i}" for i in range(LEVELS)),
        "cand_count",
        "cand_poly",
        "cand_inside",
        "edge_count",
        "edge_id",
        "edge_slot",
        "leaf_exact",
        "vertices",
    )

    def __init__(self, arrays: dict[str, np.ndarray], n_polygons: int):
        self.n_polygons = n_polygons
        self.levels = [arrays[f"level{i}"] for i in range(LEVELS)]
        a = arrays
        self.cand_count, self.edge_count = a["cand_count"], a["edge_count"]
        self.leaves = _Table(
            _offsets(self.cand_count),
            a["cand_poly"],
            a["cand_inside"],
            _offsets(self.edge_count),
            a["edge_id"],
            a["edge_slot"],
            a["vertices"],
        )
        self.leaf_exact = a["leaf_exact"]
        self._check()

    def arrays(self) -> dict[str, np.ndarray]:
        t = self.leaves
        out = {f"level{i}": a for i, a in enumerate(self.levels)}
        out.update(cand_count=self.cand_count, cand_poly=t.cand_poly, cand_inside=t.cand_inside)
        out.update(edge_count=self.edge_count)
        out.update(edge_id=t.edge_id, edge_slot=t.edge_slot, leaf_exact=self.leaf_exact, vertices=t.vertices)
        return out

    def _check(self) -> None:
        """Shapes, dtypes and index ranges, so that a damaged file fails here and not as a wrong answer or
        an out-of-range lookup."""
        p, n_leaf, t = self.n_polygons, len(self.leaf_exact), self.leaves
        ok = len(self.levels[0]) == 360 * ROOT_CELLS_PER_DEG * 180 * ROOT_CELLS_PER_DEG
        for i, lev in enumerate(self.levels):
            ok &= lev.dtype == np.int32 and lev.ndim == 1
            n_child = len(self.levels[i + 1]) // (SPLIT * SPLIT) if i + 1 < len(self.levels) else 0
            ok &= bool(len(lev) == 0 or (lev.min() >= -1 - n_leaf and lev.max() < p + n_child))
        for count, ptr, items in (
            (self.cand_count, t.cand_ptr, t.cand_poly),
            (self.edge_count, t.edge_ptr, t.edge_id),
        ):
            ok &= count.dtype in (np.uint8, np.uint16, np.int32) and len(count) == n_leaf
            ok &= bool(ptr[-1] == len(items) and (len(count) == 0 or count.min() >= 0))
        ok &= len(t.cand_inside) == len(t.cand_poly) and t.cand_inside.dtype == bool
        ok &= len(t.edge_slot) == len(t.edge_id) and self.leaf_exact.dtype == bool
        ok &= t.vertices.ndim == 2 and t.vertices.shape[0] == 2 and t.vertices.dtype == np.float64
        ok &= t.edge_slot.dtype in (np.uint8, np.int32) and t.cand_poly.dtype in (np.uint16, np.int32)
        if ok and len(t.edge_slot):
            ok &= bool(t.edge_slot.max() < np.diff(t.cand_ptr).max())
        for items, bound in (
            (t.cand_poly, p),
            (t.edge_id, t.vertices.shape[1] - 1),
        ):
            ok &= bool(len(items) == 0 or (items.min() >= 0 and items.max() < bound))
        if not ok:
            raise ValueError("inconsistent cell grid arrays")

    # --- cache -----------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path, key: str | Callable[[], str], n_polygons: int) -> CellGrid | None:
        """The cached grid when the file exists, is intact (every member's CRC-32, shapes, ranges) and has
        this key; None otherwise (the caller rebuilds). ``key`` may be a callable, asked once the file is
        read (so that the caller can compute it meanwhile)."""
        if not path.exists():
            return None
        try:
            arrays = _read_npz(path)
            if str(arrays.get("key")) != (key if isinstance(key, str) else key()):
                log.info("grid cache %s is for other polygons or parameters: rebuilding", path)
                return None
            return cls({name: arrays[name] for name in cls.ARRAYS}, n_polygons)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("grid cache %s unreadable (%s): rebuilding", path, exc)
            return None

    def save(self, path: Path, key: str) -> None:
        """Write the grid beside ``path`` and move it in place (a reader never sees half a file)."""
        payload: dict[str, Any] = {"key": np.array(key), **self.arrays()}

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
                np.savez(fh, **payload)

        try:
            replace_atomically(path, write)
        except OSError as exc:  # a read-only data dir: the grid still serves this process
            log.warning("grid cache %s not written: %s", path, exc)

    # --- lookup ----------------------------------------------------------------------------------
    def locate(
        self, lon: np.ndarray, lat: np.ndarray, point_country: np.ndarray, polygon_country: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per point the own-country polygon holding it (-1: none), and the points left to the exact query."""
        n, p, depth = len(lon), self.n_polygons, len(self.levels) - 1
        hit = np.full(n, -1, dtype=np.int64)
        # cells of the last level (exact power-of-two scaling); a level's cell is that shifted right
        m_last = ROOT_CELLS_PER_DEG * SPLIT**depth
        fx = np.minimum(np.floor((lon + 180.0) * m_last).astype(np.int64), 360 * m_last - 1)
        fy = np.minimum(np.floor((lat + 90.0) * m_last).astype(np.int64), 180 * m_last - 1)
        idx = np.arange(n)
        value = np.zeros(0, dtype=np.int64)
        leaf_pts, leaf_ids, ref_x, ref_y = [], [], [], []
        for level, cells in enumerate(self.levels):
            m, shift = ROOT_CELLS_PER_DEG * SPLIT**level, SPLIT_BITS * (depth - level)
            ix, iy = fx >> shift, fy >> shift
            if level == 0:
                value = cells[ix * (180 * m) + iy].astype(np.int64)
            else:
                value = cells[(value - p) * (SPLIT * SPLIT) + (ix % SPLIT) * SPLIT + iy % SPLIT].astype(
                    np.int64
                )
            own = (value >= 0) & (value < p)
            own_pts = idx[own]
            hit[own_pts] = np.where(polygon_country[value[own]] == point_country[own_pts], value[own], -1)
            leaf = value <= -2
            if leaf.any():
                leaf_pts.append(idx[leaf])
                leaf_ids.append(-2 - value[leaf])
                ref_x.append((ix[leaf] + 0.5) / m - 180.0)
                ref_y.append((iy[leaf] + 0.5) / m - 90.0)
            child = np.flatnonzero(value >= p)
            idx, value, fx, fy = idx[child], value[child], fx[child], fy[child]
        if not leaf_pts:
            return hit, np.zeros(0, dtype=np.int64)
        pts, leaves = np.concatenate(leaf_pts), np.concatenate(leaf_ids)
        rx, ry = np.concatenate(ref_x), np.concatenate(ref_y)
        inside, pc_point, pc_cand, uncertain = _parity_inside(lon[pts], lat[pts], rx, ry, leaves, self.leaves)
        uncertain |= self.leaf_exact[leaves]
        poly = self.leaves.cand_poly[pc_cand].astype(np.int64)
        ok = np.flatnonzero(inside & (polygon_country[poly] == point_country[pts[pc_point]]))
        first = ok[np.r_[True, pc_point[ok][1:] != pc_point[ok][:-1]]] if len(ok) else ok
        hit[pts[pc_point[first]]] = poly[first]
        slow = pts[uncertain]
        hit[slow] = -1
        return hit, slow

    # --- build -----------------------------------------------------------------------------------
    @classmethod
    def build(cls, polygons: np.ndarray) -> CellGrid:
        """Build the whole grid, vectorised (see ``_Builder``)."""
        return _Builder(polygons).run()


def _edge_table(polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ring vertex of every polygon (rows x, y); the edges, each named by its first vertex; and the
    polygon of each vertex's edge (-1 for a ring's last vertex)."""
    parts, part_of = shapely.get_parts(polygons, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, vertex_of = shapely.get_coordinates(rings, return_index=True)
    edge_ids = np.flatnonzero(vertex_of[1:] == vertex_of[:-1])
    edge_poly = np.full(len(coords), -1, dtype=np.int64)
    edge_poly[edge_ids] = part_of[ring_of[vertex_of[edge_ids]]]
    return np.ascontiguousarray(coords.T), edge_ids, edge_poly


def _edge_cells(edges: tuple, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique (cell, edge) pairs at m cells per degree: every cell an edge passes through or comes
    within EPS_DEG of. Each edge is cut into pieces at most half a cell long; each piece marks the cells of
    its box widened by EPS_DEG (which covers the pieces' rounding), with the same monotone floor as the
    points."""
    ax, ay, bx, by = edges
    dx, dy = bx - ax, by - ay
    pieces = np.maximum(1, np.ceil(np.maximum(np.abs(dx), np.abs(dy)) * m / 0.999)).astype(np.int64)
    e, j = _ragged(np.zeros(len(ax), dtype=np.int64), pieces)
    t0, t1 = j / pieces[e], (j + 1) / pieces[e]
    x0, x1, y0, y1 = ax[e] + dx[e] * t0, ax[e] + dx[e] * t1, ay[e] + dy[e] * t0, ay[e] + dy[e] * t1
    nx, ny = 360 * m, 180 * m

    def cell(v: np.ndarray, off: float, n: int) -> np.ndarray:
        return np.clip(np.floor((v + off) * m).astype(np.int64), 0, n - 1)

    # a piece spans less than a cell, widened by 2 EPS_DEG still less: at most 2 cells on each axis
    gx0, gx1 = cell(np.minimum(x0, x1) - EPS_DEG, 180.0, nx), cell(np.maximum(x0, x1) + EPS_DEG, 180.0, nx)
    gy0, gy1 = cell(np.minimum(y0, y1) - EPS_DEG, 90.0, ny), cell(np.maximum(y0, y1) + EPS_DEG, 90.0, ny)
    wide_x, wide_y = gx1 != gx0, gy1 != gy0
    n_edges = np.int64(len(ax))
    keys = np.concatenate(
        [
            (gx0 * ny + gy0) * n_edges + e,
            ((gx1 * ny + gy0) * n_edges + e)[wide_x],
            ((gx0 * ny + gy1) * n_edges + e)[wide_y],
            ((gx1 * ny + gy1) * n_edges + e)[wide_x & wide_y],
        ]
    )
    keys = _unique(keys)
    return keys // n_edges, keys % n_edges


class _Builder:
    """Builds a CellGrid level by level.

    Level 0: the crossed cells from the edges; every other cell's value from the connected components of
    uncrossed cells (4-neighbours: no edge separates them), one exact query per component. Each crossed cell
    gets the polygons holding its centre (exact query at level 0) and its edges; its children's centres are
    then decided by the crossing parity from that centre (the lookup's own code), uncertain ones exactly."""

    def __init__(self, polygons: np.ndarray):
        self.p = len(polygons)
        self.vertices, self.edge_ids, self.edge_poly = _edge_table(polygons)
        self.tree = STRtree(polygons)
        # parity may differ from GEOS on invalid polygons: their cells take the exact query
        self.edge_exact = np.r_[~shapely.is_valid(polygons), False][self.edge_poly]
        self.blocks: list[tuple[_Table, np.ndarray]] = []  # leaves, block by block
        self.n_leaves = 0

    def segments(self, edge_id: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        v = self.vertices
        return v[0][edge_id], v[1][edge_id], v[0][edge_id + 1], v[1][edge_id + 1]

    def _contains(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(point, polygon) pairs of the polygons holding each point, sorted (exact query)."""
        pt_i, poly_i = self.tree.query(shapely.points(x, y), predicate="within")
        order = np.lexsort((poly_i, pt_i))
        return pt_i[order], poly_i[order]

    def run(self) -> CellGrid:
        m, ny = ROOT_CELLS_PER_DEG, 180 * ROOT_CELLS_PER_DEG
        cell_of_pair, local_edge = _edge_cells(self.segments(self.edge_ids), m)
        edge_of_pair = self.edge_ids[local_edge]
        crossed = _unique(cell_of_pair)
        level0 = np.full(360 * m * ny, EMPTY, dtype=np.int64)
        self._fill_uncrossed(level0, crossed, 360 * m, ny)
        cx, cy = crossed // ny, crossed % ny
        pt_i, poly_i = self._contains((cx + 0.5) / m - 180.0, (cy + 0.5) / m - 90.0)
        cells = _Cells(self, crossed, cx, cy, m, pt_i, poly_i, np.zeros(len(crossed), dtype=bool))
        cells.attach_edges(cell_of_pair, edge_of_pair)
        level0[crossed], split = self._crossed_values(cells, last=LEVELS == 1)
        levels = [level0.astype(np.int32)]
        for level in range(1, LEVELS):
            cells, values, split = self._children(cells.subset(split), level)
            levels.append(values.astype(np.int32))
        arrays = {f"level{i}": a for i, a in enumerate(levels)}
        arrays.update(self._leaf_arrays())
        return CellGrid(arrays, self.p)

    def _fill_uncrossed(self, level0: np.ndarray, crossed: np.ndarray, nx: int, ny: int) -> None:
        from scipy import ndimage  # a dependency of scikit-learn; only the build needs it

        free = np.ones(nx * ny, dtype=bool)
        free[crossed] = False
        labels, n_labels = ndimage.label(free.reshape(nx, ny))
        labels = labels.ravel()
        at = np.flatnonzero(free)
        lab = labels[at]
        first_at = np.flatnonzero(np.r_[True, np.diff(np.sort(lab)) != 0])
        order = np.argsort(lab, kind="stable")
        rep = at[order[first_at]]  # one cell per label, labels 1..n in order
        m = ROOT_CELLS_PER_DEG
        pt_i, poly_i = self._contains((rep // ny + 0.5) / m - 180.0, (rep % ny + 0.5) / m - 90.0)
        level0[at] = self._set_values(n_labels, pt_i, poly_i)[lab - 1]

    def _set_values(self, n: int, pt_i: np.ndarray, poly_i: np.ndarray) -> np.ndarray:
        """Values of uncrossed cells from the polygons holding their centres: none, the one, or (overlaps) a
        leaf without edges."""
        count = np.bincount(pt_i, minlength=n)
        out = np.full(n, EMPTY, dtype=np.int64)
        one = count[pt_i] == 1
        out[pt_i[one]] = poly_i[one]
        multi = np.flatnonzero(count >= 2)
        if len(multi):
            sel = np.isin(pt_i, multi)
            n_cand = count[multi]
            table = _Table(
                np.r_[0, np.cumsum(n_cand)].astype(np.int64),
                poly_i[sel],
                np.ones(int(sel.sum()), dtype=bool),
                np.zeros(len(multi) + 1, dtype=np.int64),
                np.zeros(0, dtype=np.int64),
                np.zeros(0, dtype=np.int64),
                self.vertices,
            )
            out[multi] = self._add_leaves(table, np.zeros(len(multi), dtype=bool))
        return out

    def _add_leaves(self, table: _Table, exact: np.ndarray) -> np.ndarray:
        """Cell values (-2 - leaf) for a block of new leaves."""
        first = self.n_leaves
        self.blocks.append((table, exact))
        self.n_leaves += len(exact)
        return -2 - (first + np.arange(len(exact)))

    def _crossed_values(self, cells: _Cells, last: bool) -> tuple[np.ndarray, np.ndarray]:
        """Values of crossed cells: a child block each for those split (more than MAX_LEAF_EDGES edges, not
        the last level), a leaf with edges for the others; and which are split."""
        n_edges = np.diff(cells.table.edge_ptr)
        split = np.zeros(len(n_edges), dtype=bool) if last else n_edges > MAX_LEAF_EDGES
        values = np.empty(len(n_edges), dtype=np.int64)
        values[split] = self.p + np.arange(int(split.sum()))
        leaf = np.flatnonzero(~split)
        values[leaf] = self._add_leaves(cells.table.subset(leaf), cells.exact[leaf])
        return values, np.flatnonzero(split)

    def _children(self, parents: _Cells, level: int) -> tuple[_Cells, np.ndarray, np.ndarray]:
        """The SPLIT x SPLIT children of every split parent: their values, the crossed ones as cells, and
        which of those are split in turn."""
        m = ROOT_CELLS_PER_DEG * SPLIT**level
        ny, k2 = 180 * m, SPLIT * SPLIT
        local = np.arange(k2)
        cx = (parents.cx[:, None] * SPLIT + local // SPLIT).ravel()
        cy = (parents.cy[:, None] * SPLIT + local % SPLIT).ravel()
        parent = np.repeat(np.arange(len(parents.key)), k2)
        px, py = (cx + 0.5) / m - 180.0, (cy + 0.5) / m - 90.0
        pt_i, poly_i, uncertain = parents.contains(px, py, parent)
        redo = np.flatnonzero(uncertain)
        if len(redo):  # exactly; such a centre is no reference for its own cell (exact below)
            keep = ~uncertain[pt_i]
            r_pt, r_poly = self._contains(px[redo], py[redo])
            pt_i, poly_i = np.concatenate([pt_i[keep], redo[r_pt]]), np.concatenate([poly_i[keep], r_poly])
            order = np.lexsort((poly_i, pt_i))
            pt_i, poly_i = pt_i[order], poly_i[order]
        key = cx * ny + cy
        near = _unique(parents.table.edge_id)  # a child's edges are among its parent's
        cell_of_pair, local_edge = _edge_cells(self.segments(near), m)
        edge_of_pair = near[local_edge]
        crossed_keys = _unique(cell_of_pair)
        is_crossed = np.isin(key, crossed_keys)
        free = ~is_crossed[pt_i]
        values = self._set_values(len(key), pt_i[free], poly_i[free])
        c = np.flatnonzero(is_crossed)
        remap = np.full(len(key), -1, dtype=np.int64)
        remap[c] = np.arange(len(c))
        sel = remap[pt_i] >= 0
        cells = _Cells(self, key[c], cx[c], cy[c], m, remap[pt_i[sel]], poly_i[sel], uncertain[c])
        cells.attach_edges(cell_of_pair, edge_of_pair)
        values[c], split = self._crossed_values(cells, last=level == LEVELS - 1)
        return cells, values, split

    def _leaf_arrays(self) -> dict[str, np.ndarray]:
        """The leaf blocks as one table (offsets shifted block by block)."""
        parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("cp", "poly", "inside", "ep", "eid", "ec", "exact")
        }
        n_cand = n_edge = 0
        for table, exact in self.blocks:
            parts["cp"].append(table.cand_ptr[:-1] + n_cand)
            parts["ep"].append(table.edge_ptr[:-1] + n_edge)
            parts["poly"].append(table.cand_poly)
            parts["inside"].append(table.cand_inside)
            parts["eid"].append(table.edge_id)
            parts["ec"].append(table.edge_slot)
            parts["exact"].append(exact)
            n_cand += len(table.cand_poly)
            n_edge += len(table.edge_id)

        def cat(name: str, dtype: type) -> np.ndarray:
            return np.concatenate([np.zeros(0, dtype=dtype), *parts[name]]).astype(dtype)

        slot = cat("ec", np.int32)
        return {
            "cand_count": _small(np.diff(np.r_[cat("cp", np.int64), n_cand])),
            "cand_poly": cat("poly", np.uint16 if self.p < 2**16 else np.int32),
            "cand_inside": cat("inside", bool),
            "edge_count": _small(np.diff(np.r_[cat("ep", np.int64), n_edge])),
            "edge_id": cat("eid", np.int32),
            "edge_slot": slot.astype(np.uint8) if len(slot) == 0 or slot.max() < 256 else slot,
            "leaf_exact": cat("exact", bool),
            "vertices": self.vertices,
        }


class _Cells:
    """Crossed cells of one level during the build: key, position, the polygons holding the centre (sorted
    (cell, polygon) pairs) and whether the centre is unfit as a reference (``exact``); after
    ``attach_edges``, their ``table`` of candidates (polygons holding the centre or with an edge in the cell)
    and edges."""

    def __init__(
        self,
        builder: _Builder,
        key: np.ndarray,
        cx: np.ndarray,
        cy: np.ndarray,
        m: int,
        pt_i: np.ndarray,
        poly_i: np.ndarray,
        exact: np.ndarray,
    ):
        self.b = builder
        self.key, self.cx, self.cy, self.m = key, cx, cy, m
        self.hold_cell, self.hold_poly = pt_i, poly_i
        self.exact = exact.copy()
        empty = np.zeros(0, dtype=np.int64)
        self.table = _Table(empty, empty, empty.astype(bool), empty, empty, empty, builder.vertices)

    def subset(self, rows: np.ndarray) -> _Cells:
        """These cells only (with their table)."""
        out = _Cells(
            self.b,
            self.key[rows],
            self.cx[rows],
            self.cy[rows],
            self.m,
            self.hold_cell[:0],
            self.hold_poly[:0],
            self.exact[rows],
        )
        out.table = self.table.subset(rows)
        return out

    def centres(self, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (self.cx[cell] + 0.5) / self.m - 180.0, (self.cy[cell] + 0.5) / self.m - 90.0

    def attach_edges(self, cell_of_pair: np.ndarray, edge_of_pair: np.ndarray) -> None:
        b, n, p = self.b, len(self.key), np.int64(self.b.p)
        lo, hi = np.searchsorted(cell_of_pair, self.key), np.searchsorted(cell_of_pair, self.key, "right")
        cell_of_edge, rows = _ragged(lo, hi - lo)
        edge_id = edge_of_pair[rows]
        held = self.hold_cell * p + self.hold_poly
        edge_key = cell_of_edge * p + b.edge_poly[edge_id]
        cand = _unique(np.concatenate([held, edge_key]))
        cand_ptr = np.r_[0, np.cumsum(np.bincount(cand // p, minlength=n))].astype(np.int64)
        self.table = _Table(
            cand_ptr,
            cand % p,
            np.isin(cand, held),
            np.r_[0, np.cumsum(hi - lo)].astype(np.int64),
            edge_id,
            np.searchsorted(cand, edge_key) - cand_ptr[cell_of_edge],
            b.vertices,
        )
        self.exact |= np.bincount(cell_of_edge, weights=b.edge_exact[edge_id], minlength=n) > 0
        # a centre on or next to one of its cell's edges is no reference
        rx, ry = self.centres(np.arange(n))
        seg = b.segments(edge_id)
        _, near = _crossings(
            cell_of_edge, n, rx[cell_of_edge], ry[cell_of_edge], rx[cell_of_edge], ry[cell_of_edge], seg
        )
        self.exact |= near

    def contains(
        self, px: np.ndarray, py: np.ndarray, cell: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, polygon) pairs of the polygons holding points that lie in the given cells (sorted), and
        per point whether that is uncertain (its pairs are then to be redone exactly)."""
        rx, ry = self.centres(cell)
        inside, pc_point, pc_cand, uncertain = _parity_inside(px, py, rx, ry, cell, self.table)
        uncertain |= self.exact[cell]
        return pc_point[inside], self.table.cand_poly[pc_cand[inside]], uncertain


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
