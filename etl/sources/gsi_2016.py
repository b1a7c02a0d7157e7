"""Walk Free Global Slavery Index 2016: prevalence (percent), estimated number, vulnerability, government
response.

Read from Walk Free's own workbook ``gsi_2016_global_data.xlsx`` (sheet ``GLOBAL DATA 2016 GSI``; row 1
groups the columns, the header is row 2), not from the CSV export beside it, so a user with the
publisher's file can load it as is. The sheet ends with two empty rows and a footnote row
("* Those countries where governments arrested victims ..."); they are rejected as ``blank_row`` and
``footnote``. Prevalence is a **percent** of the population (North Korea 4.373), unlike the per-1,000
rates of GSI 2018 and 2023: the editions use different methods and are separate indicators, not one
series. Government response is blank for 6 countries, vulnerability and prevalence are given for all.
Period: 2016 (the edition's estimate year). One row = one country, so no aggregation is needed.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import ClassVar

import pandas as pd

from etl.contract import (
    finite_numbers,
    parse_number,
    reject,
    reject_all_blank,
    reject_duplicates,
    require_columns,
)
from etl.sheets import read_xlsx_sheet
from etl.sources import register
from etl.sources.base import IndicatorDef, Source, long_observations

log = logging.getLogger(__name__)

SHEET = "GLOBAL DATA 2016 GSI"
PREVALENCE = "ESTIMATED PROPORTION OF POPULATION IN MODERN SLAVERY"
NUMBER = "ESTIMATED NUMBER IN MODERN SLAVERY"
VULNERABILITY = "Mean Vulnerability"
RESPONSE = "Total score (/100)"
COLUMNS = ["Country", VULNERABILITY, "POPULATION", PREVALENCE, NUMBER, RESPONSE]
YEAR = 2016
_ED = "Walk Free Global Slavery Index 2016 edition (published May 2016), estimates for 2016; stored at 2016."
INDICATORS = (
    IndicatorDef(
        "trafficking.gsi2016_prevalence_pct",
        "trafficking",
        "percent of population",
        "higher_is_riskier",
        f"Estimated proportion of the population in modern slavery (percent; model-based). {_ED}",
    ),
    IndicatorDef(
        "trafficking.gsi2016_victims_estimated",
        "trafficking",
        "persons",
        "higher_is_riskier",
        f"Estimated number of people in modern slavery. {_ED}",
    ),
    IndicatorDef(
        "structural.gsi2016_vulnerability",
        "structural",
        "score 0-100",
        "higher_is_riskier",
        f"Mean vulnerability to modern slavery (4 dimensions; 100 = most vulnerable). {_ED}",
    ),
    IndicatorDef(
        "detection.gsi2016_government_response",
        "detection",
        "score -100 to 100",
        "lower_is_riskier",
        "Government response 'Total score (/100)' (five milestones; can be below 0, e.g. North Korea "
        f"-4.76). {_ED}",
    ),
)
VALUES = {
    "_prevalence": "trafficking.gsi2016_prevalence_pct",
    "_number": "trafficking.gsi2016_victims_estimated",
    "_vulnerability": "structural.gsi2016_vulnerability",
    "_response": "detection.gsi2016_government_response",
}


def parse_estimate(frame: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """Estimated numbers: '749,000' -> 749000; '<1,000' -> (1000, censored) meaning "fewer than 1,000".

    Text and negative numbers reject the row (``invalid_number``, ``out_of_range``); blanks are NaN.
    """
    text = frame[column].astype(str).str.strip()
    censored = text.str.startswith("<")
    digits = text.str.lstrip("<").str.replace(",", "", regex=False).str.replace(" ", "", regex=False)
    blank = digits.isin(["", "..", "NA", "N/A", "nan", "-"])
    value = finite_numbers(digits.where(~blank))  # "inf", "NaN", "1e309" are invalid_number
    reject(
        frame,
        value.isna() & ~blank,
        "invalid_number",
        "column '"
        + column
        + "': '"
        + text.str.slice(0, 40)
        + "' is not a number such as '749,000' or '<1,000'",
    )
    reject(
        frame,
        value < 0,
        "out_of_range",
        "column '" + column + "': " + value.astype(str) + " is below the minimum 0",
    )
    return value, censored & value.notna()


def reject_footnotes(frame: pd.DataFrame, country: str) -> None:
    """Rows with no country but some text (notes under the table) are accounted for as ``footnote``."""
    data_cols = [c for c in frame.columns if not c.startswith("_")]
    note = frame[data_cols].apply(lambda c: c.str.strip()).agg(" ".join, axis=1).str.strip()
    reject(
        frame,
        frame[country].str.strip() == "",
        "footnote",
        "no country; note under the table: '" + note.str.slice(0, 80) + "'",
    )


class GsiEdition(Source):
    """What the GSI editions share: a row per country (column 'Country'); an estimated number may be '<N'."""

    values: ClassVar[dict[str, str]]  # parsed column -> indicator code

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_name(parsed, "Country")
        reject_duplicates(parsed, ["_region_id"], "country")
        return long_observations(parsed, self.values, censored_cols={"_number": "_number_censored"})


def parse_gsi_workbook(
    path: Path,
    sheet: str,
    columns: list[str],
    names: tuple[str, str, str, str],
    *,
    prevalence_max: float,
    year: int,
    blank_text: str,
) -> pd.DataFrame:
    """A workbook edition (2016, 2018): ``names`` = the prevalence, number, vulnerability and government
    response columns; a country row with none of the four is rejected, naming ``blank_text``."""
    prevalence, number, vulnerability, response = names
    frame = read_xlsx_sheet(path, sheet, "Country")
    require_columns(frame, columns, path)
    reject_footnotes(frame, "Country")
    frame["_prevalence"] = parse_number(frame, prevalence, minimum=0, maximum=prevalence_max)
    frame["_number"], frame["_number_censored"] = parse_estimate(frame, number)
    frame["_vulnerability"] = parse_number(frame, vulnerability, minimum=0, maximum=100)
    # a negative total is real: the corruption/state forced-labour penalty is included (North Korea -4.76)
    frame["_response"] = parse_number(frame, response, minimum=-100, maximum=100)
    reject_all_blank(frame, ["_prevalence", "_number", "_vulnerability", "_response"], blank_text)
    frame["_period_start"] = dt.date(year, 1, 1)
    return frame


@register
class Gsi2016(GsiEdition):
    name = "gsi_2016"
    title = "Global Slavery Index 2016 (prevalence, vulnerability, government response)"
    publisher = "Walk Free Foundation (Minderoo Foundation)"
    licence = "Walk Free terms: free use with attribution ('Walk Free Foundation, Global Slavery Index 2016')"
    coverage = "167 countries, estimates for 2016"
    folder = "walkfree_gsi_2016_2018"
    file_patterns = ("gsi_2016_*.xlsx",)
    indicators = INDICATORS
    values = VALUES

    def parse(self, path: Path) -> pd.DataFrame:
        return parse_gsi_workbook(
            path,
            SHEET,
            COLUMNS,
            (PREVALENCE, NUMBER, VULNERABILITY, RESPONSE),
            prevalence_max=100,
            year=YEAR,
            blank_text=f"{PREVALENCE!r}, {NUMBER!r}, {VULNERABILITY!r}, {RESPONSE!r}",
        )


__all__ = ["Gsi2016", "GsiEdition", "parse_estimate", "parse_gsi_workbook", "reject_footnotes"]
