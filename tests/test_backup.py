"""Backup and restore: a round trip into a fresh warehouse keeps every table and the deployed model.

Loads a few sources from the small real extracts (tests/fixtures/integration/raw), trains with a reduced
configuration, backs up, restores into a fresh database (and a fresh registry folder) and compares every
table's row count and content digest; then checks that tampered archives are refused.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from etl.loader import run
from models.registry import deployed_run, load_run
from models.train import load_config
from tests.conftest import FIXTURES, _fresh_url, drop_database
from warehouse.backup import BackupError, backup, content_digest, read_archive, restore
from warehouse.db import make_engine, migrate
from warehouse.schema import metadata, model_run, observation

RAW = FIXTURES / "integration" / "raw"
SOURCES = ["natural_earth", "country_codes", "unodc_glotip", "wb_population", "owid_conflict_deaths"]


@pytest.fixture(scope="module")
def source_wh(tmp_path_factory):
    from models.pipeline import train_run

    tmp = tmp_path_factory.mktemp("backup")
    url = _fresh_url(tmp, "bsrc")
    engine = make_engine(url)
    migrate(engine)
    results = run(engine, names=SOURCES, raw_dir=RAW)
    assert {r.status for r in results} == {"loaded"}, [r.error for r in results]
    config = load_config()
    config["xgboost"]["n_estimators"] = 30
    config["backtest"].update(first_origin=2015, last_origin=2017)
    run_id = train_run(engine, deploy=True, config=config, registry_root=tmp / "models")
    archive = backup(engine, tmp / "wh.tar.gz", tmp / "models")
    yield engine, archive, run_id, tmp
    engine.dispose()
    drop_database(url)


@pytest.fixture
def fresh(tmp_path):
    url = _fresh_url(tmp_path, "bdst")
    engine = make_engine(url)
    yield engine, url
    engine.dispose()
    drop_database(url)


def test_round_trip_restores_every_table_and_the_deployed_model(source_wh, fresh, tmp_path):
    src, _manifest, run_id, tmp = source_wh
    archive = tmp / "wh.tar.gz"
    dst, _url = fresh
    manifest = restore(dst, archive, tmp_path / "restored-models")
    assert {t["name"] for t in manifest["tables"]} == set(metadata.tables)
    for table in metadata.sorted_tables:
        assert content_digest(dst, table.name) == content_digest(src, table.name), table.name
    with dst.connect() as conn:
        assert conn.execute(select(func.count()).select_from(observation)).scalar() > 1000
        assert conn.execute(select(func.count()).select_from(model_run)).scalar() >= 1
    deployed = deployed_run(dst)
    assert deployed is not None and deployed["run_id"] == run_id
    booster, meta = load_run(run_id, root=tmp_path / "restored-models")
    assert booster.num_features() == len(meta["features"])
    # new rows after a restore get fresh ids (PostgreSQL sequences were moved past the restored ids)
    with dst.begin() as conn:
        max_id = conn.execute(select(func.max(observation.c.observation_id))).scalar()
        row = conn.execute(select(observation).limit(1)).mappings().first()
        new = {k: v for k, v in row.items() if k != "observation_id"} | {
            "period_start": row["period_start"].replace(year=1901)
        }
        new_id = conn.execute(observation.insert().values(**new)).inserted_primary_key[0]
        assert new_id > max_id


def test_restore_replaces_existing_contents(source_wh, fresh, tmp_path):
    src, _m, _run_id, tmp = source_wh
    dst, _url = fresh
    migrate(dst)
    run(dst, names=["natural_earth", "country_codes", "wb_population"], raw_dir=RAW)
    (tmp_path / "reg").mkdir()
    (tmp_path / "reg" / "stale.txt").write_text("old")
    restore(dst, tmp / "wh.tar.gz", tmp_path / "reg")
    assert content_digest(dst, "observation") == content_digest(src, "observation")
    assert not (tmp_path / "reg" / "stale.txt").exists()


def _rewrite(archive: Path, out: Path, change) -> Path:
    """Copy an archive, letting ``change(name, data)`` return new bytes (or None to drop the member)."""
    with tarfile.open(archive, "r:gz") as tar, tarfile.open(out, "w:gz") as dst:
        for info in tar.getmembers():
            data = change(info.name, tar.extractfile(info).read())
            if data is None:
                continue
            new = tarfile.TarInfo(info.name)
            new.size = len(data)
            dst.addfile(new, io.BytesIO(data))
    return out


def test_tampered_archive_is_refused_and_nothing_changes(source_wh, fresh, tmp_path):
    _src, _m, _run_id, tmp = source_wh
    archive = tmp / "wh.tar.gz"
    dst, _url = fresh
    migrate(dst)
    run(dst, names=["natural_earth"], raw_dir=RAW)
    before = content_digest(dst, "region")

    def flip(name, data):
        if name.endswith("_observation.parquet"):
            return data[:100] + bytes([data[100] ^ 1]) + data[101:]
        return data

    with pytest.raises(BackupError, match="checksum mismatch for 'tables/.*observation.parquet'.*tampered"):
        restore(dst, _rewrite(archive, tmp_path / "flipped.tar.gz", flip), tmp_path / "m")
    with pytest.raises(BackupError, match="missing"):
        restore(
            dst,
            _rewrite(archive, tmp_path / "dropped.tar.gz", lambda n, d: None if "registry/" in n else d),
            tmp_path / "m",
        )
    _add_member(archive, tmp_path / "extra.tar.gz", "registry/evil.pkl", b"cos\nsystem\n")
    with pytest.raises(BackupError, match="'registry/evil.pkl' is not in the manifest"):
        restore(dst, tmp_path / "extra.tar.gz", tmp_path / "m")

    def other_revision(name, data):
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["schema_revision"] = "9999_future"
            return json.dumps(manifest).encode()
        return data

    with pytest.raises(BackupError, match="schema revision '9999_future'"):
        restore(dst, _rewrite(archive, tmp_path / "rev.tar.gz", other_revision), tmp_path / "m")
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(BackupError, match="not a readable"):
        read_archive(tmp_path / "junk.tar.gz")
    assert content_digest(dst, "region") == before
    assert not (tmp_path / "m").exists()


def _add_member(archive: Path, out: Path, name: str, payload: bytes) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        members = [(i.name, tar.extractfile(i).read()) for i in tar.getmembers()]
    with tarfile.open(out, "w:gz") as dst:
        for member, data in [*members, (name, payload)]:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


def test_cli_backup_and_restore(source_wh, tmp_path):
    src, _m, _run_id, tmp = source_wh
    out = tmp_path / "cli.tar.gz"
    env_src = {
        "CRISISRISK_DATABASE_URL": src.url.render_as_string(hide_password=False),
        "CRISISRISK_MODEL_DIR": str(tmp / "models"),
    }

    done = subprocess.run(
        [sys.executable, "-m", "crisisrisk.cli", "backup", "--out", str(out)],
        env={**os.environ, **env_src},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.exists() and "tables" in done.stdout
    url = _fresh_url(tmp_path, "bcli")
    try:
        env_dst = {"CRISISRISK_DATABASE_URL": url, "CRISISRISK_MODEL_DIR": str(tmp_path / "models")}
        refused = subprocess.run(
            [sys.executable, "-m", "crisisrisk.cli", "restore", str(out)],
            input="n\n",
            env={**os.environ, **env_dst},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert refused.returncode != 0
        done = subprocess.run(
            [sys.executable, "-m", "crisisrisk.cli", "restore", str(out), "--yes"],
            env={**os.environ, **env_dst},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        eng = make_engine(url)
        assert content_digest(eng, "prediction") == content_digest(src, "prediction")
        eng.dispose()
    finally:
        drop_database(url)
