"""The shared context of the pages: the query layer, the geometry store and the settings of the serving app.

Pages are modules (Dash Pages), imported once per process, but one process may build several apps, each over
its
own warehouse (tests, the benchmark). So a page never keeps the context in a module variable: it asks for the
context of the app that serves the request, ``current()``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app, has_app_context

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dashboard.geometry import GeometryStore
    from dashboard.queries import Queries

EXTENSION = "crisisrisk"  # the key of the context in ``Flask.extensions``


@dataclass
class AppContext:
    """What the pages and the API share: the query layer, the geometry store and the settings."""

    queries: Queries
    geometry: GeometryStore
    config: dict = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    @property
    def engine(self) -> Engine:
        return self.queries.engine


def install(server: Flask, ctx: AppContext) -> None:
    """Attach ``ctx`` to the app's Flask server (``create_app`` does this once per app)."""
    server.extensions[EXTENSION] = ctx


def current() -> AppContext:
    """The context of the app serving this request (or of the app whose ``app_context()`` is pushed)."""
    if not has_app_context():
        raise RuntimeError(
            "dashboard.context.current() needs an app context: pages read the context of the app "
            "serving the request; outside a request use `with app.server.app_context():`"
        )
    return current_app.extensions[EXTENSION]


def queries() -> Queries:
    """The query layer of the serving app: the only way a page reaches the warehouse."""
    return current().queries
