"""Fund for Peace Fragile States Index 2023: total score and four indicators relevant to trafficking risk.

Sheet ``data`` of FSI-2023-DOWNLOAD.xlsx as CSV. Headers are irregularly spaced
(``E3:  Human Flight and Brain Drain``, ``E1 :Economy``) and are compared with runs of spaces collapsed.
``Total`` is 0-120 and each indicator 0-10 (higher = more fragile). The last column,
``Fragility_Level``, was added by the repository owner (a banding of Total), not by Fund for Peace,
and is ignored. ``Rank`` is text (``1st``) and not loaded. Period: the ``year`` column (2023, the
edition year; FSI scores assess the previous calendar year). One row = one country; no aggregation.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from etl.contract import (
    parse_number,
    parse_year,
    read_text_table,
    reject_all_blank,
    reject_duplicates,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import IndicatorDef, Source, long_observations, year_start

log = logging.getLogger(__name__)

# column -> (indicator code, maximum)
VALUES = {
    "Total": ("structural.fsi_total", 120),
    "S2 : Refugees and IDPs": ("displacement.fsi_refugees_idps", 10),
    "E3: Human Flight and Brain Drain": ("structural.fsi_human_flight", 10),
    "P1 : State Legitimacy": ("structural.fsi_state_legitimacy", 10),
    "C1 : Security Apparatus": ("structural.fsi_security_apparatus", 10),
}
COLUMNS = ["Country", "year", *VALUES]
_ED = "Fund for Peace Fragile States Index 2023 (published 2023, assessing 2022); stored at 2023."
INDICATORS = (
    IndicatorDef(
        "structural.fsi_total",
        "structural",
        "score 0-120",
        "higher_is_riskier",
        f"Fragile States Index total (sum of 12 indicators; 120 = most fragile). {_ED}",
    ),
    IndicatorDef(
        "displacement.fsi_refugees_idps",
        "displacement",
        "score 0-10",
        "higher_is_riskier",
        f"FSI indicator S2 Refugees and IDPs (pressure from forced displacement). {_ED}",
    ),
    IndicatorDef(
        "structural.fsi_human_flight",
        "structural",
        "score 0-10",
        "higher_is_riskier",
        f"FSI indicator E3 Human Flight and Brain Drain. {_ED}",
    ),
    IndicatorDef(
        "structural.fsi_state_legitimacy",
        "structural",
        "score 0-10",
        "higher_is_riskier",
        f"FSI indicator P1 State Legitimacy (10 = least legitimate). {_ED}",
    ),
    IndicatorDef(
        "structural.fsi_security_apparatus",
        "structural",
        "score 0-10",
        "higher_is_riskier",
        f"FSI indicator C1 Security Apparatus (10 = greatest security threats). {_ED}",
    ),
)


@register
class Fsi2023(Source):
    name = "fsi_2023"
    title = "Fragile States Index 2023"
    publisher = "The Fund for Peace"
    licence = "Free use with attribution for non-commercial purposes (Fund for Peace terms)"
    coverage = "179 countries, 2023"
    folder = "fsi_2023"
    file_patterns = ("fsi_*.csv",)
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_year"] = parse_year(frame, "year", minimum=2005)
        for column, (code, maximum) in VALUES.items():
            frame[f"_{code}"] = parse_number(frame, column, minimum=0, maximum=maximum)
        reject_all_blank(frame, [f"_{c}" for c, _ in VALUES.values()], "Total, S2, E3, P1, C1")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_name(parsed, "Country")
        reject_duplicates(parsed, ["_region_id", "_year"], "country and year")
        ok = parsed["_reject"].isna()
        parsed["_period_start"] = None
        parsed.loc[ok, "_period_start"] = year_start(parsed.loc[ok, "_year"])
        return long_observations(parsed, {f"_{code}": code for code, _ in VALUES.values()})


__all__ = ["Fsi2023"]
