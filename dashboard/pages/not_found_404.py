"""The page for an unknown path (Dash shows the page whose module is named ``not_found_404``)."""

from __future__ import annotations

import dash
from dash import dcc, html

dash.register_page(__name__, path="/not-found-404", nav=False)


def layout(**_query) -> html.Div:
    return html.Div(
        className="card",
        children=[html.H2("Page not found"), html.P(["Go back to the ", dcc.Link("map", href="/"), "."])],
    )
