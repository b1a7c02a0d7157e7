"""The event -> admin-1 x month -> feature panel -> XGBoost -> SHAP pipeline, single-machine engine.

Why a pipeline of its own: users outgrow one machine at event or grid level (global GED or ACLED, a 0.5 degree
grid
x month panel). The same four steps run here in pandas on one process (engine 'local') and partitioned on a
Dask
cluster (engine 'dask', :mod:`scaleout.dask_engine`). Both engines share the reading, the panel grid, the
per-partition feature function and the XGBoost parameters defined here, so their results agree to float
tolerance
(tests/scaleout/test_dask_pipeline.py checks it on real GED events).

What is modelled: next month's UCDP GED events of organised violence per admin-1 unit (log1p), from that
unit's and
its country's lagged conflict only. It is a conflict-intensity panel that exercises the scale-out path at
event
level; it is NOT the detected-trafficking model of ``models/`` (whose labels are country-years). The split is
temporal (train before ``split_month``, test from it) and the persistence baseline (last month's value) is
reported
beside the model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from etl.context import MappingContext
from etl.contract import FILE, REJECT
from etl.sources.ucdp_ged import TOLERANCE_KM, UcdpGed, reject_duplicate_ids

log = logging.getLogger(__name__)

EVENT_COLUMNS = ["event_id", "lon", "lat", "iso3", "month", "violence_type", "deaths"]
KEYS = ["region_id", "month"]
FEATURES = [
    "events_lag1",
    "events_lag2",
    "events_lag3",
    "events_3m",
    "events_12m",
    "deaths_lag1",
    "country_events_lag1",
    "month_of_year",
]
TARGET = "target"
DEFAULT_SPLIT = "2019-01-01"


@dataclass(frozen=True)
class ModelSettings:
    """XGBoost settings shared by both engines.

    Row and column subsampling are off: a sampled row or column would depend on how rows are spread over
    workers,
    and the engines could no longer be compared. ``max_bin`` is large enough that the quantile sketch keeps
    every
    distinct value of these count features, so the cut points (and trees) do not depend on the partitioning.
    """

    rounds: int = 300
    max_depth: int = 4
    learning_rate: float = 0.04
    min_child_weight: float = 3.0
    reg_lambda: float = 2.0
    max_bin: int = 1024
    seed: int = 20260101
    nthread: int = 1
    device: str = "cpu"

    def params(self) -> dict[str, Any]:
        return {
            "tree_method": "hist",
            "objective": "reg:squarederror",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "max_bin": self.max_bin,
            "seed": self.seed,
            "nthread": self.nthread,
            "device": self.device,
        }


@dataclass
class PipelineResult:
    """What one run produced; frames are sorted by (region_id, month) so two engines' results line up."""

    engine: str
    aggregate: pd.DataFrame  # region_id, iso3, month, events, deaths
    unplaced: (
        int  # events outside every own-country polygon beyond the tolerance (quarantined by the ETL too)
    )
    panel: pd.DataFrame  # KEYS + iso3 + FEATURES + TARGET
    predictions: pd.DataFrame  # KEYS + prediction, test months
    shap: pd.DataFrame  # KEYS + one column per feature + bias, test months
    metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


# --- inputs, shared
# -------------------------------------------------------------------------------------------
def read_events(
    raw_dir: Path, ctx: MappingContext, paths: list[Path] | None = None
) -> tuple[pd.DataFrame, int]:
    """Accepted GED events with their country, through the ETL's own parsing and checks (same rows as a load).

    Returns the events (EVENT_COLUMNS) and the number of rows the ETL's checks reject before placement.
    """
    source = UcdpGed()
    files = paths if paths is not None else source.paths(raw_dir)
    if not files:
        raise FileNotFoundError(f"no UCDP GED files under {raw_dir / source.folder}")
    frames = []
    for path in files:
        frame = source.parse(path)
        frame[FILE] = path.name
        frames.append(frame)
    parsed = pd.concat(frames, ignore_index=True, sort=False)
    reject_duplicate_ids(parsed)
    UcdpGed._countries(parsed, ctx)
    ok = parsed[parsed[REJECT].isna()]
    events = pd.DataFrame(
        {
            "event_id": ok["_id"].astype(str).to_numpy(),
            "lon": ok["_lon"].to_numpy(float),
            "lat": ok["_lat"].to_numpy(float),
            "iso3": ok["_iso3"].astype(str).to_numpy(),
            "month": ok["_date"].dt.to_period("M").dt.start_time.astype("datetime64[ns]").to_numpy(),
            "violence_type": ok["_type"].astype(int).to_numpy(),
            "deaths": ok["_best"].fillna(0.0).to_numpy(float),
        }
    )
    return events, int(len(parsed) - len(ok))


def admin1_polygons(ctx: MappingContext) -> pd.DataFrame:
    """region_id, iso3, geometry and file order of the admin-1 polygons the ETL places events in."""
    index = ctx.admin_index
    present = np.flatnonzero(~pd.isna(index.geometries))
    return pd.DataFrame(
        {
            "region_id": index.region_ids[present].astype(str),
            "iso3": index.iso3[present].astype(str),
            "geometry": index.geometries[present],
            "order": present,
        }
    )


def monthly_sums(placed: pd.DataFrame) -> pd.DataFrame:
    """Events and best-estimate deaths per admin-1 x month (pandas; also the Dask engine's per-partition
    step)."""
    out = placed.groupby(["region_id", "iso3", "month"], as_index=False).agg(
        events=("event_id", "size"), deaths=("deaths", "sum")
    )
    out["events"] = out["events"].astype(float)
    return out


def panel_grid(regions: pd.DataFrame, span: pd.DataFrame) -> pd.DataFrame:
    """Every admin-1 unit of a country x every month its events cover (first to last event month).

    A unit-month without events inside that span is a real zero (GED records every fatal event); outside it
    the
    source says nothing, so no row is made.
    """
    parts = []
    for iso3, first, last in span[["iso3", "first", "last"]].itertuples(index=False):
        months = pd.date_range(first, last, freq="MS")
        units = regions.loc[regions["iso3"] == iso3, "region_id"].drop_duplicates().to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "region_id": np.repeat(units, len(months)),
                    "iso3": iso3,
                    "month": np.tile(months.to_numpy(), len(units)),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            {
                "region_id": pd.Series(dtype=str),
                "iso3": pd.Series(dtype=str),
                "month": pd.Series(dtype="datetime64[ns]"),
            }
        )
    return pd.concat(parts, ignore_index=True)


def panel_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Lagged features of grid rows (region_id, iso3, month, events, deaths) holding whole countries.

    Each value at month t uses months t-1 and earlier only; the target is log1p(events at t). Called on the
    whole
    panel by the local engine and on each country-partition by the Dask engine: the same function, so the same
    numbers.
    """
    f = frame.sort_values(["iso3", "region_id", "month"], kind="stable").reset_index(drop=True)
    log_events = np.log1p(f["events"])
    by_region = log_events.groupby(f["region_id"], sort=False)
    out = f[["region_id", "iso3", "month"]].copy()
    for k in (1, 2, 3):
        out[f"events_lag{k}"] = by_region.shift(k)
    lag1_events = f["events"].groupby(f["region_id"], sort=False).shift(1)
    for window in (3, 12):
        out[f"events_{window}m"] = np.log1p(
            lag1_events.groupby(f["region_id"], sort=False)
            .rolling(window, min_periods=1)
            .sum()
            .reset_index(level=0, drop=True)
        )
    out["deaths_lag1"] = np.log1p(f["deaths"].groupby(f["region_id"], sort=False).shift(1))
    country = f.groupby(["iso3", "month"], sort=True)["events"].sum()
    country_lag = country.groupby(level="iso3").shift(1).rename("country_events_lag1")
    out = out.join(country_lag, on=["iso3", "month"])
    out["country_events_lag1"] = np.log1p(out["country_events_lag1"])
    out["month_of_year"] = out["month"].dt.month.astype(float)
    out[TARGET] = log_events
    return out[KEYS + ["iso3", *FEATURES, TARGET]]


def metrics(panel_test: pd.DataFrame, prediction: np.ndarray) -> dict[str, float]:
    """Test RMSE of the model and of the persistence baseline (last month's log1p events) on the same rows."""
    y = panel_test[TARGET].to_numpy(float)
    baseline = panel_test["events_lag1"].fillna(0.0).to_numpy(float)
    return {
        "test_rows": float(len(y)),
        "rmse_model": float(np.sqrt(np.mean((prediction - y) ** 2))),
        "rmse_persistence": float(np.sqrt(np.mean((baseline - y) ** 2))),
    }


def shap_frame(keys: pd.DataFrame, contribs: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame(contribs, columns=[*FEATURES, "bias"])
    return pd.concat([keys.reset_index(drop=True), out], axis=1)


def sort_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in (region_id, month) order with one dtype per key, whichever engine made them."""
    out = frame.assign(
        region_id=frame["region_id"].astype(str), month=frame["month"].astype("datetime64[ns]")
    )
    return out.sort_values(KEYS, kind="stable").reset_index(drop=True)


# --- the single-machine engine
# ----------------------------------------------------------------------------------
def run_local(
    events: pd.DataFrame,
    ctx: MappingContext,
    settings: ModelSettings | None = None,
    split_month: str = DEFAULT_SPLIT,
) -> PipelineResult:
    """pandas + etl.spatial.AdminIndex (the ETL's own placement) + xgboost.train + pred_contribs, one
    process."""
    settings = settings or ModelSettings()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    placed_ids = ctx.admin_index.assign(
        events["lon"].to_numpy(),
        events["lat"].to_numpy(),
        events["iso3"].to_numpy(dtype=object),
        tolerance_km=TOLERANCE_KM,
    )
    placed = events.assign(region_id=placed_ids["region_id"].to_numpy())
    unplaced = int(placed["region_id"].isna().sum())
    aggregate = sort_keys(monthly_sums(placed[placed["region_id"].notna()]))
    timings["aggregate_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    span = aggregate.groupby("iso3")["month"].agg(first="min", last="max").reset_index()
    grid = panel_grid(admin1_polygons(ctx), span)
    filled = grid.merge(aggregate[["region_id", "month", "events", "deaths"]], on=KEYS, how="left")
    filled[["events", "deaths"]] = filled[["events", "deaths"]].fillna(0.0)
    panel = sort_keys(panel_features(filled))
    timings["panel_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    split = pd.Timestamp(split_month)
    train, test = panel[panel["month"] < split], panel[panel["month"] >= split].reset_index(drop=True)
    dtrain = xgb.DMatrix(
        train[FEATURES].to_numpy(float),
        label=train[TARGET].to_numpy(float),
        feature_names=FEATURES,
        missing=np.nan,
    )
    booster = xgb.train(settings.params(), dtrain, num_boost_round=settings.rounds)
    timings["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    dtest = xgb.DMatrix(test[FEATURES].to_numpy(float), feature_names=FEATURES, missing=np.nan)
    prediction = booster.predict(dtest)
    contribs = booster.predict(dtest, pred_contribs=True)
    timings["shap_s"] = time.perf_counter() - t0
    keys = test[KEYS]
    return PipelineResult(
        "local",
        aggregate,
        unplaced,
        panel,
        sort_keys(keys.assign(prediction=prediction)),
        sort_keys(shap_frame(keys, contribs)),
        metrics(test, prediction),
        timings,
    )


def differences(a: PipelineResult, b: PipelineResult) -> dict[str, float]:
    """Largest absolute difference per output between two runs (row sets must be equal: else ValueError)."""
    out: dict[str, float] = {}
    pairs = {
        "aggregate": (a.aggregate, b.aggregate, ["events", "deaths"]),
        "panel": (a.panel, b.panel, [*FEATURES, TARGET]),
        "predictions": (a.predictions, b.predictions, ["prediction"]),
        "shap": (a.shap, b.shap, [*FEATURES, "bias"]),
    }
    for name, (x, y, cols) in pairs.items():
        if len(x) != len(y) or not x[KEYS].equals(y[KEYS]):
            raise ValueError(f"{name}: the two runs have different rows ({len(x)} vs {len(y)})")
        dx, dy = x[cols].to_numpy(float), y[cols].to_numpy(float)
        if not np.array_equal(np.isnan(dx), np.isnan(dy)):
            raise ValueError(f"{name}: missing values differ between the runs")
        out[name] = float(np.nanmax(np.abs(dx - dy))) if dx.size else 0.0
    out["unplaced"] = float(abs(a.unplaced - b.unplaced))
    return out
