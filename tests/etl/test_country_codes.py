"""Country code crosswalk reference table, on a 25-row cut of countrycode's codelist."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from etl.contract import REJECT, REJECT_DETAIL, ROW, ContractError
from etl.loader import load_source
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import drop_column, duplicate_row, read_fixture_text, rejected, set_cell, write_like
from warehouse.schema import country_code, source_load

CUT = FIXTURES / "country_codes" / "countrycode_codelist.csv"
SOURCE = get_source("country_codes")


def test_codes_and_rejects(ctx):
    parsed = SOURCE.parse(CUT)
    obs = SOURCE.to_observations(parsed, ctx)
    assert obs.empty and list(obs.columns)[:2] == ["region_id", "period_start"]
    reasons = rejected(parsed).set_index(ROW)[REJECT].to_dict()
    # Czechoslovakia, GDR, Bavaria, Yugoslavia, Channel Islands, Tibet, Zanzibar: no ISO3
    assert reasons == {
        6: "no_iso3",
        7: "no_iso3",
        9: "no_iso3",
        14: "no_iso3",
        16: "no_iso3",
        25: "no_iso3",
        26: "no_iso3",
    }
    codes = SOURCE.code_records(parsed)
    lookup = {(s, c): i for s, c, i in zip(codes["scheme"], codes["code"], codes["iso3"], strict=True)}
    # the publisher's spot check: Syria -> SYR, GW 652, COW 652; DR Congo -> COD, GW 490
    assert (
        lookup[("gw", "652")] == "SYR" and lookup[("cow", "652")] == "SYR" and lookup[("gw", "490")] == "COD"
    )
    assert lookup[("iso3n", "004")] == "AFG" and lookup[("iso2", "SY")] == "SYR"
    assert lookup[("wb", "XKX")] == "XKX" and lookup[("unhcr", "KOS")] == "XKX"  # Kosovo via the local alias
    assert lookup[("gw", "260")] == "DEU" and ("gw", "265") not in lookup  # GDR is not in the table


def test_loader_fills_and_replaces_country_code_table(engine, ctx, raw_copy):
    raw = raw_copy("country_codes", CUT.parent)
    first = load_source(engine, SOURCE, raw, ctx=ctx)
    again = load_source(engine, SOURCE, raw, force=True, ctx=ctx)
    assert first.status == again.status == "loaded" and again.files[0].rows_rejected == 7
    with engine.connect() as conn:
        rows = conn.execute(
            select(country_code.c.scheme, country_code.c.code, country_code.c.iso3, country_code.c.load_id)
        ).all()
        live = conn.execute(
            select(source_load.c.load_id).where(source_load.c.status == "loaded")
        ).scalar_one()
    assert len(rows) == len(SOURCE.code_records(SOURCE.parse(CUT)))  # replaced, not appended
    assert {r.load_id for r in rows} == {live}
    assert ("gw", "652", "SYR") in {(r.scheme, r.code, r.iso3) for r in rows}


def test_iso3_without_region_is_no_region(tmp_path, ctx):
    parsed = SOURCE.parse(write_like(tmp_path / "c.csv", set_cell(read_fixture_text(CUT), 0, "iso3c", "QQQ")))
    SOURCE.to_observations(parsed, ctx)
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "no_region" and "'QQQ'" in row[REJECT_DETAIL]


def test_missing_column_names_file_and_column(tmp_path):
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / "c.csv", drop_column(read_fixture_text(CUT), "gwn")))
    assert err.value.column == "gwn" and "c.csv" in str(err.value)


def test_text_in_numeric_code_is_quarantined(tmp_path):
    parsed = SOURCE.parse(
        write_like(tmp_path / "c.csv", set_cell(read_fixture_text(CUT), 0, "iso3n", "four"))
    )
    row = parsed[parsed[ROW] == 2].iloc[0]
    assert row[REJECT] == "invalid_code" and "'four'" in row[REJECT_DETAIL]


def test_duplicate_code_is_quarantined(tmp_path):
    parsed = SOURCE.parse(write_like(tmp_path / "c.csv", duplicate_row(read_fixture_text(CUT), 1)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "row 3" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / "c.csv", ""))


def test_wrong_encoding_names_row(tmp_path):
    # cp1252 bytes in a UTF-8 file: the codelist also holds Arabic and Chinese names, so only the French
    # name on Nigeria's line (file line 10) is re-encoded
    lines = CUT.read_bytes().split(b"\n")
    assert "Nigéria".encode() in lines[9]
    lines[9] = lines[9].replace("Nigéria".encode(), "Nigéria".encode("cp1252"))
    path = tmp_path / "c.csv"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.row == 10 and "UTF-8" in str(err.value)
