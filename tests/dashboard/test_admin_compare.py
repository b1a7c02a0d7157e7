"""Analyst compare that helps (issue 13 #8): the verdict of a candidate against the deployed run per horizon,
promotion of an identical or worse run only with a confirmation (page dialog, API force=true), roll back
disabled with nothing to roll back to, rank changes without zeros, and a banner that follows its job.

The metrics below are hand-made: only their order matters (lower RMSLE is better)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from dashboard import ids, workflows
from tests.dashboard.workflow_app import (
    FakeTrainer,
    dash_callback,
    login,
    post_json,
    registered_outputs,
    workflow_app,
)
from warehouse import accounts
from warehouse.schema import model_run


def _run(run_id: str, rmsle: dict[int, float], spearman: float = 0.8, sha: str | None = None) -> dict:
    horizons = [{"horizon": h, "model_rmsle": v, "model_spearman": spearman} for h, v in rmsle.items()]
    metrics = {"gate": {"horizons": horizons}}
    return {"run_id": run_id, "artefact_sha256": sha or run_id, "metrics_json": metrics}


DEPLOYED = _run("dep", {1: 0.50, 2: 0.60, 3: 0.70})


@pytest.mark.parametrize(
    ("candidate", "verdict", "confirm", "words"),
    [
        (_run("same", {1: 0.50, 2: 0.60, 3: 0.70}), "identical", True, "equal the deployed run dep's"),
        (_run("copy", {1: 0.49, 2: 0.60, 3: 0.70}, sha="dep"), "identical", True, "every horizon"),
        (_run("bad", {1: 0.50, 2: 0.66, 3: 0.70}), "worse", True, "h2 (0.660 vs 0.600, +10.0%)"),
        (_run("mix", {1: 0.45, 2: 0.66, 3: 0.70}), "mixed", True, "but worse at h2"),
        (_run("good", {1: 0.45, 2: 0.60, 3: 0.70}), "better", False, "h1 (0.450 vs 0.500, -10.0%)"),
    ],
)
def test_verdict_per_horizon(candidate, verdict, confirm, words):
    out = workflows.judge(DEPLOYED, candidate)
    assert out["verdict"] == verdict and out["needs_confirmation"] is confirm
    assert words in out["reason"], out["reason"]
    assert [r["horizon"] for r in out["horizons"]] == [1, 2, 3]


def test_first_run_and_runs_without_metrics_need_no_confirmation():
    assert workflows.judge(None, DEPLOYED)["verdict"] == "first"
    unknown = workflows.judge(DEPLOYED, {"run_id": "x", "metrics_json": {}})
    assert unknown["verdict"] == "unknown" and not unknown["needs_confirmation"]


def test_no_rank_change_is_one_clear_line(monkeypatch):
    from dashboard.pages import admin

    data = {
        "deployed": "dep",
        "candidate": "cand",
        "metrics": [],
        "columns": [],
        "rank_changes": [],
        "year": 2024,
        "judgement": workflows.judge(DEPLOYED, _run("cand", {1: 0.5, 2: 0.6, 3: 0.7})),
    }
    monkeypatch.setattr(admin.workflows, "compare", lambda engine, candidate: data)
    view, _disabled = admin.compare_view(None, "cand")
    text = str(view)
    assert "No country changes rank in 2024" in text and "Countries whose rank changes most" not in text
    assert "Identical to the deployed run" in text and "Promoting it asks for confirmation" in text


# --- through the app: a fake trainer makes candidates whose metrics copy the deployed run's
@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        trainer = FakeTrainer()
        mp.setattr("dashboard.workflows.train", trainer)
        with workflow_app(tmp_path_factory.mktemp("admin_compare")) as (app, engine):
            from models.registry import deployed_run

            with engine.begin() as conn:  # give the synthetic deployed run per-horizon metrics
                run = deployed_run(engine)
                metrics = dict(run["metrics_json"], **DEPLOYED["metrics_json"])
                conn.execute(
                    update(model_run).where(model_run.c.run_id == run["run_id"]).values(metrics_json=metrics)
                )
            yield app, engine


@pytest.fixture(scope="module")
def analyst(env):
    return login(env[0], "ana")


def _outputs_of(client, input_id: str, prop: str, output_has: str = "") -> list[tuple[str, str]]:
    """The outputs of the one callback fed by ``input_id.prop`` (and writing ``output_has``)."""
    for dep in client.get("/_dash-dependencies").get_json():
        feeds = any(i["id"] == input_id and i["property"] == prop for i in dep["inputs"])
        if feeds and output_has in dep["output"]:
            return [tuple(p.split(".", 1)) for p in dep["output"].strip(".").split("...")]
    raise KeyError(input_id)


def _candidate(env) -> str:
    from dashboard import jobs_runner

    job = workflows.start_retrain(env[1], "ana")
    done = jobs_runner.wait(env[1], job["job_id"], 120)
    assert done["status"] == "succeeded", done
    return done["result_json"]["run_id"]


def _rollback_button(analyst):
    resp = dash_callback(
        analyst,
        outputs=[(ids.ADMIN_ROLLBACK, "disabled"), (ids.ADMIN_ROLLBACK, "title")],
        inputs=[(ids.ADMIN_RUNS_KEY, "data", "k")],
    )
    assert resp.status_code == 200
    return resp.get_json()["response"][ids.ADMIN_ROLLBACK]


def test_api_refuses_an_identical_run_without_force(env, analyst):
    app, engine = env
    from models.registry import deployed_run

    before = deployed_run(engine)["run_id"]
    run_id = _candidate(env)
    compare = analyst.get(f"/api/v1/models/{run_id}/compare").get_json()
    assert compare["judgement"]["verdict"] == "identical" and compare["rollback_to"] is None
    resp = post_json(analyst, f"/api/v1/models/{run_id}/promote")
    body = resp.get_json()
    assert resp.status_code == 409 and body["error"]["code"] == "needs_confirmation"
    assert "force=true" in body["error"]["message"] and body["verdict"]["verdict"] == "identical"
    assert deployed_run(engine)["run_id"] == before
    resp = post_json(analyst, f"/api/v1/models/{run_id}/promote?force=true")
    assert resp.status_code == 200 and resp.get_json()["deployed"] == run_id
    log = [(e["action"], e["outcome"], e["target"]) for e in accounts.audit_entries(engine, 20)]
    assert ("promote", "refused", run_id) in log and ("promote", "ok", run_id) in log
    spec = app.server.test_client().get("/api/v1/openapi.json").get_json()
    params = spec["paths"]["/models/{run_id}/promote"]["post"]["parameters"]
    assert any(p["name"] == "force" and p["schema"]["type"] == "boolean" for p in params)


def test_page_asks_before_promoting_a_worse_run_and_rollback_follows(env, analyst):
    app, engine = env
    from models.registry import deployed_run

    run_id = _candidate(env)  # a copy of the deployed run's metrics ...
    with engine.begin() as conn:  # ... made worse at horizon 2
        worse = _run(run_id, {1: 0.50, 2: 0.66, 3: 0.70})["metrics_json"]
        conn.execute(update(model_run).where(model_run.c.run_id == run_id).values(metrics_json=worse))
    deployed = deployed_run(engine)["run_id"]
    actions = registered_outputs(analyst, f"{ids.ADMIN_MESSAGE}.children")
    resp = dash_callback(
        analyst,
        outputs=actions,
        inputs=[
            (ids.ADMIN_CONFIRM, "n_clicks", None),
            (ids.ADMIN_RETRAIN, "n_clicks", None),
            (ids.ADMIN_PROMOTE, "n_clicks", 1),
            (ids.ADMIN_ROLLBACK, "n_clicks", None),
        ],
        state=[(ids.ADMIN_UPLOAD_ID, "data", None), (ids.ADMIN_CANDIDATE, "value", run_id)],
    )
    out = resp.get_json()["response"]
    dialog = out["admin-promote-dialog"]
    assert dialog["displayed"] is True and "worse than the deployed run" in dialog["message"]
    assert "at h2 (0.660 vs 0.600, +10.0%)" in dialog["message"]
    assert deployed_run(engine)["run_id"] == deployed  # nothing deployed before the confirmation
    confirmed = dash_callback(
        analyst,
        outputs=_outputs_of(analyst, "admin-promote-dialog", "submit_n_clicks"),
        inputs=[("admin-promote-dialog", "submit_n_clicks", 1)],
        state=[(ids.ADMIN_CANDIDATE, "value", run_id)],
    )
    assert confirmed.status_code == 200 and f"run {run_id} is deployed" in confirmed.data.decode()
    assert deployed_run(engine)["run_id"] == run_id
    button = _rollback_button(analyst)
    assert button["disabled"] is False and deployed in button["title"]


def test_rollback_is_disabled_with_nothing_to_roll_back_to(tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("dashboard.workflows.train", FakeTrainer())
        with workflow_app(tmp_path) as (app, engine):
            assert workflows.rollback_target(engine) is None
            button = _rollback_button(login(app, "ana"))
            assert button["disabled"] is True and "Nothing to roll back to" in button["title"]


def test_banner_follows_the_job_it_announced(env, analyst):
    app, engine = env
    from dashboard import jobs_runner

    job = workflows.start_retrain(engine, "ana")
    jobs_runner.wait(engine, job["job_id"], 120)
    outputs = _outputs_of(analyst, ids.ADMIN_POLL, "n_intervals", "admin-banner-job.data")
    banner = {"job_id": job["job_id"], "label": "Loading upload #1", "status": "running"}
    resp = dash_callback(
        analyst,
        outputs=outputs,
        inputs=[(ids.ADMIN_POLL, "n_intervals", 3)],
        state=[("admin-banner-job", "data", banner)],
    )
    text = resp.data.decode()
    assert resp.status_code == 200 and f"Loading upload #1 (job #{job['job_id']}) finished" in text
    assert "is ready" in text and '"status": "succeeded"' in text.replace('":"', '": "')
