"""The donor tables as CSV and as CSV with an HXL hashtag row; cells are safe to open in a spreadsheet.

Two tables: the watch-list priorities (the headline, ``to_watch_csv``) and the detected-victims table ("where
victims are found", ``to_csv``). HXL tags of the watch list follow models.watchlist_cli.RISE_HXL.
"""

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


# The watch-list priorities table: column -> (header with unit, HXL hashtag). Tags shared with the
# `crisisrisk export predictions --target rise` CSV (models.watchlist_cli.RISE_HXL) are the same strings.
WATCH_COLUMNS: dict[str, tuple[str, str]] = {
    "rank": ("Watch-list rank (1 = strongest expected rise in the year)", "#indicator+trafficking_rise+rank"),
    "region_id": ("ISO3", "#country+code"),
    "region_name": ("Country", "#country+name"),
    "year": ("Score year (inputs dated up to it; looks at the next three years)", "#date+year"),
    "rise_factor": ("Expected rise factor (ratio, next 3 years / last 3)", "#indicator+trafficking_rise+factor"),
    "lower": ("Rise factor, 80% interval lower", "#indicator+trafficking_rise+lower"),
    "upper": ("Rise factor, 80% interval upper", "#indicator+trafficking_rise+upper"),
    "percentile": ("Watch-list percentile (0-100 within year)", "#indicator+trafficking_rise+percentile"),
    "top_driver": ("Top driver", "#indicator+driver+top"),
    "people_exposed": ("People exposed (persons, with years)", "#affected+displaced"),
    "displaced_abroad": ("Refugees and asylum-seekers abroad (persons)", "#affected+refugees+origin+num"),
    "displaced_abroad_year": ("Refugees abroad: data year", "#date+year+refugees+origin"),
    "idps": ("Conflict IDPs (persons)", "#affected+idps+num"),
    "idps_year": ("IDPs: data year", "#date+year+idps"),
    "hosted": ("Refugees and asylum-seekers hosted (persons)", "#affected+refugees+hosted+num"),
    "hosted_year": ("Hosted: data year", "#date+year+refugees+hosted"),
    "fts_requirements_usd": ("FTS requirements (USD)", "#value+funding+required+usd"),
    "fts_funding_usd": ("FTS funding received (USD)", "#value+funding+total+usd"),
    "fts_coverage_pct": ("FTS coverage (%)", "#value+funding+pct"),
    "fts_year": ("FTS plan year", "#date+year+funding"),
    "detection_gap": ("Detection gap (rising score, weak detection at home)", "#indicator+detection_gap"),
    "detection_evidence": ("Detection evidence (TIP tier, prosecutions, years)", "#meta+detection"),
    "tip_tier": ("US TIP tier (1, 2, 2.5 = Watch List, 3)", "#indicator+tip_tier"),
    "prosecuted": ("Persons prosecuted for trafficking (UNODC GLOTIP)", "#indicator+prosecuted+num"),
    "population": ("Population (persons, World Bank)", "#population+total+num"),
    "small_population": ("Population under 100,000", "#meta+small_population"),
    "basis": ("Basis (input years)", "#meta+basis"),
    "method": ("Headline method", "#meta+method"),
    "run_id": ("Model run", "#meta+run"),
}
WATCH_DECIMALS = {"rise_factor": 4, "lower": 4, "upper": 4, "percentile": 1, "fts_coverage_pct": 1, "tip_tier": 1}


def to_watch_csv(frame: pd.DataFrame, hxl: bool = False) -> str:
    """The watch-list priorities as CSV text: headers with units, then (if ``hxl``) the HXL row, then the data."""
    cols = [c for c in WATCH_COLUMNS if c in frame.columns]
    data = frame[cols].copy()
    for col in cols:
        if col in WATCH_DECIMALS:
            data[col] = pd.to_numeric(data[col], errors="coerce").round(WATCH_DECIMALS[col])
        elif pd.api.types.is_float_dtype(data[col]):  # counts, USD and years: whole numbers, blank when missing
            data[col] = data[col].round(0).astype("Int64")
    data = safe_frame(data)
    headers = [WATCH_COLUMNS[c][0] for c in cols]
    buf = io.StringIO()
    if hxl:
        pd.DataFrame([[WATCH_COLUMNS[c][1] for c in cols]], columns=headers).to_csv(buf, index=False,
                                                                                   lineterminator="\n")
        data.to_csv(buf, index=False, header=False, lineterminator="\n")
    else:
        data.to_csv(buf, index=False, header=headers, lineterminator="\n")
    return buf.getvalue()
