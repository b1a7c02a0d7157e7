"""Point-in-polygon assignment (etl/spatial.py) on real Natural Earth admin-1 polygons and hand-made
squares."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from etl.sources.natural_earth import ne_to_iso3
from etl.spatial import AdminIndex, naive_assign

ADMIN1 = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "raw"
    / "natural_earth"
    / "ne_10m_admin_1_states_provinces_simplified.geojson"
)


def west_africa_units() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region ids, ISO3 codes and geometries of the real Natural Earth units of NGA, NER, BEN and CMR."""
    frame = gpd.read_file(ADMIN1)
    frame = frame[frame["adm0_a3"].isin(["NGA", "NER", "BEN", "CMR"])].reset_index(drop=True)
    iso3 = np.array(
        [ne_to_iso3(a, b) for a, b in zip(frame["adm0_a3"], frame["iso_a2"], strict=True)], dtype=object
    )
    return frame["adm1_code"].to_numpy(dtype=object), iso3, np.asarray(frame.geometry.array, dtype=object)


@pytest.fixture(scope="module")
def west_africa():
    return west_africa_units()


def _points_inside(geoms: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(geoms), size=n * 4)
    b = shapely.bounds(geoms[pick])
    x, y = rng.uniform(b[:, 0], b[:, 2]), rng.uniform(b[:, 1], b[:, 3])
    inside = shapely.contains_xy(geoms[pick], x, y)
    return x[inside][:n], y[inside][:n], pick[inside][:n]


def test_bulk_assignment_agrees_with_the_naive_loop_on_real_polygons(west_africa):
    ids, iso3, geoms = west_africa
    x, y, polygon = _points_inside(geoms, 400, seed=3)
    out = AdminIndex(ids, iso3, geoms).assign(x, y, iso3[polygon])
    assert (out["method"] == "within").all()
    assert out["region_id"].tolist() == naive_assign(x, y, ids, geoms)
    assert out["region_id"].tolist() == ids[polygon].tolist()  # the polygon each point was drawn in


def test_a_point_is_never_credited_to_the_neighbouring_country(west_africa):
    ids, iso3, geoms = west_africa
    x, y, polygon = _points_inside(geoms[iso3 == "NER"], 50, seed=4)
    out = AdminIndex(ids, iso3, geoms).assign(x, y, np.full(len(x), "NGA", dtype=object))
    # inside Niger but said to be in Nigeria: the nearest Nigerian unit within 25 km, or unassigned
    assigned = out["region_id"].dropna()
    assert set(iso3[np.isin(ids, assigned)]) <= {"NGA"}
    assert (out.loc[out["region_id"].notna(), "method"] == "nearest").all()
    assert (out.loc[out["region_id"].isna(), "distance_km"].fillna(np.inf) > 25).all()


def test_coastal_water_takes_the_nearest_unit_within_tolerance_and_far_sea_stays_unassigned(west_africa):
    ids, iso3, geoms = west_africa
    index = AdminIndex(ids, iso3, geoms)
    lagos_lagoon_offshore, gulf_of_guinea = (
        (3.40, 6.36),
        (
            3.40,
            4.00,
        ),
    )  # ~5 km and ~260 km off the Lagos coast
    out = index.assign(
        np.array([lagos_lagoon_offshore[0], gulf_of_guinea[0]]),
        np.array([lagos_lagoon_offshore[1], gulf_of_guinea[1]]),
        np.array(["NGA", "NGA"], dtype=object),
    )
    assert out.loc[0, "method"] in {"within", "nearest"} and out.loc[0, "region_id"].startswith("NGA")
    assert out.loc[0, "distance_km"] <= 25
    assert pd.isna(out.loc[1, "region_id"]) and pd.isna(out.loc[1, "method"])
    assert out.loc[1, "distance_km"] > 25 or np.isnan(out.loc[1, "distance_km"])


def test_overlaps_go_to_the_first_polygon_and_bad_rows_stay_unassigned():
    square = shapely.box(0, 0, 1, 1)
    shifted = shapely.box(0.5, 0, 1.5, 1)  # overlaps the first on x in [0.5, 1]
    index = AdminIndex(
        np.array(["A-1", "A-2", "A-3"], dtype=object),
        np.array(["AAA", "AAA", "AAA"], dtype=object),
        np.array([square, shifted, None], dtype=object),
    )
    out = index.assign(
        np.array([0.75, 1.25, np.nan, 200.0, 0.2]),
        np.array([0.5, 0.5, 0.5, 0.5, 0.5]),
        np.array(["AAA", "AAA", "AAA", "AAA", "ZZZ"], dtype=object),
    )
    assert out["region_id"].iloc[:2].tolist() == ["A-1", "A-2"] and out["region_id"].iloc[2:].isna().all()
    assert out["method"].iloc[:2].tolist() == ["within", "within"] and out["method"].iloc[2:].isna().all()


def test_grid_fast_path_gives_the_exact_answer_near_borders_coasts_and_for_wrong_countries(west_africa):
    """The cell grid (used for large calls) must equal the exact bulk query point for point: points drawn
    in and 0.3 degrees around the real polygons' boxes (borders, coast, sea), each with the country of a
    random polygon, so some are in a neighbour's unit."""
    from etl.spatial import CellGrid

    ids, iso3, geoms = west_africa
    index = AdminIndex(ids, iso3, geoms)
    rng = np.random.default_rng(7)
    pick = rng.integers(0, len(geoms), size=20_000)
    b = shapely.bounds(geoms[pick])
    x, y = rng.uniform(b[:, 0] - 0.3, b[:, 2] + 0.3), rng.uniform(b[:, 1] - 0.3, b[:, 3] + 0.3)
    country = index._country_codes(iso3[rng.permutation(pick)])
    exact = index._within_own_country(np.asarray(shapely.points(x, y)), country)
    index._grid = CellGrid.build(index._polygons)
    fast = index._locate(x, y, country)
    _, slow = index._grid.locate(x, y, country, index._polygon_country)
    assert (exact >= 0).mean() > 0.2 and (exact == -1).any()  # both kinds of answer occur
    assert len(slow) < 0.01 * len(x)  # and the grid answered nearly every point itself
    np.testing.assert_array_equal(fast, exact)
