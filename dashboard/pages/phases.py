"""Phases page (``/phases``): one curve per crisis type, what happened to trafficking outcomes in the years
around
the start of a crisis (issue 14). Reads the stored curves (models.phases_store); never recomputes them."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import dash
import plotly.graph_objects as go
from dash import Input, Output, callback, dcc, html

from dashboard import context
from dashboard.queries import Queries
from models import phases as phase_model

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

OUTCOME = "phases-outcome"
GRID = "phases-grid"
LINE, BAND = "#0072B2", "rgba(0, 114, 178, 0.18)"  # colour-blind-safe blue (Okabe-Ito)


dash.register_page(
    __name__,
    path="/phases",
    name="Phases",
    order=2,
    title="Crisis phases · crisisrisk",
    description="Event-study curves of trafficking outcomes around crisis onsets",
)


def curve_figure(points, event_label: str, outcome_label: str) -> go.Figure:
    """Effect per k with its 90% interval as a band; the hover gives n; y on the log scale with x-factors."""
    pts = points.sort_values("k")
    ks = pts["k"].tolist()
    eff = [None if e is None or (isinstance(e, float) and math.isnan(e)) else e for e in pts["effect"]]
    lo = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in pts["lower"]]
    hi = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in pts["upper"]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ks, y=hi, mode="lines", line={"width": 0}, hoverinfo="skip", showlegend=False))
    fig.add_trace(
        go.Scatter(
            x=ks,
            y=lo,
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=BAND,
            hoverinfo="skip",
            name="90% interval",
        )
    )
    custom = [
        [int(n), (f"x{math.exp(e):.2f}" if e is not None else "–")]
        for n, e in zip(pts["n"], eff, strict=True)
    ]
    fig.add_trace(
        go.Scatter(
            x=ks,
            y=eff,
            mode="lines+markers",
            line={"color": LINE, "width": 2},
            name="effect",
            customdata=custom,
            hovertemplate=(
                "year %{x} after the event<br>change %{y:+.2f} (%{customdata[1]})"
                "<br>n = %{customdata[0]} events<extra></extra>"
            ),
        )
    )
    fig.add_hline(y=0, line={"color": "#555", "width": 1})
    fig.add_vline(x=-0.5, line={"color": "#999", "width": 1, "dash": "dot"})
    fig.update_layout(
        margin={"l": 50, "r": 10, "t": 10, "b": 40},
        height=260,
        showlegend=False,
        xaxis={"title": "years relative to the event (0 = event year)", "dtick": 1},
        yaxis={"title": "change (log scale)", "zeroline": False},
        plot_bgcolor="white",
        font={"size": 12},
    )
    fig.update_xaxes(gridcolor="#eee")
    fig.update_yaxes(gridcolor="#eee")
    return fig


def _n_row(points) -> html.P:
    pts = points.sort_values("k")
    return html.P(
        "n per year: " + ", ".join(f"{int(k):+d}: {int(n)}" for k, n in zip(pts["k"], pts["n"], strict=True)),
        className="note small",
    )


def grid(q: Queries, outcome: str) -> list:
    curves, result = q.phase_curves(outcome)
    if result is None or curves.empty:
        return [
            html.Div(
                className="card notice",
                children=[
                    html.H2("No phase curves yet"),
                    html.P("They are computed after every load and promote, or with:"),
                    html.Pre("crisisrisk phases compute", className="code"),
                ],
            )
        ]
    meta = result["meta_json"] or {}
    summaries = meta.get("summaries", {})
    counts = meta.get("event_counts", {})
    cards = []
    for etype in phase_model.EVENT_TYPES:
        pts = curves[curves["event_type"] == etype]
        label = phase_model.EVENT_LABELS[etype]
        s = summaries.get(f"{etype}/{outcome}", {})
        verdict = s.get("verdict", "not measured")
        cls = {"rise": "verdict-rise", "fall": "verdict-fall"}.get(verdict, "verdict-none")
        n_events = counts.get(etype, s.get("n_events", 0))
        body = [
            html.H3(f"After {phase_model.with_article(label)}"),
            html.P(
                f"{n_events:,} onsets found by the rule over all years of its data (the curve uses those "
                f"with outcome data around them: n below); {s.get('sentence', 'not measured')}.",
                className=f"verdict {cls}",
            ),
        ]
        if "pretrend" in s:
            body.append(html.P(s["pretrend"]["sentence"], className="note"))
        if pts.empty:
            body.append(html.P("No data for this outcome.", className="note"))
        else:
            body += [
                dcc.Graph(figure=curve_figure(pts, label, outcome), config={"displayModeBar": False}),
                _n_row(pts),
            ]
        cards.append(html.Div(className="card", children=body, id=f"phases-card-{etype}"))
    return [html.Div(className="grid-2", children=cards)]


def rule_text(event_type: str, rule: dict) -> str:
    """The rule in plain words, with the thresholds of models/phases.toml."""
    if event_type == "conflict_onset":
        return f"a year with an active UCDP/PRIO armed conflict after {rule['quiet_years']} years without one"
    if event_type in ("outflow_surge", "idp_surge"):
        what = (
            "refugees and asylum-seekers originating from the country (UNHCR)"
            if event_type == "outflow_surge"
            else "conflict IDPs (IDMC, else UNHCR)"
        )
        return (
            f"{what} at least x{rule['ratio']:g} the previous year, and up by at least"
            f" {rule['min_increase']:,}"
        )
    return (
        f"EM-DAT disaster deaths of at least {rule['min_deaths']:,}, or people affected of at least "
        f"{rule['min_affected']:,} and at least {rule['min_affected_share']:.0%} of the population"
    )


def layout(**_query):
    cfg = phase_model.load_config()
    return html.Div(
        className="phases-page",
        children=[
            html.H1("Crisis phases: when does detected trafficking rise after a crisis starts?"),
            html.P(
                [
                    (
                        "Each curve is an event study: for every country where the rule found an event, the"
                        " change of the outcome from its mean over the three years before the event, minus"
                        " the same change in country-years without such an event (the same calendar years, so"
                        " world-wide shifts in reporting cancel out). The band is a 90% interval from"
                        " resampling countries; n is the number of events behind each point. On the log"
                        " scale, +0.69 means twice as many. A verdict of a rise or fall needs a 90% band over"
                        " all years after the event that excludes 0; otherwise it says "
                    ),
                    html.Strong("no detectable change"),
                    ". Detected victims follow detection effort: read these as changes in ",
                    html.Em("detected"),
                    " trafficking.",
                ],
                className="note",
            ),
            html.Div(
                className="control inline",
                children=[
                    html.Label("Outcome", htmlFor=OUTCOME),
                    dcc.RadioItems(
                        id=OUTCOME,
                        value="nationals_abroad",
                        inline=True,
                        options=[
                            {"label": " nationals detected abroad", "value": "nationals_abroad"},
                            {"label": " detected in the country", "value": "detected_in_country"},
                            {"label": " watch-list score", "value": "watchlist_score"},
                        ],
                    ),
                ],
            ),
            html.Div(id=GRID, children=grid(context.queries(), "nationals_abroad")),
            html.Div(
                className="card",
                children=[
                    html.H3("Event rules (models/phases.toml)"),
                    html.Ul(
                        [
                            html.Li([html.Strong(phase_model.EVENT_LABELS[t] + ": "), rule_text(t, cfg[t])])
                            for t in phase_model.EVENT_TYPES
                        ]
                    ),
                    html.P(
                        f"An event year starts a new spell after {cfg['onset_gap_years']} years without one;"
                        " placebo country-years have no event of the type from 9 years before to 6 years"
                        " after.",
                        className="note",
                    ),
                    html.P(
                        [
                            "Download: ",
                            html.A("GET /api/v1/phases", href="/api/v1/phases"),
                            " or ",
                            html.Code("crisisrisk export phases --out phases.csv"),
                            ".",
                        ],
                        className="note",
                    ),
                ],
            ),
        ],
    )


@callback(Output(GRID, "children"), Input(OUTCOME, "value"), prevent_initial_call=True)
def switch_outcome(outcome):
    if outcome not in phase_model.OUTCOMES:
        outcome = "nationals_abroad"
    return grid(context.queries(), outcome)


def region_block(engine: Engine, region_id: str, year: int) -> list:
    """The phase card of a region page for a caller that holds an engine, not a serving app (the phases
    tests)."""
    return phase_card(Queries(engine), region_id, year)


def phase_card(q: Queries, region_id: str, year: int) -> list:
    """The region page's "crisis phase and alerts" card: the country's phase after each recent event type,
    with the
    historical verdict, and its newest confirmed alerts (issue 14)."""
    try:
        sentences = q.country_phase(region_id, int(year))
        confirmed = q.alerts("confirmed", region_id=region_id, limit=5)
    except Exception:  # noqa: BLE001 - a warehouse without the issue-14 tables: the card says so
        log.exception("region %s: phases and alerts unreadable", region_id)
        return [
            html.Section(
                className="card",
                children=[
                    html.H2("Crisis phase and alerts"),
                    html.P("Not available for this warehouse.", className="note"),
                ],
            )
        ]
    phase = (
        html.Ul([html.Li(s) for s in sentences])
        if sentences
        else html.P(
            "No onset of a conflict, refugee outflow, IDP surge or large disaster in the 6 years up to "
            f"{year} (rules of the Phases page).",
            className="note",
        )
    )
    alert_list = (
        html.Ul(
            [html.Li(f"{a['period']}: {a['message']} (confirmed by {a['reviewed_by']})") for a in confirmed]
        )
        if confirmed
        else html.P("No confirmed alerts.", className="note")
    )
    return [
        html.Section(
            className="card phase-block",
            id="region-phase-block",
            children=[
                html.H2("Crisis phase and alerts"),
                html.P(
                    [
                        (
                            "Where this country stands after its latest crisis events, and what history says"
                            " about the years that follow ("
                        ),
                        dcc.Link("Phases", href="/phases"),
                        ").",
                    ],
                    className="note",
                ),
                phase,
                html.H3("Confirmed alerts"),
                alert_list,
                html.P(
                    [
                        dcc.Link("All alerts", href="/alerts"),
                        " · ",
                        html.A("Atom feed", href=f"/api/v1/alerts.atom?region={region_id}"),
                    ],
                    className="note no-print",
                ),
            ],
        )
    ]
