"""GLOTIP reader on a 43-row cut of the real file, plus malformed variants built from that cut."""

from __future__ import annotations

import pytest

from etl.contract import REJECT, ROW, ContractError
from etl.sources import get_source
from etl.sources.unodc_glotip import parse_count
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "unodc_glotip" / "glotip_cut_2023-05-30.csv"
SOURCE = get_source("unodc_glotip")


def test_parse_count_handles_thousands_and_censoring():
    import pandas as pd

    value, censored, bad = parse_count(pd.Series(["1,269", "<5", "12", "abc", "-3"]))
    assert value.tolist()[:3] == [1269.0, 5.0, 12.0]
    assert censored.tolist() == [False, True, False, False, False]
    assert bad.tolist() == [False, False, False, True, True]


def test_cut_maps_to_observations_with_published_values(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    assert len(parsed) == 43
    got = obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])["value"]
    assert got[("DEU", "trafficking.victims_detected", 2007)] == 689
    assert got[("NGA", "trafficking.victims_detected", 2016)] == 1017  # "1,017" in the file
    assert got[("DEU", "trafficking.victims_detected.female_minor", 2016)] == 88
    # 'Other forms' sub-forms share a label and are summed; a '<5' part makes the sum censored
    alb = obs[(obs.region_id == "ALB") & (obs.indicator == "trafficking.victims_detected.form.other_forms")]
    assert alb["value"].item() == 5 + 27 + 5 + 5 + 20 and bool(alb["censored"].item())


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    bad = rejected(parsed)
    reasons = bad.set_index(ROW)[REJECT]
    assert set(reasons.unique()) <= {"out_of_scope", "aggregate", "unknown_country", "conflicting_duplicate"}
    # UNODC's own region code with an empty name is an aggregate, Sark has no ISO3 code
    assert (reasons == "aggregate").sum() == 2
    assert (reasons == "unknown_country").sum() == 1
    # Bolivia 2017 female total appears twice with 62 and 43: ambiguous, both quarantined
    assert (reasons == "conflicting_duplicate").sum() == 2
    assert parsed[REJECT].isna().sum() + len(bad) == len(parsed)


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "glotip_x_2023-05-30.csv", drop_column(read_fixture_text(CUT), "txtVALUE"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "txtVALUE" and "glotip_x_2023-05-30.csv" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    path = write_like(
        tmp_path / "glotip_x_2023-05-30.csv", set_cell(read_fixture_text(CUT), 0, "txtVALUE", "about 600")
    )
    parsed = SOURCE.parse(path)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "invalid_number"
    assert "'about 600' is not a count" in row["_reject_detail"]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 0, "Iso3_code", "QQQ"), 0, "Country", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / "glotip_x_2023-05-30.csv", text))
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row["_reject_detail"]


def test_exact_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "glotip_x_2023-05-30.csv", duplicate_row(read_fixture_text(CUT), 0))
    )
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "row 2" in last["_reject_detail"]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "glotip_x_2023-05-30.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 4, "Country", "Côte d’Ivoire")
    path = write_like(tmp_path / "glotip_x_2023-05-30.csv", text, encoding="cp1252")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.row == 6 and "UTF-8" in str(err.value)
