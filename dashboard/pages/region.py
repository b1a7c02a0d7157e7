"""Region page (``/region/<region_id>``): one country or admin-1 unit, printable as a one-page brief.

It leads with the crisis watch list (rank, expected rise with its interval, drivers, people exposed, basis and
measured skill), then where this population's victims are found abroad (pair model), then detected victims in
the
country as context, with its detection caveat and basis.
"""

from __future__ import annotations

import dash
import pandas as pd
from dash import ClientsideFunction, Input, Output, callback, clientside_callback, dcc, html

from dashboard import context, figures, ids, watch
from dashboard.i18n import _
from dashboard.pages.common import band_class, kpi, no_model_notice, table
from dashboard.pages.glossary import term_link
from dashboard.pages.phases import phase_card  # issue 14
from dashboard.queries import (
    DRIVER_FAMILIES,
    DRIVER_INDICATORS,
    VICTIMS_DETECTED,
    rank_within,
    source_publishers,
)

GRAPH_CONFIG = {"displaylogo": False}


dash.register_page(
    __name__,
    path_template="/region/<region_id>",
    name="Region",
    order=7,
    title="Region profile · crisisrisk",
    description="Crisis watch list, where victims are found, and data for one region",
)


def layout(region_id: str | None = None, year=None, **_query):
    q = context.queries()
    info = q.region(str(region_id)) if region_id else None
    if info is None:
        return html.Div(
            className="card notice",
            children=[
                html.H2("Unknown region"),
                html.P(
                    f"No region with id '{region_id}'. Region ids are ISO3 codes for countries (e.g. SSD) and"
                    " Natural Earth adm1_code values for admin-1 units."
                ),
                dcc.Link("Back to the map", href="/"),
            ],
        )
    level = int(info["level"])
    years = sorted(set(q.years(level) or q.years(0)) | set(q.watchlist_years()))
    if not years:
        return no_model_notice("region profile")
    watch_years = q.watchlist_years()
    pred = q.region_predictions(info["region_id"])
    default = watch_years[-1] if watch_years else years[-1]
    sel = _int(year, default)
    sel = sel if sel in years else default
    name = info["name"]
    crumbs = [dcc.Link("Map", href="/"), " › "]
    if level == 1:
        crumbs += [
            dcc.Link(info.get("parent_name", info["parent_id"]), href=f"/region/{info['parent_id']}"),
            " › ",
        ]
    crumbs.append(name)
    obs = q.observations(info["region_id"])
    drivers = obs[obs["family"].isin(DRIVER_FAMILIES)] if len(obs) else obs
    drivers = figures.pick_driver_series(drivers, DRIVER_INDICATORS, per_family=3, first_year=years[0] - 5)
    labels = obs[obs["indicator"] == VICTIMS_DETECTED] if len(obs) else obs
    coverage = q.coverage(info["region_id"])
    kind = "admin-1 unit" if level == 1 else "country"
    unit_type, region_id = info.get("type") or kind.capitalize(), info["region_id"]
    parent_name = info.get("parent_name")
    # "Country · id {region_id}" is one message for every country (a placeholder for the type would leave
    # "Country" a piece the catalogue extraction cannot match)
    identity = f"Country · id {region_id}" if unit_type == "Country" else f"{unit_type} · id {region_id}"
    return html.Div(
        className="region-page brief",
        children=[
            dcc.Store(id=ids.REGION_STORE, data=info["region_id"]),
            html.Div(className="breadcrumbs no-print", children=crumbs),
            html.Div(
                className="region-head",
                children=[
                    html.Div(
                        [
                            html.H1(name),
                            html.P(
                                className="muted",
                                children=[
                                    identity,
                                    f" · in {parent_name}" if level == 1 else "",
                                    (
                                        " · crisis watch list first; detected victims in the country follow"
                                        " as context"
                                    ),
                                ],
                            ),
                        ]
                    ),
                    html.Div(
                        className="head-controls no-print",
                        children=[
                            html.Label("Year", htmlFor=ids.REGION_YEAR),
                            dcc.Dropdown(
                                id=ids.REGION_YEAR,
                                options=[{"label": str(y), "value": y} for y in years[::-1]],
                                value=sel,
                                clearable=False,
                                className="year-dropdown",
                            ),
                            html.A(
                                "PDF brief (one page)",
                                id=ids.REGION_BRIEF_PDF,
                                className="button",
                                href=f"/region/{info['region_id']}/brief.pdf?year={sel}",
                                target="_blank",
                            ),
                            html.Button("Print this page", id=ids.REGION_PRINT, className="button"),
                            html.Span(id=ids.REGION_PRINT_DUMMY, hidden=True),
                            dcc.Link(
                                "What if? Scenarios",
                                className="button scenarios-link",  # issue 15 (its country)
                                href=f"/scenarios?region={info.get('iso3') or info['region_id']}&year={sel}",
                            ),
                        ],
                    ),
                ],
            ),
            html.Section(
                className="card watch-block",
                children=[
                    html.H2(
                        f"Crisis watch list: {parent_name} (national)" if level == 1 else "Crisis watch list"
                    ),
                    html.Div(id=ids.REGION_WATCH),
                    html.Div(
                        className="grid-2",
                        children=[
                            dcc.Graph(id=ids.REGION_WATCH_DRIVERS, config=GRAPH_CONFIG),
                            dcc.Graph(
                                id=ids.REGION_WATCH_TREND,
                                config=GRAPH_CONFIG,
                                figure=figures.watch_trend_figure(
                                    q.region_watchlist(
                                        info["region_id"] if level == 0 else info["parent_id"]
                                    ),
                                    name,
                                ),
                            ),
                        ],
                    ),
                    *_event_study(q.watchlist_skill()),
                ],
            ),
            *phase_card(q, info["region_id"] if level == 0 else info["parent_id"], sel),  # issue 14
            html.Section(
                className="card",
                hidden=level == 1,
                children=[
                    html.H2(f"Where {name}'s victims are found abroad"),
                    html.P(
                        "Pair model: expected victims of this citizenship detected in each country, with 80%"
                        " intervals, for the years after the last UNODC report (horizon = years after it)."
                        " Receiving countries can use it to plan identification. Countries that never listed"
                        " this citizenship are not shown.",
                        className="note",
                    ),
                    html.P(watch.pair_gate_text(q.watchlist_skill()), className="note"),
                    dcc.Graph(
                        id=ids.REGION_PAIRS,
                        config=GRAPH_CONFIG,
                        figure=_pairs(q, info["region_id"], name) if level == 0 else figures.empty_figure(""),
                    ),
                ],
            ),
            html.H2("Context: where victims are found (detected in the country)", className="section-title"),
            html.P(watch.DETECTED_CAVEAT, className="note caveat"),
            html.Div(id=ids.REGION_KPIS, className="kpis"),
            html.P(_freshness(coverage), className="note print-only"),
            html.Div(
                className="grid-2",
                children=[
                    html.Div(
                        className="card",
                        children=[
                            dcc.Graph(
                                id=ids.REGION_TREND,
                                config=GRAPH_CONFIG,
                                figure=figures.trend_figure(pred, name, admin1=level == 1),
                            ),
                            html.P(_trend_note(pred, labels, level), className="note"),
                        ],
                    ),
                    html.Div(
                        className="card",
                        children=[
                            dcc.Graph(id=ids.REGION_WATERFALL, config=GRAPH_CONFIG),
                            html.P(
                                [
                                    "Each bar is how much one input moves this estimate up (orange) or"
                                    " down (purple), starting from the average of all countries, on the"
                                    " model's log scale. ",
                                    term_link("shap", "What SHAP values are"),
                                    (
                                        " Admin-1 units have no model of their own: these are the country's"
                                        " drivers."
                                        if level == 1
                                        else ""
                                    ),
                                ],
                                className="note",
                            ),
                        ],
                    ),
                ],
            ),
            html.Div(
                className="grid-2",
                children=[
                    html.Div(
                        className="card", children=[dcc.Graph(id=ids.REGION_CHANGED, config=GRAPH_CONFIG)]
                    ),
                    html.Div(
                        className="card no-print",
                        children=[
                            html.H3("Data coverage and freshness"),
                            html.P(
                                "Every indicator the warehouse holds for this region: years covered, number"
                                " of yearly values, source and when it was loaded.",
                                className="note",
                            ),
                            html.Div(
                                id=ids.REGION_COVERAGE, children=_coverage_table(coverage, q.indicators())
                            ),
                        ],
                    ),
                ],
            ),
            html.Div(
                className="card page-break-before",
                children=[
                    dcc.Graph(
                        id=ids.REGION_DRIVERS,
                        config=GRAPH_CONFIG,
                        figure=figures.drivers_figure(drivers, DRIVER_FAMILIES, source_publishers()),
                    ),
                ],
            ),
            html.Div(
                className="card no-print",
                hidden=level == 1,
                children=[
                    dcc.Graph(id=ids.REGION_ADMIN1, config=GRAPH_CONFIG),
                    html.P(
                        "Located drivers of the watch list by admin-1 unit: conflict deaths (UCDP GED) and"
                        f" displaced people (IOM DTM, IDMC), latest value within {watch.ADMIN1_WINDOW} years"
                        " of the year. The watch-list score itself is national.",
                        className="note",
                    ),
                    html.Div(id=ids.REGION_ADMIN1_TABLE),
                ],
            ),
        ],
    )


@callback(
    Output(ids.REGION_WATCH, "children"),
    Output(ids.REGION_WATCH_DRIVERS, "figure"),
    Input(ids.REGION_YEAR, "value"),
    Input(ids.REGION_STORE, "data"),
)
def update_watch(year, region_id):
    q = context.queries()
    info = q.region(str(region_id))
    if info is None or year is None:
        return [], figures.empty_figure("Unknown region or year.")
    year = int(year)
    iso3 = info["region_id"] if int(info["level"]) == 0 else info["parent_id"]
    rows = q.region_watchlist(iso3)
    row = rows[rows["year"] == year]
    n = len(q.watchlist(year))
    skill = q.watchlist_skill()
    block = watch_block(row.iloc[0] if len(row) else None, year, n, skill, q.watchlist_years())
    if int(info["level"]) == 1:
        units = q.admin1_watch(iso3, year)
        unit = units[units["region_id"] == info["region_id"]]
        block.append(html.P(_unit_drivers(unit.iloc[0] if len(unit) else None, year), className="note"))
    drivers = figures.watch_drivers_figure(
        watch.driver_terms(row.iloc[0]["drivers"]) if len(row) else watch.driver_terms([]),
        year,
        str(row.iloc[0]["method"]) if len(row) else "composite",
    )
    return block, drivers


@callback(
    Output(ids.REGION_KPIS, "children"),
    Output(ids.REGION_WATERFALL, "figure"),
    Output(ids.REGION_CHANGED, "figure"),
    Output(ids.REGION_ADMIN1, "figure"),
    Output(ids.REGION_ADMIN1_TABLE, "children"),
    Input(ids.REGION_YEAR, "value"),
    Input(ids.REGION_STORE, "data"),
)
def update_year(year, region_id):
    q = context.queries()
    info = q.region(str(region_id))
    if info is None or year is None:
        blank = figures.empty_figure("Unknown region or year.")
        return [], blank, blank, blank, None
    year = int(year)
    level = int(info["level"])
    pred = q.region_predictions(info["region_id"])
    row = pred[pred["year"] == year]
    peers = q.predictions(level=level, year=year, parent=info["parent_id"] if level == 1 else None)
    n_level = len(peers)
    rank_k, _n = rank_within(peers, info["region_id"])  # k of n among the same peers (a unit: its country's)
    kpis = _kpis(row.iloc[0] if len(row) else None, n_level, level, year, rank_k)
    expl_id = info["region_id"] if level == 0 else info["parent_id"]
    labels = q.feature_labels()
    now = q.explanations(expl_id, year)
    prev = q.explanations(expl_id, year - 1)
    waterfall = figures.waterfall_figure(now, labels, year=year)
    changed = figures.what_changed_figure(now, prev, year)
    if level == 0:
        units = q.predictions(level=1, year=year, parent=info["region_id"])
        admin1 = figures.admin1_watch_figure(q.admin1_watch(info["region_id"], year), info["name"], year)
        admin1_table = _admin1_table(units, year)
    else:
        admin1, admin1_table = figures.empty_figure(""), None
    return kpis, waterfall, changed, admin1, admin1_table


clientside_callback(
    ClientsideFunction(namespace="crisisrisk", function_name="briefHref"),
    Output(ids.REGION_BRIEF_PDF, "href"),
    Input(ids.REGION_YEAR, "value"),
    Input(ids.REGION_STORE, "data"),
    prevent_initial_call=True,
)


clientside_callback(
    ClientsideFunction(namespace="crisisrisk", function_name="printPage"),
    Output(ids.REGION_PRINT_DUMMY, "children"),
    Input(ids.REGION_PRINT, "n_clicks"),
    prevent_initial_call=True,
)


def watch_block(row, year: int, n: int, skill: dict | None, years: list[int]) -> list:
    """The watch-list headline of a region page: rank, rise with interval, people exposed, basis, skill."""
    strength, sentence = watch.skill_text(skill)
    skill_kpi = kpi(
        "Measured skill",
        strength,
        "of the whole list, historically (see below)",
        f"skill-{strength.replace(' ', '-')}",
    )
    if row is None:
        span = f"{years[0]}–{years[-1]}" if years else "no years"
        return [
            html.Div(
                className="kpis",
                children=[
                    kpi(
                        f"Watch list {year}",
                        "not scored",
                        f"no score for {year} (scores cover {span})",
                        "band-none",
                    ),
                    skill_kpi,
                ],
            ),
            html.P(sentence, className="note skill-sentence"),
        ]
    small = bool(row.get("small_population")) if pd.notna(row.get("small_population")) else False
    items = [
        kpi(
            f"Watch-list rank {year}",
            f"{int(row['rank'])} of {n}",
            f"percentile {row['percentile']:.0f} · 1 = strongest expected rise · {watch.window_text(year)}",
            "watch-rank",
        ),
        kpi(
            "Expected rise (ratio)",
            f"×{row['rise_factor']:.2f}",
            f"80% interval ×{row['lower']:.2f}–×{row['upper']:.2f}: nationals detected as trafficking victims"
            " abroad, next three years against the last three",
        ),
        kpi("Top driver", row.get("top_driver") or "no rising crisis driver", "", "kpi-text"),
        skill_kpi,
    ]
    return [
        html.Div(className="kpis", children=items),
        html.P(
            [
                html.B("People exposed: "),
                str(row.get("people_exposed") or "no displacement figures"),
                " (persons, with the year of each figure)."
                + (" Population under 100,000: rates are noisy." if small else ""),
            ],
            className="people",
        ),
        html.P(
            [
                html.B("Basis (input years): "),
                str(row.get("basis") or "not recorded"),
                f". Method: {row.get('method')}.",
            ],
            className="note basis",
        ),
        html.P(sentence, className="note skill-sentence"),
    ]


def _event_study(skill: dict | None) -> list:
    """The event-study curve behind the measured skill, when the run stored one."""
    points = (skill or {}).get("event_study")
    if not points:
        return []
    return [
        html.Details(
            className="event-study",
            children=[
                html.Summary(
                    "Event study: nationals detected abroad around refugee-outflow surges (the evidence"
                    " behind the drivers)"
                ),
                dcc.Graph(figure=figures.event_study_figure(points), config=GRAPH_CONFIG),
            ],
        )
    ]


def _unit_drivers(unit, year: int) -> str:
    if unit is None or not bool(unit.get("located")):
        start = year - watch.ADMIN1_WINDOW
        return (
            f"This unit: no conflict deaths or displacement located in {start}–{year} "
            "(no data, not a measured zero)."
        )
    share = f"{unit['share']:.1f}"
    deaths = figures._count_year(unit, "deaths", "deaths")
    displaced = figures._count_year(unit, "displaced", "people")
    return (
        f"This unit holds {share}% of the country's located crisis drivers: conflict deaths {deaths};"
        f" displaced {displaced}."
    )


def _pairs(q, iso3: str, name: str):
    pairs = q.pair_predictions(citizenship=iso3)
    if pairs.empty:
        return figures.pairs_figure(pairs)
    first = int(pairs["year"].min())  # the shortest horizon: the first year after the last report
    return figures.pairs_figure(pairs[pairs["year"] == first], name, first)


def _kpis(row, n_level: int, level: int, year: int, rank_k: int = 0) -> list:
    if row is None:
        return [
            kpi("Where victims are found", "no data", f"no detected-victims estimate for {year}", "band-none")
        ]
    change = row.get("score_change")
    label = row.get("label_per_100k")
    items = [
        kpi(
            f"Where victims are found {year}",
            f"{row['risk_score']:.0f} / 100",
            f"{row['risk_band']} · risk-score percentile of detected victims",
            f"{band_class(row['risk_band'])} {basis_class(row)}",
        ),
        kpi(
            "Estimate (detected victims)",
            _("{value} per 100,000 people", value=figures.sig(row["estimate_per_100k"])),
            _(
                "victims detected; 80% interval {lower}–{upper} per 100,000 people",
                lower=figures.sig(row["lower_per_100k"]),
                upper=figures.sig(row["upper_per_100k"]),
            ),
        ),
        kpi(
            "Rank",
            f"{rank_k} of {n_level}" if rank_k else "n/a",
            "1 = highest risk" + (" among the country's units" if level == 1 else " among countries"),
        ),
        kpi(
            "Change since previous year",
            "n/a" if pd.isna(change) else f"{change:+.0f} points",
            "in risk score",
        ),
        kpi(
            "Basis",
            str(row.get("basis")) if pd.notna(row.get("basis")) else "not recorded",
            (
                figures.detected_basis_text(row).split("(", 1)[-1].rstrip(")")
                if pd.notna(row.get("basis"))
                else "this model run stored no basis"
            ),
            basis_class(row),
        ),
    ]
    if level == 0:
        items.append(
            kpi(
                "Detected victims (observed)",
                (
                    "not reported"
                    if pd.isna(label)
                    else _("{value} per 100,000 people", value=figures.sig(label))
                ),
                "UNODC GLOTIP, same year",
            )
        )
    else:
        items.append(
            kpi(
                "Method",
                "downscaled",
                "country estimate × exposure index"
                + ("" if row.get("has_subnational_data") else "; no sub-national data: country rate"),
            )
        )
    return items


def basis_class(row) -> str:
    """CSS class of a card by its estimate's basis (map.css: checked plain, nowcast dotted, projection
    hatched), so a projection never looks like a checked year."""
    basis = row.get("basis") if row is not None else None
    return f"basis-card basis-{basis}" if isinstance(basis, str) and basis else ""


def _trend_note(pred: pd.DataFrame, labels: pd.DataFrame, level: int) -> str:
    known = int(pred["label_per_100k"].notna().sum()) if "label_per_100k" in pred else 0
    if level == 1:
        return (
            "Admin-1 estimates are downscaled from the country; no public sub-national trafficking count"
            " exists."
        )
    return (
        f"Band = 80% prediction interval. Detected victims (diamonds) are known for {known} of "
        f"{len(pred)} predicted years; {len(labels)} yearly GLOTIP counts in the warehouse."
    )


def _freshness(cov: pd.DataFrame) -> str:
    """One line for the printed brief: latest year of data per family, and when it was loaded."""
    if cov.empty:
        return "Data: no observations for this region in the warehouse."
    latest = cov.groupby("family")["last"].max().sort_index()
    loaded = max((v for v in cov["loaded_at"] if v), default=None)
    parts = ", ".join(f"{fam} {int(year)}" for fam, year in latest.items())
    return f"Latest data year by family: {parts}. Last load {str(loaded)[:10] if loaded else 'unknown'}."


def _coverage_table(cov: pd.DataFrame, indicators: pd.DataFrame | None = None):
    """Coverage per indicator, named by its description and unit (its code where it has no description)."""
    if cov.empty:
        return html.P("No observations for this region in the warehouse.", className="note")
    cov = cov.copy()
    if indicators is not None and len(indicators):
        meta = indicators.set_index("code")
        codes = cov["indicator"]
        cov["indicator"] = codes.map(meta["description"]).fillna(codes)
        cov.insert(1, "unit", codes.map(meta["unit"]).fillna(""))
    frame = cov.rename(
        columns={
            "indicator": "Indicator",
            "unit": "Unit",
            "family": "Family",
            "source": "Source",
            "first": "From",
            "last": "To",
            "n": "Values",
            "loaded_at": "Loaded (UTC)",
        }
    )
    return table(ids.REGION_COVERAGE + "-table", frame, page_size=12, sort_action="native")


def _admin1_table(units: pd.DataFrame, year: int):
    if units.empty:
        return html.P("No admin-1 estimates for this country.", className="note")
    rows = units.sort_values("rank")
    tied = rows["estimate_per_100k"].round(6).value_counts()
    tie_note = (
        f" {int(tied.iloc[0])} units share one value: nothing is located in them in the three years before "
        f"{year}, so they share the country's lowest exposure."
        if len(tied) and tied.iloc[0] > 1
        else ""
    )
    return html.Details(
        className="no-print",
        children=[
            html.Summary(
                f"Where victims are found, downscaled: all {len(rows)} admin-1 units, {year} (detected"
                " victims per 100k, country estimate × exposure index)." + tie_note
            ),
            html.Ul(
                className="columns",
                children=[
                    html.Li(
                        [
                            dcc.Link(r.region_name, href=f"/region/{r.region_id}?year={year}"),
                            f" {r.estimate_per_100k:.2f} per 100k (score {r.risk_score:.0f})"
                            + (
                                ""
                                if r.has_subnational_data
                                else " · country rate (no located data in the country)"
                            ),
                        ]
                    )
                    for r in rows.itertuples()
                ],
            ),
        ],
    )


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
