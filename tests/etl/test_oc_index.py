"""Organized Crime Index reader on cuts of both editions (2021 names lack 'avg'), plus malformed variants."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like

CUT_2021 = FIXTURES / "oc_index" / "global_oc_index_2021_cut.csv"
CUT_2023 = FIXTURES / "oc_index" / "global_oc_index_2023_cut.csv"
SOURCE = get_source("oc_index")


def _row(parsed, line):
    return parsed[parsed[ROW] == line].iloc[0]


def _both(ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    parsed = pd.concat([SOURCE.parse(CUT_2021), SOURCE.parse(CUT_2023)], ignore_index=True)
    return parsed, SOURCE.to_observations(parsed, ctx)


def test_cuts_map_to_published_scores_at_edition_year(ctx):
    _, obs = _both(ctx)
    got = obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])["value"]
    assert got[("TUR", "trafficking.oc_human_trafficking", 2021)] == 7.0
    assert got[("TUR", "trafficking.oc_human_smuggling", 2021)] == 9.0
    assert got[("TUR", "structural.oc_criminality", 2021)] == 6.89  # 2021 column 'Criminality'
    assert got[("TUR", "detection.oc_resilience", 2021)] == 3.54  # 2021 column 'Resilience'
    assert got[("AFG", "trafficking.oc_human_trafficking", 2023)] == 9.0
    assert got[("AFG", "structural.oc_criminality", 2023)] == 7.1  # 2023 column 'Criminality avg'
    assert got[("AFG", "detection.oc_resilience", 2023)] == 1.5
    # 'Korea, DPR', 'Congo, Dem, Rep,' (2023 commas), 'St, Lucia'
    assert got[("PRK", "trafficking.oc_human_trafficking", 2023)] == 8.5
    assert got[("COD", "structural.oc_criminality", 2023)] == 7.35
    assert ("LCA", "trafficking.oc_human_trafficking", 2023) in got.index


def test_every_row_is_loaded(ctx):
    parsed, obs = _both(ctx)
    assert len(parsed) == 20 + 19 and rejected(parsed).empty
    assert len(obs) == len(parsed) * len(SOURCE.indicators)


def test_folder_with_both_editions_is_found(tmp_path):
    (tmp_path / SOURCE.folder).mkdir()
    for cut in (CUT_2021, CUT_2023):
        shutil.copy(cut, tmp_path / SOURCE.folder / cut.name.replace("_cut", ""))
    assert [p.name for p in SOURCE.paths(tmp_path)] == [
        "global_oc_index_2021.csv",
        "global_oc_index_2023.csv",
    ]


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(
        tmp_path / "global_oc_index_2023.csv", drop_column(read_fixture_text(CUT_2023), "Human trafficking")
    )
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "Human trafficking" and "global_oc_index_2023.csv" in str(err.value)


def test_file_name_without_edition_is_a_contract_error(tmp_path):
    with pytest.raises(ContractError, match="edition year"):
        SOURCE.parse(write_like(tmp_path / "global_oc_index.csv", read_fixture_text(CUT_2023)))


def test_text_and_out_of_scale_scores_are_quarantined(tmp_path):
    text = set_cell(
        set_cell(read_fixture_text(CUT_2021), 0, "Human trafficking", "high"), 1, "Resilience", "0"
    )
    parsed = SOURCE.parse(write_like(tmp_path / "global_oc_index_2021.csv", text))
    assert (
        _row(parsed, 2)[REJECT] == "invalid_number"
        and "'high' is not a number" in _row(parsed, 2)[REJECT_DETAIL]
    )
    assert (
        _row(parsed, 3)[REJECT] == "out_of_range" and "below the minimum 1" in _row(parsed, 3)[REJECT_DETAIL]
    )


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = set_cell(read_fixture_text(CUT_2021), 0, "Country", "Atlantis")
    parsed = SOURCE.parse(write_like(tmp_path / "global_oc_index_2021.csv", text))
    SOURCE.to_observations(parsed, ctx)
    assert _row(parsed, 2)[REJECT] == "unknown_country" and "Atlantis" in _row(parsed, 2)[REJECT_DETAIL]


def test_duplicate_country_is_quarantined(tmp_path, ctx):
    parsed = SOURCE.parse(
        write_like(tmp_path / "global_oc_index_2021.csv", duplicate_row(read_fixture_text(CUT_2021), 0))
    )
    SOURCE.to_observations(parsed, ctx)
    last = _row(parsed, parsed[ROW].max())
    assert last[REJECT] == "duplicate" and "first at row 2" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "global_oc_index_2021.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    text = set_cell(read_fixture_text(CUT_2021), 3, "Region", "Amérique")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "global_oc_index_2021.csv", text, encoding="cp1252"))
    assert err.value.row == 5 and "UTF-8" in str(err.value)
