"""Small layout helpers shared by the pages."""

from __future__ import annotations

from dash import dash_table, dcc, html

FONT_STACK = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TABLE_STYLE = dict(
    style_table={"overflowX": "auto"},
    style_cell={
        "fontFamily": FONT_STACK,
        "fontSize": "13px",
        "padding": "4px 8px",
        "textAlign": "left",
        "whiteSpace": "normal",
        "height": "auto",
        "minWidth": "70px",
        "maxWidth": "420px",
    },
    style_header={
        "fontFamily": FONT_STACK,
        "fontWeight": "600",
        "backgroundColor": "#f2f4f7",
        "whiteSpace": "normal",
        "height": "auto",
    },
    style_data_conditional=[{"if": {"row_index": "odd"}, "backgroundColor": "#fafbfc"}],
)


def no_model_notice(page: str) -> html.Div:
    return html.Div(
        className="card notice",
        children=[
            html.H2("No model deployed yet"),
            html.P(f"The {page} needs a deployed model's predictions. Load the data and train a model:"),
            html.Pre("crisisrisk etl run\ncrisisrisk model train", className="code"),
            html.P(
                [
                    "or run ",
                    html.Code("crisisrisk up"),
                    ", which does both and then serves this dashboard. The ",
                    dcc.Link("Data", href="/data"),
                    " page works without a model.",
                ]
            ),
        ],
    )


def year_marks(years: list[int]) -> dict:
    step = 1 if len(years) <= 12 else (2 if len(years) <= 24 else 5)
    return {int(y): {"label": str(y)} for i, y in enumerate(years) if i % step == 0 or y == years[-1]}


def kpi(label: str, value: str, sub: str = "", cls: str = "") -> html.Div:
    return html.Div(
        className=f"kpi {cls}".strip(),
        children=[
            html.Div(label, className="kpi-label"),
            html.Div(value, className="kpi-value"),
            html.Div(sub, className="kpi-sub") if sub else None,
        ],
    )


def table(
    id_: str, frame, columns: list[dict] | None = None, page_size: int = 15, **kwargs
) -> dash_table.DataTable:
    cols = columns or [{"name": c, "id": c} for c in frame.columns]
    return dash_table.DataTable(
        id=id_, data=frame.to_dict("records"), columns=cols, page_size=page_size, **{**TABLE_STYLE, **kwargs}
    )


def band_class(band: str | None) -> str:
    return "band-" + (band or "none").replace(" ", "-")
