"""One ETL writer per warehouse, enforced by the database (issue 9 #2).

Two ``crisisrisk etl run --force`` at once both committed and left duplicated 'current' loads. Every writer
(``etl run``, an upload load, the API) now holds the row ``etl_lock(name='etl')``: its primary key lets one
INSERT succeed; the same SQL works on SQLite and PostgreSQL. The holder's host, pid and a heartbeat (a thread
refreshes it) say whether it is alive, so the lock of a killed process is taken over instead of blocking
for ever (same rules as jobs: :func:`warehouse.jobs.owner_gone`).

A second writer waits up to ``wait_s`` seconds (``crisisrisk etl run --wait``, default
``CRISISRISK_ETL_LOCK_WAIT_S`` = 300), saying once whom it waits for, then gives up with
:class:`EtlBusy` naming the holder.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from warehouse import settings
from warehouse.jobs import HOST, heartbeat_seconds, owner_gone
from warehouse.schema import etl_lock

log = logging.getLogger(__name__)
LOCK_NAME = "etl"

_held: set[str] = set()  # holder tokens of locks this process holds (a reused pid is not us)
_held_lock = threading.Lock()


class EtlBusy(RuntimeError):
    """Another ETL writer holds the warehouse and did not finish within the wait."""


def default_wait_s() -> float:
    return float(settings.get("CRISISRISK_ETL_LOCK_WAIT_S"))


def holder(engine: Engine) -> dict[str, Any] | None:
    """The current holder row, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(etl_lock).where(etl_lock.c.name == LOCK_NAME)).mappings().first()
    return dict(row) if row else None


def describe(row: dict[str, Any]) -> str:
    who = row["holder"].rsplit(" #", 1)[0]
    return f"{who} (pid {row['owner_pid']} on {row['owner_host']}, since {str(row['acquired_at'])[:19]} UTC)"


def _held_here(row: dict[str, Any]) -> bool:
    with _held_lock:
        return row["holder"] in _held


def _take_over_if_stale(engine: Engine, row: dict[str, Any]) -> bool:
    """Delete the lock of a dead holder (compare-and-delete on its token); True if it was removed."""
    if not owner_gone(
        row["owner_host"], row["owner_pid"], row["heartbeat_at"], row["acquired_at"], _held_here(row)
    ):
        return False
    with engine.begin() as conn:
        removed = conn.execute(
            delete(etl_lock).where(etl_lock.c.name == LOCK_NAME, etl_lock.c.holder == row["holder"])
        ).rowcount
    if removed:
        log.warning("took over the ETL lock of %s: its process stopped", describe(row))
    return bool(removed)


def _try_insert(engine: Engine, token: str) -> bool:
    now = dt.datetime.now(dt.UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                etl_lock.insert().values(
                    name=LOCK_NAME,
                    holder=token,
                    owner_host=HOST,
                    owner_pid=os.getpid(),
                    acquired_at=now,
                    heartbeat_at=now,
                )
            )
        return True
    except IntegrityError:
        return False
    except OperationalError:  # SQLite: another connection is writing right now; look again shortly
        log.debug("ETL lock insert met a busy database", exc_info=True)
        return False


@contextmanager
def etl_writer(
    engine: Engine,
    who: str,
    wait_s: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    poll_s: float = 0.5,
) -> Iterator[None]:
    """Hold the warehouse's single ETL writer lock for the block; waits at most ``wait_s`` seconds."""
    wait_s = default_wait_s() if wait_s is None else wait_s
    token = f"{who[:150]} #{uuid.uuid4().hex[:12]}"
    _acquire(engine, token, wait_s, on_wait, poll_s)
    with _held_lock:
        _held.add(token)
    stop = threading.Event()
    thread = threading.Thread(
        target=_beat, args=(engine, token, stop), name="crisisrisk-etl-lock", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        with _held_lock:
            _held.discard(token)
        _release(engine, token)


def _acquire(
    engine: Engine, token: str, wait_s: float, on_wait: Callable[[str], None] | None, poll_s: float
) -> None:
    """Insert the lock row as ``token``, taking over a dead holder's; EtlBusy after ``wait_s`` seconds."""
    deadline = time.monotonic() + max(wait_s, 0.0)
    told = False
    while not _try_insert(engine, token):
        row = holder(engine)
        if row is not None and _take_over_if_stale(engine, row):
            continue
        if time.monotonic() >= deadline:
            who = describe(row) if row else "a writer that is committing now"
            raise EtlBusy(
                f"another ETL writer holds the warehouse: {who}; waited {wait_s:.0f} s. "
                "Try again when it has finished (crisisrisk etl run --wait SECONDS waits longer)."
            )
        if row is not None and not told:
            told = True
            message = f"waiting for the ETL writer {describe(row)} to finish (up to {wait_s:.0f} s)"
            log.info(message)
            if on_wait:
                on_wait(message)
        time.sleep(poll_s)


def _beat(engine: Engine, token: str, stop: threading.Event) -> None:
    """Refresh the lock's heartbeat until ``stop`` is set, so other writers see the holder alive."""
    while not stop.wait(heartbeat_seconds()):
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(etl_lock)
                    .where(etl_lock.c.holder == token)
                    .values(heartbeat_at=dt.datetime.now(dt.UTC))
                )
        except Exception:  # noqa: BLE001 - the load's own transaction may hold SQLite; next beat
            log.debug("ETL lock heartbeat delayed", exc_info=True)


def _release(engine: Engine, token: str) -> None:
    """Delete the lock row, retrying: the delete must not be lost to a momentarily busy SQLite file."""
    for attempt in range(20):
        try:
            with engine.begin() as conn:
                conn.execute(delete(etl_lock).where(etl_lock.c.holder == token))
            return
        except Exception:  # noqa: BLE001 - busy SQLite or a dropped connection: retry, then log
            if attempt == 19:
                log.exception("could not release the ETL lock; it is taken over once seen stale")
            time.sleep(0.25)
