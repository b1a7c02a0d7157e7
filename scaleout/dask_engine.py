"""The same pipeline on a Dask cluster: dask-geopandas placement, dask.dataframe panel, xgboost.dask training
+ SHAP.

Placement (events -> admin-1) keeps the ETL's rules (etl.spatial): own country only, first polygon in file
order
where a country's polygons overlap, the nearest own-country polygon within TOLERANCE_KM otherwise. The events
are a
dask-geopandas GeoDataFrame of points; ``dask_geopandas.sjoin`` is inner-only and cannot restrict a match to
the
point's country, and its cross product of partitions plus a merge back onto the points cost two shuffles (52 s
against 0.5 s locally on the shipped events, measured), so each partition of points is joined by
``map_partitions``: geopandas ``sjoin(predicate="within")`` with the polygons (scattered once to every
worker), the
own-country rule and the file-order tie-break as a filter on the joined pairs, and
``etl.spatial.AdminIndex.assign``
for the few points left (coast, islands: the nearest polygon within the tolerance). No shuffle: rows stay
where
they are. The panel is shuffled by country so every unit's months and its country's totals lie in one
partition,
then ``scaleout.pipeline.panel_features`` runs on each: the very function of the local engine.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import dask
import dask.dataframe as dd
import dask_geopandas
import geopandas as gpd
import numpy as np
import pandas as pd
from dask.distributed import Client, LocalCluster
from xgboost import dask as dxgb

from etl.context import MappingContext
from etl.sources.ucdp_ged import TOLERANCE_KM
from etl.spatial import AdminIndex
from scaleout.pipeline import (
    DEFAULT_SPLIT,
    FEATURES,
    KEYS,
    TARGET,
    ModelSettings,
    PipelineResult,
    admin1_polygons,
    metrics,
    monthly_sums,
    panel_features,
    panel_grid,
    shap_frame,
    sort_keys,
)

log = logging.getLogger(__name__)


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None, workers: int = 2, processes: bool = True, memory_limit: str | None = None
) -> Iterator[Client]:
    """A client of the cluster at ``scheduler``, or of a LocalCluster of ``workers`` one-thread workers."""
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    kwargs: dict[str, Any] = {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": processes,
        "dashboard_address": None,
    }
    if memory_limit:
        kwargs["memory_limit"] = memory_limit
    with LocalCluster(**kwargs) as cluster, Client(cluster) as client:
        yield client


def _own_country_first(pairs: pd.DataFrame) -> pd.DataFrame:
    """sjoin pairs -> one polygon per event: same country as the event, the first in file order."""
    same = pairs[pairs["iso3"] == pairs["iso3_right"]]
    first = same.sort_values(["event_id", "order"], kind="stable").drop_duplicates("event_id", keep="first")
    return pd.DataFrame(
        {"event_id": first["event_id"].to_numpy(), "within_region": first["region_id"].to_numpy()}
    )


def _nearest_fallback(part: pd.DataFrame, index: AdminIndex) -> pd.DataFrame:
    """The ETL's placement for the points no own-country polygon holds (AdminIndex: nearest within
    tolerance)."""
    region = part["within_region"].astype(object).to_numpy(copy=True)
    miss = np.flatnonzero(pd.isna(region))
    if len(miss):
        sub = part.iloc[miss]
        res = index.assign(
            sub["lon"].to_numpy(),
            sub["lat"].to_numpy(),
            sub["iso3"].to_numpy(dtype=object),
            tolerance_km=TOLERANCE_KM,
        )
        region[miss] = res["region_id"].to_numpy()
    return part.drop(columns="within_region").assign(region_id=region)


# The frames keep pandas' own string dtype (not Dask's pyarrow conversion), so the per-partition functions see
# the
# same dtypes as the local engine and the metadata below is exact.
SAME_DTYPES = {"dataframe.convert-string": False}


def place_events(client: Client, events: pd.DataFrame, ctx: MappingContext, npartitions: int) -> dd.DataFrame:
    """Events with region_id (None where unplaceable), partitioned; see the module docstring for the rules."""
    with dask.config.set(SAME_DTYPES):
        return _place_events(client, events, ctx, npartitions)


def _place_partition(points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame, index: AdminIndex) -> pd.DataFrame:
    """One partition of events: geopandas ``sjoin`` (within), the own-country rule, then the nearest
    fallback."""
    pairs = gpd.sjoin(points[["event_id", "iso3", "geometry"]], polygons, how="inner", predicate="within")
    within = _own_country_first(pairs.rename(columns={"iso3_left": "iso3"}))
    part = pd.DataFrame(points.drop(columns="geometry")).merge(within, on="event_id", how="left")
    return _nearest_fallback(part, index)


def _place_events(
    client: Client, events: pd.DataFrame, ctx: MappingContext, npartitions: int
) -> dd.DataFrame:
    # the polygons and the index go to every worker once (scatter), not into every task
    polygons = client.scatter(gpd.GeoDataFrame(admin1_polygons(ctx), geometry="geometry"), broadcast=True)
    index = client.scatter(ctx.admin_index, broadcast=True)
    left = dd.from_pandas(events, npartitions=npartitions, sort=False)
    points = dask_geopandas.from_dask_dataframe(
        left, geometry=dask_geopandas.points_from_xy(left, "lon", "lat")
    )
    meta = events.iloc[:0].assign(region_id=pd.Series(dtype=object))  # None where unplaceable
    return points.map_partitions(_place_partition, polygons, index, meta=meta)


def run_dask(
    client: Client,
    events: pd.DataFrame,
    ctx: MappingContext,
    settings: ModelSettings | None = None,
    split_month: str = DEFAULT_SPLIT,
    npartitions: int | None = None,
) -> PipelineResult:
    """The four steps on ``client``'s cluster; results sorted like :func:`scaleout.pipeline.run_local`'s."""
    with dask.config.set(SAME_DTYPES):
        return _run_dask(client, events, ctx, settings, split_month, npartitions)


def _run_dask(
    client: Client,
    events: pd.DataFrame,
    ctx: MappingContext,
    settings: ModelSettings | None,
    split_month: str,
    npartitions: int | None,
) -> PipelineResult:
    settings = settings or ModelSettings()
    nworkers = max(1, len(client.scheduler_info()["workers"]))
    npartitions = npartitions or 2 * nworkers
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    placed = place_events(client, events, ctx, npartitions).persist()
    sums_meta = monthly_sums(events.iloc[:0].assign(region_id=pd.Series(dtype=str)))
    good = placed[~placed["region_id"].isna()]
    # partial sums per partition, then the sums of those per key (a two-stage tree reduction)
    partial = good.map_partitions(monthly_sums, meta=sums_meta)
    aggregate_dd = partial.groupby(["region_id", "iso3", "month"]).agg({"events": "sum", "deaths": "sum"})
    aggregate_dd = aggregate_dd.reset_index().persist()
    unplaced = int(placed["region_id"].isna().sum().compute())
    aggregate = sort_keys(aggregate_dd.compute()[["region_id", "iso3", "month", "events", "deaths"]])
    timings["aggregate_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    span = aggregate_dd.groupby("iso3")["month"].agg(["min", "max"]).compute()
    span = span.rename(columns={"min": "first", "max": "last"}).reset_index()
    grid = dd.from_pandas(panel_grid(admin1_polygons(ctx), span), npartitions=npartitions, sort=False)
    filled = grid.merge(aggregate_dd[["region_id", "month", "events", "deaths"]], on=KEYS, how="left")
    filled = filled.fillna({"events": 0.0, "deaths": 0.0})
    by_country = filled.shuffle("iso3", npartitions=npartitions)
    panel_meta = panel_features(
        filled._meta.assign(events=pd.Series(dtype=float), deaths=pd.Series(dtype=float))
    )
    panel_dd = by_country.map_partitions(panel_features, meta=panel_meta).persist()
    timings["panel_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    split = pd.Timestamp(split_month)
    train = panel_dd[panel_dd["month"] < split]
    test = panel_dd[panel_dd["month"] >= split].persist()
    dtrain = dxgb.DaskDMatrix(
        client,
        train[FEATURES].astype(float),
        train[TARGET].astype(float),
        feature_names=FEATURES,
        missing=np.nan,
    )
    booster = dxgb.train(client, settings.params(), dtrain, num_boost_round=settings.rounds)["booster"]
    timings["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    dtest = dxgb.DaskDMatrix(client, test[FEATURES].astype(float), feature_names=FEATURES, missing=np.nan)
    prediction, contribs = dask.compute(
        dxgb.predict(client, booster, dtest), dxgb.predict(client, booster, dtest, pred_contribs=True)
    )
    test_local = test.compute()
    timings["shap_s"] = time.perf_counter() - t0

    test_local = test_local.reset_index(drop=True)
    keys = test_local[KEYS]
    predictions = sort_keys(keys.assign(prediction=np.asarray(prediction)))
    shap = sort_keys(shap_frame(keys, np.asarray(contribs)))
    return PipelineResult(
        "dask",
        aggregate,
        unplaced,
        sort_keys(panel_dd.compute()),
        predictions,
        shap,
        metrics(test_local, np.asarray(prediction)),
        timings,
    )
