"""Map page (``/``): world countries, or one country's admin-1 units; a year changes values only."""

from __future__ import annotations

import dash
import shapely
from dash import Input, Output, Patch, State, ctx, dcc, html, no_update
from sqlalchemy import select

from dashboard import figures, ids
from dashboard.pages.common import no_model_notice, year_marks

WORLD = "__world__"
METRIC_OPTIONS = [{"label": "Risk score (0–100)", "value": "risk_score"},
                  {"label": "Estimate (detected victims per 100k)", "value": "estimate"},
                  {"label": "Change since previous year (points)", "value": "change"}]


def register(app: dash.Dash, actx) -> None:
    q = actx.queries
    views: dict[tuple, tuple[dict, float]] = {}

    def country_view(iso3: str) -> tuple[dict, float]:
        key = (actx.geometry.version(), iso3)
        if key not in views:
            from etl.schema import region

            with q.engine.connect() as conn:
                wkbs = [r[0] for r in conn.execute(select(region.c.geometry_wkb).where(
                    region.c.parent_id == iso3, region.c.level == 1)) if r[0]]
                if not wkbs:
                    wkbs = [r[0] for r in conn.execute(select(region.c.geometry_wkb).where(
                        region.c.region_id == iso3)) if r[0]]
            if wkbs:
                geoms = shapely.from_wkb(wkbs)
                views[key] = figures.view_for_bounds(*shapely.total_bounds(geoms))
            else:
                views[key] = ({"lat": 18, "lon": 12}, 0.9)
        return views[key]

    def layout(**query):
        years = q.years(0)
        if not years:
            return no_model_notice("map")
        year = _int(query.get("year"), years[-1])
        year = year if year in years else years[-1]
        parents = set(q.admin1_parents())
        countries = q.regions(0)
        countries = countries[countries["has_geometry"].astype(bool)]
        options = [{"label": "World: all countries", "value": WORLD}] + [
            {"label": f"{n} ({'admin-1' if r in parents else 'admin-1: no estimates'})", "value": r}
            for r, n in sorted(zip(countries["region_id"], countries["name"], strict=True), key=lambda t: t[1])]
        country = query.get("country") if query.get("country") in set(countries["region_id"]) else WORLD
        return html.Div(className="map-page", children=[
            html.Div(className="controls card", children=[
                html.Div(className="control", children=[
                    html.Label("Year", htmlFor=ids.MAP_YEAR),
                    dcc.Slider(id=ids.MAP_YEAR, min=years[0], max=years[-1], step=1, value=year,
                               marks=year_marks(years), included=False, updatemode="mouseup"),
                ]),
                html.Div(className="control", children=[
                    html.Label("Colour by", htmlFor=ids.MAP_METRIC),
                    dcc.RadioItems(id=ids.MAP_METRIC, options=METRIC_OPTIONS, value="risk_score",
                                   className="radio-row", inline=True),
                ]),
                html.Div(className="control", children=[
                    html.Label("Country (shows its admin-1 units)", htmlFor=ids.MAP_COUNTRY),
                    dcc.Dropdown(id=ids.MAP_COUNTRY, options=options, value=country, clearable=False,
                                 searchable=True),
                ]),
            ]),
            html.Div(className="map-row", children=[
                html.Div(className="card map-card", children=[
                    dcc.Graph(id=ids.MAP_GRAPH, className="map-graph",
                              config={"displaylogo": False, "scrollZoom": True,
                                      "modeBarButtonsToRemove": ["sendDataToCloud"]}),
                    html.P(id=ids.MAP_NOTE, className="note"),
                ]),
                html.Aside(className="card risers", children=[
                    html.H3("Largest rises since the previous year"),
                    html.Div(id=ids.MAP_RISERS),
                ]),
            ]),
            dcc.Location(id=ids.MAP_NAV, refresh="callback-nav"),
        ])

    dash.register_page("dashboard.pages.map", path="/", name="Map", order=0, layout=layout,
                       title="Risk map · crisisrisk",
                       description="Risk of detected trafficking by country and admin-1 unit")

    def scope(country: str) -> tuple[int, str | None]:
        return (0, None) if country in (None, WORLD) else (1, country)

    def full_figure(year: int, metric: str, country: str):
        level, parent = scope(country)
        values = q.map_values(level, year, parent)
        locations = q.map_locations(level, parent)
        all_level = q.predictions(level=level, parent=parent)
        zrange = figures.metric_range(all_level, metric)
        if level == 0:
            bg = q.regions(0)
            bg = bg[bg["has_geometry"].astype(bool)][["region_id", "name"]]
            url = actx.geometry.url("countries", app.config.requests_pathname_prefix.rstrip("/"))
            center, zoom, scope_text = None, 0.9, "countries"
        else:
            bg = q.regions(1)
            bg = bg[bg["parent_id"] == parent][["region_id", "name"]]
            url = actx.geometry.url(f"admin1-{parent}", app.config.requests_pathname_prefix.rstrip("/"))
            center, zoom = country_view(parent)
            scope_text = f"admin-1 units of {q.region_names().get(parent, parent)} (downscaled)"
        title = figures.map_title(metric, year, scope_text)
        fig = figures.map_figure(values, locations, bg, metric, url, zrange, center=center, zoom=zoom, title=title,
                                 uirevision=f"{level}-{parent}")
        return fig, values, locations

    def note(country: str, values) -> str:
        level, parent = scope(country)
        n = len(values)
        if level == 0:
            return (f"{n} countries with a prediction this year. Grey: no prediction (no data), which is not low "
                    "risk. Click a country to open its profile.")
        if n == 0:
            return ("No admin-1 estimates for this country in the deployed model: its units are grey (no data). "
                    "Open the country's profile for its national estimate.")
        no_sub = int((~values["has_subnational_data"].fillna(False).astype(bool)).sum())
        return (f"{n} admin-1 units. Estimates are the country estimate spread by an exposure index (conflict and "
                f"displacement located in each unit); {no_sub} units had no sub-national data and carry the country "
                "rate. Click a unit to open its profile.")

    def risers(country: str, year: int):
        level, parent = scope(country)
        values = q.map_values(level, year, parent)
        top = values.dropna(subset=["score_change"]).sort_values("score_change", ascending=False).head(8)
        if top.empty:
            return html.P("No previous year to compare with.", className="note")
        return html.Ol(className="risers-list", children=[
            html.Li([dcc.Link(r.region_name, href=f"/region/{r.region_id}?year={year}"),
                     html.Span(f" {r.score_change:+.0f} pts → {r.risk_score:.0f}/100 ({r.risk_band})",
                               className="muted")])
            for r in top.itertuples()])

    @app.callback(Output(ids.MAP_GRAPH, "figure"), Output(ids.MAP_NOTE, "children"),
                  Output(ids.MAP_RISERS, "children"),
                  Input(ids.MAP_YEAR, "value"), Input(ids.MAP_METRIC, "value"), Input(ids.MAP_COUNTRY, "value"))
    def update_map(year, metric, country):
        years = q.years(0)
        if year not in years or metric not in figures.MAP_METRICS:
            return no_update, no_update, no_update
        if ctx.triggered_id == ids.MAP_YEAR:
            # Period change: send only the values, never the geometry or the layout again.
            level, parent = scope(country)
            values = q.map_values(level, year, parent)
            z, custom = figures.map_arrays(values, q.map_locations(level, parent), metric)
            patch = Patch()
            patch["data"][1]["z"] = z
            patch["data"][1]["customdata"] = custom
            scope_text = "countries" if level == 0 else \
                f"admin-1 units of {q.region_names().get(parent, parent)} (downscaled)"
            patch["layout"]["title"]["text"] = figures.map_title(metric, year, scope_text)
            return patch, note(country, values), risers(country, year)
        fig, values, _ = full_figure(year, metric, country)
        return fig, note(country, values), risers(country, year)

    @app.callback(Output(ids.MAP_NAV, "pathname"), Output(ids.MAP_NAV, "search"),
                  Input(ids.MAP_GRAPH, "clickData"), State(ids.MAP_YEAR, "value"), prevent_initial_call=True)
    def open_region(click, year):
        try:
            rid = click["points"][0]["location"]
        except (TypeError, KeyError, IndexError):
            return no_update, no_update
        if q.region(str(rid)) is None:
            return no_update, no_update
        return f"/region/{rid}", f"?year={int(year)}" if year else ""


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
