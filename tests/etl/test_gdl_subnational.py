"""GDL SHDI reader on a cut (Afghanistan's 8 GDL regions, 2018-2019, with their real polygons)."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely
from sqlalchemy import select

from etl.context import MappingContext
from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, set_cell, write_like
from warehouse.schema import region

DIR = FIXTURES / "gdl_subnational"
POP = DIR / "ddf--datapoints--pop--by--subnat--year.csv.gz"
HDI = DIR / "ddf--datapoints--shdi--by--subnat--year.csv.gz"
SOURCE = get_source("gdl_subnational")


@pytest.fixture
def gdl_ctx(raw_copy, regions_engine):
    raw = raw_copy(SOURCE.folder, DIR)
    return MappingContext(raw_dir=raw, engine=regions_engine)


def _load(ctx, pop=POP, hdi=HDI):
    parsed = pd.concat([SOURCE.parse(pop), SOURCE.parse(hdi)], ignore_index=True)
    return parsed, SOURCE.to_observations(parsed, ctx)


def test_area_weighting_conserves_population_and_bounds_hdi(gdl_ctx):
    parsed, obs = _load(gdl_ctx)
    assert len(parsed) == 32 and parsed[REJECT].isna().all()
    pop = obs[obs.indicator == "structural.population_admin1_gdl"]
    y19 = pop[pop.period_start.map(lambda d: d.year) == 2019]
    gdl_total = parsed[(parsed._concept == "pop") & (parsed._year == 2019)]["_value"].sum() * 1000
    # published GDL: Afghanistan 8 regions = 38,042 thousand in 2019
    assert round(gdl_total / 1000) == 38_042
    assert y19["region_id"].str.startswith("AFG").all() and y19["region_id"].nunique() >= 30
    assert abs(y19["value"].sum() / gdl_total - 1) < 0.02  # only border slivers are lost
    hdi = obs[obs.indicator == "structural.hdi_admin1"]
    lo, hi = parsed.loc[parsed._concept == "shdi", "_value"].agg(["min", "max"])
    assert hdi["value"].between(lo - 1e-9, hi + 1e-9).all()
    # Kabul lies in GDL 'Central' (AFGr101); its HDI there in 2019 is the published 0.578
    kabul = hdi[(hdi.region_id == "AFG-1767") & (hdi.period_start.map(lambda d: d.year) == 2019)][
        "value"
    ].item()
    assert kabul == pytest.approx(
        parsed[(parsed.subnat == "afgr101") & (parsed._concept == "shdi") & (parsed._year == 2019)][
            "_value"
        ].item(),
        abs=0.02,
    )


def test_unknown_region_is_quarantined(tmp_path, gdl_ctx):
    path = write_like(tmp_path / POP.name, set_cell(read_fixture_text(POP), 0, "subnat", "zzzr999"))
    parsed, _ = _load(gdl_ctx, pop=path)
    row = parsed[(parsed._concept == "pop") & (parsed[ROW] == 2)].iloc[0]
    assert row[REJECT] == "unknown_region" and "zzzr999" in row[REJECT_DETAIL]


def test_missing_column(tmp_path):
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / POP.name, drop_column(read_fixture_text(POP), "pop")))
    assert err.value.column == "pop"


def test_text_in_number_and_out_of_range(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / POP.name, set_cell(read_fixture_text(POP), 0, "pop", "n.a.")))
    assert parsed.set_index(ROW).loc[2, REJECT] == "invalid_number"
    parsed = SOURCE.parse(write_like(tmp_path / HDI.name, set_cell(read_fixture_text(HDI), 1, "shdi", "1.7")))
    assert parsed.set_index(ROW).loc[3, REJECT] == "out_of_range"


def test_duplicate_row(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / POP.name, duplicate_row(read_fixture_text(POP), 0)))
    assert parsed.set_index(ROW).loc[parsed[ROW].max(), REJECT] == "duplicate"


def test_empty_file(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / POP.name, ""))


def test_wrong_encoding(tmp_path):
    text = set_cell(read_fixture_text(POP), 2, "subnat", "afgr10é")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / POP.name, text, encoding="cp1252"))
    assert err.value.row == 4


def test_the_threaded_overlay_gives_each_pairs_area_exactly_as_one_call():
    """Real GDL polygons (the shipped TopoJSON) against each other shifted by 0.3°: 2,000+ overlapping pairs,
    the size at which the overlay is split over threads; every area must equal the single call's."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from etl.sources.gdl_subnational import EQUAL_AREA_CRS, pairwise_overlap_km2
    from tests.conftest import RAW_DIR

    found = sorted((RAW_DIR / "gdl_subnational").glob("gdl_regions*.topojson"))
    frame = gpd.read_file(found[-1])
    frame = frame.set_crs(4326) if frame.crs is None else frame
    geoms = shapely.make_valid(frame.to_crs(EQUAL_AREA_CRS).geometry.to_numpy())
    shifted = shapely.transform(geoms, lambda xy: xy + 30_000.0)  # 30 km east and north
    left, right = shapely.STRtree(shifted).query(geoms, predicate="intersects")
    assert len(left) >= 2000
    a, b = geoms[left], shifted[right]
    one_call = shapely.area(shapely.intersection(a, b)) / 1e6
    threaded = pairwise_overlap_km2(a, b, threads=3)
    assert threaded.shape == one_call.shape
    assert np.array_equal(threaded, one_call)
    assert (one_call > 0).mean() > 0.5  # mostly real overlaps, not touching borders


def test_lookup_files_are_hashed_recorded_and_a_changed_one_reloads(tmp_path, raw_copy):
    """The region list and polygons change GDL's output: a load records them and reloads when they change."""
    from sqlalchemy import select

    from etl.loader import load_source
    from tests.conftest import RAW_DIR, _fresh_url
    from warehouse.db import make_engine, migrate
    from warehouse.schema import source_load

    raw = raw_copy(SOURCE.folder, DIR)
    engine = make_engine(_fresh_url(tmp_path, "lookups"))
    migrate(engine)
    assert load_source(engine, get_source("natural_earth"), RAW_DIR).status == "loaded"
    assert load_source(engine, SOURCE, raw).status == "loaded"
    with engine.connect() as conn:
        rows = {
            r.file.rsplit("/", 1)[-1]: r
            for r in conn.execute(
                select(source_load).where(
                    source_load.c.source == SOURCE.name, source_load.c.status == "loaded"
                )
            )
        }
    lookups = {"ddf--entities--level--subnat.csv", "gdl_regions_2022_simplified.topojson"}
    assert lookups < set(rows) and len(rows) == 4
    assert all(rows[f].rows_read == 0 and rows[f].observations == 0 for f in lookups)
    assert rows[POP.name].rows_read == 16 and rows[POP.name].observations > 0
    assert load_source(engine, SOURCE, raw).status == "unchanged"
    entities = raw / SOURCE.folder / "ddf--entities--level--subnat.csv"
    entities.write_text(entities.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # same rows, new bytes
    assert load_source(engine, SOURCE, raw).status == "loaded"
    engine.dispose()


def test_the_overlay_is_read_from_its_cache_while_its_inputs_are_unchanged(tmp_path, gdl_ctx, monkeypatch):
    monkeypatch.setenv("CRISISRISK_DATA_DIR", str(tmp_path / "data"))
    fresh = SOURCE.cached_overlap_weights(gdl_ctx.raw_dir / SOURCE.folder, gdl_ctx)
    cache = tmp_path / "data" / "cache" / "gdl_overlay.parquet"
    assert cache.exists() and len(fresh) > 8  # Afghanistan's 8 GDL regions over its 34 provinces

    def no_overlay(*_args, **_kwargs):
        raise AssertionError("the overlay was computed although the cache holds it")

    monkeypatch.setattr(type(SOURCE), "overlap_weights", staticmethod(no_overlay))
    cached = SOURCE.cached_overlap_weights(gdl_ctx.raw_dir / SOURCE.folder, gdl_ctx)
    pd.testing.assert_frame_equal(cached, fresh)
    assert cached.attrs["gdl_with_geometry"] == fresh.attrs["gdl_with_geometry"]
    _, obs = _load(gdl_ctx)  # the whole mapping step from the cache
    assert len(obs) > 0


def test_changed_polygons_or_regions_or_a_broken_cache_compute_the_overlay_again(
    tmp_path, gdl_ctx, monkeypatch
):
    monkeypatch.setenv("CRISISRISK_DATA_DIR", str(tmp_path / "data"))
    base = gdl_ctx.raw_dir / SOURCE.folder
    first = SOURCE.cached_overlap_weights(base, gdl_ctx)
    cache = tmp_path / "data" / "cache" / "gdl_overlay.parquet"
    calls = []
    real = SOURCE.overlap_weights

    def counted(gdl, ctx):
        calls.append(len(gdl))
        return real(gdl, ctx)

    monkeypatch.setattr(type(SOURCE), "overlap_weights", staticmethod(counted))
    # polygons: one GDL region's polygon dropped from the TopoJSON (a new polygon release)
    polygons = SOURCE._polygons_path(base)
    gdf = SOURCE._polygons(base)
    gdf.iloc[1:].to_file(polygons, driver="GeoJSON")
    fewer = SOURCE.cached_overlap_weights(base, gdl_ctx)
    assert calls == [len(gdf) - 1]
    assert fewer["gdlcode"].nunique() == first["gdlcode"].nunique() - 1
    # regions: a context whose admin-1 units differ (one unit fewer)
    regions = gdl_ctx.regions.copy()
    with gdl_ctx.engine.connect() as conn:
        wkb = dict(conn.execute(select(region.c.region_id, region.c.geometry_wkb)).all())
    regions["geometry"] = [
        shapely.from_wkb(wkb[r]) if wkb.get(r) is not None else None for r in regions["region_id"]
    ]
    dropped = regions[regions["region_id"] != fewer["region_id"].iloc[0]]
    other = MappingContext(raw_dir=gdl_ctx.raw_dir, _regions=dropped)
    SOURCE.cached_overlap_weights(base, other)
    assert len(calls) == 2
    # a cache file that is not Parquet: computed again, and saved over it
    cache.write_bytes(b"not a parquet file")
    again = SOURCE.cached_overlap_weights(base, other)
    assert len(calls) == 3 and len(again) > 0
    SOURCE.cached_overlap_weights(base, other)
    assert len(calls) == 3  # the rewritten cache is used
