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
    INSERTs as its largest single cost). SQLite: one prepared INSERT run by ``executemany`` over plain Python
    tuples. Either way the rows join the open transaction, so a load stays all-or-nothing; column names come
    from the table definition and values are always bound or streamed, never formatted into SQL.
    """
    if frame.empty:
        return
    cols = [c for c in frame.columns if c in table.c]
    columns = [_python_values(frame[c], table.c[c].type) for c in cols]
    rows = list(zip(*columns, strict=True))
    preparer = conn.dialect.identifier_preparer
    target = f"{preparer.format_table(table)} ({', '.join(preparer.quote(c) for c in cols)})"
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        _copy_rows(conn, target, rows)
        return
    style = conn.dialect.paramstyle
    if style == "qmark":
        marks = ", ".join("?" for _ in cols)
    elif style in ("format", "pyformat"):
        marks = ", ".join("%s" for _ in cols)
    else:
        marks = ", ".join(f":{c}" for c in cols)
    sql = f"INSERT INTO {target} VALUES ({marks})"  # noqa: S608 - identifiers from the table, values bound
    for start in range(0, len(rows), CHUNK * 5):
        conn.exec_driver_sql(sql, rows[start : start + CHUNK * 5])


def _python_values(column: pd.Series, sql_type: Any) -> list:
    """A column as a list of plain Python values with None for missing, converted once per distinct value.

    Dates become ISO text (what sqlite3's default adapter and SQLAlchemy's SQLite ``Date`` store, and what
    PostgreSQL parses), computed for the few distinct dates instead of once per row.
    """
    if isinstance(sql_type, Date) and not isinstance(sql_type, DateTime) and column.dtype == object:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        if len(uniques) and all(type(u) is dt.date for u in uniques):
            text = np.array([u.isoformat() for u in uniques] + [None], dtype=object)
            return text[codes].tolist()  # code -1 (missing) takes the trailing None
    numpy_kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else "O"
    if numpy_kind in "biu":  # numpy bool and integer arrays hold no missing values
        return column.to_numpy().tolist()
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
