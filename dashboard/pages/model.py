"""Model page (``/model``): backtest, baselines, calibration, global SHAP, model card, runs."""

from __future__ import annotations

import dash
import pandas as pd
from dash import Input, Output, callback, dcc, html

from dashboard import context, figures, ids, watch
from dashboard.i18n import _
from dashboard.pages.common import kpi, table
from dashboard.pages.glossary import term_link
from models.card import verdict_rows

BACKTEST_COLUMNS = [
    ("model", "Model"),
    ("rmsle", "RMSLE (error on a log scale)"),
    ("mae", "MAE (victims detected per 100,000 people)"),
    ("spearman", "Spearman ρ"),
    ("top20_recall", "Top-20 recall"),
    ("coverage80", "80% coverage"),
    ("width80", "80% interval width (log scale)"),
    ("n", "Country-years"),
]
METRIC_OPTIONS = [
    {"label": figures.METRIC_LABELS[m], "value": m}
    for m in ("rmsle", "spearman", "top20_recall", "coverage80", "mae")
]


def _watchlist_cards(skill: dict | None) -> list:
    """The watch list's measured skill, its protocol table, the external checks and the pair model, per
    horizon."""
    if not skill:
        return [
            html.Div(
                className="card notice",
                children=[html.H3("Crisis watch list"), html.P("This run stored no watch-list validation.")],
            )
        ]
    strength, sentence = watch.skill_text(skill)
    pair = skill.get("pair_model") or {}
    return [
        html.H2("Crisis watch list (the headline)", className="section-title"),
        html.Div(
            className="card",
            children=[
                html.H3(f"Measured skill: {strength}"),
                html.P(sentence),
                html.P(
                    "Pre-registered protocol (docs/WATCHLIST.md): for each score year, rank populations by"
                    " the candidate and compare with the realised change of their nationals detected abroad"
                    " over the next three years. Mean Spearman across score years; top-15 lift = how much"
                    " more the top 15 rose than the average population (log scale, 95% bootstrap interval).",
                    className="note",
                ),
                table(
                    ids.MODEL_BACKTEST_TABLE + "-watch-protocol",
                    watch.protocol_table(skill),
                    page_size=10,
                    sort_action="native",
                ),
            ],
        ),
        html.Div(
            className="card",
            children=[
                html.H3("External validity: rank correlation with independent risk measures"),
                html.P(
                    "Checks, not training targets: none of these measures is a watch-list input. A ranking of"
                    " detected victims runs against them; the watch list runs with them.",
                    className="note",
                ),
                table(
                    ids.MODEL_BACKTEST_TABLE + "-external", watch.external_validity_table(skill), page_size=10
                ),
            ],
        ),
        html.Div(
            className="card",
            children=[
                html.H3("Where a population's victims are found: the pair model"),
                html.P(
                    f"{pair.get('target', '')}. Gate: {pair.get('gate', 'n/a')}: "
                    f"{'passed' if pair.get('gate_passed') else 'NOT passed'}.",
                    className="note",
                ),
                table(ids.MODEL_BACKTEST_TABLE + "-pairs", watch.pair_model_table(skill), page_size=6),
            ],
        ),
    ]


dash.register_page(
    __name__,
    path="/model",
    name="Model",
    order=4,
    title="Model · crisisrisk",
    description="Backtests, baselines, calibration and model card",
)


def per_origin() -> pd.DataFrame:
    run = context.queries().deployed_run() or {}
    return pd.DataFrame((run.get("metrics") or {}).get("backtest_per_origin", []) or [])


STEP_LABELS = {
    "panels": "Feature panels (one per horizon)",
    "backtest": "Backtest (all horizons)",
    "conformal": "Ensembles and conformal intervals",
    "summaries_gate": "Summaries, selection and gate",
    "final_models": "Final models",
    "deployment_panel": "Deployment panel",
    "predictions_shap": "Predictions and SHAP",
    "admin1": "Admin-1 downscaling",
    "model_card": "Model card",
    "save_artefacts": "Registry artefacts",
    "write": "Writing predictions and explanations",
    "watchlist": "Watch list and pair model",
}


def timing_rows(metrics: dict) -> pd.DataFrame:
    """Seconds per training step of the run (issue 16), the backtest per horizon too; empty for older runs."""
    steps = metrics.get("timing_s") or {}
    per_h = metrics.get("timing_backtest_s") or {}
    rows = []
    for key, label in STEP_LABELS.items():
        if key in steps:
            rows.append({"step": label, "seconds": round(float(steps[key]), 1)})
        if key == "backtest":
            rows += [
                {"step": _("Backtest, horizon {h}", h=k[1:]), "seconds": round(float(v), 1)}
                for k, v in per_h.items()
                if k.startswith("h") and k[1:].isdigit()
            ]
    if "total" in steps:
        rows.append({"step": "Total", "seconds": round(float(steps["total"]), 1)})
    return pd.DataFrame(rows, columns=["step", "seconds"])


def _timing_card(metrics: dict) -> html.Div:
    workers = (metrics.get("timing_backtest_s") or {}).get("workers")
    return html.Div(
        className="card",
        children=[
            html.H3("Training time per step"),
            html.P(
                _("Wall-clock seconds of this run; the backtest's origins ran in {n} thread(s).", n=workers)
                if workers
                else "Wall-clock seconds of this run.",
                className="note",
            ),
            table(ids.MODEL_BACKTEST_TABLE + "-timings", timing_rows(metrics), page_size=20),
        ],
    )


RUN_COLUMNS = {
    "run_id": "Run",
    "status": "Status",
    "created_at": "Trained (UTC)",
    "deployed_at": "Deployed (UTC)",
    "level": "Level",
    "variant": "Variant",
    "training_window": "Training years",
    "rmsle": "RMSLE (log scale, lower is better)",
    "spearman": "Spearman ρ (rank agreement)",
    "coverage80": "80% interval coverage",
    "gate_passed": "Gate passed",
    "artefact_sha256": "Artefact (SHA-256, first 12)",
}
RUN_DECIMALS = {"rmsle": 3, "spearman": 3, "coverage80": 2}


def _rounded_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table for reading: metrics to 2-3 decimals (were 16-digit floats), yes/no for the gate."""
    out = runs.copy()
    for column, decimals in RUN_DECIMALS.items():
        if column in out:
            out[column] = pd.to_numeric(out[column], errors="coerce").round(decimals)
    if "gate_passed" in out:
        out["gate_passed"] = out["gate_passed"].map({True: "yes", False: "no"}).fillna("not measured")
    return out


def _runs_columns(runs: pd.DataFrame) -> list[dict]:
    return [{"name": RUN_COLUMNS.get(c, c), "id": c} for c in runs.columns]


def layout(**_query):
    q = context.queries()
    run = q.deployed_run()
    runs = q.runs()
    runs_table = table(
        ids.MODEL_RUNS,
        _rounded_runs(runs),
        columns=_runs_columns(runs),
        page_size=10,
        sort_action="native",
        style_data_conditional=[
            {
                "if": {"filter_query": '{status} = "deployed"'},
                "fontWeight": "600",
                "backgroundColor": "#e8f4ef",
            }
        ],
    )
    if run is None:
        return html.Div(
            className="model-page",
            children=[
                html.H1("Model"),
                html.Div(
                    className="card notice",
                    children=[
                        html.H2("No model deployed"),
                        html.P("Train one with: crisisrisk model train (or crisisrisk up)."),
                    ],
                ),
                html.Div(className="card", children=[html.H3("Runs"), runs_table]),
            ],
        )
    meta = run.get("metadata") or {}
    metrics = run.get("metrics") or {}
    pooled = pd.DataFrame(metrics.get("backtest_pooled", []) or [])
    if len(pooled):
        pooled = pooled.assign(model=pooled["model"].map(lambda m: figures.MODEL_LABELS.get(m, m)))
        pooled = pooled.round(
            {c: 3 for c in ("rmsle", "mae", "spearman", "top20_recall", "coverage80", "width80")}
        )
    gate = metrics.get("gate", {}) or {}
    op = metrics.get("operating_horizon") or {}
    table_h = op.get("table_horizon", 1)
    last3 = pd.DataFrame(metrics.get("backtest_last3", []) or [])
    horizon_table = last3[last3["horizon"] == table_h].sort_values("rmsle") if len(last3) else last3
    if len(horizon_table):
        horizon_table = horizon_table.assign(
            model=horizon_table["model"].map(lambda m: figures.MODEL_LABELS.get(m, m))
        ).round({c: 3 for c in ("rmsle", "mae", "spearman", "top20_recall", "coverage80", "width80")})
    verdicts = pd.DataFrame(
        verdict_rows({"metrics": metrics, "variant": meta.get("variant")})
        if "backtest_last3" in metrics
        else []
    )
    if len(verdicts):
        verdicts = (
            verdicts.assign(
                result=verdicts["beats"].map({True: "beats the baseline", False: "does NOT beat it"})
            )
            .drop(columns="beats")
            .round(3)
        )
    coverage_h = pd.DataFrame(metrics.get("coverage_by_horizon", []) or []).round(3)
    window = meta.get("training_window") or ["?", "?"]
    pyears = meta.get("prediction_years") or ["?", "?"]
    calibration = pd.DataFrame(metrics.get("calibration", []) or [])
    gshap = pd.DataFrame(meta.get("global_shap", []) or [])
    card_md = meta.get("model_card_md") or "_The deployed run has no model card._"
    return html.Div(
        className="model-page",
        children=[
            html.H1("Model quality"),
            html.P(
                [
                    (
                        "The headline is the crisis watch list; its measured skill, protocol and external"
                        " checks come first. Then the detected-victims model: "
                    ),
                    "detected trafficking victims per 100,000 people (UNODC GLOTIP), modelled on a log scale",
                    ". It is the risk of ",
                    html.Em("detected"),
                    " trafficking, not of trafficking itself.",
                ],
                className="note",
            ),
            html.Div(
                className="kpis",
                children=[
                    kpi("Deployed run", run["run_id"], f"deployed {str(run.get('deployed_at') or '')[:19]}"),
                    kpi("Training window", f"{window[0]}–{window[1]}", f"predicts {pyears[0]}–{pyears[1]}"),
                    kpi(
                        "Variant",
                        str(meta.get("variant", "n/a")).replace("_", " "),
                        f"{len(meta.get('features', []))} features",
                    ),
                    kpi(
                        "Gate (every horizon, latest 3 origins)",
                        "passed" if gate.get("passed") else "not passed",
                        "; ".join(
                            f"h{r['horizon']} RMSLE {abs(r['improvement_pct']):.1f}% "
                            f"{'better' if r['improvement_pct'] >= 0 else 'worse'}"
                            for r in gate.get("horizons", [])
                            if "improvement_pct" in r
                        ),
                        "band-low" if gate.get("passed") else "band-very-high",
                    ),
                    kpi(
                        "Operating horizon",
                        f"{op.get('horizon', '?')} years",
                        f"{op.get('latest_year', '?')} vs newest label"
                        f" {metrics.get('newest_label_year', '?')}; table for horizon {table_h}",
                    ),
                ],
            ),
            *_watchlist_cards(q.watchlist_skill()),
            html.H2("Where victims are found: the detected-victims model", className="section-title"),
            html.Div(
                className="card",
                children=[
                    html.H3(
                        f"Backtest at the operating horizon ({table_h} years past the newest label), latest"
                        " three origins"
                    ),
                    html.P(
                        "Horizon-matched rolling origin: for origin Y, trained on labels up to Y with every"
                        " input from the label's source dated Y or earlier, predicting Y + h. "
                        + (
                            "The latest predicted year is beyond the validated horizons; this is the furthest"
                            " validated one."
                            if op.get("horizon", 0) > table_h
                            else ""
                        ),
                        className="note",
                    ),
                    table(
                        ids.MODEL_BACKTEST_TABLE + "-horizon",
                        horizon_table,
                        page_size=10,
                        columns=[
                            {"name": n, "id": c} for c, n in BACKTEST_COLUMNS if c in horizon_table.columns
                        ],
                    ),
                    html.H3("The deployed model against the best baseline, per horizon and metric"),
                    table(ids.MODEL_BACKTEST_TABLE + "-verdicts", verdicts, page_size=12),
                    html.H3("Split-conformal interval coverage per horizon"),
                    table(ids.MODEL_BACKTEST_TABLE + "-coverage", coverage_h, page_size=6),
                ],
            ),
            html.Div(
                className="card",
                children=[
                    html.H3("Backtest one year ahead, pooled over all origins"),
                    html.P(
                        "Rolling-origin by year: each year is predicted by a model trained only on earlier"
                        " years. RMSLE: the typical error on a log scale; MAE: the average miss in victims"
                        " detected per 100,000 people; 80% coverage: share of reported values inside the"
                        " 80% interval (target 0.80).",
                        className="note",
                    ),
                    html.P(
                        [
                            term_link("rmsle", "RMSLE"),
                            ", ",
                            term_link("mae", "MAE"),
                            ", ",
                            term_link("spearman", "Spearman"),
                            ", ",
                            term_link("backtest", "backtest"),
                            ": the glossary explains each.",
                        ],
                        className="note",
                    ),
                    table(
                        ids.MODEL_BACKTEST_TABLE,
                        pooled,
                        page_size=10,
                        sort_action="native",
                        columns=[{"name": n, "id": c} for c, n in BACKTEST_COLUMNS if c in pooled.columns],
                    ),
                ],
            ),
            html.Div(
                className="card",
                children=[
                    html.Div(
                        className="control inline",
                        children=[
                            html.Label("Metric", htmlFor=ids.MODEL_METRIC),
                            dcc.Dropdown(
                                id=ids.MODEL_METRIC, options=METRIC_OPTIONS, value="rmsle", clearable=False
                            ),
                        ],
                    ),
                    dcc.Graph(id=ids.MODEL_BASELINES, config={"displaylogo": False}),
                ],
            ),
            html.Div(
                className="grid-2",
                children=[
                    html.Div(
                        className="card",
                        children=[
                            html.H3("Calibration of the 80% intervals (held-back years)"),
                            dcc.Graph(
                                id=ids.MODEL_CALIBRATION,
                                config={"displaylogo": False},
                                figure=figures.calibration_figure(calibration, per_origin()),
                            ),
                        ],
                    ),
                    html.Div(
                        className="card",
                        children=[
                            dcc.Graph(
                                id=ids.MODEL_SHAP,
                                config={"displaylogo": False},
                                figure=figures.global_shap_figure(gshap),
                            )
                        ],
                    ),
                ],
            ),
            html.Div(
                className="card model-card",
                children=[
                    html.H3("Model card"),
                    dcc.Markdown(card_md, id=ids.MODEL_CARD, className="markdown"),
                ],
            ),
            _timing_card(metrics),
            html.Div(className="card", children=[html.H3("Runs"), runs_table]),
        ],
    )


@callback(Output(ids.MODEL_BASELINES, "figure"), Input(ids.MODEL_METRIC, "value"))
def update_baselines(metric):
    run = context.queries().deployed_run() or {}
    variant = (run.get("metadata") or {}).get("variant") or "xgboost"
    return figures.backtest_figure(per_origin(), metric or "rmsle", str(variant))
