"""The fast write paths keep every value: bulk_insert_frame (COPY on PostgreSQL, multi-row INSERT on SQLite)
against SQLAlchemy's own INSERT, the quarantine's JSON against pandas' to_json, and Arrow's number parsing
against pd.to_numeric. Runs on SQLite, and on PostgreSQL when CRISISRISK_DATABASE_URL is set."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Boolean, Column, Date, Float, Integer, MetaData, String, Table, Text, select
from sqlalchemy.exc import IntegrityError

from etl.contract import finite_numbers
from etl.loader import raw_records
from warehouse.io import SQLITE_BLOCK_ROWS, bulk_insert_frame

TEXTS = [
    "plain",
    "tab\there",
    "new\nline",
    "carriage\r\nreturn",
    "back\\slash \\N \\t",
    "quote \" and '",
    "unicode é ü 😀 \u2028 \u0085",
    "",
    "comma, semicolon; pipe|",
    "\\.",
    "a" * 3000,
]
FLOATS = [
    0.0,
    -0.0,
    1.5,
    -2.25,
    1e-310,
    5e-324,
    1.7976931348623157e308,
    0.1 + 0.2,
    1 / 3,
    123456789.123456789,
]


def _tables() -> tuple[MetaData, Table, Table]:
    meta = MetaData()

    def table(name: str) -> Table:
        return Table(
            name,
            meta,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("t", Text, nullable=True),
            Column("s", String(20), nullable=True),
            Column("f", Float, nullable=True),
            Column("d", Date, nullable=True),
            Column("b", Boolean, nullable=True),
            Column("i", Integer, nullable=False),
        )

    return meta, table("probe_fast"), table("probe_plain")


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(n)
    texts = [None if k % 7 == 3 else TEXTS[k % len(TEXTS)] for k in range(n)]
    return pd.DataFrame(
        {
            "t": pd.Series(texts, dtype="str"),
            "s": pd.Series([None if k % 5 == 0 else f"s{k}" for k in range(n)], dtype=object),
            "f": [math.nan if k % 6 == 1 else FLOATS[k % len(FLOATS)] * (1 + rng.random()) for k in range(n)],
            "d": [None if k % 4 == 2 else dt.date(1990 + k % 40, 1 + k % 12, 1 + k % 28) for k in range(n)],
            "b": np.array([k % 3 == 0 for k in range(n)]),
            "i": np.arange(n, dtype=np.int64) * 1_000_003 - 7,
        }
    )


def _rows(conn, table: Table) -> list[tuple]:
    """The stored rows, floats as their exact bits (float.hex tells -0.0 from 0.0 and every last digit)."""
    rows = conn.execute(select(*[c for c in table.c if c.name != "id"]).order_by(table.c.id))
    return [tuple(v.hex() if isinstance(v, float) else v for v in r) for r in rows]


@pytest.mark.parametrize("n", [1, SQLITE_BLOCK_ROWS - 1, SQLITE_BLOCK_ROWS, SQLITE_BLOCK_ROWS * 3 + 5])
def test_bulk_insert_frame_stores_what_sqlalchemy_stores(engine, n):
    meta, fast, plain = _tables()
    meta.create_all(engine)
    frame = _frame(n)
    with engine.begin() as conn:
        bulk_insert_frame(conn, fast, frame)
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        conn.execute(plain.insert(), records)
    with engine.connect() as conn:
        got, expected = _rows(conn, fast), _rows(conn, plain)
    assert len(got) == n
    assert got == expected  # floats bit for bit, NULLs, dates, booleans, text with tabs/newlines/backslashes
    assert [r[0] for r in got] == [None if t is None or t != t else t for t in frame["t"]]
    assert all(isinstance(r[4], bool) for r in got if r[4] is not None)
    nonzero = [(r[2], f) for r, f in zip(got, frame["f"], strict=True) if r[2] is not None and f != 0]
    assert all(float.fromhex(stored) == f for stored, f in nonzero)  # every non-zero float bit for bit
    # ids follow frame order: the multi-row blocks keep the rows in sequence
    with engine.connect() as conn:
        ints = [r[0] for r in conn.execute(select(fast.c.i).order_by(fast.c.id))]
    assert ints == frame["i"].tolist()


def test_bulk_insert_frame_fails_whole_inside_the_transaction(engine):
    meta, fast, _plain = _tables()
    meta.create_all(engine)
    frame = _frame(SQLITE_BLOCK_ROWS * 2)
    frame.loc[SQLITE_BLOCK_ROWS + 3, "i"] = None  # i is NOT NULL: one bad row in the second block
    frame["i"] = frame["i"].astype("Int64")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        bulk_insert_frame(conn, fast, frame)
    with engine.connect() as conn:
        assert _rows(conn, fast) == []


def test_raw_records_matches_to_json_and_keeps_one_record_per_row():
    cells = ['a"b', "c\\d", "e/f", None, "é😀", "line\u2028sep", "nel\x85", "{x:y}", ""]
    frame = pd.DataFrame(
        {"col/1": pd.Series(cells, dtype="str"), 'q"k': pd.Series(list(reversed(cells)), dtype="str")}
    )
    expected = frame.to_json(orient="records", lines=True, force_ascii=False, default_handler=str)
    assert raw_records(frame) == expected.removesuffix("\n").split("\n")
    assert len(raw_records(frame)) == len(frame)  # U+2028 and U+0085 do not split a record
    mixed = frame.assign(n=range(len(frame)), ctrl=pd.Series(["t\tu"] * len(frame), dtype="str"))
    lines = raw_records(mixed)  # numbers and control characters: pandas' writer
    assert len(lines) == len(mixed)
    assert lines[0].endswith(',"n":0,"ctrl":"t\\tu"}')


def test_finite_numbers_fast_path_agrees_with_to_numeric():
    rng = np.random.default_rng(7)
    numbers = [repr(float(v)) for v in rng.random(500) * 10.0 ** rng.integers(-8, 15, 500)]
    odd = ["1", "+2", ".5", "5.", "1e3", "inf", "-Infinity", "nan", "1e400", "-0", "00012", None]
    clean = pd.Series(numbers + odd, dtype="str")
    dirty = pd.Series(numbers + odd + [" 3", "1,000", "", "0x10", "١٢", "abc"], dtype="str")
    for text in (clean, dirty, clean.astype(object)):
        expected = pd.to_numeric(text, errors="coerce").astype(float)
        expected = expected.where(np.isfinite(expected))
        pd.testing.assert_series_equal(finite_numbers(text), expected)
