"""Background job records (retrain, load, validate) that survive the death of the process running them.

One at a time per kind: a running retrain or load holds ``active_kind = kind``; the column is unique, so a
second start of the same kind fails inside the database even when two processes race. Dry runs
(``validate``) may run side by side and hold no ``active_kind``.

Crash recovery (issue 9 #1): a job records its owner (host and process id) and a heartbeat, written every
``CRISISRISK_JOB_HEARTBEAT_S`` seconds by a thread while it runs. A 'running' job whose owner is gone (same
host, process not alive or not this process although it has our pid) or whose heartbeat is older than
``CRISISRISK_JOB_STALE_S`` is marked failed, "server stopped while the job ran", at server start and before a
start is refused as busy. Hooks (:func:`on_orphan`) let the upload code repair what a killed load left.

Cancellation is cooperative: :func:`request_cancel` sets a flag that the job reads at each progress point
(:func:`progress` raises :class:`JobCancelled`), so it stops where nothing half-written can remain.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from warehouse import settings
from warehouse.io import inserted_id
from warehouse.schema import job

log = logging.getLogger(__name__)
EXCLUSIVE_KINDS = ("retrain", "load")  # one at a time; 'validate' (dry runs) may run side by side
KINDS = (*EXCLUSIVE_KINDS, "validate")
ORPHAN_MESSAGE = "server stopped while the job ran"
HOST = socket.gethostname()[:255]

# (database, job id) -> stop event of its heartbeat thread, for jobs of this process. Keyed by database too:
# job ids restart at 1 in every warehouse, and a process may hold several (tests, benchmarks); by id alone, a
# second warehouse's job 7 replaced the first's stop event (that heartbeat then never stopped) and made the
# first's job 7 look owned here.
_owned: dict[tuple[str, int], threading.Event] = {}
_owned_lock = threading.Lock()
_orphan_hooks: list[Callable[[Engine, dict[str, Any]], None]] = []


def _owned_key(engine: Engine, job_id: int) -> tuple[str, int]:
    return engine.url.render_as_string(hide_password=True), job_id


class JobBusy(RuntimeError):
    """Another job of this kind is running."""


class JobCancelled(Exception):
    """An analyst cancelled the job; raised at the job's next progress point."""


def heartbeat_seconds() -> float:
    return float(settings.get("CRISISRISK_JOB_HEARTBEAT_S"))


def stale_seconds() -> float:
    """A heartbeat older than this means the owner is gone (must exceed the longest write transaction)."""
    return float(settings.get("CRISISRISK_JOB_STALE_S"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back; they were written in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def pid_alive(pid: int | None) -> bool:
    """True if a process with this id runs on this host (a zombie, killed but not reaped, counts as gone)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def owner_gone(
    host: str | None,
    pid: int | None,
    heartbeat: dt.datetime | None,
    started: dt.datetime | None,
    owned_here: bool,
    legacy_limit_s: float | None = None,
) -> bool:
    """Whether the process that owns a running record (job or lock) has stopped.

    Same host: the pid is not alive, or it is our own pid but this process does not run the job (a restarted
    container gets the same pid). Any host: the heartbeat is stale. Rows written before owners were recorded
    count as gone after ``legacy_limit_s``.
    """
    if host == HOST and pid is not None:
        if pid == os.getpid():
            if not owned_here:
                return True
        elif not pid_alive(pid):
            return True
    beat = _aware(heartbeat) or _aware(started)
    if host is None and legacy_limit_s is not None:
        return beat is None or (_now() - beat).total_seconds() > legacy_limit_s
    return beat is None or (_now() - beat).total_seconds() > stale_seconds()


def on_orphan(hook: Callable[[Engine, dict[str, Any]], None]) -> None:
    """Register repair work for a job found orphaned (e.g. put back the files of a killed load)."""
    if hook not in _orphan_hooks:
        _orphan_hooks.append(hook)


def owned_here(engine: Engine, job_id: int) -> bool:
    """Whether this process runs that job of that warehouse."""
    with _owned_lock:
        return _owned_key(engine, job_id) in _owned


def start_job(engine: Engine, kind: str, requested_by: str, upload_id: int | None = None) -> int:
    """Record a running job owned by this process and start its heartbeat; ``JobBusy`` if its kind runs."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind '{kind}'")
    active = kind if kind in EXCLUSIVE_KINDS else None
    stop = threading.Event()
    job_id: int | None = None
    for attempt in (1, 2):
        now = _now()
        try:
            with engine.begin() as conn:
                job_id = inserted_id(
                    conn.execute(
                        job.insert().values(
                            kind=kind,
                            status="running",
                            requested_by=requested_by,
                            requested_at=now,
                            started_at=now,
                            progress=0.0,
                            message="started",
                            log="",
                            active_kind=active,
                            owner_host=HOST,
                            owner_pid=os.getpid(),
                            heartbeat_at=now,
                            cancel_requested=False,
                            upload_id=upload_id,
                        )
                    )
                )
                # owned before the row is visible: a racing request in this process must not take it for an
                # orphan of a restarted server (same pid, not owned) and fail it
                with _owned_lock:
                    _owned[_owned_key(engine, job_id)] = stop
            break
        except IntegrityError:
            if job_id is not None:
                with _owned_lock:
                    _owned.pop(_owned_key(engine, job_id), None)
                job_id = None
            if attempt == 1 and recover_orphans(engine, kind):
                continue  # the holder had died: its job is now failed, so try once more
            running = running_job(engine, kind)
            who = (
                f" (started by {running['requested_by']} at {str(running['started_at'])[:19]} UTC)"
                if running
                else ""
            )
            raise JobBusy(f"a {kind} job is already running{who}; wait for it to finish") from None
    if job_id is None:  # not reached: the second attempt inserts or raises JobBusy
        raise RuntimeError(f"the {kind} job was not recorded")
    _start_heartbeat(engine, job_id, stop)
    return job_id


def _start_heartbeat(engine: Engine, job_id: int, stop: threading.Event) -> None:
    def beat() -> None:
        failures = 0
        while not stop.wait(heartbeat_seconds()):
            try:
                with engine.begin() as conn:
                    conn.execute(
                        update(job)
                        .where(job.c.job_id == job_id, job.c.status == "running")
                        .values(heartbeat_at=_now())
                    )
                failures = 0
            except Exception as exc:  # noqa: BLE001 - a busy database delays one beat; the stale limit allows many
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:  # not every beat of a long outage
                    # the message only: a traceback formatted here (Python 3.11 parses source lines for its
                    # carets) raced another thread's ast.parse and made it fail ('recursion depth mismatch')
                    log.warning(
                        "job %s: heartbeat not written (%s failure(s) in a row): %s",
                        job_id,
                        failures,
                        f"{type(exc).__name__}: {exc}".splitlines()[0],
                    )

    threading.Thread(target=beat, name=f"crisisrisk-heartbeat-{job_id}", daemon=True).start()


def _stop_heartbeat(engine: Engine, job_id: int) -> None:
    with _owned_lock:
        stop = _owned.pop(_owned_key(engine, job_id), None)
    if stop is not None:
        stop.set()


def _append(current: str | None, message: str) -> str:
    return ((current or "") + f"{_now():%H:%M:%S} {message}\n")[-20000:]


def progress(engine: Engine, job_id: int, percent: float, message: str) -> None:
    """Record progress; raises :class:`JobCancelled` if an analyst asked to cancel (checked here)."""
    with engine.begin() as conn:
        row = conn.execute(select(job.c.log, job.c.cancel_requested).where(job.c.job_id == job_id)).first()
        current, cancel = (row[0], bool(row[1])) if row else ("", False)
        conn.execute(
            update(job)
            .where(job.c.job_id == job_id)
            .values(
                progress=max(0.0, min(100.0, percent)),
                message=message[:500],
                heartbeat_at=_now(),
                log=_append(current, message),
            )
        )
    if cancel:
        raise JobCancelled(f"job {job_id} was cancelled")


def cancel_requested(engine: Engine, job_id: int) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(select(job.c.cancel_requested).where(job.c.job_id == job_id)).scalar())


def finish_job(
    engine: Engine,
    job_id: int,
    ok: bool,
    message: str,
    result: dict[str, Any] | None = None,
    status: str | None = None,
) -> None:
    """End a job: succeeded, failed or cancelled; releases its kind and stops its heartbeat."""
    _stop_heartbeat(engine, job_id)
    with engine.begin() as conn:
        current = conn.execute(select(job.c.log).where(job.c.job_id == job_id)).scalar()
        conn.execute(
            update(job)
            .where(job.c.job_id == job_id)
            .values(
                status=status or ("succeeded" if ok else "failed"),
                finished_at=_now(),
                active_kind=None,
                progress=100.0,
                message=message[:500],
                log=_append(current, message),
                result_json=result,
            )
        )


def request_cancel(engine: Engine, job_id: int) -> dict[str, Any]:
    """Ask a running job to stop at its next progress point; an orphaned one is marked failed at once.

    Returns the job record; raises ``LookupError`` for an unknown job and ``ValueError`` for one not running.
    """
    item = get_job(engine, job_id)
    if item is None:
        raise LookupError(f"unknown job {job_id}")
    if item["status"] != "running":
        raise ValueError(f"job {job_id} is {item['status']}, not running")
    with engine.begin() as conn:
        current = conn.execute(select(job.c.log).where(job.c.job_id == job_id)).scalar()
        conn.execute(
            update(job)
            .where(job.c.job_id == job_id, job.c.status == "running")
            .values(cancel_requested=True, log=_append(current, "cancel requested"))
        )
    recover_orphans(engine, item["kind"])
    after = get_job(engine, job_id)
    if after is None:
        raise LookupError(f"unknown job {job_id}")
    return after


def recover_orphans(engine: Engine, kind: str | None = None, legacy_limit_s: float | None = None) -> int:
    """Mark running jobs whose owner is gone as failed (``ORPHAN_MESSAGE``) and run the repair hooks.

    Returns how many were marked. Safe to run from several processes: each row is claimed by an
    UPDATE ... WHERE status = 'running', so one process repairs it.
    """
    import etl.uploads  # noqa: F401 - registers the repair of a killed load's or dry run's upload

    stmt = select(job).where(job.c.status == "running")
    if kind:
        stmt = stmt.where(job.c.kind == kind)
    with engine.connect() as conn:
        running = [dict(r) for r in conn.execute(stmt).mappings().all()]
    marked = 0
    for item in running:
        if not owner_gone(
            item["owner_host"],
            item["owner_pid"],
            item["heartbeat_at"],
            item["started_at"],
            owned_here(engine, item["job_id"]),
            legacy_limit_s,
        ):
            continue
        with engine.begin() as conn:
            claimed = conn.execute(
                update(job)
                .where(job.c.job_id == item["job_id"], job.c.status == "running")
                .values(
                    status="failed",
                    active_kind=None,
                    finished_at=_now(),
                    message=ORPHAN_MESSAGE,
                    log=_append(item["log"], ORPHAN_MESSAGE),
                    result_json={"error": ORPHAN_MESSAGE},
                )
            ).rowcount
        if not claimed:
            continue
        marked += 1
        log.warning(
            "job %s (%s, owner %s pid %s) marked failed: %s",
            item["job_id"],
            item["kind"],
            item["owner_host"],
            item["owner_pid"],
            ORPHAN_MESSAGE,
        )
        for hook in list(_orphan_hooks):
            try:
                hook(engine, item)
            except Exception:  # noqa: BLE001 - one repair must not stop the others; it is logged
                log.exception("job %s: repair after the crash failed", item["job_id"])
    return marked


def running_job(engine: Engine, kind: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(job).where(job.c.active_kind == kind)).mappings().first()
    return dict(row) if row else None


def running_jobs(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in (
                conn.execute(select(job).where(job.c.status == "running").order_by(job.c.job_id))
                .mappings()
                .all()
            )
        ]


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
    """At server start: recover orphaned jobs of this kind (owner gone, stale heartbeat, or an old row
    written before owners were recorded and started more than ``older_than_minutes`` ago)."""
    return recover_orphans(engine, kind, legacy_limit_s=older_than_minutes * 60.0)
