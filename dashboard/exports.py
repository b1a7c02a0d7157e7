"""The donor table as CSV and as CSV with an HXL hashtag row; cells are safe to open in a spreadsheet."""

from __future__ import annotations

import io

import pandas as pd

from models.export import neutralise  # one rule for every CSV the product writes

# column -> (header with unit, HXL hashtag)
PRIORITY_COLUMNS: dict[str, tuple[str, str]] = {
    "rank": ("Rank (1 = highest risk in the year)", "#indicator+rank"),
    "region_id": ("Region id (ISO3 or Natural Earth adm1_code)", "#adm1+code"),
    "region_name": ("Region", "#adm1+name"),
    "country": ("Country", "#country+name"),
    "iso3": ("ISO3", "#country+code"),
    "year": ("Year", "#date+year"),
    "risk_score": ("Risk score (0-100 percentile within year)", "#indicator+risk+score+num"),
    "risk_band": ("Risk band", "#indicator+risk+band"),
    "estimate_per_100k": ("Estimated detected victims per 100k", "#indicator+victims+detected+per100k+num"),
    "lower_per_100k": ("80% interval lower, per 100k", "#indicator+victims+detected+per100k+lower+num"),
    "upper_per_100k": ("80% interval upper, per 100k", "#indicator+victims+detected+per100k+upper+num"),
    "score_change": ("Change in risk score since previous year (points)", "#indicator+risk+score+change+num"),
    "reporting_history": ("Detected-victim reporting history (UNODC)", "#meta+reporting"),
    "population": ("Population (persons, World Bank, latest year)", "#population+total+num"),
    "refugees_origin": ("Refugees originating (persons)", "#affected+refugees+origin+num"),
    "refugees_hosted": ("Refugees hosted (persons)", "#affected+refugees+hosted+num"),
    "idps": ("Conflict IDPs (persons)", "#affected+idps+num"),
    "displacement_data_year": ("Displacement data year", "#date+year+displacement"),
    "fts_requirements_usd": ("FTS requirements (USD)", "#value+funding+required+usd"),
    "fts_funding_usd": ("FTS funding received (USD)", "#value+funding+total+usd"),
    "fts_coverage_pct": ("FTS coverage (%)", "#value+funding+pct"),
    "fts_year": ("FTS plan year", "#date+year+funding"),
}


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Neutralise every text cell (numbers stay numbers: -3 is a number, '-3' text from a source is quoted)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out


def _ordered(frame: pd.DataFrame, level: int) -> pd.DataFrame:
    cols = [c for c in PRIORITY_COLUMNS if c in frame.columns]
    return frame[cols]


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_float_dtype(out[col]):
            continue
        if col.endswith("per_100k"):
            out[col] = out[col].round(4)
        elif col in ("risk_score", "score_change", "fts_coverage_pct"):
            out[col] = out[col].round(1)
        else:  # counts, USD and years: whole numbers, blank when missing
            out[col] = out[col].round(0).astype("Int64")
    return out


def _hxl_tag(col: str, level: int) -> str:
    tag = PRIORITY_COLUMNS[col][1]
    if level == 0 and tag.startswith("#adm1"):
        tag = tag.replace("#adm1", "#country")
    return tag


def to_csv(frame: pd.DataFrame, level: int = 0, hxl: bool = False) -> str:
    """CSV text: a header row with units, then (if ``hxl``) the HXL hashtag row, then the data."""
    data = safe_frame(_rounded(_ordered(frame, level)))
    headers = [PRIORITY_COLUMNS[c][0] for c in data.columns]
    buf = io.StringIO()
    if hxl:
        tags = [_hxl_tag(c, level) for c in data.columns]
        pd.DataFrame([tags], columns=headers).to_csv(buf, index=False, lineterminator="\n")
        data.to_csv(buf, index=False, header=False, lineterminator="\n")
    else:
        data.to_csv(buf, index=False, header=headers, lineterminator="\n")
    return buf.getvalue()
