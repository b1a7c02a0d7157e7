"""Scenario benchmark: server time of one region's what-if recomputation (issue 15 asks < 300 ms), against a
plain
``booster.predict`` of the same row (the least any answer costs) and against the load of the engine's inputs.

Run: CRISISRISK_DATA_DIR=... CRISISRISK_DATABASE_URL=... .venv/bin/python -m benchmarks.scenarios [--region
SYR]
[--year 2023] (needs a warehouse with a trained run). Prints medians of --repeats runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import xgboost as xgb

from models import scenarios as sc
from models.scenarios_store import load_scenario_model
from warehouse.db import make_engine

CASES = {
    "no levers (stored answer)": {},
    "one lever (displacement x2)": {"displaced_abroad": 2.0},
    "three levers": {"displaced_abroad": 2.0, "conflict_deaths": 2.0, "tip_tier": 1.0},
    "all eleven levers": {lv.name: 2.0 if lv.kind == "factor" else (lv.min + lv.max) / 2 for lv in sc.LEVERS},
}


def _median_ms(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds. CPU time is what the call costs the server; on a machine shared with
    other work the wall time also holds the time spent waiting for a core."""
    fn()  # warm: first calls fill per-year memos
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", default="SYR")
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    engine = make_engine()
    t0 = time.perf_counter()
    model = load_scenario_model(engine, directions="skip")
    print(
        f"load of the engine's inputs (observations, panels, boosters): {time.perf_counter() - t0:.2f} s"
        " (once per run and process)"
    )
    det = model.detected
    h = min(det.lag_map.get(args.year, 1), max(det.boosters))
    row = det.panel.loc[[(args.region, args.year)], det.features].to_numpy(dtype=float)

    def plain() -> None:
        det.boosters[h].predict(xgb.DMatrix(row, feature_names=det.features, missing=np.nan, nthread=1))

    base, base_cpu = _median_ms(plain, args.repeats)
    print(f"baseline: one booster.predict of the same row: {base:.1f} ms wall, {base_cpu:.1f} ms CPU")
    for name, levers in CASES.items():
        ms, cpu = _median_ms(
            lambda lv=levers: sc.run_scenario(model, sc.Scenario(args.region, args.year, lv)), args.repeats
        )
        verdict = "OK" if cpu < 300 else "OVER the 300 ms goal"
        print(
            f"{name}: {ms:.1f} ms wall, {cpu:.1f} ms CPU, median of {args.repeats} ({cpu / base_cpu:.0f}x one"
            f" predict's CPU); {verdict}"
        )
    gap = sc.detection_gap(model, args.year, 10)
    ms, cpu = _median_ms(
        lambda: sc.portfolio(model, gap, args.year, "prosecutions", "median"), max(3, args.repeats // 5)
    )
    print(f"portfolio, 10 regions, prosecutions to the median: {ms:.1f} ms wall, {cpu:.1f} ms CPU")


if __name__ == "__main__":
    main()
