"""Alerts page (``/alerts``, issue 14): confirmed alerts for everyone; the review queue, rule switches and
e-mail subscriptions for analysts; the rules with their backtest beside them.

State-changing callbacks write outputs whose ids start with ``admin-``, so the access guard (dashboard.auth)
asks
for an analyst session and the CSRF header before they run.
"""

from __future__ import annotations

import logging

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard import alerts_delivery as delivery
from dashboard import auth, context
from dashboard.pages.common import table
from models import alerts

log = logging.getLogger(__name__)

CONFIRMED = "alerts-confirmed"
RULES = "alerts-rules"
QUEUE = "admin-alerts-queue"
NOTE = "alerts-note"
CONFIRM = "alerts-confirm"
DISMISS = "alerts-dismiss"
REVIEW_MSG = "admin-alerts-review-msg"
RULE_PICK = "alerts-rule-pick"
RULE_TOGGLE = "alerts-rule-toggle"
RULE_MSG = "admin-alerts-rule-msg"
SUB_EMAIL = "alerts-sub-email"
SUB_REGIONS = "alerts-sub-regions"
SUB_ADD = "alerts-sub-add"
SUB_MSG = "admin-alerts-sub-msg"


dash.register_page(
    __name__,
    path="/alerts",
    name="Alerts",
    order=3,
    title="Alerts · crisisrisk",
    description="Confirmed alerts, review queue, rules and backtest",
)

ALERT_COLUMNS = [
    ("alert_id", "Id"),
    ("region_name", "Region"),
    ("region_id", "ISO3"),
    ("period", "Data year"),
    ("rule", "Rule"),
    ("message", "What fired"),
]


def _alerts_frame(rows: list[dict], extra: list[tuple[str, str]] = ()) -> tuple[list[dict], list[dict]]:
    cols = list(ALERT_COLUMNS) + list(extra)
    frame = (
        pd.DataFrame(rows, columns=[c for c, _ in cols])
        if rows
        else pd.DataFrame(columns=[c for c, _ in cols])
    )
    return frame.to_dict("records"), [{"name": label, "id": c} for c, label in cols]


def rules_frame(engine) -> pd.DataFrame:
    backtest, _ = alerts.latest_backtest(engine)
    by = {b["rule"]: b for b in backtest}
    rows = []
    for r in alerts.list_rules(engine):
        b = by.get(r["name"]) or {}
        lo, hi = b.get("hit_rate_interval") or [None, None]
        rows.append(
            {
                "name": r["name"],
                "enabled": "yes" if r["enabled"] else "no",
                "condition": r["condition"],
                "thresholds": (
                    ", ".join(f"{k} {v}" for k, v in (r["params_json"] or {}).items())
                    + (f", minimum {r['minimum']:,.6g}" if r["minimum"] is not None else "")
                ),
                "scope": r["region_scope"],
                "cooldown": r["cooldown_years"],
                "fired": b.get("fired"),
                "n": b.get("n_with_outcome"),
                "hit_rate": None if b.get("hit_rate") is None else f"{b['hit_rate']:.0%}",
                "interval": None if lo is None else f"{lo:.0%}-{hi:.0%}",
                "base_rate": None if b.get("base_rate") is None else f"{b['base_rate']:.0%}",
                "description": r["description"],
            }
        )
    return pd.DataFrame(rows)


RULE_COLUMNS = [
    ("name", "Rule"),
    ("enabled", "On"),
    ("condition", "Condition"),
    ("thresholds", "Thresholds"),
    ("scope", "Regions"),
    ("cooldown", "Cool-down (years)"),
    ("fired", "Fired in history"),
    ("n", "Firings with an outcome (n)"),
    ("hit_rate", "Followed by a rise"),
    ("interval", "90% interval"),
    ("base_rate", "Base rate"),
    ("description", "What it means"),
]


def layout(**query):
    engine = context.current().engine
    alerts.seed_starter_rules(engine)
    analyst = auth.allowed("analyst")
    confirmed, ccols = _alerts_frame(
        alerts.list_alerts(engine, status="confirmed", limit=500),
        [("reviewed_by", "Confirmed by"), ("review_note", "Note")],
    )
    rules = rules_frame(engine)
    evaluation = alerts.latest_evaluation(engine)
    children = [
        html.H1("Alerts"),
        html.P(
            [
                (
                    "Rules watch the data after every load and promote. What they raise waits for an analyst:"
                    " only confirmed alerts are published here, in the "
                ),
                html.A("Atom feed", href="/api/v1/alerts.atom"),
                " (per region: ",
                html.Code("/api/v1/alerts.atom?region=ISO3"),
                "; per rule: ",
                html.Code("?rule=NAME"),
                "), at ",
                html.A("GET /api/v1/alerts", href="/api/v1/alerts"),
                ", by e-mail to subscribers and to webhooks. An alert is about risk of ",
                html.Em("detected"),
                " trafficking and its drivers; check it before acting.",
            ],
            className="note",
        ),
        html.P(
            (
                f"Last evaluation: {str(evaluation['finished_at'] or evaluation['started_at'])[:19]} UTC "
                f"({evaluation['trigger']}, {evaluation['status']}): {evaluation['n_new'] or 0} new alert(s)."
                if evaluation
                else "No evaluation yet."
            ),
            className="note",
        ),
    ]
    if analyst:
        queue, qcols = _alerts_frame(
            alerts.list_alerts(engine, status="pending", limit=500), [("created_at", "Raised (UTC)")]
        )
        for row in queue:
            row["created_at"] = str(row["created_at"])[:16]
        children.append(
            html.Div(
                className="card",
                id="alerts-queue-card",
                children=[
                    html.H2(f"Review queue ({len(queue)} pending)"),
                    html.P(
                        "Select an alert, say why, then confirm (publish and deliver) or dismiss it. The"
                        " decisions are kept as labels to measure each rule's precision.",
                        className="note",
                    ),
                    table(
                        QUEUE,
                        pd.DataFrame(queue),
                        columns=qcols,
                        page_size=12,
                        row_selectable="single",
                        selected_rows=[],
                        sort_action="native",
                        filter_action="native",
                    ),
                    dcc.Textarea(
                        id=NOTE, placeholder="Note (required): what you checked", style={"width": "100%"}
                    ),
                    html.Div(
                        className="button-row",
                        children=[
                            html.Button("Confirm", id=CONFIRM, className="button primary"),
                            html.Button("Dismiss", id=DISMISS, className="button"),
                        ],
                    ),
                    html.Div(id=REVIEW_MSG, className="note"),
                ],
            )
        )
    children.append(
        html.Div(
            className="card",
            children=[
                html.H2(f"Confirmed alerts ({len(confirmed)})"),
                (
                    table(
                        CONFIRMED, pd.DataFrame(confirmed), columns=ccols, page_size=15, sort_action="native"
                    )
                    if confirmed
                    else html.P("No confirmed alerts yet.", className="note")
                ),
            ],
        )
    )
    rule_cols = [{"name": label, "id": c} for c, label in RULE_COLUMNS]
    rules_card = [
        html.H2("Rules and their backtest"),
        html.P(
            "Backtest over the history: how often each rule fired (after its cool-down), and of the firings "
            "whose population has a measured outcome, the share followed by a rise of its nationals detected "
            "as trafficking victims abroad over the next three years, with a 90% interval and the base rate "
            "of such a rise among all populations and years. A hit rate near the base rate means the rule "
            "adds little.",
            className="note",
        ),
        table(RULES, rules, columns=rule_cols, page_size=20),
    ]
    if analyst:
        rules_card += [
            html.Div(
                className="control inline",
                children=[
                    html.Label("Switch a rule on or off", htmlFor=RULE_PICK),
                    dcc.Dropdown(
                        id=RULE_PICK,
                        options=[{"label": n, "value": n} for n in rules.get("name", [])],
                        clearable=False,
                        style={"minWidth": "260px"},
                    ),
                    html.Button("Switch", id=RULE_TOGGLE, className="button"),
                ],
            ),
            html.Div(id=RULE_MSG, className="note"),
            html.P(
                [
                    "Add or edit rules (thresholds, minimum, regions, cool-down): ",
                    html.Code("POST /api/v1/alert-rules"),
                    "; every change is audited.",
                ],
                className="note",
            ),
        ]
    children.append(html.Div(className="card", children=rules_card))
    if analyst:
        mine = delivery.list_subscriptions(engine, auth.actor())
        children.append(
            html.Div(
                className="card",
                children=[
                    html.H2("Your e-mail subscriptions"),
                    (
                        html.Ul(
                            [
                                html.Li(f"{s['email']}: regions {s['regions']}, rules {s['rules']}")
                                for s in mine
                                if s["active"]
                            ]
                        )
                        if any(s["active"] for s in mine)
                        else html.P("None yet.", className="note")
                    ),
                    html.Div(
                        className="control inline",
                        children=[
                            dcc.Input(id=SUB_EMAIL, type="email", placeholder="name@example.org"),
                            dcc.Input(id=SUB_REGIONS, type="text", placeholder="regions: * or SYR,LBN"),
                            html.Button("Subscribe", id=SUB_ADD, className="button"),
                        ],
                    ),
                    html.Div(id=SUB_MSG, className="note"),
                ],
            )
        )
    return html.Div(className="alerts-page", children=children)


@callback(
    Output(REVIEW_MSG, "children"),
    Output(QUEUE, "data"),
    Output(QUEUE, "selected_rows"),
    Output(NOTE, "value"),
    Input(CONFIRM, "n_clicks"),
    Input(DISMISS, "n_clicks"),
    State(QUEUE, "data"),
    State(QUEUE, "selected_rows"),
    State(NOTE, "value"),
    prevent_initial_call=True,
)
def review(_confirm, _dismiss, data, selected, note):
    engine = context.current().engine
    decision = "confirmed" if dash.ctx.triggered_id == CONFIRM else "dismissed"
    if not selected or not data or selected[0] >= len(data):  # selected_rows index the unsorted data
        return "Select an alert first.", no_update, no_update, no_update
    alert_id = int(data[selected[0]]["alert_id"])
    try:
        row = alerts.review(engine, alert_id, decision, note or "", auth.actor(), auth.client_address())
    except alerts.ReviewError as exc:
        return str(exc), no_update, no_update, no_update
    if decision == "confirmed":
        delivery.deliver_soon(engine)
    context.queries().clear()
    left = [r for r in data if int(r["alert_id"]) != alert_id]
    return (
        f"Alert {alert_id} ({row['region_name']} {row['period']}, {row['rule']}) is {decision}.",
        left,
        [],
        "",
    )  # the note belongs to this decision only


@callback(
    Output(RULE_MSG, "children"),
    Input(RULE_TOGGLE, "n_clicks"),
    State(RULE_PICK, "value"),
    prevent_initial_call=True,
)
def toggle_rule(_n, name):
    engine = context.current().engine
    rule = next((r for r in alerts.list_rules(engine) if r["name"] == name), None)
    if rule is None:
        return "Pick a rule first."
    row = alerts.save_rule(
        engine, auth.actor(), {"enabled": not rule["enabled"]}, rule["rule_id"], auth.client_address()
    )
    return f"Rule {name} is now {'on' if row['enabled'] else 'off'} (reload to see the table)."


@callback(
    Output(SUB_MSG, "children"),
    Input(SUB_ADD, "n_clicks"),
    State(SUB_EMAIL, "value"),
    State(SUB_REGIONS, "value"),
    prevent_initial_call=True,
)
def subscribe(_n, email, regions):
    engine = context.current().engine
    try:
        s = delivery.add_subscription(
            engine, auth.actor(), email or "", regions or "*", "*", auth.client_address()
        )
    except delivery.DeliveryError as exc:
        return str(exc)
    return f"Subscribed {s['email']} to confirmed alerts of regions {s['regions']}."
