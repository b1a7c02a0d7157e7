"""Password hashes are werkzeug's scrypt; hashes written by the earlier hand-rolled code still sign users in
and are
upgraded on their next successful sign-in. ROLES is defined once."""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from werkzeug.security import check_password_hash

from warehouse import accounts
from warehouse.schema import app_user

# Written by the hand-rolled code of commit 84d7bac for "fixture-password-123"
# (tests/fixtures/warehouse_84d7bac/revision_0009.sql).
LEGACY_HASH = (
    "scrypt$32768$8$1$36969242bc1967c02d772a28de0b662f$"
    "24f6236417e08e213bc50992c2d3ce9bb9c1402a8ed251828585baa94afa034c"
)
LEGACY_PASSWORD = "fixture-password-123"


def _stored(engine, name: str) -> str:
    with engine.connect() as conn:
        return conn.execute(select(app_user.c.password_hash).where(app_user.c.name == name)).scalar_one()


def _user_with_legacy_hash(engine, name: str = "legacy-user") -> str:
    accounts.add_user(engine, name, "analyst", "placeholder-password")
    with engine.begin() as conn:
        conn.execute(update(app_user).where(app_user.c.name == name).values(password_hash=LEGACY_HASH))
    return name


def _count_scrypt(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(password, **kwargs):
        calls.append(kwargs["n"])
        return real(password, **kwargs)

    monkeypatch.setattr(accounts.hashlib, "scrypt", counting)
    return calls


def test_new_hashes_are_werkzeug_scrypt_and_werkzeug_checks_them():
    stored = accounts.hash_password("a long enough password")
    assert stored.startswith("scrypt:32768:8:1$") and "long enough" not in stored
    assert check_password_hash(stored, "a long enough password")
    assert not check_password_hash(stored, "a long enough passworD")
    assert accounts.hash_password("a long enough password") != stored  # random salt
    assert not accounts.needs_rehash(stored)


def test_legacy_hash_verifies_and_is_upgraded_at_the_next_sign_in(engine, monkeypatch):
    name = _user_with_legacy_hash(engine)
    assert accounts.verify_password(LEGACY_PASSWORD, LEGACY_HASH)
    assert accounts.needs_rehash(LEGACY_HASH)
    calls = _count_scrypt(monkeypatch)
    assert accounts.authenticate(engine, name, "wrong-password-123") is None
    assert _stored(engine, name) == LEGACY_HASH  # a failed sign-in rewrites nothing
    assert len(calls) == 1
    calls.clear()
    principal = accounts.authenticate(engine, name, LEGACY_PASSWORD)
    assert principal is not None and principal.role == "analyst"
    assert len(calls) == 2  # the legacy check, then the new hash
    upgraded = _stored(engine, name)
    assert upgraded.startswith("scrypt:32768:8:1$") and check_password_hash(upgraded, LEGACY_PASSWORD)
    calls.clear()
    assert accounts.authenticate(engine, name, LEGACY_PASSWORD) is not None
    assert accounts.authenticate(engine, name, "wrong-password-123") is None
    assert len(calls) == 2  # one scrypt per sign-in once upgraded
    assert _stored(engine, name) == upgraded


def test_upgrade_keeps_a_password_changed_meanwhile(engine):
    name = _user_with_legacy_hash(engine, "racing-user")
    accounts.set_password(engine, name, "the-new-password-1")
    accounts._rehash(engine, name, LEGACY_HASH, LEGACY_PASSWORD)  # a sign-in that verified the old hash
    assert accounts.authenticate(engine, name, "the-new-password-1") is not None
    assert accounts.authenticate(engine, name, LEGACY_PASSWORD) is None


class _LockedForWrites:
    """An engine whose writes fail as SQLite's do while an ETL holds the write lock; reads work."""

    def __init__(self, engine):
        self.engine = engine

    def connect(self):
        return self.engine.connect()

    def begin(self):
        raise OperationalError("UPDATE app_user", {}, Exception("database is locked"))


def test_a_failed_upgrade_still_signs_in_and_keeps_the_old_hash(engine, caplog):
    name = _user_with_legacy_hash(engine, "locked-user")
    with caplog.at_level(logging.WARNING, logger="warehouse.accounts"):
        assert accounts.authenticate(_LockedForWrites(engine), name, LEGACY_PASSWORD) is not None
    assert "could not upgrade the password hash of 'locked-user'" in caplog.text
    assert _stored(engine, name) == LEGACY_HASH
    assert accounts.authenticate(engine, name, LEGACY_PASSWORD) is not None  # the next sign-in upgrades it
    assert not accounts.needs_rehash(_stored(engine, name))


def test_malformed_hashes_match_nothing():
    for stored in [
        "",
        "scrypt$",
        "scrypt$32768$8$1$zz$00",
        "scrypt:x:8:1$salt$00",
        "md5$abc$def",
        "plain-text-password",
        "scrypt:32768:8:1$onlysalt",
    ]:
        assert accounts.verify_password("plain-text-password", stored) is False, stored


def test_roles_are_defined_once():
    from dashboard import auth
    from warehouse import schema

    assert auth.ROLES is schema.ROLES is accounts.ROLES
