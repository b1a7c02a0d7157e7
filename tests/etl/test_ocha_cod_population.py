"""OCHA COD-PS reader on cuts of the real files (AFG, BFA, MLI, TCD): layouts, level choice, checks."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, read_fixture_text, rows_of, to_csv_text, write_like

DIR = FIXTURES / "ocha_cod_population"
AFG = DIR / "population_afg_afg_admpop_adm1_2021_v2.csv"
TCD = DIR / "population_tcd_tcd_admpop_adm1_2021.csv"
SOURCE = get_source("ocha_cod_population")


def _all(ctx):
    parsed = pd.concat([SOURCE.parse(p) for p in sorted(DIR.glob("population_*.csv"))], ignore_index=True)
    return parsed, SOURCE.to_observations(parsed, ctx)


def test_layouts_levels_and_published_values(ctx):
    parsed, obs = _all(ctx)
    by = obs.set_index("region_id")
    # Afghanistan: HXL row skipped, padded ' T_TL ' read; Badakhshan T_TL = 1,357,036 (published)
    afg = SOURCE.parse(AFG)
    assert afg[ROW].min() == 3 and len(afg) == 20
    assert by.loc["AFG-1760", "value"] == 1_357_036 and by.loc["AFG-1760", "period_start"].year == 2021
    # Burkina Faso: Natural Earth admin-1 = the 45 provinces, i.e. COD admin-2; admin-1 regions not used
    bfa = obs[obs.region_id.str.startswith("BFA")]
    assert len(bfa) == 45 and bfa["value"].sum() == 22_868_915 and bfa.period_start.iloc[0].year == 2023
    detail = parsed[REJECT_DETAIL].astype(str)
    assert detail.str.contains(
        "COD admin-1 not used: Natural Earth admin-1 in BFA corresponds to COD admin-2"
    ).any()
    # Mali: 2018, <Null> names tolerated, 9 units match; the admin-0 check passes
    mli = obs[obs.region_id.str.startswith("MLI")]
    assert len(mli) == 9 and mli["value"].sum() == 17_907_114 and mli.period_start.iloc[0].year == 2018
    assert detail.str.contains(
        "national total 17,907,114 of MLI 2018; the COD sub-national units sum to 17,907,114 \\(equals it\\)"
    ).any()
    # Chad: Ennedi Est + Ennedi Ouest -> Natural Earth's single 'Ennedi'
    tcd = pd.read_csv(TCD, encoding="utf-8-sig")
    assert by.loc["TCD-5579", "value"] == tcd[tcd.ADM1_FR.str.startswith("Ennedi")]["T_TL"].sum()
    assert parsed[REJECT].isna().sum() + parsed[REJECT].notna().sum() == len(parsed)


def test_missing_column_names_file_and_column(tmp_path):
    path = write_like(tmp_path / TCD.name, drop_column(read_fixture_text(TCD), "T_TL"))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "T_TL" and TCD.name in str(err.value)


def test_text_in_number_column(tmp_path):
    rows = rows_of(read_fixture_text(TCD))
    rows[1][rows[0].index("T_TL")] = "approx 400000"
    parsed = SOURCE.parse(write_like(tmp_path / TCD.name, to_csv_text(rows)))
    row = parsed.set_index(ROW).loc[2]
    assert row[REJECT] == "invalid_number" and "'approx 400000'" in row[REJECT_DETAIL]


def test_unknown_country_and_unknown_unit(tmp_path, ctx):
    rows = rows_of(read_fixture_text(TCD))
    rows[1][rows[0].index("ADM0_PCODE")] = "QQ"
    rows[2][rows[0].index("ADM1_FR")] = "Atlantis"
    parsed = SOURCE.parse(write_like(tmp_path / TCD.name, to_csv_text(rows)))
    SOURCE.to_observations(parsed, ctx)
    got = parsed.set_index(ROW)
    assert got.loc[2, REJECT] == "unknown_country"
    assert got.loc[3, REJECT] == "unmatched_admin1" and "'Atlantis' (TCD)" in got.loc[3, REJECT_DETAIL]


def test_duplicate_unit(tmp_path):
    rows = rows_of(read_fixture_text(TCD))
    rows.append(list(rows[1]))
    parsed = SOURCE.parse(write_like(tmp_path / TCD.name, to_csv_text(rows)))
    assert parsed.set_index(ROW).loc[parsed[ROW].max(), REJECT] == "duplicate"


def test_empty_file(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / TCD.name, ""))


def test_wrong_encoding(tmp_path):
    rows = rows_of(read_fixture_text(TCD))
    rows[2][rows[0].index("ADM1_FR")] = "Ouaddaï"
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / TCD.name, to_csv_text(rows), encoding="cp1252"))
    assert err.value.row == 3
