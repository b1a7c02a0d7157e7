"""Full `etl run` of every shipped source into a temporary warehouse.

Checks the invariant for every load, the region counts, published spot values, idempotency, and that a
failed load leaves the warehouse exactly as it was.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from etl.loader import load_source, run
from etl.sources import BROKEN, all_sources, get_source
from tests.conftest import RAW_DIR
from warehouse.schema import observation, region, source_load


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    from tests.conftest import _fresh_url
    from warehouse.db import make_engine, migrate

    eng = make_engine(_fresh_url(tmp_path_factory.mktemp("full"), "full"))
    migrate(eng)
    results = run(eng)
    yield eng, results
    eng.dispose()


def _value(engine, region_id: str, indicator: str, year: int) -> float:
    with engine.connect() as conn:
        return conn.execute(
            select(observation.c.value).where(
                observation.c.region_id == region_id,
                observation.c.indicator == indicator,
                observation.c.period_type == "year",
                observation.c.period_start == dt.date(year, 1, 1),
            )
        ).scalar_one()


def test_every_source_loads_and_every_row_is_accounted_for(full):
    engine, results = full
    assert not BROKEN, f"source modules failed to import: {BROKEN}"
    failed = {r.source: r.error for r in results if r.status != "loaded"}
    assert not failed
    assert {r.source for r in results} == {s.name for s in all_sources()}
    with engine.connect() as conn:
        loads = conn.execute(select(source_load).where(source_load.c.status == "loaded")).mappings().all()
    assert loads
    # a lookup file (GDL's region list and polygons) is recorded as a load of 0 rows; every data file has rows
    lookups = {
        (s.name, p.relative_to(RAW_DIR).as_posix()) for s in all_sources() for p in s.lookup_paths(RAW_DIR)
    }
    assert {f for src, f in lookups if src == "gdl_subnational"} == {
        "gdl_subnational/ddf--entities--level--subnat.csv",
        "gdl_subnational/gdl_regions_2022_simplified.topojson",
    }
    for load in loads:
        assert load["rows_read"] == load["rows_loaded"] + load["rows_rejected"], load["file"]
        if (load["source"], load["file"]) in lookups:
            assert load["rows_read"] == 0, load["file"]
        else:
            assert load["rows_read"] > 0, load["file"]
    recorded = {(load["source"], load["file"]) for load in loads}
    assert lookups <= recorded, lookups - recorded


def test_region_counts(full):
    engine, _ = full
    with engine.connect() as conn:
        admin1 = conn.execute(select(func.count()).where(region.c.level == 1)).scalar_one()
        with_geom = conn.execute(
            select(func.count()).where(region.c.level == 0, region.c.geometry_wkb.is_not(None))
        ).scalar_one()
        parents = conn.execute(
            select(func.count()).where(region.c.level == 1, region.c.parent_id.is_(None))
        ).scalar_one()
        ssd = conn.execute(
            select(func.count()).where(region.c.level == 1, region.c.iso3 == "SSD")
        ).scalar_one()
    assert admin1 == 4596  # every Natural Earth admin-1 unit
    assert with_geom >= 240  # 251 Natural Earth admin-0 units map to this many ISO3 countries
    assert parents == 0
    assert ssd == 10  # Natural Earth's 'SDS' became ISO3 'SSD'


def test_spot_values_from_the_publishers_files(full):
    engine, _ = full
    assert _value(engine, "DEU", "trafficking.victims_detected", 2007) == 689  # UNODC GLOTIP
    assert _value(engine, "SYR", "displacement.refugees_by_origin", 2016) == 5_524_511  # UNHCR
    assert _value(engine, "SYR", "conflict.deaths_organised_violence", 2016) == 53_548  # UCDP via OWID


def test_second_run_is_unchanged_and_forced_reload_gives_identical_counts(full):
    engine, _ = full

    def counts():
        with engine.connect() as conn:
            return conn.execute(
                select(observation.c.source, func.count()).group_by(observation.c.source)
            ).all()

    before = counts()
    again = run(engine)
    assert {r.status for r in again} == {"unchanged"}
    forced = run(engine, names=["unodc_glotip", "wb_population"], force=True)
    assert {r.status for r in forced} == {"loaded"}
    assert counts() == before


def test_failed_load_leaves_previous_rows_untouched(full, monkeypatch):
    engine, _ = full
    import etl.loader as loader

    def boom(conn, table, rows):
        if table is observation:
            conn.execute(table.insert(), rows.head(10).to_dict("records"))  # partly written, then it fails
            raise RuntimeError("disk full")
        return original(conn, table, rows)

    original = loader.bulk_insert
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).where(observation.c.source == "unodc_glotip")).scalar_one()
        loads_before = conn.execute(select(func.count()).select_from(source_load)).scalar_one()
    monkeypatch.setattr(loader, "bulk_insert", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        load_source(engine, get_source("unodc_glotip"), RAW_DIR, force=True)
    with engine.connect() as conn:
        after = conn.execute(select(func.count()).where(observation.c.source == "unodc_glotip")).scalar_one()
        loads_after = conn.execute(select(func.count()).select_from(source_load)).scalar_one()
    assert after == before and loads_after == loads_before


def test_changed_file_replaces_the_sources_rows(tmp_path, engine):
    import gzip

    raw = tmp_path / "raw"
    (raw / "unodc_glotip").mkdir(parents=True)
    (raw / "natural_earth").symlink_to(RAW_DIR / "natural_earth")
    (raw / "country_codes").symlink_to(RAW_DIR / "country_codes")
    lines = (
        gzip.decompress((RAW_DIR / "unodc_glotip" / "glotip_2003_2018.csv.gz").read_bytes())
        .decode()
        .splitlines()
    )
    target = raw / "unodc_glotip" / "glotip_2003_2018.csv.gz"
    target.write_bytes(gzip.compress(("\n".join(lines[:2001]) + "\n").encode()))
    assert load_source(engine, get_source("natural_earth"), raw).status == "loaded"
    first = load_source(engine, get_source("unodc_glotip"), raw)
    target.write_bytes(gzip.compress(("\n".join(lines[:1001]) + "\n").encode()))
    second = load_source(engine, get_source("unodc_glotip"), raw)
    assert first.files[0].rows_read == 2000 and second.files[0].rows_read == 1000
    with engine.connect() as conn:
        n_obs = conn.execute(select(func.count()).where(observation.c.source == "unodc_glotip")).scalar_one()
        statuses = (
            conn.execute(
                select(source_load.c.status)
                .where(source_load.c.source == "unodc_glotip")
                .order_by(source_load.c.load_id)
            )
            .scalars()
            .all()
        )
    assert n_obs == second.observations
    assert statuses == ["superseded", "loaded"]


def test_every_raw_folder_has_a_reader():
    from etl.loader import unregistered_folders

    assert unregistered_folders(RAW_DIR) == []
