"""World Bank population reader on a 21-row cut of the real file, plus malformed variants."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "wb_population" / "wb_population_total.csv"
SOURCE = get_source("wb_population")


def _obs(ctx, path=CUT):
    parsed = SOURCE.parse(path)
    obs = SOURCE.to_observations(parsed, ctx)
    return parsed, obs


def test_cut_maps_to_published_values(ctx):
    parsed, obs = _obs(ctx)
    got = obs.set_index(["region_id", obs["period_start"].map(lambda d: d.year)])["value"]
    assert got[("ABW", 1960)] == 54922  # first data line of the World Bank file
    assert got[("NGA", 2020)] == 213996181
    assert got[("XKX", 2020)] == 1790151  # World Bank's XKX is the warehouse's Kosovo
    assert got[("COD", 2020)] == 95989998
    assert set(obs["indicator"]) == {"structural.population"}
    assert obs["period_type"].eq("year").all() and not obs["censored"].any()


def test_aggregates_are_rejected_and_rows_add_up(ctx):
    parsed, obs = _obs(ctx)
    reasons = rejected(parsed).set_index(ROW)[REJECT]
    # WLD, SSF, HIC are World Bank aggregates; CHI (Channel Islands) is Jersey + Guernsey
    assert reasons.to_dict() == {8: "aggregate", 9: "aggregate", 10: "aggregate", 11: "aggregate"}
    assert "Channel Islands" in parsed.loc[parsed[ROW] == 11, REJECT_DETAIL].item()
    assert len(obs) + len(reasons) == len(parsed) == 21


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "wb_x.csv", drop_column(read_fixture_text(CUT), "Value"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "Value" and "wb_x.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "wb_x.csv", set_cell(read_fixture_text(CUT), 0, "Value", "n/a yet"))
    )
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "invalid_number" and "'n/a yet' is not a number" in row[REJECT_DETAIL]


def test_negative_and_blank_values_are_quarantined(tmp_path):
    text = set_cell(set_cell(read_fixture_text(CUT), 0, "Value", "-5"), 1, "Value", "")
    parsed = SOURCE.parse(write_like(tmp_path / "wb_x.csv", text))
    assert parsed.set_index(ROW).loc[[2, 3], REJECT].tolist() == ["out_of_range", "missing_value"]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 0, "Country Code", "QQQ"), 0, "Country Name", "Atlantis")
    parsed, _ = _obs(ctx, write_like(tmp_path / "wb_x.csv", text))
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "wb_x.csv", duplicate_row(read_fixture_text(CUT), 0)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 2" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "wb_x.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 3, "Country Name", "République arabe syrienne")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "wb_x.csv", text, encoding="cp1252"))
    assert err.value.row == 5 and "UTF-8" in str(err.value)
