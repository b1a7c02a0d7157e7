"""GSI 2023 reader on a 22-row cut of the real CSV (padded header, thousands separators), plus malformed
variants."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import (
    duplicate_row,
    read_fixture_text,
    rejected,
    rows_of,
    set_cell,
    to_csv_text,
    write_like,
)

CUT = FIXTURES / "gsi_2023" / "gsi_2023_cut.csv"
SOURCE = get_source("gsi_2023")
PREVALENCE = "Estimated prevalence of modern slavery per 1,000 population"
NUMBER = "Estimated number of people in modern slavery"


def _row(parsed, line):
    return parsed[parsed[ROW] == line].iloc[0]


def test_header_is_padded_in_the_published_file():
    assert rows_of(read_fixture_text(CUT))[0][0] == "Country "


def test_cut_maps_to_published_values(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    got = obs.set_index(["region_id", "indicator"])["value"]
    assert {d.year for d in obs["period_start"]} == {2021}  # estimates refer to 2021
    assert got[("AFG", "trafficking.gsi2023_prevalence_per_1000")] == 13.0
    assert got[("AFG", "trafficking.gsi2023_victims_estimated")] == 505_000  # "505,000"
    assert got[("DZA", "trafficking.gsi2023_prevalence_per_1000")] == 1.9
    assert got[("DZA", "trafficking.gsi2023_victims_estimated")] == 84_000
    assert {"XKX", "TWN", "PRK", "KOR", "COG"} <= set(obs["region_id"])


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    bad = rejected(parsed)
    assert len(parsed) == 22
    assert set(bad[REJECT]) == {"missing_value"}  # no estimate published
    assert set(parsed.loc[bad.index, "Country"]) == {
        "Antigua and Barbuda",
        "Bahamas",
        "Cape Verde",
        "Iceland",
        "Malta",
    }


def test_missing_column_names_file_and_column(tmp_path):
    rows = rows_of(read_fixture_text(CUT))
    path = write_like(tmp_path / "Global_Slavery_Index_2023_x.csv", to_csv_text([r[:4] for r in rows]))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == NUMBER and "Global_Slavery_Index_2023_x.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    text = set_cell(read_fixture_text(CUT), 0, NUMBER, "about 500k")
    parsed = SOURCE.parse(write_like(tmp_path / "gsi.csv", text))
    row = _row(parsed, 2)
    assert (
        row[REJECT] == "invalid_number"
        and f"column '{NUMBER}': 'about 500k' is not a number" in row[REJECT_DETAIL]
    )


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(read_fixture_text(CUT), 0, "Country ", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / "gsi.csv", text))
    SOURCE.to_observations(parsed, ctx)
    assert _row(parsed, 2)[REJECT] == "unknown_country"


def test_duplicate_country_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(write_like(tmp_path / "gsi.csv", duplicate_row(read_fixture_text(CUT), 0)))
    SOURCE.to_observations(parsed, ctx)
    last = _row(parsed, parsed[ROW].max())
    assert last[REJECT] == "duplicate" and "first at row 2" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "gsi.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 2, "Country ", "Algérie")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "gsi.csv", text, encoding="cp1252"))
    assert err.value.row == 4 and "UTF-8" in str(err.value)
