"""Analyst workflows through the API and the admin page's callbacks: uploads (good and malformed), loads as
background jobs, concurrent retrain requests, a promote and rollback round trip, the audit trail, and CSV
exports that neutralise formula injection. Retraining uses a fast fake trainer (see workflow_app.py)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import threading
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dashboard import ids, jobs_runner
from tests.dashboard.workflow_app import (
    EXTRACTS,
    FakeTrainer,
    dash_callback,
    login,
    post_json,
    registered_outputs,
    workflow_app,
)
from warehouse import accounts
from warehouse.schema import observation, source_load, upload

UNHCR = EXTRACTS / "unhcr_population" / "population.csv.gz"


def ACTIONS(client) -> list[tuple[str, str]]:  # noqa: N802 - reads like the constant it stands for
    return registered_outputs(client, f"{ids.ADMIN_MESSAGE}.children")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        trainer = FakeTrainer()
        mp.setattr("dashboard.workflows.train", trainer)
        with workflow_app(tmp_path_factory.mktemp("workflows")) as (app, engine):
            yield app, engine, trainer


@pytest.fixture(scope="module")
def analyst(env):
    return login(env[0], "ana")


@pytest.fixture(scope="module")
def token(env):
    return accounts.create_token(env[1], "ana", "workflow-tests")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def snapshot(engine, raw: Path) -> tuple:
    """What an upload must not change when refused: raw files, loads and observations."""
    files = {
        p.relative_to(raw).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(raw.rglob("*"))
        if p.is_file()
    }
    with engine.connect() as conn:
        loads = conn.execute(select(func.count()).select_from(source_load)).scalar_one()
        obs = conn.execute(select(func.count()).select_from(observation)).scalar_one()
    return files, loads, obs


def raw_dir() -> Path:
    from warehouse.config import raw_dir as rd

    return rd()


def upload_api(client, source: str, name: str, data: bytes, headers=None, confirm=False):
    query = f"?source={source}" + ("&confirm=true" if confirm else "")
    return client.post(
        "/api/v1/uploads" + query,
        headers=headers or {},
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def wait_job(engine, job_id: int) -> dict:
    job = jobs_runner.wait(engine, job_id, 120)
    assert job["status"] != "running", job
    return job


def dry_run(client, engine, source: str, name: str, data: bytes, headers=None, confirm=False) -> tuple:
    """POST an upload (202: its dry run is a background job), wait for the job, GET the upload.

    Returns (response of the POST, its JSON, the upload record with its report after the dry run)."""
    resp = upload_api(client, source, name, data, headers, confirm)
    body = resp.get_json()
    if resp.status_code != 202:
        return resp, body, None
    assert body["status"] == "validating" and body["job"]["kind"] == "validate", body
    job = wait_job(engine, body["job"]["job_id"])
    assert job["status"] == "succeeded", job  # the job ran; the file may still be refused
    item = client.get(body["upload_url"], headers=headers or {}).get_json()
    assert item["job_id"] == job["job_id"] and job["result_json"]["status"] == item["status"]
    return resp, body, item


# --- malformed uploads
def _unhcr_text() -> str:
    return gzip.decompress(UNHCR.read_bytes()).decode("utf-8")


def _formula_injection() -> bytes:
    lines = _unhcr_text().splitlines()
    header, first = lines[0], lines[1]
    cells = first.split(",")
    names = header.split(",")
    # put the payload in the first text column (a country name)
    col = next(i for i, n in enumerate(names) if "name" in n.lower() or "country" in n.lower())
    cells[col] = "=cmd|' /C calc'!A0"
    return gzip.compress("\n".join([header, ",".join(cells), *lines[2:50]]).encode())


def _xlsx_with_macros() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types><Default Extension="bin" '
            'ContentType="application/vnd.ms-office.vbaProject"/></Types>',
        )
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/vbaProject.bin", b"\x00" * 64)
    return buf.getvalue()


MALFORMED = {
    # case: (source, file name, bytes, expected status, error code, words in the message). 422/400: refused in
    # the request (instant checks); 202: accepted, and the dry-run job refuses it
    "wrong_type_name": (
        "unhcr_population",
        "population.exe",
        b"MZ\x90\x00",
        422,
        "wrong_type",
        "does not look like",
    ),
    "wrong_type_magic": (
        "unhcr_population",
        "population.csv.gz",
        b"not,gzip\n1,2\n",
        202,
        "wrong_type",
        "not gzip",
    ),
    "missing_columns": (
        "unhcr_population",
        "population.csv.gz",
        gzip.compress(b"foo,bar\n1,2\n"),
        202,
        "contract",
        "column",
    ),
    "zip_bomb": (
        "unhcr_population",
        "population.csv.gz",
        gzip.compress(b"0" * 30_000_000, 9),
        202,
        "zip_bomb",
        "expands to more than",
    ),
    "excel_macros": ("inform_risk", "INFORM_Risk_2025.xlsx", _xlsx_with_macros(), 202, "macros", "macros"),
    "formula_injection": (
        "unhcr_population",
        "population.csv.gz",
        _formula_injection(),
        202,
        "formula_injection",
        "spreadsheet formula",
    ),
    "empty": ("unhcr_population", "population.csv.gz", b"", 422, "empty", "empty"),
    "unknown_source": ("no_such_source", "population.csv.gz", b"x", 400, "unknown_source", "unknown source"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_uploads_are_refused_and_change_nothing(env, token, case):
    app, engine, _ = env
    source, name, data, status, code, words = MALFORMED[case]
    before = snapshot(engine, raw_dir())
    client = app.server.test_client()
    resp, body, item = dry_run(client, engine, source, name, data, bearer(token))
    assert resp.status_code == status, body
    if status == 202:
        report = item["report"]
        assert item["status"] == "refused" and not report["ok"], item
        assert report["error_code"] == code and words.lower() in report["error"].lower(), report
    else:
        assert body["error"]["code"] == code and words.lower() in body["error"]["message"].lower(), body
    assert snapshot(engine, raw_dir()) == before
    if status != 400:
        with engine.connect() as conn:
            stored = conn.execute(
                select(upload.c.status, upload.c.staged_path).where(upload.c.upload_id == body["upload_id"])
            ).one()
        assert stored.status == "refused" and stored.staged_path is None
        last = accounts.audit_entries(engine, 1)[0]
        assert (last["action"], last["outcome"], last["actor"]) == (
            "upload",
            "refused",
            "ana (token workflow-tests)",
        )
        # a refused upload cannot be loaded
        resp = app.server.test_client().post(
            f"/api/v1/uploads/{body['upload_id']}/load", headers=bearer(token)
        )
        assert resp.status_code == 409 and "only a validated upload" in resp.get_json()["error"]["message"]


def test_too_large_upload_is_refused(env, token, monkeypatch):
    app, engine, _ = env
    from etl import uploads

    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 20_000)
    before = snapshot(engine, raw_dir())
    client = app.server.test_client()
    big = UNHCR.read_bytes()  # 38 KB
    resp = upload_api(client, "unhcr_population", "population.csv.gz", big, bearer(token))
    assert resp.status_code == 413 and "limit is 20,000 bytes" in resp.get_json()["error"]["message"]
    # a request far over the limit is refused before the body is parsed
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1000)
    resp = upload_api(client, "unhcr_population", "population.csv.gz", big * 3, bearer(token))
    assert resp.status_code == 413 and "file too large" in resp.get_json()["error"]["message"]
    assert snapshot(engine, raw_dir()) == before
    assert accounts.audit_entries(engine, 1)[0]["outcome"] == "refused"


def test_bad_input_to_upload_api_is_json_not_500(env, token):
    app, _, _ = env
    client = app.server.test_client()
    h = bearer(token)
    cases = [
        client.post("/api/v1/uploads", headers=h),
        client.post("/api/v1/uploads?source=unhcr_population", headers=h),
        client.post("/api/v1/uploads?source=unhcr_population&confirm=maybe", headers=h),
        client.post("/api/v1/uploads?bogus=1", headers=h),
        client.post(
            "/api/v1/uploads?source=unhcr_population",
            headers=h,
            data=b"\x00\x01",
            content_type="multipart/form-data; boundary=zzz",
        ),
        client.post("/api/v1/uploads/abc/load", headers=h),
        client.post("/api/v1/models/" + "x" * 300 + "/promote", headers=h),
    ]
    for resp in cases:
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.data[:200])
        assert resp.get_json()["error"]["message"]


# --- a good upload: report, then load as a background job
def test_upload_report_then_load_through_the_api(env, analyst):
    app, engine, _ = env
    data = UNHCR.read_bytes()
    resp, body, item = dry_run(
        analyst, engine, "unhcr_population", "population.csv.gz", data, {"X-CSRFToken": _csrf(analyst)}
    )
    assert resp.status_code == 202, body
    assert item["status"] == "validated", item
    report = item["report"]
    assert report["ok"] and report["rows_read"] == report["rows_would_load"] + report["rows_would_reject"]
    assert report["rows_would_load"] > 0 and report["replaces"] == ["population.csv.gz"]
    with engine.connect() as conn:
        loads_before = conn.execute(
            select(func.count()).select_from(source_load).where(source_load.c.source == "unhcr_population")
        ).scalar_one()
    assert loads_before == 0  # nothing loaded by validation
    resp = post_json(analyst, body["load_url"])
    assert resp.status_code == 202, resp.get_json()
    job = wait_job(engine, resp.get_json()["job"]["job_id"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == 100 and "unhcr_population" in job["log"]
    with engine.connect() as conn:
        load = (
            conn.execute(select(source_load).where(source_load.c.source == "unhcr_population"))
            .mappings()
            .one()
        )
    assert load["status"] == "loaded" and load["rows_read"] == load["rows_loaded"] + load["rows_rejected"]
    assert analyst.get(f"/api/v1/uploads/{body['upload_id']}").get_json()["status"] == "loaded"
    # loading the same upload twice is refused
    again = post_json(analyst, body["load_url"])
    assert again.status_code == 409
    actions = [(e["action"], e["outcome"]) for e in accounts.audit_entries(engine, 20) if e["actor"] == "ana"]
    assert (
        ("load start", "ok") in actions and ("load finish", "ok") in actions and ("upload", "ok") in actions
    )


def _csrf(client) -> str:
    return client.get_cookie("_csrf_token").value


def test_upload_and_confirm_through_the_admin_page(env, analyst):
    """The callbacks the browser uses: dcc.Upload contents -> report -> Confirm -> job."""
    app, engine, _ = env
    contents = "data:application/gzip;base64," + base64.b64encode(UNHCR.read_bytes()).decode()
    resp = dash_callback(
        analyst,
        outputs=[
            (ids.ADMIN_REPORT, "children"),
            (ids.ADMIN_UPLOAD_ID, "data"),
            (ids.ADMIN_CONFIRM, "disabled"),
            ("admin-report-state", "data"),
        ],
        inputs=[(ids.ADMIN_UPLOAD, "contents", contents)],
        state=[
            (ids.ADMIN_UPLOAD, "filename", "population.csv.gz"),
            (ids.ADMIN_SOURCE, "value", "unhcr_population"),
        ],
    )
    assert resp.status_code == 200, resp.data[:300]
    out = resp.get_json()["response"]
    upload_id = out[ids.ADMIN_UPLOAD_ID]["data"]
    # the dry run is a background job: the report area shows its progress, Confirm waits for the report
    assert upload_id and out[ids.ADMIN_CONFIRM]["disabled"] is True
    assert f"Checking upload #{upload_id}" in str(out[ids.ADMIN_REPORT]["children"])
    from etl.uploads import get_upload

    wait_job(engine, get_upload(engine, upload_id)["job_id"])
    follow = registered_outputs(
        analyst,
        next(
            d["output"].strip(".").split("...")[0]
            for d in analyst.get("/_dash-dependencies").get_json()
            if d["output"].strip(".").startswith(f"{ids.ADMIN_REPORT}.children@")
        ),
    )
    resp = dash_callback(
        analyst,
        outputs=follow,
        inputs=[(ids.ADMIN_POLL, "n_intervals", 3)],
        state=[("admin-report-state", "data", {"upload_id": upload_id, "status": "validating"})],
    )
    assert resp.status_code == 200, resp.data[:300]
    out = resp.get_json()["response"]
    confirm_key = next(k for k in out if k.startswith(ids.ADMIN_CONFIRM))
    report_key = next(k for k in out if k.startswith(ids.ADMIN_REPORT))
    assert out[confirm_key]["disabled"] is False
    assert "Rows that would load" in str(out[report_key]["children"])
    resp = dash_callback(
        analyst,
        outputs=ACTIONS(analyst),
        inputs=[
            (ids.ADMIN_CONFIRM, "n_clicks", 1),
            (ids.ADMIN_RETRAIN, "n_clicks", None),
            (ids.ADMIN_PROMOTE, "n_clicks", None),
            (ids.ADMIN_ROLLBACK, "n_clicks", None),
        ],
        state=[(ids.ADMIN_UPLOAD_ID, "data", upload_id), (ids.ADMIN_CANDIDATE, "value", None)],
    )
    assert resp.status_code == 200, resp.data[:300]
    text = str(resp.get_json()["response"][ids.ADMIN_MESSAGE]["children"])
    assert f"Loading upload #{upload_id}" in text
    job_id = int(text.split("job #")[1].split(";")[0])
    assert wait_job(engine, job_id)["status"] == "succeeded"
    # the poll callback shows it in the history
    resp = dash_callback(
        analyst,
        outputs=[
            (ids.ADMIN_JOBS, "children"),
            (ids.ADMIN_UPLOADS, "children"),
            (ids.ADMIN_JOB_HISTORY, "children"),
            (ids.ADMIN_AUDIT, "children"),
            (ids.ADMIN_RUNS_KEY, "data"),
            ("admin-poll-state", "data"),
        ],
        inputs=[(ids.ADMIN_POLL, "n_intervals", 1), (ids.ADMIN_MESSAGE, "children", None)],
        state=[("admin-poll-state", "data", None)],
    )
    assert resp.status_code == 200
    assert f"job #{job_id} succeeded" in resp.data.decode()


# --- retraining, comparison, promotion, rollback
def test_two_retrain_requests_at_once_start_exactly_one(env, token):
    app, engine, trainer = env
    trainer.gate = threading.Event()
    results: list = []
    barrier = threading.Barrier(2)

    def request() -> None:
        client = app.server.test_client()
        barrier.wait()
        resp = client.post("/api/v1/retrain", headers=bearer(token))
        results.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=request) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        codes = sorted(code for code, _ in results)
        assert codes == [202, 409], results
        busy = next(body for code, body in results if code == 409)
        assert (
            "a retrain job is already running" in busy["error"]["message"] and busy["error"]["code"] == "busy"
        )
        # a third request while it still runs: the same clear message
        third = app.server.test_client().post("/api/v1/retrain", headers=bearer(token))
        assert third.status_code == 409 and "already running" in third.get_json()["error"]["message"]
    finally:
        trainer.gate.set()
    job_id = next(body["job"]["job_id"] for code, body in results if code == 202)
    job = wait_job(engine, job_id)
    trainer.gate = None
    assert job["status"] == "succeeded" and job["result_json"]["run_id"].endswith("fake" + str(trainer.calls))
    assert (
        app.server.test_client().get(f"/api/v1/jobs/{job_id}", headers=bearer(token)).get_json()["progress"]
        == 100
    )
    outcomes = [(e["action"], e["outcome"]) for e in accounts.audit_entries(engine, 30)]
    assert ("retrain start", "refused") in outcomes and ("retrain finish", "ok") in outcomes


def _retrain(app, engine, token) -> str:
    resp = app.server.test_client().post("/api/v1/retrain", headers=bearer(token))
    assert resp.status_code == 202, resp.get_json()
    job = wait_job(engine, resp.get_json()["job"]["job_id"])
    assert job["status"] == "succeeded", job
    return job["result_json"]["run_id"]


def test_compare_promote_and_rollback_round_trip(env, analyst, token):
    app, engine, _ = env
    from models.registry import deployed_run

    first_deployed = deployed_run(engine)["run_id"]  # the synthetic run: it has no artefacts
    a = _retrain(app, engine, token)
    b = _retrain(app, engine, token)
    comparison = analyst.get(f"/api/v1/models/{b}/compare").get_json()
    assert comparison["deployed"] == first_deployed and comparison["candidate"] == b
    assert {"metric", f"candidate: {b}", "baseline: last_value"} <= set(comparison["metrics"][0])
    assert comparison["rank_changes"] and all(
        abs(r["change"]) >= abs(comparison["rank_changes"][-1]["change"]) for r in comparison["rank_changes"]
    )
    # promote a, then b (session + CSRF), then roll back to a
    resp = post_json(analyst, f"/api/v1/models/{a}/promote")
    assert resp.status_code == 200 and resp.get_json()["previous"] == first_deployed
    resp = app.server.test_client().post(f"/api/v1/models/{b}/promote", headers=bearer(token))
    assert resp.status_code == 200 and resp.get_json() == {
        "deployed": b,
        "previous": a,
        "message": f"run {b} is deployed",
    }
    assert analyst.get("/api/v1/health").get_json()["deployed_run"] == b
    resp = post_json(analyst, "/api/v1/models/rollback")
    assert resp.status_code == 200 and resp.get_json()["deployed"] == a
    assert deployed_run(engine)["run_id"] == a
    assert analyst.get("/api/v1/health").get_json()["deployed_run"] == a  # the query cache follows
    # rolling back to the synthetic run fails cleanly: its artefacts do not exist, nothing changes
    resp = post_json(analyst, "/api/v1/models/rollback")
    assert resp.status_code == 409 and "cannot roll back" in resp.get_json()["error"]["message"]
    assert deployed_run(engine)["run_id"] == a
    # promoting the already deployed run is a no-op
    assert (
        post_json(analyst, f"/api/v1/models/{a}/promote").get_json()["message"].endswith("already deployed")
    )
    log = [(e["action"], e["outcome"], e["target"]) for e in accounts.audit_entries(engine, 40)]
    assert ("promote", "ok", a) in log and ("promote", "ok", b) in log and ("rollback", "ok", a) in log
    assert ("rollback", "refused", a) in log


def test_admin_page_compare_and_promote_buttons(env, analyst, token):
    app, engine, _ = env
    from models.registry import deployed_run

    c = _retrain(app, engine, token)
    resp = dash_callback(
        analyst,
        outputs=[(ids.ADMIN_COMPARE, "children"), (ids.ADMIN_PROMOTE, "disabled")],
        inputs=[(ids.ADMIN_CANDIDATE, "value", c), (ids.ADMIN_RUNS_KEY, "data", "x")],
    )
    text = resp.data.decode()
    assert resp.status_code == 200 and "Countries whose rank changes most" in text and c in text
    resp = dash_callback(
        analyst,
        outputs=ACTIONS(analyst),
        inputs=[
            (ids.ADMIN_CONFIRM, "n_clicks", None),
            (ids.ADMIN_RETRAIN, "n_clicks", None),
            (ids.ADMIN_PROMOTE, "n_clicks", 1),
            (ids.ADMIN_ROLLBACK, "n_clicks", None),
        ],
        state=[(ids.ADMIN_UPLOAD_ID, "data", None), (ids.ADMIN_CANDIDATE, "value", c)],
    )
    assert resp.status_code == 200 and f"run {c} is deployed" in resp.data.decode()
    assert deployed_run(engine)["run_id"] == c
    # a viewer cannot press the buttons
    viewer = login(app, "vera")
    resp = dash_callback(
        viewer,
        outputs=ACTIONS(analyst),
        inputs=[
            (ids.ADMIN_CONFIRM, "n_clicks", None),
            (ids.ADMIN_RETRAIN, "n_clicks", None),
            (ids.ADMIN_PROMOTE, "n_clicks", None),
            (ids.ADMIN_ROLLBACK, "n_clicks", 1),
        ],
        state=[(ids.ADMIN_UPLOAD_ID, "data", None), (ids.ADMIN_CANDIDATE, "value", None)],
    )
    assert resp.status_code == 403
    assert deployed_run(engine)["run_id"] == c


def test_admin_page_renders_for_an_analyst(env, analyst):
    resp = dash_callback(
        analyst,
        outputs=[("_pages_content", "children"), ("_pages_store", "data")],
        inputs=[("_pages_location", "pathname", "/admin"), ("_pages_location", "search", "")],
    )
    text = resp.data.decode()
    assert resp.status_code == 200
    for words in (
        "Upload a new file",
        "Background jobs",
        "Candidate against the deployed model",
        "Audit log",
        "Upload history",
        "Job history",
    ):
        assert words in text, words


def test_openapi_describes_the_analyst_endpoints(env):
    spec = env[0].server.test_client().get("/api/v1/openapi.json").get_json()
    assert {"bearerAuth", "cookieAuth", "csrfHeader"} <= set(spec["components"]["securitySchemes"])
    for path in (
        "/uploads",
        "/uploads/{upload_id}/load",
        "/retrain",
        "/models/{run_id}/promote",
        "/models/rollback",
        "/jobs/{job_id}",
        "/audit",
    ):
        assert path in spec["paths"], path
    promote = spec["paths"]["/models/{run_id}/promote"]["post"]
    assert {"401", "403", "404"} <= set(promote["responses"]) and {"bearerAuth": []} in promote["security"]


# --- exports
def test_csv_exports_neutralise_formula_injection():
    import pandas as pd

    from dashboard.exports import to_csv
    from models.export import neutralise

    for payload in ("=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert neutralise(payload) == "'" + payload
    assert neutralise(-3.5) == -3.5 and neutralise("Nigeria") == "Nigeria"
    frame = pd.DataFrame(
        [
            {
                "rank": 1,
                "region_id": "NGA",
                "region_name": "=cmd|' /C calc'!A0",
                "country": "@x",
                "iso3": "NGA",
                "year": 2020,
                "risk_score": 99.0,
                "risk_band": "very high",
                "estimate_per_100k": 1.0,
                "lower_per_100k": 0.5,
                "upper_per_100k": 2.0,
            }
        ]
    )
    text = to_csv(frame, 0)
    assert "'=cmd" in text and "'@x" in text
    assert ",=cmd" not in text and ",@x" not in text


def test_job_progress_is_recorded_from_training_events():
    from models.progress import TrainClock, TrainEvent

    seen = []
    ticks = iter(range(0, 1000, 3))  # a clock 3 s further at each reading: no update is held back
    progress = jobs_runner.TrainProgress(
        lambda pct, msg: seen.append((pct, msg)), clock=TrainClock(now=lambda: float(next(ticks)))
    )
    events = [
        TrainEvent.at("panels", "building the feature panels"),
        TrainEvent.at("backtest", "backtesting", 0, 4),
        TrainEvent.at("backtest", "fit 2", 2, 4),
        TrainEvent.at("backtest", "fit 4", 4, 4),
        TrainEvent.at("final_models", "fitting"),
        TrainEvent.at("admin1", "spreading"),
        TrainEvent.at("write", "writing predictions"),
        TrainEvent.at("watchlist", "watch list: drivers"),
        TrainEvent.at("panels", "a late event never lowers the percent"),
    ]
    for event in events:
        progress(event)
    # a step's start percent; the backtest moves from 8 towards the next step's 62 as its fits are done
    assert [pct for pct, _ in seen] == [3, 8, 35, 62, 62, 82, 90, 90, 90]
    assert all(msg.startswith(str(e)) for (_, msg), e in zip(seen, events, strict=True))
    assert "2/4 · " in seen[2][1] and " left" in seen[2][1]  # step k of n, units and an ETA (issue 13 #9)
