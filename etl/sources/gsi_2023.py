"""Walk Free Global Slavery Index 2023: prevalence per 1,000 and estimated number of people in modern slavery.

The file is a reduced copy of Walk Free's ``2023-Global-Slavery-Index-Data.xlsx`` ("GSI 2023 summary
data") as CSV: the header is padded (``"  Country "``; names are compared with spaces stripped) and
numbers carry thousands separators and padding (``"  38,928,000 "``). 20 small states have no estimate
(blank prevalence and number) and are ``missing_value``. Period: the estimates refer to 2021 (edition
published May 2023), so values are stored at 2021; per-1,000 rates like GSI 2018 but a different method,
so a separate indicator. One row = one country; no aggregation.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pandas as pd

from etl.contract import (
    parse_number,
    read_text_table,
    reject_all_blank,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import IndicatorDef
from etl.sources.gsi_2016 import GsiEdition, parse_estimate

log = logging.getLogger(__name__)

PREVALENCE = "Estimated prevalence of modern slavery per 1,000 population"
NUMBER = "Estimated number of people in modern slavery"
COLUMNS = ["Country", "Population", "Region", PREVALENCE, NUMBER]
YEAR = 2021
_ED = "Walk Free Global Slavery Index 2023 edition (published May 2023), estimates for 2021; stored at 2021."
INDICATORS = (
    IndicatorDef(
        "trafficking.gsi2023_prevalence_per_1000",
        "trafficking",
        "victims per 1,000 population",
        "higher_is_riskier",
        f"Estimated prevalence of modern slavery (model-based). {_ED}",
    ),
    IndicatorDef(
        "trafficking.gsi2023_victims_estimated",
        "trafficking",
        "persons",
        "higher_is_riskier",
        f"Estimated number of people in modern slavery. {_ED}",
    ),
)
VALUES = {
    "_prevalence": "trafficking.gsi2023_prevalence_per_1000",
    "_number": "trafficking.gsi2023_victims_estimated",
}


@register
class Gsi2023(GsiEdition):
    name = "gsi_2023"
    title = "Global Slavery Index 2023 (prevalence and estimated number)"
    publisher = "Walk Free (Minderoo Foundation)"
    licence = "Walk Free terms: use with attribution ('Walk Free, Global Slavery Index 2023')"
    coverage = "180 countries (160 with estimates); estimates for 2021"
    folder = "gsi_2023"
    file_patterns = ("Global_Slavery_Index_2023*.csv",)
    indicators = INDICATORS
    values = VALUES

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        frame["_prevalence"] = parse_number(frame, PREVALENCE, minimum=0, maximum=1000)
        frame["_number"], frame["_number_censored"] = parse_estimate(frame, NUMBER)
        reject_all_blank(frame, list(VALUES), f"{PREVALENCE!r}, {NUMBER!r}")
        frame["_period_start"] = dt.date(YEAR, 1, 1)
        return frame


__all__ = ["Gsi2023"]
