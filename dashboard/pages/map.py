"""Map page (``/``): the crisis watch list by country, or one country's admin-1 units.

The headline colour is the watch list (expected rise of a population's nationals detected as trafficking
victims abroad); "where victims are found" (the detected-victims model) is a colour-by option with its caveat.
Geometry is a static asset loaded once; a year change sends only a Patch of z and each shape's opacity (its
basis), and the hover details are fetched when a shape is hovered (issue 16 item 3). Each shape is drawn once:
the grey "no data" trace (0) draws only the shapes the value trace (1) has no value for, so the Patch sets
both traces' z (``figures.nodata_z``) and a shape that gains or loses a value moves between them.

The first view (figure, note, side lists) is part of the page's layout, so opening the page needs no map
callback; its figure is cached per warehouse version, language and view, and ``warm`` builds it and the world
geometry beforehand.

Basis (issue 13 item 4): a year's basis is the one most countries' detected-victims estimates have that year
(``Queries.year_bases``): checked (a label that year), nowcast (newest label 1–2 years old) or projection. A
year is *usable* when its basis is checked or nowcast; the page opens on the latest usable year, not the
latest projection (``queries.default_year``). The selected country, year and colour live in the URL
(``/?country=NGA&year=2023``), written with ``history.replaceState`` by map.js so a view can be shared.
"""

from __future__ import annotations

import json
import logging

import dash
import pandas as pd
from dash import (
    ClientsideFunction,
    Input,
    Output,
    Patch,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
)

from dashboard import context, figures, ids, watch
from dashboard.i18n import _, current_locale, fmt_number
from dashboard.pages.common import no_model_notice
from dashboard.queries import default_year, rank_within

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
MAP_HOVER = "map-hover"  # the hovered shape's details, fetched on hover (never part of a year's Patch)
MAP_URL_SYNC = "map-url-sync"  # target of the clientside callback that writes country and year to the URL
MIN_RISE_POINTS = 1  # "Largest rises": changes under one risk-score point are noise, not listed
LABEL_CANDIDATES = 40  # admin-1 units offered to map.js as labels, largest first; it drops those that overlap
MARKS_SHOWN = 6  # year labels on the slider (a phone fits about six)
BASIS_TITLES = {
    "checked": "a detected-victims label exists that year",
    "nowcast": "newest detected-victims label 1–2 years old",
    "projection": "newest detected-victims label older than 2 years, or none",
}
# Slider year labels per basis; the legend under the slider says what each style means
BASIS_MARK_STYLE = {
    "checked": {"fontWeight": "700", "color": "#1a1a1a"},
    "nowcast": {"fontStyle": "italic", "color": "#333333"},
    "projection": {"fontStyle": "italic", "color": "#767676", "textDecoration": "underline dotted"},
}

dash.register_page(
    __name__,
    path="/",
    name="Map",
    order=0,
    title="Crisis watch list · crisisrisk",
    description="Crisis watch list: where a population's trafficking abroad is expected to rise",
)


def warm(server) -> bool:
    """Build what the first visitor of the world map waits for, before anyone asks (run it in a thread at
    start-up and after a deploy): the world geometry layer (simplified, serialised and gzipped once per
    boundary version) and the default view's queries and figure (cached per warehouse version).

    Cold, the first map page took ~4 s of server time on the shipped data (the page's queries ~2.8 s, the
    geometry ~1.2 s, the figure ~0.4 s); warm, ~0.1 s. False (and a log line) when something failed: the
    request path still computes it.
    """
    app_ctx = server.extensions.get(context.EXTENSION)
    if app_ctx is None:
        return False
    try:
        with server.test_request_context("/"):
            app_ctx.geometry.get("countries")
            layout()
    except Exception:  # noqa: BLE001 - an optimisation: the first request computes what failed here
        log.warning("map warm-up failed; the first visitor computes it", exc_info=True)
        return False
    return True


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
    bases = q.year_bases()
    first = default_year(ys, bases) or ys[-1]
    year = _int(query.get("year"), first)
    year = year if year in ys else first
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
    # The first view is part of the page (the router's answer): no second round trip for the map callbacks,
    # and dcc.Graph draws the real figure first instead of an empty one (issue 16, first render).
    fig, values = full_figure(year, metric, country)
    skill, side, year_note = side_content(year)
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
                                marks=basis_marks(ys, bases, first),
                                included=False,
                                updatemode="mouseup",
                            ),
                            html.Div(id=ids.MAP_YEAR_NOTE, className="note", children=year_note),
                            html.Div(
                                className="note basis-key",
                                children=[
                                    html.Span("Year labels:"),
                                    html.B("checked: bold", style=BASIS_MARK_STYLE["checked"]),
                                    html.Span("nowcast: italic", style=BASIS_MARK_STYLE["nowcast"]),
                                    html.Span(
                                        "projection: pale, dotted", style=BASIS_MARK_STYLE["projection"]
                                    ),
                                    html.Span(
                                        _(
                                            "The map opens on {year}, the latest year with a usable estimate"
                                            " (checked or nowcast).",
                                            year=first,
                                        )
                                    ),
                                ],
                            ),
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
                                figure=fig,
                                className="map-graph",
                                config={
                                    "displaylogo": False,
                                    "scrollZoom": True,
                                    "modeBarButtonsToRemove": ["sendDataToCloud"],
                                },
                            ),
                            basis_legend(),
                            html.Div(
                                id=MAP_HOVER,
                                className="map-hover",
                                children=html.P(
                                    "Hover over or tap a shape for its details.", className="note"
                                ),
                            ),
                            html.P(
                                id=ids.MAP_NOTE,
                                className="note",
                                children=note(country, metric, year, values),
                            ),
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
                            html.Div(id=ids.MAP_SKILL, className="skill", children=skill),
                            html.Div(id=ids.MAP_WATCHLIST, children=side),
                            html.H4("Largest rises since the previous year"),
                            html.Div(id=ids.MAP_RISERS, children=risers(metric, country, year)),
                        ],
                    ),
                ],
            ),
            dcc.Location(id=ids.MAP_NAV, refresh="callback-nav"),
            html.Div(id=MAP_URL_SYNC, hidden=True),
        ],
    )


def basis_marks(years_: list[int], bases: dict[int, str], default: int) -> dict:
    """Slider marks styled by each year's basis: about MARKS_SHOWN labels, always the first, the default
    (latest usable) and the last year, the others evenly spaced where they do not crowd those."""
    if not years_:
        return {}
    step = max(1, -(-len(years_) // MARKS_SHOWN))
    keep = {years_[0], default, years_[-1]}
    for y in years_[::step] if len(years_) > MARKS_SHOWN else years_:
        if len(years_) <= MARKS_SHOWN or all(abs(y - k) >= max(2, step - 1) for k in keep):
            keep.add(y)
    return {
        int(y): {"label": str(y), "style": BASIS_MARK_STYLE.get(bases.get(y, ""), {})} for y in sorted(keep)
    }


def basis_tag(basis: str) -> html.Span | str:
    """A small badge naming a basis, styled per basis (map.css: nowcast dotted, projection hatched)."""
    if not basis:
        return ""
    return html.Span(basis, className=f"basis-tag basis-{basis}", title=BASIS_TITLES.get(basis, ""))


def basis_legend() -> html.Div:
    """What the shapes' opacity means: the basis of each estimate (issue 10), drawn solid to pale."""
    items = []
    for basis, text in (
        ("checked", "checked: a detected-victims label exists that year"),
        ("nowcast", "nowcast: newest label 1–2 years old"),
        ("projection", "projection: older label or none"),
    ):
        items.append(
            html.Span(
                className="basis-item",
                children=[
                    html.Span(
                        className=f"basis-swatch basis-{basis}",
                        style={"opacity": figures.BASIS_OPACITY[basis]},
                    ),
                    text,
                ],
            )
        )
    return html.Div(
        className="basis-legend note",
        children=[html.B("Shape opacity = basis of the estimate: "), *items],
    )


def year_basis_text(year: int) -> str:
    """The selected year's basis and how old its newest detected-victims label is."""
    q = context.queries()
    basis = q.year_bases().get(year)
    newest = q.newest_label_year(year)
    if basis is None:
        return _("No detected-victims estimate for {year}, so no basis to state.", year=year)
    if basis == "checked":
        return _(
            "{year}: checked; detected-victims labels of {year} exist to check estimates against.", year=year
        )
    if newest is None:
        return _("{year}: {basis}; no detected-victims label is used for it.", year=year, basis=basis)
    if year - newest == 1:
        return _(
            "{year}: {basis}; newest detected-victims label: {label}, 1 year before this year.",
            year=year,
            basis=basis,
            label=newest,
        )
    return _(
        "{year}: {basis}; newest detected-victims label: {label}, {age} years before this year.",
        year=year,
        basis=basis,
        label=newest,
        age=year - newest,
    )


def scope(country: str) -> tuple[int, str | None]:
    return (0, None) if country in (None, WORLD) else (1, country)


def scope_text(level: int, parent: str | None, metric: str) -> str:
    q = context.queries()
    if level == 0:
        return "countries"
    name = q.region_names().get(parent, parent)
    return (
        f"admin-1 units of {name} (located drivers)"
        if metric == "watch"
        else f"admin-1 units of {name} (downscaled)"
    )


def locations(level: int, parent: str | None) -> list[str]:
    """Fixed across years and metrics, so a change patches values only."""
    q = context.queries()
    if level == 0:
        return sorted(set(q.watchlist()["region_id"]) | set(q.map_locations(0)))
    units = q.regions(1)
    units = units[(units["parent_id"] == parent) & units["has_geometry"].astype(bool)]
    return sorted(set(units["region_id"]) | set(q.map_locations(1, parent)))


def background(level: int, parent: str | None) -> pd.DataFrame:
    """``region_id`` and ``name`` of every shape of the view's layer: the grey 'no data' trace's locations."""
    q = context.queries()
    if level == 0:
        bg = q.regions(0)
        return bg[bg["has_geometry"].astype(bool)][["region_id", "name"]]
    bg = q.regions(1)
    return bg[bg["parent_id"] == parent][["region_id", "name"]]


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


def full_figure(year: int, metric: str, country: str) -> tuple[dict, pd.DataFrame]:
    """The whole map figure (as plain JSON data) and the view's values.

    Building it costs ~0.1 s of plotly validation and pandas alignment (more on a busy machine) and every
    visitor's first view is the same, so the figure without the alert layer is kept per warehouse version
    (the query cache's key: deployed run and loads), language and view. The confirmed alerts are read per
    request (a review can confirm one without a new version) and added as the last trace.
    """
    q = context.queries()
    level, parent = scope(country)
    values = values_for(metric, level, year, parent)
    prefix = dash.get_relative_path("/").rstrip("/")
    key = (current_locale(), prefix, int(year), metric, country)
    base = q.cached("map_figure", key, lambda: json.loads(_figure(year, metric, country, values).to_json()))
    fig = {**base, "data": list(base["data"])}  # a new list: the cached figure is shared and never changed
    layer = figures.alert_layer(confirmed_alerts(parent))  # issue 14: after the value trace, never patched
    if layer is not None:
        fig["data"].append(json.loads(layer.to_json()))
    return fig, values


def _figure(year: int, metric: str, country: str, values: pd.DataFrame):
    """The map figure of one view, without the alert layer (``full_figure`` keeps it)."""
    q = context.queries()
    level, parent = scope(country)
    locs = locations(level, parent)
    zrange = figures.scale_range(values, metric, level, q.predictions(level=level, parent=parent))
    neighbours, labels = None, None
    bg = background(level, parent)
    if level == 0:
        url = context.current().geometry.url("countries", dash.get_relative_path("/").rstrip("/"))
        center, zoom = None, 0.9
    else:
        url = context.current().geometry.url(f"admin1-{parent}", dash.get_relative_path("/").rstrip("/"))
        center, zoom = country_view(parent)
        neighbours, labels = admin1_context(parent)
    title = figures.map_title(metric, year, scope_text(level, parent, metric), level)
    return figures.map_figure(
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
        year_basis=q.year_bases().get(year),
        neighbours=neighbours,
        labels=labels,
    )


def admin1_context(parent: str) -> tuple[figures.MapContext, pd.DataFrame]:
    """The neighbouring countries (grey context) and the label points of a country's largest units."""
    q = context.queries()
    near = q.neighbours(parent)
    names = q.region_names()
    url = context.current().geometry.url("countries", dash.get_relative_path("/").rstrip("/"))
    ctx_ = figures.MapContext(url, tuple(near), tuple(names.get(r, r) for r in near))
    units = q.regions(1)
    units = units[(units["parent_id"] == parent) & units["has_geometry"].astype(bool)]
    units = units.dropna(subset=["label_lat", "label_lon"]).sort_values("area_km2", ascending=False)
    labels = units.head(LABEL_CANDIDATES).rename(columns={"label_lat": "lat", "label_lon": "lon"})
    return ctx_, labels[["region_id", "name", "lat", "lon"]]


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
            _(
                "{n} countries scored for {year}. Colour = percentile of the expected rise of each"
                " population's nationals detected as trafficking victims abroad over the next three years,"
                " against its own last three years (a ranking of change, not of levels). Grey: not scored (no"
                " data), which is not low risk. Hover or tap a country for the rise factor, driver, people"
                " exposed and basis;"
                " click it to open its profile.",
                n=n,
                year=year,
            )
        ]
    if level == 1:
        return [html.B(national_text(parent, year)), " ", *admin1_note(metric, year, values)]
    caveat = watch.DETECTED_CAVEAT
    if n == 0:
        detected_years = q.years(level)
        span = f"{detected_years[0]}–{detected_years[-1]}" if detected_years else "–"
        return [
            _(
                "No 'where victims are found' estimates for {year} (they cover {span}): every shape is grey"
                " (no data). {caveat}",
                year=year,
                span=span,
                caveat=caveat,
            )
        ]
    return [
        _(
            "{n} countries with a detected-victims estimate for {year}. Grey: no prediction (no data)."
            " {caveat} Hover or tap a country for its estimate and basis (checked, nowcast or projection,"
            " with input years).",
            n=n,
            year=year,
            caveat=caveat,
        )
    ]


def national_text(parent: str, year: int) -> str:
    """The selected country's global position: its national estimate and rank k of n countries."""
    q = context.queries()
    name = q.region_names().get(parent, parent)
    pos = q.national_position(parent, year)
    if pos is None:
        return _("{country}: no national detected-victims estimate for {year}.", country=name, year=year)
    value, k, n = pos
    return _(
        "{country}, national estimate {year}: {value} victims detected per 100,000 people, rank {k} of {n}"
        " countries (1 = highest). The colours below span {country}'s own units only.",
        country=name,
        year=year,
        value=fmt_number(value, 2 if value < 10 else 1),
        k=k,
        n=n,
    )


def admin1_note(metric: str, year: int, values: pd.DataFrame) -> list:
    """What the admin-1 colours are, and why units share a value when they do."""
    n = len(values)
    if metric == "watch":
        located = int(values["located"].sum()) if n else 0
        return [
            _(
                "{located} of {n} admin-1 units have conflict deaths (UCDP GED) or displaced people (IOM DTM,"
                " IDMC) located in {start}–{year}: colour = the unit's share of the country's located drivers"
                " of the watch list. Grey: nothing located in the window (no data), not a measured zero. The"
                " watch-list score itself is national. Click a unit to open its profile.",
                located=located,
                n=n,
                start=year - watch.ADMIN1_WINDOW,
                year=year,
            )
        ]
    if n == 0:
        return [_("No admin-1 estimates for {year}: every unit is grey (no data).", year=year)]
    tied = tied_units(values)
    top = values["estimate_per_100k"].round(6).value_counts()
    group = values[values["estimate_per_100k"].round(6) == top.index[0]] if len(top) else values
    country_rate = not group["has_subnational_data"].fillna(False).astype(bool).any()
    if not values["has_subnational_data"].fillna(False).astype(bool).any():
        spread = _(
            "Every unit shows the same value: no unit has conflict or displacement located in the window, so"
            " each carries the country rate."
        )
    elif tied > 1 and country_rate:
        spread = _(
            "{tied} units share one value, for a reason: they have no sub-national data, so each carries the"
            " country rate.",
            tied=tied,
        )
    elif tied > 1:
        spread = _(
            "{tied} units share one value, for a reason: nothing is located in them in the window, so they"
            " share the country's lowest exposure.",
            tied=tied,
        )
    else:
        spread = _("No two units share a value.")
    return [
        _(
            "{n} admin-1 units: the country estimate spread by an exposure index (conflict and displacement"
            " located in each unit, latest within the three years before {year}).",
            n=n,
            year=year,
        ),
        " ",
        spread,
        " ",
        watch.DETECTED_CAVEAT,
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
        html.P(basis_tag(q.year_bases().get(year, ""))),
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
    """Five largest rises since the previous year: watch-list rank, or the detected risk score. Changes
    under MIN_RISE_POINTS (or a rank that did not move up) are noise and are not listed; a line says so."""
    q = context.queries()
    level, parent = scope(country)
    if metric == "watch" and level == 0:
        frame = q.watchlist()
        now = frame[frame["year"] == year].set_index("region_id")
        prev = frame[frame["year"] == year - 1].set_index("region_id")["rank"]
        if prev.empty:
            return html.P("No previous score year to compare with.", className="note")
        moved = (prev.reindex(now.index) - now["rank"]).dropna()
        moved = moved[moved > 0].sort_values(ascending=False).head(5)
        if moved.empty:
            return html.P(_("No country rose in the watch-list ranking since {prev}.", prev=year - 1))
        return html.Ol(
            className="risers-list",
            children=[
                html.Li(
                    [
                        dcc.Link(now.loc[r, "region_name"], href=f"/region/{r}?year={year}"),
                        " ",
                        _("rank {before} → {after}", before=int(prev[r]), after=int(now.loc[r, "rank"])),
                    ]
                )
                for r in moved.index
            ],
        )
    if metric == "watch":
        return html.P("The located drivers have no year-on-year list.", className="note")
    values = q.map_values(level, year, parent)
    changes = values.dropna(subset=["score_change"])
    if changes.empty:
        return html.P("No previous year to compare with.", className="note")
    top = changes[changes["score_change"].round() >= MIN_RISE_POINTS]
    top = top.sort_values("score_change", ascending=False).head(5)
    if top.empty:
        return html.P(
            _(
                "No risk score rose by {min} point or more since {prev}.",
                min=MIN_RISE_POINTS,
                prev=year - 1,
            ),
            className="note",
        )
    return html.Ol(
        className="risers-list",
        children=[
            html.Li(
                [
                    dcc.Link(r.region_name, href=f"/region/{r.region_id}?year={year}"),
                    " ",
                    _(
                        "+{change} points → {score} / 100 (detected)",
                        change=int(round(r.score_change)),
                        score=int(round(r.risk_score)),
                    ),
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
    prevent_initial_call=True,  # the page's layout carries the first view (full_figure, note, risers)
)
def update_map(year, metric, country):
    q = context.queries()
    if year not in years() or metric not in figures.MAP_METRICS:
        return no_update, no_update, no_update
    year = int(year)
    level, parent = scope(country)
    if ctx.triggered_id in (ids.MAP_YEAR, ids.MAP_METRIC):
        # Year or colour change: send only z and the opacities (and, for a colour change or an admin-1
        # view's own range, the value trace's scale), never the geometry, the hover data or the whole figure.
        values = values_for(metric, level, year, parent)
        patch = map_patch(
            values,
            locations(level, parent),
            list(background(level, parent)["region_id"]),
            metric,
            level,
            figures.scale_range(values, metric, level, q.predictions(level=level, parent=parent)),
            figures.map_title(metric, year, scope_text(level, parent, metric), level),
            style=ctx.triggered_id == ids.MAP_METRIC,
            year_basis=q.year_bases().get(year),
        )
        return patch, note(country, metric, year, values), risers(metric, country, year)
    fig, values = full_figure(year, metric, country)
    return fig, note(country, metric, year, values), risers(metric, country, year)


@callback(
    Output(ids.MAP_SKILL, "children"),
    Output(ids.MAP_WATCHLIST, "children"),
    Output(ids.MAP_YEAR_NOTE, "children"),
    Input(ids.MAP_YEAR, "value"),
    prevent_initial_call=True,  # the layout carries the first year's side content
)
def update_side(year):
    if year not in years():
        return no_update, no_update, no_update
    return side_content(int(year))


def side_content(year: int) -> tuple[list, object, list]:
    """Skill box, watch list and the year's note (window and basis) beside the map for ``year``."""
    q = context.queries()
    note_text = (
        _(  # the window as placeholders: an English "looks at ..." piece inside a translated sentence showed
            "The score for {year} uses inputs dated {year} or earlier and looks at {start}–{end}.",
            year=year,
            start=year + 1,
            end=year + 3,
        )
        if q.watchlist_years()
        else ""
    )
    basis = q.year_bases().get(year, "")
    return (
        skill_box(),
        side_list(year),
        [
            html.Span(note_text),
            " ",
            html.Span(year_basis_text(year), className=f"year-basis basis-{basis}"),
        ],
    )


@callback(
    Output(MAP_HOVER, "children"),
    Input(ids.MAP_GRAPH, "hoverData"),
    State(ids.MAP_YEAR, "value"),
    State(ids.MAP_METRIC, "value"),
    State(ids.MAP_COUNTRY, "value"),
    prevent_initial_call=True,
)
def show_hover(hover, year, metric, country):
    """The hovered shape's details, fetched on hover: this text is never part of a year's Patch."""
    try:
        rid = str(hover["points"][0]["location"])
    except (TypeError, KeyError, IndexError):
        return no_update
    if year not in years() or metric not in figures.MAP_METRICS:
        return no_update
    return hover_details(rid, int(year), metric, country)


def hover_details(rid: str, year: int, metric: str, country: str) -> list:
    """Name, value, rank k of n, basis and drivers of one shape, as the tooltip used to carry them."""
    q = context.queries()
    level, parent = scope(country)
    name = q.region_names().get(rid, rid)
    values = values_for(metric, level, year, parent)
    _z, custom = figures.map_arrays(values, [rid], metric, level)
    if not custom or custom[0] is None:
        if level == 1 and q.region(rid) and q.region(rid).get("level") == 0 and rid != parent:
            return [html.P([html.B(name), " ", _("(neighbouring country, shown for context)")])]
        nodata = figures.metric_meta(metric, level).get("nodata", figures.NO_DATA_TEXT)
        return [html.P([html.B(name), " ", nodata])]
    lines = figures.hover_lines(figures.metric_meta(metric, level)["hover"], custom[0], name)
    row = values[values["region_id"] == rid]
    basis = row["basis"].iloc[0] if metric != "watch" and "basis" in row and len(row) else None
    basis = basis if isinstance(basis, str) else q.year_bases().get(year, "")
    out = [html.B(lines[0] if lines else name), " ", basis_tag(basis)]
    out += [html.Div(line) for line in lines[1:]]
    out += [html.Div(html.B(rank_text(rid, values, metric, level, parent)))]
    tie = tie_text(rid, values, metric, level)
    if tie:
        out.append(html.Div(tie, className="tie-reason"))
    return out


def rank_text(rid: str, values: pd.DataFrame, metric: str, level: int, parent: str | None) -> str:
    """Rank k of n among the shapes of this view (the country's units, or the countries)."""
    column = "share" if metric == "watch" and level == 1 else "estimate_per_100k"
    if metric == "watch" and level == 0:
        column = "percentile"
    k, n = rank_within(values, rid, column)
    if level == 1:
        name = context.queries().region_names().get(parent, parent)
        return _("Rank {k} of {n} units of {country} (1 = highest)", k=k, n=n, country=name)
    return _("Rank {k} of {n} countries (1 = highest)", k=k, n=n)


def tie_text(rid: str, values: pd.DataFrame, metric: str, level: int) -> str:
    """Why a unit shares its value with others; empty when it shares it with none. Units with no
    sub-national data carry the country rate; units with nothing located in the window share the country's
    lowest exposure (both from the downscaling, see docs/MODEL.md)."""
    if level != 1 or metric == "watch" or values.empty:
        return ""
    frame = values.assign(_v=values["estimate_per_100k"].round(6)).set_index("region_id")
    if rid not in frame.index:
        return ""
    group = frame[frame["_v"] == frame.loc[rid, "_v"]]
    same = len(group) - 1
    if same < 1:
        return ""
    if not group["has_subnational_data"].fillna(False).astype(bool).any():
        return _(
            "Same value as {same} other units: none of them has sub-national data, so each carries the"
            " country rate.",
            same=same,
        )
    return _(
        "Same value as {same} other units: nothing is located in them in the window, so they share the"
        " country's lowest exposure.",
        same=same,
    )


clientside_callback(
    ClientsideFunction(namespace="crisisrisk_map", function_name="writeUrl"),
    Output(MAP_URL_SYNC, "children"),
    Input(ids.MAP_COUNTRY, "value"),
    Input(ids.MAP_YEAR, "value"),
    Input(ids.MAP_METRIC, "value"),
)


@callback(
    Output(ids.MAP_NAV, "href"),
    Input(ids.MAP_GRAPH, "clickData"),
    State(ids.MAP_YEAR, "value"),
    prevent_initial_call=True,
)
def open_region(click, year):
    """A click opens the region's page. Through ``href``: the map's own URL is rewritten by map.js
    (history.replaceState), and a Location's pathname/search no longer match the window's then."""
    q = context.queries()
    try:
        rid = click["points"][0]["location"]
    except (TypeError, KeyError, IndexError):
        return no_update
    if q.region(str(rid)) is None:
        return no_update
    return dash.get_relative_path(f"/region/{rid}") + (f"?year={int(year)}" if year else "")


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
    shapes: list[str],
    metric: str,
    level: int,
    zrange: tuple[float, float],
    title: str,
    style: bool = False,
    year_basis: str | None = None,
) -> Patch:
    """The Patch a year change sends: z of both traces, each shape's opacity (its basis) and the title; no
    hover data. ``shapes`` are the grey trace's locations (``background``): its z says which of them it draws
    (those without a value), so a shape that gains or loses a value moves between the traces and is still
    drawn once. An admin-1 view adds its own colour range; a colour change adds the value trace's style."""
    patch = Patch()
    z = figures.map_z(values, locations, metric, level)
    patch["data"][0]["z"] = figures.nodata_z(shapes, locations, z)
    patch["data"][1]["z"] = z
    patch["data"][1]["marker"]["opacity"] = figures.basis_opacity(values, locations, metric, year_basis)
    if style:
        for key, value in figures.value_style(metric, zrange, level).items():
            patch["data"][1][key] = value
        nodata = figures.metric_meta(metric, level).get("nodata", figures.NO_DATA_TEXT)
        patch["data"][0]["name"] = nodata
        patch["data"][0]["hovertemplate"] = (
            _("<b>%{{text}}</b><br>{nodata}", nodata=nodata) + "<extra></extra>"
        )
    elif level == 1:
        patch["data"][1]["zmin"], patch["data"][1]["zmax"] = zrange
        if metric == "estimate":
            ticks, labels = figures.log_ticks(zrange)
            patch["data"][1]["colorbar"]["tickvals"] = ticks
            patch["data"][1]["colorbar"]["ticktext"] = labels
    patch["layout"]["title"]["text"] = title
    return patch


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
