"""The donor tables as CSV and as CSV with an HXL hashtag row; cells are safe to open in a spreadsheet.

Two tables: the watch-list priorities (the headline, ``to_watch_csv``) and the detected-victims table ("where
victims are found", ``to_csv``). Columns, headers and HXL tags: models.fields.
"""

from __future__ import annotations

import io

import pandas as pd

from models import fields
from models.fields import Field
from warehouse.csvsafe import neutralise  # one rule for every CSV the product writes

# Headers, HXL tags, types and decimals come from the one field table (models.fields).
PRIORITY_COLUMNS: dict[str, Field] = {name: fields.DETECTED[name] for name in fields.DETECTED_DOWNLOAD}
WATCH_COLUMNS: dict[str, Field] = {name: fields.RISE[name] for name in fields.RISE_DOWNLOAD}
# The priorities query names the region's name column after the region; the field is "name" everywhere.
QUERY_NAMES = {"region_name": "name"}


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Neutralise every text cell (numbers stay numbers: -3 is a number, '-3' text is quoted)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out


def _table_csv(frame: pd.DataFrame, columns: dict[str, Field], level: int | None, hxl: bool) -> str:
    """CSV of the ``columns`` the frame has, in their order: headers with units, the HXL row if asked, data.

    Decimal columns are rounded as the field table says; other float columns are counts, USD or years: whole
    numbers, blank when missing. Text cells are neutralised.
    """
    frame = frame.rename(columns=QUERY_NAMES)
    cols = [c for c in columns if c in frame.columns]
    data = frame[cols].copy()
    for col in cols:
        if columns[col].decimals is not None:
            data[col] = pd.to_numeric(data[col], errors="coerce").round(columns[col].decimals)
        elif pd.api.types.is_float_dtype(data[col]):
            data[col] = data[col].round(0).astype("Int64")
    data = safe_frame(data)
    headers = [columns[c].header for c in cols]
    buf = io.StringIO()
    if hxl:
        pd.DataFrame([[columns[c].tag(level) for c in cols]], columns=headers).to_csv(
            buf, index=False, lineterminator="\n"
        )
        data.to_csv(buf, index=False, header=False, lineterminator="\n")
    else:
        data.to_csv(buf, index=False, header=headers, lineterminator="\n")
    return buf.getvalue()


def to_csv(frame: pd.DataFrame, level: int = 0, hxl: bool = False) -> str:
    """The detected-victims table as CSV text (a region column is tagged as a country at level 0)."""
    return _table_csv(frame, PRIORITY_COLUMNS, level, hxl)


def to_watch_csv(frame: pd.DataFrame, hxl: bool = False) -> str:
    """The watch-list priorities as CSV text: headers with units, the HXL row if ``hxl``, then the data."""
    return _table_csv(frame, WATCH_COLUMNS, 0, hxl)
