"""UCDP battle deaths reader on a 30-row cut of the real dyadic file, plus malformed variants built from
it."""

from __future__ import annotations

import datetime as dt

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.loader import validate
from etl.sources import get_source
from tests.conftest import FIXTURES, RAW_DIR
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "ucdp_brd" / "BattleDeaths_v24_1_cut.csv"
SOURCE = get_source("ucdp_brd")
Y2016 = dt.date(2016, 1, 1)


def _values(parsed, ctx):
    obs = validate(SOURCE, parsed, SOURCE.to_observations(parsed, ctx))
    return obs.set_index(["region_id", "period_start", "indicator"])["value"]


def test_multi_country_dyads_are_split_equally_and_summed(ctx):
    parsed = SOURCE.parse(CUT)
    assert len(parsed) == 30
    got = _values(parsed, ctx)
    # Syria 2016: dyads 14620 (652: 10,903), 14784 (652: 152), 11973 (652: 32,595), 14741 ("663, 652": 34),
    # 14701 ("645, 652, 640": 1,107) and 524 ("211, 645, 620, 652": 9,775)
    assert got[("SYR", Y2016, "conflict.battle_deaths")] == pytest.approx(
        10_903 + 152 + 32_595 + 34 / 2 + 1_107 / 3 + 9_775 / 4
    )
    assert got[("JOR", Y2016, "conflict.battle_deaths")] == 17
    assert got[("BEL", Y2016, "conflict.battle_deaths_high")] == pytest.approx(
        float(parsed.loc[parsed["dyad_id"] == "524", "bd_high"].item()) / 4
    )
    # the split conserves deaths: the sum over countries equals the sum over dyads
    obs = SOURCE.to_observations(parsed, ctx)
    best = obs[obs["indicator"] == "conflict.battle_deaths"]["value"].sum()
    assert best == pytest.approx(parsed["_bd_best"].sum())


def test_every_row_is_loaded_or_rejected(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    assert rejected(parsed).empty


def test_real_file_syria_dyad_2016_published_value():
    """BattleDeaths_v24_1.csv, dyad 11973 (Government of Syria - Syrian insurgents), 2016: bd_best 32,595."""
    parsed = SOURCE.parse(RAW_DIR / "ucdp_country_year" / "BattleDeaths_v24_1.csv")
    row = parsed[(parsed["dyad_id"] == "11973") & (parsed["_year"] == 2016)]
    assert row["_bd_best"].item() == 32_595 and parsed[REJECT].isna().all() and len(parsed) == 1920


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "BattleDeaths_x.csv", drop_column(read_fixture_text(CUT), "gwno_battle"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "gwno_battle" and "BattleDeaths_x.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "b.csv", set_cell(read_fixture_text(CUT), 0, "bd_best", "27?"))
    )
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "invalid_number" and "'27?' is not a number" in row[REJECT_DETAIL]


def test_negative_deaths_are_out_of_range(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "b.csv", set_cell(read_fixture_text(CUT), 0, "bd_low", "-1")))
    assert parsed.set_index(ROW).loc[2, REJECT] == "out_of_range"


def test_malformed_code_list_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "b.csv", set_cell(read_fixture_text(CUT), 0, "gwno_battle", "750; 770"))
    )
    assert parsed.set_index(ROW).loc[2, REJECT] == "invalid_code"


def test_unknown_country_quarantines_the_whole_dyad_year(tmp_path, ctx):
    parsed = SOURCE.parse(
        write_like(tmp_path / "b.csv", set_cell(read_fixture_text(CUT), 0, "gwno_battle", "750, 999"))
    )
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "unknown_country" and "code(s) 999 of '750, 999'" in row[REJECT_DETAIL]


def test_duplicate_dyad_year_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "b.csv", duplicate_row(read_fixture_text(CUT), 0)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 2" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "b.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 3, "side_b", "Frente Farabundo Martí")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "b.csv", text, encoding="cp1252"))
    assert err.value.row == 5 and "UTF-8" in str(err.value)
