"""Declared API operations of the analyst workflows: uploads, loads, retraining, jobs, promotion, rollback,
comparison, unlocking users and the audit log. The work is done by ``dashboard.workflows`` (shared with the
admin page), which raises the same typed ``ApiError`` family the API answers with.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import request

from dashboard import workflows
from dashboard.api_core import (
    ApiError,
    BadRequest,
    Choice,
    Flag,
    Int,
    NotFound,
    Operations,
    PathInt,
    PathText,
    Text,
    TooLarge,
)
from dashboard.auth import actor, client_address
from etl import uploads
from warehouse import accounts, jobs

log = logging.getLogger(__name__)
ops = Operations()
UPLOAD_ID = PathInt("upload_id")
JOB_ID = PathInt("job_id")
RUN_ID = PathText("run_id", max_length=64)


def _refresh(actx):
    """After a promote, rollback or load: drop the cache and warm it for the new version before answering
    (issue 9 #12: a cold cache gave 50 clients a p95 of 5.3 s right after a promote)."""

    def refresh(_ok: bool = True) -> None:
        actx.queries.clear()
        actx.queries.warm()

    return refresh


def _upload_out(row: dict) -> dict:
    out = {k: v for k, v in row.items() if k != "staged_path"}
    out["report"] = out.pop("report_json", None)
    return out


def _upload_size_limit(actx) -> None:
    """413 before anything else is read: the request body is larger than an upload may be (audited)."""
    limit = uploads.MAX_UPLOAD_BYTES
    if request.content_length is not None and request.content_length > limit + 65536:
        accounts.audit(
            actx.engine,
            actor(),
            "upload",
            "refused",
            request.args.get("source"),
            f"too_large: request of {request.content_length:,} bytes",
            client_address(),
        )
        raise TooLarge(
            f"file too large: the request has {request.content_length:,} bytes; the limit is "
            f"{limit:,} bytes (CRISISRISK_MAX_UPLOAD_MB)"
        )


UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}, "source": {"type": "string"}},
            }
        }
    },
}


@ops.post(
    "/uploads",
    role="analyst",
    refuse_repeats=False,
    precheck=_upload_size_limit,
    body=UPLOAD_BODY,
    summary=(
        "Upload a new file for a registered source: the dry run (checks, parse, mapping) runs as a "
        "background job; loaded only when confirmed"
    ),
    params=(
        Flag(
            "confirm",
            "Load as soon as the dry run passes (the dry-run job's result then names load_job_id)",
            sources=("args", "form"),
        ),
        Text("source", "Source name (or form field), e.g. unhcr_population", sources=("form", "args")),
    ),
    ok=202,
    ok_description=(
        "Accepted: the dry-run job (kind 'validate'). Poll job_url or upload_url; when the "
        "job ends the upload is 'validated' (its report says what a load would do; nothing "
        "written yet) or 'refused' (the report says why: type, zip bomb, macros, formulas, "
        "columns)"
    ),
    errors={
        413: "File larger than the limit",
        422: "Refused at once: empty file or a file name the source does not accept",
    },
)
def upload_create(actx, a: dict) -> Any:
    if not a["source"]:
        raise BadRequest(
            "give the source: a form field or query parameter 'source', e.g. unhcr_population "
            "(`crisisrisk etl sources` lists them)"
        )
    files = request.files.getlist("file")
    if len(files) != 1:
        raise BadRequest("send exactly one file as multipart/form-data field 'file'")
    data = files[0].read(uploads.MAX_UPLOAD_BYTES + 1)
    outcome = workflows.validate_upload(
        actx.engine,
        actor(),
        a["source"],
        files[0].filename or "",
        data,
        client_address(),
        then_load=a["confirm"],
        on_loaded=_refresh(actx),
    )
    report = outcome["report"]
    if outcome["status"] == "refused":  # the instant checks: size, empty, file name
        status = 413 if report["error_code"] == "too_large" else 422
        raise ApiError(
            status, report["error"], report["error_code"], upload_id=outcome["upload_id"], report=report
        )
    upload_id, job = outcome["upload_id"], outcome["job"]
    return {
        "upload_id": upload_id,
        "status": "validating",
        "job": job,
        "job_url": f"/api/v1/jobs/{job['job_id']}",
        "upload_url": f"/api/v1/uploads/{upload_id}",
        "load_url": f"/api/v1/uploads/{upload_id}/load",
        "confirm": a["confirm"],
    }


@ops.get(
    "/uploads",
    role="analyst",
    summary="Recent uploads with their reports",
    ok_description="Uploads",
    params=(Int("limit", "At most this many", lo=1, hi=500, default=30),),
)
def upload_list(actx, a: dict) -> dict:
    rows = uploads.recent_uploads(actx.engine, a["limit"])
    return {"data": [_upload_out(r) for r in rows], "meta": {"count": len(rows)}}


@ops.get(
    "/uploads/{upload_id}",
    role="analyst",
    summary="One upload and its report",
    ok_description="Upload",
    params=(UPLOAD_ID,),
    errors={404: "Unknown upload"},
)
def upload_get(actx, a: dict) -> dict:
    item = uploads.get_upload(actx.engine, a["upload_id"])
    if item is None:
        raise NotFound(f"unknown upload {a['upload_id']}")
    return _upload_out(item)


@ops.post(
    "/uploads/{upload_id}/load",
    role="analyst",
    summary="Load a validated upload (background job)",
    params=(UPLOAD_ID,),
    ok=202,
    ok_description="Loading: a job",
    errors={404: "Unknown upload", 409: "The upload is not a validated one waiting to be loaded"},
)
def upload_load(actx, a: dict) -> dict:
    job = workflows.start_load(actx.engine, actor(), a["upload_id"], client_address(), _refresh(actx))
    return {"upload_id": a["upload_id"], "status": "loading", "job": job}


@ops.post(
    "/retrain",
    role="analyst",
    summary="Train a candidate run (background job; one at a time)",
    ok=202,
    ok_description="Started: a job",
    errors={409: "A retrain job is already running"},
)
def retrain(actx, a: dict) -> dict:
    job = workflows.start_retrain(actx.engine, actor(), client_address())
    return {"job": job, "job_url": f"/api/v1/jobs/{job['job_id']}"}


@ops.get(
    "/jobs",
    role="analyst",
    summary="Recent jobs (retrain, load, validate = an upload's dry run)",
    ok_description="Jobs",
    params=(
        Choice(
            "kind",
            "retrain, load or validate",
            choices=("retrain", "load", "validate"),
            expected="retrain, load or validate",
        ),
        Int("limit", "At most this many", lo=1, hi=500, default=20),
    ),
)
def job_list(actx, a: dict) -> dict:
    rows = jobs.recent_jobs(actx.engine, a["kind"], a["limit"])
    return {"data": rows, "meta": {"count": len(rows)}}


@ops.get(
    "/jobs/{job_id}",
    role="analyst",
    params=(JOB_ID,),
    ok_description="Job",
    errors={404: "Unknown job"},
    summary=(
        "A job's status (running, succeeded, failed, cancelled), progress and log; a dry run's "
        "result holds the upload report"
    ),
)
def job_get(actx, a: dict) -> dict:
    item = jobs.get_job(actx.engine, a["job_id"])
    if item is None:
        raise NotFound(f"unknown job {a['job_id']}")
    return item


@ops.post(
    "/jobs/{job_id}/cancel",
    role="analyst",
    params=(JOB_ID,),
    ok=202,
    summary="Cancel a running job: it stops at its next progress point and changes nothing (audited)",
    ok_description=(
        "Cancel requested: the job record (status 'cancelled' once it stopped, or 'failed' "
        "if its server had stopped)"
    ),
    errors={404: "Unknown job", 409: "The job is not running"},
)
def job_cancel(actx, a: dict) -> dict:
    return workflows.cancel_job(actx.engine, actor(), a["job_id"], client_address())


@ops.post(
    "/models/{run_id}/promote",
    role="analyst",
    summary=(
        "Deploy a run (atomic; the deployed one is archived). A run identical to or worse than the deployed "
        "one at some horizon (backtest RMSLE) needs force=true"
    ),
    params=(
        RUN_ID,
        Flag(
            "force",
            "Deploy even a run identical to or worse than the deployed one (without it: 409 "
            "needs_confirmation, with the verdict and its reason); a better run needs no flag",
        ),
    ),
    ok_description="Deployed",
    errors={
        404: "Unknown run",
        409: (
            "The run cannot be promoted, or (code needs_confirmation, body field verdict) it is identical "
            "to or worse than the deployed run and force=true was not given"
        ),
    },
)
def model_promote(actx, a: dict) -> dict:
    out = workflows.promote(actx.engine, actor(), a["run_id"], client_address(), force=a["force"])
    _refresh(actx)()
    return out


@ops.post(
    "/models/rollback",
    role="analyst",
    summary="Re-deploy the previously deployed run (atomic)",
    ok_description="Rolled back",
    errors={409: "No previously deployed run"},
)
def model_rollback(actx, a: dict) -> dict:
    out = workflows.rollback(actx.engine, actor(), client_address())
    _refresh(actx)()
    return out


@ops.get(
    "/models/{run_id}/compare",
    role="read",
    params=(RUN_ID,),
    ok_description="Comparison",
    summary=(
        "A run against the deployed run: metrics, baselines, largest rank changes, the verdict per horizon "
        "(judgement: identical, worse, mixed, better) and the run a rollback would restore (rollback_to)"
    ),
    errors={404: "Unknown run"},
)
def model_compare(actx, a: dict) -> dict:
    run_id = a["run_id"]
    if len(run_id) > 64 or workflows.run_row(actx.engine, run_id) is None:
        raise NotFound(f"unknown run '{run_id[:64]}'")
    return workflows.compare(actx.engine, run_id)


@ops.post(
    "/users/{name}/unlock",
    role="admin",
    params=(PathText("name", max_length=80),),
    summary="Unlock a user locked out by failed sign-ins (admin; audited)",
    ok_description="Unlocked",
    errors={404: "Unknown user"},
)
def user_unlock(actx, a: dict) -> dict:
    """Let a user locked out by failed sign-ins sign in again (issue 9 #9); audited by unlock_login."""
    name = a["name"]
    if len(name) > 80:
        raise NotFound("unknown user")
    try:
        cleared = accounts.unlock_login(actx.engine, name, actor(), client_address())
    except accounts.AccountError as exc:
        raise NotFound(str(exc)) from None
    return {"user": name, "unlocked": True, "failures_cleared": cleared}


@ops.get(
    "/audit",
    role="admin",
    summary="The audit log (admin)",
    ok_description="Entries",
    params=(Int("limit", "At most this many", lo=1, hi=5000, default=200),),
)
def audit_log(actx, a: dict) -> dict:
    rows = accounts.audit_entries(actx.engine, a["limit"])
    return {"data": rows, "meta": {"count": len(rows)}}
