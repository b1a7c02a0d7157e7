"""Reading one worksheet of a publisher's .xlsx workbook as text, quickly and with spreadsheet row numbers."""

from __future__ import annotations

import datetime as dt
import re
import warnings
from pathlib import Path

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


def read_xlsx_sheet(path: Path, sheet: str | re.Pattern[str], header_key: str,
                    *, max_header_row: int = 10) -> pd.DataFrame:
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


def _read_xlsx_sheet(path: Path, sheet: str | re.Pattern[str], header_key: str, max_header_row: int) -> pd.DataFrame:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for non-xlsx input
        raise ContractError(path, f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from None
    try:
        if isinstance(sheet, str):
            name = sheet if sheet in book.sheetnames else None
        else:
            name = next((s for s in book.sheetnames if sheet.match(s)), None)
        if name is None:
            want = sheet if isinstance(sheet, str) else sheet.pattern
            raise ContractError(path, f"worksheet '{want}' not found; the workbook has {book.sheetnames}")
        header: list[str] | None = None
        header_at = 0
        units: dict[str, str] | None = None
        rows: list[list[str]] = []
        numbers: list[int] = []
        pending_blank: list[int] = []
        for number, values in enumerate(book[name].iter_rows(min_row=1, values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if header is None:
                if any(c.strip() == header_key for c in cells):
                    header, header_at = cells, number
                elif number >= max_header_row:
                    break
                continue
            filled = [c.strip() for c in cells if c.strip()]
            if number == header_at + 1 and filled and all(_UNITS_CELL.match(c) for c in filled):
                units = dict(zip(header, (c.strip() for c in cells), strict=False))
                continue
            if not filled:
                pending_blank.append(number)
                if len(pending_blank) > MAX_BLANK_RUN:  # formatted empty rows to the sheet's end
                    break
                continue
            for blank in pending_blank:  # empty rows inside the table are rows of the file
                rows.append([""] * len(cells))
                numbers.append(blank)
            pending_blank = []
            rows.append(cells)
            numbers.append(number)
    finally:
        book.close()
    if header is None:
        raise ContractError(path, f"no header row with a '{header_key}' cell in the first {max_header_row} rows of "
                            f"worksheet '{name}'", column=header_key)
    width = len(header)
    frame = pd.DataFrame([(r + [""] * width)[:width] for r in rows], columns=range(width), dtype=str)
    names = [" ".join(h.split()) for h in header]
    keep = [i for i, h in enumerate(names) if h or (len(frame) and (frame[i].str.strip() != "").any())]
    names = _dedupe([names[i] or f"Unnamed: {i}" for i in keep])
    frame = frame[keep]
    frame.columns = names
    refuse_reserved(frame, path)
    frame.insert(0, ROW, np.array(numbers, dtype=np.int64))
    frame[REJECT] = None
    frame[REJECT_DETAIL] = None
    blank = frame[names].apply(lambda c: c.str.strip() == "").all(axis=1) if names else pd.Series(dtype=bool)
    frame.loc[blank, REJECT] = "blank_row"
    frame.loc[blank, REJECT_DETAIL] = "row is empty"
    frame[FILE] = path.name
    frame.attrs["sheet"] = name
    frame.attrs["units"] = {" ".join(k.split()): v for k, v in units.items()} if units else None
    return frame
