"""Accounts (scrypt hashes, tokens stored hashed), audit and the one-at-a-time job lock."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from warehouse.accounts import (
    AccountError,
    add_user,
    audit,
    authenticate,
    create_token,
    login_failures,
    principal_for_token,
    revoke_token,
)
from warehouse.jobs import JobBusy, finish_job, running_job, start_job
from warehouse.schema import api_token, app_user


def test_passwords_are_hashed_and_checked(engine):
    add_user(engine, "alice", "analyst", "correct horse battery")
    with engine.connect() as conn:
        stored = conn.execute(select(app_user.c.password_hash)).scalar_one()
    assert stored.startswith("scrypt:32768:8:1$") and "correct" not in stored
    assert authenticate(engine, "alice", "correct horse battery").role == "analyst"
    assert authenticate(engine, "alice", "wrong password!!") is None
    assert authenticate(engine, "nobody", "correct horse battery") is None


def test_account_rules(engine):
    with pytest.raises(AccountError, match="role must be one of"):
        add_user(engine, "bob", "superuser", "long enough password")
    with pytest.raises(AccountError, match="at least 10"):
        add_user(engine, "bob", "viewer", "short")
    add_user(engine, "bob", "viewer", "long enough password")
    with pytest.raises(AccountError, match="already exists"):
        add_user(engine, "bob", "viewer", "long enough password")


def test_tokens_are_stored_hashed_and_can_be_revoked(engine):
    add_user(engine, "carol", "admin", "long enough password")
    token = create_token(engine, "carol", "ci")
    with engine.connect() as conn:
        stored = conn.execute(select(api_token.c.token_hash)).scalar_one()
    assert token not in stored and len(stored) == 64
    principal = principal_for_token(engine, token)
    assert principal.role == "admin" and principal.allows("analyst") and "carol" in principal.name
    assert principal_for_token(engine, token + "x") is None
    revoke_token(engine, "ci")
    assert principal_for_token(engine, token) is None


def test_failed_logins_are_counted_for_rate_limiting(engine):
    for _ in range(3):
        audit(engine, "anonymous", "login", "denied", target="alice", client="10.0.0.1")
    audit(engine, "alice", "login", "ok", target="alice", client="10.0.0.1")
    # counted per (name, address) and per address (issue 9 #9): another name from that address is not locked
    assert login_failures(engine, "alice", "10.0.0.1") == (3, 3)
    assert login_failures(engine, "someone-else", "10.0.0.1") == (0, 3)
    assert login_failures(engine, "alice", "10.0.0.2") == (0, 0)


def test_only_one_job_of_a_kind_runs_even_when_requests_race(engine):
    results: list[str] = []
    barrier = threading.Barrier(6)

    def request():
        barrier.wait()
        try:
            start_job(engine, "retrain", "alice")
            results.append("started")
        except JobBusy as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("started") == 1
    assert all("already running" in r for r in results if r != "started")
    running = running_job(engine, "retrain")
    finish_job(engine, running["job_id"], True, "done")
    assert running_job(engine, "retrain") is None
    again = start_job(engine, "retrain", "bob")  # the lock is released after finishing
    finish_job(engine, again, True, "done")  # and its heartbeat thread stops (it would outlive the database)
