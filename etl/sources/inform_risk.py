"""INFORM Risk Index (JRC), editions 2023, 2024 and 2025: country risk, its three dimensions, uprooted
people and conflict components.

Read from the JRC workbooks as published (``INFORM_Risk_<year>_v<release>.xlsx``), sheet
``INFORM Risk <year> (a-z)``, with openpyxl in read-only mode so only that sheet is parsed. The header
layout differs between editions: 2023 and 2024 have a blank first row, the header on row 2 and a units
row ``(0-10)`` on row 3; the 2025 workbook has the header on row 1 and no units row. The header row is
found by its ``COUNTRY``/``ISO3`` cells and a units row is recognised (every filled cell is
``(...)``) and checked: a used column whose unit is not ``(0-10)`` is a contract error.

Column names change between editions and are harmonised by meaning (see ``COLUMN_ALIASES``):
``Projected Conflict Risk`` (2023, 2024) = ``Projected Conflict Probability`` (2025);
``Current Highly Violent Conflict Intensity`` (2023, 2024) = ``Current Conflict Intensity`` (2025).

Period convention: edition Y is released in the autumn of Y-1 (2023: 31 Aug 2022; 2024: 15 Sep 2023;
2025: 2nd edition, 31 Mar 2025, first edition autumn 2024) and uses data of 1-3 years before its label,
so its values are stored at year Y-1. The edition is named in each indicator's description. ``x``
marks a value INFORM could not compute; such cells are blank (no observation). One row = one country
and edition, so no aggregation is needed.

This module also holds :func:`read_xlsx_sheet`, the read-only worksheet reader used by the Walk Free
GSI readers.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from etl.contract import (
    FILE,
    REJECT,
    REJECT_DETAIL,
    ROW,
    ContractError,
    parse_number,
    refuse_reserved,
    reject,
    reject_duplicates,
)
from etl.sources import register
from etl.sources.base import IndicatorDef, Source, long_observations

log = logging.getLogger(__name__)

_UNITS_CELL = re.compile(r"^\(.*\)$")
SHEET = re.compile(r"^INFORM Risk (\d{4}) \(a-z\)$")
MAX_BLANK_RUN = 10_000  # this many empty rows in a row end the table (sheets declare ~1M rows)
BLANKS = ("", "x", "X", "..", "NA", "N/A", "-")

# indicator code -> accepted column names, newest first; the first is named in errors
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "structural.inform_risk": ("INFORM RISK",),
    "structural.inform_hazard_exposure": ("HAZARD & EXPOSURE",),
    "structural.inform_vulnerability": ("VULNERABILITY",),
    "structural.inform_lack_of_coping_capacity": ("LACK OF COPING CAPACITY",),
    "displacement.inform_uprooted_people": ("Uprooted people",),
    "conflict.inform_conflict_intensity": ("Current Conflict Intensity", "Current Highly Violent Conflict Intensity",
                                           "Current (Highly Violent) Conflict Intensity"),
    "conflict.inform_conflict_probability": ("Projected Conflict Probability", "Projected Conflict Risk"),
}
ID_COLUMNS = ("COUNTRY", "ISO3")

_LAG = ("Edition Y (released in the autumn of Y-1, data of 1-3 years earlier) stored at year Y-1; "
        "editions 2023-2025 (JRC).")
INDICATORS = (
    IndicatorDef("structural.inform_risk", "structural", "index 0-10", "higher_is_riskier",
                 f"INFORM Risk Index, overall risk of humanitarian crisis. {_LAG}"),
    IndicatorDef("structural.inform_hazard_exposure", "structural", "index 0-10", "higher_is_riskier",
                 f"INFORM Risk: Hazard & Exposure dimension (natural and human hazards). {_LAG}"),
    IndicatorDef("structural.inform_vulnerability", "structural", "index 0-10", "higher_is_riskier",
                 f"INFORM Risk: Vulnerability dimension (socio-economic vulnerability, vulnerable groups). {_LAG}"),
    IndicatorDef("structural.inform_lack_of_coping_capacity", "structural", "index 0-10", "higher_is_riskier",
                 f"INFORM Risk: Lack of Coping Capacity dimension (institutional, infrastructure). {_LAG}"),
    IndicatorDef("displacement.inform_uprooted_people", "displacement", "index 0-10", "higher_is_riskier",
                 f"INFORM Risk: 'Uprooted people' component (refugees, returnees and IDPs relative to "
                 f"population). {_LAG}"),
    IndicatorDef("conflict.inform_conflict_intensity", "conflict", "index 0-10", "higher_is_riskier",
                 f"INFORM Risk: current (highly violent) conflict intensity ('Current Highly Violent Conflict "
                 f"Intensity' 2023-2024, 'Current Conflict Intensity' 2025). {_LAG}"),
    IndicatorDef("conflict.inform_conflict_probability", "conflict", "index 0-10", "higher_is_riskier",
                 f"INFORM Risk: projected conflict risk ('Projected Conflict Risk' 2023-2024, 'Projected Conflict "
                 f"Probability' 2025). {_LAG}"),
)


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


def require_any_columns(frame: pd.DataFrame, aliases: dict[str, tuple[str, ...]], path: Path) -> dict[str, str]:
    """For each code, the first alias present; a code with none present is a ContractError naming its first alias."""
    present = set(frame.columns)
    found = {}
    for code, names in aliases.items():
        hit = next((n for n in names if n in present), None)
        if hit is None:
            raise ContractError(path, f"missing column {names[0]!r} (also accepted: {list(names[1:])}) for {code}",
                                column=names[0])
        found[code] = hit
    return found


def reject_all_blank(frame: pd.DataFrame, value_columns: list[str], what: str) -> None:
    """A row with no value in any used column is ``missing_value``; partly blank rows still load."""
    none = frame[value_columns].isna().all(axis=1)
    reject(frame, none, "missing_value", f"no value in any of {what}")


@register
class InformRisk(Source):
    name = "inform_risk"
    title = "INFORM Risk Index (editions 2023, 2024, 2025)"
    publisher = "European Commission Joint Research Centre (JRC) / INFORM partnership"
    licence = "Free use with attribution ('INFORM Risk Index <year>, European Commission JRC'); CC BY 4.0 on HDX"
    coverage = "191 countries per edition; editions 2023-2025 stored at years 2022-2024"
    folder = "inform_risk_index"
    file_patterns = ("INFORM_Risk_*.xlsx", "inform_risk_*.xlsx")
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = read_xlsx_sheet(path, SHEET, "COUNTRY")
        missing = [c for c in ID_COLUMNS if c not in frame.columns]
        if missing:
            raise ContractError(path, f"missing column {missing[0]!r}", column=missing[0])
        used = require_any_columns(frame, COLUMN_ALIASES, path)
        if not (frame[REJECT].isna()).any():
            raise ContractError(path, "worksheet has a header but no data rows")
        units = frame.attrs.get("units")
        if units:
            for column in used.values():
                if units.get(column, "") not in ("(0-10)", ""):
                    raise ContractError(path, f"units row says {units[column]!r}, expected '(0-10)'", column=column)
        edition = int(SHEET.match(frame.attrs["sheet"]).group(1))
        frame["_edition"] = edition
        frame["_period_start"] = dt.date(edition - 1, 1, 1)
        for code, column in used.items():
            frame[f"_{code}"] = parse_number(frame, column, minimum=0, maximum=10, blank_values=BLANKS)
        reject_all_blank(frame, [f"_{c}" for c in used], "the INFORM columns used")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_code(parsed, "ISO3", name_column="COUNTRY")
        reject_duplicates(parsed, ["_region_id", "_edition"], "country and edition")
        return long_observations(parsed, {f"_{code}": code for code in COLUMN_ALIASES})


__all__ = ["InformRisk", "read_xlsx_sheet", "reject_all_blank", "require_any_columns"]
