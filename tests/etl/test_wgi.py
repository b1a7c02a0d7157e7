"""WGI reader on a 22-row cut of the real (gzip) file: estimates, standard errors, WB code oddities."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "wgi" / "wgi_1996_2023_long.csv.gz"
SOURCE = get_source("wgi")


def _obs(ctx, path=CUT):
    parsed = SOURCE.parse(path)
    return parsed, SOURCE.to_observations(parsed, ctx)


def test_cut_maps_to_published_values(ctx):
    parsed, obs = _obs(ctx)
    got = obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])["value"]
    assert got[("SYR", "structural.wgi_rl", 2023)] == pytest.approx(
        -2.03518009185791
    )  # "Syria rl 2023 = -2.04"
    assert got[("SYR", "structural.wgi_rl_se", 2023)] == pytest.approx(0.192640483379364)
    assert got[("AFG", "structural.wgi_pv", 2023)] == pytest.approx(-2.4840805530548096)
    # World Bank's non-ISO codes
    assert ("ROU", "structural.wgi_cc", 1996) in got.index and ("COD", "structural.wgi_cc", 1996) in got.index
    assert ("XKX", "structural.wgi_cc", 2020) in got.index and ("PSE", "structural.wgi_cc", 2020) in got.index
    assert ("AND", "structural.wgi_cc", 2020) in got.index
    assert not obs.duplicated(["region_id", "period_start", "indicator"]).any()


def test_missing_values_and_historical_codes_are_rejected(ctx):
    parsed, obs = _obs(ctx)
    reasons = rejected(parsed).set_index(ROW)[REJECT].to_dict()
    # '..' rows (ASM 1996, TMP 2000, ANT 1996) are missing; ANT 2008 has values but no present-day region
    assert reasons == {11: "missing_value", 15: "missing_value", 16: "missing_value", 17: "historical_entity"}
    assert len(obs) == 2 * (len(parsed) - len(reasons))


def test_missing_column_names_file_and_column(tmp_path):
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "wgi_x.csv.gz", drop_column(read_fixture_text(CUT), "estimate")))
    assert err.value.column == "estimate" and "wgi_x.csv.gz" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    text = set_cell(read_fixture_text(CUT), 0, "estimate", "weak")
    parsed = SOURCE.parse(write_like(tmp_path / "wgi_x.csv.gz", text))
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "invalid_number" and "'weak' is not a number" in row[REJECT_DETAIL]


def test_estimate_outside_scale_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "wgi_x.csv.gz", set_cell(read_fixture_text(CUT), 0, "estimate", "42"))
    )
    assert parsed.loc[parsed[ROW] == 2, REJECT].item() == "out_of_range"


def test_unknown_dimension_is_out_of_scope(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "wgi_x.csv.gz", set_cell(read_fixture_text(CUT), 0, "indicator", "xx"))
    )
    assert parsed.loc[parsed[ROW] == 2, REJECT].item() == "out_of_scope"


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 0, "code", "QQQ"), 0, "countryname", "Atlantis")
    parsed, _ = _obs(ctx, write_like(tmp_path / "wgi_x.csv.gz", text))
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "wgi_x.csv.gz", duplicate_row(read_fixture_text(CUT), 1)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "first at row 3" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "wgi_x.csv.gz", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 11, "countryname", "Congo, Rép. dém.")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "wgi_x.csv.gz", text, encoding="cp1252"))
    assert err.value.row == 13 and "UTF-8" in str(err.value)
