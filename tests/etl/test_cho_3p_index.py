"""3P policy index reader on a 33-row cut of the real file, plus malformed variants built from that cut."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "cho_3p_index" / "cho_3p_cut.csv"
SOURCE = get_source("cho_3p_index")


def _row(parsed, line):
    return parsed[parsed[ROW] == line].iloc[0]


def test_cut_maps_to_published_scores(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    got = obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])["value"]
    # Canada 2001: p 13 = prosecution 5 + prevention 5 + protection 3
    assert got[("CAN", "detection.policy_3p", 2001)] == 13
    assert got[("CAN", "detection.policy_3p_prosecution", 2001)] == 5
    assert got[("CAN", "detection.policy_3p_prevention", 2001)] == 5
    assert got[("CAN", "detection.policy_3p_protection", 2001)] == 3
    # iso NA: matched by name ('St.Lucia', 'CapeVerde'); 'KOS' is Kosovo
    assert got[("LCA", "detection.policy_3p", 2012)] == 6
    assert got[("CPV", "detection.policy_3p", 2013)] == 9
    assert got[("XKX", "detection.policy_3p", 2012)] == 14
    # partly blank row (Costa Rica 2000: p NA, prosecution 4, prevention NA, protection 2) loads what it has
    cri = obs[(obs.region_id == "CRI") & (obs.period_start.map(lambda d: d.year) == 2000)]
    assert dict(zip(cri["indicator"], cri["value"], strict=True)) == {
        "detection.policy_3p_prosecution": 4,
        "detection.policy_3p_protection": 2,
    }


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    bad = rejected(parsed)
    assert len(parsed) == 33
    assert set(bad[REJECT]) == {"missing_value"}
    assert len(bad) == 8  # rows with none of p, prosecution, protection, prevention (e.g. Canada 1999)
    assert parsed[REJECT].isna().sum() + len(bad) == len(parsed)


def test_out_of_range_and_inconsistent_scores_are_quarantined(tmp_path):
    text = set_cell(read_fixture_text(CUT), 2, "prosecution", "6")
    text = set_cell(text, 3, "p", "12")
    parsed = SOURCE.parse(write_like(tmp_path / "cho_3p_x.csv", text))
    assert (
        _row(parsed, 4)[REJECT] == "out_of_range" and "above the maximum 5" in _row(parsed, 4)[REJECT_DETAIL]
    )
    assert _row(parsed, 5)[REJECT] == "inconsistent_value"


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "cho_3p_x.csv", drop_column(read_fixture_text(CUT), "protection"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "protection" and "cho_3p_x.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "cho_3p_x.csv", set_cell(read_fixture_text(CUT), 1, "p", "ten"))
    )
    row = _row(parsed, 3)
    assert row[REJECT] == "invalid_number" and "'ten' is not a number" in row[REJECT_DETAIL]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 1, "iso", "NA"), 1, "countryname", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / "cho_3p_x.csv", text))
    SOURCE.to_observations(parsed, ctx)
    row = _row(parsed, 3)
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_duplicate_country_year_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(write_like(tmp_path / "cho_3p_x.csv", duplicate_row(read_fixture_text(CUT), 1)))
    SOURCE.to_observations(parsed, ctx)
    last = _row(parsed, parsed[ROW].max())
    assert last[REJECT] == "duplicate" and "first at row 3" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "cho_3p_x.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 4, "country_name", "Canadá")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "cho_3p_x.csv", text, encoding="cp1252"))
    assert err.value.row == 6 and "UTF-8" in str(err.value)
