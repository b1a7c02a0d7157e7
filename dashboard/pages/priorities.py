"""Priorities page (``/priorities``): the donor table ranked by the crisis watch list, and its downloads.

Countries are ranked by the watch list (expected rise of a population's nationals detected as trafficking
victims
abroad) with people exposed, funding coverage and a detection-gap column. The detected-victims tables ("where
victims are found", countries and downscaled admin-1 units) stay as other views.
"""

from __future__ import annotations

import dash
import pandas as pd
from dash import Input, Output, State, callback, dash_table, dcc, html, no_update
from dash.dash_table.Format import Format, Group, Scheme

from dashboard import context, ids, watch
from dashboard.exports import to_csv, to_watch_csv
from dashboard.figures import BAND_COLOURS, BAND_TEXT_COLOURS
from dashboard.pages.common import TABLE_STYLE, no_model_notice

WATCH_VIEW = 0  # countries ranked by the watch list (the headline)
DETECTED_COUNTRIES = 2  # countries: where victims are found (detected-victims model)
LEVEL_OPTIONS = [
    {"label": "Countries: crisis watch list", "value": WATCH_VIEW},
    {"label": "Countries: where victims are found (detected)", "value": DETECTED_COUNTRIES},
    {"label": "Admin-1 units: where victims are found (downscaled)", "value": 1},
]
# Per-capita rates of very small populations are noisy. The watch list ranks changes, not rates, so every
# country
# is shown by default and populations under 100,000 are flagged; the filter hides small ones on request.
MIN_POPULATION_OPTIONS = [
    {"label": "all", "value": 0},
    {"label": "≥ 100,000", "value": 100_000},
    {"label": "≥ 1 million", "value": 1_000_000},
]
DEFAULT_MIN_POPULATION = 0


dash.register_page(
    __name__,
    path="/priorities",
    name="Priorities",
    order=1,
    title="Priorities · crisisrisk",
    description="Donor table: crisis watch list, people exposed, funding, detection gap",
)


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
        {
            "name": ["Risk of detected trafficking", "Score (0–100)"],
            "id": "risk_score",
            "type": "numeric",
            "format": _num(0),
        },
        {"name": ["Risk of detected trafficking", "Band"], "id": "risk_band"},
        {
            "name": ["Risk of detected trafficking", "Estimate (victims per 100k)"],
            "id": "estimate_per_100k",
            "type": "numeric",
            "format": _num(2),
        },
        {"name": ["Risk of detected trafficking", "80% interval (per 100k)"], "id": "interval"},
        {
            "name": ["Risk of detected trafficking", "Change (points)"],
            "id": "score_change",
            "type": "numeric",
            "format": _num(0, sign=True),
        },
        {"name": ["Risk of detected trafficking", "UNODC reporting"], "id": "reporting_history"},
        {
            "name": ["People displaced (persons)", "Refugees originating"],
            "id": "refugees_origin",
            "type": "numeric",
            "format": _num(0),
        },
        {
            "name": ["People displaced (persons)", "Refugees hosted"],
            "id": "refugees_hosted",
            "type": "numeric",
            "format": _num(0),
        },
        {
            "name": ["People displaced (persons)", "Conflict IDPs"],
            "id": "idps",
            "type": "numeric",
            "format": _num(0),
        },
        {
            "name": ["People displaced (persons)", "Data year"],
            "id": "displacement_data_year",
            "type": "numeric",
        },
        {
            "name": ["Humanitarian funding (OCHA FTS)", "Requirements (USD)"],
            "id": "fts_requirements_usd",
            "type": "numeric",
            "format": _num(0),
        },
        {
            "name": ["Humanitarian funding (OCHA FTS)", "Funding (USD)"],
            "id": "fts_funding_usd",
            "type": "numeric",
            "format": _num(0),
        },
        {
            "name": ["Humanitarian funding (OCHA FTS)", "Coverage (%)"],
            "id": "fts_coverage_pct",
            "type": "numeric",
            "format": _num(1),
        },
        {"name": ["Humanitarian funding (OCHA FTS)", "Plan year"], "id": "fts_year", "type": "numeric"},
    ]
    return cols


def watch_columns() -> list[dict]:
    """Columns of the watch-list table; every number names its unit, every figure its year."""
    return [
        {"name": ["Crisis watch list", "Rank"], "id": "rank", "type": "numeric"},
        {"name": ["Crisis watch list", "Country"], "id": "region_name", "presentation": "markdown"},
        {"name": ["Crisis watch list", "Expected rise (×, 80% interval)"], "id": "rise_text"},
        {"name": ["Crisis watch list", "Top driver"], "id": "top_driver"},
        {
            "name": ["People exposed (persons, year)", "Refugees and asylum-seekers abroad"],
            "id": "abroad_text",
        },
        {"name": ["People exposed (persons, year)", "Conflict IDPs"], "id": "idps_text"},
        {"name": ["People exposed (persons, year)", "Hosted"], "id": "hosted_text"},
        {
            "name": ["Humanitarian funding (OCHA FTS)", "Coverage (%)"],
            "id": "fts_coverage_pct",
            "type": "numeric",
            "format": _num(1),
        },
        {
            "name": ["Humanitarian funding (OCHA FTS)", "Requirements (USD)"],
            "id": "fts_requirements_usd",
            "type": "numeric",
            "format": _num(0),
        },
        {"name": ["Humanitarian funding (OCHA FTS)", "Plan year"], "id": "fts_year", "type": "numeric"},
        {"name": ["Detection at home", "Detection gap"], "id": "detection_gap"},
        {"name": ["Detection at home", "Evidence (year)"], "id": "detection_evidence"},
        {"name": ["", "Population"], "id": "population_text"},
        {"name": ["", "Basis (input years)"], "id": "basis"},
    ]


def _count(value, year) -> str:
    if value is None or pd.isna(value):
        return "no data"
    return f"{watch.people(value)} ({int(year)})" if pd.notna(year) else watch.people(value)


def watch_records(frame: pd.DataFrame) -> list[dict]:
    """Table rows of the watch list: texts with units and years, links to the region pages."""
    out = frame.copy()
    out["rise_text"] = [
        watch.rise_text(r, lo, hi)
        for r, lo, hi in zip(out["rise_factor"], out["lower"], out["upper"], strict=True)
    ]
    out["abroad_text"] = [
        _count(v, y) for v, y in zip(out["displaced_abroad"], out["displaced_abroad_year"], strict=True)
    ]
    out["idps_text"] = [_count(v, y) for v, y in zip(out["idps"], out["idps_year"], strict=True)]
    out["hosted_text"] = [_count(v, y) for v, y in zip(out["hosted"], out["hosted_year"], strict=True)]
    out["population_text"] = [
        ("no data" if pd.isna(p) else watch.people(p)) + (" · under 100,000" if s else "")
        for p, s in zip(out["population"], out["small_population"].fillna(False), strict=True)
    ]
    out["region_name"] = [
        f"[{n}](/region/{r}?year={y})"
        for n, r, y in zip(out["region_name"], out["region_id"], out["year"], strict=True)
    ]
    keep = [c["id"] for c in watch_columns()] + ["small_population", "region_id", "year"]
    out = out[keep].astype(object).where(out[keep].notna(), None)
    return out.to_dict("records")


def table_records(frame) -> list[dict]:
    out = frame.copy()
    out["interval"] = [
        f"{lo:.2f}–{hi:.2f}" for lo, hi in zip(out["lower_per_100k"], out["upper_per_100k"], strict=True)
    ]
    out["region_name"] = [
        f"[{n}](/region/{r}?year={y})"
        for n, r, y in zip(out["region_name"], out["region_id"], out["year"], strict=True)
    ]
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")


def layout(**query):
    q = context.queries()
    years = sorted(set(q.years(0)) | set(q.watchlist_years()))
    if not years:
        return no_model_notice("priorities table")
    default = q.watchlist_years()[-1] if q.watchlist_years() else years[-1]
    year = _int(query.get("year"), default)
    year = year if year in years else default
    strength, sentence = watch.skill_text(q.watchlist_skill())
    return html.Div(
        className="priorities-page",
        children=[
            html.H1("Priorities: where is trafficking of crisis-affected people expected to rise?"),
            html.P(
                [
                    "Ranked by the ",
                    html.B("crisis watch list"),
                    (
                        ": the expected rise of each population's nationals detected as trafficking victims"
                        " abroad over the three years after the score year, against its own last three years."
                        " People exposed are absolute numbers with the year of each figure; funding is OCHA"
                        " FTS (latest plan at most two years old). "
                    ),
                    html.B(f"Measured skill: {strength}. "),
                    sentence,
                ],
                className="note",
            ),
            html.Div(
                id=ids.PRIO_LEGEND,
                className="legend card",
                children=[
                    html.P([html.B("Detection gap. "), watch.DETECTION_GAP_DEFINITION.split(": ", 1)[1]]),
                    html.P(
                        "'yes': weak detection at home; 'no': a rising score with adequate detection;"
                        " 'unknown': no TIP tier or prosecution count in the window; 'not rising': outside"
                        " the top quarter. Countries under 100,000 people are flagged in the Population"
                        " column. The 'where victims are found' views rank detected victims, which follow"
                        " detection capacity: context, not risk."
                    ),
                ],
            ),
            html.Div(
                className="controls card",
                children=[
                    html.Div(
                        className="control",
                        children=[
                            html.Label("Year", htmlFor=ids.PRIO_YEAR),
                            dcc.Dropdown(
                                id=ids.PRIO_YEAR,
                                options=[{"label": str(y), "value": y} for y in years[::-1]],
                                value=year,
                                clearable=False,
                            ),
                        ],
                    ),
                    html.Div(
                        className="control",
                        children=[
                            html.Label("Table", htmlFor=ids.PRIO_LEVEL),
                            dcc.RadioItems(
                                id=ids.PRIO_LEVEL,
                                options=LEVEL_OPTIONS,
                                value=WATCH_VIEW,
                                className="radio-row",
                                inline=True,
                            ),
                        ],
                    ),
                    html.Div(
                        className="control",
                        children=[
                            html.Label("Minimum population (countries)", htmlFor=ids.PRIO_MIN_POP),
                            dcc.RadioItems(
                                id=ids.PRIO_MIN_POP,
                                options=MIN_POPULATION_OPTIONS,
                                value=DEFAULT_MIN_POPULATION,
                                inline=True,
                                className="radio-row",
                            ),
                        ],
                    ),
                    html.Div(
                        className="control downloads",
                        children=[
                            html.Button("Download CSV", id=ids.PRIO_CSV, className="button"),
                            html.Button(
                                "Download CSV with HXL hashtags", id=ids.PRIO_HXL, className="button"
                            ),
                            dcc.Download(id=ids.PRIO_DOWNLOAD),
                        ],
                    ),
                ],
            ),
            html.P(id=ids.PRIO_COUNT, className="note"),
            dash_table.DataTable(
                id=ids.PRIO_TABLE,
                columns=watch_columns(),
                data=[],
                merge_duplicate_headers=True,
                tooltip_header={
                    "detection_gap": watch.DETECTION_GAP_DEFINITION,
                    "rise_text": (
                        "Expected ratio of nationals detected as trafficking victims abroad, "
                        "next three years against the last three, with its 80% interval"
                    ),
                    "basis": "The input years the score rests on",
                },
                tooltip_delay=0,
                tooltip_duration=None,
                sort_action="native",
                filter_action="native",
                page_action="native",
                page_size=25,
                markdown_options={"link_target": "_self"},
                sort_by=[{"column_id": "rank", "direction": "asc"}],
                style_cell_conditional=[
                    {"if": {"column_id": "rise_text"}, "minWidth": "150px"},
                    {"if": {"column_id": "top_driver"}, "minWidth": "200px"},
                    {"if": {"column_id": "detection_evidence"}, "minWidth": "170px", "fontSize": "12px"},
                    {"if": {"column_id": "basis"}, "minWidth": "220px", "fontSize": "11px"},
                ]
                + [
                    {"if": {"column_id": c}, "textAlign": "right"}
                    for c in (
                        "rank",
                        "risk_score",
                        "estimate_per_100k",
                        "interval",
                        "score_change",
                        "refugees_origin",
                        "refugees_hosted",
                        "idps",
                        "fts_requirements_usd",
                        "fts_funding_usd",
                        "fts_coverage_pct",
                    )
                ],
                style_data_conditional=TABLE_STYLE["style_data_conditional"]
                + [
                    {
                        "if": {"filter_query": '{risk_band} = "very high"', "column_id": "risk_band"},
                        "backgroundColor": BAND_COLOURS["very high"],
                        "color": BAND_TEXT_COLOURS["very high"],
                        "fontWeight": "600",
                    },
                    {
                        "if": {"filter_query": '{risk_band} = "high"', "column_id": "risk_band"},
                        "backgroundColor": BAND_COLOURS["high"],
                        "color": BAND_TEXT_COLOURS["high"],
                    },
                    {
                        "if": {"filter_query": "{score_change} > 0", "column_id": "score_change"},
                        "color": "#b35806",
                    },
                    {
                        "if": {"filter_query": "{score_change} < 0", "column_id": "score_change"},
                        "color": "#542788",
                    },
                    {
                        "if": {"filter_query": '{detection_gap} = "yes"', "column_id": "detection_gap"},
                        "backgroundColor": "#fdb863",
                        "fontWeight": "600",
                    },
                    {
                        "if": {"filter_query": "{small_population} = true", "column_id": "population_text"},
                        "fontStyle": "italic",
                        "color": "#8c510a",
                    },
                ],
                **{k: v for k, v in TABLE_STYLE.items() if k != "style_data_conditional"},
                style_as_list_view=False,
            ),
        ],
    )


@callback(
    Output(ids.PRIO_TABLE, "data"),
    Output(ids.PRIO_TABLE, "columns"),
    Output(ids.PRIO_COUNT, "children"),
    Input(ids.PRIO_YEAR, "value"),
    Input(ids.PRIO_LEVEL, "value"),
    Input(ids.PRIO_MIN_POP, "value"),
)
def update_table(year, level, min_pop):
    q = context.queries()
    if year is None or level not in (WATCH_VIEW, 1, DETECTED_COUNTRIES):
        return no_update, no_update, no_update
    if level == WATCH_VIEW and q.watchlist_years():
        full = q.watch_priorities(int(year))
        frame = filter_population(full, 0, int(min_pop or 0))
        gaps = int((frame["detection_gap"] == "yes").sum()) if len(frame) else 0
        count = (
            f"{len(frame)} countries on the watch list for score year {year} ({watch.window_text(int(year))})"
            f"; {gaps} with a detection gap; {int(frame['small_population'].fillna(False).sum())} under "
            "100,000 people."
            if len(frame)
            else f"No watch-list scores for {year}."
        )
        return watch_records(frame), watch_columns(), count
    level = 0 if level in (WATCH_VIEW, DETECTED_COUNTRIES) else 1
    full = q.priorities(int(year), int(level))
    frame = filter_population(full, int(level), int(min_pop or 0))
    what = "countries" if level == 0 else "admin-1 units"
    hidden = len(full) - len(frame)
    count = (
        f"{len(frame)} {what} with a prediction for {year}"
        + (
            f" ({hidden} smaller countries and territories hidden by the population filter). "
            if hidden
            else ". "
        )
        + "Displacement known for"
        f" {int(frame[['refugees_origin', 'refugees_hosted', 'idps']].notna().any(axis=1).sum())}, FTS"
        f" funding for {int(frame['fts_requirements_usd'].notna().sum())}."
    )
    return table_records(frame), columns(int(level)), count


@callback(
    Output(ids.PRIO_DOWNLOAD, "data"),
    Input(ids.PRIO_CSV, "n_clicks"),
    Input(ids.PRIO_HXL, "n_clicks"),
    State(ids.PRIO_YEAR, "value"),
    State(ids.PRIO_LEVEL, "value"),
    State(ids.PRIO_MIN_POP, "value"),
    prevent_initial_call=True,
)
def download(_csv, _hxl, year, level, min_pop):
    q = context.queries()
    if year is None or level not in (WATCH_VIEW, 1, DETECTED_COUNTRIES):
        return no_update
    hxl = dash.ctx.triggered_id == ids.PRIO_HXL
    if level == WATCH_VIEW and q.watchlist_years():
        frame = filter_population(q.watch_priorities(int(year)), 0, int(min_pop or 0))
        name = f"crisisrisk_watchlist_{year}{'_hxl' if hxl else ''}.csv"
        return {"content": to_watch_csv(frame, hxl=hxl), "filename": name, "type": "text/csv"}
    level = 0 if level in (WATCH_VIEW, DETECTED_COUNTRIES) else 1
    frame = filter_population(q.priorities(int(year), int(level)), int(level), int(min_pop or 0))
    name = (
        f"crisisrisk_priorities_{'countries' if level == 0 else 'admin1'}_{year}{'_hxl' if hxl else ''}.csv"
    )
    return {"content": to_csv(frame, int(level), hxl=hxl), "filename": name, "type": "text/csv"}


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
