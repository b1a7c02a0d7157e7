"""UCDP GED reader: a 42-row cut of the real Nigeria file (HDX layout, 53 columns, gzip), malformed variants
built from it, and checks on the six real files shipped in data/raw."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.loader import prepare, validate
from etl.sources import get_source
from tests.conftest import FIXTURES, RAW_DIR
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "ucdp_ged" / "ged_hdx_nigeria_cut.csv.gz"
SOURCE = get_source("ucdp_ged")
KADUNA, BORNO = "NGA-2864", "NGA-2839"
MARCH_2014 = dt.date(2014, 3, 1)


def _obs(parsed, ctx):
    obs = SOURCE.to_observations(parsed, ctx)
    return obs.set_index(["region_id", "period_type", "period_start", "indicator"])["value"]


def test_cut_aggregates_events_to_admin1_month_and_year(ctx):
    parsed = SOURCE.parse(CUT)
    assert len(parsed) == 42
    got = _obs(parsed, ctx)
    # Kaduna, March 2014: three non-state events (ids 129182, 156547, 156548), best 51 + 26 + 25, high 73 each
    assert got[(KADUNA, "month", MARCH_2014, "conflict.ged_events.non_state")] == 3
    assert got[(KADUNA, "month", MARCH_2014, "conflict.ged_deaths_best.non_state")] == 102
    assert got[(KADUNA, "month", MARCH_2014, "conflict.ged_deaths_high.non_state")] == 219
    assert got[(KADUNA, "month", MARCH_2014, "conflict.ged_deaths_best")] == 102
    assert got[(KADUNA, "year", dt.date(2014, 1, 1), "conflict.ged_deaths_best")] == 102
    # no state-based or one-sided event in Kaduna: zero cells are not emitted
    assert (KADUNA, "month", MARCH_2014, "conflict.ged_events.one_sided") not in got.index
    # Borno, March 2014, one-sided violence: the 11 type-3 events of the cut located in Borno
    assert got[(BORNO, "month", MARCH_2014, "conflict.ged_events.one_sided")] == 11
    assert got[(BORNO, "month", MARCH_2014, "conflict.ged_deaths_best.one_sided")] == (
        52 + 39 + 29 + 7 + 17 + 11 + 24 + 32 + 2 + 4 + 2
    )
    assert (got > 0).all()


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    obs = validate(SOURCE, parsed, SOURCE.to_observations(parsed, ctx))
    bad = rejected(parsed)
    # event 195100 (2015-05-11, best 250) is located only to the country (where_prec 6)
    assert bad[REJECT].tolist() == ["imprecise_location"]
    assert parsed.loc[parsed[REJECT].notna(), "id"].tolist() == ["195100"]
    loaded = parsed[parsed[REJECT].isna()]
    assert len(loaded) + len(bad) == len(parsed)
    # every loaded event is counted once in the monthly and once in the yearly totals
    events = obs[obs["indicator"] == "conflict.ged_events"]
    assert events.groupby("period_type")["value"].sum().to_dict() == {"month": 41, "year": 41}
    best = obs[obs["indicator"] == "conflict.ged_deaths_best"]
    assert best.groupby("period_type")["value"].sum().to_dict() == {
        "month": loaded["_best"].sum(),
        "year": loaded["_best"].sum(),
    }


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / "ged_x.csv.gz", drop_column(read_fixture_text(CUT), "latitude"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "latitude" and "ged_x.csv.gz" in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "ged_x.csv.gz", set_cell(read_fixture_text(CUT), 0, "best", "many"))
    )
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "invalid_number" and "column 'best': 'many' is not a number" in row[REJECT_DETAIL]


def test_negative_deaths_and_bad_codes_are_out_of_range(tmp_path):
    text = set_cell(read_fixture_text(CUT), 0, "low", "-2")
    text = set_cell(text, 1, "type_of_violence", "4")
    text = set_cell(text, 2, "latitude", "95")
    parsed = SOURCE.parse(write_like(tmp_path / "ged_x.csv.gz", text))
    reasons = parsed.set_index(ROW)[REJECT]
    assert reasons[2] == reasons[3] == reasons[4] == "out_of_range"


def test_bad_date_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "ged_x.csv.gz", set_cell(read_fixture_text(CUT), 0, "date_start", "31/03/2014"))
    )
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "invalid_date" and "'31/03/2014'" in row[REJECT_DETAIL]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 0, "country_id", "999"), 0, "country", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / "ged_x.csv.gz", text))
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert (
        row[REJECT] == "unknown_country"
        and "'999'" in row[REJECT_DETAIL]
        and "Atlantis" in row[REJECT_DETAIL]
    )


def test_unknown_gw_code_falls_back_to_country_name(tmp_path, ctx):
    parsed = SOURCE.parse(
        write_like(tmp_path / "ged_x.csv.gz", set_cell(read_fixture_text(CUT), 0, "country_id", ""))
    )
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert pd.isna(row[REJECT]) and row["_iso3"] == "NGA" and row["_region_id"] == BORNO


def test_point_in_a_neighbour_country_is_not_credited_to_it(tmp_path, ctx):
    # Niamey (Niger), given as a Nigerian event: more than the tolerance from every Nigerian state
    text = set_cell(set_cell(read_fixture_text(CUT), 0, "latitude", "13.51"), 0, "longitude", "2.11")
    parsed = SOURCE.parse(write_like(tmp_path / "ged_x.csv.gz", text))
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "outside_country"
    km = float(row[REJECT_DETAIL].split(" is ")[1].split(" km")[0])
    assert 50 < km < 200 and "NGA" in row[REJECT_DETAIL]


def test_exact_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "ged_x.csv.gz", duplicate_row(read_fixture_text(CUT), 0)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "129104" in last[REJECT_DETAIL] and "row 2" in last[REJECT_DETAIL]


def test_same_event_in_two_files_loads_once(tmp_path, ctx):
    a = write_like(tmp_path / "ged_a.csv.gz", read_fixture_text(CUT))
    b = write_like(tmp_path / "ged_b.csv.gz", read_fixture_text(CUT))
    parsed, obs = prepare(SOURCE, [a, b], ctx)
    second = parsed[parsed["_file"] == "ged_b.csv.gz"]
    assert (second[REJECT] == "duplicate").sum() == 41  # the 42nd is imprecise in both files
    assert "first at ged_a.csv.gz row 2" in second.iloc[0][REJECT_DETAIL]
    events = obs[(obs["indicator"] == "conflict.ged_events") & (obs["period_type"] == "year")]
    assert events["value"].sum() == 41


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "ged_x.csv.gz", ""))


def test_wrong_encoding_names_row(tmp_path):
    # data row 2 = line 4: before the first record whose quoted source text spans several lines, where the
    # line number of a decoding error (physical lines) and _row (records) would no longer agree
    text = set_cell(read_fixture_text(CUT), 2, "where_description", "Gwoza – Borno")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "ged_x.csv.gz", text, encoding="cp1252"))
    assert err.value.row == 4 and "UTF-8" in str(err.value)


@pytest.fixture(scope="module")
def real(regions_engine):
    """All six shipped GED files through the loader's own parse-and-map step."""
    from etl.context import MappingContext

    ctx = MappingContext(raw_dir=RAW_DIR, engine=regions_engine)
    parsed, obs = prepare(SOURCE, SOURCE.paths(RAW_DIR), ctx)
    return parsed, validate(SOURCE, parsed, obs), ctx


def test_syria_2016_best_matches_source_md(real):
    """SOURCE.md: Syria 2016, sum of `best` = 48,710 (GED 19.1 Syria release)."""
    parsed, obs, ctx = real
    syria = parsed[parsed["_file"] == "ged191_syria_2016_2019.csv.gz"]
    in_2016 = syria["_date"].dt.year == 2016
    assert syria.loc[in_2016, "_best"].sum() == 48_710
    syr_units = set(
        ctx.regions.loc[(ctx.regions["iso3"] == "SYR") & (ctx.regions["level"] == 1), "region_id"]
    )
    loaded = obs[
        (obs["region_id"].isin(syr_units))
        & (obs["period_type"] == "year")
        & (obs["period_start"] == dt.date(2016, 1, 1))
        & (obs["indicator"] == "conflict.ged_deaths_best")
    ]
    imprecise = syria.loc[in_2016 & (syria[REJECT] == "imprecise_location"), "_best"].sum()
    assert loaded["value"].sum() + imprecise == 48_710


def test_at_least_99_percent_of_located_events_land_in_their_own_country(real):
    parsed, obs, ctx = real
    located = parsed[~parsed["_where_prec"].isin([6, 7])]
    unit_iso3 = located["_region_id"].map(ctx.regions.set_index("region_id")["iso3"])
    share = (unit_iso3 == located["_iso3"]).mean()
    assert share >= 0.99, share
    assert (parsed[REJECT].isna() | parsed[REJECT].isin(["imprecise_location", "outside_country"])).all()
    # monthly cells add up to the yearly cells
    totals = obs[obs["indicator"] == "conflict.ged_deaths_best"].groupby("period_type")["value"].sum()
    assert totals["month"] == totals["year"]
