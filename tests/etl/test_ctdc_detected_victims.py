"""CTDC/OWID detected-victims reader on a 27-row cut of the real file, plus malformed variants."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "ctdc_detected_victims" / "ctdc_cut.csv"
SOURCE = get_source("ctdc_detected_victims")
VALUE = " Detected victims of human trafficking"  # leading space, as published


def _row(parsed, line):
    return parsed[parsed[ROW] == line].iloc[0]


def test_cut_maps_to_published_values(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    got = obs.set_index(["region_id", obs["period_start"].map(lambda d: d.year)])["value"]
    assert got[("GBR", 2020)] == 3843  # SOURCE.md: largest value
    assert got[("IND", 2017)] == 2037
    assert got[("BFA", 2007)] == 289
    assert len(obs) == len(parsed) == 27 and rejected(parsed).empty


def test_owid_aggregates_are_rejected_as_aggregate(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 0, "Code", "OWID_WRL"), 0, "Entity", "World")
    text = set_cell(set_cell(text, 1, "Code", ""), 1, "Entity", "Europe")
    text = set_cell(set_cell(text, 2, "Code", "OWID_KOS"), 2, "Entity", "Kosovo")
    parsed = SOURCE.parse(write_like(tmp_path / "human-trafficking-victims.csv", text))
    obs = SOURCE.to_observations(parsed, ctx)
    assert _row(parsed, 2)[REJECT] == "aggregate" and "OWID_WRL" in _row(parsed, 2)[REJECT_DETAIL]
    assert _row(parsed, 3)[REJECT] == "aggregate" and "Europe" in _row(parsed, 3)[REJECT_DETAIL]
    assert pd.isna(_row(parsed, 4)[REJECT]) and "XKX" in set(obs["region_id"])  # OWID's code for Kosovo


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "human-trafficking-victims.csv", drop_column(read_fixture_text(CUT), VALUE))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == VALUE.strip() and "human-trafficking-victims.csv" in str(err.value)


def test_text_blank_and_negative_counts_are_quarantined(tmp_path):
    text = set_cell(
        set_cell(set_cell(read_fixture_text(CUT), 0, VALUE, "many"), 1, VALUE, ""), 2, VALUE, "-7"
    )
    parsed = SOURCE.parse(write_like(tmp_path / "human-trafficking-victims.csv", text))
    assert (
        _row(parsed, 2)[REJECT] == "invalid_number"
        and "'many' is not a number" in _row(parsed, 2)[REJECT_DETAIL]
    )
    assert _row(parsed, 3)[REJECT] == "missing_value"
    assert _row(parsed, 4)[REJECT] == "out_of_range"


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 0, "Code", "QQQ"), 0, "Entity", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / "human-trafficking-victims.csv", text))
    SOURCE.to_observations(parsed, ctx)
    assert _row(parsed, 2)[REJECT] == "unknown_country" and "Atlantis" in _row(parsed, 2)[REJECT_DETAIL]


def test_duplicate_country_year_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(
        write_like(tmp_path / "human-trafficking-victims.csv", duplicate_row(read_fixture_text(CUT), 0))
    )
    SOURCE.to_observations(parsed, ctx)
    last = _row(parsed, parsed[ROW].max())
    assert last[REJECT] == "duplicate" and "first at row 2" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "human-trafficking-victims.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 1, "Entity", "Colômbia")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "human-trafficking-victims.csv", text, encoding="cp1252"))
    assert err.value.row == 3 and "UTF-8" in str(err.value)
