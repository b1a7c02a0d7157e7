"""GSI 2018 reader on a cut of Walk Free's "GSI 2018 data" workbook (20 countries), plus malformed
variants."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.etl.test_inform_risk import drop_xlsx_column, duplicate_xlsx_row, set_xlsx_cell, xlsx_edit
from tests.helpers import rejected

CUT = FIXTURES / "gsi_2018" / "gsi_2018_cut.xlsx"
SHEET = "Global prev, vuln, govt table"
SOURCE = get_source("gsi_2018")
PREVALENCE = "Est. prevalence of population in modern slavery (victims per 1,000 population)"


def _row(parsed, line):
    return parsed[parsed[ROW] == line].iloc[0]


def test_cut_maps_to_published_values(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    got = obs.set_index(["region_id", "indicator"])["value"]
    cens = obs.set_index(["region_id", "indicator"])["censored"]
    assert {d.year for d in obs["period_start"]} == {2016}  # GSI 2018 estimates refer to 2016
    # SOURCE.md spot checks (per 1,000)
    assert round(got[("PRK", "trafficking.gsi2018_prevalence_per_1000")], 1) == 104.6
    assert round(got[("ERI", "trafficking.gsi2018_prevalence_per_1000")], 1) == 93.0
    assert round(got[("BDI", "trafficking.gsi2018_prevalence_per_1000")], 1) == 40.0
    assert round(got[("AFG", "trafficking.gsi2018_prevalence_per_1000")], 1) == 22.2
    assert got[("AFG", "trafficking.gsi2018_victims_estimated")] == 749_000
    assert got[("NGA", "trafficking.gsi2018_victims_estimated")] == 1_386_000
    assert round(got[("ALB", "detection.gsi2018_government_response")], 2) == 59.88  # TOTAL
    assert round(got[("AFG", "structural.gsi2018_vulnerability")], 2) == 93.92
    # '<1,000' is a censored 1000
    assert got[("ISL", "trafficking.gsi2018_victims_estimated")] == 1000
    assert bool(cens[("ISL", "trafficking.gsi2018_victims_estimated")])
    assert not bool(cens[("AFG", "trafficking.gsi2018_victims_estimated")])


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    bad = rejected(parsed)
    assert len(parsed) == 20
    # small states with population and region only
    assert set(bad[REJECT]) == {"missing_value"} and len(bad) == 2
    assert set(parsed.loc[bad.index, "Country"]) == {"Antigua and Barbuda", "Dominica"}


def test_missing_column_names_file_and_column(tmp_path):
    path = xlsx_edit(CUT, tmp_path / "gsi_2018_x.xlsx", SHEET, drop_xlsx_column(2, "TOTAL"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "TOTAL" and "gsi_2018_x.xlsx" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        xlsx_edit(CUT, tmp_path / "gsi_2018_x.xlsx", SHEET, set_xlsx_cell(2, 3, PREVALENCE, "n/k"))
    )
    row = _row(parsed, 3)
    assert row[REJECT] == "invalid_number" and "'n/k' is not a number" in row[REJECT_DETAIL]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(
        xlsx_edit(CUT, tmp_path / "gsi_2018_x.xlsx", SHEET, set_xlsx_cell(2, 3, "Country", "Atlantis"))
    )
    SOURCE.to_observations(parsed, ctx)
    assert _row(parsed, 3)[REJECT] == "unknown_country"


def test_duplicate_country_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(xlsx_edit(CUT, tmp_path / "gsi_2018_x.xlsx", SHEET, duplicate_xlsx_row(3)))
    SOURCE.to_observations(parsed, ctx)
    last = _row(parsed, parsed[ROW].max())
    assert last[REJECT] == "duplicate" and "first at row 3" in last[REJECT_DETAIL]


def test_missing_sheet_and_non_xlsx_are_contract_errors(tmp_path):
    def rename(ws):
        ws.title = "Sheet1"

    with pytest.raises(ContractError, match="worksheet 'Global prev, vuln, govt table' not found"):
        SOURCE.parse(xlsx_edit(CUT, tmp_path / "gsi_2018_x.xlsx", SHEET, rename))
    bad = tmp_path / "gsi_2018_y.xlsx"
    bad.write_bytes(b"")
    with pytest.raises(ContractError, match="not a readable .xlsx"):
        SOURCE.parse(bad)
