"""Shared fixtures: a migrated temporary warehouse, and one with the real regions loaded once."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from etl.context import MappingContext
from warehouse.config import PROJECT_ROOT
from warehouse.db import make_engine, migrate

RAW_DIR = PROJECT_ROOT / "data" / "raw"
FIXTURES = Path(__file__).parent / "fixtures"


_CREATED: list[str] = []  # per-test PostgreSQL databases, dropped when the session ends


def pytest_sessionfinish(session, exitstatus) -> None:
    pg = _postgres_url()
    if not pg or not _CREATED:
        return
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in _CREATED:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _postgres_url() -> str | None:
    url = os.environ.get("CRISISRISK_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


def _fresh_url(tmp_path: Path, name: str) -> str:
    """A new empty database: a SQLite file, or a new PostgreSQL database when the suite runs on PostgreSQL."""
    pg = _postgres_url()
    if not pg:
        return f"sqlite:///{tmp_path / (name + '.sqlite')}"
    dbname = f"t_{name}_{uuid.uuid4().hex[:10]}"
    _CREATED.append(dbname)
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    admin.dispose()
    return pg.rsplit("/", 1)[0] + "/" + dbname


def drop_database(url: str) -> None:
    """Remove a per-test PostgreSQL database (SQLite files go with tmp_path)."""
    if not url.startswith("postgresql"):
        return
    admin = create_engine(_postgres_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(tmp_path):
    """A migrated, empty warehouse."""
    url = _fresh_url(tmp_path, "wh")
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()
    drop_database(url)


@pytest.fixture(scope="session")
def regions_engine(tmp_path_factory):
    """A warehouse holding the real Natural Earth regions (loaded once per session; treat as read-only)."""
    from etl.loader import load_source
    from etl.sources import get_source

    tmp = tmp_path_factory.mktemp("regions")
    eng = make_engine(_fresh_url(tmp, "regions"))
    migrate(eng)
    result = load_source(eng, get_source("natural_earth"), RAW_DIR)
    assert result.status == "loaded", result.error
    yield eng
    eng.dispose()


@pytest.fixture
def ctx(regions_engine) -> MappingContext:
    """Mapping context over the real regions, reading the crosswalk from data/raw."""
    return MappingContext(raw_dir=RAW_DIR, engine=regions_engine)


@pytest.fixture
def raw_copy(tmp_path):
    """Copy a data/raw folder (or a fixture folder) into a temporary raw dir that tests may mutate."""

    def _copy(folder: str, src: Path | None = None) -> Path:
        target = tmp_path / "raw" / folder
        shutil.copytree(src or (RAW_DIR / folder), target)
        return tmp_path / "raw"

    return _copy
