"""Map geometry is simplified as a coverage: neighbouring admin-1 units (and countries) keep meeting exactly.

Measured on the real Natural Earth file (data/raw/natural_earth), Nigeria's 37 admin-1 units. Overlap is
the area covered twice (sum of areas minus the area of the union); gaps are the holes that simplification
opens
inside the union (holes of the union minus those the original already had), both in square degrees.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from dashboard.geometry import COVERAGE_TOLERANCE, PRECISION, TOLERANCE, build_geojson, simplify_coverage

ADMIN1 = (
    Path(__file__).parents[1]
    / "data"
    / "raw"
    / "natural_earth"
    / "ne_10m_admin_1_states_provinces_simplified.geojson"
)
TINY = 1e-9  # deg²: float noise of the union


def _holes(union: shapely.Geometry) -> float:
    filled = shapely.union_all([shapely.Polygon(p.exterior) for p in shapely.get_parts(union)])
    return float(filled.area - union.area)


def gaps_and_overlap(geoms: np.ndarray, original: np.ndarray) -> tuple[float, float]:
    union = shapely.union_all(geoms)
    overlap = float(shapely.area(geoms).sum() - union.area)
    return _holes(union) - _holes(shapely.union_all(original)), overlap


@pytest.fixture(scope="module")
def nigeria() -> np.ndarray:
    frame = gpd.read_file(ADMIN1, where="adm0_a3 = 'NGA'")
    assert len(frame) == 37
    return frame.geometry.to_numpy()


def _served(geoms: np.ndarray) -> np.ndarray:
    """Rounded as build_geojson rounds before serving."""
    return shapely.set_precision(geoms, 10 ** -PRECISION["admin1"], mode="pointwise")


def test_nigeria_per_polygon_simplify_opens_gaps_and_overlaps_coverage_simplify_none(nigeria):
    before = _served(shapely.simplify(nigeria, TOLERANCE["admin1"], preserve_topology=True))
    gaps, overlap = gaps_and_overlap(before, nigeria)
    assert gaps > 0.005 and overlap > 0.004  # what the earlier per-polygon simplify served (0.008 / 0.005)

    after = _served(simplify_coverage(nigeria, COVERAGE_TOLERANCE["admin1"], TOLERANCE["admin1"]))
    gaps, overlap = gaps_and_overlap(after, nigeria)
    assert abs(gaps) < TINY and abs(overlap) < TINY
    assert shapely.is_valid(after).all() and not shapely.is_empty(after).any()
    assert shapely.get_num_coordinates(after).sum() < shapely.get_num_coordinates(nigeria).sum()
    # still the same units: each within a few kilometres of its original outline
    assert max(shapely.hausdorff_distance(a, b) for a, b in zip(after, nigeria, strict=True)) < 0.1


def test_served_nigeria_and_world_layers_have_no_gaps_or_overlaps(regions_engine):
    for layer, min_features in (("admin1-NGA", 37), ("countries", 200)):
        features = build_geojson(regions_engine, layer)["features"]
        assert len(features) >= min_features
        geoms = np.array([shapely.from_geojson(json.dumps(f["geometry"])) for f in features])
        overlap = float(shapely.area(geoms).sum() - shapely.union_all(geoms).area)
        assert abs(overlap) < TINY, (layer, overlap)
        if layer == "admin1-NGA":
            gaps = _holes(shapely.union_all(geoms))
            assert abs(gaps) < TINY, gaps


def test_polygons_that_are_not_a_coverage_are_simplified_one_by_one(caplog):
    # two 1x1 squares overlapping by half, each with an extra vertex 0.001 off its top edge: not a coverage
    squares = np.array(
        [
            shapely.Polygon([(0, 0), (1, 0), (1, 1), (0.5, 1.001), (0, 1)]),
            shapely.Polygon([(0.5, 0), (1.5, 0), (1.5, 1), (1, 1.001), (0.5, 1)]),
            None,
        ],
        dtype=object,
    )
    with caplog.at_level(logging.WARNING, logger="dashboard.geometry"):
        out = simplify_coverage(squares, 0.1, 0.01)
    assert "not a valid coverage" in caplog.text
    assert out[2] is None
    for got, square in zip(out[:2], squares[:2], strict=True):
        assert shapely.equals(got, shapely.simplify(square, 0.01, preserve_topology=True))
        assert shapely.get_num_coordinates(got) == 5  # the 0.001 bump went, the square stayed
