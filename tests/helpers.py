"""Helpers that build malformed variants of real fixture files for reader tests."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd

from etl.contract import REJECT, REJECT_DETAIL, ROW


def read_fixture_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8-sig")


def write_like(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write text, gzip-compressed when the name ends in .gz (as the real file would be)."""
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def to_csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def drop_column(text: str, column: str) -> str:
    rows = rows_of(text)
    i = rows[0].index(column)
    return to_csv_text([r[:i] + r[i + 1 :] for r in rows])


def set_cell(text: str, data_row: int, column: str, value: str) -> str:
    """Set a cell; ``data_row`` is 0-based among data rows (file line = data_row + 2)."""
    rows = rows_of(text)
    i = rows[0].index(column)
    rows[data_row + 1][i] = value
    return to_csv_text(rows)


def duplicate_row(text: str, data_row: int) -> str:
    rows = rows_of(text)
    rows.append(list(rows[data_row + 1]))
    return to_csv_text(rows)


def rejected(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[frame[REJECT].notna(), [ROW, REJECT, REJECT_DETAIL]]
