"""ETL benchmark: full ETL vs a plain pandas read of the same files, and the spatial join vs a naive loop.

Run: .venv/bin/python -m benchmarks.etl
Prints absolute times and ratios measured in this process (the goal is ETL <= 3x the plain read).
"""

from __future__ import annotations

import gzip
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from etl.context import MappingContext
from etl.loader import run
from etl.sources import all_sources
from warehouse.config import raw_dir
from warehouse.db import make_engine, migrate


def plain_read(path: Path) -> int:
    """What a careful analyst would do by hand: read the file with pandas/geopandas, nothing else."""
    name = path.name.lower()
    if name.endswith((".geojson", ".shp", ".topojson", ".json")):
        import geopandas as gpd

        return len(gpd.read_file(path))
    if name.endswith((".xlsx", ".xls")):
        return sum(len(df) for df in pd.read_excel(path, sheet_name=None).values())
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as fh:
        return len(pd.read_csv(fh, low_memory=False))


def main() -> None:
    raw = raw_dir()
    files = sorted({p for s in all_sources() for p in s.paths(raw)})
    t0 = time.perf_counter()
    rows = sum(plain_read(p) for p in files)
    t_plain = time.perf_counter() - t0
    print(f"plain read: {len(files)} files, {rows:,} rows in {t_plain:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.sqlite")
        migrate(engine)
        t0 = time.perf_counter()
        results = run(engine, force=True)
        t_etl = time.perf_counter() - t0
        failed = [r.source for r in results if r.status == "failed"]
        obs = sum(r.observations for r in results)
        print(f"full ETL:   {len(results)} sources ({len(failed)} failed {failed}), {obs:,} observations "
              f"in {t_etl:.1f} s")
        print(f"ratio ETL / plain read = {t_etl / t_plain:.2f}x (goal <= 3x)")

        ctx = MappingContext(raw_dir=raw, engine=engine)
        index = ctx.admin_index
        ged = pd.concat([pd.read_csv(p, usecols=["latitude", "longitude", "country_id"], low_memory=False)
                         for p in sorted((raw / "ucdp_ged_events").glob("*.csv*"))], ignore_index=True)
        iso3 = ged["country_id"].map(lambda c: ctx.crosswalk.to_iso3("gw", c)).fillna("").to_numpy()
        t0 = time.perf_counter()
        index.assign(ged["longitude"].to_numpy(), ged["latitude"].to_numpy(), iso3)
        t_index = time.perf_counter() - t0
        rate_index = len(ged) / t_index

        from etl.spatial import naive_assign

        regions = ctx.regions
        adm1 = regions[regions["level"] == 1]
        import shapely
        from sqlalchemy import select

        from warehouse.schema import region

        with engine.connect() as conn:
            geo = conn.execute(select(region.c.region_id, region.c.geometry_wkb).where(region.c.level == 1)).all()
        geoms = shapely.from_wkb(np.array([g[1] for g in geo], dtype=object))
        sample = ged.sample(200, random_state=1)
        t0 = time.perf_counter()
        naive_assign(sample["longitude"].to_numpy(), sample["latitude"].to_numpy(),
                     np.array([g[0] for g in geo], dtype=object), geoms)
        t_naive = time.perf_counter() - t0
        rate_naive = len(sample) / t_naive
        print(f"spatial join: {len(ged):,} GED events in {t_index:.2f} s = {rate_index:,.0f} events/s "
              f"(STRtree per country, {len(adm1):,} admin-1 polygons)")
        print(f"naive shapely loop on a 200-event sample: {rate_naive:,.1f} events/s; "
              f"speed-up = {rate_index / rate_naive:,.0f}x")


if __name__ == "__main__":
    main()
