"""US TIP tiers 2020-2025 reader on a 41-row cut of the real compiled file, and on the whole file."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.contract import FILE, REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES, RAW_DIR
from tests.helpers import drop_column, read_fixture_text, set_cell, write_like

CUT = FIXTURES / "us_tip_tiers_2020_2025" / "tip_tiers_2020_2025_cut.csv"
FULL = RAW_DIR / "us_tip_tiers_2020_2025" / "tip_tiers_2020_2025_compiled.csv"
SOURCE = get_source("us_tip_tiers_2020_2025")


def _load(path, ctx) -> tuple[pd.DataFrame, pd.Series]:
    parsed = SOURCE.parse(path)
    parsed[FILE] = path.name
    obs = SOURCE.to_observations(parsed, ctx)
    tiers = obs.set_index(["region_id", obs["period_start"].map(lambda d: d.year)])["value"]
    return parsed, tiers


def test_tiers_use_the_kelley_coding_at_the_report_year(ctx):
    _, tiers = _load(CUT, ctx)
    assert [tiers[("USA", y)] for y in (2020, 2021, 2023)] == [1.0, 1.0, 1.0]
    assert tiers[("NGA", 2020)] == 2.5 and tiers[("NGA", 2021)] == 2.0  # Watch List -> Tier 2
    assert tiers[("SDN", 2020)] == 2.5 and tiers[("SDN", 2023)] == 2.0 and tiers[("SDN", 2024)] == 3.0
    assert tiers[("AFG", 2025)] == 3.0
    # the same numbers as the 2001-2015 reader gives for the same labels
    from etl.sources.us_tip_tiers import parse_tier

    kelley, _, _ = parse_tier(pd.Series(["Tier 1", "Tier 2", "Watchlist", "Tier 3"]))
    ours, _, _ = parse_tier(pd.Series(["Tier 1", "Tier 2", "Tier 2 Watch List", "Tier 3"]))
    assert kelley.tolist() == ours.tolist() == [1.0, 2.0, 2.5, 3.0]


def test_partial_years_load_only_the_listed_countries(ctx):
    _, tiers = _load(CUT, ctx)
    for year in (
        2022,
        2024,
        2025,
    ):  # Watch List and Tier 3 only: USA and the UK are not listed, so not loaded
        assert ("USA", year) not in tiers.index and ("GBR", year) not in tiers.index
        assert set(tiers.xs(year, level=1)) <= {2.5, 3.0}
    assert tiers[("SSD", 2022)] == 3.0


def test_special_case_and_conflicting_tiers_are_quarantined(ctx):
    parsed, tiers = _load(CUT, ctx)
    special = parsed[parsed["tier"] == "Special Case"]
    assert sorted(special["iso3"]) == ["LBY", "SOM", "YEM"] and (special[REJECT] == "special_case").all()
    congo = parsed[(parsed["iso3"] == "COG") & (parsed["report_year"] == "2023")]
    assert len(congo) == 2 and (congo[REJECT] == "conflicting_duplicate").all()
    assert "Tier 2 Watch List" in congo[REJECT_DETAIL].iloc[0] and ("COG", 2023) not in tiers.index
    assert tiers[("COG", 2020)] == 2.0
    assert parsed[REJECT].isna().sum() == len(tiers)  # one observation per accepted row
    assert parsed[REJECT].notna().sum() + len(tiers) == len(parsed) == 41


def test_whole_file_counts_per_report_year(ctx):
    parsed, tiers = _load(FULL, ctx)
    per_year = tiers.groupby(level=1).size().to_dict()
    # SOURCE.md: 185, 188 (3 Special Case), 56, 185 (Congo twice, conflicting), 53, 45 rows
    assert per_year == {2020: 185, 2021: 185, 2022: 56, 2023: 183, 2024: 53, 2025: 45}
    assert parsed[REJECT].value_counts().to_dict() == {"special_case": 3, "conflicting_duplicate": 2}
    assert len(parsed) == 712


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "tip_tiers_x.csv", drop_column(read_fixture_text(CUT), "tier"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "tier" and "tip_tiers_x.csv" in str(err.value)


def test_unknown_tier_label_is_quarantined(tmp_path):
    path = write_like(tmp_path / "tip_tiers_x.csv", set_cell(read_fixture_text(CUT), 0, "tier", "Tier 4"))
    row = SOURCE.parse(path).set_index(ROW).loc[2]
    assert row[REJECT] == "invalid_value" and "'Tier 4' is not a TIP tier" in row[REJECT_DETAIL]
