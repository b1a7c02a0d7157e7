"""The Dash application: the page shell, the pages, the geometry route and the JSON API.

Everything is served by the app itself (scripts, CSS, geometry); nothing is fetched from another host.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import dash
from dash import Dash, dcc, html
from sqlalchemy import Engine

from dashboard import ids
from dashboard.geometry import GeometryStore
from dashboard.geometry import blueprint as geometry_blueprint
from dashboard.queries import Queries

log = logging.getLogger(__name__)
ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_CONFIG = {
    "cache_ttl_s": 5.0,  # how often the warehouse version (deployed run + loads) is re-read
    "title": "crisisrisk: risk of detected trafficking in humanitarian crises",
    "migrate": True,  # bring an empty database to the current schema on start
    "gzip": True,  # compress JSON callback and API answers
    # access control (dashboard.auth); None = from the environment
    "env": None,  # CRISISRISK_ENV: production refuses to start without a secret key; default development
    "secret_key": None,  # CRISISRISK_SECRET_KEY
    "public_read": None,  # CRISISRISK_PUBLIC_READ: read-only pages and GET API without login
    "https": None,  # CRISISRISK_HTTPS: Secure cookies (also set per request when it came over HTTPS)
    "stale_job_minutes": 120,  # a 'running' job older than this at start-up is from a dead process
}
NAV_LINKS = [("Map", "/"), ("Priorities", "/priorities"), ("Model", "/model"), ("Data", "/data")]


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


def user_box() -> html.Div:
    """Who is signed in, with a sign-out form (a POST with the CSRF token), or a sign-in link."""
    from dashboard import auth

    principal = auth.current_principal()
    if principal is None:
        return html.Div(id=ids.USER_BOX, className="user-box", children=[
            html.A("Sign in", href="/login", className="nav-link")])
    return html.Div(id=ids.USER_BOX, className="user-box", children=[
        html.Span(f"{principal.name} · {principal.role}", className="user-name"),
        html.Form(action="/logout", method="POST", className="logout-form", children=[
            dcc.Input(type="hidden", name=auth.CSRF_FIELD, value=auth.csrf_token()),
            html.Button("Sign out", type="submit", className="nav-link link-button"),
        ]),
    ])


def nav_links() -> list[tuple[str, str]]:
    from dashboard import auth

    return NAV_LINKS + ([("Admin", "/admin")] if auth.allowed("analyst") else [])


def shell(ctx: AppContext) -> html.Div:
    """Header with navigation, the page container and a footer that states what the numbers mean."""
    def footer() -> html.Footer:
        run = ctx.queries.run_id
        return html.Footer(className="site-footer", children=[
            html.P([
                "All outputs are the risk of ", html.Em("detected"), " trafficking: detection depends on how hard a "
                "state looks, so low numbers can mean little detection rather than little trafficking. "
                "Estimates come with 80% intervals. Sources and licences: ", dcc.Link("Data", href="/data"), ". ",
                f"Deployed model: {run}." if run else "No model deployed yet.",
            ]),
        ])

    return html.Div(className="app", children=[
        html.Header(className="site-header no-print", children=[
            html.Div(className="brand", children=[
                html.Span("crisisrisk", className="brand-name"),
                html.Span(["risk of ", html.Em("detected"), " trafficking in humanitarian crises"],
                          className="brand-tag"),
            ]),
            html.Div(className="header-right", children=[
                html.Nav(id=ids.NAV, className="nav", children=[
                    dcc.Link(label, href=href, className="nav-link") for label, href in nav_links()
                ]),
                user_box(),
            ]),
        ]),
        html.Main(id=ids.PAGE_CONTENT, className="page", children=dash.page_container),
        html.Div(footer(), className="no-print-footer"),
    ])


GZIP_PATHS = ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies", "/api/")
GZIP_MIN_BYTES = 1024
_GZIP_CACHE: OrderedDict[bytes, bytes] = OrderedDict()
_GZIP_LOCK = threading.Lock()


def gzip_json(response):
    """Compress JSON answers (callbacks, layout, API) for clients that accept gzip.

    Field connections are slow; a period change or the donor table compresses 4-8x. Static bundles are
    left alone (the browser caches them; Dash fingerprints their URLs).
    """
    import gzip

    from flask import request

    if (response.status_code != 200 or response.direct_passthrough or "Content-Encoding" in response.headers
            or response.mimetype != "application/json" or not request.path.startswith(GZIP_PATHS)
            or "gzip" not in (request.headers.get("Accept-Encoding") or "")):
        return response
    data = response.get_data()
    if len(data) < GZIP_MIN_BYTES:
        return response
    key = hashlib.blake2b(data, digest_size=16).digest()  # repeated answers are compressed once
    with _GZIP_LOCK:
        packed = _GZIP_CACHE.get(key)
    if packed is None:
        packed = gzip.compress(data, 5)
        with _GZIP_LOCK:
            _GZIP_CACHE[key] = packed
            while len(_GZIP_CACHE) > 64:
                _GZIP_CACHE.popitem(last=False)
    response.set_data(packed)
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Uncompressed-Length"] = str(len(data))
    return response


def create_app(engine: Engine | None = None, config: dict | None = None) -> Dash:
    """Build the app over a warehouse (default: ``CRISISRISK_DATABASE_URL`` or the SQLite file)."""
    from etl.db import make_engine, migrate

    cfg = {**DEFAULT_CONFIG, **(config or {})}
    engine = engine or make_engine()
    if cfg["migrate"]:  # also brings an older warehouse up to date (users, audit, jobs tables)
        migrate(engine)
    ctx = AppContext(queries=Queries(engine, ttl_s=float(cfg["cache_ttl_s"])), geometry=GeometryStore(engine),
                     config=cfg)
    app = Dash(__name__, use_pages=True, pages_folder="", assets_folder=str(ASSETS), title=cfg["title"],
               update_title=None, suppress_callback_exceptions=True, serve_locally=True,
               meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}])
    app.server.extensions["crisisrisk"] = ctx
    from dashboard import auth

    auth.configure(app.server, cfg, engine)  # before any other hook: the guard runs first
    if cfg.get("gzip", True):
        app.server.after_request(gzip_json)
    app.server.register_blueprint(geometry_blueprint(ctx.geometry))
    from dashboard.api import blueprint as api_blueprint

    app.server.register_blueprint(api_blueprint(ctx), url_prefix="/api/v1")

    from dashboard.pages import admin as admin_page
    from dashboard.pages import data as data_page
    from dashboard.pages import map as map_page
    from dashboard.pages import model as model_page
    from dashboard.pages import priorities as priorities_page
    from dashboard.pages import region as region_page

    for module in (map_page, region_page, priorities_page, model_page, data_page, admin_page):
        module.register(app, ctx)
    from etl.jobs import clear_stale

    for kind in ("retrain", "load", "validate"):  # owner gone or heartbeat stale: failed (etl.jobs)
        if clear_stale(engine, kind, int(cfg["stale_job_minutes"])):
            log.warning("marked a stale %s job as failed", kind)
    dash.register_page("not_found_404", layout=lambda **_: html.Div(className="card", children=[
        html.H2("Page not found"), html.P(["Go back to the ", dcc.Link("map", href="/"), "."])]))
    app.layout = lambda: shell(ctx)
    return app


def context(app: Dash) -> AppContext:
    return app.server.extensions["crisisrisk"]
