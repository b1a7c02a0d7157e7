"""GDL SHDI reader on a cut (Afghanistan's 8 GDL regions, 2018-2019, with their real polygons)."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.context import MappingContext
from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, set_cell, write_like

DIR = FIXTURES / "gdl_subnational"
POP = DIR / "ddf--datapoints--pop--by--subnat--year.csv.gz"
HDI = DIR / "ddf--datapoints--shdi--by--subnat--year.csv.gz"
SOURCE = get_source("gdl_subnational")


@pytest.fixture
def gdl_ctx(raw_copy, regions_engine):
    raw = raw_copy(SOURCE.folder, DIR)
    return MappingContext(raw_dir=raw, engine=regions_engine)


def _load(ctx, pop=POP, hdi=HDI):
    parsed = pd.concat([SOURCE.parse(pop), SOURCE.parse(hdi)], ignore_index=True)
    return parsed, SOURCE.to_observations(parsed, ctx)


def test_area_weighting_conserves_population_and_bounds_hdi(gdl_ctx):
    parsed, obs = _load(gdl_ctx)
    assert len(parsed) == 32 and parsed[REJECT].isna().all()
    pop = obs[obs.indicator == "structural.population_admin1_gdl"]
    y19 = pop[pop.period_start.map(lambda d: d.year) == 2019]
    gdl_total = parsed[(parsed._concept == "pop") & (parsed._year == 2019)]["_value"].sum() * 1000
    # published GDL: Afghanistan 8 regions = 38,042 thousand in 2019
    assert round(gdl_total / 1000) == 38_042
    assert y19["region_id"].str.startswith("AFG").all() and y19["region_id"].nunique() >= 30
    assert abs(y19["value"].sum() / gdl_total - 1) < 0.02  # only border slivers are lost
    hdi = obs[obs.indicator == "structural.hdi_admin1"]
    lo, hi = parsed.loc[parsed._concept == "shdi", "_value"].agg(["min", "max"])
    assert hdi["value"].between(lo - 1e-9, hi + 1e-9).all()
    # Kabul lies in GDL 'Central' (AFGr101); its HDI there in 2019 is the published 0.578
    kabul = hdi[(hdi.region_id == "AFG-1767") & (hdi.period_start.map(lambda d: d.year) == 2019)][
        "value"
    ].item()
    assert kabul == pytest.approx(
        parsed[(parsed.subnat == "afgr101") & (parsed._concept == "shdi") & (parsed._year == 2019)][
            "_value"
        ].item(),
        abs=0.02,
    )


def test_unknown_region_is_quarantined(tmp_path, gdl_ctx):
    path = write_like(tmp_path / POP.name, set_cell(read_fixture_text(POP), 0, "subnat", "zzzr999"))
    parsed, _ = _load(gdl_ctx, pop=path)
    row = parsed[(parsed._concept == "pop") & (parsed[ROW] == 2)].iloc[0]
    assert row[REJECT] == "unknown_region" and "zzzr999" in row[REJECT_DETAIL]


def test_missing_column(tmp_path):
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / POP.name, drop_column(read_fixture_text(POP), "pop")))
    assert err.value.column == "pop"


def test_text_in_number_and_out_of_range(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / POP.name, set_cell(read_fixture_text(POP), 0, "pop", "n.a.")))
    assert parsed.set_index(ROW).loc[2, REJECT] == "invalid_number"
    parsed = SOURCE.parse(write_like(tmp_path / HDI.name, set_cell(read_fixture_text(HDI), 1, "shdi", "1.7")))
    assert parsed.set_index(ROW).loc[3, REJECT] == "out_of_range"


def test_duplicate_row(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / POP.name, duplicate_row(read_fixture_text(POP), 0)))
    assert parsed.set_index(ROW).loc[parsed[ROW].max(), REJECT] == "duplicate"


def test_empty_file(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / POP.name, ""))


def test_wrong_encoding(tmp_path):
    text = set_cell(read_fixture_text(POP), 2, "subnat", "afgr10é")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / POP.name, text, encoding="cp1252"))
    assert err.value.row == 4
