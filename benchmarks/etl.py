"""ETL benchmark: full ETL vs a plain pandas read of the same files, and the spatial join vs a naive loop.

Run: .venv/bin/python -m benchmarks.etl   [--rounds N]
     [--spatial-only: only the admin-1 assignment, on a warehouse of boundaries]
Prints absolute times and ratios measured in this process (goals: ETL <= 2x the plain read; the admin-1
assignment at least as fast as geopandas sjoin, about 1M points/s on one idle core). ``--rounds N`` (3):
each round reads the files plainly, then runs the ETL as ``crisisrisk etl run`` does (a second thread
prepares up to 3 sources ahead of the one written) and once more one source at a time, each into a fresh
warehouse, the two in alternating order. Each round's ratio is taken within the round and the median is
printed: on a shared machine the speed of the same work varies by a quarter from minute to minute, which one
pair cannot tell from a change.
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
from pathlib import Path
from statistics import median

import pandas as pd

from benchmarks.spatial import spatial_benchmark, timed
from etl.loader import LOOKAHEAD, run
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
    if "--spatial-only" in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.sqlite")
            migrate(engine)
            run(engine, names=["natural_earth"], force=True)
            spatial_benchmark(engine, raw)
        return
    # the same files the ETL reads: each source's data files and the lookups its mapping step reads
    files = sorted({p for s in all_sources() for p in [*s.paths(raw), *s.lookup_paths(raw)]})
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    with tempfile.TemporaryDirectory() as tmp:
        measured = [_etl_round(n, files, Path(tmp)) for n in range(rounds)]
        ratios = [m["ratio"] for m in measured]
        # CPU seconds as well: on a shared machine the wall clock also counts other processes' time
        print(
            f"ratio ETL / plain read = {median(ratios):.2f}x (goal <= 2x; median of {rounds} rounds, each a "
            f"ratio within its round: {', '.join(f'{r:.2f}' for r in ratios)}); "
            f"CPU {median(m['ratio_cpu'] for m in measured):.2f}x; "
            f"one source at a time {median(m['alone'] for m in measured):.2f}x; "
            f"lookahead / one at a time = {median(m['gain'] for m in measured):.2f}"
        )
        engine = make_engine(_warehouse_url(Path(tmp), 0, True))  # round 1's warehouse, kept for this
        spatial_benchmark(engine, raw)
        engine.dispose()


def _etl_round(n: int, files: list[Path], tmp: Path) -> dict[str, float]:
    """One round: the plain read, then both ETL modes into fresh warehouses, their order alternating by round
    (the second finds the country-name tables built and the files in the page cache)."""
    rows, t_plain, c_plain = timed(lambda: sum(plain_read(p) for p in files))
    print(f"round {n + 1}: plain read: {len(files)} files, {rows:,} rows in {t_plain:.1f} s", end=" ")
    print(f"(CPU {c_plain:.1f} s)")
    took = {}
    for ahead in [True, False] if n % 2 == 0 else [False, True]:
        engine = make_engine(_warehouse_url(tmp, n, ahead))
        migrate(engine)
        took[ahead] = timed(lambda e=engine, a=ahead: run(e, force=True, lookahead=a))
        engine.dispose()
    (results, t_etl, c_etl), (_, t_alone, c_alone) = took[True], took[False]
    failed = [r.source for r in results if r.status == "failed"]
    obs = sum(r.observations for r in results)
    print(
        f"  full ETL: {len(results)} sources ({len(failed)} failed {failed}), {obs:,} observations "
        f"in {t_etl:.1f} s (CPU {c_etl:.1f} s; up to {LOOKAHEAD} sources prepared while one is written) "
        f"= {t_etl / t_plain:.2f}x; one source at a time {t_alone:.1f} s (CPU {c_alone:.1f} s) "
        f"= {t_alone / t_plain:.2f}x; load average {os.getloadavg()[0]:.1f}"
    )
    return {
        "ratio": t_etl / t_plain,
        "ratio_cpu": c_etl / c_plain,
        "alone": t_alone / t_plain,
        "gain": t_etl / t_alone,
    }


def _warehouse_url(tmp: Path, n: int, ahead: bool) -> str:
    return f"sqlite:///{tmp}/bench_{n}_{'lookahead' if ahead else 'one_at_a_time'}.sqlite"


if __name__ == "__main__":
    main()
