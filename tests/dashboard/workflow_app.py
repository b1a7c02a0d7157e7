"""A writable dashboard for the analyst-workflow tests: its own warehouse (real regions + SYNTHETIC model
rows,
see ``synthetic.py``), a temporary raw folder (a copy of the small real extracts in
``tests/fixtures/integration/raw``), a temporary model registry, users of every role, and a fast fake trainer.

Dash keeps one global page registry; ``workflow_app`` saves it and puts it back afterwards, so the shared
read-only ``dash_app`` of the other dashboard tests keeps rendering its own pages.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from tests.conftest import FIXTURES, _fresh_url, drop_database

EXTRACTS = FIXTURES / "integration" / "raw"
PASSWORDS = {"vera": "viewer-password-1", "ana": "analyst-password-1", "adam": "admin-password-1"}
ROLES = {"vera": "viewer", "ana": "analyst", "adam": "admin"}
USER_OF_ROLE = {role: name for name, role in ROLES.items()}


@contextlib.contextmanager
def saved_dash_pages():
    """Keep Dash's global page registry (and pages config) as they are around a second app."""
    import dash
    from dash import _pages

    registry, config = dict(dash.page_registry), _pages.CONFIG
    try:
        yield
    finally:
        dash.page_registry.clear()
        dash.page_registry.update(registry)
        _pages.CONFIG = config


@contextlib.contextmanager
def workflow_app(tmp: Path, public_read: bool = False, build=None):
    """Yield (app, engine) with env vars pointing at temporary data, raw and model folders."""
    from dashboard.app import create_app
    from warehouse import accounts
    from warehouse.db import make_engine

    raw = tmp / "raw"
    shutil.copytree(EXTRACTS, raw)
    url = _fresh_url(tmp, "workflow")
    engine = make_engine(url)
    with pytest.MonkeyPatch.context() as mp, saved_dash_pages():
        mp.setenv("CRISISRISK_DATA_DIR", str(tmp / "data"))
        mp.setenv("CRISISRISK_RAW_DIR", str(raw))
        mp.setenv("CRISISRISK_MODEL_DIR", str(tmp / "models"))
        mp.delenv("CRISISRISK_PUBLIC_READ", raising=False)
        mp.delenv("CRISISRISK_SECRET_KEY", raising=False)
        if build is None:
            from tests.dashboard.synthetic import build_synthetic_warehouse

            build_synthetic_warehouse(engine)
        else:
            build(engine, raw)
        for name, role in ROLES.items():
            accounts.add_user(engine, name, role, PASSWORDS[name])
        app = create_app(
            engine, {"cache_ttl_s": 0, "public_read": public_read, "secret_key": "test-" + "k" * 40}
        )
        try:
            yield app, engine
        finally:
            from dashboard import jobs_runner

            for job_id in jobs_runner.running_here():
                jobs_runner.wait(engine, job_id, 60)
            engine.dispose()
            drop_database(url)


# --- clients
def csrf_of(client) -> str | None:
    cookie = client.get_cookie("_csrf_token")
    return cookie.value if cookie else None


def login(app, name: str, password: str | None = None, address: str = "127.0.0.1"):
    """A test client signed in through the login form (CSRF token taken from the form's cookie)."""
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.data.decode()).group(1)
    resp = client.post(
        "/login",
        data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token, "next": "/admin"},
    )
    assert resp.status_code == 303, resp.data[:300]
    return client


def session_client(app, role: str | None):
    """Anonymous client (role None) or one signed in as the user of that role."""
    if role is None:
        return app.server.test_client()
    return login(app, USER_OF_ROLE[role])


def post_json(client, path: str, **kwargs):
    headers = {"X-CSRFToken": csrf_of(client) or ""}
    headers.update(kwargs.pop("headers", {}))
    return client.post(path, headers=headers, **kwargs)


def registered_outputs(client, first: str) -> list[tuple[str, str]]:
    """The outputs of the callback whose first output is ``first`` ('id.prop'), as the renderer names them
    (``allow_duplicate`` outputs carry an '@hash' suffix)."""
    for dep in client.get("/_dash-dependencies").get_json():
        parts = dep["output"].strip(".").split("...")
        if parts[0] == first:
            return [tuple(p.split(".", 1)) for p in parts]
    raise KeyError(first)


def dash_callback(client, outputs, inputs, state=None, csrf: bool = True):
    """POST one callback as the renderer does (with the X-CSRFToken header from the cookie)."""
    out_str = "...".join(f"{i}.{p}" for i, p in outputs)
    payload = {
        "output": f"..{out_str}.." if len(outputs) > 1 else out_str,
        "outputs": (
            [{"id": i, "property": p} for i, p in outputs]
            if len(outputs) > 1
            else {"id": outputs[0][0], "property": outputs[0][1]}
        ),
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "changedPropIds": [f"{i}.{p}" for i, p, v in inputs if v is not None],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state or []],
    }
    headers = {"X-CSRFToken": csrf_of(client) or ""} if csrf else {}
    return client.post("/_dash-update-component", json=payload, headers=headers)


# --- a fast fake trainer
class FakeTrainer:
    """Stands in for models.pipeline.train_run: a real (tiny) XGBoost artefact in the registry, a candidate
    run whose metrics are the deployed run's, and predictions that reorder the deployed run's countries.
    ``gate`` (a threading.Event) makes it wait, for the concurrency test."""

    def __init__(self) -> None:
        self.gate: threading.Event | None = None
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, engine, progress) -> str:
        import xgboost as xgb

        from models.progress import TrainEvent
        from models.registry import save_artefacts
        from warehouse.schema import model_run, prediction

        with self.lock:
            self.calls += 1
            n = self.calls
        progress(TrainEvent.at("panels", "building the feature panel"))
        if self.gate is not None:
            assert self.gate.wait(30), "the test never released the fake trainer"
        progress(TrainEvent.at("backtest", "backtest origin 2015: xgboost", 1, 2))
        run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + f"-fake{n}"
        features = ["a", "b"]
        rng = np.random.default_rng(n)
        booster = xgb.train(
            {"max_depth": 1, "nthread": 1},
            xgb.DMatrix(rng.normal(size=(8, 2)), label=rng.normal(size=8), feature_names=features),
            2,
        )
        with engine.connect() as conn:
            base = conn.execute(select(model_run).where(model_run.c.status == "deployed")).mappings().first()
            preds = pd.DataFrame(
                conn.execute(
                    select(prediction).where(prediction.c.run_id == base["run_id"], prediction.c.level == 0)
                )
                .mappings()
                .all()
            )
        metrics = dict(base["metrics_json"])
        meta = {
            "run_id": run_id,
            "features": features,
            "variant": "xgboost",
            "metrics": metrics,
            "model_card_md": "# fake test run",
        }
        sha = save_artefacts(run_id, booster, meta)
        factor = rng.uniform(0.3, 3.0, len(preds))
        for col in ("estimate_per_100k", "lower_per_100k", "upper_per_100k"):
            preds[col] = preds[col] * factor
        preds["rank"] = (
            preds.groupby("year")["estimate_per_100k"].rank(ascending=False, method="min").astype(int)
        )
        preds["run_id"] = run_id
        progress(TrainEvent.at("write", "writing predictions and explanations"))
        rows = preds.drop(columns=[c for c in ("prediction_id",) if c in preds]).astype(object)
        rows = rows.where(rows.notna(), None).to_dict("records")
        with engine.begin() as conn:
            conn.execute(
                model_run.insert().values(
                    run_id=run_id,
                    created_at=dt.datetime.now(dt.UTC),
                    status="candidate",
                    level=0,
                    artefact_sha256=sha,
                    panel_sha256="0" * 64,
                    metadata_json=meta,
                    metrics_json=metrics,
                    deployed_at=None,
                )
            )
            conn.execute(prediction.insert(), rows)
        return run_id


@pytest.fixture
def fake_trainer(monkeypatch):
    trainer = FakeTrainer()
    monkeypatch.setattr("dashboard.workflows.train", trainer)
    return trainer
