"""Democracy scores (peacesciencer) on a 28-row cut: GW codes, years >= 1946, successor-state clashes."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "democracy" / "peacesciencer_gwcode_democracy.csv"
SOURCE = get_source("democracy")


def _obs(ctx, path=CUT):
    parsed = SOURCE.parse(path)
    return parsed, SOURCE.to_observations(parsed, ctx)


def test_cut_maps_to_published_values(ctx):
    parsed, obs = _obs(ctx)
    got = obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])["value"]
    assert got[("USA", "structural.vdem_polyarchy", 2000)] == pytest.approx(0.863)
    assert got[("USA", "structural.polity2", 2000)] == 10
    assert got[("SYR", "structural.polity2", 2010)] == -7
    assert got[("XKX", "structural.polity2", 2010)] == 8  # GW 347
    assert ("COD", "structural.polity2", 2018) not in got.index  # blank polity2: no observation, not zero
    assert got[("COD", "structural.vdem_polyarchy", 2018)] == pytest.approx(0.307)
    # successor clashes: the continuing state's score, never a sum
    assert got[("DEU", "structural.polity2", 1980)] == 10  # GW 260, not 260 + 265
    assert got[("YEM", "structural.polity2", 1980)] == -6  # GW 678 (North Yemen)
    assert got[("VNM", "structural.polity2", 1970)] == -7  # GW 816
    assert got[("SRB", "structural.polity2", 2006)] == 8  # GW 340
    assert not obs.duplicated(["region_id", "period_start", "indicator"]).any()


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed, obs = _obs(ctx)
    reasons = rejected(parsed).set_index(ROW)[REJECT].to_dict()
    assert reasons == {
        2: "out_of_scope",
        3: "out_of_scope",
        7: "out_of_scope",
        28: "out_of_scope",
        29: "out_of_scope",  # < 1946
        6: "missing_value",
        21: "missing_value",  # all three scores blank
        10: "out_of_scope",
        11: "out_of_scope",
        13: "out_of_scope",
        17: "out_of_scope",
        19: "out_of_scope",  # clashes
        20: "historical_entity",
        22: "historical_entity",  # Tibet 1947, Zanzibar 1963
    }
    assert "continuing state GW 260" in parsed.loc[parsed[ROW] == 10, REJECT_DETAIL].item()
    assert len(parsed) == 28 and parsed[REJECT].isna().sum() == 28 - len(reasons)


def test_clash_without_continuing_state_rejects_both(ctx, monkeypatch):
    from etl.sources import democracy

    monkeypatch.setattr(
        democracy, "CONTINUING_STATE", {k: v for k, v in democracy.CONTINUING_STATE.items() if k != "VNM"}
    )
    parsed, obs = _obs(ctx)
    vnm = parsed[parsed[ROW].isin([16, 17])]  # GW 816 and 817, both 1970
    assert vnm[REJECT].tolist() == ["conflicting_duplicate"] * 2
    assert "no continuing state" in vnm[REJECT_DETAIL].iloc[0]
    assert not (obs["region_id"] == "VNM").any()


def test_missing_column_names_file_and_column(tmp_path):
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "d.csv", drop_column(read_fixture_text(CUT), "polity2")))
    assert err.value.column == "polity2" and "d.csv" in str(err.value)


def test_text_and_out_of_range_scores_are_quarantined(tmp_path):
    text = set_cell(set_cell(read_fixture_text(CUT), 3, "polity2", "ten"), 2, "v2x_polyarchy", "1.7")
    parsed = SOURCE.parse(write_like(tmp_path / "d.csv", text))
    assert parsed.set_index(ROW).loc[[4, 5], REJECT].tolist() == ["out_of_range", "invalid_number"]


def test_unknown_gw_code_is_quarantined(tmp_path, ctx):
    parsed, _ = _obs(
        ctx, write_like(tmp_path / "d.csv", set_cell(read_fixture_text(CUT), 3, "gwcode", "9999"))
    )
    row = parsed[parsed[ROW] == 5].iloc[0]
    assert row[REJECT] == "unknown_country" and "'9999' is not a known GW code" in row[REJECT_DETAIL]


def test_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "d.csv", duplicate_row(read_fixture_text(CUT), 3)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 5" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "d.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 4, "polity2", "10 – estimated")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "d.csv", text, encoding="cp1252"))
    assert err.value.row == 6 and "UTF-8" in str(err.value)
