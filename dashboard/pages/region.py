"""Region page (``/region/<region_id>``): one country or admin-1 unit, printable as a one-page brief."""

from __future__ import annotations

import dash
import pandas as pd
from dash import ClientsideFunction, Input, Output, dcc, html

from dashboard import figures, ids
from dashboard.pages.common import band_class, kpi, no_model_notice, table
from dashboard.queries import DRIVER_FAMILIES, DRIVER_INDICATORS, VICTIMS_DETECTED

GRAPH_CONFIG = {"displaylogo": False}


def register(app: dash.Dash, actx) -> None:
    q = actx.queries

    def source_titles() -> dict[str, str]:
        from etl.sources import all_sources

        return {s.name: s.publisher for s in all_sources()}

    def layout(region_id: str | None = None, year=None, **_query):
        info = q.region(str(region_id)) if region_id else None
        if info is None:
            return html.Div(className="card notice", children=[
                html.H2("Unknown region"),
                html.P(f"No region with id '{region_id}'. Region ids are ISO3 codes for countries (e.g. SSD) and "
                       "Natural Earth adm1_code values for admin-1 units."),
                dcc.Link("Back to the map", href="/")])
        level = int(info["level"])
        years = q.years(level) or q.years(0)
        if not years:
            return no_model_notice("region profile")
        pred = q.region_predictions(info["region_id"])
        sel = _int(year, years[-1])
        sel = sel if sel in years else years[-1]
        name = info["name"]
        crumbs = [dcc.Link("Map", href="/"), " › "]
        if level == 1:
            crumbs += [dcc.Link(info.get("parent_name", info["parent_id"]), href=f"/region/{info['parent_id']}"),
                       " › "]
        crumbs.append(name)
        obs = q.observations(info["region_id"])
        drivers = obs[obs["family"].isin(DRIVER_FAMILIES)] if len(obs) else obs
        drivers = figures.pick_driver_series(drivers, DRIVER_INDICATORS, per_family=3, first_year=years[0] - 5)
        labels = obs[obs["indicator"] == VICTIMS_DETECTED] if len(obs) else obs
        coverage = q.coverage(info["region_id"])
        kind = "admin-1 unit" if level == 1 else "country"
        return html.Div(className="region-page brief", children=[
            dcc.Store(id=ids.REGION_STORE, data=info["region_id"]),
            html.Div(className="breadcrumbs no-print", children=crumbs),
            html.Div(className="region-head", children=[
                html.Div([
                    html.H1(name),
                    html.P(className="muted", children=[
                        f"{info.get('type') or kind.capitalize()} · id {info['region_id']}",
                        f" · in {info.get('parent_name')}" if level == 1 else "",
                        " · risk of ", html.Em("detected"), " trafficking (UNODC GLOTIP definition)"]),
                ]),
                html.Div(className="head-controls no-print", children=[
                    html.Label("Year", htmlFor=ids.REGION_YEAR),
                    dcc.Dropdown(id=ids.REGION_YEAR, options=[{"label": str(y), "value": y} for y in years[::-1]],
                                 value=sel, clearable=False, className="year-dropdown"),
                    html.Button("Print one-page brief", id=ids.REGION_PRINT, className="button"),
                    html.Span(id=ids.REGION_PRINT_DUMMY, hidden=True),
                ]),
            ]),
            html.Div(id=ids.REGION_KPIS, className="kpis"),
            html.P(_freshness(coverage), className="note print-only"),
            html.Div(className="grid-2", children=[
                html.Div(className="card", children=[
                    dcc.Graph(id=ids.REGION_TREND, config=GRAPH_CONFIG,
                              figure=figures.trend_figure(pred, name, admin1=level == 1)),
                    html.P(_trend_note(pred, labels, level), className="note"),
                ]),
                html.Div(className="card", children=[
                    dcc.Graph(id=ids.REGION_WATERFALL, config=GRAPH_CONFIG),
                    html.P("SHAP values are contributions in the model's log1p(victims per 100k) scale; they add "
                           "up from the average prediction to this prediction." +
                           (" Admin-1 units have no model of their own: these are the country's drivers."
                            if level == 1 else ""), className="note"),
                ]),
            ]),
            html.Div(className="grid-2", children=[
                html.Div(className="card", children=[dcc.Graph(id=ids.REGION_CHANGED, config=GRAPH_CONFIG)]),
                html.Div(className="card no-print", children=[
                    html.H3("Data coverage and freshness"),
                    html.P("Every indicator the warehouse holds for this region: years covered, number of "
                           "yearly values, source and when it was loaded.", className="note"),
                    html.Div(id=ids.REGION_COVERAGE, children=_coverage_table(coverage)),
                ]),
            ]),
            html.Div(className="card page-break-before", children=[
                dcc.Graph(id=ids.REGION_DRIVERS, config=GRAPH_CONFIG,
                          figure=figures.drivers_figure(drivers, DRIVER_FAMILIES, source_titles())),
            ]),
            html.Div(className="card no-print", hidden=level == 1, children=[
                dcc.Graph(id=ids.REGION_ADMIN1, config=GRAPH_CONFIG),
                html.Div(id=ids.REGION_ADMIN1_TABLE),
            ]),
        ])

    dash.register_page("dashboard.pages.region", path_template="/region/<region_id>", name="Region", order=1,
                       layout=layout, title="Region profile · crisisrisk",
                       description="Risk of detected trafficking: trend, drivers and data for one region")

    @app.callback(Output(ids.REGION_KPIS, "children"), Output(ids.REGION_WATERFALL, "figure"),
                  Output(ids.REGION_CHANGED, "figure"), Output(ids.REGION_ADMIN1, "figure"),
                  Output(ids.REGION_ADMIN1_TABLE, "children"),
                  Input(ids.REGION_YEAR, "value"), Input(ids.REGION_STORE, "data"))
    def update_year(year, region_id):
        info = q.region(str(region_id))
        if info is None or year is None:
            blank = figures.empty_figure("Unknown region or year.")
            return [], blank, blank, blank, None
        year = int(year)
        level = int(info["level"])
        pred = q.region_predictions(info["region_id"])
        row = pred[pred["year"] == year]
        n_level = len(q.predictions(level=level, year=year, parent=info["parent_id"] if level == 1 else None))
        kpis = _kpis(row.iloc[0] if len(row) else None, n_level, level, year)
        expl_id = info["region_id"] if level == 0 else info["parent_id"]
        labels = q.feature_labels()
        now = q.explanations(expl_id, year)
        prev = q.explanations(expl_id, year - 1)
        waterfall = figures.waterfall_figure(now, labels, year=year)
        changed = figures.what_changed_figure(now, prev, year)
        if level == 0:
            units = q.predictions(level=1, year=year, parent=info["region_id"])
            admin1 = figures.admin1_figure(units, info["name"])
            admin1_table = _admin1_table(units, year)
        else:
            admin1, admin1_table = figures.empty_figure(""), None
        return kpis, waterfall, changed, admin1, admin1_table

    app.clientside_callback(ClientsideFunction(namespace="crisisrisk", function_name="printPage"),
                            Output(ids.REGION_PRINT_DUMMY, "children"), Input(ids.REGION_PRINT, "n_clicks"),
                            prevent_initial_call=True)


def _kpis(row, n_level: int, level: int, year: int) -> list:
    if row is None:
        return [kpi("Risk score", "no data", f"no prediction for {year}", "band-none")]
    change = row.get("score_change")
    label = row.get("label_per_100k")
    items = [
        kpi(f"Risk score {year}", f"{row['risk_score']:.0f} / 100",
            f"{row['risk_band']} · percentile within the year", band_class(row["risk_band"])),
        kpi("Estimate (detected victims)", f"{figures.sig(row['estimate_per_100k'])} per 100k",
            f"80% interval {figures.sig(row['lower_per_100k'])}–{figures.sig(row['upper_per_100k'])} per 100k"),
        kpi("Rank", f"{int(row['rank'])} of {n_level}" if pd.notna(row.get("rank")) else "n/a",
            "1 = highest risk" + (" among the country's units" if level == 1 else " among countries")),
        kpi("Change since previous year", "n/a" if pd.isna(change) else f"{change:+.0f} points",
            "in risk score"),
    ]
    if level == 0:
        items.append(kpi("Detected victims (observed)",
                         "not reported" if pd.isna(label) else f"{figures.sig(label)} per 100k",
                         "UNODC GLOTIP, same year"))
    else:
        items.append(kpi("Method", "downscaled", "country estimate × exposure index" +
                         ("" if row.get("has_subnational_data") else "; no sub-national data: country rate")))
    return items


def _trend_note(pred: pd.DataFrame, labels: pd.DataFrame, level: int) -> str:
    known = int(pred["label_per_100k"].notna().sum()) if "label_per_100k" in pred else 0
    if level == 1:
        return "Admin-1 estimates are downscaled from the country; no public sub-national trafficking count exists."
    return (f"Band = 80% prediction interval. Detected victims (diamonds) are known for {known} of "
            f"{len(pred)} predicted years; {len(labels)} yearly GLOTIP counts in the warehouse.")


def _freshness(cov: pd.DataFrame) -> str:
    """One line for the printed brief: latest year of data per family, and when it was loaded."""
    if cov.empty:
        return "Data: no observations for this region in the warehouse."
    latest = cov.groupby("family")["last"].max().sort_index()
    loaded = max((v for v in cov["loaded_at"] if v), default=None)
    parts = ", ".join(f"{fam} {int(year)}" for fam, year in latest.items())
    return f"Latest data year by family: {parts}. Last load {str(loaded)[:10] if loaded else 'unknown'}."


def _coverage_table(cov: pd.DataFrame):
    if cov.empty:
        return html.P("No observations for this region in the warehouse.", className="note")
    frame = cov.rename(columns={"indicator": "Indicator", "family": "Family", "source": "Source",
                                "first": "From", "last": "To", "n": "Values", "loaded_at": "Loaded (UTC)"})
    return table(ids.REGION_COVERAGE + "-table", frame, page_size=12, sort_action="native")


def _admin1_table(units: pd.DataFrame, year: int):
    if units.empty:
        return html.P("No admin-1 estimates for this country.", className="note")
    rows = units.sort_values("rank")
    return html.Details(className="no-print", children=[
        html.Summary(f"All {len(rows)} admin-1 units, {year}"),
        html.Ul(className="columns", children=[
            html.Li([dcc.Link(r.region_name, href=f"/region/{r.region_id}?year={year}"),
                     f" {r.estimate_per_100k:.2f} per 100k (score {r.risk_score:.0f})"
                     + ("" if r.has_subnational_data else " · country rate")])
            for r in rows.itertuples()]),
    ])


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
