"""EM-DAT (OWID aggregation) reader on a 43-row cut of the real gzip file, plus malformed variants."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "emdat" / "owid_natural_disasters_emdat_country_year.csv.gz"
SOURCE = get_source("emdat")


def _obs(ctx, path=CUT):
    parsed = SOURCE.parse(path)
    return parsed, SOURCE.to_observations(parsed, ctx)


def test_cut_maps_to_published_values(ctx):
    parsed, obs = _obs(ctx)
    got = obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])["value"]
    # Japan 2011 (Tohoku): 19,976 deaths; damages published as 212,520,000 thousand US$
    assert got[("JPN", "hazard.disaster_deaths", 2011)] == 19976
    assert got[("JPN", "hazard.disaster_affected", 2011)] == 394615
    assert got[("JPN", "hazard.disaster_damages_usd", 2011)] == 212_520_000_000
    assert (
        got[("HTI", "hazard.disaster_deaths", 2010)] == 222641
    )  # as published (earthquake plus other 2010 events)
    assert ("CIV", "hazard.disaster_deaths", 2018) in got.index and (
        "PSE",
        "hazard.disaster_deaths",
        2020,
    ) in got.index
    assert not obs.duplicated(["region_id", "period_start", "indicator"]).any()


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed, obs = _obs(ctx)
    reasons = rejected(parsed).set_index(ROW)[REJECT].to_dict()
    assert reasons == {
        4: "aggregate",
        5: "aggregate",  # World
        6: "historical_entity",
        7: "historical_entity",
        8: "historical_entity",  # USSR, YUG, CSK
        19: "historical_entity",
        20: "historical_entity",
        21: "historical_entity",
        22: "historical_entity",  # Netherlands Antilles
        43: "historical_entity",
    }  # Serbia-Montenegro
    assert "dissolved federation" in parsed.loc[parsed[ROW] == 6, REJECT_DETAIL].item()
    assert len(obs) == 4 * (len(parsed) - len(reasons))  # the OWID file fills all four totals


def test_blank_values_give_no_observation_and_all_blank_is_missing(tmp_path, ctx):
    text = read_fixture_text(CUT)
    text = set_cell(text, 0, "homeless_all_disasters", "")
    for col in (
        "deaths_all_disasters",
        "total_affected_all_disasters",
        "homeless_all_disasters",
        "total_damages_all_disasters",
    ):
        text = set_cell(text, 1, col, "")
    parsed, obs = _obs(ctx, write_like(tmp_path / "e.csv.gz", text))
    assert parsed.loc[parsed[ROW] == 3, REJECT].item() == "missing_value"
    jpn = obs[(obs.region_id == "JPN")]
    assert sorted(jpn["indicator"]) == [
        "hazard.disaster_affected",
        "hazard.disaster_damages_usd",
        "hazard.disaster_deaths",
    ]


def test_missing_column_names_file_and_column(tmp_path):
    with pytest.raises(ContractError) as err:
        SOURCE.parse(
            write_like(tmp_path / "e.csv.gz", drop_column(read_fixture_text(CUT), "deaths_all_disasters"))
        )
    assert err.value.column == "deaths_all_disasters" and "e.csv.gz" in str(err.value)


def test_text_and_negative_numbers_are_quarantined(tmp_path):
    text = set_cell(
        set_cell(read_fixture_text(CUT), 0, "deaths_all_disasters", "many"),
        1,
        "total_affected_all_disasters",
        "-3",
    )
    parsed = SOURCE.parse(write_like(tmp_path / "e.csv.gz", text))
    assert parsed.set_index(ROW).loc[[2, 3], REJECT].tolist() == ["invalid_number", "out_of_range"]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    parsed, _ = _obs(
        ctx, write_like(tmp_path / "e.csv.gz", set_cell(read_fixture_text(CUT), 0, "Entity", "Atlantis"))
    )
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "e.csv.gz", duplicate_row(read_fixture_text(CUT), 0)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 2" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "e.csv.gz", ""))


def test_not_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "e.csv.gz"
    path.write_bytes(read_fixture_text(CUT).encode())
    with pytest.raises(ContractError, match="gzip"):
        SOURCE.parse(path)


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 21, "Entity", "Côte d'Ivoire")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "e.csv.gz", text, encoding="cp1252"))
    assert err.value.row == 23 and "UTF-8" in str(err.value)
