"""Background job records (retrain, load) with a database-enforced 'one at a time' per kind.

A running job holds ``active_kind = kind``; the column is unique, so a second start of the same kind fails
inside the database even when two processes race. Finishing clears it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from etl.schema import job

log = logging.getLogger(__name__)


class JobBusy(RuntimeError):
    """Another job of this kind is running."""


def start_job(engine: Engine, kind: str, requested_by: str) -> int:
    now = dt.datetime.now(dt.UTC)
    try:
        with engine.begin() as conn:
            return conn.execute(job.insert().values(
                kind=kind, status="running", requested_by=requested_by, requested_at=now, started_at=now,
                progress=0.0, message="started", log="", active_kind=kind)).inserted_primary_key[0]
    except IntegrityError:
        running = running_job(engine, kind)
        who = f" (started by {running['requested_by']} at {str(running['started_at'])[:19]} UTC)" if running else ""
        raise JobBusy(f"a {kind} job is already running{who}; wait for it to finish") from None


def progress(engine: Engine, job_id: int, percent: float, message: str) -> None:
    with engine.begin() as conn:
        current = conn.execute(select(job.c.log).where(job.c.job_id == job_id)).scalar() or ""
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        conn.execute(update(job).where(job.c.job_id == job_id).values(
            progress=max(0.0, min(100.0, percent)), message=message[:500],
            log=(current + f"{stamp} {message}\n")[-20000:]))


def finish_job(engine: Engine, job_id: int, ok: bool, message: str, result: dict[str, Any] | None = None) -> None:
    with engine.begin() as conn:
        current = conn.execute(select(job.c.log).where(job.c.job_id == job_id)).scalar() or ""
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        conn.execute(update(job).where(job.c.job_id == job_id).values(
            status="succeeded" if ok else "failed", finished_at=dt.datetime.now(dt.UTC), active_kind=None,
            progress=100.0, message=message[:500], log=(current + f"{stamp} {message}\n")[-20000:],
            result_json=result))


def running_job(engine: Engine, kind: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(job).where(job.c.active_kind == kind)).mappings().first()
    return dict(row) if row else None


def get_job(engine: Engine, job_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(job).where(job.c.job_id == job_id)).mappings().first()
    return dict(row) if row else None


def recent_jobs(engine: Engine, kind: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    stmt = select(job).order_by(job.c.job_id.desc()).limit(limit)
    if kind:
        stmt = stmt.where(job.c.kind == kind)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings().all()]


def clear_stale(engine: Engine, kind: str, older_than_minutes: int = 120) -> int:
    """Mark a 'running' job that outlived its process (crash) as failed, so the lock is released."""
    limit = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=older_than_minutes)
    with engine.begin() as conn:
        return conn.execute(update(job).where(job.c.active_kind == kind, job.c.started_at < limit).values(
            status="failed", active_kind=None, finished_at=dt.datetime.now(dt.UTC),
            message="marked failed: the process running it stopped")).rowcount
