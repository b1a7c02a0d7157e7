"""DTM HDX-visualisation admin-1 snapshot on a 30-row cut: odd country codes/names, partial countries."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, set_cell, write_like

CUT = FIXTURES / "iom_dtm_snapshot" / "dtm_hdx_viz_admin1_idps_snapshot_cut.csv"
SOURCE = get_source("iom_dtm_snapshot")
IDPS = "#affected+idps+ind"


def test_cut_maps_countries_and_units(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    assert len(parsed) == 30
    by = obs.set_index("region_id")["value"]
    assert {d.year for d in obs["period_start"]} == {2020}
    countries = set(obs["region_id"].str.slice(0, 3))
    # 'Mozambiaue' -> MOZ, 'ET' -> ETH, 'Zimbabwe' coded ZMB -> ZWE (its admin-1 names decide)
    assert {"MOZ", "ETH", "ZWE"} <= countries and "ZMB" not in countries
    reasons = parsed.set_index("#adm1+name")[REJECT]
    assert reasons["Menaka"] == "missing_value"
    assert reasons["East"] == "unmatched_admin1" and reasons["Rumonge"] == "unmatched_admin1"
    # both CAF 'Basse-Kotto' rows (same p-code) are summed into one unit
    assert by["CAF-794"] == 187_450 + 4_260
    assert parsed[REJECT].isna().sum() + parsed[REJECT].notna().sum() == len(parsed)


def test_spot_value_badakhshan(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    published = int(parsed.set_index("#adm1+name").loc["Badakhshan", IDPS])
    assert obs.set_index("region_id").loc["AFG-1760", "value"] == published == 95_420


def test_missing_column(tmp_path):
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "s.csv", drop_column(read_fixture_text(CUT), IDPS)))
    assert err.value.column == IDPS


def test_text_in_number_column(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "s.csv", set_cell(read_fixture_text(CUT), 0, IDPS, "many")))
    row = parsed.set_index(ROW).loc[2]
    assert row[REJECT] == "invalid_number" and "'many'" in row[REJECT_DETAIL]


def test_unknown_country(tmp_path, ctx):
    text = set_cell(
        set_cell(read_fixture_text(CUT), 0, "#country+name", "Atlantis"), 0, "#country+code", "QQ"
    )
    parsed = SOURCE.parse(write_like(tmp_path / "s.csv", text))
    SOURCE.to_observations(parsed, ctx)
    row = parsed.set_index(ROW).loc[2]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_duplicate_row(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "s.csv", duplicate_row(read_fixture_text(CUT), 0)))
    assert parsed.set_index(ROW).loc[parsed[ROW].max(), REJECT] == "duplicate"


def test_empty_file(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "s.csv", ""))


def test_wrong_encoding(tmp_path):
    text = set_cell(read_fixture_text(CUT), 1, "#adm1+name", "Extrême-Nord")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "s.csv", text, encoding="cp1252"))
    assert err.value.row == 3
