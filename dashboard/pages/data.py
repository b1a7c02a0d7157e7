"""Data page (``/data``): every source with publisher, licence, years, rows, last load and rejected rows."""

from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html

from dashboard import context, ids
from dashboard.pages.common import table

ALL = "__all__"
SOURCE_COLUMNS = [
    ("source", "Source"),
    ("publisher", "Publisher"),
    ("licence", "Licence"),
    ("coverage", "Coverage"),
    ("years", "Years"),
    ("files", "Files"),
    ("rows_read", "Rows read"),
    ("rows_loaded", "Rows loaded"),
    ("rows_rejected", "Rows rejected"),
    ("observations", "Observations"),
    ("last_load", "Last load (UTC)"),
    ("loads_total", "Loads (all time)"),
    ("status", "Status"),
]


dash.register_page(
    __name__,
    path="/data",
    name="Data",
    order=5,
    title="Data · crisisrisk",
    description="Sources, licences, loads and rejected rows",
)


def layout(**_query):
    summary = context.queries().source_summary()
    frame = summary[[c for c, _ in SOURCE_COLUMNS]].copy()
    # "2026-12-01T23:22:12.123456" took a wide column for seconds nobody reads: minutes, no T
    frame["last_load"] = frame["last_load"].map(lambda v: str(v)[:16].replace("T", " ") if v else v)
    cols = [
        {
            "name": label,
            "id": c,
            "type": (
                "numeric"
                if c in ("files", "rows_read", "rows_loaded", "rows_rejected", "observations", "loads_total")
                else "text"
            ),
        }
        for c, label in SOURCE_COLUMNS
    ]
    for c in cols:
        if c["type"] == "numeric":
            c["format"] = {"specifier": ","}
    total_read = int(summary["rows_read"].sum())
    total_rej = int(summary["rows_rejected"].sum())
    options = [{"label": "All sources", "value": ALL}] + [
        {"label": f"{s} ({n:,} rejected)", "value": s}
        for s, n in zip(summary["source"], summary["rows_rejected"], strict=True)
        if n > 0
    ]
    return html.Div(
        className="data-page",
        children=[
            html.H1("Data: sources, loads and rejected rows"),
            html.P(
                f"{len(summary)} registered sources; current loads read {total_read:,} rows, loaded "
                f"{total_read - total_rej:,} and rejected {total_rej:,} (rows read = loaded + rejected, for "
                "every load). Rejected rows are kept with their reason; nothing is dropped silently.",
                className="note",
            ),
            html.Div(
                className="card",
                children=[
                    table(
                        ids.DATA_SOURCES,
                        frame,
                        columns=cols,
                        page_size=50,
                        sort_action="native",
                        tooltip_data=[
                            {"source": {"value": t, "type": "text"}} for t in summary["title"].fillna("")
                        ],
                        tooltip_delay=300,
                        tooltip_duration=None,
                        # every column fits a 1440 px screen (the right-hand ones were cut off); phones
                        # scroll the table inside its card
                        style_cell_conditional=[
                            {"if": {"column_id": "coverage"}, "minWidth": "180px", "maxWidth": "260px"},
                            {"if": {"column_id": "licence"}, "minWidth": "150px", "maxWidth": "220px"},
                            {"if": {"column_id": "publisher"}, "minWidth": "150px", "maxWidth": "220px"},
                            {"if": {"column_id": "last_load"}, "minWidth": "96px"},
                            *[
                                {"if": {"column_id": c}, "minWidth": "58px"}
                                for c in ("files", "rows_read", "rows_loaded", "rows_rejected", "loads_total")
                            ],
                        ],
                        style_data_conditional=[
                            {
                                "if": {"filter_query": '{status} = "not loaded"'},
                                "color": "#8a6d00",
                                "fontStyle": "italic",
                            }
                        ],
                    ),
                ],
            ),
            html.Div(
                className="card",
                children=[
                    html.H3("Rejected rows"),
                    html.Div(
                        className="control inline",
                        children=[
                            html.Label("Source", htmlFor=ids.DATA_REJECT_SOURCE),
                            dcc.Dropdown(
                                id=ids.DATA_REJECT_SOURCE, options=options, value=ALL, clearable=False
                            ),
                        ],
                    ),
                    html.Div(
                        className="grid-2 wide-right",
                        children=[
                            html.Div(id=ids.DATA_REJECT_REASONS),
                            html.Div(id=ids.DATA_REJECT_EXAMPLES),
                        ],
                    ),
                ],
            ),
        ],
    )


@callback(
    Output(ids.DATA_REJECT_REASONS, "children"),
    Output(ids.DATA_REJECT_EXAMPLES, "children"),
    Input(ids.DATA_REJECT_SOURCE, "value"),
)
def update_rejected(source):
    q = context.queries()
    src = None if source in (None, ALL) else source
    reasons = q.rejected_reasons(src)
    examples = q.rejected_examples(src)
    if reasons.empty:
        return html.P("No rejected rows in the current loads.", className="note"), None
    reasons = reasons.rename(columns={"source": "Source", "reason_code": "Reason", "rows": "Rows"})
    ex = examples.rename(
        columns={
            "source": "Source",
            "file": "File",
            "row_number": "Row",
            "reason_code": "Reason",
            "reason": "Detail",
            "raw": "Raw row (truncated)",
        }
    )
    return (
        [
            html.H4("Count by reason"),
            table(ids.DATA_REJECT_REASONS + "-table", reasons, page_size=15, sort_action="native"),
        ],
        [
            html.H4("Examples (first rows per reason)"),
            table(
                ids.DATA_REJECT_EXAMPLES + "-table",
                ex,
                page_size=10,
                style_cell={**_cell(), "fontFamily": "ui-monospace, monospace", "fontSize": "12px"},
            ),
        ],
    )


def _cell() -> dict:
    from dashboard.pages.common import TABLE_STYLE

    return dict(TABLE_STYLE["style_cell"])
