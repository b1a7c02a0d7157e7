"""Issue 9 #2: one ETL writer per warehouse, enforced by the database; one current load per file.

Two ``etl run --force`` at once used to both commit (79 'current' loads instead of 56, duplicated rows, wrong
observation counts). Runs here use the small real extracts and separate engines (as two processes would),
on SQLite and, when the suite runs with CRISISRISK_DATABASE_URL=postgresql..., on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from etl.loader import run
from tests.conftest import FIXTURES
from warehouse import jobs
from warehouse.db import make_engine
from warehouse.schema import etl_lock, observation, source_load
from warehouse.writer_lock import EtlBusy, etl_writer, holder

RAW = FIXTURES / "integration" / "raw"
SOURCES = ["natural_earth", "country_codes", "unhcr_population", "wb_population"]


def _check_loads(engine) -> None:
    with engine.connect() as conn:
        current = conn.execute(
            select(
                source_load.c.load_id,
                source_load.c.source,
                source_load.c.file,
                source_load.c.observations,
                source_load.c.current_key,
            ).where(source_load.c.status == "loaded")
        ).all()
        per_load = dict(
            conn.execute(select(observation.c.load_id, func.count()).group_by(observation.c.load_id)).all()
        )
    files = [(r.source, r.file) for r in current]
    assert len(files) == len(set(files)), "two current loads of one file"
    assert all(r.current_key == f"{r.source}|{r.file}" for r in current)
    for r in current:
        assert per_load.get(r.load_id, 0) == r.observations, (r.source, r.file)
    assert set(per_load) <= {r.load_id for r in current}  # no observation points at a superseded load


def test_two_forced_runs_at_once_serialise_and_keep_one_current_load_per_file(engine):
    url = engine.url.render_as_string(hide_password=False)
    first = run(engine, SOURCES, raw_dir=RAW)
    assert all(r.status == "loaded" for r in first), [r.error for r in first]
    with engine.connect() as conn:
        n_current = conn.execute(
            select(func.count()).select_from(source_load).where(source_load.c.status == "loaded")
        ).scalar_one()
    outcomes: dict[int, list] = {}
    waited: list[str] = []
    barrier = threading.Barrier(2)

    def writer(i: int) -> None:
        own = make_engine(url)  # a separate engine, as a second process would have
        barrier.wait()
        try:
            outcomes[i] = run(
                own,
                SOURCES,
                force=True,
                raw_dir=RAW,
                wait_s=300,
                who=f"run {i}",
                progress=lambda m: waited.append(m) if m.startswith("waiting") else None,
            )
        finally:
            own.dispose()

    threads = [threading.Thread(target=writer, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert set(outcomes) == {1, 2}
    assert all(r.status == "loaded" for rs in outcomes.values() for r in rs), outcomes
    assert (
        len(waited) == 1 and "waiting for the ETL writer run " in waited[0]
    )  # the second said whom it waits for
    _check_loads(engine)
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(source_load).where(source_load.c.status == "loaded")
            ).scalar_one()
            == n_current
        )
        assert conn.execute(select(func.count()).select_from(etl_lock)).scalar_one() == 0  # released


def test_second_writer_gives_up_after_its_wait_naming_the_holder(engine):
    with etl_writer(engine, "alice's upload"):
        started = time.monotonic()
        with pytest.raises(EtlBusy, match="alice's upload") as busy:
            run(engine, ["natural_earth"], raw_dir=RAW, wait_s=1.0)
        assert 0.9 <= time.monotonic() - started < 10
        assert "--wait" in str(busy.value)
    assert holder(engine) is None


def test_lock_of_a_dead_process_is_taken_over(engine):
    proc_pid = _dead_pid()
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            etl_lock.insert().values(
                name="etl",
                holder="killed run #abc",
                owner_host=jobs.HOST,
                owner_pid=proc_pid,
                acquired_at=now,
                heartbeat_at=now,
            )
        )
    with etl_writer(engine, "new run", wait_s=0):
        assert holder(engine)["holder"].startswith("new run")


def test_stale_lock_of_another_host_is_taken_over_and_a_fresh_one_is_not(engine, monkeypatch):
    monkeypatch.setenv("CRISISRISK_JOB_STALE_S", "60")
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            etl_lock.insert().values(
                name="etl",
                holder="far run #1",
                owner_host="elsewhere",
                owner_pid=7,
                acquired_at=now,
                heartbeat_at=now,
            )
        )
    with pytest.raises(EtlBusy, match="far run"), etl_writer(engine, "new run", wait_s=0):
        pass
    with engine.begin() as conn:
        conn.execute(etl_lock.update().values(heartbeat_at=now - dt.timedelta(seconds=61)))
    with etl_writer(engine, "new run", wait_s=0):
        assert holder(engine)["holder"].startswith("new run")


def test_database_refuses_two_current_loads_of_one_file(engine):
    row = {
        "source": "s",
        "file": "f/a.csv",
        "sha256": "a" * 64,
        "rows_read": 1,
        "rows_loaded": 1,
        "rows_rejected": 0,
        "observations": 0,
        "started_at": dt.datetime.now(dt.UTC),
        "status": "loaded",
        "software_version": "t",
        "current_key": "s|f/a.csv",
    }
    with engine.begin() as conn:
        conn.execute(source_load.insert().values(**row))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(source_load.insert().values(**row))
    with engine.begin() as conn:  # superseded loads hold no key, so history keeps many
        conn.execute(source_load.insert().values(**{**row, "status": "superseded", "current_key": None}))
        conn.execute(source_load.insert().values(**{**row, "status": "superseded", "current_key": None}))


def test_cli_run_with_no_wait_exits_with_a_clear_message(engine, monkeypatch):
    from typer.testing import CliRunner

    from crisisrisk.cli import app

    monkeypatch.setenv("CRISISRISK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRISISRISK_RAW_DIR", str(RAW))
    with etl_writer(engine, "bob's load"):
        result = CliRunner().invoke(app, ["etl", "run", "--source", "natural_earth", "--wait", "0"])
    assert result.exit_code == 3, result.output
    assert "another ETL writer holds the warehouse" in result.output and "bob's load" in result.output


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
