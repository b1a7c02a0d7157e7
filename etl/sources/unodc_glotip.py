"""UNODC GLOTIP: detected trafficking victims (total, by sex, age and form), prosecutions, convictions.

Values are published as text: ``1,269`` and ``<5``. A ``<N`` value is stored as ``value = N`` with
``censored = True``, meaning "fewer than N"; the model decides how to use it (DESIGN §5).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from etl.contract import (
    REJECT,
    REJECT_DETAIL,
    ROW,
    read_text_table,
    reject,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import FILE, IndicatorDef, Source, mark_unused, year_start

log = logging.getLogger(__name__)

COLUMNS = ["Iso3_code", "Country", "Indicator", "Dimension", "Category", "Sex", "Age", "Year",
           "Unit of measurement", "txtVALUE"]
_CENSORED = re.compile(r"^<\s*(\d+(?:\.\d+)?)$")

VICTIMS = "Detected trafficking victims"
# UNODC's own regional codes, published with an empty country name.
UNODC_REGION_CODES = frozenset({"CAR", "CAS", "EEU", "MCA", "MCN", "SAF", "SAM", "WCE", "NAF", "EAP", "SAS"})
AGE_CODES = {"0 to 17 years": "minor", "18 years or over": "adult"}
SEX_CODES = {"Female": "female", "Male": "male"}
FORM_CODES = {"Sexual exploitation": "sexual", "Forced labour": "forced_labour",
              "Other forms of exploitation": "other_forms"}


def _ind(code: str, family: str, description: str) -> IndicatorDef:
    return IndicatorDef(code, family, "persons", "higher_is_riskier" if family == "trafficking" else "neutral",
                        description)


INDICATORS = (
    _ind("trafficking.victims_detected", "trafficking", "Detected victims of trafficking in persons (UNODC GLOTIP), all"),
    *[_ind(f"trafficking.victims_detected.{s}", "trafficking", f"Detected trafficking victims, {lab.lower()}")
      for lab, s in SEX_CODES.items()],
    *[_ind(f"trafficking.victims_detected.{a}", "trafficking", f"Detected trafficking victims aged {lab}")
      for lab, a in AGE_CODES.items()],
    *[_ind(f"trafficking.victims_detected.{s}_{a}", "trafficking",
           f"Detected trafficking victims, {sl.lower()}, aged {al}")
      for sl, s in SEX_CODES.items() for al, a in AGE_CODES.items()],
    *[_ind(f"trafficking.victims_detected.form.{f}", "trafficking",
           f"Detected trafficking victims by form of exploitation: {lab.lower()} (sub-forms summed)")
      for lab, f in FORM_CODES.items()],
    _ind("detection.persons_prosecuted", "detection", "Persons prosecuted for trafficking in persons (UNODC GLOTIP)"),
    _ind("detection.persons_convicted", "detection", "Persons convicted of trafficking in persons (UNODC GLOTIP)"),
)


def parse_count(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """'1,269' -> (1269, False); '<5' -> (5, True). Returns value, censored, is_bad."""
    clean = text.astype(str).str.strip()
    match = clean.str.extract(_CENSORED)[0]
    censored = match.notna()
    plain = pd.to_numeric(clean.str.replace(",", "", regex=False), errors="coerce")
    value = plain.where(~censored, pd.to_numeric(match, errors="coerce"))
    bad = value.isna() | (value < 0)
    return value.astype(float), censored, bad


@register
class UnodcGlotip(Source):
    name = "unodc_glotip"
    title = "UNODC Global Report on Trafficking in Persons (GLOTIP) data"
    publisher = "United Nations Office on Drugs and Crime (UNODC)"
    licence = "UNODC data-portal terms (reuse with attribution)"
    coverage = "206 countries/territories, 2003-2018 (2019-2021 held out)"
    folder = "unodc_glotip"
    file_patterns = ("glotip_*.csv.gz", "glotip_*.csv", "data_glotip*.csv")
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        for col in ("Indicator", "Dimension", "Category", "Sex", "Age", "Iso3_code", "Country"):
            frame[col] = frame[col].astype(str).str.strip()
        value, censored, bad = parse_count(frame["txtVALUE"])
        frame["_value"] = value
        frame["_censored"] = censored
        reject(frame, bad, "invalid_number",
               "column 'txtVALUE': '" + frame["txtVALUE"].astype(str).str.slice(0, 40)
               + "' is not a count such as '1,269' or '<5'")
        frame["_year"] = pd.to_numeric(frame["Year"].str.strip(), errors="coerce")
        reject(frame, frame["_year"].isna() | (frame["_year"] % 1 != 0), "invalid_number",
               "column 'Year': '" + frame["Year"].astype(str) + "' is not a year")
        reject(frame, (frame["_year"] < 1990) | (frame["_year"] > 2100), "out_of_range",
               "column 'Year': " + frame["Year"].astype(str) + " is outside 1990-2100")
        unit_bad = frame["Unit of measurement"].str.strip() != "Counts"
        reject(frame, unit_bad, "unexpected_unit",
               "column 'Unit of measurement': '" + frame["Unit of measurement"].astype(str) + "', expected 'Counts'")
        frame["_indicator"] = self._indicator(frame)
        mark_unused(frame, frame["_indicator"].isna(), "out_of_scope",
                    "breakdown not used by the product: " + frame["Indicator"] + " / " + frame["Dimension"] + " / "
                    + frame["Category"] + " / " + frame["Sex"] + " / " + frame["Age"])
        region_rows = frame["Iso3_code"].isin(UNODC_REGION_CODES) & (frame["Country"] == "")
        reject(frame, region_rows, "aggregate",
               "column 'Iso3_code': '" + frame["Iso3_code"] + "' is a UNODC regional aggregate, not a country")
        self._reject_conflicts(frame)
        return frame

    @staticmethod
    def _indicator(frame: pd.DataFrame) -> pd.Series:
        ind, dim, cat, sex, age = (frame[c] for c in ("Indicator", "Dimension", "Category", "Sex", "Age"))
        out = pd.Series(None, index=frame.index, dtype=object)
        total = (dim == "Total") & (cat == "Total")
        victims = ind == VICTIMS
        out[victims & total & (sex == "Total") & (age == "Total")] = "trafficking.victims_detected"
        for lab, code in SEX_CODES.items():
            out[victims & total & (sex == lab) & (age == "Total")] = f"trafficking.victims_detected.{code}"
        for lab, code in AGE_CODES.items():
            out[victims & total & (sex == "Total") & (age == lab)] = f"trafficking.victims_detected.{code}"
        for sl, s in SEX_CODES.items():
            for al, a in AGE_CODES.items():
                out[victims & total & (sex == sl) & (age == al)] = f"trafficking.victims_detected.{s}_{a}"
        forms = victims & (dim == "by form of exploitation") & (sex == "Total") & (age == "Total")
        for lab, code in FORM_CODES.items():
            out[forms & (cat == lab)] = f"trafficking.victims_detected.form.{code}"
        all_total = total & (sex == "Total") & (age == "Total")
        out[(ind == "Persons prosecuted") & all_total] = "detection.persons_prosecuted"
        out[(ind == "Persons convicted") & all_total] = "detection.persons_convicted"
        return out

    @staticmethod
    def _reject_conflicts(frame: pd.DataFrame) -> None:
        """Same key twice: identical copies keep the first; conflicting values are ambiguous, so all go.

        'Other forms of exploitation' legitimately repeats (sub-forms share one label) and is summed later.
        """
        ok = frame[REJECT].isna() & (frame["_indicator"].notna())
        summed = frame["_indicator"] == "trafficking.victims_detected.form.other_forms"
        keys = ["Iso3_code", "Country", "_indicator", "_year"]
        sub = frame[ok & ~summed]
        dup_any = sub.duplicated(subset=keys, keep=False)
        if not dup_any.any():
            return
        groups = sub[dup_any].groupby(keys, dropna=False)
        for _, grp in groups:
            values = set(zip(grp["_value"], grp["_censored"], strict=True))
            rows = grp[ROW].tolist()
            if len(values) == 1:
                later = grp.index[1:]
                frame.loc[later, REJECT] = "duplicate"
                frame.loc[later, REJECT_DETAIL] = f"duplicate of row {rows[0]} (same key and value)"
            else:
                frame.loc[grp.index, REJECT] = "conflicting_duplicate"
                frame.loc[grp.index, REJECT_DETAIL] = (
                    f"rows {rows} give different values {sorted(grp['txtVALUE'].tolist())} for the same "
                    f"country, year and breakdown; none can be chosen")

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_code(parsed, "Iso3_code", name_column="Country")
        ok = parsed[parsed[REJECT].isna()].copy()
        ok["period_start"] = year_start(ok["_year"])
        grouped = ok.groupby(["_region_id", "period_start", "_indicator"], as_index=False).agg(
            value=("_value", "sum"), censored=("_censored", "any"), **{FILE: (FILE, "first")})
        # A sum that includes a '<5' part is censored; its stored value is then an upper bound.
        return pd.DataFrame({
            "region_id": grouped["_region_id"], "period_start": grouped["period_start"], "period_type": "year",
            "indicator": grouped["_indicator"], "value": grouped["value"].astype(float),
            "censored": grouped["censored"].astype(bool), FILE: grouped[FILE],
        })


__all__ = ["UnodcGlotip", "parse_count", "np"]
