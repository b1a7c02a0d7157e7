"""IDMC conflict IDPs (UNHCR package) reader on a 24-row cut of the real file, plus malformed variants."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "unhcr_idmc" / "idmc.csv"
SOURCE = get_source("unhcr_idmc")
INDICATOR = "displacement.idmc_conflict_idps"


def _values(obs):
    return obs.set_index(["region_id", obs["period_start"].map(lambda d: d.year)])["value"]


def test_cut_maps_to_published_values(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    assert len(parsed) == 24
    assert set(obs["indicator"]) == {INDICATOR}
    got = _values(obs)
    # IDMC GRID figures: Ukraine end-2022 5,914,000; Colombia end-2016 7,246,000; Sudan end-2023 9,053,000
    assert got[("UKR", 2022)] == 5_914_000
    assert got[("COL", 2016)] == 7_246_000
    assert got[("SDN", 2023)] == 9_053_000  # UNHCR code 'SUD', ISO3 'SDN'


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    reasons = rejected(parsed).set_index(ROW)[REJECT]
    # 1990-1992 'Unknown' rows are IDMC's global totals; 2017 'Unknown' is a residual; Abyei is disputed
    assert reasons.to_dict() == {
        2: "aggregate",
        3: "aggregate",
        4: "aggregate",
        10: "not_a_country",
        11: "disputed_area",
        22: "disputed_area",
    }
    assert len(obs) + len(reasons) == len(parsed)


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "idmc.csv", drop_column(read_fixture_text(CUT), "total"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "total" and "idmc.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "idmc.csv", set_cell(read_fixture_text(CUT), 4, "total", "2.2m"))
    )
    row = parsed[parsed[ROW] == 6].iloc[0]
    assert row[REJECT] == "invalid_number" and "'2.2m' is not a number" in row[REJECT_DETAIL]


def test_blank_total_is_missing_value(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "idmc.csv", set_cell(read_fixture_text(CUT), 4, "total", "-"))
    )
    assert parsed[parsed[ROW] == 6].iloc[0][REJECT] == "missing_value"


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = read_fixture_text(CUT)
    for col, val in (
        ("coo_iso", "QQQ"),
        ("coo", "QQQ"),
        ("coo_name", "Atlantis"),
        ("coa_iso", "QQQ"),
        ("coa", "QQQ"),
        ("coa_name", "Atlantis"),
    ):
        text = set_cell(text, 4, col, val)
    parsed = SOURCE.parse(write_like(tmp_path / "idmc.csv", text))
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 6].iloc[0]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_exact_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "idmc.csv", duplicate_row(read_fixture_text(CUT), 4)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "row 6" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "idmc.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 3, "coo_name", "Côte d’Ivoire")
    path = write_like(tmp_path / "idmc.csv", text, encoding="cp1252")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.row == 5 and "UTF-8" in str(err.value)
