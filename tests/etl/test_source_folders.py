"""data/raw folders are named after source ids (issue 13 #8), and a raw folder laid out with the old names
(``unhcr_refugees``, ``country_code_crosswalk``...) still loads, as do warehouse rows with old paths."""

from __future__ import annotations

import shutil

from etl.sources import all_sources, get_source
from etl.sources.folders import LEGACY_FOLDERS, current_path, resolve
from tests.conftest import FIXTURES, RAW_DIR, _fresh_url

SHARED = {  # folders that several sources read keep one shared name
    "covariates_country_year": {"democracy", "maddison", "wb_gdp", "wb_population", "wgi"},
    "idmc_gidd": {"idmc_country_year", "idmc_located"},
    "ucdp_country_year": {"owid_conflict_deaths", "ucdp_acd", "ucdp_brd"},
    "walkfree_gsi_2016_2018": {"gsi_2016", "gsi_2018"},
}


def test_every_folder_is_a_source_id_or_a_named_shared_folder():
    ids = {s.name for s in all_sources()}
    readers: dict[str, set[str]] = {}
    for source in all_sources():
        for folder in source.folders(RAW_DIR):
            readers.setdefault(folder, set()).add(source.name)
            assert (RAW_DIR / folder).is_dir(), f"{source.name} reads data/raw/{folder}, which is missing"
            assert (RAW_DIR / folder / "SOURCE.md").is_file(), f"data/raw/{folder} has no SOURCE.md"
    for folder, names in readers.items():
        assert folder in ids or SHARED.get(folder) == names or folder.startswith("unodc_glotip_"), folder
    assert not any((RAW_DIR / old).exists() for old in LEGACY_FOLDERS.values())  # all renamed
    assert set(LEGACY_FOLDERS) <= ids


def test_an_old_raw_layout_still_loads_and_old_paths_read_as_new(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES / "integration" / "raw" / "unhcr_population", raw / "unhcr_refugees")
    assert resolve(raw, "unhcr_population") == "unhcr_refugees"
    found = get_source("unhcr_population").paths(raw)
    assert [p.relative_to(raw).as_posix() for p in found] == ["unhcr_refugees/population.csv.gz"]
    (raw / "unhcr_population").mkdir()  # once the new folder exists it wins
    assert resolve(raw, "unhcr_population") == "unhcr_population"
    assert current_path("unhcr_refugees/population.csv.gz") == "unhcr_population/population.csv.gz"
    assert current_path("covariates_country_year/wgi.csv") == "covariates_country_year/wgi.csv"


def test_a_warehouse_loaded_from_old_folders_sees_the_renamed_files_as_unchanged(tmp_path):
    from etl.context import MappingContext
    from etl.loader import load_source
    from warehouse.db import make_engine, migrate

    old, new = tmp_path / "old", tmp_path / "new"
    extract = FIXTURES / "integration" / "raw" / "natural_earth"  # small real extracts of the boundaries
    shutil.copytree(extract, old / "natural_earth_admin")
    shutil.copytree(extract, new / "natural_earth")
    shutil.copytree(RAW_DIR / "country_codes", old / "country_code_crosswalk")
    assert MappingContext(raw_dir=old).crosswalk is not None  # the crosswalk is found under its old name
    engine = make_engine(_fresh_url(tmp_path, "folders"))
    migrate(engine)
    source = get_source("natural_earth")
    first = load_source(engine, source, old)
    assert first.status == "loaded", first.error
    again = load_source(engine, source, new)  # rows recorded 'natural_earth_admin/...' still match
    assert again.status == "unchanged"
    engine.dispose()
