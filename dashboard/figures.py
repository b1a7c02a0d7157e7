"""Pure figure builders: data frames in, ``go.Figure`` out. No database, no Dash, no globals read.

Colours are colour-blind safe: ColorBrewer YlOrRd for levels and risk bands (BAND_COLOURS), purple-orange
(ColorBrewer PuOr) for change, and the Okabe-Ito palette for categories. "No data" is a light grey layer
under the values, never a colour of the scale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.i18n import N_, _, fmt_number
from models.features import FAMILY_BY_NAME

NO_DATA_GREY = "#d4d4d4"
NO_DATA_TEXT = "No prediction (no data)"
BORDER = "#ffffff"
UNKNOWN_FAMILY_COLOUR = "#999999"  # only for a family an old run's metadata names and the table no longer has
UP, DOWN = "#E66101", "#5E3C99"  # ColorBrewer PuOr ends: rise, fall
MODEL_COLOURS = {
    "xgboost": "#000000",
    "xgboost_no_past_victims": "#0072B2",
    "xgboost_monotone": "#56B4E9",
    "last_value": "#E69F00",
    "mean_3y": "#009E73",
    "ridge": "#CC79A7",
    "conflict_displacement_only": "#D55E00",
}
MODEL_LABELS = {
    "xgboost": "XGBoost (plain)",
    "xgboost_no_past_victims": "XGBoost without past victims",
    "xgboost_monotone": "XGBoost, monotone constraints",
    "last_value": "Last observed value",
    "mean_3y": "3-year mean",
    "ridge": "Ridge regression",
    "conflict_displacement_only": "Conflict + displacement only",
}
METRIC_LABELS = {
    "rmsle": "RMSLE: error on a log scale (lower is better)",
    "mae": "MAE, victims per 100k (lower is better)",
    "spearman": "Spearman rank correlation (higher is better)",
    "top20_recall": "Top-20 recall (higher is better)",
    "coverage80": "80% interval coverage (target 0.80)",
    "width80": "80% interval width (log scale of victims per 100,000 people)",
}
TARGET_TEXT = "risk of <i>detected</i> trafficking"
FONT = dict(
    family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif", size=13
)

HOVER = (
    "<b>%{text}</b><br>Where victims are found (detected in country): risk score %{customdata[0]} / 100 "
    "(%{customdata[1]})"
    "<br>Estimate: %{customdata[2]:,.3~r} detected victims per 100k"
    "<br>80% interval: %{customdata[3]:,.3~r} to %{customdata[4]:,.3~r} per 100k"
    "<br>Change since previous year: %{customdata[5]} points"
    "<br>Basis: %{customdata[7]} (newest label %{customdata[8]}; conflict %{customdata[9]}; displacement "
    "%{customdata[10]})"
    "<br><b>Top drivers</b> (+ raises, - lowers the estimate):<br>%{customdata[6]}"
    "<br><i>Follows detection capacity: not the risk to a population.</i><extra></extra>"
)
WATCH_HOVER = (
    "<b>%{text}</b><br>Crisis watch list %{customdata[8]}: rank %{customdata[0]} of %{customdata[1]}"
    "<br>Expected rise of nationals detected as trafficking victims abroad:"
    "<br>×%{customdata[2]:.2f} (80% interval ×%{customdata[3]:.2f}–×%{customdata[4]:.2f})"
    "<br><b>Top driver:</b> %{customdata[5]}"
    "<br><b>People exposed:</b> %{customdata[6]}"
    "<br>Basis (input years): %{customdata[7]}<extra></extra>"
)
WATCH_ADMIN1_HOVER = (
    "<b>%{text}</b><br>Share of the country's located crisis drivers: %{customdata[0]}"
    "<br>Conflict deaths located (UCDP GED): %{customdata[1]}"
    "<br>Displaced people located (IOM DTM / IDMC): %{customdata[2]}"
    "<br>Country: %{customdata[3]}<extra></extra>"
)
MAP_METRICS: dict[str, dict] = {
    "watch": {
        "label": "Crisis watch list",
        "unit": "percentile of expected rise, 0–100",
        "colorscale": "YlOrRd",
        "nodata": "Not scored (no data), which is not low risk",
        "column": "percentile",
        "fmt": ".0f",
        "hover": WATCH_HOVER,
        "target": "expected rise of nationals detected as trafficking victims abroad",
    },
    "risk_score": {
        "label": "Where victims are found: risk score",
        "unit": "percentile within the year, 0–100",
        "colorscale": "Viridis",
        "column": "risk_score",
        "fmt": ".0f",
        "hover": HOVER,
        "target": TARGET_TEXT,
    },
    "estimate": {
        "label": "Where victims are found: estimated detected victims",
        "unit": "per 100,000 people",
        "colorscale": "Viridis",
        "column": "estimate_per_100k",
        "fmt": ".2f",
        "hover": HOVER,
        "target": TARGET_TEXT,
    },
    "change": {
        "label": "Where victims are found: change in risk score since the previous year",
        "unit": "percentile points",
        "colorscale": "PuOr_r",
        "column": "score_change",
        "fmt": "+.0f",
        "hover": HOVER,
        "target": TARGET_TEXT,
    },
}
# the admin-1 view of the watch list (a country selected): where its drivers are located
WATCH_ADMIN1 = {
    "label": "Located crisis drivers",
    "unit": "% of the country's located conflict deaths and displaced people",
    "colorscale": "YlOrRd",
    "column": "share",
    "fmt": ".0f",
    "hover": WATCH_ADMIN1_HOVER,
    "target": "where the watch list's drivers are located",
    "nodata": "No conflict deaths or displacement located (no data)",
}
WATCH_METRICS = ("watch",)

# Risk bands: the one definition of their colours (style.css repeats them as --band-* variables; a test keeps
# the two equal). ColorBrewer YlOrRd, light to dark: darker is riskier under every colour-vision deficiency
# (tests/dashboard/test_band_colours.py simulates deuteranopia and protanopia), and "high" is a red, never a
# green that reads as safe.
BAND_ORDER = ("low", "moderate", "high", "very high")
BAND_COLOURS = {"low": "#fed976", "moderate": "#fd8d3c", "high": "#e31a1c", "very high": "#800026"}
BAND_TEXT_COLOURS = {"low": "#1d2330", "moderate": "#1d2330", "high": "#ffffff", "very high": "#ffffff"}
# levels on a continuous scale (risk score, estimate) use the same sequence, from a pale start
SEQUENTIAL_COLORSCALE = [
    [0.0, "#ffffcc"],
    [0.25, BAND_COLOURS["low"]],
    [0.5, BAND_COLOURS["moderate"]],
    [0.75, BAND_COLOURS["high"]],
    [1.0, BAND_COLOURS["very high"]],
]


# --- plain words for model features (issue 13 item 5) ------------------------------------------------
# A model feature is stored on the model's scale (log1p of a rate per 100,000, log of population, ...). The
# screens show what it measures in plain words and its value back on the scale people use. Keyed by the
# feature's name in models.features (a lag suffix "_lag1" is dropped).
PER_100K = N_("{value} per 100,000 people")
# SHAP contributions add up on the model's scale, log(1 + victims per 100,000): +0.69 doubles 1 + the rate
LOG_CONTRIBUTION = N_("Contribution to the estimate (log scale: +0.69 = about twice as many)")
PLAIN_FEATURES: dict[str, tuple[str, str]] = {
    # name: (label, how its value reads: a key of _PLAIN_VALUE)
    "refugees_origin_per100k": (N_("Refugees from the country"), "rate"),
    "asylum_seekers_origin_per100k": (N_("Asylum-seekers from the country"), "rate"),
    "refugees_hosted_per100k": (N_("Refugees hosted"), "rate"),
    "idps_per100k": (N_("People displaced inside the country (IDPs)"), "rate"),
    "new_conflict_displacements_per100k": (N_("New displacements by conflict"), "rate"),
    "new_disaster_displacements_per100k": (N_("New displacements by disasters"), "rate"),
    "refugees_origin_change": (N_("Change in refugees from the country"), "change"),
    "conflict_deaths_per100k": (N_("Deaths in organised violence"), "rate"),
    "conflict_deaths_3y_per100k": (N_("Deaths in organised violence, last 3 years"), "rate"),
    "battle_deaths_per100k": (N_("Battle deaths"), "rate"),
    "armed_conflicts": (N_("Armed conflicts in the country"), "count"),
    "years_since_conflict_onset": (N_("Years since the conflict began"), "years"),
    "past_victims_per100k": (N_("Victims detected in the last report"), "rate"),
    "years_since_victims_report": (N_("Years since the last victims report"), "years"),
    "past_victims_mean3_per100k": (N_("Victims detected, 3-year average"), "rate"),
    "past_victims_shrunk_per100k": (N_("Victims detected, smoothed"), "rate"),
    "past_reports_10y": (N_("Victims reports in 10 years"), "count"),
    "past_label_censored": (N_("Last report was only '<5'"), "yes_no"),
    "prosecutions_per100k": (N_("Trafficking prosecutions"), "rate"),
    "convictions_per100k": (N_("Trafficking convictions"), "rate"),
    "tip_tier": (N_("US TIP report tier"), "tip_tier"),
    "policy_3p": (N_("Anti-trafficking policy (3P index)"), "policy_3p"),
    "gsi_vulnerability": (N_("Vulnerability to modern slavery (GSI)"), "of_100"),
    "log_population": (N_("Population"), "population"),
    "log_gdp_per_capita": (N_("Income per person (GDP)"), "usd_log"),
    "wgi_rule_of_law": (N_("Rule of law (World Bank WGI)"), "wgi"),
    "wgi_government_effectiveness": (N_("Government effectiveness (World Bank WGI)"), "wgi"),
    "wgi_control_of_corruption": (N_("Control of corruption (World Bank WGI)"), "wgi"),
    "wgi_political_stability": (N_("Political stability (World Bank WGI)"), "wgi"),
    "wgi_voice_accountability": (N_("Voice and accountability (World Bank WGI)"), "wgi"),
    "humanitarian_funding_per_capita": (N_("Humanitarian funding per person"), "usd_log1p"),
    "humanitarian_coverage_pct": (N_("Humanitarian appeal funded"), "percent"),
    "disaster_deaths_per100k": (N_("Disaster deaths"), "rate"),
    "disaster_affected_per100k": (N_("People affected by disasters"), "rate"),
}


def _big(value: float) -> str:
    if abs(value) >= 1e6:
        return _("{number} million", number=fmt_number(value / 1e6, 1))
    return fmt_number(value, 0)


def _sig_locale(value: float, digits: int = 2) -> str:
    """``sig`` in the request's locale (0,023 in French): the same significant digits, Babel's separators."""
    if not math.isfinite(value):
        return "—"
    if value == 0:
        return fmt_number(value, 0)
    return fmt_number(value, min(6, max(0, digits - 1 - math.floor(math.log10(abs(value))))))


_PLAIN_VALUE: dict[str, Callable[[float], str]] = {
    "rate": lambda v: _(PER_100K, value=_sig_locale(math.expm1(v), 2)),
    "change": lambda v: _("×{factor} on the year before", factor=fmt_number(math.exp(v), 2)),
    "count": lambda v: fmt_number(v, 0),
    "years": lambda v: _("{value} years", value=fmt_number(v, 0)),
    "yes_no": lambda v: _("yes") if v >= 0.5 else _("no"),
    "tip_tier": lambda v: _("tier {value} (1 best, 3 worst)", value=fmt_number(v, 1 if v % 1 else 0)),
    "policy_3p": lambda v: _("{value} of 15 (3 = weakest)", value=fmt_number(v, 0)),
    "of_100": lambda v: _("{value} of 100", value=fmt_number(v, 0)),
    "population": lambda v: _("{value} people", value=_big(math.exp(v))),
    "usd_log": lambda v: _("US${value}", value=_big(math.exp(v))),
    "usd_log1p": lambda v: _("US${value}", value=fmt_number(math.expm1(v), 2)),
    "wgi": lambda v: _("{value} (−2.5 to +2.5, higher is better)", value=fmt_number(v, 2)),
    "percent": lambda v: _("{value}%", value=fmt_number(v, 0)),
}


def _feature_key(feature: str) -> str:
    name = feature.split(".", 1)[-1]
    return re.sub(r"_lag\d$", "", name)


def plain_feature_label(feature: str, fallback: str | None = None) -> str:
    """What a model feature measures, in plain words (``fallback``, else the name, when it is not known)."""
    known = PLAIN_FEATURES.get(_feature_key(feature))
    return _(known[0]) if known else (fallback or feature)


def plain_feature_value(feature: str, value) -> str:
    """A feature's value back on the scale people use (per 100,000 people, people, US$, tier ...)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return _("missing")
    known = PLAIN_FEATURES.get(_feature_key(feature))
    if not known:
        return fmt_number(float(value), 2)
    return _PLAIN_VALUE[known[1]](float(value))


def family_colour(family: str) -> str:
    """The family's colour from the one family table (models.features.FAMILIES)."""
    known = FAMILY_BY_NAME.get(family)
    return known.colour if known else UNKNOWN_FAMILY_COLOUR


def family_label(family: str) -> str:
    """The family's label from the one family table; an unknown name is shown as it is, capitalised."""
    known = FAMILY_BY_NAME.get(family)
    return known.label if known else family.capitalize()


def metric_meta(metric: str, level: int = 0) -> dict:
    """Label, unit, scale and hover of a map metric; the watch list at admin-1 is its located-drivers view."""
    return WATCH_ADMIN1 if metric == "watch" and level == 1 else MAP_METRICS[metric]


TITLE_WRAP = 44  # characters of a 15 px title that fit a phone's card (about 340 px)
X_TITLE_WRAP = 32  # an x title is centred on the plot area, which a phone leaves about 200 px wide
Y_TITLE_WRAP = 30
YEAR_TICKS = 8  # at most this many year labels, so they never run together on a phone


def _wrapped(text: str | None, width: int) -> str | None:
    """``text`` broken into lines of about ``width`` characters, unless it already has its own breaks."""
    if not text or "<br>" in text or len(text) <= width:
        return text
    return _wrap(text, width)


def _fit_axes(fig: go.Figure) -> None:
    """Long axis titles wrap (never clipped at 390 px); a year axis shows at most YEAR_TICKS labels, level."""
    for name in [k for k in fig.layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]:
        axis = fig.layout[name]
        text = axis.title.text if axis.title else None
        axis.automargin = True
        if text:
            axis.title.text = _wrapped(text, X_TITLE_WRAP if name.startswith("x") else Y_TITLE_WRAP)
        if name.startswith("x") and axis.dtick in (1, 2) and "year" in (text or "").lower():
            axis.dtick = _year_dtick(fig, "x" + name[len("xaxis") :])


def _year_dtick(fig: go.Figure, ref: str) -> int:
    """A whole number of years between labels, so at most YEAR_TICKS show (Plotly's own ``nticks`` split four
    years into half-years: "2,017.5")."""
    years = []
    for trace in fig.data:
        if (getattr(trace, "xaxis", None) or "x") == ref and getattr(trace, "x", None) is not None:
            numbers = (float(v) for v in trace.x if isinstance(v, int | float | np.integer | np.floating))
            years += [v for v in numbers if math.isfinite(v)]
    span = max(years) - min(years) if years else 0.0
    return max(1, math.ceil(span / (YEAR_TICKS - 1)))


def _base_layout(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    wrapped = _wrapped(title, TITLE_WRAP)
    extra = wrapped.count("<br>") - title.count("<br>") if title and wrapped else 0  # lines added here
    fig.update_layout(
        template="plotly_white",
        font=FONT,
        margin=dict(l=10, r=10, t=50 + 20 * extra if title else 20, b=10),
        title=dict(text=wrapped, x=0.01, xanchor="left", font=dict(size=15)) if title else None,
        height=height + 20 * extra if height else height,
        hoverlabel=dict(font=dict(family=FONT["family"])),
    )
    _fit_axes(fig)
    return fig


def empty_figure(message: str, height: int = 260) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font=dict(size=14, color="#555"),
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, height=height)


def fmt(value, spec: str = ",.2f", unit: str = "", none: str = "no data") -> str:
    """Format a number with its unit; NaN and None read 'no data'."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return none
    try:
        text = format(float(value), spec)
    except (TypeError, ValueError):
        return str(value)
    return f"{text} {unit}".strip() if unit else text


def sig(value: float, digits: int = 3) -> str:
    """Compact number with ``digits`` significant figures (for hover payloads)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "0"
    mag = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - mag)
    return f"{value:,.{decimals}f}"


# --- map ---------------------------------------------------------------------------------------------
def metric_range(all_values: pd.DataFrame, metric: str) -> tuple[float, float]:
    """Colour range for a metric, fixed across years so a period change only moves values."""
    if metric == "watch":
        return 0.0, 100.0  # a percentile (countries) or a share in % (admin-1)
    col = MAP_METRICS[metric]["column"]
    vals = (
        pd.to_numeric(all_values[col], errors="coerce").dropna()
        if col in all_values
        else pd.Series(dtype=float)
    )
    if metric == "risk_score":
        return 0.0, 100.0
    if vals.empty:
        return (-1.0, 1.0) if metric == "change" else (0.0, 1.0)
    if metric == "change":
        top = float(np.nanpercentile(vals.abs(), 98)) or 1.0
        return -top, top
    return 0.0, float(np.nanpercentile(vals, 95)) or 1.0


def map_arrays(
    values: pd.DataFrame, locations: Sequence[str], metric: str, level: int = 0
) -> tuple[list, list]:
    """z and customdata aligned to ``locations`` (None where a region has no prediction this year)."""
    if metric == "watch":
        return (watch_admin1_arrays if level == 1 else watch_arrays)(values, locations)
    col = MAP_METRICS[metric]["column"]

    def cell(r: pd.Series) -> tuple[float | None, list]:
        val = r.get(col)
        change = r.get("score_change")
        return (
            None if pd.isna(val) else round(float(val), 3 if metric == "estimate" else 1),
            [
                # numbers, 3 significant digits: this is what a period change sends
                round(float(r["risk_score"])),
                r["risk_band"],
                _sig3(r["estimate_per_100k"]),
                _sig3(r["lower_per_100k"]),
                _sig3(r["upper_per_100k"]),
                "n/a" if pd.isna(change) else f"{change:+.0f}",
                (r.get("drivers") or "not available") if "drivers" in r else "",
                *_basis_parts(r),
            ],
        )

    return _aligned(values, locations, cell)


def _aligned(
    values: pd.DataFrame,
    locations: Sequence[str],
    cell: Callable[[pd.Series], tuple[float | None, list] | None],
) -> tuple[list, list]:
    """z and customdata in the order of ``locations``: ``cell(row)`` of each region's row; None for a region
    without a row or whose cell is None (the grey 'no data' layer shows through)."""
    by_id = values.set_index("region_id") if len(values) else pd.DataFrame()
    z, custom = [], []
    for rid in locations:
        got = cell(by_id.loc[rid]) if rid in by_id.index else None
        z.append(got[0] if got else None)
        custom.append(got[1] if got else None)
    return z, custom


def _basis_parts(row) -> list:
    """[basis, label year, conflict year, displacement year]: short values, the hover template says what they
    are."""
    basis = row.get("basis")
    out = [
        "not recorded" if basis is None or (isinstance(basis, float) and math.isnan(basis)) else str(basis)
    ]
    for col in ("label_year", "conflict_year", "displacement_year"):
        v = row.get(col)
        out.append(int(v) if v is not None and pd.notna(v) else "none")
    return out


def detected_basis_text(row) -> str:
    """Issue 10's basis of a detected-victims prediction in words: checked / nowcast / projection and input
    years."""
    basis = row.get("basis") if hasattr(row, "get") else None
    if basis is None or (isinstance(basis, float) and math.isnan(basis)):
        return "not recorded by this model run"
    label, conflict, displacement = (
        int(v) if (v := row.get(col)) is not None and pd.notna(v) else None
        for col in ("label_year", "conflict_year", "displacement_year")
    )
    # each piece a message of its own (translated between the "; " joins), with the year a placeholder
    parts = [
        f"newest label {label}" if label is not None else "newest label none",
        f"conflict {conflict}" if conflict is not None else "conflict none",
        f"displacement {displacement}" if displacement is not None else "displacement none",
    ]
    return f"{basis} ({'; '.join(parts)})"


def watch_arrays(values: pd.DataFrame, locations: Sequence[str]) -> tuple[list, list]:
    """z (percentile) and hover data of the watch list for one score year, aligned to ``locations``."""
    n = len(values)

    def cell(r: pd.Series) -> tuple[float, list]:
        return round(float(r["percentile"]), 1), [
            int(r["rank"]),
            n,
            round(float(r["rise_factor"]), 3),
            round(float(r["lower"]), 3),
            round(float(r["upper"]), 3),
            _text(r.get("top_driver"), "none stated"),
            _text(r.get("people_exposed"), "no displacement figures"),
            _text(r.get("basis"), "not recorded"),
            f"{int(r['year'])} ({int(r['year']) + 1}–{int(r['year']) + 3})",
        ]

    return _aligned(values, locations, cell)


def _text(value, default: str) -> str:
    """A text cell, or ``default`` when it is missing (None or NaN)."""
    return (
        default
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == ""
        else str(value)
    )


def watch_admin1_arrays(values: pd.DataFrame, locations: Sequence[str]) -> tuple[list, list]:
    """z (share of located drivers, %) and hover data per admin-1 unit; units with nothing located stay
    grey."""

    def cell(r: pd.Series) -> tuple[float, list] | None:
        if not bool(r.get("located")):
            return None
        return round(float(r["share"]), 1), [
            f"{float(r['share']):.1f}%",
            _count_year(r, "deaths", "deaths"),
            _count_year(r, "displaced", "people"),
            r.get("country_text") or "",
        ]

    return _aligned(values, locations, cell)


def _count_year(row, col: str, unit: str) -> str:
    v = row.get(col)
    if v is None or pd.isna(v):
        return "none located"
    count, year = f"{float(v):,.0f}", int(row[col + "_year"])
    if unit == "deaths":  # each unit its own sentence: one message per unit with the count a placeholder
        return f"{count} deaths ({year})"
    return f"{count} people ({year})" if unit == "people" else f"{count} {unit} ({year})"


def _sig3(value) -> float:
    value = float(value)
    if value == 0 or math.isnan(value):
        return 0.0 if value == 0 else value
    return round(value, max(0, 2 - math.floor(math.log10(abs(value)))))


def map_figure(
    values: pd.DataFrame,
    locations: Sequence[str],
    background: pd.DataFrame,
    metric: str,
    geojson_url: str,
    zrange: tuple[float, float],
    *,
    center: dict | None = None,
    zoom: float = 0.9,
    title: str = "",
    uirevision: str = "world",
    level: int = 0,
    year_basis: str | None = None,
    neighbours: MapContext | None = None,
    labels: pd.DataFrame | None = None,
) -> go.Figure:
    """Choropleth on ``map_style='white-bg'`` (no tiles). Trace 0 = grey 'no data' layer; trace 1 = values.

    ``background`` has ``region_id`` and ``name`` of every shape in the layer. Each shape is drawn once (issue
    16, first render): trace 0 lists every shape but its z (``nodata_z``) is null where trace 1 draws a value,
    and Plotly draws no shape whose z is null, so the grey layer holds only the shapes without a value in this
    view. The value trace carries no hover data: a period change patches z (of both traces) and each shape's
    opacity (its basis), and the details are fetched on hover (dashboard.pages.map). In the admin-1 view,
    ``neighbours`` adds the surrounding
    countries in light grey (trace 2) and ``labels`` (region_id, name, lat, lon, largest units first) a point
    layer whose names map.js draws as HTML labels where they fit (MapLibre text would fetch glyphs from
    another host).
    """
    meta = metric_meta(metric, level)
    z = map_z(values, locations, metric, level)
    opacity = basis_opacity(values, locations, metric, year_basis)
    names = dict(zip(background["region_id"], background["name"], strict=True)) if len(background) else {}
    names.update(dict(zip(values.get("region_id", []), values.get("region_name", []), strict=True)))
    nodata = meta.get("nodata", NO_DATA_TEXT)
    fig = go.Figure()
    fig.add_trace(
        go.Choroplethmap(
            geojson=geojson_url,
            featureidkey="id",
            locations=list(background["region_id"]),
            z=nodata_z(list(background["region_id"]), locations, z),
            text=list(background["name"]),
            colorscale=[[0, NO_DATA_GREY], [1, NO_DATA_GREY]],
            showscale=False,
            marker=dict(line=dict(color=BORDER, width=0.6)),
            name=nodata,
            showlegend=True,
            hovertemplate=_("<b>%{{text}}</b><br>{nodata}", nodata=nodata) + "<extra></extra>",
        )
    )
    fig.add_trace(
        go.Choroplethmap(
            geojson=geojson_url,
            featureidkey="id",
            locations=list(locations),
            z=z,
            text=[names.get(r, r) for r in locations],
            marker=dict(line=dict(color=BORDER, width=0.6), opacity=opacity),
            showlegend=False,
            **value_style(metric, zrange, level),
        )
    )
    if neighbours is not None and neighbours.locations:
        fig.add_trace(
            go.Choroplethmap(
                geojson=neighbours.geojson_url,
                featureidkey="id",
                locations=list(neighbours.locations),
                z=[0] * len(neighbours.locations),
                text=list(neighbours.names),
                colorscale=[[0, NEIGHBOUR_FILL], [1, NEIGHBOUR_FILL]],
                showscale=False,
                marker=dict(line=dict(color=NEIGHBOUR_LINE, width=0.8)),
                name=_("Neighbouring countries (context, not coloured)"),
                showlegend=True,
                hovertemplate="<b>%{text}</b><extra></extra>",
            )
        )
    if labels is not None and len(labels):
        fig.add_trace(label_layer(labels))
    fig.update_layout(
        map=dict(style="white-bg", center=center or dict(lat=18, lon=12), zoom=zoom),
        legend=dict(
            x=0.01,
            y=0.99,
            yanchor="top",
            bgcolor="rgba(255,255,255,0.85)",
            bordercolor="#999",
            borderwidth=1,
            itemclick=False,
            itemdoubleclick=False,
            font=dict(size=11),
        ),
        uirevision=uirevision,
        clickmode="event",
    )
    fig = _base_layout(fig, title=title, height=600)
    lines = title.count("<br>") + 1 if title else 1
    # the title hangs from the top (Plotly centres its first line in the margin, so a three-line title and
    # its subtitle ran onto the map and the legend); its top pad is 30 px because Plotly anchors a multi-line
    # title near its first baseline (10 px cut the first line's tops at desktop width, seen in Chromium);
    # then each line takes 20 px: the margin holds them all
    fig.update_layout(
        title=dict(yref="container", y=1, yanchor="top", pad=dict(t=30)),
        margin=dict(t=30 + 20 * lines, b=80),  # title lines and subtitle; colour bar below
    )
    return fig


NEIGHBOUR_FILL = "#f2f2f2"  # lighter than NO_DATA_GREY: context, never read as a value or as "no data"
NEIGHBOUR_LINE = "#b0b0b0"
LABEL_LAYER = "unit-labels"  # trace meta that dashboard/assets/map.js looks for
# Opacity of a shape by the basis of its estimate (issue 10): a projection is drawn paler than a checked year
BASIS_OPACITY = {"checked": 0.95, "nowcast": 0.65, "projection": 0.35}
UNKNOWN_BASIS_OPACITY = 0.35
LOG_FLOOR = 0.01  # per 100k: estimates below it are drawn at it on the log scale (the hover has the value)


@dataclass(frozen=True)
class MapContext:
    """The neighbouring countries drawn around an admin-1 view: their layer URL, ids and names."""

    geojson_url: str
    locations: tuple[str, ...]
    names: tuple[str, ...]


def label_layer(labels: pd.DataFrame) -> go.Scattermap:
    """Small dots at the units' label points; map.js draws their names (largest first) where they fit."""
    return go.Scattermap(
        lat=[round(float(v), 3) for v in labels["lat"]],
        lon=[round(float(v), 3) for v in labels["lon"]],
        text=list(labels["name"]),
        mode="markers",
        marker=dict(size=3, color="#333333", opacity=0.5),
        hoverinfo="skip",
        showlegend=False,
        meta=LABEL_LAYER,
        name=LABEL_LAYER,
    )


def map_z(values: pd.DataFrame, locations: Sequence[str], metric: str, level: int = 0) -> list:
    """The value trace's z, aligned to ``locations``: the estimate on a log10 scale (one territory would
    saturate a linear one), other metrics as they are; None where a region has no value this year."""
    z, _custom = map_arrays(values, locations, metric, level)
    if metric != "estimate":
        return z
    return [None if v is None else round(math.log10(max(float(v), LOG_FLOOR)), 3) for v in z]


def nodata_z(shapes: Sequence[str], locations: Sequence[str], z: Sequence) -> list[int | None]:
    """The grey 'no data' trace's z, aligned to ``shapes`` (every shape of the layer): 0 where the value trace
    draws nothing (no value in this view), None where it draws a value.

    Plotly's choropleth calc gives a location whose z is not a number no feature (checked in headless Chromium
    with the shipped plotly.js: neither drawn nor hovered), so each shape's geometry goes to MapLibre once,
    from one trace or the other. Trace 0 keeps every shape in ``locations`` (its names aligned in ``text``):
    a period change patches this z alone, and its legend entry stays when every shape has a value.
    """
    valued = {r for r, v in zip(locations, z, strict=True) if _is_value(v)}
    return [None if r in valued else 0 for r in shapes]


def _is_value(v) -> bool:
    """Whether Plotly draws a shape with this z: a finite number (None and NaN are no value)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def basis_opacity(
    values: pd.DataFrame, locations: Sequence[str], metric: str, year_basis: str | None = None
) -> list[float]:
    """Each shape's opacity from the basis of its estimate (checked solid, nowcast lighter, projection
    palest). The watch list has no per-country basis of that kind: every shape takes the year's basis."""
    if metric == "watch" or "basis" not in values:
        return [BASIS_OPACITY.get(year_basis or "", UNKNOWN_BASIS_OPACITY)] * len(locations)
    by_id = dict(zip(values["region_id"], values["basis"], strict=True))
    return [BASIS_OPACITY.get(str(by_id.get(r)), UNKNOWN_BASIS_OPACITY) for r in locations]


def scale_range(
    values: pd.DataFrame, metric: str, level: int, all_values: pd.DataFrame
) -> tuple[float, float]:
    """Colour range in z units. Countries: fixed across years (``all_values``), so a year change moves values
    only. Admin-1 units: the selected country's own min..max that year, so its hotspots stand out (the page
    states the country's global position beside it)."""
    if level == 0:
        lo, hi = metric_range(all_values, metric)
        if metric == "estimate":
            vals = pd.to_numeric(all_values.get("estimate_per_100k"), errors="coerce").dropna()
            vals = vals[vals > 0]
            if vals.empty:
                return math.log10(LOG_FLOOR), 0.0
            lo = max(float(np.nanpercentile(vals, 2)), LOG_FLOOR)
            hi = max(float(np.nanpercentile(vals, 99)), lo * 10)
            return round(math.log10(lo), 3), round(math.log10(hi), 3)
        return lo, hi
    z = [v for v in map_z(values, list(values.get("region_id", [])), metric, level) if v is not None]
    if not z:
        return (0.0, 100.0) if metric in ("watch", "risk_score") else (-1.0, 1.0)
    lo, hi = float(min(z)), float(max(z))
    if metric == "change":
        top = max(abs(lo), abs(hi)) or 1.0
        return -top, top
    if metric == "watch":
        lo = 0.0
    if hi - lo < 1e-9:  # every unit has the same value: centre it on the scale (the note says why)
        pad = 0.5 if metric == "estimate" else max(abs(hi) * 0.1, 1.0)
        return lo - pad, hi + pad
    return round(lo, 3), round(hi, 3)


def log_ticks(zrange: tuple[float, float]) -> tuple[list[float], list[str]]:
    """Tick positions (log10) and labels (real values per 100k) for a log colour bar: powers of ten, else
    1-2-5 steps, else finer steps, whichever first gives three to six ticks (a narrow admin-1 range too)."""
    lo, hi = 10 ** zrange[0], 10 ** zrange[1]
    exps = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    best: list[float] = []
    for mults in ((1,), (1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)):
        steps = [m * 10.0**e for e in exps for m in mults if lo * 0.999 <= m * 10.0**e <= hi * 1.001]
        if 3 <= len(steps) <= 6:
            best = steps
            break
        if len(steps) > len(best) and len(steps) <= 6:
            best = steps
    if len(best) < 2:
        best = [lo, hi]
    labels = [f"{float(sig(v, 2).replace(',', '')):,g}" for v in best]  # 0.1, 0.2, 1, 10 (no trailing 0)
    return [round(math.log10(v), 4) for v in best], labels


ALERT_COLOUR = "#000000"  # black rings read on every colour of YlOrRd and Viridis
ALERT_NAME = "Confirmed alert (hover: rule, data year)"
ALERT_HOVER_LINES = 5


def alert_layer(confirmed: pd.DataFrame) -> go.Scattermap | None:
    """One marker per country with confirmed alerts, at its label point; the hover lists rule and data year.

    Why a separate marker trace: it sits on top of the choropleth without touching its values, so a year
    change
    still patches only the value trace. ``confirmed`` has region_id, region_name, rule, period, label_lat and
    label_lon (one row per alert). Countries without a label point are left to the side list. None: nothing to
    draw.
    """
    if confirmed.empty:
        return None
    placed = confirmed.dropna(subset=["label_lat", "label_lon"])
    if placed.empty:
        return None
    lat, lon, names, hover, counts = [], [], [], [], []
    for _region, grp in placed.sort_values(["period", "rule"], ascending=[False, True]).groupby(
        "region_id", sort=True
    ):
        lines = [f"{r.rule} ({int(r.period)})" for r in grp.itertuples()]
        more = len(lines) - ALERT_HOVER_LINES
        text = "<br>".join(lines[:ALERT_HOVER_LINES]) + (f"<br>and {more} more" if more > 0 else "")
        lat.append(float(grp["label_lat"].iloc[0]))
        lon.append(float(grp["label_lon"].iloc[0]))
        names.append(str(grp["region_name"].iloc[0]))
        hover.append(text)
        counts.append(len(lines))
    return go.Scattermap(
        lat=lat,
        lon=lon,
        mode="markers",
        text=names,
        customdata=[[h, n] for h, n in zip(hover, counts, strict=True)],
        marker=dict(size=[11 + 2 * min(n, 4) for n in counts], color=ALERT_COLOUR, opacity=0.85),
        name=ALERT_NAME,
        showlegend=True,
        hovertemplate=(
            "<b>%{text}</b>: %{customdata[1]} confirmed alert(s)<br>%{customdata[0]}"
            "<br><i>Reviewed by an analyst; see the Alerts page.</i><extra></extra>"
        ),
    )


def value_style(metric: str, zrange: tuple[float, float], level: int = 0) -> dict:
    """The value trace's scale, colour bar and hover: what a metric change (or, at admin-1, a year) patches.

    The colour bar lies flat below the map (thin, across), so it never takes a phone map's width; the estimate
    is on a log scale whose ticks carry real values per 100k. The hover names the shape only: the details
    come from the server on hover.
    """
    meta = metric_meta(metric, level)
    scale = meta["colorscale"]
    if scale == "Viridis":  # levels follow the bands' sequential scale where the screens define one
        scale = globals().get("SEQUENTIAL_COLORSCALE", scale)
    unit = meta["unit"]
    if metric == "estimate":
        unit = _("victims detected per 100,000 people, log scale")
    label = meta["label"]
    if level == 1:
        # translated here, pieces first: the filled sentence is no catalogue message, so the figure's later
        # translation left the whole colour-bar title English around the translated tail
        unit = _("{unit}; colours span this country's units only", unit=_(unit))
        label = _(label)
    colorbar = dict(
        title=dict(text=f"{label}<br><sub>{unit}</sub>", side="top", font=dict(size=11)),
        orientation="h",
        x=0.5,
        xanchor="center",
        y=-0.01,
        yanchor="top",
        thickness=10,
        len=0.9,
        tickfont=dict(size=10),
    )
    if metric == "estimate":
        colorbar["tickvals"], colorbar["ticktext"] = log_ticks(zrange)
    return dict(
        colorscale=scale,
        zmin=zrange[0],
        zmax=zrange[1],
        zmid=0 if metric == "change" else None,
        hovertemplate="<b>%{text}</b><extra></extra>",
        name=meta["label"],
        colorbar=colorbar,
    )


def hover_lines(template: str, custom: Sequence, name: str = "") -> list[str]:
    """The lines of a hover template filled with one shape's customdata, as plain text (the map's details
    panel: the same content the tooltip had, fetched on hover so that a year change never re-sends it)."""

    def fill(match: re.Match) -> str:
        idx, spec = int(match.group(1)), match.group(2) or ""
        value = custom[idx] if idx < len(custom) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if "~r" in spec:  # d3's ~r: significant digits, trailing zeros trimmed
                text = sig(float(value), 3)
                return text.rstrip("0").rstrip(".") if "." in text else text
            return format(value, spec.lstrip(":")) if spec else str(value)
        return str(value)

    text = re.sub(r"%\{customdata\[(\d+)\](:[^}]*)?\}", fill, template.split("<extra>")[0])
    text = text.replace("%{text}", name)
    lines = []
    for raw in text.split("<br>"):
        line = re.sub(r"<[^>]+>", "", raw).strip()
        if line:
            lines.append(line)
    return lines


def _wrap(text: str, width: int) -> str:
    """Break a colour-bar title into lines of about ``width`` characters."""
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "<br>".join([*lines, line]) if line else "<br>".join(lines)


MAP_TITLE_WRAP = 46  # characters of the map's 15 px title that fit a phone (about 350 px)


def map_title(metric: str, year: int, scope: str, level: int = 0) -> str:
    """Title and subtitle of the map; the title wraps so a phone never clips it (the figure cannot know its
    width, and a short line costs a desktop nothing)."""
    meta = metric_meta(metric, level)
    if metric == "watch":
        head = _(
            "{label} {year}, looks at {start}–{end} · {scope}",
            label=meta["label"],
            year=year,
            start=year + 1,
            end=year + 3,
            scope=scope,
        )
        return f"{_wrap(head, MAP_TITLE_WRAP)}<br><sub>{meta['unit']}: {meta['target']}</sub>"
    head = _("{label}, {year} · {scope}", label=meta["label"], year=year, scope=scope)
    return f"{_wrap(head, MAP_TITLE_WRAP)}<br><sub>{meta['unit']}; {meta['target']}</sub>"


def view_for_bounds(minx: float, miny: float, maxx: float, maxy: float) -> tuple[dict, float]:
    """Centre and zoom of a map that shows a bounding box (WGS84 degrees)."""
    span = max(maxx - minx, (maxy - miny) * 1.6, 0.5)
    zoom = max(0.5, min(9.0, math.log2(360.0 / span) - 0.6))
    return {"lat": (miny + maxy) / 2, "lon": (minx + maxx) / 2}, round(zoom, 2)


def _add_interval_band(
    fig: go.Figure,
    x: list[int],
    lower: pd.Series,
    upper: pd.Series,
    fillcolor: str,
    upper_name: str | None = None,
) -> None:
    """The 80% interval as a filled band: an invisible upper line, then the lower line filled up to it."""
    fig.add_trace(
        go.Scatter(
            x=x,
            y=upper,
            mode="lines",
            line=dict(width=0),
            showlegend=False,
            hoverinfo="skip",
            name=upper_name,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=lower,
            mode="lines",
            line=dict(width=0),
            fill="tonexty",
            fillcolor=fillcolor,
            name="80% interval",
            hoverinfo="skip",
        )
    )


# --- region page -------------------------------------------------------------------------------------
def trend_figure(pred: pd.DataFrame, name: str = "", admin1: bool = False) -> go.Figure:
    """Estimate per 100k over the years, with the 80% interval band and the detected victims where known."""
    if pred.empty:
        return empty_figure("No predictions for this region in the deployed model.")
    pred = pred.sort_values("year")
    years = pred["year"].astype(int).tolist()
    fig = go.Figure()
    _add_interval_band(
        fig,
        years,
        pred["lower_per_100k"],
        pred["upper_per_100k"],
        "rgba(33,145,140,0.25)",
        upper_name="upper",
    )
    fig.add_trace(
        go.Scatter(
            x=years,
            y=pred["estimate_per_100k"],
            mode="lines+markers",
            line=dict(color="#21918c", width=2.5),
            name="Model estimate" + (" (downscaled)" if admin1 else ""),
            customdata=np.stack(
                [pred["lower_per_100k"], pred["upper_per_100k"], pred["risk_score"]], axis=-1
            ),
            hovertemplate=(
                "%{x}: %{y:.2f} per 100,000 people (80% interval %{customdata[0]:.2f}–%{customdata[1]:.2f})"
                "<br>Risk score %{customdata[2]:.0f}/100<extra></extra>"
            ),
        )
    )
    if "label_per_100k" in pred and pred["label_per_100k"].notna().any():
        lab = pred[pred["label_per_100k"].notna()]
        fig.add_trace(
            go.Scatter(
                x=lab["year"].astype(int),
                y=lab["label_per_100k"],
                mode="markers",
                marker=dict(symbol="diamond", size=9, color="#E69F00", line=dict(color="#000", width=1)),
                name="Detected victims (UNODC GLOTIP)",
                hovertemplate="%{x}: %{y:.2f} victims detected per 100,000 people<extra></extra>",
            )
        )
    fig.update_xaxes(title="Year", dtick=1 if len(years) <= 10 else 2)
    fig.update_yaxes(title="Victims per 100,000 people", rangemode="tozero")
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    # whole sentences with named placeholders: each is one catalogue message (a country's name is translated
    # on its own), not a message per country the catalogue extraction happened to render
    title = f"Trend: risk of <i>detected</i> trafficking in {name}" if name else f"Trend: {TARGET_TEXT}"
    return _base_layout(fig, title, height=340)


def waterfall_figure(
    expl: pd.DataFrame, labels: dict[str, str] | None = None, max_features: int = 10, year: int | None = None
) -> go.Figure:
    """SHAP waterfall for one prediction: base value, the largest contributions, 'other', the prediction.

    Values are in the model's margin space, log(1 + detected victims per 100k); the labels say what each
    input measures and its value on the scale people use (plain_feature_label / plain_feature_value).
    """
    if expl.empty:
        return empty_figure("No explanation stored for this prediction.")
    labels = labels or {}
    bias_rows = expl[expl["feature"] == "__bias__"]
    bias = float(bias_rows["value"].sum()) if len(bias_rows) else 0.0
    feats = expl[expl["feature"] != "__bias__"].copy()
    feats["abs"] = feats["value"].abs()
    feats = feats.sort_values("abs", ascending=False)
    top, rest = feats.head(max_features), feats.iloc[max_features:]
    x_labels = [_("Average of all countries (start)")]
    values = [bias]
    measures = ["absolute"]
    hover = [_("Start: the model's average, {value} per 100,000 people", value=sig(math.expm1(bias), 2))]
    for r in top.iloc[::-1].itertuples():
        name = plain_feature_label(r.feature, labels.get(r.feature))
        x_labels.append(f"{name}<br>{plain_feature_value(r.feature, r.feature_value)}")
        values.append(float(r.value))
        measures.append("relative")
        hover.append(
            _(
                "{family}: {value} on the model's log scale",
                family=family_label(r.family),
                value=f"{r.value:+.2f}",
            )
        )
    if len(rest):
        x_labels.append(_("{count} other inputs", count=len(rest)))
        values.append(float(rest["value"].sum()))
        measures.append("relative")
        hover.append(_("sum of the smaller contributions"))
    total = bias + float(feats["value"].sum())
    estimate_text = _(PER_100K, value=sig(math.expm1(total), 2))
    x_labels.append(_("Estimate: {value}", value=estimate_text))
    values.append(total)
    measures.append("total")
    hover.append(_("{value} victims detected", value=estimate_text))
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=x_labels,
            x=values,
            measure=measures,
            hovertext=hover,
            hovertemplate="%{y}<br>%{hovertext}<extra></extra>",
            text=[
                f"{v:+.2f}" if m == "relative" else f"{v:.2f}" for v, m in zip(values, measures, strict=True)
            ],
            textposition="outside",
            cliponaxis=False,
            increasing=dict(marker=dict(color=UP)),
            decreasing=dict(marker=dict(color=DOWN)),
            totals=dict(marker=dict(color="#21918c")),
            connector=dict(line=dict(color="#999", width=1)),
        )
    )
    # room for the labels outside the bars: the running total's extent plus a margin
    running = np.cumsum([0.0 if m == "total" else v for v, m in zip(values, measures, strict=True)])
    ends = np.concatenate([running, [0.0, total]])
    span = float(ends.max() - ends.min()) or 1.0
    fig.update_xaxes(
        title=_(LOG_CONTRIBUTION),
        range=[float(min(ends.min(), 0.0)) - 0.22 * span, float(ends.max()) + 0.22 * span],
    )
    fig.update_layout(margin=dict(r=40))
    fig.update_yaxes(automargin=True, tickfont=dict(size=11))
    est = fmt_number(math.expm1(total), 2)
    title = (
        _("Why {value} per 100,000 people in {year}: the inputs that move it most", value=est, year=year)
        if year
        else _("Why {value} per 100,000 people: the inputs that move it most", value=est)
    )
    return _base_layout(fig, title, height=max(320, 40 * len(x_labels) + 100))


def what_changed_figure(
    expl_now: pd.DataFrame, expl_prev: pd.DataFrame, year: int | None = None
) -> go.Figure:
    """Change in SHAP contribution by feature family since the previous year."""
    if expl_now.empty or expl_prev.empty:
        return empty_figure("No explanation for the previous year: nothing to compare.")
    now = expl_now[expl_now["feature"] != "__bias__"].groupby("family")["value"].sum()
    prev = expl_prev[expl_prev["feature"] != "__bias__"].groupby("family")["value"].sum()
    delta = now.subtract(prev, fill_value=0.0).sort_values()
    fig = go.Figure(
        go.Bar(
            x=delta.values,
            y=[_(family_label(f)) for f in delta.index],  # categories: translated here, as the drivers' bars
            orientation="h",
            marker=dict(color=[UP if v >= 0 else DOWN for v in delta.values]),
            text=[f"{v:+.2f}" if abs(v) >= 0.01 else f"{v:+.3f}" for v in delta.values],
            textposition="auto",
            cliponaxis=False,
            hovertemplate=_("%{y}: %{x:+.3f} on the model's log scale") + "<extra></extra>",
        )
    )
    span = float(delta.abs().max()) if len(delta) else 1.0
    fig.update_xaxes(range=[-span * 1.25, span * 1.25])
    fig.add_vline(x=0, line=dict(color="#333", width=1))
    fig.update_xaxes(title=_("Change in contribution (log scale; orange raises, purple lowers)"))
    title = (
        _("What changed since {year}, by kind of input", year=year - 1)
        if year
        else _("What changed since last year, by kind of input")
    )
    return _base_layout(fig, title, height=300)


def pick_driver_series(
    obs: pd.DataFrame, preferred: Sequence[str] = (), per_family: int = 3, first_year: int | None = None
) -> pd.DataFrame:
    """Keep a readable set of series: the preferred indicators first, then the longest, ``per_family``
    each."""
    if obs.empty:
        return obs
    if first_year is not None:
        obs = obs[obs["year"] >= first_year]
    rank = {code: i for i, code in enumerate(preferred)}
    keep = []
    for _family, sub in obs.groupby("family"):
        counts = sub.groupby(["indicator", "source"]).size().reset_index(name="n")
        counts["pref"] = counts["indicator"].map(rank).fillna(len(rank))
        top = (
            counts.sort_values(["pref", "n"], ascending=[True, False])
            .drop_duplicates("indicator")
            .head(per_family)
        )
        keep.append(sub.merge(top[["indicator", "source"]], on=["indicator", "source"]))
    return pd.concat(keep, ignore_index=True) if keep else obs.iloc[0:0]


def drivers_figure(
    obs: pd.DataFrame,
    families: Sequence[str] = ("displacement", "conflict", "detection"),
    source_titles: dict[str, str] | None = None,
) -> go.Figure:
    """The drivers over time, one panel per family; each series is named with its unit and source."""
    obs = obs[obs["family"].isin(families)] if len(obs) else obs
    if obs.empty:
        return empty_figure("No displacement, conflict or detection data for this region in the warehouse.")
    source_titles = source_titles or {}
    present = [f for f in families if f in set(obs["family"])]
    fig = make_subplots(
        rows=len(present),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=[family_label(f) for f in present],
    )
    fig.update_annotations(font=dict(size=13))
    palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#F0E442"]
    for row, family in enumerate(present, start=1):
        sub = obs[obs["family"] == family]
        for i, ((code, source), grp) in enumerate(sub.groupby(["indicator", "source"], sort=True)):
            grp = grp.sort_values("year")
            unit = grp["unit"].iloc[0]
            name = f"{code.split('.', 1)[-1].replace('_', ' ')} ({unit}; {source_titles.get(source, source)})"
            name = name if len(name) <= 90 else name[:89] + "…"
            cens = grp["censored"].fillna(False).astype(bool) if "censored" in grp else None
            fig.add_trace(
                go.Scatter(
                    x=grp["year"],
                    y=grp["value"],
                    mode="lines+markers",
                    name=name,
                    line=dict(color=palette[i % len(palette)], width=1.8),
                    marker=dict(
                        size=5,
                        symbol=(
                            ["circle-open" if c else "circle" for c in cens] if cens is not None else "circle"
                        ),
                    ),
                    hovertemplate=f"{name}<br>%{{x}}: %{{y:,.0f}}<extra></extra>",
                ),
                row=row,
                col=1,
            )
        units = sorted(set(sub["unit"]))
        fig.update_yaxes(
            title_text=units[0] if len(units) == 1 else "see legend",
            row=row,
            col=1,
            rangemode="tozero",
            title_font=dict(size=11),
        )
    fig.update_xaxes(title_text="Year", row=len(present), col=1)
    fig.update_layout(legend=dict(orientation="h", y=-0.12, font=dict(size=11)))
    return _base_layout(
        fig,
        "Drivers over time (open markers: censored values, e.g. '<5')",
        height=200 * len(present) + 40 * min(len(fig.data), 9) + 60,
    )


def admin1_figure(units: pd.DataFrame, country: str = "") -> go.Figure:
    """Admin-1 estimates (downscaled), with their intervals.

    ``has_subnational_data`` is a country-level flag (models/downscale.py): False means no unit of the country
    has
    located data and every unit carries the country rate (hatched grey)."""
    if units.empty:
        return empty_figure("No admin-1 estimates for this country.")
    units = units.sort_values("estimate_per_100k")
    sub = units["has_subnational_data"].fillna(False).astype(bool)
    fig = go.Figure(
        go.Bar(
            x=units["estimate_per_100k"],
            y=units["region_name"],
            orientation="h",
            error_x=dict(
                type="data",
                symmetric=False,
                array=units["upper_per_100k"] - units["estimate_per_100k"],
                arrayminus=units["estimate_per_100k"] - units["lower_per_100k"],
                color="#555",
                thickness=1,
            ),
            marker=dict(
                color=["#21918c" if s else "#bdbdbd" for s in sub],
                pattern=dict(shape=["" if s else "/" for s in sub]),
            ),
            customdata=np.stack(
                [
                    units["risk_score"],
                    units["lower_per_100k"],
                    units["upper_per_100k"],
                    np.where(sub, "yes", "no: country rate"),
                ],
                axis=-1,
            ),
            hovertemplate=(
                "%{y}: %{x:.2f} per 100k (80%: %{customdata[1]:.2f}–%{customdata[2]:.2f})"
                "<br>Score %{customdata[0]}/100 · sub-national data: %{customdata[3]}<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(title="Estimated detected victims per 100,000 (downscaled by exposure index)")
    fig.update_yaxes(automargin=True)
    title = (
        f"Admin-1 units{' of ' + country if country else ''} (hatched grey: the country has no located data, "
        "units carry the country rate)"
    )
    return _base_layout(fig, title, height=max(300, 22 * len(units) + 120))


# --- crisis watch list (issue 11) --------------------------------------------------------------------
def watch_drivers_figure(
    terms: pd.DataFrame, year: int | None = None, method: str = "composite"
) -> go.Figure:
    """The terms behind one watch-list score (composite terms or SHAP), largest first; orange raises it."""
    if terms.empty:
        return empty_figure("No drivers stored for this score.")
    terms = terms.iloc[::-1]  # largest at the top of a horizontal bar chart
    # bar labels are translated here: the figure's later translation covers titles and texts, not categories
    labels = [_(str(lab or drv)) for lab, drv in zip(terms["label"], terms["driver"], strict=True)]
    vals = terms["contribution"].astype(float).to_numpy()
    fig = go.Figure(
        go.Bar(
            x=vals,
            y=labels,
            orientation="h",
            marker=dict(color=[UP if v >= 0 else DOWN for v in vals]),
            text=[f"{v:+.2f}" for v in vals],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:+.3f} on the log scale of the expected rise<extra></extra>",
        )
    )
    span = float(np.abs(vals).max()) or 1.0
    fig.update_xaxes(range=[-span * 1.35, span * 1.35], title="Contribution (log scale of the rise)")
    fig.add_vline(x=0, line=dict(color="#333", width=1))
    fig.update_yaxes(automargin=True)
    # every composite variant (composite, composite_min_base, composite_scaled) is a sum of terms; a raw
    # method code in the title showed as "(composite_scaled)" and kept the title from being translated
    what = "composite terms" if method.startswith("composite") else method
    what = "SHAP values" if method == "xgboost" else what
    return _base_layout(
        fig,
        f"Drivers of the watch-list score{' ' + str(year) if year else ''} ({what})",
        height=max(260, 36 * len(terms) + 110),
    )


def watch_trend_figure(rows: pd.DataFrame, name: str = "") -> go.Figure:
    """Expected rise factor by score year with its 80% interval; 1 = no change expected."""
    if rows.empty:
        return empty_figure("No watch-list scores for this country in the deployed run.")
    rows = rows.sort_values("year")
    years = rows["year"].astype(int).tolist()
    fig = go.Figure()
    _add_interval_band(fig, years, rows["lower"], rows["upper"], "rgba(230,97,1,0.2)")
    fig.add_trace(
        go.Scatter(
            x=years,
            y=rows["rise_factor"],
            mode="lines+markers",
            line=dict(color=UP, width=2.5),
            name="Expected rise factor",
            customdata=np.stack([rows["lower"], rows["upper"], rows["rank"]], axis=-1),
            hovertemplate=(
                "Score year %{x} (looks at the next three years): ×%{y:.2f} "
                "(80%: ×%{customdata[0]:.2f}–×%{customdata[1]:.2f}), rank %{customdata[2]}<extra></extra>"
            ),
        )
    )
    fig.add_hline(y=1, line=dict(color="#333", dash="dot"), annotation_text="no change expected")
    fig.update_xaxes(
        title="Score year (inputs dated up to it; looks at the three years after)",
        dtick=1 if len(years) <= 10 else 2,
    )
    fig.update_yaxes(title="Expected rise factor<br>(ratio)")  # two lines: it overran the title at 380 px
    # the legend sits below the x title, which wraps to three lines at phone width (y=-0.3 overlapped it)
    fig.update_layout(legend=dict(orientation="h", y=-0.55))
    title = f"Watch list over time for {name}" if name else "Watch list over time"
    return _base_layout(fig, title, height=380)


def pairs_figure(
    pairs: pd.DataFrame, citizenship: str = "", year: int | None = None, top: int = 15
) -> go.Figure:
    """Where a population's victims are expected to be detected: expected victims by detecting country."""
    if pairs.empty:
        return empty_figure("No pair-model predictions stored for this population in the deployed run.")
    pairs = pairs.sort_values("expected_victims", ascending=False).head(top).iloc[::-1]
    horizon = sorted({int(h) for h in pairs["horizon"]})
    fig = go.Figure(
        go.Bar(
            x=pairs["expected_victims"],
            y=pairs["detecting_name"],
            orientation="h",
            marker_color="#0072B2",
            error_x=dict(
                type="data",
                symmetric=False,
                array=pairs["upper"] - pairs["expected_victims"],
                arrayminus=pairs["expected_victims"] - pairs["lower"],
                color="#555",
                thickness=1,
            ),
            customdata=np.stack(
                [
                    pairs["lower"],
                    pairs["upper"],
                    pairs["horizon"],
                    [sig(v) if pd.notna(v) else "never listed" for v in pairs["last_listed_victims"]],
                    [str(int(v)) if pd.notna(v) else "-" for v in pairs["last_listed_year"]],
                ],
                axis=-1,
            ),
            hovertemplate=(
                "%{y}: %{x:,.1f} expected detected victims (80%: %{customdata[0]:,.1f}–%{customdata[1]:,.1f})"
                "<br>horizon %{customdata[2]} years after the last report; last listed %{customdata[3]} "
                "(%{customdata[4]})<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(title="Expected detected victims (persons, with 80% interval)", rangemode="tozero")
    fig.update_yaxes(automargin=True)
    h_text = f"horizon {horizon[0]}" if len(horizon) == 1 else f"horizons {horizon[0]}–{horizon[-1]}"
    when = f"{h_text} years after the last report"
    if citizenship:
        title = (
            f"Where {citizenship}'s victims are found, {year} ({when})"
            if year
            else f"Where {citizenship}'s victims are found ({when})"
        )
    else:
        title = (
            f"Where this population's victims are found, {year} ({when})"
            if year
            else f"Where this population's victims are found ({when})"
        )
    return _base_layout(fig, title, height=max(280, 30 * len(pairs) + 120))


def event_study_figure(points: list[dict] | None) -> go.Figure:
    """Nationals detected abroad around a refugee-outflow surge (k = years after), ±1.96 standard errors."""
    if not points:
        return empty_figure("No event study stored with this model run.", height=220)
    frame = pd.DataFrame(points).sort_values("k")
    fig = go.Figure(
        go.Scatter(
            x=frame["k"],
            y=frame["effect"],
            mode="lines+markers",
            line=dict(color=UP, width=2),
            error_y=dict(type="data", array=1.96 * frame["se"], color="#999"),
            hovertemplate=(
                "%{x} years after a surge: %{y:+.2f} (log scale of nationals detected abroad)<extra></extra>"
            ),
        )
    )
    fig.add_hline(y=0, line=dict(color="#333", width=1))
    fig.add_vline(x=0, line=dict(color="#999", dash="dot"))
    fig.update_xaxes(title="Years after a refugee-outflow surge", dtick=1)
    fig.update_yaxes(title="Change, log scale of nationals detected abroad")
    return _base_layout(fig, "Event study: nationals detected abroad around refugee surges", height=260)


def admin1_watch_figure(units: pd.DataFrame, country: str = "", year: int | None = None) -> go.Figure:
    """Admin-1 units by their share of the country's located conflict deaths and displaced people (%)."""
    if units.empty:
        return empty_figure("No admin-1 units for this country.")
    found = units["located"].astype(bool)
    if not found.any():
        return empty_figure(
            "No conflict deaths or displacement located in this country's admin-1 units in the window."
        )
    located = units.assign(_x=units["share"].fillna(0.0)).sort_values(
        ["_x", "region_name"], ascending=[True, False]
    )
    found = located["located"].astype(bool)
    fig = go.Figure(
        go.Bar(  # units with nothing located: no bar, the words "nothing located" (no data)
            x=located["_x"],
            y=located["region_name"],
            orientation="h",
            marker_color=UP,
            text=["" if f else "nothing located (no data)" for f in found],
            textposition="outside",
            textfont=dict(color="#777"),
            cliponaxis=False,
            customdata=np.stack(
                [
                    [_count_year(r, "deaths", "deaths") for _, r in located.iterrows()],
                    [_count_year(r, "displaced", "people") for _, r in located.iterrows()],
                ],
                axis=-1,
            ),
            hovertemplate=(
                "%{y}: %{x:.1f}% of located drivers<br>conflict deaths: %{customdata[0]}"
                "<br>displaced: %{customdata[1]}<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(
        title="% of the country's located conflict deaths and displaced people (mean of the two)",
        rangemode="tozero",
    )
    fig.update_yaxes(automargin=True)
    missing, total = int((~found).sum()), len(units)
    start = year - 3 if year else None
    if country:
        title = (
            f"Where the watch list's drivers are located in {country}, {start}–{year}"
            if year
            else f"Where the watch list's drivers are located in {country}"
        )
    else:
        title = (
            f"Where the watch list's drivers are located, {start}–{year}"
            if year
            else "Where the watch list's drivers are located"
        )
    if missing:
        note = f"{missing} of {total} units: nothing located in the window (no data, not a measured zero)"
        title = f"{title}<br><sub>{note}</sub>"
    return _base_layout(fig, title, height=max(260, 22 * len(located) + 130))


# --- model page --------------------------------------------------------------------------------------
def backtest_figure(per_origin: pd.DataFrame, metric: str = "rmsle", deployed: str = "xgboost") -> go.Figure:
    """The model against its baselines, per predicted (target) year; the deployed candidate is bold."""
    if per_origin.empty or metric not in per_origin:
        return empty_figure("No backtest in the deployed run's metrics.")
    fig = go.Figure()
    for model, grp in per_origin.groupby("model", sort=False):
        grp = grp.sort_values("target_year")
        main = model == deployed
        fig.add_trace(
            go.Scatter(
                x=grp["target_year"],
                y=grp[metric],
                mode="lines+markers",
                name=MODEL_LABELS.get(model, model),
                line=dict(
                    color="#000000" if main else MODEL_COLOURS.get(model, "#999"),
                    width=3.5 if main else 1.6,
                    dash="solid" if main else "dot",
                ),
                hovertemplate=f"{MODEL_LABELS.get(model, model)}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    if metric == "coverage80":
        fig.add_hline(y=0.8, line=dict(color="#333", dash="dash"), annotation_text="nominal 0.80")
    fig.update_xaxes(title="Predicted year", dtick=1)
    fig.update_yaxes(title=METRIC_LABELS.get(metric, metric).split(" (")[0].split(":")[0])  # title has it all
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    return _base_layout(fig, f"Model vs baselines per year: {METRIC_LABELS.get(metric, metric)}", height=380)


def calibration_figure(calibration: pd.DataFrame, per_origin: pd.DataFrame | None = None) -> go.Figure:
    """Nominal vs empirical interval coverage, and the 80% coverage per year for the model."""
    if calibration.empty:
        return empty_figure("No calibration in the deployed run's metrics.")
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.14,
        subplot_titles=["Nominal vs empirical", "80% coverage per year"],
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line=dict(color="#999", dash="dash"),
            name="perfect calibration",
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=calibration["nominal"],
            y=calibration["empirical"],
            mode="lines+markers+text",
            text=[f"{v:.2f}" for v in calibration["empirical"]],
            textposition="top left",
            marker=dict(size=10, color="#21918c"),
            name="empirical coverage",
            hovertemplate="nominal %{x:.2f} → empirical %{y:.3f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    if per_origin is not None and len(per_origin) and "coverage80" in per_origin:
        m = per_origin[per_origin["model"] == "xgboost"].sort_values("target_year")
        fig.add_trace(
            go.Bar(
                x=m["target_year"],
                y=m["coverage80"],
                marker_color="#21918c",
                name="coverage80",
                hovertemplate="%{x}: %{y:.2f}<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=2,
        )
        fig.add_hline(y=0.8, line=dict(color="#333", dash="dash"), row=1, col=2)
    fig.update_xaxes(title_text="Nominal coverage", range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="Empirical coverage", range=[0, 1.05], row=1, col=1)
    fig.update_xaxes(title_text="Predicted year", dtick=1, row=1, col=2)
    fig.update_yaxes(title_text="Share inside", range=[0, 1.05], row=1, col=2)
    fig.update_layout(showlegend=False)
    return _base_layout(fig, None, height=340)


def global_shap_figure(global_shap: pd.DataFrame) -> go.Figure:
    """Mean |SHAP| by feature family over all predictions."""
    if global_shap.empty:
        return empty_figure("No global SHAP in the deployed run's metadata.")
    g = global_shap.sort_values("mean_abs_shap")
    fig = go.Figure(
        go.Bar(
            x=g["mean_abs_shap"],
            y=g["family"],
            orientation="h",
            marker=dict(color=[family_colour(f) for f in g["family"]]),
            text=[f"{v:.3f}" for v in g["mean_abs_shap"]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(
        title="Average size of the contribution (log scale)",
        range=[0, float(g["mean_abs_shap"].max()) * 1.2 or 1],
    )
    return _base_layout(fig, "Global importance by feature family", height=320)
