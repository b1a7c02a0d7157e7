"""The Dask engine of the scale-out pipeline (issue 16) against the single-process engine, on real GED events.

Extract: the two smallest shipped GED files (Central African Republic 1991-2022, 1,848 events; Ukraine 2014 -
Feb
2022, 3,077 events) with the real Natural Earth admin-1 polygons; a 2-worker LocalCluster in this process
(threads),
30 trees so the test stays short on a shared machine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from etl.loader import prepare
from etl.sources.ucdp_ged import UcdpGed
from scaleout.cli import app as pipeline_app
from scaleout.dask_engine import dask_client, place_events, run_dask
from scaleout.pipeline import FEATURES, ModelSettings, admin1_polygons, differences, read_events, run_local
from tests.conftest import RAW_DIR

FILES = ["ged231_central_african_republic_1991_2022.csv", "ged_peacerep_ukraine_2014_2022feb.csv.gz"]
SPLIT = "2020-01-01"


@pytest.fixture(scope="module")
def extract(regions_engine):
    from etl.context import MappingContext

    ctx = MappingContext(raw_dir=RAW_DIR, engine=regions_engine)
    paths = [RAW_DIR / "ucdp_ged" / f for f in FILES]
    events, rejected = read_events(RAW_DIR, ctx, paths)
    return ctx, paths, events, rejected


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2, processes=False) as c:
        yield c


def test_dask_engine_equals_the_single_process_engine_on_real_events(extract, client):
    ctx, _paths, events, _rejected = extract
    settings = ModelSettings(rounds=30)
    local = run_local(events, ctx, settings, SPLIT)
    dask_run = run_dask(client, events, ctx, settings, SPLIT, npartitions=4)
    assert len(client.scheduler_info()["workers"]) == 2
    # something real was computed: two countries' cells, test months of both, SHAP that moves predictions
    assert set(local.aggregate["iso3"]) == {"CAF", "UKR", "RUS"}  # RUS: the file's one event in Rostov oblast
    assert local.aggregate["events"].sum() == len(events) - local.unplaced
    assert len(local.predictions) > 500 and local.shap[FEATURES].abs().to_numpy().max() > 0.01
    diffs = differences(local, dask_run)  # raises if the row sets differ
    assert diffs["aggregate"] == 0 and diffs["panel"] == 0 and diffs["unplaced"] == 0
    assert diffs["predictions"] < 1e-5 and diffs["shap"] < 1e-5, diffs
    # SHAP values add up to the prediction (pred_contribs includes the bias), in both engines
    for run in (local, dask_run):
        total = run.shap[[*FEATURES, "bias"]].sum(axis=1).to_numpy()
        np.testing.assert_allclose(total, run.predictions["prediction"].to_numpy(), atol=1e-4)
    assert dask_run.metrics["rmse_model"] == pytest.approx(local.metrics["rmse_model"], abs=1e-6)


def test_local_aggregate_equals_the_etl_observations(extract):
    """The pipeline's admin-1 x month events are the ETL's own conflict.ged_events monthly observations."""
    ctx, paths, events, _rejected = extract
    _parsed, obs = prepare(UcdpGed(), paths, ctx)
    etl_month = obs[(obs["indicator"] == "conflict.ged_events") & (obs["period_type"] == "month")]
    etl_month = etl_month.assign(month=pd.to_datetime(etl_month["period_start"]))
    local = run_local(events, ctx, ModelSettings(rounds=5), SPLIT).aggregate
    a = local.set_index(["region_id", "month"])["events"].sort_index()
    b = etl_month.set_index(["region_id", "month"])["value"].sort_index()
    assert len(a) == len(b) > 300
    np.testing.assert_array_equal(a.index.to_numpy(), b.index.to_numpy())
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


def test_dask_placement_keeps_the_own_country_and_tolerance_rules(extract, client):
    """Hand-made points, each explained: Donetsk city (lon 37.80, lat 48.00) lies inside Ukraine about 90 km
    from Russia; as a Ukrainian event it is placed in a Ukrainian unit, as a 'Russian' one it is beyond the
    35 km tolerance of every Russian unit and stays unplaced (never credited to the Ukrainian polygon holding
    it).
    A point in the Black Sea off Odesa (lon 30.85, lat 46.35) is outside every polygon but near Odesa oblast.
    """
    ctx, *_ = extract
    points = pd.DataFrame(
        {
            "event_id": ["1", "2", "3"],
            "lon": [37.80, 37.80, 30.85],
            "lat": [48.00, 48.00, 46.35],
            "iso3": ["UKR", "RUS", "UKR"],
            "month": pd.to_datetime(["2015-01-01"] * 3),
            "violence_type": [1, 1, 1],
            "deaths": [1.0, 1.0, 1.0],
        }
    )
    placed = place_events(client, points, ctx, npartitions=2).compute().set_index("event_id").sort_index()
    expected = ctx.admin_index.assign(
        points["lon"].to_numpy(),
        points["lat"].to_numpy(),
        points["iso3"].to_numpy(dtype=object),
        tolerance_km=35.0,
    )
    assert placed["region_id"].fillna("-").tolist() == expected["region_id"].fillna("-").tolist()
    iso3_of = admin1_polygons(ctx).set_index("region_id")["iso3"]
    assert iso3_of[placed.loc["1", "region_id"]] == "UKR"
    assert pd.isna(placed.loc["2", "region_id"])
    assert iso3_of[placed.loc["3", "region_id"]] == "UKR"
    assert expected["method"].fillna("-").tolist() == ["within", "-", "nearest"]


def test_cli_refuses_an_unknown_engine_or_device_with_a_message():
    runner = CliRunner()
    result = runner.invoke(pipeline_app, ["run", "--engine", "spark"])
    assert result.exit_code == 2 and "--engine must be one of local, dask" in result.output
    result = runner.invoke(pipeline_app, ["run", "--device", "tpu"])
    assert result.exit_code == 2 and "--device must be one of cpu, cuda" in result.output
