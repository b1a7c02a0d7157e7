"""Issue 9 #1: jobs survive the death of their server, and can be cancelled.

Unit level: a 'running' job whose owner process is gone, or whose heartbeat is stale, is failed with the
reason
"server stopped while the job ran", at start-up and before a start is refused as busy; cancel is cooperative.
Process level: a real ``crisisrisk serve`` is SIGKILLed during a real upload load (stopped at the fault point
inside the load's transaction), restarted, and then the job is failed, the upload is failed, data/raw and the
warehouse hold the previous data, and a new load job is accepted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, update

from tests.conftest import FIXTURES, _fresh_url, drop_database
from warehouse import accounts, jobs
from warehouse.db import make_engine, migrate
from warehouse.schema import job, observation, source_load, upload

ROOT = Path(__file__).resolve().parents[1]
EXTRACTS = FIXTURES / "integration" / "raw"


def _dead_pid() -> int:
    """The id of a process that has just exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _set_owner(engine, job_id: int, **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(job).where(job.c.job_id == job_id).values(**values))


def test_job_of_a_dead_process_is_failed_before_a_409(engine):
    first = jobs.start_job(engine, "retrain", "alice")
    with pytest.raises(jobs.JobBusy, match="already running"):
        jobs.start_job(engine, "retrain", "bob")  # the owner (this process) is alive and runs it: busy
    jobs._stop_heartbeat(engine, first)  # noqa: SLF001 - the heartbeat thread would otherwise keep it fresh
    _set_owner(engine, first, owner_pid=_dead_pid())  # as if a killed server had started it
    second = jobs.start_job(engine, "retrain", "bob")  # accepted: the dead job was failed first
    old = jobs.get_job(engine, first)
    assert old["status"] == "failed" and old["message"] == jobs.ORPHAN_MESSAGE and old["active_kind"] is None
    assert jobs.get_job(engine, second)["status"] == "running"
    jobs.finish_job(engine, second, True, "done")


def test_our_pid_but_not_our_job_is_a_previous_server(engine):
    """A restarted container gets the same pid (often 1): a job with our pid that we do not run is
    orphaned."""
    job_id = jobs.start_job(engine, "load", "alice")
    jobs._stop_heartbeat(engine, job_id)  # noqa: SLF001 - forget it, as a new process would
    assert jobs.recover_orphans(engine) == 1
    assert jobs.get_job(engine, job_id)["status"] == "failed"


def test_a_job_is_owned_here_before_its_row_is_committed(engine):
    """Two retrain requests at once in one server: the loser's orphan check must see the winner's job as ours.

    Ownership used to be recorded after the insert's commit, so in that window the second request took the
    first
    job for a previous server's (our pid, not owned) and failed it, and both answered 202 (seen once under
    load).
    """
    from sqlalchemy import event

    owned_at_commit: list[set[int]] = []
    event.listen(engine, "commit", lambda _conn: owned_at_commit.append(set(jobs._owned)))
    job_id = jobs.start_job(engine, "retrain", "ana")
    try:
        assert owned_at_commit and jobs._owned_key(engine, job_id) in owned_at_commit[0]
        assert jobs.recover_orphans(engine, "retrain") == 0
    finally:
        jobs.finish_job(engine, job_id, True, "done")


def test_stale_heartbeat_of_another_host_is_failed_and_a_fresh_one_is_not(engine, monkeypatch):
    job_id = jobs.start_job(engine, "retrain", "alice")
    jobs._stop_heartbeat(engine, job_id)  # noqa: SLF001
    now = dt.datetime.now(dt.UTC)
    _set_owner(engine, job_id, owner_host="another-host", owner_pid=4242, heartbeat_at=now)
    assert jobs.recover_orphans(engine) == 0  # alive as far as we can tell: a fresh heartbeat
    monkeypatch.setenv("CRISISRISK_JOB_STALE_S", "30")
    _set_owner(engine, job_id, heartbeat_at=now - dt.timedelta(seconds=31))
    assert jobs.recover_orphans(engine) == 1
    assert jobs.get_job(engine, job_id)["message"] == jobs.ORPHAN_MESSAGE


def test_heartbeat_thread_keeps_a_long_job_alive(engine, monkeypatch):
    monkeypatch.setenv("CRISISRISK_JOB_HEARTBEAT_S", "0.2")
    job_id = jobs.start_job(engine, "retrain", "alice")
    first = jobs.get_job(engine, job_id)["heartbeat_at"]
    time.sleep(1.0)
    assert jobs.get_job(engine, job_id)["heartbeat_at"] > first
    jobs.finish_job(engine, job_id, True, "done")
    after = jobs.get_job(engine, job_id)["heartbeat_at"]
    time.sleep(0.6)
    assert jobs.get_job(engine, job_id)["heartbeat_at"] == after  # the thread stopped with the job


def test_two_warehouses_with_the_same_job_id_keep_their_own_ownership_and_heartbeat(
    engine, tmp_path, monkeypatch
):
    monkeypatch.setenv("CRISISRISK_JOB_HEARTBEAT_S", "0.1")
    url = _fresh_url(tmp_path, "second")
    other = make_engine(url)
    migrate(other)
    try:
        first, second = jobs.start_job(engine, "retrain", "ana"), jobs.start_job(other, "retrain", "bo")
        assert first == second  # ids restart in every warehouse
        assert jobs.owned_here(engine, first) and jobs.owned_here(other, second)
        jobs.finish_job(engine, first, True, "done")
        # the other warehouse's job is still ours and still beating (by id alone, the second start had
        # replaced the first's stop event and the finish above stopped the wrong heartbeat)
        assert not jobs.owned_here(engine, first) and jobs.owned_here(other, second)
        assert jobs.recover_orphans(other) == 0
        beat = jobs.get_job(other, second)["heartbeat_at"]
        deadline = time.time() + 10
        while jobs.get_job(other, second)["heartbeat_at"] == beat and time.time() < deadline:
            time.sleep(0.05)
        assert jobs.get_job(other, second)["heartbeat_at"] > beat
        jobs.finish_job(other, second, True, "done")
        assert not jobs.owned_here(other, second)
    finally:
        other.dispose()
        drop_database(url)


def test_a_heartbeat_that_cannot_write_logs_the_error_without_a_traceback_and_keeps_trying(
    engine, monkeypatch, caplog
):
    monkeypatch.setenv("CRISISRISK_JOB_HEARTBEAT_S", "0.05")
    job_id = jobs.start_job(engine, "retrain", "alice")
    calls = []

    class Down:
        def begin(self):
            calls.append(1)
            raise OSError("connection refused\nsecond line")

    # the thread holds the engine it was given; make its connections fail from now on
    real_begin = engine.begin
    monkeypatch.setattr(engine, "begin", Down().begin)
    with caplog.at_level("WARNING", logger="warehouse.jobs"):
        deadline = time.time() + 10
        while len(calls) < 12 and time.time() < deadline:
            time.sleep(0.05)
    monkeypatch.setattr(engine, "begin", real_begin)
    jobs.finish_job(engine, job_id, True, "done")
    assert len(calls) >= 12  # it kept trying
    beats = [r for r in caplog.records if "heartbeat not written" in r.getMessage()]
    # the 1st and the 10th failure in a row are logged, not every one, each with the error's first line only
    assert [r.getMessage().split("(")[1].split(" ")[0] for r in beats[:2]] == ["1", "10"]
    assert all(r.exc_info is None and "OSError: connection refused" in r.getMessage() for r in beats)
    assert not any("second line" in r.getMessage() for r in beats)


def test_cancel_stops_a_job_at_its_next_progress_point(engine):
    from dashboard import jobs_runner

    steps: list[int] = []

    def work(report):
        for i in range(200):
            report(i / 2, f"step {i}")
            steps.append(i)
            time.sleep(0.02)
        return {"message": "finished"}

    job_id = jobs_runner.submit(engine, "retrain", "alice", work)
    time.sleep(0.3)
    jobs.request_cancel(engine, job_id)
    record = jobs_runner.wait(engine, job_id, 30)
    assert record["status"] == "cancelled" and record["active_kind"] is None
    assert 0 < len(steps) < 200
    with pytest.raises(ValueError, match="not running"):
        jobs.request_cancel(engine, job_id)
    with pytest.raises(LookupError):
        jobs.request_cancel(engine, 10**6)


def test_cli_jobs_list_and_cancel(engine, monkeypatch):
    from typer.testing import CliRunner

    from crisisrisk.cli import app

    monkeypatch.setenv("CRISISRISK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    job_id = jobs.start_job(engine, "retrain", "alice")
    runner = CliRunner()
    listed = runner.invoke(app, ["jobs", "list"])
    assert listed.exit_code == 0, listed.output
    assert "retrain" in listed.output and "running" in listed.output
    cancelled = runner.invoke(app, ["jobs", "cancel", str(job_id), "--actor", "ops"])
    assert cancelled.exit_code == 0, cancelled.output
    assert jobs.get_job(engine, job_id)["cancel_requested"] is True
    entry = accounts.audit_entries(engine, 1)[0]
    assert (entry["actor"], entry["action"], entry["outcome"]) == ("ops", "job cancel", "ok")
    jobs.finish_job(engine, job_id, False, "cancelled", status="cancelled")
    again = runner.invoke(app, ["jobs", "cancel", str(job_id)])
    assert again.exit_code == 1 and "not running" in again.output
    assert runner.invoke(app, ["jobs", "cancel", "999999"]).exit_code == 2


# --- a real server, killed during a real load
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env: dict, port: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crisisrisk.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--threads",
            "4",
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait_healthy(port: int, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError("server not healthy:\n" + log.read_text()[-3000:])


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server_env(tmp_path):
    """A warehouse with the small real extracts loaded, an analyst token, and env vars for a server."""
    from etl.loader import run

    raw = tmp_path / "raw"
    shutil.copytree(EXTRACTS, raw)
    url = _fresh_url(tmp_path, "crashserve")
    engine = make_engine(url)
    migrate(engine)
    results = run(engine, names=["natural_earth", "country_codes", "unhcr_population"], raw_dir=raw)
    assert all(r.status == "loaded" for r in results), [r.error for r in results]
    accounts.add_user(engine, "ana", "analyst", "analyst-password-1")
    token = accounts.create_token(engine, "ana", "crash-test")
    env = {
        **os.environ,
        "CRISISRISK_DATABASE_URL": url,
        "CRISISRISK_DATA_DIR": str(tmp_path / "data"),
        "CRISISRISK_RAW_DIR": str(raw),
        "CRISISRISK_MODEL_DIR": str(tmp_path / "models"),
        "CRISISRISK_SECRET_KEY": "crash-test-" + "k" * 40,
        "CRISISRISK_LOG_LEVEL": "WARNING",
    }
    yield engine, env, raw, token
    engine.dispose()
    drop_database(url)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sigkill_of_the_server_during_a_load_then_restart(server_env, tmp_path):
    engine, env, raw, token = server_env
    headers = {"Authorization": f"Bearer {token}"}
    folder = raw / "unhcr_population"
    shipped = folder / "population.csv.gz"
    before_file = _file_digest(shipped)
    with engine.connect() as conn:
        before_obs = conn.execute(
            select(func.count()).select_from(observation).where(observation.c.source == "unhcr_population")
        ).scalar_one()
        before_loads = conn.execute(
            select(source_load.c.load_id, source_load.c.sha256).where(
                source_load.c.source == "unhcr_population", source_load.c.status == "loaded"
            )
        ).all()
    # a different but valid file: the shipped extract without its last 40 rows
    import gzip

    lines = gzip.decompress(shipped.read_bytes()).decode().splitlines()
    new_bytes = gzip.compress(("\n".join(lines[:-40]) + "\n").encode())
    port, log = _free_port(), tmp_path / "server.log"
    marker = tmp_path / "at-fault-point"
    killed_env = {
        **env,
        "CRISISRISK_FAULT_POINT": "etl.load.before_commit",
        "CRISISRISK_FAULT_MARKER": str(marker),
        "CRISISRISK_FAULT_SLEEP": "300",
    }
    proc = _serve(killed_env, port, log)
    try:
        _wait_healthy(port, proc, log)
        resp = requests.post(
            f"http://127.0.0.1:{port}/api/v1/uploads?source=unhcr_population",
            headers=headers,
            files={"file": ("population.csv.gz", io.BytesIO(new_bytes))},
            timeout=60,
        )
        assert resp.status_code == 202, resp.text
        upload_id, dry_job = resp.json()["upload_id"], resp.json()["job"]["job_id"]
        _wait_for(
            lambda: (
                requests.get(
                    f"http://127.0.0.1:{port}/api/v1/jobs/{dry_job}", headers=headers, timeout=30
                ).json()["status"]
                != "running"
            ),
            120,
            "the dry run",
        )
        resp = requests.post(
            f"http://127.0.0.1:{port}/api/v1/uploads/{upload_id}/load", headers=headers, timeout=60
        )
        assert resp.status_code == 202, resp.text
        load_job = resp.json()["job"]["job_id"]
        _wait_for(marker.exists, 120, "the load to reach its commit")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    # the dead server left the job running and the upload loading
    assert jobs.get_job(engine, load_job)["status"] == "running"
    assert _file_digest(shipped) == before_file  # data/raw was never touched before the commit
    restarted = _serve(env, port, log)
    try:
        _wait_healthy(port, restarted, log)
        item = requests.get(
            f"http://127.0.0.1:{port}/api/v1/jobs/{load_job}", headers=headers, timeout=30
        ).json()
        assert item["status"] == "failed" and item["message"] == jobs.ORPHAN_MESSAGE, item
        up = requests.get(
            f"http://127.0.0.1:{port}/api/v1/uploads/{upload_id}", headers=headers, timeout=30
        ).json()
        assert up["status"] == "failed", up
        assert _file_digest(shipped) == before_file and sorted(p.name for p in folder.iterdir()) == sorted(
            p.name for p in (EXTRACTS / "unhcr_population").iterdir()
        )
        with engine.connect() as conn:
            assert (
                conn.execute(
                    select(func.count())
                    .select_from(observation)
                    .where(observation.c.source == "unhcr_population")
                ).scalar_one()
                == before_obs
            )
            assert (
                conn.execute(
                    select(source_load.c.load_id, source_load.c.sha256).where(
                        source_load.c.source == "unhcr_population", source_load.c.status == "loaded"
                    )
                ).all()
                == before_loads
            )
        # a new job of the same kind is accepted and completes: upload again, load, and data/raw follows
        resp = requests.post(
            f"http://127.0.0.1:{port}/api/v1/uploads?source=unhcr_population&confirm=true",
            headers=headers,
            files={"file": ("population.csv.gz", io.BytesIO(new_bytes))},
            timeout=60,
        )
        assert resp.status_code == 202, resp.text
        second = resp.json()["upload_id"]

        def loaded():
            return requests.get(
                f"http://127.0.0.1:{port}/api/v1/uploads/{second}", headers=headers, timeout=30
            ).json()["status"] in ("loaded", "failed", "refused")

        _wait_for(loaded, 180, "the second upload to load")
        assert (
            requests.get(
                f"http://127.0.0.1:{port}/api/v1/uploads/{second}", headers=headers, timeout=30
            ).json()["status"]
            == "loaded"
        )
        assert _file_digest(shipped) == hashlib.sha256(new_bytes).hexdigest()
        with engine.connect() as conn:
            current = (
                conn.execute(
                    select(source_load.c.sha256).where(
                        source_load.c.source == "unhcr_population", source_load.c.status == "loaded"
                    )
                )
                .scalars()
                .all()
            )
            stored = conn.execute(select(upload.c.status).where(upload.c.upload_id == upload_id)).scalar_one()
        assert current == [hashlib.sha256(new_bytes).hexdigest()] and stored == "failed"
    finally:
        restarted.terminate()
        try:
            restarted.wait(20)
        except subprocess.TimeoutExpired:
            restarted.kill()
