"""Issue 9 #7 and #6: the upload dry run is a background job (202 + job; report fetched when ready; cancel),
and many dry runs at once of the shipped World Bank GDP file all pass with the same report."""

from __future__ import annotations

import io
import threading

import pytest

from dashboard import jobs_runner
from tests.dashboard.workflow_app import workflow_app
from warehouse import accounts, jobs
from warehouse.config import PROJECT_ROOT

GDP = PROJECT_ROOT / "data" / "raw" / "covariates_country_year" / "wb_gdp_current_usd.csv"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with workflow_app(tmp_path_factory.mktemp("uploadjobs")) as (app, engine):
        yield app, engine, {"Authorization": "Bearer " + accounts.create_token(engine, "ana", "upload-jobs")}


def _post(app, headers, data: bytes, name: str = "wb_gdp_current_usd.csv", source: str = "wb_gdp"):
    return app.server.test_client().post(
        f"/api/v1/uploads?source={source}",
        headers=headers,
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_twenty_concurrent_dry_runs_of_the_shipped_file_all_pass(env):
    app, engine, headers = env
    data = GDP.read_bytes()
    barrier = threading.Barrier(20)
    answers: list = []

    def client() -> None:
        barrier.wait()
        resp = _post(app, headers, data)
        answers.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=client) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [code for code, _ in answers] == [202] * 20  # answered at once, before any parsing
    reports = []
    for _code, body in answers:
        job = jobs_runner.wait(engine, body["job"]["job_id"], 300)
        assert job["status"] == "succeeded", job
        item = app.server.test_client().get(body["upload_url"], headers=headers).get_json()
        assert item["status"] == "validated", item["report"]
        reports.append(
            (item["report"]["rows_read"], item["report"]["rows_would_load"], item["report"]["observations"])
        )
    assert len(set(reports)) == 1 and reports[0][1] > 10_000


def test_a_dry_run_can_be_cancelled_and_leaves_nothing(env, monkeypatch):
    app, engine, headers = env
    from etl import uploads

    release = threading.Event()
    real_check = uploads._check_bytes  # noqa: SLF001

    def slow_check(name, data):
        assert release.wait(30)
        return real_check(name, data)

    monkeypatch.setattr(uploads, "_check_bytes", slow_check)
    staged_before = set(uploads._staging_root().iterdir())  # noqa: SLF001
    resp = _post(app, headers, GDP.read_bytes())
    assert resp.status_code == 202
    body = resp.get_json()
    job_id = body["job"]["job_id"]
    cancel = app.server.test_client().post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert cancel.status_code == 202 and cancel.get_json()["cancel_requested"] is True
    release.set()
    job = jobs_runner.wait(engine, job_id, 60)
    assert job["status"] == "cancelled", job
    item = app.server.test_client().get(body["upload_url"], headers=headers).get_json()
    assert item["status"] == "cancelled"
    assert set(uploads._staging_root().iterdir()) == staged_before  # noqa: SLF001 - no staged copy left
    again = app.server.test_client().post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert again.status_code == 409
    assert app.server.test_client().post("/api/v1/jobs/99999999/cancel", headers=headers).status_code == 404
    entries = [(e["action"], e["outcome"]) for e in accounts.audit_entries(engine, 10)]
    assert ("job cancel", "ok") in entries and ("job cancel", "refused") in entries


def test_openapi_documents_the_202_dry_run_and_cancel(env):
    app, _, _ = env
    spec = app.server.test_client().get("/api/v1/openapi.json").get_json()
    assert "202" in spec["paths"]["/uploads"]["post"]["responses"]
    assert "201" not in spec["paths"]["/uploads"]["post"]["responses"]
    assert "post" in spec["paths"]["/jobs/{job_id}/cancel"]
    assert jobs.ORPHAN_MESSAGE == "server stopped while the job ran"
