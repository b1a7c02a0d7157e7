"""US TIP tiers reader on a 33-row cut of the real file, plus malformed variants built from that cut."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from etl.sources.us_tip_tiers import parse_tier
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "us_tip_tiers" / "tip_tiers_cut.csv"
SOURCE = get_source("us_tip_tiers")


def _row(parsed: pd.DataFrame, line: int) -> pd.Series:
    return parsed[parsed[ROW] == line].iloc[0]


def test_parse_tier_accepts_padded_and_published_labels():
    value, not_ranked, unknown = parse_tier(
        pd.Series(
            [
                "Tier 2    ",
                "Watchlist    ",
                "Tier 2 Watch List",
                "Tier 1",
                "Tier 3",
                "NA",
                "Special Case",
                "Tier 4",
            ]
        )
    )
    assert value.tolist()[:5] == [2.0, 2.5, 2.5, 1.0, 3.0]
    assert not_ranked.tolist() == [False] * 5 + [True, True, False]
    assert unknown.tolist() == [False] * 7 + [True]


def test_cut_maps_to_published_tiers(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    got = obs.set_index(["region_id", obs["period_start"].map(lambda d: d.year)])["value"]
    assert got[("AFG", 2002)] == 3.0  # "Tier 3"
    assert got[("AFG", 2012)] == 2.5  # "Watchlist    "
    assert got[("AFG", 2015)] == 2.0
    assert got[("CAN", 2001)] == 1.0
    assert got[("XKX", 2010)] == 2.0  # iso "KOS"
    assert got[("CUW", 2015)] == 2.0
    assert set(obs["indicator"]) == {"detection.tip_tier"} and not obs["censored"].any()


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    bad = rejected(parsed)
    assert len(parsed) == 33
    assert set(bad[REJECT]) == {"missing_value"}  # NA = not ranked in that report year
    assert len(bad) == 4 + 10  # Afghanistan 1999-2001 and 2003, Kosovo 1999-2008
    assert len(obs) + len(bad) == len(parsed)


def test_published_label_tier_2_watch_list_is_accepted(tmp_path, ctx):
    path = write_like(
        tmp_path / "tip_tiers_x.csv", set_cell(read_fixture_text(CUT), 3, "tier", "Tier 2 Watch List ")
    )
    parsed = SOURCE.parse(path)
    obs = SOURCE.to_observations(parsed, ctx)
    afg = obs[(obs.region_id == "AFG") & (obs.period_start.map(lambda d: d.year) == 2002)]
    assert afg["value"].item() == 2.5


def test_unknown_tier_label_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "tip_tiers_x.csv", set_cell(read_fixture_text(CUT), 3, "tier", "Tier 4"))
    )
    row = _row(parsed, 5)
    assert row[REJECT] == "invalid_value" and "'Tier 4' is not a TIP tier" in row[REJECT_DETAIL]


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "tip_tiers_x.csv", drop_column(read_fixture_text(CUT), "tier"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "tier" and "tip_tiers_x.csv" in str(err.value)


def test_text_in_year_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "tip_tiers_x.csv", set_cell(read_fixture_text(CUT), 3, "year", "2002a"))
    )
    row = _row(parsed, 5)
    assert row[REJECT] == "invalid_number" and "'2002a' is not a number" in row[REJECT_DETAIL]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 3, "iso", "QQQ"), 3, "countryname", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / "tip_tiers_x.csv", text))
    SOURCE.to_observations(parsed, ctx)
    row = _row(parsed, 5)
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_duplicate_country_year_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(write_like(tmp_path / "tip_tiers_x.csv", duplicate_row(read_fixture_text(CUT), 3)))
    obs = SOURCE.to_observations(parsed, ctx)
    last = _row(parsed, parsed[ROW].max())
    assert last[REJECT] == "duplicate" and "first at row 5" in last[REJECT_DETAIL]
    assert not obs.duplicated(["region_id", "period_start"]).any()


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "tip_tiers_x.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 17, "countryname", "Curaçao")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "tip_tiers_x.csv", text, encoding="cp1252"))
    assert err.value.row == 19 and "UTF-8" in str(err.value)
