"""IDMC GIDD located figures (2023) -> admin-1, on a 32-row cut of the real file, plus malformed variants."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from etl.sources.idmc_located import explode_locations
from tests.conftest import FIXTURES, RAW_DIR
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT = FIXTURES / "idmc_located" / "idmc_gidd_disaggregated_cut.csv.gz"
SOURCE = get_source("idmc_located")
NAME = "idmc_gidd_disaggregated_x.csv.gz"
FLOW = "displacement.idmc_new_displacements_located"
STOCK = "displacement.idmc_idps_located"


def _values(obs):
    return obs.set_index(["region_id", "indicator"])["value"]


def _row(parsed, line):
    return parsed[parsed[ROW] == line].iloc[0]


def test_explode_locations_splits_pairs():
    frame = pd.DataFrame(
        {
            "Locations coordinates": ["9.5, 28.4; 9.3, 28.5", "x, y", "10, 20"],
            "Locations accuracy": ["ADM1; ADM3", "Point", "Country/territory (AM0)"],
        }
    )
    loc = explode_locations(frame)
    assert loc["row"].tolist() == [0, 0, 1, 2]
    assert loc["n"].tolist() == [2, 2, 1, 1]
    assert loc["lat"].tolist()[:2] == [9.5, 9.3] and loc["lon"].tolist()[:2] == [28.4, 28.5]
    assert loc["usable"].tolist() == [True, True, False, True]
    assert loc["country_level"].tolist() == [False, False, False, True]


def test_cut_is_placed_in_admin1_units(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    assert len(parsed) == 32
    got = _values(obs)
    assert (obs["period_start"].map(lambda d: d.year) == 2023).all() and set(obs["period_type"]) == {"year"}
    # Sudan, conflict IDPs at end-2023 at state level (ADM1 centroids): North Darfur 794,031
    assert got[("SDN-5859", f"{STOCK}.conflict")] == 794_031
    # a two-place figure (630) split equally; both halves fall in South Kordofan
    assert got[("SDN-882", f"{FLOW}.conflict")] == 630
    # a five-place figure (11,000): four places in one unit, one in another -> 8,800 and 2,200
    assert got[("AFG-1754", f"{FLOW}.disaster")] == pytest.approx(8_800)
    # Okinawa's centroid is 25 km off the simplified polygon: nearest-polygon fallback within 50 km
    assert got[("JPN-3502", f"{FLOW}.disaster")] == 914
    # Reunion (IDMC 'REU') is a French admin-1 unit in Natural Earth
    assert got[("FRA-4601", f"{FLOW}.disaster")] == 80
    assert obs["region_id"].isin(ctx.regions.loc[ctx.regions["level"] == 1, "region_id"]).all()
    assert not obs.duplicated(["region_id", "period_start", "period_type", "indicator"]).any()


def test_every_row_is_loaded_or_rejected_with_reason(ctx):
    parsed = SOURCE.parse(CUT)
    SOURCE.to_observations(parsed, ctx)
    reasons = rejected(parsed).set_index(ROW)[REJECT]
    assert reasons.to_dict() == {
        2: "disputed_area",
        3: "disputed_area",  # Abyei
        6: "missing_location",
        7: "missing_location",
        12: "missing_location",
        13: "missing_location",  # AM0
        32: "outside_country",
        33: "outside_country",  # Crimea: a RUS polygon in Natural Earth, figure is UKR
    }
    assert "whole country (AM0)" in _row(parsed, 6)[REJECT_DETAIL]
    assert "UKR by more than 50 km" in _row(parsed, 32)[REJECT_DETAIL]
    assert parsed[REJECT].isna().sum() + len(reasons) == len(parsed)


def test_partly_placed_figure_loads_the_placed_share(tmp_path, ctx):
    # move one of the two South Kordofan places of line 25 into the sea, far from Sudan
    text = set_cell(read_fixture_text(CUT), 23, "Locations coordinates", "10.83265, 29.350719; -40.0, -30.0")
    parsed = SOURCE.parse(write_like(tmp_path / NAME, text))
    got = _values(SOURCE.to_observations(parsed, ctx))
    assert pd.isna(_row(parsed, 25)[REJECT])
    assert got[("SDN-882", f"{FLOW}.conflict")] == 315  # half of 630; the unplaced half is dropped


def test_real_file_sudan_total_matches_idmc_national_figure(ctx):
    parsed = SOURCE.parse(RAW_DIR / "idmc_gidd" / "idmc_gidd_disaggregated_2023.csv.gz")
    obs = SOURCE.to_observations(parsed, ctx)
    sudan = obs[obs["region_id"].str.startswith("SDN-") & (obs["indicator"] == f"{STOCK}.conflict")]
    # IDMC GRID 2024: 9,053,000 people displaced by conflict in Sudan at end-2023 (unrounded 9,052,822)
    assert sudan["value"].sum() == pytest.approx(9_052_822)
    assert parsed[REJECT].isna().mean() > 0.97


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / NAME, drop_column(read_fixture_text(CUT), "Locations coordinates"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "Locations coordinates" and NAME in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / NAME, set_cell(read_fixture_text(CUT), 2, "Total figures", "many"))
    )
    row = _row(parsed, 4)
    assert row[REJECT] == "invalid_number" and "'many' is not a number" in row[REJECT_DETAIL]


def test_bad_coordinates_are_missing_location(tmp_path):
    text = set_cell(read_fixture_text(CUT), 12, "Locations coordinates", "north of Gambela")
    row = _row(SOURCE.parse(write_like(tmp_path / NAME, text)), 14)
    assert row[REJECT] == "missing_location" and "no valid 'lat, lon'" in row[REJECT_DETAIL]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(set_cell(read_fixture_text(CUT), 12, "ISO3", "QQQ"), 12, "Country", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / NAME, text))
    SOURCE.to_observations(parsed, ctx)
    row = _row(parsed, 14)
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_point_in_another_country_is_outside_country(tmp_path, ctx):
    # an Ethiopian figure whose only place is in Nairobi: never credited to Kenya
    text = set_cell(read_fixture_text(CUT), 12, "Locations coordinates", "-1.286389, 36.817223")
    parsed = SOURCE.parse(write_like(tmp_path / NAME, text))
    SOURCE.to_observations(parsed, ctx)
    assert _row(parsed, 14)[REJECT] == "outside_country"


def test_exact_duplicate_row_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / NAME, duplicate_row(read_fixture_text(CUT), 12)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "row 14" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / NAME, ""))


def test_wrong_encoding_names_row(tmp_path):
    # the file holds Arabic place names that cp1252 cannot encode: splice cp1252 bytes into UTF-8 instead
    data = set_cell(read_fixture_text(CUT), 4, "Country", "@@CELL@@").encode("utf-8")
    path = tmp_path / NAME
    path.write_bytes(gzip.compress(data.replace(b"@@CELL@@", "Côte d’Ivoire".encode("cp1252"))))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.row == 6 and "UTF-8" in str(err.value)
