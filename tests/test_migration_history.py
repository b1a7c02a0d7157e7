"""Alembic history keeps working on databases made before the warehouse package existed (commit 84d7bac)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from warehouse import accounts
from warehouse.db import alembic_config, make_engine, migrate
from warehouse.schema import metadata, region

FIXTURES = Path(__file__).parent / "fixtures" / "warehouse_84d7bac"


def _restore(dump: Path, target: Path) -> str:
    with sqlite3.connect(target) as conn:
        conn.executescript(dump.read_text())
    return f"sqlite:///{target}"


@pytest.mark.parametrize("revision", ["0004", "0009"])
def test_an_old_main_database_upgrades_to_head_and_keeps_its_rows(tmp_path, revision):
    engine = make_engine(_restore(FIXTURES / f"revision_{revision}.sql", tmp_path / "old.sqlite"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == revision
    migrate(engine)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
        assert conn.execute(select(region.c.name).where(region.c.region_id == "NGA")).scalar() == "Nigeria"
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    # the password hashed by the old code still signs the user in, and a wrong one still fails
    assert accounts.authenticate(engine, "fixture-analyst", "fixture-password-123") is not None
    assert accounts.authenticate(engine, "fixture-analyst", "wrong-password-123") is None
