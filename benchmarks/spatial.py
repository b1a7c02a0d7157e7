"""Spatial benchmark: the admin-1 assignment (etl.spatial) on the real GED files and on 2 million points
sampled inside the real admin-1 polygons, against geopandas ``sjoin`` and a naive loop in the same process.

Run: .venv/bin/python -m benchmarks.etl --spatial-only (or as the last part of ``python -m benchmarks.etl``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from etl.context import MappingContext


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


def spatial_benchmark(engine, raw: Path, sample_points: int = 2_000_000) -> None:
    """Events/s of the admin-1 assignment on the real GED files and on points sampled inside the real
    polygons.

    Anchors measured in the same process: geopandas ``sjoin`` (intersects) on the same points, and a naive
    shapely loop on a 200-event sample.
    """
    import geopandas as gpd
    import shapely
    from sqlalchemy import select

    from etl.spatial import naive_assign
    from warehouse.schema import region

    ctx = MappingContext(raw_dir=raw, engine=engine)
    index = ctx.admin_index
    ged = pd.concat(
        [
            pd.read_csv(p, usecols=["latitude", "longitude", "country_id"], low_memory=False)
            for p in sorted((raw / "ucdp_ged").glob("*.csv*"))
        ],
        ignore_index=True,
    )
    iso3 = ged["country_id"].map(lambda c: ctx.crosswalk.to_iso3("gw", c)).fillna("").to_numpy()
    t0 = time.perf_counter()
    index.assign(ged["longitude"].to_numpy(), ged["latitude"].to_numpy(), iso3)
    t_index = time.perf_counter() - t0

    with engine.connect() as conn:
        geo = conn.execute(
            select(region.c.region_id, region.c.iso3, region.c.geometry_wkb).where(region.c.level == 1)
        ).all()
    ids = np.array([g[0] for g in geo], dtype=object)
    geo_iso3 = np.array([g[1] for g in geo], dtype=object)
    geoms = shapely.from_wkb(np.array([g[2] for g in geo], dtype=object))
    sample = ged.sample(200, random_state=1)
    t0 = time.perf_counter()
    naive_assign(sample["longitude"].to_numpy(), sample["latitude"].to_numpy(), ids, geoms)
    rate_naive = len(sample) / (time.perf_counter() - t0)
    print(
        f"spatial join: {len(ged):,} real GED events in {t_index:.2f} s = {len(ged) / t_index:,.0f} events/s "
        f"({len(ids):,} admin-1 polygons)"
    )
    print(
        f"naive shapely loop on a 200-event sample: {rate_naive:,.1f} events/s; "
        f"speed-up = {len(ged) / t_index / rate_naive:,.0f}x"
    )

    x, y, owner = _sample_inside(geoms, sample_points)
    t0, c0 = time.perf_counter(), time.process_time()
    out = index.assign(x, y, geo_iso3[owner])
    t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    index.assign(x, y, geo_iso3[owner])  # again: the grid and its cells are kept by the index
    t_again, c_again = time.perf_counter() - t0, time.process_time() - c0
    agree = float((out["region_id"].to_numpy(dtype=object) == ids[owner]).mean())
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")
    polygons = gpd.GeoDataFrame({"region_id": ids}, geometry=geoms, crs="EPSG:4326")
    t0, c0 = time.perf_counter(), time.process_time()
    gpd.sjoin(points, polygons, predicate="intersects", how="left")
    t_sjoin, c_sjoin = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"{len(x):,} points sampled inside the real admin-1 polygons: {len(x) / t_ours:,.0f} events/s "
        f"({agree:.4%} in the polygon they were drawn in); geopandas sjoin {len(x) / t_sjoin:,.0f} events/s; "
        f"ratio ours / sjoin = {t_sjoin / t_ours:.2f}x"
    )
    print(
        f"  CPU: first call (grid built) {len(x) / c_ours:,.0f} events/s, again {len(x) / c_again:,.0f} "
        f"events/s (wall {len(x) / t_again:,.0f}), sjoin {len(x) / c_sjoin:,.0f} events/s; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
