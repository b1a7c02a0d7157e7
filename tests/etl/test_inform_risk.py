"""INFORM Risk reader on cuts of the 2024 and 2025 JRC workbooks (two header layouts), plus malformed
variants.

Also holds small openpyxl helpers that the GSI workbook tests reuse.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sheets import read_xlsx_sheet
from etl.sources import get_source
from etl.sources.inform_risk import SHEET
from tests.conftest import FIXTURES, RAW_DIR
from tests.helpers import rejected

CUT_2024 = FIXTURES / "inform_risk" / "INFORM_Risk_2024_cut.xlsx"
CUT_2025 = FIXTURES / "inform_risk" / "inform_risk_2025_cut.xlsx"
SHEET_2024 = "INFORM Risk 2024 (a-z)"
SOURCE = get_source("inform_risk")


# --- xlsx helpers (also used by the GSI tests) ------------------------------------------------------
def xlsx_edit(
    src: Path, dest: Path, sheet: str, edit: Callable[[openpyxl.worksheet.worksheet.Worksheet], None]
) -> Path:
    """Copy a workbook, apply ``edit`` to one sheet, save under ``dest``."""
    book = openpyxl.load_workbook(src)
    edit(book[sheet])
    book.save(dest)
    return dest


def header_col(ws, header_row: int, name: str) -> int:
    """1-based column index of a header cell (spaces stripped)."""
    for cell in ws[header_row]:
        if cell.value is not None and " ".join(str(cell.value).split()) == name:
            return cell.column
    raise KeyError(name)


def set_xlsx_cell(header_row: int, row: int, column: str, value) -> Callable:
    return lambda ws: ws.cell(row=row, column=header_col(ws, header_row, column), value=value)


def drop_xlsx_column(header_row: int, column: str) -> Callable:
    return lambda ws: ws.delete_cols(header_col(ws, header_row, column))


def duplicate_xlsx_row(row: int) -> Callable:
    return lambda ws: ws.append([c.value for c in ws[row]])


# --- tests --------------------------------------------------------------------------------------------
def test_both_header_layouts_are_read():
    old = read_xlsx_sheet(CUT_2024, SHEET, "COUNTRY")
    new = read_xlsx_sheet(CUT_2025, SHEET, "COUNTRY")
    assert old.attrs["sheet"] == SHEET_2024 and new.attrs["sheet"] == "INFORM Risk 2025 (a-z)"
    assert old.attrs["units"]["INFORM RISK"] == "(0-10)" and new.attrs["units"] is None
    assert old[ROW].iloc[0] == 4 and new[ROW].iloc[0] == 2  # blank row + header + units row vs header only
    assert old["COUNTRY"].iloc[0] == new["COUNTRY"].iloc[0] == "Afghanistan"


def test_cuts_map_to_published_values_at_edition_year_minus_one(ctx):
    obs = pd.concat([SOURCE.to_observations(SOURCE.parse(cut), ctx) for cut in (CUT_2024, CUT_2025)])
    got = obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])["value"]
    # SOURCE.md spot checks: INFORM RISK Somalia 8.5 (2024) / 8.4 (2025); Afghanistan 8.1 / 7.8; Germany 2.6
    # (2025)
    assert got[("SOM", "structural.inform_risk", 2023)] == 8.5
    assert got[("SOM", "structural.inform_risk", 2024)] == 8.4
    assert got[("AFG", "structural.inform_risk", 2023)] == 8.1
    assert got[("AFG", "structural.inform_risk", 2024)] == 7.8
    assert got[("DEU", "structural.inform_risk", 2024)] == 2.6
    for iso in ("AFG", "SOM", "SSD", "SYR", "UKR"):  # "Uprooted people" = 10
        assert got[(iso, "displacement.inform_uprooted_people", 2023)] == 10
    # renamed columns are harmonised: 2025 'Projected Conflict Probability', 'Current Conflict Intensity'
    assert got[("AFG", "conflict.inform_conflict_probability", 2024)] == 9.7
    assert got[("AFG", "conflict.inform_conflict_intensity", 2024)] == 7.5
    assert got[("AFG", "conflict.inform_conflict_intensity", 2023)] == 10
    assert set(obs["indicator"]) == {i.code for i in SOURCE.indicators}


def test_every_row_is_loaded_or_rejected(ctx):
    parsed = SOURCE.parse(CUT_2025)
    obs = SOURCE.to_observations(parsed, ctx)
    assert len(parsed) == 21 and rejected(parsed).empty
    assert len(obs) == 21 * 7


def test_units_row_with_other_scale_is_a_contract_error(tmp_path):
    path = xlsx_edit(
        CUT_2024,
        tmp_path / "INFORM_Risk_2024_x.xlsx",
        SHEET_2024,
        set_xlsx_cell(2, 3, "VULNERABILITY", "(0-100)"),
    )
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "VULNERABILITY" and "(0-100)" in str(err.value)


def test_missing_column_names_file_and_column(tmp_path):
    path = xlsx_edit(
        CUT_2025,
        tmp_path / "inform_risk_2025_x.xlsx",
        "INFORM Risk 2025 (a-z)",
        drop_xlsx_column(1, "Uprooted people"),
    )
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "Uprooted people" and "inform_risk_2025_x.xlsx" in str(err.value)


def test_missing_sheet_is_a_contract_error(tmp_path):
    def rename(ws):
        ws.title = "Risk"

    path = xlsx_edit(CUT_2025, tmp_path / "inform_risk_2025_x.xlsx", "INFORM Risk 2025 (a-z)", rename)
    with pytest.raises(ContractError, match="worksheet"):
        SOURCE.parse(path)


def test_text_and_out_of_range_values_are_quarantined(tmp_path):
    edit = [set_xlsx_cell(2, 4, "INFORM RISK", "high"), set_xlsx_cell(2, 5, "HAZARD & EXPOSURE", 11.2)]
    path = xlsx_edit(
        CUT_2024, tmp_path / "INFORM_Risk_2024_x.xlsx", SHEET_2024, lambda ws: [e(ws) for e in edit]
    )
    parsed = SOURCE.parse(path)
    first, second = parsed[parsed[ROW] == 4].iloc[0], parsed[parsed[ROW] == 5].iloc[0]
    assert first[REJECT] == "invalid_number" and "'high' is not a number" in first[REJECT_DETAIL]
    assert second[REJECT] == "out_of_range" and "above the maximum 10" in second[REJECT_DETAIL]


def test_not_computed_x_gives_no_observation_but_the_row_loads(tmp_path, ctx):
    path = xlsx_edit(
        CUT_2025,
        tmp_path / "inform_risk_2025_x.xlsx",
        "INFORM Risk 2025 (a-z)",
        set_xlsx_cell(1, 2, "Uprooted people", "x"),
    )
    parsed = SOURCE.parse(path)
    obs = SOURCE.to_observations(parsed, ctx)
    assert parsed[REJECT].isna().all()
    afg = obs[obs.region_id == "AFG"]
    assert len(afg) == 6 and "displacement.inform_uprooted_people" not in set(afg["indicator"])


def test_unknown_country_is_quarantined(tmp_path, ctx):
    edit = [set_xlsx_cell(1, 2, "ISO3", "QQQ"), set_xlsx_cell(1, 2, "COUNTRY", "Atlantis")]
    path = xlsx_edit(
        CUT_2025,
        tmp_path / "inform_risk_2025_x.xlsx",
        "INFORM Risk 2025 (a-z)",
        lambda ws: [e(ws) for e in edit],
    )
    parsed = SOURCE.parse(path)
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_duplicate_country_is_quarantined(tmp_path, ctx):
    path = xlsx_edit(
        CUT_2025, tmp_path / "inform_risk_2025_x.xlsx", "INFORM Risk 2025 (a-z)", duplicate_xlsx_row(2)
    )
    parsed = SOURCE.parse(path)
    obs = SOURCE.to_observations(parsed, ctx)
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 2" in last[REJECT_DETAIL]
    assert not obs.duplicated(["region_id", "period_start", "indicator"]).any()


def test_non_xlsx_and_empty_files_are_contract_errors(tmp_path):
    text = tmp_path / "inform_risk_2025_x.xlsx"
    text.write_text("COUNTRY,ISO3\nAfghanistan,AFG\n", encoding="utf-8")
    with pytest.raises(ContractError, match="not a readable .xlsx"):
        SOURCE.parse(text)
    empty = tmp_path / "inform_risk_2024_y.xlsx"
    empty.write_bytes(b"")
    with pytest.raises(ContractError, match="not a readable .xlsx"):
        SOURCE.parse(empty)


def test_header_but_no_rows_is_a_contract_error(tmp_path):
    def clear(ws):
        ws.delete_rows(2, ws.max_row)

    path = xlsx_edit(CUT_2025, tmp_path / "inform_risk_2025_x.xlsx", "INFORM Risk 2025 (a-z)", clear)
    with pytest.raises(ContractError, match="no data rows"):
        SOURCE.parse(path)


def test_three_real_workbooks_parse_quickly(tmp_path):
    shutil.copytree(RAW_DIR / SOURCE.folder, tmp_path / SOURCE.folder)
    start = time.perf_counter()
    frames = [SOURCE.parse(p) for p in SOURCE.paths(tmp_path)]
    assert [len(f) for f in frames] == [191, 191, 191]
    assert time.perf_counter() - start < 10  # read-only: ~1 s for the three workbooks
