"""One family table (label and colour) and one kind table (how a feature is computed) serve every feature.

A family missing from ``models.features.FAMILIES`` used to show grey in the dashboard's SHAP bars without any
test
failing; a feature kind missing from ``FEATURE_KINDS`` would fail only when the panel is built.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from dashboard import figures
from etl.sources import all_sources
from models.explain import BIAS
from models.features import (
    FAMILIES,
    FAMILY_BY_NAME,
    FEATURE_KINDS,
    FEATURES,
    VALUE_KINDS,
    _label_history,
    feature_frame,
)

HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


def test_every_family_has_a_label_and_a_distinct_colour():
    for family in FAMILIES:
        assert family.label.strip(), family
        assert HEX.match(family.colour), family
    assert len({f.colour.lower() for f in FAMILIES}) == len(FAMILIES)
    assert len(FAMILY_BY_NAME) == len(FAMILIES)


def test_every_feature_and_indicator_family_is_in_the_table():
    feature_families = {f.family for f in FEATURES}
    indicator_families = {i.family for s in all_sources() for i in s.indicators}
    missing = (feature_families | indicator_families | {"bias"}) - FAMILY_BY_NAME.keys()
    assert not missing, f"families without a label and colour in models.features.FAMILIES: {sorted(missing)}"
    assert BIAS  # the SHAP base value row is labelled by the 'bias' entry (models/pipeline.py)


def test_figures_take_colours_and_labels_from_the_table():
    shap = pd.DataFrame({"family": [f.name for f in FAMILIES], "mean_abs_shap": range(1, len(FAMILIES) + 1)})
    bar = figures.global_shap_figure(shap).data[0]
    assert list(bar.marker.color) == [FAMILY_BY_NAME[f].colour for f in bar.y]
    assert figures.family_label("hazard") == FAMILY_BY_NAME["hazard"].label
    assert figures.family_colour("no_such_family") == figures.UNKNOWN_FAMILY_COLOUR
    obs = pd.DataFrame(
        {
            "indicator": ["displacement.idps", "conflict.deaths"],
            "family": ["displacement", "conflict"],
            "unit": ["persons", "deaths"],
            "source": ["idmc", "ucdp"],
            "year": [2020, 2020],
            "value": [1.0, 3.0],
            "censored": [False, False],
        }
    )
    titles = [a.text for a in figures.drivers_figure(obs).layout.annotations]
    assert titles == [FAMILY_BY_NAME["displacement"].label, FAMILY_BY_NAME["conflict"].label]


def test_every_feature_kind_is_in_the_kind_table():
    unknown = {f.name: f.kind for f in FEATURES if f.kind not in FEATURE_KINDS}
    assert not unknown
    assert set(VALUE_KINDS) <= {k for k, fn in FEATURE_KINDS.items() if fn is not None}


def test_label_history_kinds_are_exactly_the_features_the_history_block_builds():
    """A kind without a function is built by _label_history: every such feature must come out of it."""
    years = [2010]
    history = _label_history(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), years, {2010: 1})
    deferred = {f.name for f in FEATURES if FEATURE_KINDS[f.kind] is None}
    assert deferred and deferred <= history.keys()
    empty = pd.DataFrame(columns=["region_id", "year", "indicator", "value", "censored"])
    for spec in FEATURES:
        frame = feature_frame(spec, empty, years, years, pd.DataFrame())
        assert (frame is None) == (spec.name in deferred), spec.name


@pytest.mark.parametrize("kind", sorted(k for k, fn in FEATURE_KINDS.items() if fn is not None))
def test_each_kind_computes_from_a_small_hand_made_frame(kind):
    """One region, population of t - 1 100,000, value 5, 10, 20 in 2007-2009; target year 2010 reads 2009."""
    spec = next(f for f in FEATURES if f.kind == kind)
    code = spec.indicators[0]
    obs = pd.DataFrame(
        {
            "region_id": "AAA",
            "year": [2007, 2008, 2009],
            "indicator": code,
            "value": [5.0, 10.0, 20.0],
            "censored": False,
        }
    )
    pop_lag = pd.DataFrame({2010: [100_000.0]}, index=pd.Index(["AAA"], name="region_id"))
    got = float(feature_frame(spec, obs, [2010], [2010], pop_lag).loc["AAA", 2010])
    expected = {
        "rate": np.log1p(20 / 1e5 * 1e5),
        "level": 20.0,
        "log": np.log(20.0),
        "per_capita_log": np.log(20 / 1e5),
        "per_capita_log1p": np.log1p(20 / 1e5),
        "sum3_rate": np.log1p((5 + 10 + 20) / 1e5 * 1e5),
        "change": np.log1p(20) - np.log1p(10),
        "onset": 3.0,
    }[
        kind
    ]  # active in 2007, 2008 and 2009
    assert got == pytest.approx(expected)
