"""OWID deaths-in-armed-conflicts reader on a 34-row cut of the real grapher download, plus malformed
variants."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.loader import validate
from etl.sources import get_source
from tests.conftest import FIXTURES, RAW_DIR
from tests.helpers import (
    drop_column,
    duplicate_row,
    read_fixture_text,
    rejected,
    set_cell,
    to_csv_text,
    write_like,
)

CUT = FIXTURES / "owid_conflict_deaths" / "owid_deaths_in_armed_conflicts_cut.csv"
SOURCE = get_source("owid_conflict_deaths")


def _values(parsed, ctx):
    obs = validate(SOURCE, parsed, SOURCE.to_observations(parsed, ctx))
    return obs.set_index(["region_id", obs["period_start"].map(lambda d: d.year)])["value"]


def test_cut_loads_published_values_and_zeros(ctx):
    parsed = SOURCE.parse(CUT)
    assert len(parsed) == 34
    got = _values(parsed, ctx)
    assert got[("SYR", 2016)] == 53_548  # SOURCE.md spot check
    assert got[("UKR", 2022)] == 92_799
    assert got[("ISL", 2021)] == 0  # zeros are real in a complete panel
    # Abkhazia and South Ossetia (0 each) are summed into Georgia; Yemen People's Republic into Yemen
    assert got[("GEO", 2008)] == 621 and got[("YEM", 2016)] == 4_020
    assert len(got) == 34 - 3 - 2 * 2 - 3  # Czechoslovakia rejected; Abkhazia, S. Ossetia, PDRY summed


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    bad = rejected(parsed)
    assert bad[REJECT].tolist() == ["historical_entity"] * 3
    assert parsed.loc[parsed[REJECT].notna(), "Entity"].unique().tolist() == ["Czechoslovakia"]


def test_real_file_spot_value(ctx):
    parsed = SOURCE.parse(
        RAW_DIR / "ucdp_country_year" / "owid_deaths_in_armed_conflicts_by_country_1989_2023.csv"
    )
    got = _values(parsed, ctx)
    assert len(parsed) == 7175 and got[("SYR", 2016)] == 53_548 and got[("SYR", 2019)] == 11_043


def test_aggregate_entity_is_rejected(tmp_path, ctx):
    parsed = SOURCE.parse(
        write_like(tmp_path / "o.csv", set_cell(read_fixture_text(CUT), 3, "Entity", "World"))
    )
    SOURCE.to_observations(parsed, ctx)
    assert parsed.set_index(ROW).loc[5, REJECT] == "aggregate"


def test_code_column_of_newer_downloads_is_used(tmp_path, ctx):
    rows = [r.split(",") for r in read_fixture_text(CUT).splitlines()]
    rows = [[rows[0][0], "Code", *rows[0][1:]]] + [
        [r[0], "SYR" if r[0] == "Syria" else "", *r[1:]] for r in rows[1:]
    ]
    parsed = SOURCE.parse(write_like(tmp_path / "o.csv", to_csv_text(rows)))
    got = _values(parsed, ctx)
    assert got[("SYR", 2016)] == 53_548 and got[("GEO", 2008)] == 621


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "owid_x.csv", drop_column(read_fixture_text(CUT), "Deaths"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "Deaths" and "owid_x.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "o.csv", set_cell(read_fixture_text(CUT), 0, "Deaths", "n/a?"))
    )
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "invalid_number" and "'n/a?' is not a number" in row[REJECT_DETAIL]


def test_blank_and_negative_deaths(tmp_path):
    text = set_cell(set_cell(read_fixture_text(CUT), 0, "Deaths", ""), 1, "Deaths", "-4")
    reasons = SOURCE.parse(write_like(tmp_path / "o.csv", text)).set_index(ROW)[REJECT]
    assert reasons[2] == "missing_value" and reasons[3] == "out_of_range"


def test_unknown_country_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(
        write_like(tmp_path / "o.csv", set_cell(read_fixture_text(CUT), 0, "Entity", "Atlantis"))
    )
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_duplicate_entity_year_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "o.csv", duplicate_row(read_fixture_text(CUT), 0)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 2" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "o.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 4, "Entity", "Côte d'Ivoire")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "o.csv", text, encoding="cp1252"))
    assert err.value.row == 6 and "UTF-8" in str(err.value)
