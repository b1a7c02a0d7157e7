"""Years since each crisis event type (issue 14, models/event_features.py): dated t - lag or earlier only,
capped
("none in N years"), missing where the source cannot see the whole window; built from the phase-curve rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import event_features as ef
from models import phases
from tests.models.test_phases import CONFLICT_EXTRACT, SYRIA_OUTFLOW, obs_frame

OUTFLOW = ef.feature_name("outflow_surge")


def index(regions: list[str], years: range) -> pd.MultiIndex:
    return pd.MultiIndex.from_product([regions, list(years)], names=["region_id", "year"])


# hand-made events: AAA had outflow surges in 2010 and 2013, BBB one in 2000, CCC none
EVENTS = pd.DataFrame(
    {"region_id": ["AAA", "AAA", "BBB"], "year": [2010, 2013, 2000], "event_type": ["outflow_surge"] * 3}
)


def test_years_since_sees_only_events_before_the_year():
    got = ef.years_since(EVENTS, index(["AAA", "BBB", "CCC"], range(2009, 2017)), cap=5, lag=1)[OUTFLOW]
    # AAA: 2009-2010 nothing dated <= t-1 -> cap 5; 2011 one year after 2010; 2013 still reads 2010 (its own
    # surge is dated 2013 > t-1: no leak); 2014 one year after 2013
    assert got.loc["AAA"].tolist() == [5, 5, 1, 2, 3, 1, 2, 3]
    assert got.loc["BBB"].tolist() == [5] * 8  # 2000 is more than 5 years back: "none in 5 years"
    assert got.loc["CCC"].tolist() == [5] * 8
    same_year = ef.years_since(EVENTS, index(["AAA"], range(2013, 2015)), cap=5, lag=0)[OUTFLOW]
    assert same_year.tolist() == [0, 1]  # a watch-list score year sees its own year's inputs
    assert set(ef.years_since(EVENTS, index(["AAA"], range(2013, 2014))).columns) == set(ef.FEATURES)


def test_a_window_before_the_coverage_is_unknown_not_none():
    got = ef.years_since(
        EVENTS, index(["AAA", "CCC"], range(2011, 2015)), cap=5, lag=1, coverage_start={"outflow_surge": 2008}
    )[OUTFLOW]
    # CCC 2011-2012: the window t-5..t-1 starts before 2008 and shows nothing -> missing; from 2013 it is
    # covered
    assert np.isnan(got.loc["CCC"].iloc[:2]).all() and got.loc["CCC"].iloc[2:].tolist() == [5, 5]
    assert got.loc["AAA"].tolist() == [
        1,
        2,
        3,
        1,
    ]  # an event seen inside the window is known whatever the start


def test_event_features_from_real_extracts():
    """Syria's UNHCR outflow (surges 2012 and 2013) and Ukraine's UCDP onset 2014, through the phases
    rules."""
    obs = obs_frame(SYRIA_OUTFLOW + CONFLICT_EXTRACT + [("IND", 2008, "conflict.armed_conflicts", 3)])
    feats = ef.event_features(obs, index(["SYR", "UKR"], range(2012, 2017)), phases.load_config(), cap=10)
    syr = feats.loc["SYR", OUTFLOW]
    # coverage of the extract: UNHCR from 2010 (+1: a surge needs a previous year), so 2012-2016 with nothing
    # seen
    # would be unknown; Syria 2013 reads the 2012 surge (1 year), 2014-2016 the 2013 one (1, 2, 3 years)
    assert np.isnan(syr.loc[2012]) and syr.loc[2013:].tolist() == [1, 1, 2, 3]
    onset = feats.loc["UKR", ef.feature_name("conflict_onset")]
    assert np.isnan(onset.loc[2014]) and onset.loc[2015:].tolist() == [
        1,
        2,
    ]  # onset 2014 (2008 + 2 quiet years)


def test_cap_is_validated_by_values():
    got = ef.years_since(EVENTS, index(["BBB"], range(2001, 2004)), cap=2, lag=1)[OUTFLOW]
    assert got.tolist() == pytest.approx([1, 2, 2])
