"""DTM South Sudan R16 locations: CSV.gz export and xlsx workbook cuts (30 locations), malformed variants."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES, RAW_DIR
from tests.helpers import read_fixture_text, rows_of, to_csv_text, write_like

CUT = FIXTURES / "iom_dtm_south_sudan" / "ssd_dtm_mt_r16_locations_cut.csv.gz"
XLSX = FIXTURES / "iom_dtm_south_sudan" / "ssd-dtm-mobility-tracking-r16-baseline-assessment-dataset_cut.xlsx"
SOURCE = get_source("iom_dtm_south_sudan")


def _edit(text: str, data_row: int, column: str, value: str) -> str:
    """Set a cell; data rows start after the header and the HXL row (file line = data_row + 3)."""
    rows = rows_of(text)
    rows[data_row + 2][rows[0].index(column)] = value
    return to_csv_text(rows)


def test_csv_and_xlsx_give_the_same_observations(ctx):
    a = SOURCE.parse(CUT)
    b = SOURCE.parse(XLSX)
    assert len(a) == len(b) == 30
    assert a[ROW].min() == 3  # line 2 is the HXL row
    oa = SOURCE.to_observations(a, ctx).sort_values(["region_id", "indicator"]).reset_index(drop=True)
    ob = SOURCE.to_observations(b, ctx).sort_values(["region_id", "indicator"]).reset_index(drop=True)
    assert oa[["region_id", "indicator", "value"]].equals(ob[["region_id", "indicator", "value"]])
    assert a[REJECT].isna().all()
    assert set(oa["indicator"]) == {"displacement.dtm_idps", "displacement.dtm_returnees"}
    assert oa["region_id"].nunique() == 10
    # first location (Belle, Juba): 25 IDPs + 0 previously abroad; 120 internal + 87 returnees from abroad
    assert a.iloc[0]["_idps"] == 25 and a.iloc[0]["_returnees"] == 120 + 87


def test_real_file_totals_equal_the_published_note_sheet(ctx):
    path = RAW_DIR / "iom_dtm_south_sudan" / "ssd_dtm_mt_r16_locations.csv.gz"
    parsed = SOURCE.parse(path)
    obs = SOURCE.to_observations(parsed, ctx)
    assert len(parsed) == 4074 and parsed[REJECT].isna().all()
    totals = obs.groupby("indicator")["value"].sum()
    assert totals["displacement.dtm_idps"] == 1_992_513
    assert totals["displacement.dtm_returnees"] == 2_963_408
    assert {d.year for d in obs["period_start"]} == {2025}


def test_missing_column_names_file_and_column(tmp_path):
    rows = rows_of(read_fixture_text(CUT))
    i = rows[0].index("latitude")
    path = write_like(tmp_path / "x.csv.gz", to_csv_text([r[:i] + r[i + 1 :] for r in rows]))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "latitude" and "x.csv.gz" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    path = write_like(tmp_path / "x.csv.gz", _edit(read_fixture_text(CUT), 0, "a_idp_inds_ssd", "about 25"))
    row = SOURCE.parse(path).set_index(ROW).loc[3]
    assert row[REJECT] == "invalid_number" and "'about 25' is not a number" in row["_reject_detail"]


def test_negative_count_is_out_of_range(tmp_path):
    path = write_like(tmp_path / "x.csv.gz", _edit(read_fixture_text(CUT), 1, "k_abroad_ret_ind", "-4"))
    assert SOURCE.parse(path).set_index(ROW).loc[4, REJECT] == "out_of_range"


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = _edit(_edit(read_fixture_text(CUT), 0, "Country Code", "QQQ"), 0, "Country", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / "x.csv.gz", text))
    SOURCE.to_observations(parsed, ctx)
    row = parsed.set_index(ROW).loc[3]
    assert row[REJECT] == "unknown_country" and "QQQ" in row["_reject_detail"]


def test_point_far_outside_the_country_is_quarantined(tmp_path, ctx):
    text = _edit(_edit(read_fixture_text(CUT), 2, "latitude", "0.0"), 2, "longitude", "0.0")
    parsed = SOURCE.parse(write_like(tmp_path / "x.csv.gz", text))
    SOURCE.to_observations(parsed, ctx)
    assert parsed.set_index(ROW).loc[5, REJECT] == "outside_admin1"


def test_duplicate_location_is_quarantined(tmp_path):
    rows = rows_of(read_fixture_text(CUT))
    rows.append(list(rows[2]))
    parsed = SOURCE.parse(write_like(tmp_path / "x.csv.gz", to_csv_text(rows)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 3" in last["_reject_detail"]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "x.csv.gz", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = _edit(read_fixture_text(CUT), 3, "village_idp_settlement_name", "Côte")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "x.csv.gz", text, encoding="cp1252"))
    assert err.value.row == 6 and "UTF-8" in str(err.value)


def test_non_xlsx_file_is_a_clear_error(tmp_path):
    path = tmp_path / "ssd-dtm-mobility-tracking-r16-baseline-assessment-dataset_x.xlsx"
    path.write_bytes(b"Country,Country Code\nSouth Sudan,SSD\n")
    with pytest.raises(ContractError, match="not a readable .xlsx"):
        SOURCE.parse(path)
