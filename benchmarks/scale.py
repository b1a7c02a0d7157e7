"""Scale-out benchmark (issue 16): a grid x month BENCHMARK PANEL, one process against a K-worker Dask
LocalCluster.

The panel is a benchmark panel, not data: it is built in memory here and never written to the warehouse or to
disk.
- Cells: the centres of a 0.5 degree grid that fall inside the real Natural Earth admin-1 polygons of the
  warehouse (85,712 cells: Natural Earth's admin-1 set covers Antarctica and Greenland too); each keeps its
  admin-1 unit (the first in file order) and country.
- Event counts: each cell-month's count is resampled (with replacement, independently per cell-month) from the
  real UCDP GED distribution of admin-1 x month event counts of the cell's country, zeros included (the
  shipped
  GED files: CAF, MEX, MMR, NGA, SYR, UKR); cells of other countries resample the pooled distribution of
  those.
- Size: ``--rows`` (default 20 million): months = max(24, rows / cells); a seeded random subset of cells when
  rows / 24 is fewer than the land cells.

Timed steps, the same per-block functions in both engines (cells are whole within a block, so per-block work
is exact): aggregation (lagged cell features, and cell-months summed to admin-1 x month), training (XGBoost
hist, ``--trees`` x ``--depth``: a QuantileDMatrix over a block iterator here, a DaskQuantileDMatrix on the
cluster) and SHAP (``pred_contribs``, one DMatrix per block, the values kept where they were computed) on up
to ``--shap-rows`` rows. The single process runs the blocks one after another with one thread everywhere; the
cluster runs them on K one-thread worker processes (xgboost.dask), each task pinned to the worker holding its
block. SHAP cost grows as rows x trees x leaves x depth^2 (TreeSHAP: O(rows * trees * 2^depth * depth^2)).

Run: .venv/bin/python benchmarks/scale.py [--rows N] [--workers K] [--device cpu|cuda] [--trees T] [--depth D]
Needs a warehouse with the natural_earth regions (CRISISRISK_DATA_DIR). Prints per step the wall seconds of
both engines with the CPU seconds of every process, the training rows each worker holds, the largest
difference between the two engines' SHAP values, the peak memory of the single process and of each worker,
the load average, and last ``speed-up: X.XX`` (goal >= 1.6 on 2 workers on idle cores). ``--device cuda``
also times SHAP on the GPU on the same rows; without a GPU it exits with a message. docs/SCALING.md has the
measurements.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import xgboost as xgb
from shapely.strtree import STRtree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etl.context import MappingContext  # noqa: E402
from etl.sources.ucdp_ged import TOLERANCE_KM  # noqa: E402
from scaleout.pipeline import admin1_polygons, monthly_sums, panel_grid, read_events  # noqa: E402
from warehouse.config import raw_dir  # noqa: E402
from warehouse.db import make_engine  # noqa: E402

log = logging.getLogger(__name__)
CELL_DEG = 0.5
MIN_MONTHS = 24
FIRST_MONTH = "2000-01-01"
FEATURES = ["events_lag1", "events_lag2", "events_lag3", "events_3m", "events_12m", "month_of_year"]
SEED = 20260101


# --- the benchmark panel
# ----------------------------------------------------------------------------------------
def land_cells(ctx: MappingContext) -> pd.DataFrame:
    """cell, lon, lat, region_id, iso3 of every 0.5 degree grid centre inside an admin-1 polygon (first in
    order)."""
    lon, lat = np.meshgrid(
        np.arange(-180 + CELL_DEG / 2, 180, CELL_DEG), np.arange(-90 + CELL_DEG / 2, 90, CELL_DEG)
    )
    pts = np.asarray(shapely.points(lon.ravel(), lat.ravel()))
    polys = admin1_polygons(ctx)
    poly_i, pt_i = STRtree(pts).query(polys["geometry"].to_numpy(), predicate="contains")
    first = pd.DataFrame({"pt": pt_i, "poly": poly_i}).sort_values(["pt", "poly"]).drop_duplicates("pt")
    return pd.DataFrame(
        {
            "lon": lon.ravel()[first["pt"]],
            "lat": lat.ravel()[first["pt"]],
            "region_id": polys["region_id"].to_numpy()[first["poly"]],
            "iso3": polys["iso3"].to_numpy()[first["poly"]],
        }
    ).reset_index(drop=True)


def ged_distributions(ctx: MappingContext) -> dict[str, np.ndarray]:
    """Real admin-1 x month event counts per GED country (zeros included over each country's span), and '*'
    pooled."""
    events, _ = read_events(raw_dir(), ctx)
    placed = ctx.admin_index.assign(
        events["lon"].to_numpy(),
        events["lat"].to_numpy(),
        events["iso3"].to_numpy(dtype=object),
        tolerance_km=TOLERANCE_KM,
    )
    events = events.assign(region_id=placed["region_id"].to_numpy())
    sums = monthly_sums(events[events["region_id"].notna()])
    span = sums.groupby("iso3")["month"].agg(first="min", last="max").reset_index()
    grid = panel_grid(admin1_polygons(ctx), span).merge(
        sums[["region_id", "month", "events"]], on=["region_id", "month"], how="left"
    )
    grid["events"] = grid["events"].fillna(0.0)
    out = {iso3: g["events"].to_numpy() for iso3, g in grid.groupby("iso3") if len(g) >= 100}
    out["*"] = np.concatenate([v for k, v in out.items()])
    return out


def make_block(cells: pd.DataFrame, months: int, dists: dict[str, np.ndarray], seed: int) -> pd.DataFrame:
    """One block of the benchmark panel: every month of these cells, counts resampled from their country."""
    rng = np.random.default_rng(seed)
    n = len(cells)
    counts = np.empty((n, months))
    for iso3, rows in cells.groupby("iso3").indices.items():
        dist = dists.get(iso3, dists["*"])
        counts[rows] = rng.choice(dist, size=(len(rows), months))
    month_index = pd.date_range(FIRST_MONTH, periods=months, freq="MS")
    return pd.DataFrame(
        {
            "cell": np.repeat(cells["cell"].to_numpy(), months),
            "region_id": np.repeat(cells["region_id"].to_numpy(), months),
            "month": np.tile(month_index.to_numpy(), n),
            "events": counts.ravel(),
        }
    )


def aggregate_block(block: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lagged cell features (t-1 and earlier) and the block's admin-1 x month partial sums."""
    log_events = np.log1p(block["events"])
    by_cell = log_events.groupby(block["cell"], sort=False)
    out = pd.DataFrame({f"events_lag{k}": by_cell.shift(k) for k in (1, 2, 3)})
    lag1 = block["events"].groupby(block["cell"], sort=False).shift(1)
    for window in (3, 12):
        out[f"events_{window}m"] = np.log1p(
            lag1.groupby(block["cell"], sort=False)
            .rolling(window, min_periods=1)
            .sum()
            .reset_index(level=0, drop=True)
        )
    out["month_of_year"] = block["month"].dt.month.astype(float)
    out["target"] = log_events
    out["cell"] = block["cell"].to_numpy()
    sums = block.groupby(["region_id", "month"], as_index=False)["events"].sum()
    return out, sums


def shap_mask(features: pd.DataFrame, stride: int) -> np.ndarray:
    return (features["cell"].to_numpy() % stride) == 0


# --- engines
# --------------------------------------------------------------------------------------------------
MAX_BIN = 256  # the hist default, passed to both quantile matrices and to training so the three agree


def params(args: argparse.Namespace, device: str = "cpu") -> dict:
    return {
        "tree_method": "hist",
        "objective": "reg:squarederror",
        "max_depth": args.depth,
        "max_bin": MAX_BIN,
        "eta": 0.1,
        "nthread": 1,
        "seed": SEED,
        "device": device,
    }


def combine_sums(*sums: pd.DataFrame) -> int:
    """Admin-1 x month totals from the blocks' partial sums; returns their number (the same call in both
    engines)."""
    return len(pd.concat(sums).groupby(["region_id", "month"])["events"].sum())


def first(pair: tuple) -> object:
    return pair[0]


def second(pair: tuple) -> object:
    return pair[1]


def shap_rows(features: pd.DataFrame, stride: int) -> pd.DataFrame:
    """The explained rows (every ``stride``-th cell, all its months) and the model's columns."""
    return features.loc[shap_mask(features, stride), FEATURES]


class Clock:
    """Wall seconds of a step and the CPU seconds each process spent in it (``time.process_time``: all its
    threads), so a table can show that every process used at most one core and how the work was shared."""

    def __init__(self, client: object | None = None) -> None:
        self.client = client
        self.steps: dict[str, dict] = {}

    def _cpu(self) -> dict[str, float]:
        out = {"client": time.process_time()}
        if self.client is not None:
            out.update(self.client.run(time.process_time))  # type: ignore[attr-defined]
        return out

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        cpu0, t0 = self._cpu(), time.perf_counter()
        yield
        wall, cpu1 = time.perf_counter() - t0, self._cpu()
        self.steps[name] = {"wall": wall, "cpu": {k: cpu1[k] - cpu0[k] for k in cpu0 if k in cpu1}}


class BlockIter(xgb.DataIter):
    """Feature blocks one at a time, as xgboost.dask feeds a worker's partitions to its QuantileDMatrix."""

    def __init__(self, blocks: list[pd.DataFrame]) -> None:
        self.blocks, self.i = blocks, 0
        super().__init__()

    def next(self, input_data) -> bool:  # noqa: ANN001 - XGBoost's callback
        if self.i == len(self.blocks):
            return False
        block = self.blocks[self.i]
        input_data(data=block[FEATURES], label=block["target"])
        self.i += 1
        return True

    def reset(self) -> None:
        self.i = 0


def run_single(
    blocks_spec: list[tuple[pd.DataFrame, int]], months: int, dists, args
) -> tuple[dict, np.ndarray, xgb.Booster, list[pd.DataFrame]]:
    """One process, one thread in every step (XGBoost's global and per-matrix nthread too), the blocks one
    after another through the per-block functions the workers run: nothing is concatenated that the cluster
    keeps apart."""
    clock = Clock()
    blocks = [make_block(c, months, dists, s) for c, s in blocks_spec]
    with xgb.config_context(nthread=1):
        with clock.step("aggregate"):
            parts = [aggregate_block(b) for b in blocks]
            features = [p[0] for p in parts]
            admin_cells = combine_sums(*[p[1] for p in parts])
        del blocks, parts
        with clock.step("train"):
            dtrain = xgb.QuantileDMatrix(BlockIter(features), missing=np.nan, max_bin=MAX_BIN, nthread=1)
            booster = xgb.train(params(args), dtrain, num_boost_round=args.trees)
        del dtrain
        with clock.step("shap"):
            explained = [shap_rows(f, args.stride) for f in features]
            contribs = [
                booster.predict(xgb.DMatrix(e, missing=np.nan, nthread=1), pred_contribs=True)
                for e in explained
            ]
            np.sum([c.sum(axis=0) for c in contribs], axis=0)  # the cluster's one number per column
    steps = clock.steps
    all_contribs = np.concatenate(contribs)
    steps["shap"]["rows"], steps["aggregate"]["admin_cells"] = len(all_contribs), admin_cells
    steps["train"]["rows_per_process"] = [sum(len(f) for f in features)]
    return steps, all_contribs, booster, explained


def _rows_per_worker(client, collection, rows: list[int], addresses: list[str]) -> list[int]:
    """Rows of ``collection``'s partitions (``rows``, in order) held by each worker (from ``who_has``)."""
    held = dict.fromkeys(addresses, 0)
    for future in client.futures_of(collection):
        for address in client.who_has(future)[future.key]:
            held[address] += rows[future.key[1]]
    return [held[a] for a in addresses]


# Bookkeeping that competes with the workers for the same cores, at Dask's defaults: a stack sample of every
# worker thread each 10 ms, the memory of each worker read every 100 ms, system metrics every 500 ms. With
# them the client + scheduler process used 4.5 s of CPU in training and 7.2 s in SHAP at 20M rows on 2 cores
# (2026-12-02 14:07). None of it is work the single process would do; results do not depend on it.
QUIET = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


def run_cluster(blocks_spec, months: int, dists, args) -> tuple[dict, np.ndarray, dict[str, float]]:
    """K one-thread worker processes; every block is made, aggregated and kept on one worker, round-robin.

    Each task is pinned to the worker holding its input. Left free, the scheduler treats a group of more
    than 2 x threads small tasks (the picks ``p[0]`` / ``p[1]`` of every block, then same-named lambdas) as
    "root-ish" and hands them to whichever worker is idle, moving the data: 3 of 4 feature blocks ended on one
    worker (measured with ``who_has``), and training and SHAP, which run where the data is, waited for it.
    """
    import dask
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster, wait
    from xgboost import dask as dxgb

    logging.getLogger("distributed").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    with (
        dask.config.set({"dataframe.convert-string": False, **QUIET}),
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as lc,
        Client(lc) as client,
    ):
        start = time.perf_counter() - t0
        addresses = sorted(client.scheduler_info()["workers"])
        owner = [addresses[i % len(addresses)] for i in range(len(blocks_spec))]
        # each worker generates its own blocks: the panel is never shipped from this process
        blocks = [
            client.submit(make_block, cells, months, dists, seed, workers=[w], pure=False)
            for (cells, seed), w in zip(blocks_spec, owner, strict=True)
        ]
        wait(blocks)
        clock = Clock(client)
        with clock.step("aggregate"):
            parts = [
                client.submit(aggregate_block, b, workers=[w]) for b, w in zip(blocks, owner, strict=True)
            ]
            feats = [client.submit(first, p, workers=[w]) for p, w in zip(parts, owner, strict=True)]
            sums = [client.submit(second, p, workers=[w]) for p, w in zip(parts, owner, strict=True)]
            admin_cells = client.submit(combine_sums, *sums).result()
            wait(feats)
            meta = aggregate_block(make_block(blocks_spec[0][0].iloc[:1], 2, dists, 0))[0].iloc[:0]
            features = dd.from_delayed(feats, meta=meta, verify_meta=False).persist()
            wait(features)
        del blocks, parts, sums
        rows = [len(c) * months for c, _ in blocks_spec]
        held = _rows_per_worker(client, features, rows, addresses)
        with clock.step("train"):
            dtrain = dxgb.DaskQuantileDMatrix(
                client, features[FEATURES], features["target"], missing=np.nan, max_bin=MAX_BIN
            )
            booster = dxgb.train(client, params(args), dtrain, num_boost_round=args.trees)["booster"]
        del dtrain
        with clock.step("shap"):
            explained = features.map_partitions(shap_rows, args.stride, meta=meta[FEATURES])
            dshap = dxgb.DaskDMatrix(client, explained, missing=np.nan)
            # the contributions stay on the workers (as the single process keeps its array); one sum per
            # column comes back
            contribs = client.persist(dxgb.predict(client, booster, dshap, pred_contribs=True))
            contribs.sum(axis=0).compute()
        steps = clock.steps
        local = contribs.compute()  # for the check against the single process only, after the clock
        peaks = client.run(peak_rss_mb)
    steps["shap"]["rows"], steps["aggregate"]["admin_cells"] = len(local), admin_cells
    steps["train"]["rows_per_process"] = held
    steps["start"] = start
    return steps, local, {a: peaks[a] for a in addresses}


def peak_rss_mb() -> float:
    """Peak resident memory of this process: VmHWM (getrusage's maxrss is inherited by the worker processes
    from the process that started them, so it would report this process's peak for every worker)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gpu_shap(booster: xgb.Booster, dshap: xgb.DMatrix, cpu_seconds: float) -> None:
    booster.set_param({"device": "cuda"})
    booster.predict(dshap, pred_contribs=True)  # warm-up: the first call copies the model to the device
    t0 = time.perf_counter()
    booster.predict(dshap, pred_contribs=True)
    gpu_seconds = time.perf_counter() - t0
    rows = dshap.num_row()
    print(
        f"SHAP on {rows:,} rows: cpu (one thread) {rows / cpu_seconds:,.0f} rows/s, cuda "
        f"{rows / gpu_seconds:,.0f} rows/s ({cpu_seconds / gpu_seconds:.1f}x)"
    )


# --- main
# -----------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20_000_000, help="benchmark panel rows (cells x months)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster workers (one thread each)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--trees", type=int, default=100)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--shap-rows", type=int, default=1_000_000, help="rows explained (every k-th cell)")
    p.add_argument("--blocks-per-worker", type=int, default=2)
    return p.parse_args(argv)


def plan(cells: pd.DataFrame, args: argparse.Namespace) -> tuple[list[tuple[pd.DataFrame, int]], int]:
    """Blocks of whole cells (with their seeds) and the number of months, for ``args.rows`` rows."""
    months = max(MIN_MONTHS, math.ceil(args.rows / len(cells)))
    n_cells = min(len(cells), max(1, args.rows // months))
    chosen = cells.sample(n=n_cells, random_state=SEED).sort_index().reset_index(drop=True)
    chosen.insert(0, "cell", np.arange(n_cells))
    n_blocks = max(1, args.workers * args.blocks_per_worker)
    bounds = np.array_split(np.arange(n_cells), n_blocks)
    spec = [(chosen.iloc[b].reset_index(drop=True), SEED + i) for i, b in enumerate(bounds) if len(b)]
    args.stride = max(1, math.ceil(n_cells * months / args.shap_rows))
    return spec, months


STEPS = ("aggregate", "train", "shap")


def check(single: np.ndarray, cluster: np.ndarray) -> tuple[float, float]:
    """Largest |cluster - single| of the SHAP values and of their row sums (the predictions), same rows."""
    if single.shape != cluster.shape:
        raise ValueError(f"the engines explained different rows: {single.shape} vs {cluster.shape}")
    return float(np.abs(cluster - single).max()), float(np.abs(cluster.sum(1) - single.sum(1)).max())


def report(single: dict, cluster: dict, workers: int) -> None:
    """One line per step: wall seconds of each engine, CPU seconds of each process, and the ratio."""
    for s in STEPS:
        a, b = single[s], cluster[s]
        worker_cpu = ", ".join(f"{v:.1f}" for k, v in b["cpu"].items() if k != "client")
        print(
            f"{s:>9}: single {a['wall']:7.2f} s (cpu {a['cpu']['client']:.1f} s) | {workers}-worker cluster "
            f"{b['wall']:7.2f} s (cpu per worker {worker_cpu} s; client+scheduler {b['cpu']['client']:.1f} s)"
            f" | {a['wall'] / b['wall']:.2f}x"
        )
    rows = single["shap"]["rows"]
    print(
        f"SHAP on {rows:,} rows: single {rows / single['shap']['wall']:,.0f} rows/s, cluster "
        f"{rows / cluster['shap']['wall']:,.0f} rows/s; training rows per worker "
        + ", ".join(f"{n:,}" for n in cluster["train"]["rows_per_process"])
        + f"; {single['aggregate']['admin_cells']:,} admin-1 x month cells (cluster "
        f"{cluster['aggregate']['admin_cells']:,})"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device == "cuda":
        from scaleout.cli import gpu_available

        ok, why = gpu_available()
        if not ok:
            print(
                f"--device cuda: no usable CUDA GPU here ({why}); the CPU benchmark runs without --device"
                " cuda"
            )
            return 3
    ctx = MappingContext(raw_dir=raw_dir(), engine=make_engine())
    try:
        cells, dists = land_cells(ctx), ged_distributions(ctx)
    except (RuntimeError, FileNotFoundError) as exc:
        print(f"cannot build the benchmark panel: {exc}")
        return 2
    spec, months = plan(cells, args)
    n_cells = sum(len(c) for c, _ in spec)
    print(
        f"BENCHMARK PANEL (resampled counts, not data; never stored): {n_cells:,} of {len(cells):,} land"
        f" cells x {months} months = {n_cells * months:,} rows; counts from the GED distributions of"
        f" {len(dists) - 1} countries; {args.trees} trees, depth {args.depth}; load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    single, contribs, booster, explained = run_single(spec, months, dists, args)
    single_peak = peak_rss_mb()
    cluster, cluster_contribs, peaks = run_cluster(spec, months, dists, args)
    report(single, cluster, args.workers)
    shap_diff, pred_diff = check(contribs, cluster_contribs)
    print(
        f"same results: largest |cluster - single| SHAP value {shap_diff:.2g}, prediction {pred_diff:.2g}"
        f" ({contribs.size:,} values)"
    )
    print(
        f"cluster start {cluster['start']:.1f} s (not counted); peak memory: single process "
        f"{single_peak:,.0f} MB, per worker " + ", ".join(f"{p:,.0f} MB" for p in peaks.values())
    )
    if args.device == "cuda":
        gpu_shap(booster, xgb.DMatrix(pd.concat(explained), missing=np.nan), single["shap"]["wall"])
    total_single, total_cluster = (sum(t[s]["wall"] for s in STEPS) for t in (single, cluster))
    busiest = sum(max(v for k, v in cluster[s]["cpu"].items() if k != "client") for s in STEPS)
    print(
        f"cpu: single {sum(single[s]['cpu']['client'] for s in STEPS):.1f} s, busiest worker {busiest:.1f} s"
        " (on cores shared with other work the wall times stretch; these CPU seconds much less)"
    )
    print(
        f"total: single {total_single:.2f} s, cluster {total_cluster:.2f} s; load average now "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print(f"speed-up: {total_single / total_cluster:.2f}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
