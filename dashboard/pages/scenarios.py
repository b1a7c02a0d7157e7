"""Scenarios page (``/scenarios``, issue 15): move the models' inputs and see what both models answer.

Sliders for the levers (models.scenarios.LEVERS), the baseline beside the scenario with intervals, a waterfall
of
which lever moved what, up to three scenarios compared, a link that shares the scenario, CSV export and the
printable brief, saving a named scenario (through POST /api/v1/scenarios/saved: viewer login, audited) and the
donors' portfolio view. Every answer says it is the model's learned association, not a causal effect.
URL: /scenarios?region=SYR&year=2023&displaced_abroad=2 (any lever by name).
"""

from __future__ import annotations

import logging
import math
from typing import Any
from urllib.parse import urlencode

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import ALL, ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html
from plotly.subplots import make_subplots

from dashboard import context, figures
from dashboard.i18n import _
from dashboard.pages.common import table
from models import scenarios as sc

log = logging.getLogger(__name__)

REGION, YEAR, RESULTS, CHART, WATERFALL = (
    "scen-region",
    "scen-year",
    "scen-results",
    "scen-chart",
    "scen-waterfall",
)
LEVER, CURRENT, CURRENT_STORE, LAST = "scen-lever", "scen-current", "scen-current-store", "scen-last"
SHARE, KEEP, COMPARE_STORE, COMPARE = "scen-share", "scen-keep", "scen-compare-store", "scen-compare"
CSV, DOWNLOAD, PRINT, PRINT_DUMMY = "scen-csv", "scen-download", "scen-print", "scen-print-dummy"
SAVE_NAME, SAVE, SAVE_MSG, SAVE_BODY = "scen-save-name", "scen-save", "scen-save-msg", "scen-save-body"
P_LEVER, P_N, P_VALUE, P_RUN, P_TABLE = (
    "scen-p-lever",
    "scen-p-n",
    "scen-p-value",
    "scen-p-run",
    "scen-p-table",
)
MAX_COMPARE = 3
BASE_COLOUR, SCEN_COLOUR = "#999999", "#0072B2"  # Okabe-Ito blue against grey

dash.register_page(
    __name__,
    path="/scenarios",
    name="Scenarios",
    order=1.5,
    title="What-if scenarios · crisisrisk",
    description=(
        "What the models answer if displacement doubles, funding stops or a state builds "
        "identification capacity"
    ),
)


def scenario_model():
    """The engine's inputs (tests replace this with a model built on hand-made observations)."""
    return context.queries().scenario_model()


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _slider(lever: sc.Lever, value: float | None) -> html.Div:
    marks = (
        {0: "0", 1: "×1", 2: "×2", 5: "×5", 10: "×10"}
        if lever.kind == "factor"
        else {lever.min: f"{lever.min:g}", lever.max: f"{lever.max:g}"}
    )
    start = value if value is not None else (lever.default if lever.default is not None else lever.min)
    return html.Div(
        className="scen-lever",
        children=[
            html.Label([html.Strong(lever.label), f" ({lever.unit})"], htmlFor=f"lever-{lever.name}"),
            dcc.Slider(
                id={"type": LEVER, "name": lever.name},
                min=lever.min,
                max=lever.max,
                step=lever.step,
                value=min(max(start, lever.min), lever.max),
                marks=marks,
                updatemode="mouseup",
                tooltip={"placement": "bottom", "always_visible": False},
                className=f"lever-{lever.name}",
            ),
            html.Span(id={"type": CURRENT, "name": lever.name}, className="note small"),
        ],
    )


def layout(region: str | None = None, year: str | None = None, **query: str):
    try:
        model = scenario_model()
    except Exception as exc:  # noqa: BLE001 - no deployed run (or its artefacts are missing): say so
        log.warning("scenarios page without a model: %s", exc)
        return html.Div(
            className="card notice",
            children=[
                html.H2("No model for scenarios"),
                html.P(f"What-if scenarios need a deployed model run with its artefacts ({exc})."),
                html.Pre("crisisrisk model train", className="code"),
            ],
        )
    names = context.queries().region_names()
    years = model.years()
    regions = sorted({r for r, y in model.detected.stored.index if y == years[-1]})
    sel_region = (region or "").upper() if (region or "").upper() in regions else regions[0]
    sel_year = int(year) if str(year or "").isdigit() and int(year) in years else years[-1]
    start = {lv.name: _float(query.get(lv.name)) for lv in sc.LEVERS}
    return html.Div(
        className="scenarios-page brief",
        children=[
            html.H1("What if? Scenarios"),
            html.P(sc.HONESTY, className="notice honesty"),
            html.Div(
                className="head-controls no-print",
                children=[
                    html.Label("Country", htmlFor=REGION),
                    dcc.Dropdown(
                        id=REGION,
                        options=[{"label": f"{names.get(r, r)} ({r})", "value": r} for r in regions],
                        value=sel_region,
                        clearable=False,
                        className="region-dropdown",
                    ),
                    html.Label("Year", htmlFor=YEAR),
                    dcc.Dropdown(
                        id=YEAR,
                        options=[{"label": str(y), "value": y} for y in years[::-1]],
                        value=sel_year,
                        clearable=False,
                        className="year-dropdown",
                    ),
                ],
            ),
            dcc.Store(
                id=CURRENT_STORE, data={"region": sel_region, "year": sel_year, "levels": {}, "start": start}
            ),
            dcc.Store(id=LAST),
            dcc.Store(id=COMPARE_STORE, data=[]),
            dcc.Store(id=SAVE_BODY),
            html.Div(
                className="grid-2",
                children=[
                    html.Section(
                        className="card no-print",
                        children=[
                            html.H2("Levers"),
                            html.P(
                                "A factor multiplies the latest year's value (the years before stay); a level"
                                " sets it. The detected-victims model reads the year before the scenario"
                                " year, the watch list the year itself. See docs/SCENARIOS.md.",
                                className="note",
                            ),
                            *[_slider(lv, start[lv.name]) for lv in sc.LEVERS],
                        ],
                    ),
                    html.Section(
                        className="card",
                        children=[
                            html.H2("Baseline and scenario"),
                            html.Div(id=RESULTS),
                            dcc.Graph(id=CHART, config={"displayModeBar": False}),
                            html.H3("Which lever moved what"),
                            dcc.Graph(id=WATERFALL, config={"displayModeBar": False}),
                            html.Div(
                                className="no-print",
                                children=[
                                    html.A("Link to this scenario", id=SHARE, href="/scenarios"),
                                    " · ",
                                    html.Button("Keep for comparison", id=KEEP, className="button"),
                                    " ",
                                    html.Button("Download CSV", id=CSV, className="button"),
                                    " ",
                                    html.Button("Print brief (PDF)", id=PRINT, className="button"),
                                    html.Span(id=PRINT_DUMMY, hidden=True),
                                    dcc.Download(id=DOWNLOAD),
                                ],
                            ),
                            html.Div(
                                className="no-print save-row",
                                children=[
                                    dcc.Input(
                                        id=SAVE_NAME,
                                        type="text",
                                        placeholder="name this scenario",
                                        maxLength=120,
                                    ),
                                    html.Button("Save (viewer login)", id=SAVE, className="button"),
                                    html.Span(id=SAVE_MSG, className="note"),
                                ],
                            ),
                        ],
                    ),
                ],
            ),
            html.Section(
                className="card",
                children=[
                    html.H2(f"Compared scenarios (up to {MAX_COMPARE})"),
                    html.Div(
                        id=COMPARE,
                        children=html.P(
                            "Keep a scenario to compare it with the next ones.", className="note"
                        ),
                    ),
                ],
            ),
            _portfolio_card(sel_year),
        ],
    )


def _portfolio_card(year: int) -> html.Section:
    levels = [lv for lv in sc.LEVERS if lv.kind == "level"]
    return html.Section(
        className="card no-print",
        children=[
            html.H2("Portfolio: one lever in the countries with the largest detection gap"),
            html.P(
                "Detection gap: the watch-list percentile minus the detected-victims risk score (a high"
                ' crisis signal with few victims found). "Raise to the median" moves only the countries below'
                " the year's median; ranks are among all countries after the whole set changes.",
                className="note",
            ),
            html.Div(
                className="head-controls",
                children=[
                    dcc.Dropdown(
                        id=P_LEVER,
                        options=[{"label": lv.label, "value": lv.name} for lv in levels],
                        value="prosecutions",
                        clearable=False,
                    ),
                    dcc.Input(id=P_N, type="number", min=1, max=sc.MAX_REGIONS, step=1, value=10),
                    dcc.Input(id=P_VALUE, type="text", value="median", placeholder="median or a level"),
                    html.Button("Apply", id=P_RUN, className="button"),
                ],
            ),
            html.Div(id=P_TABLE),
        ],
    )


@callback(
    Output({"type": LEVER, "name": ALL}, "value"),
    Output({"type": CURRENT, "name": ALL}, "children"),
    Output(CURRENT_STORE, "data"),
    Input(REGION, "value"),
    Input(YEAR, "value"),
    State(CURRENT_STORE, "data"),
)
def reset_levers(region, year, store):
    """A new country or year: level sliders start at its current values, factors at 1 (or the shared
    URL's)."""
    model = scenario_model()
    start = (store or {}).get("start") or {}
    same = store and store.get("region") == region and store.get("year") == year
    try:
        current = sc.current_levels(model, region, int(year))
    except sc.ScenarioError:
        current = {lv.name: None for lv in sc.LEVERS}
    values, labels = [], []
    for lv in sc.LEVERS:
        now = current.get(lv.name)
        shared = start.get(lv.name) if same else None
        value = shared if shared is not None else (now if now is not None else (lv.default or lv.min))
        values.append(min(max(float(value), lv.min), lv.max))
        labels.append(
            "current: ×1"
            if lv.kind == "factor"
            else f"current: {now:.3g}" if now is not None else "current: no value (moving it sets one)"
        )
    return values, labels, {"region": region, "year": year, "levels": current, "start": {}}


def chosen_levers(values: list, store: dict) -> dict[str, float]:
    """The levers the user moved: factors other than 1, levels other than the region's current value."""
    levels = (store or {}).get("levels") or {}
    out = {}
    for lv, value in zip(sc.LEVERS, values, strict=True):
        if value is None:
            continue
        current = levels.get(lv.name)
        base = 1.0 if lv.kind == "factor" else current
        if base is None and lv.kind == "level":
            continue  # no current value and not moved from the slider's start: nothing to set
        if abs(float(value) - float(base)) > lv.step / 2:
            out[lv.name] = float(value)
    return out


@callback(
    Output(RESULTS, "children"),
    Output(CHART, "figure"),
    Output(WATERFALL, "figure"),
    Output(SHARE, "href"),
    Output(LAST, "data"),
    Input({"type": LEVER, "name": ALL}, "value"),
    State(CURRENT_STORE, "data"),
)
def compute(values, store):
    region, year = store["region"], int(store["year"])
    levers = chosen_levers(values, store)
    href = "/scenarios?" + urlencode({"region": region, "year": year, **levers})
    try:
        result = sc.run_scenario(scenario_model(), sc.Scenario(region, year, levers))
    except sc.ScenarioError as exc:
        return html.P(str(exc), className="notice"), go.Figure(), go.Figure(), href, None
    return (
        result_cards(result),
        estimate_figure(result),
        waterfall_figure(result),
        href,
        {"region": region, "year": year, "levers": levers, "data": _rows(result)},
    )


def _fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def result_cards(result: dict) -> html.Div:
    cards = []
    for item in result["data"]:
        title = (
            "Crisis watch list: rise factor"
            if item["target"] == "rise"
            else "Detected victims in the country (context)"
        )
        lines = [html.H3(title), html.P(item["unit"], className="note small")]
        if item.get("baseline") is None:
            lines.append(html.P("; ".join(item.get("notes") or ["not available"]), className="note"))
            cards.append(html.Div(className=f"scen-card scen-{item['target']}", children=lines))
            continue
        lines += [
            html.Div(
                className="scen-values",
                children=[
                    html.Div(
                        [
                            html.Div("Baseline", className="kpi-label"),
                            html.Div(_fmt(item["baseline"]), className="kpi-value scen-baseline"),
                            html.Div(
                                f"{_fmt(item['baseline_lower'])} to {_fmt(item['baseline_upper'])}",
                                className="kpi-sub",
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            html.Div("Scenario", className="kpi-label"),
                            html.Div(_fmt(item["scenario"]), className="kpi-value scen-value"),
                            html.Div(
                                (
                                    "withheld"
                                    if item.get("withheld")
                                    else f"{_fmt(item['lower'])} to {_fmt(item['upper'])}"
                                ),
                                className="kpi-sub",
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            html.Div("Difference", className="kpi-label"),
                            html.Div(
                                ("" if item.get("difference") is None else f"{item['difference']:+.3f}"),
                                className="kpi-value scen-difference",
                            ),
                        ]
                    ),
                ],
            )
        ]
        if item["target"] == "rise" and item.get("rank_baseline"):
            lines.append(
                html.P(
                    f"Rank {item['rank_baseline']} → {item.get('rank_scenario') or '–'} of "
                    f"{item.get('ranked')} (1 = largest expected rise)",
                    className="note",
                )
            )
        if item.get("beyond_support"):
            support = item.get("support", [])
            beyond = [figures.plain_feature_label(s["feature"]) for s in support if s.get("beyond")]
            lines.append(
                html.P(
                    (
                        "Withheld: "
                        if item.get("withheld")
                        else "Beyond what the model has seen (interval widened): "
                    )
                    + ", ".join(beyond),
                    className="notice beyond",
                )
            )
        directions = item.get("directions") or {}
        for verdict, words in (
            ("uncertain", "Direction not supported by the backtest (uncertain): "),
            ("not measured", "Direction not measured yet for this run (measuring in the background): "),
        ):
            names = [_lever_label(k) for k, v in directions.items() if v.get("verdict") == verdict]
            if names:
                lines.append(html.P(words + ", ".join(names), className="note uncertain"))
        cards.append(html.Div(className=f"scen-card scen-{item['target']}", children=lines))
    return html.Div(
        className="scen-cards", children=[*cards, html.P(result["meta"]["honesty"], className="note")]
    )


def estimate_figure(result: dict) -> go.Figure:
    """Baseline and scenario with their intervals, one panel per target (different units)."""
    items = [i for i in result["data"] if i.get("baseline") is not None]
    fig = make_subplots(
        rows=1,
        cols=max(len(items), 1),
        subplot_titles=[
            "watch-list rise factor" if i["target"] == "rise" else "detected per 100,000" for i in items
        ],
    )
    for col, item in enumerate(items, start=1):
        for name, value, lo, hi, colour in (
            ("baseline", item["baseline"], item["baseline_lower"], item["baseline_upper"], BASE_COLOUR),
            ("scenario", item.get("scenario"), item.get("lower"), item.get("upper"), SCEN_COLOUR),
        ):
            if value is None:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[name],
                    y=[value],
                    mode="markers",
                    marker={"color": colour, "size": 12},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": [(hi or value) - value],
                        "arrayminus": [value - (lo if lo is not None else value)],
                    },
                    showlegend=False,
                    hovertemplate=f"{name}: %{{y:.3f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_layout(height=260, margin={"l": 40, "r": 10, "t": 30, "b": 30}, plot_bgcolor="white")
    return fig


def waterfall_figure(result: dict) -> go.Figure:
    """Per target: the baseline, each lever's contribution, interactions, and the scenario (contribution
    space)."""
    items = [i for i in result["data"] if i.get("contributions")]
    fig = make_subplots(
        rows=1,
        cols=max(len(items), 1),
        subplot_titles=[_contribution_title(i) for i in items],
    )
    for col, item in enumerate(items, start=1):
        parts = {
            k: v for k, v in item["contributions"].items() if abs(v) > 1e-9 or k != "other (interactions)"
        }
        fig.add_trace(
            go.Waterfall(
                x=[_("other (interactions)") if k == OTHER else _lever_label(k) for k in parts],
                y=list(parts.values()),
                measure=["relative"] * len(parts),
                increasing={"marker": {"color": "#D55E00"}},
                decreasing={"marker": {"color": "#009E73"}},
                showlegend=False,
            ),
            row=1,
            col=col,
        )
    fig.update_layout(height=300, margin={"l": 40, "r": 10, "t": 60, "b": 60}, plot_bgcolor="white")
    fig.update_annotations(font_size=12)
    return fig


OTHER = "other (interactions)"  # the engine's key for what no single lever explains


def _contribution_title(item: dict) -> str:
    """A subplot's title in words: what moves, on which scale (the engine names it 'log1p(...)')."""
    space = str(item.get("contribution_space", ""))
    if item["target"] == "rise":
        if space.startswith("log"):
            return _("Watch list: change of the rise,<br>log scale (+0.69 = twice the rise)")
        return _("Watch list: change of the rise<br>(not additive: no calibration line)")
    return _("Detected victims: change,<br>log scale (+0.69 = about twice as many)")


def _rows(result: dict) -> list[dict]:
    rows = []
    for item in result["data"]:
        rows.append(
            {
                "target": item["target"],
                "unit": item["unit"],
                "region": item.get("region"),
                "year": item.get("year"),
                "baseline": item.get("baseline"),
                "scenario": item.get("scenario"),
                "lower": item.get("lower"),
                "upper": item.get("upper"),
                "difference": item.get("difference"),
                "beyond_support": item.get("beyond_support"),
                "withheld": item.get("withheld"),
                **{f"contribution: {k}": v for k, v in (item.get("contributions") or {}).items()},
            }
        )
    return rows


@callback(
    Output(COMPARE_STORE, "data"),
    Output(COMPARE, "children"),
    Input(KEEP, "n_clicks"),
    State(LAST, "data"),
    State(COMPARE_STORE, "data"),
    prevent_initial_call=True,
)
def keep(_n, last, kept):
    kept = [*(kept or []), last][-MAX_COMPARE:] if last else (kept or [])
    rows = [
        {
            "scenario": (
                f"{k['region']} {k['year']}: "
                + (", ".join(f"{n} {v:g}" for n, v in k["levers"].items()) or "no change")
            ),
            **{f"{r['target']} {c}": r[c] for r in k["data"] for c in ("baseline", "scenario", "difference")},
        }
        for k in kept
    ]
    frame = pd.DataFrame(rows).round(3)
    return kept, table(COMPARE + "-table", frame, page_size=MAX_COMPARE)


@callback(Output(DOWNLOAD, "data"), Input(CSV, "n_clicks"), State(LAST, "data"), prevent_initial_call=True)
def download(_n, last):
    if not last:
        return None
    frame = pd.DataFrame(last["data"]).assign(levers=str(last["levers"]), honesty=sc.HONESTY)
    return dcc.send_data_frame(frame.to_csv, f"scenario_{last['region']}_{last['year']}.csv", index=False)


@callback(
    Output(SAVE_BODY, "data"),
    Input(SAVE, "n_clicks"),
    State(SAVE_NAME, "value"),
    State(LAST, "data"),
    prevent_initial_call=True,
)
def save_body(_n, name, last):
    """What the browser sends to POST /api/v1/scenarios/saved (the API checks the login, CSRF and audits)."""
    if not last:
        return None
    return {
        "name": (name or "").strip(),
        "region": last["region"],
        "year": last["year"],
        "levers": last["levers"],
    }


clientside_callback(
    ClientsideFunction(namespace="scenarios", function_name="save"),
    Output(SAVE_MSG, "children"),
    Input(SAVE_BODY, "data"),
    prevent_initial_call=True,
)
clientside_callback(
    ClientsideFunction(namespace="crisisrisk", function_name="printPage"),
    Output(PRINT_DUMMY, "children"),
    Input(PRINT, "n_clicks"),
    prevent_initial_call=True,
)


@callback(
    Output(P_TABLE, "children"),
    Input(P_RUN, "n_clicks"),
    State(P_LEVER, "value"),
    State(P_N, "value"),
    State(P_VALUE, "value"),
    State(YEAR, "value"),
    prevent_initial_call=True,
)
def run_portfolio(_n, lever, n, value, year):
    model = scenario_model()
    try:
        count = int(n or 10)
        regions = sc.detection_gap(model, int(year), max(1, min(count, sc.MAX_REGIONS)))
        level: float | str = "median" if str(value).strip().lower() == "median" else float(value)
        out = sc.portfolio(model, regions, int(year), lever, level)
    except (sc.ScenarioError, ValueError, TypeError) as exc:
        return html.P(str(exc), className="notice")
    frame = pd.DataFrame(out["data"]).round(3)
    return [
        html.P(
            f"{lever} set to {out['meta']['value']:.3g} in {len(out['meta']['moved'])} of "
            f"{len(regions)} countries ({year}). {sc.HONESTY}",
            className="note",
        ),
        table(P_TABLE + "-table", frame, page_size=2 * sc.MAX_REGIONS),
        *[html.P(n, className="note small") for n in out["meta"]["notes"]],
    ]


def _lever_label(name: str) -> str:
    """The lever's label where the engine knows it, so a note never shows an internal name."""
    lever = sc.LEVER_BY_NAME.get(name)
    return lever.label if lever is not None else name
