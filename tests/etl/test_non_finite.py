"""Non-finite numbers never reach the warehouse (issue 9 #3).

``1e309``, ``inf``, ``Infinity``, ``NaN`` and ``-inf`` in a numeric cell became ``observation.value = Inf``:
``pd.to_numeric`` reads them as floats. Now every reader quarantines the row with ``invalid_number`` (the
shared ``etl.contract.parse_number`` and the readers that parse numbers themselves: GLOTIP counts, GSI 2016
estimates, UCDP GED's fast path), the loader refuses a non-finite observation as a reader bug, and the
warehouse has a CHECK constraint (migration 0003) that refuses one on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from etl.contract import REJECT, REJECT_DETAIL, ROW, parse_number
from etl.loader import LoadError, load_source, validate
from etl.sources import get_source
from tests.conftest import FIXTURES, _fresh_url, drop_database
from tests.etl.test_inform_risk import set_xlsx_cell, xlsx_edit
from tests.helpers import read_fixture_text, set_cell, write_like
from tests.test_fuzz_readers import SOURCES, Mutation, _csv_grid, _xlsx_sheets, check_reader, fixture_files
from warehouse.schema import indicator, observation, region, source_load

TOKENS = ["1e309", "inf", "Infinity", "NaN", "-inf", "-1e400", "+Inf"]


@pytest.mark.parametrize("token", TOKENS)
def test_parse_number_quarantines_non_finite_tokens(token):
    frame = pd.DataFrame(
        {"v": ["12.5", token], ROW: [2, 3], REJECT: [None, None], REJECT_DETAIL: [None, None]}
    )
    values = parse_number(frame, "v")
    assert values.iloc[0] == 12.5 and np.isnan(values.iloc[1])
    assert frame[REJECT].tolist() == [None, "invalid_number"]
    assert f"'{token}' is not a number" in frame[REJECT_DETAIL].iloc[1]


@pytest.mark.parametrize("token", TOKENS)
def test_world_bank_reader_quarantines_them(tmp_path, ctx, token):
    """A reader on parse_number: the row is quarantined, the others load."""
    source = get_source("wb_gdp")
    cut = FIXTURES / "wb_gdp" / "wb_gdp_current_usd.csv"
    parsed = source.parse(
        write_like(tmp_path / "gdp.csv", set_cell(read_fixture_text(cut), 1, "Value", token))
    )
    row = parsed[parsed[ROW] == 3].iloc[0]
    assert row[REJECT] == "invalid_number" and token in row[REJECT_DETAIL]
    obs = validate(source, parsed, source.to_observations(parsed, ctx))
    assert np.isfinite(obs["value"]).all() and len(obs) > 0


@pytest.mark.parametrize("token", TOKENS)
def test_glotip_counts_quarantine_them(tmp_path, token):
    source = get_source("unodc_glotip")
    cut = FIXTURES / "unodc_glotip" / "glotip_cut_2023-05-30.csv"
    path = write_like(
        tmp_path / "glotip_x_2023-05-30.csv", set_cell(read_fixture_text(cut), 0, "txtVALUE", token)
    )
    parsed = source.parse(path)
    assert parsed.loc[parsed[ROW] == 2, REJECT].item() == "invalid_number"


@pytest.mark.parametrize("token", ["inf", "1e309", "NaN"])
def test_ucdp_ged_fast_path_quarantines_them(tmp_path, token):
    source = get_source("ucdp_ged")
    cut = FIXTURES / "ucdp_ged" / "ged_hdx_nigeria_cut.csv.gz"
    parsed = source.parse(
        write_like(tmp_path / "ged_x.csv.gz", set_cell(read_fixture_text(cut), 0, "best", token))
    )
    assert parsed.loc[parsed[ROW] == 2, REJECT].item() == "invalid_number"


@pytest.mark.parametrize("token", ["inf", "1e309", "NaN"])
def test_gsi_2016_estimates_quarantine_them(tmp_path, token):
    source = get_source("gsi_2016")
    cut = FIXTURES / "gsi_2016" / "gsi_2016_cut.xlsx"
    edit = set_xlsx_cell(2, 3, "ESTIMATED NUMBER IN MODERN SLAVERY", token)
    parsed = source.parse(xlsx_edit(cut, tmp_path / "gsi_2016_x.xlsx", "GLOBAL DATA 2016 GSI", edit))
    assert parsed.loc[parsed[ROW] == 3, REJECT].item() == "invalid_number"


MAX_COLUMNS = 12  # numeric columns tried per cut (wide sheets such as INFORM's have hundreds)


def _mostly_numbers(cells: list) -> bool:
    filled = pd.Series([str(c).replace(",", "") for c in cells if c not in (None, "")], dtype=str)
    return len(filled) > 0 and int(np.isfinite(pd.to_numeric(filled, errors="coerce")).sum()) > len(cells) / 2


def _numeric_columns(path) -> list[int]:
    """Columns whose cells in the real cut are mostly numbers: where a non-finite token can pass as a
    value."""
    if path.name.endswith(".xlsx"):
        rows = max((rows for _, rows in _xlsx_sheets(path)), key=len)
    else:
        rows = _csv_grid(path)
    width = max(len(r) for r in rows)
    cols = [[r[j] if j < len(r) else None for r in rows[1:]] for j in range(width)]
    numeric = [j for j, cells in enumerate(cols) if _mostly_numbers(cells)]
    step = max(1, len(numeric) // MAX_COLUMNS)
    return numeric[::step][:MAX_COLUMNS]


@pytest.mark.parametrize("name", [s for s in SOURCES if s != "natural_earth"])
def test_every_reader_keeps_non_finite_cells_out(name, ctx):
    """The numeric columns of every reader's real cut, one at a time, set to a non-finite token: the fuzz
    property (every row accounted for, observations finite and valid) holds. Tokens rotate over the columns.
    """
    tried = 0
    for index, path in enumerate(fixture_files(name)):
        for k, column in enumerate(_numeric_columns(path)):
            token = TOKENS[(k + index) % len(TOKENS)]
            check_reader(name, Mutation(index, (("set_column", column, token),), "utf-8", (), False), ctx)
            tried += 1
    assert tried, f"no numeric column found in the cuts of {name}"


def test_loader_refuses_a_non_finite_observation():
    """Defence in depth: a reader that let one through is a bug the loader names, not a database error."""
    source = get_source("wb_gdp")
    parsed = pd.DataFrame({ROW: [2], REJECT: [None], REJECT_DETAIL: [None]})
    obs = pd.DataFrame(
        {
            "region_id": ["NGA"],
            "period_start": [dt.date(2020, 1, 1)],
            "period_type": ["year"],
            "indicator": ["structural.gdp_current_usd"],
            "value": [np.inf],
            "censored": [False],
            "_file": ["gdp.csv"],
        }
    )
    with pytest.raises(LoadError, match="not finite"):
        validate(source, parsed, obs)


def _seed(conn) -> int:
    conn.execute(insert(region).values(region_id="XXA", level=0, iso3="XXA", name="test region"))
    conn.execute(
        insert(indicator).values(
            code="test.value",
            family="structural",
            unit="count",
            direction="neutral",
            description="test",
            source="test",
        )
    )
    return conn.execute(
        insert(source_load).values(
            source="test",
            file="t.csv",
            sha256="0" * 64,
            rows_read=3,
            rows_loaded=3,
            rows_rejected=0,
            observations=3,
            started_at=dt.datetime.now(dt.UTC),
            status="loaded",
            software_version="test",
        )
    ).inserted_primary_key[0]


def _obs(load_id: int, year: int, value: float) -> dict:
    return dict(
        region_id="XXA",
        period_start=dt.date(year, 1, 1),
        period_type="year",
        indicator="test.value",
        source="test",
        value=value,
        censored=False,
        load_id=load_id,
    )


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_warehouse_refuses_non_finite_values(engine, value):
    with engine.begin() as conn:
        load_id = _seed(conn)
        conn.execute(insert(observation).values(**_obs(load_id, 2000, 1.5e308)))  # finite extremes are fine
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(observation).values(**_obs(load_id, 2001, value)))


def test_migration_0003_removes_older_non_finite_values(tmp_path):
    """A warehouse loaded before the fix: the upgrade drops its Inf values, keeps load counts true, and the
    constraint holds afterwards. Downgrade and upgrade again work (SQLite batch mode / PostgreSQL)."""
    from alembic import command

    from warehouse.db import alembic_config, make_engine, migrate

    url = _fresh_url(tmp_path, "mig3")
    eng = make_engine(url)
    cfg = alembic_config(eng)
    try:
        with eng.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
        with eng.begin() as conn:
            load_id = _seed(conn)
            for year, value in ((2000, 1.0), (2001, float("inf")), (2002, float("-inf"))):
                conn.execute(insert(observation).values(**_obs(load_id, year, value)))
        migrate(eng)
        with eng.connect() as conn:
            assert conn.execute(select(observation.c.value)).scalars().all() == [1.0]
            assert conn.execute(select(source_load.c.observations)).scalar_one() == 1
        with pytest.raises(IntegrityError), eng.begin() as conn:
            conn.execute(insert(observation).values(**_obs(load_id, 2003, float("inf"))))
        with eng.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0002")
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM observation")).scalar_one() == 1
        migrate(eng)
    finally:
        eng.dispose()
        drop_database(url)


def test_a_real_load_with_an_infinite_cell_quarantines_the_row(engine, tmp_path):
    """End to end through load_source: rows read = rows loaded + rows rejected, no Inf in the warehouse."""
    from tests.conftest import RAW_DIR

    raw = tmp_path / "raw"
    (raw / "covariates_country_year").mkdir(parents=True)
    cut = FIXTURES / "wb_gdp" / "wb_gdp_current_usd.csv"
    write_like(
        raw / "covariates_country_year" / "wb_gdp_current_usd.csv",
        set_cell(read_fixture_text(cut), 1, "Value", "1e309"),
    )
    assert load_source(engine, get_source("natural_earth"), RAW_DIR).status == "loaded"
    result = load_source(engine, get_source("wb_gdp"), raw)
    assert result.status == "loaded", result.error
    (file,) = result.files
    assert file.rows_read == file.rows_loaded + file.rows_rejected and file.rows_rejected >= 1
    with engine.connect() as conn:
        values = (
            conn.execute(select(observation.c.value).where(observation.c.source == "wb_gdp")).scalars().all()
        )
        reasons = conn.execute(text("SELECT reason_code FROM rejected_row")).scalars().all()
    assert values and all(np.isfinite(values)) and "invalid_number" in reasons
