"""ETL benchmark: full ETL vs a plain pandas read of the same files, and the spatial join vs a naive loop.

Run: .venv/bin/python -m benchmarks.etl   [--spatial-only: only the admin-1 assignment, on a warehouse of
boundaries]
Prints absolute times and ratios measured in this process (goals: ETL <= 2x the plain read; the admin-1
assignment at least as fast as geopandas sjoin, about 1M points/s on one idle core). The ETL runs as
``crisisrisk etl run`` does (each source parsed and mapped while the previous one is written), then once more
one source at a time, for the ratio between the two.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.spatial import spatial_benchmark
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
    import sys

    raw = raw_dir()
    if "--spatial-only" in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.sqlite")
            migrate(engine)
            run(engine, names=["natural_earth"], force=True)
            spatial_benchmark(engine, raw)
        return
    files = sorted({p for s in all_sources() for p in s.paths(raw)})
    t0, c0 = time.perf_counter(), time.process_time()
    rows = sum(plain_read(p) for p in files)
    t_plain, c_plain = time.perf_counter() - t0, time.process_time() - c0
    print(f"plain read: {len(files)} files, {rows:,} rows in {t_plain:.1f} s (CPU {c_plain:.1f} s)")

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.sqlite")
        migrate(engine)
        t0, c0 = time.perf_counter(), time.process_time()
        results = run(engine, force=True)
        t_etl, c_etl = time.perf_counter() - t0, time.process_time() - c0
        failed = [r.source for r in results if r.status == "failed"]
        obs = sum(r.observations for r in results)
        print(
            f"full ETL:   {len(results)} sources ({len(failed)} failed {failed}), {obs:,} observations "
            f"in {t_etl:.1f} s (CPU {c_etl:.1f} s; each source prepared while the previous one is written)"
        )
        # CPU seconds as well: on a shared machine the wall clock also counts other processes' time
        print(
            f"ratio ETL / plain read = {t_etl / t_plain:.2f}x (goal <= 2x); CPU {c_etl / c_plain:.2f}x; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        # then the same ETL preparing each source only after the previous one is written (as before the
        # lookahead), in a warehouse of its own; it runs second, so it finds hdx's tables and the name
        # caches built (an advantage to it, not to the figure above)
        alone = make_engine(f"sqlite:///{tmp}/one_at_a_time.sqlite")
        migrate(alone)
        t0, c0 = time.perf_counter(), time.process_time()
        run(alone, force=True, lookahead=False)
        t_alone, c_alone = time.perf_counter() - t0, time.process_time() - c0
        alone.dispose()
        print(
            f"  one source at a time (no lookahead): {t_alone:.1f} s (CPU {c_alone:.1f} s), "
            f"{t_alone / t_plain:.2f}x the plain read; lookahead / one at a time = {t_etl / t_alone:.2f}"
        )

        spatial_benchmark(engine, raw)


if __name__ == "__main__":
    main()
