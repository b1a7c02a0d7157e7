"""Spatial benchmark: the admin-1 assignment (etl.spatial) on the real GED files and on 2 million points
sampled inside the real admin-1 polygons, against geopandas ``sjoin`` and a naive loop in the same process.

Run: .venv/bin/python -m benchmarks.etl --spatial-only (or as the last part of ``python -m benchmarks.etl``).

What is timed (wall clock, CPU time beside it, load average printed with every line):
- the grid's build and save into an empty cache folder (a call of GRID_MIN_POINTS points or more does it;
  the cost a data dir pays once), and the exact bulk query on the GED events (what a new data dir's ETL runs:
  GED is under the build threshold);
- real GED files, cached: the first call in a fresh Python process (``python -m benchmarks.spatial
  --cached-ged``) with the cache written above on disk: it includes hashing the polygons' WKB for the key,
  loading and checking the .npz, and the nearest-polygon fallback. This is the ``spatial join:`` line;
- the exact bulk query alone (what calls below GRID_CACHE_MIN_POINTS take, and every call took before);
- 2M points: the first call of a new index (grid loaded from the cache), the same call again, then
  geopandas ``sjoin`` (intersects) on the same points, and a naive shapely loop on 200 GED events.
Every grid result is compared with the exact query's (GED) or with the polygon each point was drawn in (2M).

Measured on the 2-core machine shared with other jobs, so wall figures swing with the load average; the
CPU-time figures are the steadier comparison.
- Before (two-level 0.1-degree grid filled lazily, exact query for crossed cells; lead, 12:49 UTC, load 1.0):
  GED 290,374 events/s (exact path); 2M first call 329,442, again 827,332; sjoin 451,471 events/s. Same code
  at 12:58, load 2.8: GED 149,077; 2M first call 132,771 (CPU 265,552), again 596,503 (CPU 807,456); sjoin
  189,822 (CPU 326,003).
- After (this grid; three runs 13:50-13:54 UTC, load 4.2-7.3): GED, fresh process with the cache: 448k-606k
  events/s wall, 805k-883k CPU (one earlier run at load 6.6: 974k wall, 1.14M CPU); cold build 11-17 s wall,
  7.3-8.7 s CPU, paid once per data dir and polygon set; 2M first call (cache load included) 0.78M-1.37M wall,
  1.61M-2.03M CPU; again 0.88M-1.28M wall, 1.78M-2.03M CPU; sjoin 114k-222k wall, 234k-270k CPU, so 6-9 times
  sjoin. Frames equal to the exact query on GED, and on 3.55M mixed points (2M sampled, 1M uniform on the
  globe, 0.5M on or next to real vertices) in a separate check.
- 2026-12-04 (a faster, idle machine, load 0.4-1.1): the polygons' key is now hashed in a second thread
  while the cache file is read and CRC-checked, and the file is mapped with MAP_POPULATE. GED, fresh process
  with the cache, five alternating pairs against the code before: 1.08M-1.23M events/s (median 1.16M) against
  0.76M-1.16M (median 1.14M): the median barely moves, the slow runs go. CPU time now exceeds wall time on
  this call (two threads), so its wall figure is the one to read. In the ETL benchmark's run: GED 1.05M
  events/s, exact query 272k, build 6.7 s; 2M first call 2.16M, again 2.26M, sjoin 325k (6.65x).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from etl.context import MappingContext
from etl.spatial import CACHE_NAME, GRID_MIN_POINTS, AdminIndex


def _sample_inside(geoms: np.ndarray, n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n points drawn uniformly inside randomly chosen real polygons (rejection sampling in each bounding
    box)."""
    import shapely

    rng = np.random.default_rng(seed)
    xs, ys, owners = [], [], []
    got = 0
    while got < n:
        pick = rng.integers(0, len(geoms), size=n)
        b = shapely.bounds(geoms[pick])
        x, y = rng.uniform(b[:, 0], b[:, 2]), rng.uniform(b[:, 1], b[:, 3])
        inside = shapely.contains_xy(geoms[pick], x, y)
        xs.append(x[inside]), ys.append(y[inside]), owners.append(pick[inside])
        got += int(inside.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n], np.concatenate(owners)[:n]


def _ged_points(ctx: MappingContext, raw: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ged = pd.concat(
        [
            pd.read_csv(p, usecols=["latitude", "longitude", "country_id"], low_memory=False)
            for p in sorted((raw / "ucdp_ged").glob("*.csv*"))
        ],
        ignore_index=True,
    )
    iso3 = ged["country_id"].map(lambda c: ctx.crosswalk.to_iso3("gw", c)).fillna("").to_numpy()
    return ged["longitude"].to_numpy(), ged["latitude"].to_numpy(), iso3


def _like(index: AdminIndex, cache_dir: Path | None) -> AdminIndex:
    """A new index of the same polygons (nothing kept from earlier calls) with this cache folder."""
    return AdminIndex(index.region_ids, index.iso3, index.geometries, cache_dir=cache_dir, wkb=index._wkb)


def timed(fn, *args):
    """(result, wall seconds, CPU seconds of this process) of ``fn(*args)``."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def spatial_benchmark(engine, raw: Path, sample_points: int = 2_000_000) -> None:
    """Events/s of the admin-1 assignment on the real GED files and on points sampled inside the real
    polygons (see the module docstring)."""
    import geopandas as gpd

    from etl.spatial import naive_assign

    ctx = MappingContext(raw_dir=raw, engine=engine)
    base, t_base, _ = timed(lambda: ctx.admin_index)
    lon, lat, iso3 = _ged_points(ctx, raw)
    n = len(lon)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        # the one-off cost: a grid is built (and saved) only by a call of GRID_MIN_POINTS or more
        grid, t_build, c_build = timed(_like(base, cache).grid, GRID_MIN_POINTS)
        assert grid is not None and (cache / CACHE_NAME).exists()
        exact_index = _like(base, None)
        exact_index.use_grid = False
        _, t_exact, c_exact = timed(exact_index.assign, lon, lat, iso3)
        cached = _cached_ged_in_fresh_process(engine, raw, cache)
        print(
            f"spatial join: {n:,} real GED events in {cached['wall']:.3f} s = {n / cached['wall']:,.0f} "
            f"events/s ({len(base.region_ids):,} polygons; first call of a fresh process, grid loaded "
            f"from the cache: CPU {n / cached['cpu']:,.0f} events/s; same frame as the exact query: "
            f"{cached['equal']}; {cached['load']})"
        )
        print(
            f"  without a saved grid (a new data dir: GED is under the {GRID_MIN_POINTS:,}-point build "
            f"threshold) the exact bulk query: {t_exact:.3f} s = {n / t_exact:,.0f} events/s (CPU "
            f"{n / c_exact:,.0f}); the grid's build and save, once per data dir and polygon set: "
            f"{t_build:.1f} s (CPU {c_build:.1f} s); index from the warehouse {t_base:.2f} s (not in these); "
            f"{_load()}"
        )
        sample = np.random.default_rng(1).choice(n, 200, replace=False)
        _, t_naive, _ = timed(naive_assign, lon[sample], lat[sample], base.region_ids, base.geometries)
        rate_naive = len(sample) / t_naive
        print(
            f"naive shapely loop on a 200-event sample: {rate_naive:,.1f} events/s; "
            f"speed-up = {n / cached['wall'] / rate_naive:,.0f}x"
        )

        geoms, ids, geo_iso3 = base.geometries, base.region_ids, base.iso3
        x, y, owner = _sample_inside(np.asarray(geoms), sample_points)
        index = _like(base, cache)
        out, t_first, c_first = timed(index.assign, x, y, geo_iso3[owner])
        _, t_again, c_again = timed(index.assign, x, y, geo_iso3[owner])
        agree = float((out["region_id"].to_numpy(dtype=object) == ids[owner]).mean())
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")
        polygons = gpd.GeoDataFrame({"region_id": ids}, geometry=geoms, crs="EPSG:4326")
        _, t_sjoin, c_sjoin = timed(gpd.sjoin, points, polygons, "left", "intersects")
    m = len(x)
    print(
        f"{m:,} points sampled inside the real admin-1 polygons: first call (grid loaded from the cache) "
        f"{m / t_first:,.0f} events/s, again {m / t_again:,.0f} events/s ({agree:.4%} in the polygon they "
        f"were drawn in); geopandas sjoin {m / t_sjoin:,.0f} events/s; ratio ours (first) / sjoin = "
        f"{t_sjoin / t_first:.2f}x"
    )
    print(
        f"  CPU: first call {m / c_first:,.0f} events/s, again {m / c_again:,.0f} events/s, sjoin "
        f"{m / c_sjoin:,.0f} events/s; {_load()}"
    )


def _cached_ged_in_fresh_process(engine, raw: Path, cache: Path) -> dict:
    """Run ``--cached-ged`` in a new interpreter on the same warehouse and cache; its JSON result."""
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "CRISISRISK_RAW_DIR": str(raw)}
    cmd = [sys.executable, "-m", "benchmarks.spatial", "--cached-ged", url, str(cache)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cached_ged_main(url: str, cache: Path) -> None:
    """The GED call of a fresh process with the cache on disk (timed: the assign call only)."""
    from etl.spatial import CellGrid
    from warehouse.config import raw_dir
    from warehouse.db import make_engine

    def no_build(polygons: np.ndarray) -> CellGrid:
        raise RuntimeError("the cache was not used")

    CellGrid.build = staticmethod(no_build)  # type: ignore[method-assign]  # this process must load it
    raw = raw_dir()
    ctx = MappingContext(raw_dir=raw, engine=make_engine(url))
    base = ctx.admin_index
    lon, lat, iso3 = _ged_points(ctx, raw)
    index = _like(base, cache)
    out, wall, cpu = timed(index.assign, lon, lat, iso3)
    loaded = index._grid is not None  # and not built (above)
    exact_index = _like(base, None)
    exact_index.use_grid = False
    equal = bool(out.equals(exact_index.assign(lon, lat, iso3))) and loaded
    print(json.dumps({"wall": wall, "cpu": cpu, "equal": equal, "load": _load()}))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--cached-ged":
        _cached_ged_main(sys.argv[2], Path(sys.argv[3]))
    else:
        sys.exit("usage: python -m benchmarks.spatial --cached-ged DATABASE_URL CACHE_DIR")
