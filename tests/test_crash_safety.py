"""Crash safety: SIGKILL in the middle of a load and of a promotion leaves the warehouse as it was.

The subprocess stops at a named fault point (warehouse/faults.py) inside the open transaction; the test kills
it
there, then checks that nothing changed and that a rerun completes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from etl.loader import run
from models.registry import deployed_run, load_run
from tests.conftest import FIXTURES, _fresh_url, drop_database
from warehouse.db import make_engine, migrate
from warehouse.schema import model_run, observation, prediction, rejected_row, source_load

RAW = FIXTURES / "integration" / "raw"
SMALL_CONFIG = """
[xgboost]
tree_method = "hist"
objective = "reg:squarederror"
n_estimators = 40
learning_rate = 0.08
max_depth = 3
min_child_weight = 3
subsample = 0.8
colsample_bytree = 0.8
reg_lambda = 2.0
seed = 7
[label]
censored_fraction = 0.5
[backtest]
first_origin = 2015
last_origin = 2017
interval = 0.8
[monotone]
past_victims_per100k = 1
[risk_bands]
moderate = 50
high = 75
very_high = 90
[predictions]
first_year = 2012
"""


@pytest.fixture
def setup(tmp_path):
    url = _fresh_url(tmp_path, "crash")
    engine = make_engine(url)
    migrate(engine)
    results = run(
        engine,
        names=["natural_earth", "country_codes", "unodc_glotip", "wb_population", "owid_conflict_deaths"],
        raw_dir=RAW,
    )
    assert {r.status for r in results} == {"loaded"}
    config = tmp_path / "config.toml"
    config.write_text(SMALL_CONFIG)
    env = {
        **os.environ,
        "CRISISRISK_DATABASE_URL": url,
        "CRISISRISK_RAW_DIR": str(RAW),
        "CRISISRISK_MODEL_DIR": str(tmp_path / "models"),
        "CRISISRISK_MODEL_CONFIG": str(config),
        "CRISISRISK_DATA_DIR": str(tmp_path),
    }
    yield engine, env, tmp_path
    engine.dispose()
    drop_database(url)


def _kill_at(point: str, args: list[str], env: dict, tmp: Path) -> int:
    marker = tmp / f"{point}.reached"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crisisrisk.cli", *args],
        env={**env, "CRISISRISK_FAULT_POINT": point, "CRISISRISK_FAULT_MARKER": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 240
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before {point}: {proc.stdout.read().decode()[-2000:]}")
        if time.time() > deadline:
            proc.kill()
            raise AssertionError(f"{point} not reached in time")
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    return proc.wait(timeout=30)


def _snapshot(engine) -> dict:
    with engine.connect() as conn:
        return {
            "observations": conn.execute(select(func.count(), func.sum(observation.c.value))).one()._tuple(),
            "loads": (
                conn.execute(
                    select(source_load.c.load_id, source_load.c.status, source_load.c.sha256).order_by(
                        source_load.c.load_id
                    )
                ).all()
            ),
            "rejected": conn.execute(select(func.count()).select_from(rejected_row)).scalar_one(),
            "runs": (
                conn.execute(
                    select(model_run.c.run_id, model_run.c.status).order_by(model_run.c.run_id)
                ).all()
            ),
            "predictions": conn.execute(select(func.count()).select_from(prediction)).scalar_one(),
        }


def test_sigkill_during_etl_load_leaves_the_warehouse_unchanged_and_rerun_completes(setup):
    engine, env, tmp = setup
    before = _snapshot(engine)
    code = _kill_at("etl.load.before_commit", ["etl", "run", "--source", "unodc_glotip", "--force"], env, tmp)
    assert code == -signal.SIGKILL
    engine.dispose()
    assert _snapshot(engine) == before
    rerun = subprocess.run(
        [sys.executable, "-m", "crisisrisk.cli", "etl", "run", "--source", "unodc_glotip", "--force"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    after = _snapshot(engine)
    assert after["observations"] == before["observations"]  # same file, same rows
    assert len(after["loads"]) == len(before["loads"]) + 1


def test_sigkill_during_training_and_promotion_keeps_the_deployed_model_served(setup):
    engine, env, tmp = setup
    first = subprocess.run(
        [sys.executable, "-m", "crisisrisk.cli", "model", "train"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    deployed = deployed_run(engine)
    assert deployed is not None
    before = _snapshot(engine)

    # 1. killed while `model train` writes its run (predictions, explanations) in one transaction
    code = _kill_at("model.write.before_commit", ["model", "train"], env, tmp)
    assert code == -signal.SIGKILL
    engine.dispose()
    assert _snapshot(engine) == before
    assert deployed_run(engine)["run_id"] == deployed["run_id"]

    # 2. a candidate exists; killed inside the promotion transaction
    second = subprocess.run(
        [sys.executable, "-m", "crisisrisk.cli", "model", "train", "--no-deploy"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    candidate = next(r for r, s in _snapshot(engine)["runs"] if s == "candidate")
    code = _kill_at("model.promote.before_commit", ["model", "promote", candidate], env, tmp)
    assert code == -signal.SIGKILL
    engine.dispose()
    statuses = dict(_snapshot(engine)["runs"])
    assert statuses == {deployed["run_id"]: "deployed", candidate: "candidate"}
    booster, meta = load_run(
        deployed["run_id"], tmp / "models", expected_features=deployed["metadata_json"]["features"]
    )
    assert meta["run_id"] == deployed["run_id"]

    # 3. the rerun completes
    again = subprocess.run(
        [sys.executable, "-m", "crisisrisk.cli", "model", "promote", candidate],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert deployed_run(engine)["run_id"] == candidate
