"""Core ETL pieces: country resolution, file reading, the spatial join and the Natural Earth regions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from etl.contract import REJECT, ROW, ContractError, parse_number, read_text_table, reject_duplicates
from etl.countries import resolve_code, resolve_codes, resolve_name
from etl.sources import get_source
from etl.sources.natural_earth import ne_to_iso3
from tests.conftest import RAW_DIR


@pytest.mark.parametrize(
    ("name", "iso3", "reason"),
    [
        ("Syrian Arab Republic", "SYR", None),
        ("Yemen (North Yemen)", "YEM", None),
        ("Russia (Soviet Union)", "RUS", None),
        ("Kosovo", "XKX", None),
        ("Abkhazia", "GEO", None),
        ("Congo, Dem. Rep.", "COD", None),
        ("Czechoslovakia", None, "historical_entity"),
        ("World", None, "aggregate"),
        ("Sub-Saharan Africa (excluding high income)", None, "aggregate"),
        ("Upper middle income", None, "aggregate"),
        ("Atlantis", None, "unknown_country"),
    ],
)
def test_resolve_name(name, iso3, reason):
    res = resolve_name(name)
    assert (res.iso3, res.reason_code) == (iso3, reason)


def test_resolve_codes_vectorised_uses_the_name_when_the_code_is_unknown():
    out = resolve_codes(
        pd.Series(["SYR", "WLD", "KSV", "QQQ", ""]), pd.Series(["x", "World", "Kosovo", "Nigeria", "Germany"])
    )
    assert [None if pd.isna(v) else v for v in out["iso3"]] == ["SYR", None, "XKX", "NGA", "DEU"]
    assert out["reason_code"].tolist()[1] == "aggregate"
    assert resolve_code("ZAR").iso3 == "COD"  # World Bank's old code for DR Congo


def test_natural_earth_codes_map_to_iso3():
    assert ne_to_iso3("SDS") == "SSD" and ne_to_iso3("KOS") == "XKX" and ne_to_iso3("SOL") == "SOM"
    assert ne_to_iso3("FRA") == "FRA" and ne_to_iso3("PGA") is None


def test_read_text_table_numbers_rows_and_flags_blank_rows(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n,\n3,x\n")
    frame = read_text_table(path)
    assert frame[ROW].tolist() == [2, 3, 4]
    assert frame[REJECT].tolist() == [None, "blank_row", None]
    values = parse_number(frame, "b")
    assert values.iloc[0] == 2 and frame.loc[2, REJECT] == "invalid_number"
    assert "'x' is not a number" in frame.loc[2, "_reject_detail"]


def test_read_text_table_refuses_empty_and_wrong_encoding(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ContractError, match="empty.csv: file is empty"):
        read_text_table(empty)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,v\nok,1\nCôte,2\n".encode("cp1252"))
    with pytest.raises(ContractError) as err:
        read_text_table(latin)
    assert err.value.row == 3 and "UTF-8" in str(err.value)
    with pytest.raises(ContractError, match="file not found"):
        read_text_table(tmp_path / "missing.csv")


def test_reject_duplicates_names_the_first_row():
    frame = pd.DataFrame(
        {
            ROW: [2, 3, 4],
            "k": ["a", "b", "a"],
            REJECT: [None, None, None],
            "_reject_detail": [None, None, None],
        }
    )
    reject_duplicates(frame, ["k"])
    assert frame[REJECT].tolist() == [None, None, "duplicate"]
    assert "first at row 2" in frame.loc[2, "_reject_detail"]


def test_spatial_join_within_nearest_and_outside(ctx):
    index = ctx.admin_index
    lon = np.array([37.16, 7.49, 35.70, 37.16, np.nan, 35.40])
    lat = np.array([36.20, 9.06, 35.55, 36.20, 1.0, 35.55])
    # Aleppo; Abuja (FCT); the sea ~9 km off Latakia's coast; Aleppo's point claimed by Turkey; no
    # coordinates;
    # the sea ~40 km off Latakia (beyond the tolerance)
    iso3 = np.array(["SYR", "NGA", "SYR", "TUR", "SYR", "SYR"], dtype=object)
    out = index.assign(lon, lat, iso3, tolerance_km=25)
    names = ctx.regions.set_index("region_id")["name"]
    assert names[out.loc[0, "region_id"]] == "Aleppo" and out.loc[0, "method"] == "within"
    assert names[out.loc[1, "region_id"]] == "Federal Capital Territory"
    assert out.loc[2, "method"] == "nearest" and names[out.loc[2, "region_id"]] == "Latakia"
    assert 0 < out.loc[2, "distance_km"] <= 25
    assert pd.isna(out.loc[5, "region_id"])
    # own country only: a Syrian point is never given to a Turkish province, even the nearest one
    assert pd.isna(out.loc[3, "region_id"]) or out.loc[3, "region_id"].startswith("TUR")
    assert pd.isna(out.loc[4, "region_id"])


def test_natural_earth_contract_and_counts(tmp_path):
    source = get_source("natural_earth")
    admin1 = RAW_DIR / "natural_earth" / "ne_10m_admin_1_states_provinces_simplified.geojson"
    data = json.loads(admin1.read_text())
    data["features"] = data["features"][:30]
    for f in data["features"]:
        f["properties"].pop("adm1_code")
    bad = tmp_path / "ne_10m_admin_1_states_provinces_cut.geojson"
    bad.write_text(json.dumps(data))
    with pytest.raises(ContractError) as err:
        source.parse(bad)
    assert err.value.column == "adm1_code"
    parsed = source.parse(admin1)
    assert len(parsed) == 4596 and parsed[REJECT].isna().all()
    assert set(parsed.loc[parsed["adm0_a3"] == "SDS", "_iso3"]) == {"SSD"}
