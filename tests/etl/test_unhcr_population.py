"""UNHCR population reader on a 26-row cut of the real file, plus malformed variants built from that cut."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

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
    assert (
        got[("SYR", "displacement.refugees_by_origin", 2016)] == 375122 + 648836 + 1005503 + 96914 + 2823987
    )
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
    # only Unknown -> Unknown (line 5) is unusable on both sides; Stateless/Tibetan/Unknown origins load as
    # host
    assert bad[ROW].tolist() == [5]
    assert bad[REJECT].tolist() == ["not_a_country"]
    assert "origin" in bad[REJECT_DETAIL].iloc[0] and "asylum" in bad[REJECT_DETAIL].iloc[0]
    assert parsed[REJECT].isna().sum() + len(bad) == len(parsed)


def test_real_file_spot_values(ctx):
    parsed = SOURCE.parse(RAW_DIR / "unhcr_population" / "population.csv.gz")
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
    path = write_like(
        tmp_path / "population.csv.gz", set_cell(read_fixture_text(CUT), 0, "refugees", "about 180k")
    )
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
    text = set_cell(
        text, 12, "refugees", "-"
    )  # Afghanistan -> Germany: refugees missing, asylum-seekers kept
    parsed = SOURCE.parse(write_like(tmp_path / "population.csv.gz", text))
    obs = SOURCE.to_observations(parsed, ctx)
    assert _row(parsed, 2)[REJECT] == "missing_value"
    assert pd.isna(_row(parsed, 14)[REJECT])
    got = _values(obs)
    assert got[("AFG", "displacement.asylum_seekers_by_origin", 2016)] == 126522
    assert ("AFG", "displacement.refugees_by_origin", 2016) not in got.index


def test_unknown_country_is_quarantined_only_when_both_sides_fail(tmp_path, ctx):
    text = read_fixture_text(CUT)
    for col, val in (
        ("coo_iso", "QQQ"),
        ("coo", "QQQ"),
        ("coo_name", "Atlantis"),
        ("coa_iso", "QQR"),
        ("coa", "QQR"),
        ("coa_name", "Lemuria"),
    ):
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
    parsed = SOURCE.parse(
        write_like(tmp_path / "population.csv.gz", duplicate_row(read_fixture_text(CUT), 0))
    )
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


# --- origin x asylum pairs (displacement_pair): a second view of the loaded rows


def test_pairs_are_a_second_view_of_loaded_rows_without_non_country_origins(ctx):
    from etl.sources.unhcr_population import pair_frame

    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    pairs, excluded = pair_frame(parsed)
    got = pairs.set_index(["origin_iso3", "asylum_iso3", "year"])
    # file line 17: Syrian Arab Rep. -> Germany, 2016
    assert tuple(got.loc[("SYR", "DEU", 2016), ["refugees", "asylum_seekers"]]) == (375122, 100527)
    assert tuple(got.loc[("VEN", "CHL", 2018), ["refugees", "asylum_seekers"]]) == (9, 3102)
    # Unknown (lines 2-4, 18), Stateless (6, 10, 11) and Tibetan (12, 13) origins give no pair; they still
    # count
    # on the host side of the aggregates. Lines 19 and 23 are IDP rows (origin = asylum).
    assert excluded == {"origin not_a_country": 9, "origin = asylum (IDP rows)": 2}
    assert not got.index.get_level_values("origin_iso3").isin(["UNK", "XXA", "TIB"]).any()
    assert (pairs["origin_iso3"] != pairs["asylum_iso3"]).all()
    loaded = int(parsed[REJECT].isna().sum())
    assert loaded == 25 and len(pairs) + sum(excluded.values()) == loaded  # every loaded row accounted for


def test_blank_refugees_and_asylum_seekers_give_no_pair_but_a_stated_count(tmp_path, ctx):
    from etl.sources.unhcr_population import pair_frame

    text = read_fixture_text(CUT)
    text = set_cell(
        set_cell(text, 6, "refugees", "-"), 6, "asylum_seekers", "-"
    )  # line 8: RWA -> AGO, 10 returned
    text = set_cell(text, 12, "refugees", "")  # line 14: AFG -> DEU, refugees blank, asylum-seekers kept
    parsed = SOURCE.parse(write_like(tmp_path / "population.csv.gz", text))
    SOURCE.to_observations(parsed, ctx)
    pairs, excluded = pair_frame(parsed)
    got = pairs.set_index(["origin_iso3", "asylum_iso3", "year"])
    assert ("RWA", "AGO", 2016) not in got.index and excluded["refugees and asylum-seekers blank"] == 1
    assert np.isnan(got.loc[("AFG", "DEU", 2016), "refugees"])  # blank stays missing, not zero
    assert got.loc[("AFG", "DEU", 2016), "asylum_seekers"] == 126522


def test_load_writes_pairs_in_the_same_load_and_the_real_file_holds_published_values(tmp_path, engine):
    from etl.loader import load_source
    from warehouse.io import read_displacement_pairs
    from warehouse.schema import displacement_pair, source_load

    raw = tmp_path / "raw"
    raw.mkdir()
    for folder in ("natural_earth", "country_codes", "unhcr_population"):
        (raw / folder).symlink_to(RAW_DIR / folder)
    assert load_source(engine, get_source("natural_earth"), raw).status == "loaded"
    result = load_source(engine, SOURCE, raw)
    assert result.status == "loaded", result.error
    pairs = read_displacement_pairs(engine)
    got = pairs.set_index(["origin_iso3", "asylum_iso3", "year"])
    # published by UNHCR (Refugee Data Finder): Syrians in Germany at the end of 2016 and of 2024
    assert tuple(got.loc[("SYR", "DEU", 2016), ["refugees", "asylum_seekers"]]) == (375_122, 100_527)
    assert tuple(got.loc[("SYR", "DEU", 2024), ["refugees", "asylum_seekers"]]) == (725_102, 62_959)
    # the pairs of Syria sum to the origin aggregate of the same load (every asylum country is a country in
    # 2016)
    assert got.xs(("SYR", 2016), level=("origin_iso3", "year"))["refugees"].sum() == 5_524_511
    assert not pairs["origin_iso3"].isin(["UNK", "XXA", "TIB"]).any()
    assert not pairs.duplicated(["origin_iso3", "asylum_iso3", "year"]).any()
    assert read_displacement_pairs(engine, year_from=2020)["year"].min() == 2020
    with engine.connect() as conn:
        load = (
            conn.execute(
                select(source_load).where(
                    source_load.c.source == "unhcr_population", source_load.c.status == "loaded"
                )
            )
            .mappings()
            .one()
        )
        pair_loads = set(conn.execute(select(displacement_pair.c.load_id).distinct()).scalars())
    assert pair_loads == {load["load_id"]}
    assert load["rows_read"] == load["rows_loaded"] + load["rows_rejected"] == 138_893
    assert len(pairs) < load["rows_loaded"]  # a view of loaded rows, never extra rows
