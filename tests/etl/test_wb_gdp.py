"""World Bank GDP (current US$) reader on a 20-row cut of the real file, plus malformed variants."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "wb_gdp" / "wb_gdp_current_usd.csv"
SOURCE = get_source("wb_gdp")


def test_cut_maps_to_published_values(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    got = obs.set_index(["region_id", obs["period_start"].map(lambda d: d.year)])["value"]
    assert got[("AFG", 2000)] == pytest.approx(3521418059.923445)  # first data line of the file
    assert got[("NGA", 2020)] == pytest.approx(432198898467.79486)
    assert got[("PSE", 2020)] > 0  # 'West Bank and Gaza'
    assert set(obs["indicator"]) == {"structural.gdp_current_usd"}
    reasons = rejected(parsed)[REJECT]
    assert reasons.tolist() == ["aggregate"] * 4  # WLD, SSF, HIC, CHI
    assert len(obs) + len(reasons) == len(parsed) == 20


def test_missing_column_names_file_and_column(tmp_path):
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "gdp.csv", drop_column(read_fixture_text(CUT), "Country Code")))
    assert err.value.column == "Country Code" and "gdp.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "gdp.csv", set_cell(read_fixture_text(CUT), 2, "Value", "4.3e11 USD"))
    )
    row = parsed[parsed[ROW] == 4].iloc[0]
    assert row[REJECT] == "invalid_number" and "'4.3e11 USD'" in row[REJECT_DETAIL]


def test_bad_year_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "gdp.csv", set_cell(read_fixture_text(CUT), 0, "Year", "FY2018"))
    )
    assert parsed.loc[parsed[ROW] == 2, REJECT].item() == "invalid_number"


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 0, "Country Code", "ZZX"), 0, "Country Name", "Narnia")
    parsed = SOURCE.parse(write_like(tmp_path / "gdp.csv", text))
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "unknown_country" and "Narnia" in row[REJECT_DETAIL]


def test_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "gdp.csv", duplicate_row(read_fixture_text(CUT), 2)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 4" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "gdp.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 2, "Country Name", "Nigéria")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "gdp.csv", text, encoding="cp1252"))
    assert err.value.row == 4 and "UTF-8" in str(err.value)
