"""Background jobs of the server process: a thread per job, progress written through ``warehouse.jobs``.

``warehouse.jobs.start_job`` holds a database-enforced lock (one running retrain or load), so two requests,
from
two threads or two server processes, start exactly one job; the other gets ``JobBusy``. Dry runs of uploads
(kind ``validate``) may be many; at most ``CRISISRISK_MAX_DRY_RUNS`` (default 2) compute at once, the others
wait their turn. Pages and API clients poll the job record (``warehouse.jobs.get_job``). Each job records its
owner and a heartbeat: if the process dies, the next start (or a start that would be refused) marks it
failed. A cancel request is honoured at the job's next progress point (``JobCancelled``): status 'cancelled'.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from models.progress import STEP_START_PERCENT, TrainClock, TrainEvent, percent_done
from warehouse import jobs, settings
from warehouse.jobs import JobCancelled

log = logging.getLogger(__name__)
Report = Callable[[float, str], None]
Work = Callable[[Report], dict[str, Any]]
Done = Callable[[bool, dict[str, Any]], None]

_threads: dict[int, threading.Thread] = {}
_lock = threading.Lock()
_dry_runs = threading.BoundedSemaphore(settings.get("CRISISRISK_MAX_DRY_RUNS"))


def submit(
    engine: Engine,
    kind: str,
    actor: str,
    work: Work,
    on_done: Done | None = None,
    upload_id: int | None = None,
) -> int:
    """Record a job (raises ``JobBusy`` if one of this kind runs) and run ``work(report)`` in a thread.

    ``work`` returns a JSON-safe result dict; an optional ``message`` key becomes the job's final message.
    ``report(percent, message)`` raises ``JobCancelled`` once a cancel was requested. ``on_done(ok, result)``
    gets ``result['cancelled'] = True`` for a cancelled job.
    """
    job_id = jobs.start_job(engine, kind, actor, upload_id=upload_id)

    def report(percent: float, message: str) -> None:
        try:
            jobs.progress(engine, job_id, percent, message)
        except JobCancelled:
            raise
        except Exception:  # noqa: BLE001 - progress is best effort; the job itself goes on
            log.exception("job %s: progress update failed", job_id)

    def run() -> None:
        ok, result = False, {}
        try:
            if kind == "validate":
                report(1, "waiting for a free dry-run worker")
                with _dry_runs:
                    result = work(report) or {}
            else:
                result = work(report) or {}
            ok = True
            jobs.finish_job(engine, job_id, True, str(result.get("message", "done")), result)
        except JobCancelled:
            log.info("job %s (%s) cancelled", job_id, kind)
            result = {"cancelled": True, "message": f"cancelled; nothing was changed by this {kind} job"}
            _finish_quietly(engine, job_id, result, "cancelled")
        except Exception as exc:  # noqa: BLE001 - any failure ends the job as failed, with its reason
            log.exception("job %s (%s) failed", job_id, kind)
            result = {"error": f"{type(exc).__name__}: {exc}"}
            _finish_quietly(engine, job_id, result, "failed")
        finally:
            if on_done is not None:
                try:
                    on_done(ok, result)
                except Exception:  # noqa: BLE001
                    log.exception("job %s: completion hook failed", job_id)
            with _lock:
                _threads.pop(job_id, None)

    thread = threading.Thread(target=run, name=f"crisisrisk-{kind}-{job_id}", daemon=True)
    with _lock:
        _threads[job_id] = thread
    thread.start()
    return job_id


def _finish_quietly(engine: Engine, job_id: int, result: dict[str, Any], status: str) -> None:
    try:
        jobs.finish_job(
            engine,
            job_id,
            False,
            str(result.get("error") or result.get("message"))[:500],
            result,
            status=status,
        )
    except Exception:  # noqa: BLE001
        log.exception("job %s: could not record its end", job_id)


def wait(engine: Engine, job_id: int, timeout: float = 300.0) -> dict[str, Any] | None:
    """Block until a job of this process ends (tests, scripts); returns its record."""
    with _lock:
        thread = _threads.get(job_id)
    if thread is not None:
        thread.join(timeout)
    return jobs.get_job(engine, job_id)


def running_here() -> list[int]:
    with _lock:
        return sorted(_threads)


# --- progress of the two kinds of work
# percent of the job reached when a training step starts (models.progress.STEP_START_PERCENT); the backtest,
# the long step, moves from its start to the next step's start as its fits are done (TrainEvent.done / .of)
TRAIN_PERCENT = STEP_START_PERCENT


class TrainProgress:
    """Records train_run's progress events as job percentages (never decreasing) and one line per update
    with step k of n, units done and the ETA (models.progress.TrainClock). Within a step, an update is
    written at most every ``every_s`` seconds (the job log kept one line per backtest fit: 210 lines)."""

    def __init__(
        self,
        report: Report,
        origins: tuple[int, int] | None = None,
        clock: TrainClock | None = None,
        every_s: float = 2.0,
    ) -> None:
        del origins  # the events count the backtest's fits themselves; kept for callers' signature
        self.report = report
        self.percent = 0.0
        self.clock = clock or TrainClock()
        self.every_s = every_s
        self.last: tuple[int, float] | None = None  # (step, time) of the last update written

    def __call__(self, event: TrainEvent) -> None:
        self.percent = max(self.percent, percent_done(event))
        line = self.clock.line(event)
        now = self.clock.now()
        last_of_step = event.of and event.done >= event.of
        same_step = self.last is not None and self.last[0] == event.step
        if same_step and not last_of_step and now - self.last[1] < self.every_s:  # type: ignore[index]
            return
        self.last = (event.step, now)
        self.report(self.percent, line)


class StepProgress:
    """Percent that grows with each message towards a ceiling (for loads, whose step count is unknown)."""

    def __init__(self, report: Report, start: float = 5.0, step: float = 6.0, ceiling: float = 95.0) -> None:
        self.report, self.percent, self.step, self.ceiling = report, start, step, ceiling

    def __call__(self, message: str, *_args, **_kwargs) -> None:
        self.percent = min(self.ceiling, self.percent + self.step)
        self.report(self.percent, str(message))
