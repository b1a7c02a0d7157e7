"""OCHA FTS reader on a 37-row cut of the real file: multi-country plans, pledge years, coverage."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source, ocha_fts
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "ocha_fts" / "fts_requirements_funding_global.csv"
SOURCE = get_source("ocha_fts")


@pytest.fixture(autouse=True)
def _pin_current_year(monkeypatch):
    """The file was published in 2026; pin 'now' so the pledge-year rule gives stable results."""
    monkeypatch.setattr(ocha_fts, "current_year", lambda: 2026)


def _obs(ctx, path=CUT):
    parsed = SOURCE.parse(path)
    return parsed, SOURCE.to_observations(parsed, ctx)


def _values(obs):
    return obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])["value"]


def test_single_country_plans_and_funding_sum_to_country_year(ctx):
    _, obs = _obs(ctx)
    got = _values(obs)
    # AFG 2024: HNRP requirements; funding = plan 1,584,153,596 + 'Not specified' 112,223,223
    assert got[("AFG", "response.fts_requirements_usd", 2024)] == 3059587797
    assert got[("AFG", "response.fts_funding_usd", 2024)] == 1584153596 + 112223223
    assert got[("AFG", "response.fts_coverage_pct", 2024)] == pytest.approx(1584153596 / 3059587797 * 100)
    # COD 2020: HRP + share of the multi-country GHRP famine plan (funding only) + outside plans
    assert got[("COD", "response.fts_requirements_usd", 2020)] == 2069134820
    assert got[("COD", "response.fts_funding_usd", 2020)] == 866481462 + 7000000 + 311441379
    assert got[("COD", "response.fts_coverage_pct", 2020)] == pytest.approx(866481462 / 2069134820 * 100)
    # UKR 2022: requirements 0 and no funding row: requirements observed, no coverage
    assert got[("UKR", "response.fts_requirements_usd", 2022)] == 0
    assert ("UKR", "response.fts_coverage_pct", 2022) not in got.index
    assert not obs.duplicated(["region_id", "period_start", "indicator"]).any()


def test_multi_country_plan_requirements_are_not_counted(ctx):
    parsed, obs = _obs(ctx)
    got = _values(obs)
    # RMRP 2026 (plan 1525) covers 17 countries: Colombia gets its funding, never the requirements
    assert got[("COL", "response.fts_funding_usd", 2026)] == 13574098
    assert ("COL", "response.fts_requirements_usd", 2026) not in got.index
    assert (
        not obs["indicator"]
        .eq("response.fts_requirements_usd")
        .loc[obs.period_start.map(lambda d: d.year) == 2026]
        .any()
    )
    assert int(parsed["_multi_country"].sum()) == 17 + 3


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed, obs = _obs(ctx)
    reasons = rejected(parsed).set_index(ROW)[REJECT].to_dict()
    assert reasons == {
        2: "out_of_scope",
        3: "out_of_scope",
        38: "out_of_scope",  # 2028, 2027, 2031 pledges
        7: "out_of_scope",
        12: "out_of_scope",
        13: "out_of_scope",
        19: "out_of_scope",
        22: "out_of_scope",  # RMRP, no funding
        23: "missing_value",
        24: "missing_value",
        25: "missing_value",
        26: "missing_value",
        27: "missing_value",
        29: "missing_value",  # 'Not specified' rows with nothing in them
        28: "out_of_range",  # TUR 2017 negative funding
    }
    assert "after the current year 2026" in parsed.loc[parsed[ROW] == 38, REJECT_DETAIL].item()
    assert "covers several countries" in parsed.loc[parsed[ROW] == 7, REJECT_DETAIL].item()
    assert len(parsed) == 37


def test_missing_column_names_file_and_column(tmp_path):
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "f.csv", drop_column(read_fixture_text(CUT), "funding")))
    assert err.value.column == "funding" and "f.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "f.csv", set_cell(read_fixture_text(CUT), 2, "requirements", "3bn"))
    )
    row = parsed[parsed[ROW] == 4].iloc[0]
    assert row[REJECT] == "invalid_number" and "'3bn' is not a number" in row[REJECT_DETAIL]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    parsed, _ = _obs(
        ctx, write_like(tmp_path / "f.csv", set_cell(read_fixture_text(CUT), 2, "countryCode", "QQQ"))
    )
    row = parsed[parsed[ROW] == 4].iloc[0]
    assert row[REJECT] == "unknown_country" and "'QQQ'" in row[REJECT_DETAIL]


def test_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "f.csv", duplicate_row(read_fixture_text(CUT), 2)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 4" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "f.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    # the real file has UTF-8 French plan names ("République Démocratique du Congo ...")
    text = read_fixture_text(CUT)
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "f.csv", text, encoding="cp1252"))
    assert err.value.row == 33 and "UTF-8" in str(err.value)
