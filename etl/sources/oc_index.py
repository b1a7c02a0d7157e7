"""GI-TOC Global Organized Crime Index, 2021 and 2023 editions: human trafficking and smuggling market
scores, overall criminality and resilience.

Expert ratings on a 1-10 scale (criminality and markets: 10 = worst; resilience: 10 = strongest). One file
per edition (``global_oc_index_<edition>.csv``, the edition year is taken from the file name). Column
names differ by edition and are harmonised by meaning: ``Criminality``/``Resilience`` (2021) =
``Criminality avg``/``Resilience avg`` (2023). Period: the edition year (assessments made in the year
before publication; the edition is named in the descriptions). Countries by name only (UN member
states; ``Congo, Dem, Rep,`` style commas in 2023 are matched by the resolver). One row = one country and
edition; no aggregation.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import pandas as pd

from etl.contract import (
    ContractError,
    parse_number,
    read_text_table,
    reject_all_blank,
    reject_duplicates,
    require_any_columns,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import IndicatorDef, Source, long_observations

log = logging.getLogger(__name__)

EDITION = re.compile(r"(20\d{2})")
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "trafficking.oc_human_trafficking": ("Human trafficking",),
    "trafficking.oc_human_smuggling": ("Human smuggling",),
    "structural.oc_criminality": ("Criminality avg", "Criminality"),
    "structural.oc_criminal_markets": ("Criminal markets avg", "Criminal markets"),
    "structural.oc_criminal_actors": ("Criminal actors avg", "Criminal actors"),
    "detection.oc_resilience": ("Resilience avg", "Resilience"),
    "detection.oc_victim_witness_support": ("Victim and witness support",),
}
_ED = "GI-TOC Global Organized Crime Index, editions 2021 and 2023; stored at the edition year."
INDICATORS = (
    IndicatorDef(
        "trafficking.oc_human_trafficking",
        "trafficking",
        "score 1-10",
        "higher_is_riskier",
        f"Human trafficking criminal-market score (expert rating; 10 = most pervasive). {_ED}",
    ),
    IndicatorDef(
        "trafficking.oc_human_smuggling",
        "trafficking",
        "score 1-10",
        "higher_is_riskier",
        f"Human smuggling criminal-market score (expert rating; 10 = most pervasive). {_ED}",
    ),
    IndicatorDef(
        "structural.oc_criminality",
        "structural",
        "score 1-10",
        "higher_is_riskier",
        f"Overall criminality (average of criminal markets and criminal actors). {_ED}",
    ),
    IndicatorDef(
        "structural.oc_criminal_markets",
        "structural",
        "score 1-10",
        "higher_is_riskier",
        f"Criminal markets average score. {_ED}",
    ),
    IndicatorDef(
        "structural.oc_criminal_actors",
        "structural",
        "score 1-10",
        "higher_is_riskier",
        f"Criminal actors average score. {_ED}",
    ),
    IndicatorDef(
        "detection.oc_resilience",
        "detection",
        "score 1-10",
        "lower_is_riskier",
        f"Resilience to organised crime (average of 12 building blocks; 10 = strongest). {_ED}",
    ),
    IndicatorDef(
        "detection.oc_victim_witness_support",
        "detection",
        "score 1-10",
        "lower_is_riskier",
        f"Resilience building block 'Victim and witness support' (10 = strongest). {_ED}",
    ),
)


@register
class OcIndex(Source):
    name = "oc_index"
    title = "Global Organized Crime Index (GI-TOC), 2021 and 2023"
    publisher = "Global Initiative against Transnational Organized Crime (GI-TOC)"
    licence = "Published for download with attribution; treat as attribution, non-commercial"
    coverage = "193 UN member states, editions 2021 and 2023"
    folder = "oc_index"
    file_patterns = ("global_oc_index_*.csv",)
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, ["Country"], path)
        used = require_any_columns(frame, COLUMN_ALIASES, path)
        match = EDITION.search(Path(path).stem)
        if not match:
            raise ContractError(path, "no edition year in the file name; expected global_oc_index_<year>.csv")
        edition = int(match.group(1))
        frame["_edition"] = edition
        frame["_period_start"] = dt.date(edition, 1, 1)
        for code, column in used.items():
            frame[f"_{code}"] = parse_number(frame, column, minimum=1, maximum=10)
        reject_all_blank(frame, [f"_{c}" for c in used], "the index columns used")
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_name(parsed, "Country")
        reject_duplicates(parsed, ["_region_id", "_edition"], "country and edition")
        return long_observations(parsed, {f"_{code}": code for code in COLUMN_ALIASES})


__all__ = ["OcIndex"]
