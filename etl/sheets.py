"""Reading one worksheet of a publisher's .xlsx workbook as text, quickly and with spreadsheet row numbers."""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from etl.contract import FILE, REJECT, REJECT_DETAIL, ROW, ContractError, refuse_reserved

_UNITS_CELL = re.compile(r"^\(.*\)$")
MAX_BLANK_RUN = 10_000  # this many empty rows in a row end the table (sheets declare ~1M rows)


def _cell_text(value: object) -> str:
    """A worksheet cell as the text a CSV export would hold (empty for an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _dedupe(names: list[str]) -> list[str]:
    """Repeated header names get pandas' suffixes ('%', '%.1', '%.2'), as a CSV export would."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


def read_xlsx_sheet(
    path: Path, sheet: str | re.Pattern[str], header_key: str, *, max_header_row: int = 10
) -> pd.DataFrame:
    """Read one worksheet as text, read-only (only that sheet is parsed), header found by a key cell.

    Why not ``pd.read_excel``: it parses the whole workbook (slow for the 2 MB INFORM files), and the
    header row moves between editions. The header is the first of the first ``max_header_row`` rows
    with a cell equal to ``header_key`` (spaces stripped). A units row right under it (every filled
    cell like ``(0-10)``) is kept in ``frame.attrs['units']`` and is not a data row. Trailing empty
    rows (spreadsheet formatting) are not rows; empty rows inside the table are ``blank_row``.
    ``_row`` is the spreadsheet row number; ``frame.attrs['sheet']`` is the sheet name.
    """
    path = Path(path)
    if not path.exists():
        raise ContractError(path, "file not found")
    with warnings.catch_warnings():  # openpyxl's "extension is not supported": formatting only
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        return _read_xlsx_sheet(path, sheet, header_key, max_header_row)


def _read_xlsx_sheet(
    path: Path, sheet: str | re.Pattern[str], header_key: str, max_header_row: int
) -> pd.DataFrame:
    book = _open_workbook(path)
    try:
        name = _sheet_name(path, book.sheetnames, sheet)
        scan = _scan_rows(book[name].iter_rows(min_row=1, values_only=True), header_key, max_header_row)
    finally:
        book.close()
    if scan.header is None:
        raise ContractError(
            path,
            f"no header row with a '{header_key}' cell in the first {max_header_row} "
            f"rows of worksheet '{name}'",
            column=header_key,
        )
    return _sheet_frame(path, name, scan)


def _open_workbook(path: Path) -> Any:
    """The workbook, read-only; any failure of openpyxl is a ContractError naming the file."""
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for non-xlsx input
        raise ContractError(path, f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from None


def _sheet_name(path: Path, sheetnames: list[str], sheet: str | re.Pattern[str]) -> str:
    """The worksheet asked for: an exact name, or the first name the pattern matches (editions rename it)."""
    if isinstance(sheet, str):
        name = sheet if sheet in sheetnames else None
    else:
        name = next((s for s in sheetnames if sheet.match(s)), None)
    if name is None:
        want = sheet if isinstance(sheet, str) else sheet.pattern
        raise ContractError(path, f"worksheet '{want}' not found; the workbook has {sheetnames}")
    return name


@dataclass
class _SheetScan:
    """What one pass over a worksheet's rows found: header, optional units row, data rows, their numbers."""

    header: list[str] | None = None
    header_at: int = 0
    units: dict[str, str] | None = None
    rows: list[list[str]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    pending_blank: list[int] = field(default_factory=list)

    def add(self, number: int, cells: list[str]) -> bool:
        """Take one row after the header; False when a long run of empty rows ends the table."""
        filled = [c.strip() for c in cells if c.strip()]
        if number == self.header_at + 1 and filled and all(_UNITS_CELL.match(c) for c in filled):
            self.units = dict(zip(self.header or [], (c.strip() for c in cells), strict=False))
            return True
        if not filled:
            self.pending_blank.append(number)
            return len(self.pending_blank) <= MAX_BLANK_RUN  # formatted empty rows to the sheet's end
        for blank in self.pending_blank:  # empty rows inside the table are rows of the file
            self.rows.append([""] * len(cells))
            self.numbers.append(blank)
        self.pending_blank = []
        self.rows.append(cells)
        self.numbers.append(number)
        return True


def _scan_rows(values_rows: Iterable[tuple[object, ...]], header_key: str, max_header_row: int) -> _SheetScan:
    """One streaming pass: the header is the first row with a ``header_key`` cell in the first rows."""
    scan = _SheetScan()
    for number, values in enumerate(values_rows, start=1):
        cells = [_cell_text(v) for v in values]
        if scan.header is not None:
            if not scan.add(number, cells):
                break
        elif any(c.strip() == header_key for c in cells):
            scan.header, scan.header_at = cells, number
        elif number >= max_header_row:
            break
    return scan


def _sheet_frame(path: Path, name: str, scan: _SheetScan) -> pd.DataFrame:
    """The rows as a text frame with the contract's bookkeeping columns (row number, reject, file)."""
    header = scan.header or []
    width = len(header)
    frame = pd.DataFrame([(r + [""] * width)[:width] for r in scan.rows], columns=range(width), dtype=str)
    names = [" ".join(h.split()) for h in header]
    keep = [i for i, h in enumerate(names) if h or (len(frame) and (frame[i].str.strip() != "").any())]
    names = _dedupe([names[i] or f"Unnamed: {i}" for i in keep])
    frame = frame[keep]
    frame.columns = names
    refuse_reserved(frame, path)
    frame.insert(0, ROW, np.array(scan.numbers, dtype=np.int64))
    frame[REJECT] = None
    frame[REJECT_DETAIL] = None
    blank = frame[names].apply(lambda c: c.str.strip() == "").all(axis=1) if names else pd.Series(dtype=bool)
    frame.loc[blank, REJECT] = "blank_row"
    frame.loc[blank, REJECT_DETAIL] = "row is empty"
    frame[FILE] = path.name
    frame.attrs["sheet"] = name
    frame.attrs["units"] = {" ".join(k.split()): v for k, v in scan.units.items()} if scan.units else None
    return frame
