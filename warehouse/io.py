"""Narrow read/write helpers over the warehouse, shared by the ETL, the model and the dashboard."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, CursorResult, Date, DateTime, Engine, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from warehouse.schema import (
    displacement_pair,
    glotip_pair,
    glotip_reporting,
    indicator,
    observation,
    region,
    source_load,
)

log = logging.getLogger(__name__)
CHUNK = 20_000


def upsert(conn: Connection, table: Table, rows: Sequence[dict], keys: Iterable[str]) -> None:
    """Insert or update rows by primary key, set-based, on SQLite and PostgreSQL."""
    if not rows:
        return
    keys = list(keys)
    cols = [c for c in rows[0] if c not in keys]
    for start in range(0, len(rows), CHUNK):
        stmt = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
        if cols:
            stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in cols})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        conn.execute(stmt, list(rows[start : start + CHUNK]))


def inserted_id(result: CursorResult[Any]) -> int:
    """The new primary key of a one-row INSERT (SQLAlchemy types it optional: other statements have none)."""
    key = result.inserted_primary_key
    if key is None:
        raise ValueError("the statement inserted no row")
    return int(key[0])


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict]) -> None:
    """Set-based executemany insert in chunks (no row-by-row ORM adds)."""
    for start in range(0, len(rows), CHUNK):
        conn.execute(table.insert(), list(rows[start : start + CHUNK]))


def bulk_insert_frame(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """Fast set-based insert of a DataFrame with the driver's fastest path, inside the caller's transaction.

    PostgreSQL: one ``COPY ... FROM STDIN`` through psycopg (the profile of a full ETL showed the row-wise
    INSERTs as its largest single cost). SQLite: multi-row ``INSERT ... VALUES (...), (...)`` statements run
    by ``executemany`` over flat parameter lists (one statement step per block of rows instead of per row).
    Either way the rows join the open transaction, so a load stays all-or-nothing; column names come
    from the table definition and values are always bound or streamed, never formatted into SQL.
    """
    if frame.empty:
        return
    cols = [c for c in frame.columns if c in table.c]
    sqlite_ints = conn.dialect.name == "sqlite"
    columns = [_python_values(frame[c], table.c[c].type, bool_as_int=sqlite_ints) for c in cols]
    preparer = conn.dialect.identifier_preparer
    target = f"{preparer.format_table(table)} ({', '.join(preparer.quote(c) for c in cols)})"
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        _copy_rows(conn, target, list(zip(*columns, strict=True)))
        return
    style = conn.dialect.paramstyle
    if style == "qmark":
        mark = "?"
    elif style in ("format", "pyformat"):
        mark = "%s"
    else:  # named styles cannot repeat a block of rows: one row per statement
        _insert_rows(conn, target, cols, list(zip(*columns, strict=True)))
        return
    one = "(" + ", ".join(mark for _ in cols) + ")"
    per_block = max(1, min(SQLITE_BLOCK_ROWS, _max_variables(conn) // len(cols)))
    n_rows = len(columns[0])
    n_full = n_rows // per_block * per_block
    if n_full:
        # flat values, row-major: row i's values are flat[i * ncols:(i + 1) * ncols], in table-column order
        flat = [None] * (n_full * len(cols))
        for j, values in enumerate(columns):
            flat[j :: len(cols)] = values[:n_full]
        width = per_block * len(cols)
        sql = f"INSERT INTO {target} VALUES {', '.join([one] * per_block)}"  # noqa: S608 - marks only
        for start in range(0, len(flat), width * 50):
            conn.exec_driver_sql(
                sql,
                [tuple(flat[i : i + width]) for i in range(start, min(start + width * 50, len(flat)), width)],
            )
    if n_full < n_rows:
        rest = list(zip(*(values[n_full:] for values in columns), strict=True))
        conn.exec_driver_sql(f"INSERT INTO {target} VALUES {one}", rest)  # noqa: S608 - marks only


SQLITE_BLOCK_ROWS = 256  # rows per multi-row INSERT; measured flat beyond a few hundred


def _max_variables(conn: Connection) -> int:
    """How many bound parameters one statement may have (SQLite's compile-time limit, 999 before 3.32)."""
    driver = conn.connection.driver_connection
    getlimit = getattr(driver, "getlimit", None)  # sqlite3.Connection.getlimit, Python >= 3.11
    if getlimit is not None:
        import sqlite3

        return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    return 999


def _insert_rows(conn: Connection, target: str, cols: list[str], rows: list[tuple]) -> None:
    """One prepared single-row INSERT run by ``executemany`` (drivers with named parameters)."""
    sql = f"INSERT INTO {target} VALUES ({', '.join(f':{c}' for c in cols)})"  # noqa: S608 - names only
    params = [dict(zip(cols, r, strict=True)) for r in rows]
    for start in range(0, len(params), CHUNK * 5):
        conn.exec_driver_sql(sql, params[start : start + CHUNK * 5])


def _python_values(column: pd.Series, sql_type: Any, bool_as_int: bool = False) -> list:
    """A column as a list of plain Python values with None for missing, converted once per distinct value.

    Dates become ISO text (what sqlite3's default adapter and SQLAlchemy's SQLite ``Date`` store, and what
    PostgreSQL parses), computed for the few distinct dates instead of once per row. With ``bool_as_int``
    booleans become 0/1 (what SQLite stores for a bool anyway; sqlite3 binds an exact int without looking
    up an adapter, which a bool needs: the profile showed it per value).
    """
    if isinstance(sql_type, Date) and not isinstance(sql_type, DateTime) and column.dtype == object:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        if len(uniques) and all(type(u) is dt.date for u in uniques):
            text = np.array([u.isoformat() for u in uniques] + [None], dtype=object)
            return text[codes].tolist()  # code -1 (missing) takes the trailing None
    numpy_kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else "O"
    if numpy_kind in "biu":  # numpy bool and integer arrays hold no missing values
        values = column.to_numpy()
        return values.astype(np.int64).tolist() if bool_as_int and numpy_kind == "b" else values.tolist()
    values = column.to_numpy() if numpy_kind == "f" else column.to_numpy(dtype=object)
    missing = pd.isna(column).to_numpy()
    if not missing.any():
        return values.tolist()
    out = values.astype(object)
    out[missing] = None
    return out.tolist()


def _copy_rows(conn: Connection, target: str, rows: list[tuple]) -> None:
    """Stream rows with PostgreSQL COPY on the connection's own psycopg connection (same transaction)."""
    import psycopg

    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("no driver connection to COPY through")
    try:
        with driver.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:  # the same exception types (IntegrityError, ...) as the INSERT path
        raise DBAPIError.instance(f"COPY {target} FROM STDIN", None, exc, psycopg.Error) from exc


def read_observations(
    engine: Engine,
    indicators: Iterable[str] | None = None,
    level: int | None = None,
    period_type: str = "year",
    region_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Long observations joined to their region's level and ISO3."""
    stmt = (
        select(
            observation.c.region_id,
            region.c.iso3,
            region.c.level,
            observation.c.period_start,
            observation.c.period_type,
            observation.c.indicator,
            observation.c.source,
            observation.c.value,
            observation.c.censored,
        )
        .join(region, region.c.region_id == observation.c.region_id)
        .where(observation.c.period_type == period_type)
    )
    if indicators is not None:
        stmt = stmt.where(observation.c.indicator.in_(list(indicators)))
    if level is not None:
        stmt = stmt.where(region.c.level == level)
    if region_ids is not None:
        stmt = stmt.where(observation.c.region_id.in_(list(region_ids)))
    with engine.connect() as conn:
        frame = pd.DataFrame(
            conn.execute(stmt).all(),
            columns=[
                "region_id",
                "iso3",
                "level",
                "period_start",
                "period_type",
                "indicator",
                "source",
                "value",
                "censored",
            ],
        )
    frame["year"] = pd.to_datetime(frame["period_start"]).dt.year
    return frame


def read_regions(engine: Engine, level: int | None = None, with_geometry: bool = False) -> pd.DataFrame:
    cols = [
        region.c.region_id,
        region.c.level,
        region.c.iso3,
        region.c.parent_id,
        region.c.name,
        region.c.type,
        region.c.area_km2,
        region.c.label_lon,
        region.c.label_lat,
    ]
    if with_geometry:
        cols.append(region.c.geometry_wkb)
    stmt = select(*cols)
    if level is not None:
        stmt = stmt.where(region.c.level == level)
    with engine.connect() as conn:
        return pd.DataFrame(
            conn.execute(stmt.order_by(region.c.region_id)).all(), columns=[c.name for c in cols]
        )


def read_indicators(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(indicator).order_by(indicator.c.code)).all()
    return pd.DataFrame(rows, columns=[c.name for c in indicator.columns])


def read_loads(engine: Engine, current_only: bool = False) -> pd.DataFrame:
    stmt = select(source_load).order_by(source_load.c.load_id)
    if current_only:
        stmt = stmt.where(source_load.c.status == "loaded")
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame(rows, columns=[c.name for c in source_load.columns])


def read_citizenship_pairs(engine: Engine) -> pd.DataFrame:
    """GLOTIP detected victims by citizenship: one row per (detecting country, citizenship, year).

    A pair absent in a year the detecting country reported (see :func:`read_reporting_census`) was below the
    listing threshold, not a known zero. '<5' is ``victims = 5, censored = True``.
    """
    cols = ["detecting_iso3", "citizenship_iso3", "year", "victims", "censored", "is_nationals", "release"]
    stmt = select(*(glotip_pair.c[c] for c in cols)).order_by(
        glotip_pair.c.detecting_iso3, glotip_pair.c.citizenship_iso3, glotip_pair.c.year
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=cols)
    return frame.astype(
        {
            "detecting_iso3": str,
            "citizenship_iso3": str,
            "year": int,
            "victims": float,
            "censored": bool,
            "is_nationals": bool,
            "release": str,
        }
    )


def read_reporting_census(engine: Engine) -> pd.DataFrame:
    """The country-years that reported a citizenship breakdown, with how many citizenships they listed."""
    cols = ["detecting_iso3", "year", "n_citizenships", "release"]
    stmt = select(*(glotip_reporting.c[c] for c in cols)).order_by(
        glotip_reporting.c.detecting_iso3, glotip_reporting.c.year
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=cols)
    return frame.astype({"detecting_iso3": str, "year": int, "n_citizenships": int, "release": str})


def read_displacement_pairs(engine: Engine, year_from: int | None = None) -> pd.DataFrame:
    """UNHCR refugees and asylum-seekers of origin o in asylum country d at the end of each year.

    The diaspora of o in d for the pair model; blank published values stay NaN (not zero). Only countries on
    both
    sides (unknown and stateless origins are not in the table).
    """
    cols = ["origin_iso3", "asylum_iso3", "year", "refugees", "asylum_seekers"]
    stmt = select(*(displacement_pair.c[c] for c in cols))
    if year_from is not None:
        stmt = stmt.where(displacement_pair.c.year >= int(year_from))
    stmt = stmt.order_by(
        displacement_pair.c.origin_iso3, displacement_pair.c.asylum_iso3, displacement_pair.c.year
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=cols)
    return frame.astype(
        {"origin_iso3": str, "asylum_iso3": str, "year": int, "refugees": float, "asylum_seekers": float}
    )
