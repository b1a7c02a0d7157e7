"""ETL to prediction on small real extracts (tests/fixtures/integration/raw, see build_extracts.py).

Loads 9 sources, trains with a reduced configuration, and checks what the dashboard and exports rely on:
a registered run, predictions for every country with features, additive SHAP rows, admin-1 rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from etl.loader import run
from models.export import DETECTED_CONTRACT, DETECTED_EXPORT_COLUMNS, predictions_frame, write_csv
from models.registry import deployed_run, list_runs, load_run, rollback
from models.train import load_config
from tests.conftest import FIXTURES
from warehouse.schema import explanation, model_run, prediction, source_load

RAW = FIXTURES / "integration" / "raw"
SOURCES = [
    "natural_earth",
    "country_codes",
    "unodc_glotip",
    "wb_population",
    "wb_gdp",
    "owid_conflict_deaths",
    "unhcr_population",
    "ucdp_ged",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from models.pipeline import train_run
    from tests.conftest import _fresh_url
    from warehouse.db import make_engine, migrate

    tmp = tmp_path_factory.mktemp("model")
    engine = make_engine(_fresh_url(tmp, "model"))
    migrate(engine)
    results = run(engine, names=SOURCES, raw_dir=RAW)
    config = load_config()
    config["xgboost"]["n_estimators"] = 60
    config["backtest"].update(first_origin=2014, last_origin=2017)
    run_id = train_run(engine, deploy=True, config=config, registry_root=tmp / "models")
    yield engine, results, run_id, tmp / "models", config
    engine.dispose()


def test_extract_loads_keep_the_invariant(trained):
    engine, results, *_ = trained
    assert [r.status for r in results] == ["loaded"] * len(SOURCES)
    with engine.connect() as conn:
        for load in conn.execute(select(source_load)).mappings():
            assert load["rows_read"] == load["rows_loaded"] + load["rows_rejected"]


def test_run_is_registered_with_baselines_and_verified_artefacts(trained):
    engine, _results, run_id, root, _config = trained
    runs = list_runs(engine)
    assert [r["run_id"] for r in runs] == [run_id]
    meta = runs[0]["metadata_json"]
    models = {r["model"] for r in meta["metrics"]["backtest_pooled"]}
    assert {"xgboost", "last_value", "mean_3y", "ridge", "xgboost_blend_mean_3y", "xgboost_ridge"} <= models
    horizons = {(r["horizon"], r["model"]) for r in meta["metrics"]["backtest_horizons"]}
    assert {(h, "mean_3y") for h in (1, 2, 3)} <= horizons
    assert [g["horizon"] for g in meta["metrics"]["gate"]["horizons"]] == [1, 2, 3]
    assert "horizon 1" in meta["model_card_md"] or "| 1 |" in meta["model_card_md"]
    assert meta["training_window"][1] == 2018
    booster, loaded_meta = load_run(run_id, root, expected_features=meta["features"])
    assert loaded_meta["panel_sha256"] == meta["panel_sha256"]
    assert (
        "detection bias" in meta["model_card_md"].lower() and "not evidence against" in meta["model_card_md"]
    )
    deployed = deployed_run(engine)
    # deployed when it beats the last-value baseline, or as the only run (the card then says it does not)
    assert deployed is not None and deployed["run_id"] == run_id


def test_predictions_cover_every_country_with_features_up_to_the_latest_year(trained):
    engine, _results, run_id, _root, _config = trained
    frame = predictions_frame(engine, 0, 2019, 2100, run_id=run_id)
    # World Bank population in the extract runs to 2024, so features exist up to 2025
    assert frame["year"].max() == 2025
    assert set(frame.loc[frame["year"] == 2021, "iso3"]) == {
        "NGA",
        "DEU",
        "NLD",
        "BEL",
        "ROU",
        "BGR",
        "UKR",
        "MDA",
        "THA",
        "PHL",
        "IDN",
        "MEX",
        "COL",
        "ARG",
        "USA",
        "GBR",
        "SYR",
        "IRQ",
        "TUR",
        "EGY",
        "KEN",
        "UGA",
        "ETH",
        "ZAF",
    }
    assert list(frame.columns) == DETECTED_EXPORT_COLUMNS and set(DETECTED_CONTRACT) <= set(frame.columns)
    # staleness: a year with a label is checked; after the newest label (2018) nothing is, and horizons grow
    assert set(frame["basis"]) <= {"checked", "nowcast", "projection"}
    later = frame[frame["year"] == 2025]
    assert (later["basis"] == "projection").all()
    assert (later["horizon"].dropna() >= 7).all()
    early = predictions_frame(engine, 0, 2010, 2018, run_id=run_id)
    assert (early["basis"] == "checked").any() and early["horizon"].notna().any()
    assert (frame["lower_per_100k"] <= frame["estimate_per_100k"]).all()
    assert (frame["estimate_per_100k"] <= frame["upper_per_100k"]).all()
    assert frame["risk_score"].between(0, 100).all()


def test_stored_shap_rows_add_up_to_the_margin(trained):
    engine, _results, run_id, _root, _config = trained
    with engine.connect() as conn:
        expl = pd.DataFrame(
            conn.execute(
                select(explanation.c.region_id, explanation.c.year, explanation.c.value).where(
                    explanation.c.run_id == run_id
                )
            ).all()
        )
        pred = pd.DataFrame(
            conn.execute(
                select(prediction.c.region_id, prediction.c.year, prediction.c.estimate_per_100k).where(
                    prediction.c.run_id == run_id, prediction.c.level == 0
                )
            ).all()
        )
    total = expl.groupby(["region_id", "year"])["value"].sum()
    merged = pred.set_index(["region_id", "year"]).join(total)
    positive = merged["value"] > 0  # estimates are clipped at zero detected victims
    np.testing.assert_allclose(
        np.expm1(merged.loc[positive, "value"]), merged.loc[positive, "estimate_per_100k"], rtol=1e-4
    )


def test_admin1_rows_are_downscaled_and_flagged(trained):
    engine, _results, run_id, _root, _config = trained
    with engine.connect() as conn:
        rows = pd.DataFrame(
            conn.execute(
                select(prediction).where(
                    prediction.c.run_id == run_id, prediction.c.level == 1, prediction.c.year == 2015
                )
            )
            .mappings()
            .all()
        )
    assert set(rows["method"]) == {"exposure_downscaled"}
    nga = rows[rows["region_id"].str.startswith("NGA")]
    assert len(nga) == 37 and nga["has_subnational_data"].all()  # GED events located in Nigeria
    assert not rows.loc[rows["region_id"].str.startswith("DEU"), "has_subnational_data"].any()


def test_export_with_hxl_neutralises_formulas(trained, tmp_path):
    engine, _results, run_id, _root, _config = trained
    frame = predictions_frame(engine, 0, 2020, 2020, run_id=run_id)
    frame.loc[0, "name"] = "=cmd|' /C calc'!A0"
    out = tmp_path / "p.csv"
    write_csv(frame, out, ["#a"] * len(frame.columns))
    lines = out.read_text().splitlines()
    assert lines[0].startswith("region_id,iso3,name,level,year,estimate_per_100k")
    assert lines[1].startswith("#a")
    assert "'=cmd" in out.read_text()


def test_second_run_promotes_and_rollback_restores(trained):
    engine, _results, first, root, config = trained
    from models.pipeline import train_run

    events = []
    second = train_run(engine, deploy=False, config=config, registry_root=root, progress=events.append)
    # structured progress (models.progress): every step in order, of one total, the backtest's fits counted
    assert [e.key for e in events if not e.done] == [
        "panels",
        "backtest",
        "final_models",
        "admin1",
        "write",
        *["watchlist"] * sum(e.key == "watchlist" for e in events),
        "deploy",
    ]
    assert [e.step for e in events] == sorted(e.step for e in events) and {e.total for e in events} == {7}
    fits = [e for e in events if e.key == "backtest" and e.done]
    assert fits and fits[-1].done == len(fits) <= fits[-1].of  # origins without rows are skipped
    with engine.connect() as conn:
        status = dict(conn.execute(select(model_run.c.run_id, model_run.c.status)).all())
    assert status == {first: "deployed", second: "candidate"}
    from models.registry import promote

    promote(engine, second, root)
    assert deployed_run(engine)["run_id"] == second
    assert rollback(engine, root) == first
    assert deployed_run(engine)["run_id"] == first


def test_run_records_seconds_per_training_step(trained):
    """Issue 16: every step of train_run is timed; the steps add up to the run's total, the backtest is also
    given per horizon with its thread count, and the registry's metadata.json has the steps up to saving."""
    import json

    engine, _results, run_id, root, _config = trained
    stored = next(r for r in list_runs(engine) if r["run_id"] == run_id)["metadata_json"]
    assert "watchlist" in stored  # completing the timings keeps what the watch list added to the run
    metrics = stored["metrics"]
    steps = metrics["timing_s"]
    expected = {"panels", "backtest", "conformal", "final_models", "predictions_shap", "admin1", "write"}
    assert expected | {"watchlist", "total"} <= set(steps)
    assert all(v >= 0 for v in steps.values()) and steps["backtest"] > 0
    parts = sum(v for k, v in steps.items() if k not in {"total", "total_before_save"})
    assert parts <= steps["total"] + 0.1 and parts >= 0.95 * steps["total"]
    per_h = metrics["timing_backtest_s"]
    assert {"h1", "h2", "h3"} <= set(per_h) and per_h["workers"] >= 1
    assert sum(per_h[f"h{h}"] for h in (1, 2, 3)) <= steps["backtest"] + 0.1
    saved = json.loads((root / run_id / "metadata.json").read_text())["metrics"]["timing_s"]
    assert "save_artefacts" not in saved and expected - {"write"} <= set(saved)
