"""The donor table's population filter and reporting-history column."""

from __future__ import annotations

import pandas as pd

from dashboard.pages.priorities import filter_population


def test_population_filter_hides_small_countries_only_at_country_level():
    frame = pd.DataFrame({"region_id": ["MAF", "NGA", "XXX"], "population": [26_129, 223_000_000, None]})
    assert filter_population(frame, 0, 1_000_000)["region_id"].tolist() == ["NGA"]
    assert filter_population(frame, 0, 0)["region_id"].tolist() == ["MAF", "NGA", "XXX"]
    assert len(filter_population(frame, 1, 1_000_000)) == 3


def test_priorities_table_carries_population_and_reporting_history(dash_engine):
    from dashboard.queries import Queries

    frame = Queries(dash_engine).priorities(2020, 0)
    assert {"population", "reporting_history"} <= set(frame.columns)
    assert set(frame["reporting_history"].dropna()) <= {"reported", "never: extrapolated"}
