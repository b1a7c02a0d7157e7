"""Map page (``/``): the crisis watch list by country, or one country's admin-1 units.

The headline colour is the watch list (expected rise of a population's nationals detected as trafficking
victims
abroad); "where victims are found" (the detected-victims model) is a colour-by option with its caveat.
Geometry
is a static asset loaded once; a year or colour change sends only a Patch of values and styles.
"""

from __future__ import annotations

import logging

import dash
import pandas as pd
from dash import Input, Output, Patch, State, callback, ctx, dcc, html, no_update

from dashboard import context, figures, ids, watch
from dashboard.pages.common import no_model_notice, year_marks

log = logging.getLogger(__name__)
WORLD = "__world__"
TOP_N = 15
WATCH_OPTION = {"label": "Crisis watch list (percentile of expected rise)", "value": "watch"}
# "where victims are found": the detected-victims model, which follows detection capacity
DETECTED_OPTIONS = [
    {"label": "Where victims are found: risk score", "value": "risk_score"},
    {"label": "… detected per 100k", "value": "estimate"},
    {"label": "… change (points)", "value": "change"},
]
METRIC_OPTIONS = [WATCH_OPTION, *DETECTED_OPTIONS]
MAP_ALERTS = "map-alerts"  # issue 14: the short list of confirmed alerts beside the map
ALERTS_LISTED = 5

dash.register_page(
    __name__,
    path="/",
    name="Map",
    order=0,
    title="Crisis watch list · crisisrisk",
    description="Crisis watch list: where a population's trafficking abroad is expected to rise",
)


def map_years(watch_years: list[int], detected_years: list[int]) -> list[int]:
    """The slider's years: the watch list's score years (the headline), else the detected model's years."""
    return watch_years or detected_years


def country_view(iso3: str) -> tuple[dict, float]:
    """Centre and zoom that fit a country's admin-1 units (the whole map when it has no geometry)."""
    bounds = context.queries().country_bounds(iso3)
    return figures.view_for_bounds(*bounds) if bounds else ({"lat": 18, "lon": 12}, 0.9)


def years() -> list[int]:
    q = context.queries()
    return map_years(q.watchlist_years(), q.years(0))


def layout(**query):
    q = context.queries()
    ys = years()
    if not ys:
        return no_model_notice("map")
    has_watch = bool(q.watchlist_years())
    year = _int(query.get("year"), ys[-1])
    year = year if year in ys else ys[-1]
    parents = set(q.admin1_parents())
    countries = q.regions(0)
    countries = countries[countries["has_geometry"].astype(bool)]
    options = [{"label": "World: all countries", "value": WORLD}] + [
        {"label": f"{n} (admin-1{'' if r in parents else ': drivers only'})", "value": r}
        for r, n in sorted(zip(countries["region_id"], countries["name"], strict=True), key=lambda t: t[1])
    ]
    country = query.get("country") if query.get("country") in set(countries["region_id"]) else WORLD
    metrics = METRIC_OPTIONS if has_watch else DETECTED_OPTIONS
    metric = (
        query.get("metric") if query.get("metric") in {m["value"] for m in metrics} else metrics[0]["value"]
    )
    return html.Div(
        className="map-page",
        children=[
            html.Div(
                className="controls card",
                children=[
                    html.Div(
                        className="control",
                        children=[
                            html.Label("Score year" if has_watch else "Year", htmlFor=ids.MAP_YEAR),
                            dcc.Slider(
                                id=ids.MAP_YEAR,
                                min=ys[0],
                                max=ys[-1],
                                step=1,
                                value=year,
                                marks=year_marks(ys),
                                included=False,
                                updatemode="mouseup",
                            ),
                            html.Div(id=ids.MAP_YEAR_NOTE, className="note"),
                        ],
                    ),
                    html.Div(
                        className="control",
                        children=[
                            html.Label("Colour by", htmlFor=ids.MAP_METRIC),
                            dcc.RadioItems(
                                id=ids.MAP_METRIC,
                                options=metrics,
                                value=metric,
                                className="radio-row",
                                inline=True,
                            ),
                            html.Div(
                                "'Where victims are found' follows detection capacity: context, not risk.",
                                className="note",
                            ),
                        ],
                    ),
                    html.Div(
                        className="control",
                        children=[
                            html.Label("Country (shows its admin-1 units)", htmlFor=ids.MAP_COUNTRY),
                            dcc.Dropdown(
                                id=ids.MAP_COUNTRY,
                                options=options,
                                value=country,
                                clearable=False,
                                searchable=True,
                            ),
                        ],
                    ),
                ],
            ),
            html.Div(
                className="map-row",
                children=[
                    html.Div(
                        className="card map-card",
                        children=[
                            dcc.Graph(
                                id=ids.MAP_GRAPH,
                                className="map-graph",
                                config={
                                    "displaylogo": False,
                                    "scrollZoom": True,
                                    "modeBarButtonsToRemove": ["sendDataToCloud"],
                                },
                            ),
                            html.P(id=ids.MAP_NOTE, className="note"),
                            html.Div(
                                id=MAP_ALERTS,
                                className="map-alerts",
                                children=[  # in view without scrolling
                                    html.H4("Confirmed alerts"),
                                    *alert_list(confirmed_alerts()),
                                ],
                            ),
                        ],
                    ),
                    html.Aside(
                        className="card risers watch-side",
                        children=[
                            html.H3("Crisis watch list"),
                            html.Div(id=ids.MAP_SKILL, className="skill"),
                            html.Div(id=ids.MAP_WATCHLIST),
                            html.H4("Largest rises since the previous year"),
                            html.Div(id=ids.MAP_RISERS),
                        ],
                    ),
                ],
            ),
            dcc.Location(id=ids.MAP_NAV, refresh="callback-nav"),
        ],
    )


def scope(country: str) -> tuple[int, str | None]:
    return (0, None) if country in (None, WORLD) else (1, country)


def scope_text(level: int, parent: str | None, metric: str) -> str:
    q = context.queries()
    if level == 0:
        return "countries"
    name = q.region_names().get(parent, parent)
    return f"admin-1 units of {name}" + (" (located drivers)" if metric == "watch" else " (downscaled)")


def locations(level: int, parent: str | None) -> list[str]:
    """Fixed across years and metrics, so a change patches values only."""
    q = context.queries()
    if level == 0:
        return sorted(set(q.watchlist()["region_id"]) | set(q.map_locations(0)))
    units = q.regions(1)
    units = units[(units["parent_id"] == parent) & units["has_geometry"].astype(bool)]
    return sorted(set(units["region_id"]) | set(q.map_locations(1, parent)))


def values_for(metric: str, level: int, year: int, parent: str | None) -> pd.DataFrame:
    q = context.queries()
    if metric != "watch":
        return q.map_values(level, year, parent)
    if level == 0:
        return q.watchlist(year)
    units = q.admin1_watch(parent, year).copy()
    row = q.watchlist(year)
    row = row[row["region_id"] == parent]
    units["country_text"] = (
        f"watch-list rank {int(row['rank'].iloc[0])} of {len(q.watchlist(year))}, "
        f"expected rise ×{row['rise_factor'].iloc[0]:.2f}"
        if len(row)
        else "not on the watch list this year"
    )
    return units


def full_figure(year: int, metric: str, country: str):
    q = context.queries()
    level, parent = scope(country)
    values = values_for(metric, level, year, parent)
    locs = locations(level, parent)
    zrange = figures.metric_range(q.predictions(level=level, parent=parent), metric)
    if level == 0:
        bg = q.regions(0)
        bg = bg[bg["has_geometry"].astype(bool)][["region_id", "name"]]
        url = context.current().geometry.url("countries", dash.get_relative_path("/").rstrip("/"))
        center, zoom = None, 0.9
    else:
        bg = q.regions(1)
        bg = bg[bg["parent_id"] == parent][["region_id", "name"]]
        url = context.current().geometry.url(f"admin1-{parent}", dash.get_relative_path("/").rstrip("/"))
        center, zoom = country_view(parent)
    title = figures.map_title(metric, year, scope_text(level, parent, metric), level)
    fig = figures.map_figure(
        values,
        locs,
        bg,
        metric,
        url,
        zrange,
        center=center,
        zoom=zoom,
        title=title,
        uirevision=f"{level}-{parent}",
        level=level,
    )
    layer = figures.alert_layer(confirmed_alerts(parent))  # issue 14: after the value trace, never patched
    if layer is not None:
        fig.add_trace(layer)
    return fig, values


def confirmed_alerts(country: str | None = None) -> pd.DataFrame:
    """Confirmed alerts (what viewers may see) with the label point of their country; newest first."""
    q = context.queries()
    return confirmed_alert_frame(q, q.regions(0), country)


def note(country: str, metric: str, year: int, values) -> list:
    q = context.queries()
    level, parent = scope(country)
    n = len(values)
    if metric == "watch" and level == 0:
        return [
            f"{n} countries scored for {year}. Colour = percentile of the expected rise of each population's "
            "nationals detected as trafficking victims abroad over the next three years, against its own "
            "last three years (a ranking of change, not of levels). Grey: not scored (no data), which is not "
            "low risk. Hover for the rise factor, driver, people exposed and basis; click a country to open "
            "its profile."
        ]
    if metric == "watch":
        located = int(values["located"].sum()) if n else 0
        return [
            f"{located} of {n} admin-1 units have conflict deaths (UCDP GED) or displaced people (IOM DTM, "
            f"IDMC) located in {year - watch.ADMIN1_WINDOW}–{year}: colour = the unit's share of the "
            "country's located drivers of the watch list. Grey: nothing located in the window (no data), "
            "not a measured zero. The watch-list score itself is national. Click a unit to open its profile."
        ]
    caveat = watch.DETECTED_CAVEAT
    detected_years = q.years(level)
    if n == 0:
        span = f"{detected_years[0]}–{detected_years[-1]}" if detected_years else "no years"
        return [
            f"No 'where victims are found' estimates for {year} (they cover {span}): every shape is grey "
            f"(no data). {caveat}"
        ]
    if level == 0:
        return [
            f"{n} countries with a detected-victims estimate for {year}. Grey: no prediction (no data). "
            f"{caveat} Hover shows each estimate's basis (checked, nowcast or projection, with input years)."
        ]
    tied = tied_units(values)
    if not values["has_subnational_data"].fillna(False).astype(bool).any():
        spread = "no unit has located data in the window, so every unit carries the country rate"
    else:
        spread = (
            f"{tied} units share one value: nothing is located in them in the window, so they share "
            "the country's lowest exposure"
            if tied > 1
            else "no two units share a value"
        )
    return [
        f"{n} admin-1 units: the country estimate spread by an exposure index (conflict and displacement "
        f"located in each unit, latest within the three years before {year}); {spread}. The 'Crisis watch "
        f"list' colour shows where the located drivers are, with no data kept grey. {caveat}"
    ]


def side_list(year: int):
    q = context.queries()
    top = q.watchlist(year).head(TOP_N)
    if top.empty:
        return html.P(
            "This model run has no crisis watch list (trained before it existed): retrain to get one. "
            "The map shows where victims are found instead.",
            className="note",
        )
    items = []
    for r in top.itertuples():  # compact markup: this list is part of every year change
        small = " · population under 100,000" if bool(r.small_population) else ""
        items.append(
            html.Li(
                [
                    dcc.Link(r.region_name, href=f"/region/{r.region_id}?year={year}"),
                    html.B(f" ×{r.rise_factor:.2f}"),
                    f" (80%: ×{r.lower:.2f}–×{r.upper:.2f}). ",
                    r.top_driver or "no rising crisis driver",
                    html.Br(),
                    html.Small(f"People exposed: {r.people_exposed}{small}"),
                ]
            )
        )
    basis = top["basis"].mode()
    return [
        html.P(
            f"Top {len(top)} for score year {year} ({watch.window_text(year)}): expected rise factor "
            "of nationals detected as trafficking victims abroad, next three years against the last "
            "three.",
            className="note",
        ),
        html.Ol(className="risers-list watch-list", children=items),
        html.P(
            f"Basis (input years, most common): {basis.iloc[0] if len(basis) else 'not recorded'}.",
            className="note",
        ),
    ]


def risers(metric: str, country: str, year: int):
    """Five largest rises since the previous year: watch-list rank, or the detected risk score."""
    q = context.queries()
    level, parent = scope(country)
    if metric == "watch" and level == 0:
        frame = q.watchlist()
        now = frame[frame["year"] == year].set_index("region_id")
        prev = frame[frame["year"] == year - 1].set_index("region_id")["rank"]
        moved = (prev.reindex(now.index) - now["rank"]).dropna().sort_values(ascending=False).head(5)
        if moved.empty:
            return html.P("No previous score year to compare with.", className="note")
        return html.Ol(
            className="risers-list",
            children=[
                html.Li(
                    [
                        dcc.Link(now.loc[r, "region_name"], href=f"/region/{r}?year={year}"),
                        f" rank {int(prev[r])} → {int(now.loc[r, 'rank'])}",
                    ]
                )
                for r in moved.index
            ],
        )
    if metric == "watch":
        return html.P("The located drivers have no year-on-year list.", className="note")
    values = q.map_values(level, year, parent)
    top = values.dropna(subset=["score_change"]).sort_values("score_change", ascending=False).head(5)
    if top.empty:
        return html.P("No previous year to compare with.", className="note")
    return html.Ol(
        className="risers-list",
        children=[
            html.Li(
                [
                    dcc.Link(r.region_name, href=f"/region/{r.region_id}?year={year}"),
                    f" {r.score_change:+.0f} pts → {r.risk_score:.0f}/100 (detected)",
                ]
            )
            for r in top.itertuples()
        ],
    )


def skill_box():
    q = context.queries()
    strength, sentence = watch.skill_text(q.watchlist_skill())
    return [
        html.Span(f"Measured skill: {strength}", className=f"skill-badge skill-{strength.replace(' ', '-')}"),
        html.P(sentence, className="note"),
    ]


@callback(
    Output(ids.MAP_GRAPH, "figure"),
    Output(ids.MAP_NOTE, "children"),
    Output(ids.MAP_RISERS, "children"),
    Input(ids.MAP_YEAR, "value"),
    Input(ids.MAP_METRIC, "value"),
    Input(ids.MAP_COUNTRY, "value"),
)
def update_map(year, metric, country):
    q = context.queries()
    if year not in years() or metric not in figures.MAP_METRICS:
        return no_update, no_update, no_update
    year = int(year)
    level, parent = scope(country)
    if ctx.triggered_id in (ids.MAP_YEAR, ids.MAP_METRIC):
        # Year or colour change: send only values (and, for a colour change, the value trace's style), never
        # the geometry or the whole figure again.
        values = values_for(metric, level, year, parent)
        patch = map_patch(
            values,
            locations(level, parent),
            metric,
            level,
            figures.metric_range(q.predictions(level=level, parent=parent), metric),
            figures.map_title(metric, year, scope_text(level, parent, metric), level),
            style=ctx.triggered_id == ids.MAP_METRIC,
        )
        return patch, note(country, metric, year, values), risers(metric, country, year)
    fig, values = full_figure(year, metric, country)
    return fig, note(country, metric, year, values), risers(metric, country, year)


@callback(
    Output(ids.MAP_SKILL, "children"),
    Output(ids.MAP_WATCHLIST, "children"),
    Output(ids.MAP_YEAR_NOTE, "children"),
    Input(ids.MAP_YEAR, "value"),
)
def update_side(year):
    q = context.queries()
    if year not in years():
        return no_update, no_update, no_update
    note_text = (
        f"The score for {int(year)} uses inputs dated {int(year)} or earlier and "
        f"{watch.window_text(int(year))}."
        if q.watchlist_years()
        else ""
    )
    return skill_box(), side_list(int(year)), note_text


@callback(
    Output(ids.MAP_NAV, "pathname"),
    Output(ids.MAP_NAV, "search"),
    Input(ids.MAP_GRAPH, "clickData"),
    State(ids.MAP_YEAR, "value"),
    prevent_initial_call=True,
)
def open_region(click, year):
    q = context.queries()
    try:
        rid = click["points"][0]["location"]
    except (TypeError, KeyError, IndexError):
        return no_update, no_update
    if q.region(str(rid)) is None:
        return no_update, no_update
    return f"/region/{rid}", f"?year={int(year)}" if year else ""


def confirmed_alert_frame(q, countries: pd.DataFrame, country: str | None = None) -> pd.DataFrame:
    """Confirmed alerts joined to the countries' label points (a warehouse without the alert tables: none)."""
    cols = ["alert_id", "region_id", "region_name", "rule", "period", "label_lat", "label_lon"]
    try:
        rows = q.alerts("confirmed", region_id=country, limit=500)
    except Exception:  # noqa: BLE001 - a warehouse from before migration 0008: the map still draws
        log.warning("map: confirmed alerts unreadable", exc_info=True)
        rows = []
    if not rows:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(rows)[["alert_id", "region_id", "region_name", "rule", "period"]]
    points = (
        countries[["region_id", "label_lat", "label_lon"]]
        if len(countries)
        else pd.DataFrame(columns=["region_id", "label_lat", "label_lon"])
    )
    return frame.merge(points, on="region_id", how="left")[cols]


def alert_list(confirmed: pd.DataFrame) -> list:
    """The newest confirmed alerts, one line each, linking to the region and to the Alerts page."""
    link = dcc.Link("All alerts, rules and their backtest", href="/alerts")
    if confirmed.empty:
        return [html.P(["No confirmed alerts. ", link, "."], className="note")]
    top = confirmed.head(ALERTS_LISTED)
    items = [
        html.Li([dcc.Link(r.region_name, href=f"/region/{r.region_id}"), f": {r.rule} ({int(r.period)})"])
        for r in top.itertuples()
    ]
    more = (
        f"{len(confirmed)} confirmed in all; black dots on the map. "
        if len(confirmed) > len(top)
        else "Black dots on the map. "
    )
    return [
        html.Ul(className="risers-list alert-list", children=items),
        html.P([more, link, "."], className="note"),
    ]


def tied_units(values: pd.DataFrame) -> int:
    """How many admin-1 units share the most common downscaled estimate (units with nothing located tie)."""
    if values.empty:
        return 0
    counts = values["estimate_per_100k"].round(6).value_counts()
    return int(counts.iloc[0]) if len(counts) else 0


def map_patch(
    values: pd.DataFrame,
    locations: list[str],
    metric: str,
    level: int,
    zrange: tuple[float, float],
    title: str,
    style: bool = False,
) -> Patch:
    """The Patch a year change sends (z, hover data, title); a colour change adds the value trace's style."""
    z, custom = figures.map_arrays(values, locations, metric, level)
    patch = Patch()
    patch["data"][1]["z"] = z
    patch["data"][1]["customdata"] = custom
    if style:
        for key, value in figures.value_style(metric, zrange, level).items():
            patch["data"][1][key] = value
        nodata = figures.metric_meta(metric, level).get("nodata", figures.NO_DATA_TEXT)
        patch["data"][0]["name"] = nodata
        patch["data"][0]["hovertemplate"] = f"<b>%{{text}}</b><br>{nodata}<extra></extra>"
    patch["layout"]["title"]["text"] = title
    return patch


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
