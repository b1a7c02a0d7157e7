"""IDMC GIDD country-year reader on a 21-row cut of the real file, plus malformed variants."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "idmc_country_year" / "idmc_displacement_country_year_cut.csv"
SOURCE = get_source("idmc_country_year")
NAME = "idmc_displacement_country_year_x.csv"


def _values(obs):
    return obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])["value"]


def test_cut_uses_unrounded_values(ctx):
    parsed = SOURCE.parse(CUT)
    got = _values(SOURCE.to_observations(parsed, ctx))
    assert len(parsed) == 21
    # IDMC GIDD (2023 release), Afghanistan 2022: 4,393,749 conflict IDPs (4,394,000 rounded)
    assert got[("AFG", "displacement.conflict_idps_stock", 2022)] == 4_393_749
    assert got[("AFG", "displacement.disaster_idps_stock", 2022)] == 2_164_085
    assert got[("UKR", "displacement.conflict_new_displacements", 2022)] == 16_870_323
    assert got[("SYR", "displacement.conflict_new_displacements", 2019)] == 1_847_140
    assert got[("PHL", "displacement.disaster_new_displacements", 2022)] == 5_444_848
    # the raw value is used where the rounded cell is blank (Azerbaijan 2022: '' and '0.0')
    assert got[("AZE", "displacement.conflict_new_displacements", 2022)] == 0
    # a blank figure is not published: no observation
    assert ("AGO", "displacement.conflict_idps_stock", 2022) not in got.index


def test_rounded_value_is_used_when_raw_columns_are_absent(tmp_path, ctx):
    text = read_fixture_text(CUT)
    for col in (
        "Conflict Stock Displacement (Raw)",
        "Conflict Internal Displacements (Raw)",
        "Disaster Internal Displacements (Raw)",
        "Disaster Stock Displacement (Raw)",
    ):
        text = drop_column(text, col)
    parsed = SOURCE.parse(write_like(tmp_path / NAME, text))
    got = _values(SOURCE.to_observations(parsed, ctx))
    assert got[("AFG", "displacement.conflict_idps_stock", 2022)] == 4_394_000


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    reasons = rejected(parsed).set_index(ROW)[REJECT]
    assert reasons.to_dict() == {2: "disputed_area", 12: "disputed_area", 17: "disputed_area"}
    assert parsed[REJECT].isna().sum() + len(reasons) == len(parsed)


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / NAME, drop_column(read_fixture_text(CUT), "Disaster Internal Displacements"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "Disaster Internal Displacements" and NAME in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    text = set_cell(read_fixture_text(CUT), 1, "Conflict Stock Displacement (Raw)", "4.39 million")
    parsed = SOURCE.parse(write_like(tmp_path / NAME, text))
    row = parsed[parsed[ROW] == 3].iloc[0]
    assert row[REJECT] == "invalid_number" and "'4.39 million' is not a number" in row[REJECT_DETAIL]


def test_all_blank_figures_is_missing_value(tmp_path):
    text = read_fixture_text(CUT)
    for col in ("Disaster Internal Displacements", "Disaster Internal Displacements (Raw)"):
        text = set_cell(text, 2, col, "")
    parsed = SOURCE.parse(write_like(tmp_path / NAME, text))
    assert parsed[parsed[ROW] == 4].iloc[0][REJECT] == "missing_value"


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 1, "ISO3", "QQQ"), 1, "Name", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / NAME, text))
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 3].iloc[0]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_exact_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / NAME, duplicate_row(read_fixture_text(CUT), 1)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "row 3" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / NAME, ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 6, "Name", "Côte d’Ivoire")
    path = write_like(tmp_path / NAME, text, encoding="cp1252")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.row == 8 and "UTF-8" in str(err.value)
