"""Maddison (OWID) reader on a 25-row cut of the real file: years >= 1950, regional totals rejected."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "maddison" / "maddison_2020_owid.csv"
SOURCE = get_source("maddison")


def _obs(ctx, path=CUT):
    parsed = SOURCE.parse(path)
    return parsed, SOURCE.to_observations(parsed, ctx)


def test_cut_maps_to_published_values(ctx):
    parsed, obs = _obs(ctx)
    got = obs.set_index(["region_id", obs["period_start"].map(lambda d: d.year)])["value"]
    assert got[("AFG", 1950)] == 1156
    assert got[("SYR", 2018)] == pytest.approx(3349.4597)
    assert got[("USA", 2018)] == pytest.approx(55334.7394)
    assert got[("CIV", 2018)] == pytest.approx(3713.6436)
    assert got[("DEU", 1950)] == 6186
    assert set(obs["indicator"]) == {"structural.gdp_per_capita_ppp"}


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed, obs = _obs(ctx)
    reasons = rejected(parsed).set_index(ROW)[REJECT].to_dict()
    assert reasons == {
        2: "out_of_scope",
        3: "out_of_scope",  # Afghanistan 1820, 1870
        7: "aggregate",
        8: "aggregate",  # 'Western Offshoots' (not Western Sahara!)
        9: "aggregate",
        10: "aggregate",
        11: "aggregate",
        20: "aggregate",  # World, Former USSR, Sub-Sahara Africa
        12: "historical_entity",  # Czechoslovakia
        17: "out_of_scope",
        25: "out_of_scope",  # United States year 1, Germany 1945
    }
    assert "outside the model window" in parsed.loc[parsed[ROW] == 2, REJECT_DETAIL].item()
    assert not (obs["region_id"] == "ESH").any()
    assert len(obs) + len(reasons) == len(parsed) == 25


def test_row_without_gdp_per_capita_is_missing_value(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "m.csv", set_cell(read_fixture_text(CUT), 2, "GDP per capita", ""))
    )
    assert parsed.loc[parsed[ROW] == 4, REJECT].item() == "missing_value"


def test_missing_column_names_file_and_column(tmp_path):
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "m.csv", drop_column(read_fixture_text(CUT), "GDP per capita")))
    assert err.value.column == "GDP per capita" and "m.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "m.csv", set_cell(read_fixture_text(CUT), 2, "GDP per capita", "c. 1150"))
    )
    row = parsed[parsed[ROW] == 4].iloc[0]
    assert row[REJECT] == "invalid_number" and "'c. 1150' is not a number" in row[REJECT_DETAIL]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    parsed, _ = _obs(
        ctx, write_like(tmp_path / "m.csv", set_cell(read_fixture_text(CUT), 2, "Entity", "Atlantis"))
    )
    row = parsed[parsed[ROW] == 4].iloc[0]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "m.csv", duplicate_row(read_fixture_text(CUT), 2)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 4" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "m.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 22, "Entity", "Côte d'Ivoire")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "m.csv", text, encoding="cp1252"))
    assert err.value.row == 24 and "UTF-8" in str(err.value)
