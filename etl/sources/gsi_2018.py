"""Walk Free Global Slavery Index 2018: prevalence per 1,000, estimated number, vulnerability, government
response.

Read from Walk Free's "GSI 2018 data" workbook (``gsi_2018_global_data_workbook.xlsx``), sheet
``Global prev, vuln, govt table`` (row 1 groups the columns, the header is row 2; the sheet declares a
million formatted empty rows after the 186 countries, which are not rows). The five government-response
milestones are each followed by a column literally named ``%``; repeated names get pandas' suffixes
(``%``, ``%.1`` ...), as in a CSV export. Government response is ``TOTAL`` (percent, 162 countries);
19 small states have vulnerability only. ``<1,000`` in the estimated number (Barbados, Iceland, Luxembourg)
is stored as 1000 with ``censored = True`` ("fewer than 1,000"), as for GLOTIP's ``<5``. ``TOTAL`` can be
below 0 (negative points for state complicity; North Korea -5.6).

Period: the GSI 2018 prevalence estimates refer to 2016 (they are built on the ILO/Walk Free 2017
Global Estimates of Modern Slavery for 2016; SOURCE.md: "GSI 2018 (estimates for 2016)"), so all
values of this edition are stored at 2016; the description names the 2018 edition (published July
2018) so the model can respect the publication lag. Prevalence is per 1,000 (GSI 2016 is a percent)
and methods differ, so the editions are separate indicators. One row = one country; no aggregation.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from etl.sources import register
from etl.sources.base import IndicatorDef
from etl.sources.gsi_2016 import GsiEdition, parse_gsi_workbook

log = logging.getLogger(__name__)

SHEET = "Global prev, vuln, govt table"
PREVALENCE = "Est. prevalence of population in modern slavery (victims per 1,000 population)"
NUMBER = "Est. number of people in modern slavery"
VULNERABILITY = "Final overall (normalised, weighted) vulnerability score"
RESPONSE = "TOTAL"
COLUMNS = ["Country", "Region", PREVALENCE, NUMBER, VULNERABILITY, RESPONSE]
YEAR = 2016
_ED = (
    "Walk Free Global Slavery Index 2018 edition (published July 2018); prevalence estimates refer to 2016; "
    "stored at 2016."
)
INDICATORS = (
    IndicatorDef(
        "trafficking.gsi2018_prevalence_per_1000",
        "trafficking",
        "victims per 1,000 population",
        "higher_is_riskier",
        f"Estimated prevalence of modern slavery (model-based). {_ED}",
    ),
    IndicatorDef(
        "trafficking.gsi2018_victims_estimated",
        "trafficking",
        "persons",
        "higher_is_riskier",
        f"Estimated number of people in modern slavery. {_ED}",
    ),
    IndicatorDef(
        "structural.gsi2018_vulnerability",
        "structural",
        "score 0-100",
        "higher_is_riskier",
        f"Overall (normalised, weighted) vulnerability to modern slavery, 5 factors. {_ED}",
    ),
    IndicatorDef(
        "detection.gsi2018_government_response",
        "detection",
        "percent (-100 to 100)",
        "lower_is_riskier",
        f"Government response rating, TOTAL (percent of the maximum, after negative points). {_ED}",
    ),
)
VALUES = {
    "_prevalence": "trafficking.gsi2018_prevalence_per_1000",
    "_number": "trafficking.gsi2018_victims_estimated",
    "_vulnerability": "structural.gsi2018_vulnerability",
    "_response": "detection.gsi2018_government_response",
}


@register
class Gsi2018(GsiEdition):
    name = "gsi_2018"
    title = "Global Slavery Index 2018 (prevalence, vulnerability, government response)"
    publisher = "Walk Free Foundation (Minderoo Foundation)"
    licence = "Walk Free terms: free use with attribution ('Walk Free Foundation, Global Slavery Index 2018')"
    coverage = "186 countries (167 with prevalence, 162 with government response); estimates for 2016"
    folder = "walkfree_gsi_2016_2018"
    file_patterns = ("gsi_2018_*.xlsx",)
    indicators = INDICATORS
    values = VALUES

    def parse(self, path: Path) -> pd.DataFrame:
        return parse_gsi_workbook(
            path,
            SHEET,
            COLUMNS,
            (PREVALENCE, NUMBER, VULNERABILITY, RESPONSE),
            prevalence_max=1000,
            year=YEAR,
            blank_text="prevalence, number, vulnerability and TOTAL",
        )


__all__ = ["Gsi2018"]
