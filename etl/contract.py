"""Reading raw files safely and checking column contracts.

Every problem with a file as a whole (missing file, wrong encoding, empty, missing column) is a
:class:`ContractError` that names the file, the row when known, and what was expected. Problems with
single rows are quarantined by the source, not raised.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

ROW = "_row"  # 1-based line number in the file, header = line 1
REJECT = "_reject"  # reason code, None when the row is fine
REJECT_DETAIL = "_reject_detail"  # human-readable reason
FILE = "_file"  # file name the row came from


RESERVED = (ROW, REJECT, REJECT_DETAIL, FILE)
Mask = pd.Series | np.ndarray  # one boolean per row of the frame
# why rows are rejected: one text, a text per row, or a function of the rejected rows (built only for those)
Detail = str | pd.Series | Callable[[pd.DataFrame], pd.Series]


def refuse_reserved(frame: pd.DataFrame, path: Path) -> None:
    """A header that reuses a bookkeeping column name would overwrite it (found by fuzzing)."""
    clash = [c for c in frame.columns if str(c).strip() in RESERVED]
    if clash:
        raise ContractError(
            path,
            f"column name {str(clash[0]).strip()!r} is reserved; expected the publisher's own column names",
            column=str(clash[0]),
        )


class ContractError(ValueError):
    """A file cannot be read as its publisher's format; names the file, row and column."""

    def __init__(self, file: Path | str, message: str, row: int | None = None, column: str | None = None):
        self.file = str(file)
        self.row = row
        self.column = column
        where = Path(self.file).name
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")


def read_text_table(
    path: Path,
    *,
    skip_rows: Iterable[int] = (),
    header_row: int = 0,
    encoding: str = "utf-8-sig",
    sep: str = ",",
) -> pd.DataFrame:
    """Read a CSV (optionally gzip) as strings, adding the file line number in ``_row``.

    Everything is read as text so that the source's ``parse`` decides what a bad number is,
    instead of pandas silently coercing it.
    """
    path = Path(path)
    if not path.exists():
        raise ContractError(path, "file not found")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        import gzip

        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ContractError(path, f"not a valid gzip file ({exc})") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ContractError(
            path,
            f"byte 0x{raw[exc.start]:02x} is not valid {encoding.upper().replace('-SIG', '')}; "
            "expected UTF-8 text (re-save the file as UTF-8)",
            row=line,
        ) from None
    if not text.strip():
        raise ContractError(path, "file is empty; expected a header row and data rows")
    skip = set(skip_rows)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            sep=sep,
            skiprows=sorted(skip) or None,  # a callable here ran once per line of the file
            header=header_row,
            skip_blank_lines=False,
        )
    except pd.errors.ParserError as exc:
        raise ContractError(path, f"malformed CSV ({exc})") from None
    except pd.errors.EmptyDataError:
        raise ContractError(path, "file is empty; expected a header row and data rows") from None
    frame.columns = [str(c) for c in frame.columns]
    refuse_reserved(frame, path)
    # line numbers: header line is 1 (+ skipped lines before data)
    first_data_line = header_row + 2 + sum(1 for s in skip if s <= header_row + 1 + len(skip))
    frame.insert(0, ROW, np.arange(first_data_line, first_data_line + len(frame), dtype=np.int64))
    data = frame.drop(columns=[ROW])
    blank = (
        data.iloc[:, 0].astype(str).str.strip() == ""
        if data.shape[1]
        else pd.Series(False, index=frame.index)
    )
    if blank.any():  # only rows whose first cell is empty can be blank
        blank[blank] = data[blank].apply(lambda col: col.astype(str).str.strip() == "").all(axis=1)
    frame[REJECT] = None
    frame[REJECT_DETAIL] = None
    frame.loc[blank, REJECT] = "blank_row"
    frame.loc[blank, REJECT_DETAIL] = "row is empty"
    frame[FILE] = path.name
    return frame


def read_excel_sheet(
    path: Path, sheet: str | int, *, header_row: int = 0, skip_rows: Iterable[int] = ()
) -> pd.DataFrame:
    """Read one worksheet as text, with the spreadsheet row number in ``_row``."""
    path = Path(path)
    if not path.exists():
        raise ContractError(path, "file not found")
    try:
        frame = pd.read_excel(
            path,
            sheet_name=sheet,
            header=header_row,
            dtype=str,
            engine="openpyxl",
            keep_default_na=False,
            skiprows=list(skip_rows) or None,
        )
    except ValueError as exc:
        raise ContractError(path, f"cannot read worksheet '{sheet}' ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for non-xlsx input
        raise ContractError(path, f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from None
    frame.columns = [str(c) for c in frame.columns]
    refuse_reserved(frame, path)
    first = header_row + 2 + len(list(skip_rows))
    frame.insert(0, ROW, np.arange(first, first + len(frame), dtype=np.int64))
    frame[REJECT] = None
    frame[REJECT_DETAIL] = None
    blank = (
        frame.drop(columns=[ROW, REJECT, REJECT_DETAIL])
        .apply(lambda c: c.astype(str).str.strip() == "")
        .all(axis=1)
    )
    frame.loc[blank, REJECT] = "blank_row"
    frame.loc[blank, REJECT_DETAIL] = "row is empty"
    frame[FILE] = path.name
    return frame


def require_columns(frame: pd.DataFrame, columns: Iterable[str], path: Path | str) -> None:
    """Fail with a clear error naming the file and the first missing column."""
    present = {c.strip() for c in frame.columns}
    missing = [c for c in columns if c not in present]
    if missing:
        raise ContractError(
            path,
            f"missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"expected the publisher's columns {sorted(columns)}",
            column=missing[0],
        )
    if len(frame) == 0:
        raise ContractError(path, "file has a header but no data rows")


def strip_column_names(frame: pd.DataFrame) -> pd.DataFrame:
    """Publishers pad headers with spaces; normalise so contracts compare cleanly."""
    frame.columns = [" ".join(str(c).split()) if not str(c).startswith("_") else c for c in frame.columns]
    return frame


def reject(frame: pd.DataFrame, mask: Mask, code: str, detail: Detail) -> None:
    """Mark rows as rejected (first reason wins).

    ``detail`` is a string, a Series aligned to the frame, or a function of the rejected rows that
    returns a Series (so messages are only built for the rows that need them).
    """
    mask = pd.Series(mask, index=frame.index).fillna(False).astype(bool) & frame[REJECT].isna()
    if not mask.any():
        return
    frame.loc[mask, REJECT] = code
    if callable(detail):
        frame.loc[mask, REJECT_DETAIL] = detail(frame.loc[mask]).astype(str)
    elif isinstance(detail, pd.Series):
        frame.loc[mask, REJECT_DETAIL] = detail[mask].astype(str)
    else:
        frame.loc[mask, REJECT_DETAIL] = detail


def finite_numbers(text: pd.Series) -> pd.Series:
    """Text to float where every non-finite result is NaN.

    ``pd.to_numeric`` reads 'inf', 'Infinity', '-inf' and overflowing literals such as '1e309' as +-Inf and
    'NaN' as NaN; none of them is a publisher's number, so callers treat NaN as "not a number" and
    quarantine the row with ``invalid_number`` (the warehouse also refuses them: a CHECK on
    ``observation.value``).
    """
    values = _arrow_floats(text)
    if values is None:
        values = pd.to_numeric(text, errors="coerce").astype(float)
    return values.where(np.isfinite(values))


def _arrow_floats(text: pd.Series) -> pd.Series | None:
    """Arrow's own string -> float64 cast when every cell is a plain number (or missing), else None.

    Ten times faster than ``pd.to_numeric`` on Arrow-backed text (the profile showed ``to_numeric`` across
    the readers) and correctly rounded like it. Arrow refuses anything ``to_numeric`` might still read
    (padding, thousands separators, empty text), so a column with one such cell takes ``to_numeric``
    instead; where Arrow does read a cell it agrees with ``to_numeric`` ('inf' and 'nan' included).
    """
    if not isinstance(text.dtype, pd.StringDtype):
        return None
    try:
        cast = pc.cast(pa.array(text.array), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
        return None
    return pd.Series(cast.to_numpy(zero_copy_only=False), index=text.index, name=text.name, dtype=float)


def parse_number(
    frame: pd.DataFrame,
    column: str,
    *,
    allow_blank: bool = True,
    minimum: float | None = None,
    maximum: float | None = None,
    blank_values: Iterable[str] = ("", "..", "NA", "N/A", "nan", "-"),
    thousands: bool = True,
) -> pd.Series:
    """Parse a text column to float; unparseable, non-finite or out-of-range cells reject their row.

    Blank markers become NaN (allowed) unless ``allow_blank`` is false. 'inf', 'NaN', '1e309' and the like
    are ``invalid_number`` (see :func:`finite_numbers`).
    """
    text = frame[column].astype(str).str.strip()
    if thousands:
        text = text.str.replace(",", "", regex=False).str.replace("\u00a0", "", regex=False)
        text = text.str.replace(" ", "", regex=False)
    blank = text.isin(list(blank_values))
    values = finite_numbers(text.where(~blank))
    bad = values.isna() & ~blank
    reject(
        frame,
        bad,
        "invalid_number",
        lambda rows: (
            "column '" + column + "': '" + rows[column].astype(str).str.slice(0, 40) + "' is not a number"
        ),
    )
    if not allow_blank:
        reject(frame, blank, "missing_value", f"column '{column}' is empty")
    if minimum is not None:
        reject(
            frame,
            values < minimum,
            "out_of_range",
            lambda rows: (
                "column '"
                + column
                + "': "
                + values[rows.index].astype(str)
                + f" is below the minimum {minimum}"
            ),
        )
    if maximum is not None:
        reject(
            frame,
            values > maximum,
            "out_of_range",
            lambda rows: (
                "column '"
                + column
                + "': "
                + values[rows.index].astype(str)
                + f" is above the maximum {maximum}"
            ),
        )
    return values.astype(float)


def parse_year(frame: pd.DataFrame, column: str, minimum: int = 1900, maximum: int = 2100) -> pd.Series:
    """Parse a year column; rows with a bad or implausible year are rejected."""
    values = parse_number(frame, column, allow_blank=False, minimum=minimum, maximum=maximum, thousands=False)
    frac = values.notna() & (values % 1 != 0)
    reject(frame, frac, "invalid_number", f"column '{column}' is not a whole year")
    # a rejected huge value (1e21) does not fit in Int64: it becomes missing (found by fuzzing)
    return values.where(values.abs() < 2**53).round().astype("Int64")


def reject_duplicates(frame: pd.DataFrame, keys: list[str], what: str = "row") -> None:
    """Keep the first row for each key among accepted rows; later copies are rejected as duplicates."""
    ok = frame[REJECT].isna()
    dup = frame.loc[ok, keys].duplicated(keep="first")  # the key columns only: most files have no duplicate
    if not dup.any():
        return
    # the first row of each key: the accepted rows that are not later copies
    first_rows = frame.loc[dup[~dup].index, [*keys, ROW]].set_index(keys)[ROW]
    idx = dup[dup].index
    for i in idx:
        key = tuple(frame.loc[i, k] for k in keys)
        try:
            first = first_rows.loc[key if len(keys) > 1 else key[0]]
        except KeyError:
            first = "?"
        frame.loc[i, REJECT] = "duplicate"
        frame.loc[i, REJECT_DETAIL] = (
            f"duplicate {what} for {dict(zip(keys, map(str, key), strict=True))}; first at row {first}"
        )


def require_any_columns(
    frame: pd.DataFrame, aliases: dict[str, tuple[str, ...]], path: Path
) -> dict[str, str]:
    """For each code, the first alias present; a code with none present is a ContractError naming its first
    alias."""
    present = set(frame.columns)
    found = {}
    for code, names in aliases.items():
        hit = next((n for n in names if n in present), None)
        if hit is None:
            raise ContractError(
                path,
                f"missing column {names[0]!r} (also accepted: {list(names[1:])}) for {code}",
                column=names[0],
            )
        found[code] = hit
    return found


def reject_all_blank(frame: pd.DataFrame, value_columns: list[str], what: str) -> None:
    """A row with no value in any used column is ``missing_value``; partly blank rows still load."""
    none = frame[value_columns].isna().all(axis=1)
    reject(frame, none, "missing_value", f"no value in any of {what}")
