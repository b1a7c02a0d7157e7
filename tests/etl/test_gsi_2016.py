"""GSI 2016 reader on a cut of Walk Free's workbook (20 countries, the empty rows and footnote under the
table)."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.etl.test_inform_risk import drop_xlsx_column, duplicate_xlsx_row, set_xlsx_cell, xlsx_edit
from tests.helpers import rejected

CUT = FIXTURES / "gsi_2016" / "gsi_2016_cut.xlsx"
SHEET = "GLOBAL DATA 2016 GSI"
SOURCE = get_source("gsi_2016")
PREVALENCE = "ESTIMATED PROPORTION OF POPULATION IN MODERN SLAVERY"


def _row(parsed, line):
    return parsed[parsed[ROW] == line].iloc[0]


def test_cut_maps_to_published_values(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    got = obs.set_index(["region_id", "indicator"])["value"]
    assert {d.year for d in obs["period_start"]} == {2016}
    # SOURCE.md spot checks: percent of population and number
    assert round(got[("PRK", "trafficking.gsi2016_prevalence_pct")], 3) == 4.373
    assert got[("PRK", "trafficking.gsi2016_victims_estimated")] == 1_100_000
    assert round(got[("AFG", "trafficking.gsi2016_prevalence_pct")], 3) == 1.130
    assert got[("AFG", "trafficking.gsi2016_victims_estimated")] == 367_600
    assert round(got[("NGA", "trafficking.gsi2016_prevalence_pct")], 3) == 0.481
    assert got[("AFG", "structural.gsi2016_vulnerability")] == 67.06
    assert round(got[("ALB", "detection.gsi2016_government_response")], 2) == 55.34
    assert round(got[("PRK", "detection.gsi2016_government_response")], 2) == -4.76  # below 0 is real
    assert (
        "AFG",
        "detection.gsi2016_government_response",
    ) not in got.index  # not rated: blank, no observation
    assert {"XKX", "TWN", "HKG", "CIV", "COG", "LAO", "MKD", "SWZ"} <= set(obs["region_id"])


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    bad = rejected(parsed).set_index(ROW)[REJECT]
    assert len(parsed) == 23
    assert bad.to_dict() == {23: "blank_row", 24: "blank_row", 25: "footnote"}
    assert "Those countries where governments arrested victims" in _row(parsed, 25)[REJECT_DETAIL]


def test_missing_column_names_file_and_column(tmp_path):
    path = xlsx_edit(CUT, tmp_path / "gsi_2016_x.xlsx", SHEET, drop_xlsx_column(2, PREVALENCE))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == PREVALENCE and "gsi_2016_x.xlsx" in str(err.value)


def test_text_and_negative_numbers_are_quarantined(tmp_path):
    edits = [
        set_xlsx_cell(2, 3, PREVALENCE, "about 1%"),
        set_xlsx_cell(2, 4, "ESTIMATED NUMBER IN MODERN SLAVERY", -5),
    ]
    parsed = SOURCE.parse(
        xlsx_edit(CUT, tmp_path / "gsi_2016_x.xlsx", SHEET, lambda ws: [e(ws) for e in edits])
    )
    assert (
        _row(parsed, 3)[REJECT] == "invalid_number"
        and "'about 1%' is not a number" in _row(parsed, 3)[REJECT_DETAIL]
    )
    assert _row(parsed, 4)[REJECT] == "out_of_range"


def test_unknown_country_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(
        xlsx_edit(CUT, tmp_path / "gsi_2016_x.xlsx", SHEET, set_xlsx_cell(2, 3, "Country", "Atlantis"))
    )
    SOURCE.to_observations(parsed, ctx)
    assert _row(parsed, 3)[REJECT] == "unknown_country" and "Atlantis" in _row(parsed, 3)[REJECT_DETAIL]


def test_duplicate_country_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(xlsx_edit(CUT, tmp_path / "gsi_2016_x.xlsx", SHEET, duplicate_xlsx_row(3)))
    obs = SOURCE.to_observations(parsed, ctx)
    last = _row(parsed, parsed[ROW].max())
    assert last[REJECT] == "duplicate" and "first at row 3" in last[REJECT_DETAIL]
    assert not obs.duplicated(["region_id", "indicator"]).any()


def test_non_xlsx_file_is_a_contract_error(tmp_path):
    path = tmp_path / "gsi_2016_x.xlsx"
    path.write_bytes("Country,POPULATION\nC\xf4te d'Ivoire,1\n".encode("cp1252"))
    with pytest.raises(ContractError, match="not a readable .xlsx"):
        SOURCE.parse(path)
    path.write_bytes(b"")
    with pytest.raises(ContractError, match="not a readable .xlsx"):
        SOURCE.parse(path)
