"""Fragile States Index 2023 reader on a 31-row cut of the real file, plus malformed variants."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "fsi_2023" / "fsi_2023_cut.csv"
SOURCE = get_source("fsi_2023")


def _row(parsed, line):
    return parsed[parsed[ROW] == line].iloc[0]


def test_cut_maps_to_published_values(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    got = obs.set_index(["region_id", "indicator"])["value"]
    assert {d.year for d in obs["period_start"]} == {2023}
    assert round(got[("SOM", "structural.fsi_total")], 1) == 111.9  # SOURCE.md spot check, rank 1
    assert round(got[("YEM", "structural.fsi_total")], 1) == 108.9
    assert got[("SOM", "displacement.fsi_refugees_idps")] == 9.0  # S2
    assert (
        got[("SOM", "structural.fsi_human_flight")] == 8.6
    )  # 'E3:  Human Flight and Brain Drain' (two spaces)
    assert got[("SOM", "structural.fsi_state_legitimacy")] == 9.6  # P1
    assert got[("SOM", "structural.fsi_security_apparatus")] == 9.5  # C1
    assert {"COD", "COG", "GNB", "PSE", "CIV", "PRK", "SWZ", "KGZ", "SVK"} <= set(obs["region_id"])
    assert len(parsed) == 31 and rejected(parsed).empty and len(obs) == 31 * 5


def test_fragility_level_added_by_repo_owner_is_not_needed(tmp_path, ctx):
    parsed = SOURCE.parse(
        write_like(tmp_path / "fsi_2023.csv", drop_column(read_fixture_text(CUT), "Fragility_Level"))
    )
    assert len(SOURCE.to_observations(parsed, ctx)) == 31 * 5


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "fsi_2023.csv", drop_column(read_fixture_text(CUT), "P1 : State Legitimacy"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "P1 : State Legitimacy" and "fsi_2023.csv" in str(err.value)


def test_text_and_out_of_range_scores_are_quarantined(tmp_path):
    text = set_cell(
        set_cell(read_fixture_text(CUT), 0, "Total", "n.a."), 1, "C1 : Security Apparatus", "10.5"
    )
    parsed = SOURCE.parse(write_like(tmp_path / "fsi_2023.csv", text))
    assert (
        _row(parsed, 2)[REJECT] == "invalid_number"
        and "'n.a.' is not a number" in _row(parsed, 2)[REJECT_DETAIL]
    )
    assert _row(parsed, 3)[REJECT] == "out_of_range"


def test_unknown_country_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(
        write_like(tmp_path / "fsi_2023.csv", set_cell(read_fixture_text(CUT), 0, "Country", "Atlantis"))
    )
    SOURCE.to_observations(parsed, ctx)
    assert _row(parsed, 2)[REJECT] == "unknown_country" and "Atlantis" in _row(parsed, 2)[REJECT_DETAIL]


def test_duplicate_country_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(write_like(tmp_path / "fsi_2023.csv", duplicate_row(read_fixture_text(CUT), 0)))
    SOURCE.to_observations(parsed, ctx)
    last = _row(parsed, parsed[ROW].max())
    assert last[REJECT] == "duplicate" and "first at row 2" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "fsi_2023.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 5, "Country", "Côte d'Ivoire")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "fsi_2023.csv", text, encoding="cp1252"))
    assert err.value.row == 7 and "UTF-8" in str(err.value)
