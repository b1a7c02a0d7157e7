"""Priorities page (``/priorities``): the donor table with displacement and funding, and its downloads."""

from __future__ import annotations

import dash
from dash import Input, Output, State, dash_table, dcc, html, no_update
from dash.dash_table.Format import Format, Group, Scheme

from dashboard import ids
from dashboard.exports import to_csv
from dashboard.pages.common import TABLE_STYLE, no_model_notice

LEVEL_OPTIONS = [{"label": "Countries", "value": 0}, {"label": "Admin-1 units (downscaled)", "value": 1}]
# Per-capita rates of very small populations are noisy and mostly extrapolated (no UNODC reports), so the
# donor view starts with countries of at least a million people; the filter shows everything on request.
MIN_POPULATION_OPTIONS = [{"label": "all", "value": 0}, {"label": "≥ 100,000", "value": 100_000},
                          {"label": "≥ 1 million", "value": 1_000_000}]
DEFAULT_MIN_POPULATION = 1_000_000


def filter_population(frame, level: int, minimum: int):
    """Countries below the minimum population are hidden; admin-1 rows are never filtered by it."""
    if level != 0 or not minimum:
        return frame
    return frame[frame["population"].fillna(0) >= minimum]


def _num(decimals: int, group: bool = True, sign: bool = False):
    fmt = Format(precision=decimals, scheme=Scheme.fixed, group=Group.yes if group else Group.no)
    return fmt.sign("+") if sign else fmt


def columns(level: int) -> list[dict]:
    cols = [
        {"name": ["", "Rank"], "id": "rank", "type": "numeric"},
        {"name": ["", "Region"], "id": "region_name", "presentation": "markdown"},
    ]
    if level == 1:
        cols.append({"name": ["", "Country"], "id": "country"})
    else:
        cols.append({"name": ["", "Population"], "id": "population", "type": "numeric", "format": _num(0)})
    cols += [
        {"name": ["Risk of detected trafficking", "Score (0–100)"], "id": "risk_score", "type": "numeric",
         "format": _num(0)},
        {"name": ["Risk of detected trafficking", "Band"], "id": "risk_band"},
        {"name": ["Risk of detected trafficking", "Estimate (victims per 100k)"], "id": "estimate_per_100k",
         "type": "numeric", "format": _num(2)},
        {"name": ["Risk of detected trafficking", "80% interval (per 100k)"], "id": "interval"},
        {"name": ["Risk of detected trafficking", "Change (points)"], "id": "score_change", "type": "numeric",
         "format": _num(0, sign=True)},
        {"name": ["Risk of detected trafficking", "UNODC reporting"], "id": "reporting_history"},
        {"name": ["People displaced (persons)", "Refugees originating"], "id": "refugees_origin",
         "type": "numeric", "format": _num(0)},
        {"name": ["People displaced (persons)", "Refugees hosted"], "id": "refugees_hosted", "type": "numeric",
         "format": _num(0)},
        {"name": ["People displaced (persons)", "Conflict IDPs"], "id": "idps", "type": "numeric",
         "format": _num(0)},
        {"name": ["People displaced (persons)", "Data year"], "id": "displacement_data_year", "type": "numeric"},
        {"name": ["Humanitarian funding (OCHA FTS)", "Requirements (USD)"], "id": "fts_requirements_usd",
         "type": "numeric", "format": _num(0)},
        {"name": ["Humanitarian funding (OCHA FTS)", "Funding (USD)"], "id": "fts_funding_usd", "type": "numeric",
         "format": _num(0)},
        {"name": ["Humanitarian funding (OCHA FTS)", "Coverage (%)"], "id": "fts_coverage_pct",
         "type": "numeric", "format": _num(1)},
        {"name": ["Humanitarian funding (OCHA FTS)", "Plan year"], "id": "fts_year", "type": "numeric"},
    ]
    return cols


def table_records(frame) -> list[dict]:
    out = frame.copy()
    out["interval"] = [f"{lo:.2f}–{hi:.2f}" for lo, hi in zip(out["lower_per_100k"], out["upper_per_100k"],
                                                              strict=True)]
    out["region_name"] = [f"[{n}](/region/{r}?year={y})" for n, r, y in
                          zip(out["region_name"], out["region_id"], out["year"], strict=True)]
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")


def register(app: dash.Dash, actx) -> None:
    q = actx.queries

    def layout(**query):
        years = q.years(0)
        if not years:
            return no_model_notice("priorities table")
        year = _int(query.get("year"), years[-1])
        year = year if year in years else years[-1]
        return html.Div(className="priorities-page", children=[
            html.H1(["Priorities: where is the risk of ", html.Em("detected"), " trafficking highest?"]),
            html.P("Sort by any column, filter with the boxes under the headers (e.g. >50, or 'very high'). "
                   "Displacement is the latest value at most two years before the selected year (its year is "
                   "shown); funding is OCHA FTS for plans of that year. Admin-1 estimates are the country "
                   "estimate spread by an exposure index. Countries that never reported detected victims to "
                   "UNODC are extrapolated (see 'UNODC reporting' and their wider intervals); small territories "
                   "are hidden by default because per-capita rates of tiny populations are noisy.",
                   className="note"),
            html.Div(className="controls card", children=[
                html.Div(className="control", children=[
                    html.Label("Year", htmlFor=ids.PRIO_YEAR),
                    dcc.Dropdown(id=ids.PRIO_YEAR, options=[{"label": str(y), "value": y} for y in years[::-1]],
                                 value=year, clearable=False),
                ]),
                html.Div(className="control", children=[
                    html.Label("Level", htmlFor=ids.PRIO_LEVEL),
                    dcc.RadioItems(id=ids.PRIO_LEVEL, options=LEVEL_OPTIONS, value=0, inline=True,
                                   className="radio-row"),
                ]),
                html.Div(className="control", children=[
                    html.Label("Minimum population (countries)", htmlFor=ids.PRIO_MIN_POP),
                    dcc.RadioItems(id=ids.PRIO_MIN_POP, options=MIN_POPULATION_OPTIONS, value=DEFAULT_MIN_POPULATION,
                                   inline=True, className="radio-row"),
                ]),
                html.Div(className="control downloads", children=[
                    html.Button("Download CSV", id=ids.PRIO_CSV, className="button"),
                    html.Button("Download CSV with HXL hashtags", id=ids.PRIO_HXL, className="button"),
                    dcc.Download(id=ids.PRIO_DOWNLOAD),
                ]),
            ]),
            html.P(id=ids.PRIO_COUNT, className="note"),
            dash_table.DataTable(
                id=ids.PRIO_TABLE, columns=columns(0), data=[], merge_duplicate_headers=True,
                sort_action="native", filter_action="native", page_action="native", page_size=25,
                markdown_options={"link_target": "_self"}, sort_by=[{"column_id": "rank", "direction": "asc"}],
                style_cell_conditional=[{"if": {"column_id": c}, "textAlign": "right"} for c in (
                    "rank", "risk_score", "estimate_per_100k", "interval", "score_change", "refugees_origin",
                    "refugees_hosted", "idps", "fts_requirements_usd", "fts_funding_usd", "fts_coverage_pct")],
                style_data_conditional=TABLE_STYLE["style_data_conditional"] + [
                    {"if": {"filter_query": '{risk_band} = "very high"', "column_id": "risk_band"},
                     "backgroundColor": "#fde725", "fontWeight": "600"},
                    {"if": {"filter_query": '{risk_band} = "high"', "column_id": "risk_band"},
                     "backgroundColor": "#b5de2b"},
                    {"if": {"filter_query": "{score_change} > 0", "column_id": "score_change"}, "color": "#b35806"},
                    {"if": {"filter_query": "{score_change} < 0", "column_id": "score_change"}, "color": "#542788"},
                ],
                **{k: v for k, v in TABLE_STYLE.items() if k != "style_data_conditional"},
                style_as_list_view=False,
            ),
        ])

    dash.register_page("dashboard.pages.priorities", path="/priorities", name="Priorities", order=2, layout=layout,
                       title="Priorities · crisisrisk", description="Donor table: risk, displacement, funding")

    @app.callback(Output(ids.PRIO_TABLE, "data"), Output(ids.PRIO_TABLE, "columns"), Output(ids.PRIO_COUNT, "children"),
                  Input(ids.PRIO_YEAR, "value"), Input(ids.PRIO_LEVEL, "value"), Input(ids.PRIO_MIN_POP, "value"))
    def update_table(year, level, min_pop):
        if year is None or level not in (0, 1):
            return no_update, no_update, no_update
        full = q.priorities(int(year), int(level))
        frame = filter_population(full, int(level), int(min_pop or 0))
        what = "countries" if level == 0 else "admin-1 units"
        hidden = len(full) - len(frame)
        count = (f"{len(frame)} {what} with a prediction for {year}"
                 + (f" ({hidden} smaller countries and territories hidden by the population filter). " if hidden
                    else ". ") +
                 f"Displacement known for {int(frame[['refugees_origin', 'refugees_hosted', 'idps']].notna().any(axis=1).sum())}, "
                 f"FTS funding for {int(frame['fts_requirements_usd'].notna().sum())}.")
        return table_records(frame), columns(int(level)), count

    @app.callback(Output(ids.PRIO_DOWNLOAD, "data"), Input(ids.PRIO_CSV, "n_clicks"), Input(ids.PRIO_HXL, "n_clicks"),
                  State(ids.PRIO_YEAR, "value"), State(ids.PRIO_LEVEL, "value"), State(ids.PRIO_MIN_POP, "value"),
                  prevent_initial_call=True)
    def download(_csv, _hxl, year, level, min_pop):
        if year is None or level not in (0, 1):
            return no_update
        hxl = dash.ctx.triggered_id == ids.PRIO_HXL
        frame = filter_population(q.priorities(int(year), int(level)), int(level), int(min_pop or 0))
        name = f"crisisrisk_priorities_{'countries' if level == 0 else 'admin1'}_{year}{'_hxl' if hxl else ''}.csv"
        return {"content": to_csv(frame, int(level), hxl=hxl), "filename": name, "type": "text/csv"}


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
