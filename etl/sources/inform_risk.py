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
from pathlib import Path

import pandas as pd

from etl.contract import (
    REJECT,
    ContractError,
    parse_number,
    reject_all_blank,
    reject_duplicates,
    require_any_columns,
)
from etl.sheets import read_xlsx_sheet
from etl.sources import register
from etl.sources.base import IndicatorDef, Source, long_observations

log = logging.getLogger(__name__)

SHEET = re.compile(r"^INFORM Risk (\d{4}) \(a-z\)$")
BLANKS = ("", "x", "X", "..", "NA", "N/A", "-")

# indicator code -> accepted column names, newest first; the first is named in errors
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "structural.inform_risk": ("INFORM RISK",),
    "structural.inform_hazard_exposure": ("HAZARD & EXPOSURE",),
    "structural.inform_vulnerability": ("VULNERABILITY",),
    "structural.inform_lack_of_coping_capacity": ("LACK OF COPING CAPACITY",),
    "displacement.inform_uprooted_people": ("Uprooted people",),
    "conflict.inform_conflict_intensity": (
        "Current Conflict Intensity",
        "Current Highly Violent Conflict Intensity",
        "Current (Highly Violent) Conflict Intensity",
    ),
    "conflict.inform_conflict_probability": ("Projected Conflict Probability", "Projected Conflict Risk"),
}
ID_COLUMNS = ("COUNTRY", "ISO3")

_LAG = (
    "Edition Y (released in the autumn of Y-1, data of 1-3 years earlier) stored at year Y-1; "
    "editions 2023-2025 (JRC)."
)
INDICATORS = (
    IndicatorDef(
        "structural.inform_risk",
        "structural",
        "index 0-10",
        "higher_is_riskier",
        f"INFORM Risk Index, overall risk of humanitarian crisis. {_LAG}",
    ),
    IndicatorDef(
        "structural.inform_hazard_exposure",
        "structural",
        "index 0-10",
        "higher_is_riskier",
        f"INFORM Risk: Hazard & Exposure dimension (natural and human hazards). {_LAG}",
    ),
    IndicatorDef(
        "structural.inform_vulnerability",
        "structural",
        "index 0-10",
        "higher_is_riskier",
        f"INFORM Risk: Vulnerability dimension (socio-economic vulnerability, vulnerable groups). {_LAG}",
    ),
    IndicatorDef(
        "structural.inform_lack_of_coping_capacity",
        "structural",
        "index 0-10",
        "higher_is_riskier",
        f"INFORM Risk: Lack of Coping Capacity dimension (institutional, infrastructure). {_LAG}",
    ),
    IndicatorDef(
        "displacement.inform_uprooted_people",
        "displacement",
        "index 0-10",
        "higher_is_riskier",
        "INFORM Risk: 'Uprooted people' component (refugees, returnees and IDPs relative to "
        f"population). {_LAG}",
    ),
    IndicatorDef(
        "conflict.inform_conflict_intensity",
        "conflict",
        "index 0-10",
        "higher_is_riskier",
        "INFORM Risk: current (highly violent) conflict intensity ('Current Highly Violent Conflict "
        f"Intensity' 2023-2024, 'Current Conflict Intensity' 2025). {_LAG}",
    ),
    IndicatorDef(
        "conflict.inform_conflict_probability",
        "conflict",
        "index 0-10",
        "higher_is_riskier",
        "INFORM Risk: projected conflict risk ('Projected Conflict Risk' 2023-2024, 'Projected Conflict "
        f"Probability' 2025). {_LAG}",
    ),
)


@register
class InformRisk(Source):
    name = "inform_risk"
    title = "INFORM Risk Index (editions 2023, 2024, 2025)"
    publisher = "European Commission Joint Research Centre (JRC) / INFORM partnership"
    licence = (
        "Free use with attribution ('INFORM Risk Index <year>, European Commission JRC'); CC BY 4.0 on HDX"
    )
    coverage = "191 countries per edition; editions 2023-2025 stored at years 2022-2024"
    folder = "inform_risk"
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
                    raise ContractError(
                        path, f"units row says {units[column]!r}, expected '(0-10)'", column=column
                    )
        sheet = SHEET.match(frame.attrs["sheet"])
        if sheet is None:
            raise ContractError(
                path, f"worksheet {frame.attrs['sheet']!r} is not named 'INFORM Risk <year> (a-z)'"
            )
        edition = int(sheet.group(1))
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


__all__ = ["InformRisk"]
