"""The cell grid of etl/spatial.py (the fast path of large calls) against the exact bulk query, and its cache.

Real Natural Earth admin-1 polygons of four West African countries, plus an overlapping polygon made here;
points inside, outside, exactly on vertices and edges, on cell lines, and with the wrong country."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
import shapely

from etl import spatial
from etl.spatial import CACHE_NAME, GRID_CACHE_MIN_POINTS, AdminIndex, CellGrid
from tests.etl.test_spatial import west_africa_units


@pytest.fixture(scope="module")
def extract():
    ids, iso3, geoms = west_africa_units()
    # made-up Nigerian units: one overlapping Lagos and Ogun (after them in file order), one with a hole (sea)
    ring = shapely.box(2.0, 3.0, 3.0, 4.0).exterior
    extra = [
        shapely.box(3.0, 6.3, 4.0, 7.0),
        shapely.Polygon(ring, [shapely.box(2.3, 3.3, 2.7, 3.7).exterior]),
    ]
    ids = np.append(ids, ["NGA-OVERLAP", "NGA-HOLE"]).astype(object)
    iso3 = np.append(iso3, ["NGA", "NGA"]).astype(object)
    geoms = np.append(geoms, np.array(extra, dtype=object))
    return ids, iso3, geoms


def _points(geoms: np.ndarray, iso3: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points of every kind, each with the country of a random polygon (so some are in a neighbour)."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(geoms), size=30_000)
    b = shapely.bounds(geoms[pick])
    x = rng.uniform(b[:, 0] - 0.3, b[:, 2] + 0.3)  # inside, on borders and coasts, and at sea
    y = rng.uniform(b[:, 1] - 0.3, b[:, 3] + 0.3)
    coords = shapely.get_coordinates(geoms)
    vert = coords[rng.integers(0, len(coords), size=3_000)]  # exactly on vertices
    a = coords[rng.integers(0, len(coords) - 1, size=3_000)]
    mid = (a + coords[np.minimum(np.searchsorted(coords[:, 0], a[:, 0]), len(coords) - 1)]) / 2
    step = coords[:-1] + (coords[1:] - coords[:-1]) * rng.uniform(size=(len(coords) - 1, 1))  # on/near edges
    step = step[rng.integers(0, len(step), size=3_000)]
    cell_lines = np.column_stack(  # on the lines of every grid level (multiples of 1/128 degree)
        [np.round(rng.uniform(2, 16, 3_000) * 128) / 128, np.round(rng.uniform(4, 23, 3_000) * 128) / 128]
    )
    pts = np.vstack([np.column_stack([x, y]), vert, mid, step, cell_lines])
    country = iso3[rng.integers(0, len(iso3), size=len(pts))]
    country[: len(pick)] = np.where(rng.uniform(size=len(pick)) < 0.8, iso3[pick], country[: len(pick)])
    return pts[:, 0], pts[:, 1], country


@pytest.fixture(autouse=True)
def _build_from_the_cache_threshold(monkeypatch, request):
    """The tests below build grids on a few thousand points (in use, a build needs GRID_MIN_POINTS)."""
    if "real_thresholds" not in request.keywords:
        monkeypatch.setattr(spatial, "GRID_MIN_POINTS", GRID_CACHE_MIN_POINTS)


@pytest.mark.real_thresholds
def test_a_mid_sized_call_builds_no_grid_but_loads_a_saved_one(extract, tmp_path, monkeypatch):
    """52k GED events would not pay a 7-9 s build: between the two thresholds only a saved grid is used."""
    ids, iso3, geoms = extract
    x, y, country = _points(geoms, iso3, seed=14)
    assert GRID_CACHE_MIN_POINTS <= len(x) < spatial.GRID_MIN_POINTS
    index = AdminIndex(ids, iso3, geoms, cache_dir=tmp_path)
    exact = index.assign(x, y, country)
    assert index._grid is None and not (tmp_path / CACHE_NAME).exists()
    with monkeypatch.context() as m:  # a large call saves a grid ...
        m.setattr(spatial, "GRID_MIN_POINTS", GRID_CACHE_MIN_POINTS)
        AdminIndex(ids, iso3, geoms, cache_dir=tmp_path).assign(x, y, country)
    assert (tmp_path / CACHE_NAME).exists()
    again = AdminIndex(ids, iso3, geoms, cache_dir=tmp_path)  # ... which a mid-sized call then loads
    pd.testing.assert_frame_equal(again.assign(x, y, country), exact)
    assert again._grid is not None


def test_the_grid_gives_the_exact_answer_for_every_kind_of_point(extract, tmp_path):
    ids, iso3, geoms = extract
    x, y, country = _points(geoms, iso3, seed=11)
    exact_index = AdminIndex(ids, iso3, geoms)
    exact_index.use_grid = False
    exact = exact_index.assign(x, y, country)
    index = AdminIndex(ids, iso3, geoms, cache_dir=tmp_path)
    fast = index.assign(x, y, country)
    grid = index._grid
    assert grid is not None  # the call was large enough for the grid
    pd.testing.assert_frame_equal(fast, exact)
    # the check can fail: every kind of answer occurs, and the grid decided most points itself
    assert {"within", "nearest"} <= set(exact["method"].dropna()) and exact["method"].isna().any()
    assert (exact["region_id"] == "NGA-OVERLAP").any() and (exact["region_id"] == "NGA-HOLE").any()
    _, slow = grid.locate(x, y, index._country_codes(country), index._polygon_country)
    assert 0 < len(slow) < 0.2 * len(x)  # points on vertices and edges went to the exact query
    assert len(grid.leaf_exact) > 0 and (grid.levels[-1] != -1).any()


def test_overlaps_go_to_the_first_polygon_and_a_hole_is_outside(extract, tmp_path):
    ids, iso3, geoms = extract
    index = AdminIndex(ids, iso3, geoms, cache_dir=tmp_path)
    n = GRID_CACHE_MIN_POINTS
    # inside a real Nigerian unit and the made-up one; in the hole (22 km from its edge); in the ring
    x, y = np.r_[np.full(n, 3.5), 2.5, 2.1], np.r_[np.full(n, 6.8), 3.5, 3.1]
    out = index.assign(x, y, np.full(len(x), "NGA", dtype=object))
    assert index._grid is not None
    holders = [rid for rid, g in zip(ids, geoms, strict=True) if g.contains(shapely.Point(3.5, 6.8))]
    assert len(holders) == 2 and holders[1] == "NGA-OVERLAP"
    assert (out["region_id"].iloc[:n] == holders[0]).all()  # the real unit, listed first
    assert out["method"].iloc[-2:].tolist() == ["nearest", "within"]
    assert out["region_id"].iloc[-2:].tolist() == ["NGA-HOLE", "NGA-HOLE"]


def test_the_cache_is_reused_and_a_stale_or_damaged_one_is_rebuilt(extract, tmp_path, monkeypatch):
    ids, iso3, geoms = extract
    x, y, country = _points(geoms, iso3, seed=12)
    first = AdminIndex(ids, iso3, geoms, cache_dir=tmp_path)
    expected = first.assign(x, y, country)
    path = tmp_path / CACHE_NAME
    assert path.exists()
    builds = []
    real_build = CellGrid.build

    def counting_build(polygons):
        builds.append(len(polygons))
        return real_build(polygons)

    monkeypatch.setattr(CellGrid, "build", staticmethod(counting_build))

    def fresh() -> pd.DataFrame:
        return AdminIndex(ids, iso3, geoms, cache_dir=tmp_path).assign(x, y, country)

    pd.testing.assert_frame_equal(fresh(), expected)
    assert builds == []  # loaded, not built
    # other polygons (one unit moved): another key, rebuilt, and the answer follows the new polygons
    moved = geoms.copy()
    moved[0] = shapely.affinity.translate(moved[0], 0.5, 0.0)
    other = AdminIndex(ids, iso3, moved, cache_dir=tmp_path)
    other.assign(x, y, country)
    assert len(builds) == 1
    exact = AdminIndex(ids, iso3, moved)
    exact.use_grid = False
    pd.testing.assert_frame_equal(other.assign(x, y, country), exact.assign(x, y, country))
    # back to the first polygons: stale file (the moved polygons' key), rebuilt
    pd.testing.assert_frame_equal(fresh(), expected)
    assert len(builds) == 2
    # damaged: truncated, one flipped byte, and a valid archive with an out-of-range index
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    pd.testing.assert_frame_equal(fresh(), expected)
    assert len(builds) == 3
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    pd.testing.assert_frame_equal(fresh(), expected)
    assert len(builds) == 4
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["cand_poly"] = arrays["cand_poly"].copy()
    arrays["cand_poly"][0] = len(geoms) + 5
    np.savez(path, **arrays)
    assert zipfile.is_zipfile(path)
    pd.testing.assert_frame_equal(fresh(), expected)
    assert len(builds) == 5
    # an object array (needs pickle) is refused, not loaded
    arrays["cand_poly"] = np.array([object()] * 3, dtype=object)
    np.savez(path, **arrays)
    pd.testing.assert_frame_equal(fresh(), expected)
    assert len(builds) == 6


def test_small_calls_take_the_exact_query_and_the_index_pickles_without_its_grid(extract, tmp_path):
    ids, iso3, geoms = extract
    index = AdminIndex(ids, iso3, geoms, cache_dir=tmp_path)
    index.assign(np.array([7.5]), np.array([9.0]), np.array(["NGA"], dtype=object))
    assert index._grid is None and not (tmp_path / CACHE_NAME).exists()
    x, y, country = _points(geoms, iso3, seed=13)
    index.assign(x, y, country)
    assert index._grid is not None
    copy = pickle.loads(pickle.dumps(index))
    assert copy._grid is None
    pd.testing.assert_frame_equal(copy.assign(x, y, country), index.assign(x, y, country))
