"""UCDP/PRIO armed conflict reader on a 30-row cut of the real file, plus malformed variants built from it."""

from __future__ import annotations

import datetime as dt

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.loader import validate
from etl.sources import get_source
from tests.conftest import FIXTURES, RAW_DIR
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "ucdp_acd" / "UcdpPrioConflict_v24_1_cut.csv"
SOURCE = get_source("ucdp_acd")


def _values(parsed, ctx):
    obs = validate(SOURCE, parsed, SOURCE.to_observations(parsed, ctx))
    return obs.set_index(["region_id", obs["period_start"].map(lambda d: d.year), "indicator"])["value"]


def test_conflicts_are_counted_per_location_country(ctx):
    parsed = SOURCE.parse(CUT)
    assert len(parsed) == 30
    got = _values(parsed, ctx)
    # Syria 2016: conflicts 299 and 13604 at war intensity, 13809 (Rojava) minor
    assert got[("SYR", 2016, "conflict.armed_conflicts")] == 3
    assert got[("SYR", 2016, "conflict.max_intensity")] == 2 and got[("SYR", 2016, "conflict.war")] == 1
    # India 1948: 218 (Kashmir, "750, 770"), 226 ("750, 751": Hyderabad -> India counts once), 227, and
    # 11884 (gwno_loc 751 Hyderabad, mapped to India)
    assert got[("IND", 1948, "conflict.armed_conflicts")] == 4
    assert got[("PAK", 1948, "conflict.armed_conflicts")] == 1
    # Grenada 1983 (GW 55 is missing from the crosswalk; UCDP's code kept by the local alias), minor
    assert got[("GRD", 1983, "conflict.armed_conflicts")] == 1 and got[("GRD", 1983, "conflict.war")] == 0
    assert got[("USA", 1983, "conflict.max_intensity")] == 1
    # Sudan/South Sudan 2012 common-border conflict counts in both countries
    assert (
        got[("SDN", 2012, "conflict.armed_conflicts")] >= 1
        and got[("SSD", 2012, "conflict.armed_conflicts")] >= 1
    )


def test_every_row_is_loaded_or_rejected(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    assert rejected(parsed).empty
    assert parsed["_start_date"].notna().all()


def test_real_file_syria_2016_and_date_formats():
    """UcdpPrioConflict_v24_1.csv: conflict 299 (Syria: Government) in 2016, intensity 2, start 02-08-2011."""
    parsed = SOURCE.parse(RAW_DIR / "ucdp_country_year" / "UcdpPrioConflict_v24_1.csv")
    row = parsed[(parsed["conflict_id"] == "299") & (parsed["_year"] == 2016)].iloc[0]
    assert row["_intensity"] == 2 and row["_start_date"] == dt.datetime(2011, 8, 2)
    assert parsed[REJECT].isna().all() and len(parsed) == 2686


def test_iso_dates_as_ucdp_publishes_are_accepted(tmp_path):
    text = set_cell(
        set_cell(read_fixture_text(CUT), 0, "start_date", "2012-11-15"), 0, "end_date", "2012-12-21"
    )
    parsed = SOURCE.parse(write_like(tmp_path / "a.csv", text))
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row["_start_date"] == dt.datetime(2012, 11, 15) and row["_end_date"] == dt.datetime(2012, 12, 21)


def test_bad_date_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "a.csv", set_cell(read_fixture_text(CUT), 0, "start_date", "31-13-2012"))
    )
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "invalid_date" and "'31-13-2012'" in row[REJECT_DETAIL]


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(
        tmp_path / "UcdpPrioConflict_x.csv", drop_column(read_fixture_text(CUT), "intensity_level")
    )
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "intensity_level" and "UcdpPrioConflict_x.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "a.csv", set_cell(read_fixture_text(CUT), 0, "intensity_level", "war"))
    )
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "invalid_number" and "'war' is not a number" in row[REJECT_DETAIL]


def test_intensity_outside_1_2_is_out_of_range(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "a.csv", set_cell(read_fixture_text(CUT), 0, "intensity_level", "3"))
    )
    assert parsed.set_index(ROW).loc[2, REJECT] == "out_of_range"


def test_unknown_country_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(
        write_like(tmp_path / "a.csv", set_cell(read_fixture_text(CUT), 0, "gwno_loc", "999"))
    )
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "unknown_country" and "code(s) 999" in row[REJECT_DETAIL]


def test_duplicate_conflict_year_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "a.csv", duplicate_row(read_fixture_text(CUT), 0)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 2" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "a.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 3, "side_b", "Frente Farabundo Martí")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "a.csv", text, encoding="cp1252"))
    assert err.value.row == 5 and "UTF-8" in str(err.value)
