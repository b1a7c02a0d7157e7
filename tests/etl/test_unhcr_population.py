"""UNHCR population reader on a 26-row cut of the real file, plus malformed variants built from that cut."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES, RAW_DIR
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "unhcr_population" / "population_cut.csv.gz"
SOURCE = get_source("unhcr_population")


def _values(obs):
    return obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])["value"]


def _row(parsed, line):
    return parsed[parsed[ROW] == line].iloc[0]


def test_cut_feeds_origin_and_host_sides(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    assert len(parsed) == 26
    got = _values(obs)
    # host side sums every origin, 'Unknown' included (file lines 14-18)
    assert got[("DEU", "displacement.refugees_hosted", 2016)] == 46292 + 30020 + 86045 + 375122 + 20910
    assert got[("DEU", "displacement.asylum_seekers_hosted", 2016)] == 126522 + 15400 + 65646 + 100527 + 18117
    # origin side sums every asylum country of the cut
    assert got[("SYR", "displacement.refugees_by_origin", 2016)] == 375122 + 648836 + 1005503 + 96914 + 2823987
    assert got[("SYR", "displacement.idps_unhcr", 2016)] == 6325978
    assert got[("IRQ", "displacement.idps_unhcr", 2016)] == 3604285
    assert got[("ALB", "displacement.stateless_hosted", 2016)] == 4921
    assert got[("MLI", "displacement.returned_refugees", 2016)] == 1043
    assert got[("CHL", "displacement.oip_hosted", 2018)] == 285122
    assert got[("VEN", "displacement.oip_by_origin", 2018)] == 127152 + 39771 + 285122
    # IDPs only where UNHCR reports them (origin = asylum), not zeros for every host
    assert ("DEU", "displacement.idps_unhcr", 2016) not in got.index
    # OIP is blank before 2018: no observation rather than a zero
    assert ("DEU", "displacement.oip_hosted", 2016) not in got.index
    assert not obs["region_id"].isin(["UNK", "XXA", "TIB"]).any()
    assert not obs.duplicated(["region_id", "period_start", "period_type", "indicator"]).any()


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    bad = rejected(parsed)
    # only Unknown -> Unknown (line 5) is unusable on both sides; Stateless/Tibetan/Unknown origins load as host
    assert bad[ROW].tolist() == [5]
    assert bad[REJECT].tolist() == ["not_a_country"]
    assert "origin" in bad[REJECT_DETAIL].iloc[0] and "asylum" in bad[REJECT_DETAIL].iloc[0]
    assert parsed[REJECT].isna().sum() + len(bad) == len(parsed)


def test_real_file_spot_values(ctx):
    parsed = SOURCE.parse(RAW_DIR / "unhcr_refugees" / "population.csv.gz")
    got = _values(SOURCE.to_observations(parsed, ctx))
    # published by UNHCR (Refugee Data Finder): Syrian refugees end-2016 and Syrian IDPs end-2016
    assert got[("SYR", "displacement.refugees_by_origin", 2016)] == 5_524_511
    assert got[("SYR", "displacement.idps_unhcr", 2016)] == 6_325_978


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "population.csv.gz", drop_column(read_fixture_text(CUT), "coa_iso"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "coa_iso" and "population.csv.gz" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    path = write_like(tmp_path / "population.csv.gz", set_cell(read_fixture_text(CUT), 0, "refugees", "about 180k"))
    parsed = SOURCE.parse(path)
    row = _row(parsed, 2)
    assert row[REJECT] == "invalid_number" and "'about 180k' is not a number" in row[REJECT_DETAIL]


def test_negative_count_is_out_of_range(tmp_path):
    path = write_like(tmp_path / "population.csv.gz", set_cell(read_fixture_text(CUT), 1, "stateless", "-4"))
    assert _row(SOURCE.parse(path), 3)[REJECT] == "out_of_range"


def test_dash_and_blank_are_missing_and_all_missing_is_rejected(tmp_path, ctx):
    text = read_fixture_text(CUT)
    for col in ("refugees", "asylum_seekers", "returned_refugees", "idps", "stateless", "oip"):
        text = set_cell(text, 0, col, "-" if col != "oip" else "")
    text = set_cell(text, 12, "refugees", "-")  # Afghanistan -> Germany: refugees missing, asylum-seekers kept
    parsed = SOURCE.parse(write_like(tmp_path / "population.csv.gz", text))
    obs = SOURCE.to_observations(parsed, ctx)
    assert _row(parsed, 2)[REJECT] == "missing_value"
    assert pd.isna(_row(parsed, 14)[REJECT])
    got = _values(obs)
    assert got[("AFG", "displacement.asylum_seekers_by_origin", 2016)] == 126522
    assert ("AFG", "displacement.refugees_by_origin", 2016) not in got.index


def test_unknown_country_is_quarantined_only_when_both_sides_fail(tmp_path, ctx):
    text = read_fixture_text(CUT)
    for col, val in (("coo_iso", "QQQ"), ("coo", "QQQ"), ("coo_name", "Atlantis"),
                     ("coa_iso", "QQR"), ("coa", "QQR"), ("coa_name", "Lemuria")):
        text = set_cell(text, 5, col, val)  # line 7: both sides unknown
    text = set_cell(set_cell(set_cell(text, 6, "coo_iso", "QQQ"), 6, "coo", "QQQ"), 6, "coo_name", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / "population.csv.gz", text))
    obs = SOURCE.to_observations(parsed, ctx)
    both = _row(parsed, 7)
    assert both[REJECT] == "unknown_country"
    assert "Atlantis" in both[REJECT_DETAIL] and "Lemuria" in both[REJECT_DETAIL]
    assert pd.isna(_row(parsed, 8)[REJECT])  # origin unknown, host Angola still counts
    assert _values(obs)[("AGO", "displacement.refugees_hosted", 2016)] == 273


def test_unhcr_code_is_the_fallback_for_a_blank_iso3(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 12, "coo_iso", ""), 12, "coo_name", "")  # AFG -> DEU
    parsed = SOURCE.parse(write_like(tmp_path / "population.csv.gz", text))
    got = _values(SOURCE.to_observations(parsed, ctx))
    assert got[("AFG", "displacement.refugees_by_origin", 2016)] == 46292  # from UNHCR code 'AFG'


def test_exact_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "population.csv.gz", duplicate_row(read_fixture_text(CUT), 0)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "row 2" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "population.csv.gz", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT), 4, "coa_name", "Côte d’Ivoire")
    path = write_like(tmp_path / "population.csv.gz", text, encoding="cp1252")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.row == 6 and "UTF-8" in str(err.value)
