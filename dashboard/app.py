"""The Dash application: the page shell, the pages, the geometry route and the JSON API.

Everything is served by the app itself (scripts, CSS, geometry); nothing is fetched from another host.
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import threading
from pathlib import Path

import dash
from dash import Dash, dcc, html
from dash.exceptions import DependencyException
from flask import Response
from sqlalchemy import Engine
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from dashboard import ids, static_assets
from dashboard.compression import gzip_json
from dashboard.context import AppContext, install
from dashboard.geometry import GeometryStore
from dashboard.geometry import blueprint as geometry_blueprint
from dashboard.i18n import _, language_switch
from dashboard.queries import Queries

log = logging.getLogger(__name__)
MAX_ROW_ID = 2**31 - 1  # the largest id an INTEGER column holds on PostgreSQL (int4); every id column is one
MAX_CALLBACK_DEPTH = (
    64  # nesting of a callback request's JSON; the deepest real one (a figure in state) is ~12
)
ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_CONFIG = {
    "cache_ttl_s": 5.0,  # how often the warehouse version (deployed run + loads) is re-read
    "title": "crisisrisk: trafficking risk among crisis-affected people",
    "migrate": True,  # bring an empty database to the current schema on start
    "gzip": True,  # compress JSON callback and API answers
    "stale_job_minutes": 120,  # a 'running' job older than this at start-up is from a dead process
    # access control (dashboard.auth): None = the setting CRISISRISK_<KEY> (warehouse/settings.py documents
    # it)
    "env": None,
    "secret_key": None,
    "public_read": None,
    "https": None,
    "trusted_proxy_header": None,
    "trusted_proxy_hops": None,
    "cors_origins": None,
}
PAGES_PACKAGE = "dashboard.pages"
_PAGES_LOCK = threading.Lock()
_PAGE_ENTRIES: dict[str, dict] | None = None  # the pages' registry entries, as first registered
_PAGE_CALLBACKS: tuple[dict, list] | None = None  # (callback map, callback list) of the pages' @callbacks


def user_box() -> html.Div:
    """Who is signed in, with a sign-out form (a POST with the CSRF token), or a sign-in link."""
    from dashboard import auth

    principal = auth.current_principal()
    if principal is None:
        return html.Div(
            id=ids.USER_BOX,
            className="user-box",
            children=[html.A("Sign in", href="/login", className="nav-link")],
        )
    return html.Div(
        id=ids.USER_BOX,
        className="user-box",
        children=[
            html.Span(f"{principal.name} · {principal.role}", className="user-name"),
            html.Form(
                action="/logout",
                method="POST",
                className="logout-form",
                children=[
                    dcc.Input(type="hidden", name=auth.CSRF_FIELD, value=auth.csrf_token()),
                    html.Button("Sign out", type="submit", className="nav-link link-button"),
                ],
            ),
        ],
    )


def nav_links() -> list[tuple[str, str]]:
    """(name, path) of the pages in the header, in their registry order: every page without a path variable,
    except the 404 page and those marked ``nav=False``; a page with a ``required_role`` only for that role."""
    from dashboard import auth

    return [
        (page["name"], page["path"])
        for page in dash.page_registry.values()
        if page.get("nav", True)
        and not page.get("path_template")
        and page["module"].rsplit(".", 1)[-1] != "not_found_404"
        and (not page.get("required_role") or auth.allowed(page["required_role"]))
    ]


def shell(ctx: AppContext) -> html.Div:
    """Header with navigation, the page container and a footer that states what the numbers mean."""

    def footer() -> html.Footer:
        run = ctx.queries.run_id
        return html.Footer(
            className="site-footer",
            children=[
                html.P(
                    [
                        (
                            "The crisis watch list ranks where the drivers that raise trafficking among"
                            " displaced people are rising; its skill is measured on later victims detected"
                            " abroad and printed beside it. Victim counts are "
                        ),
                        html.Em("detected"),
                        (
                            " victims: detection depends on how hard a state looks, so low numbers can mean"
                            " little detection rather than little trafficking. Estimates come with 80%"
                            " intervals and the year of their inputs. Sources and licences: "
                        ),
                        dcc.Link("Data", href="/data"),
                        ". ",
                        _("Deployed model: {run}.", run=run) if run else _("No model deployed yet."),
                    ]
                ),
            ],
        )

    return html.Div(
        className="app",
        children=[
            html.Header(
                className="site-header no-print",
                children=[
                    html.Div(
                        className="brand",
                        children=[
                            html.Span("crisisrisk", className="brand-name"),
                            html.Span(
                                "crisis watch list: where trafficking of crisis-affected people is expected"
                                " to rise",
                                className="brand-tag",
                            ),
                        ],
                    ),
                    html.Div(
                        className="header-right",
                        children=[
                            html.Nav(
                                id=ids.NAV,
                                className="nav",
                                children=[
                                    dcc.Link(label, href=href, className="nav-link")
                                    for label, href in nav_links()
                                ],
                            ),
                            user_box(),
                            language_switch(),
                        ],
                    ),
                ],
            ),
            html.Main(id=ids.PAGE_CONTENT, className="page", children=dash.page_container),
            html.Div(footer(), className="no-print-footer"),
        ],
    )


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in URLs: any whole number routes to its view, but only a possible row id reaches it.

    Negative and huge ids (``/jobs/9223372036854775808``) answer 404 from routing (JSON under /api/), instead
    of 405 (negative: no route matched) or a 500 OverflowError from the database driver.
    """

    def __init__(
        self,
        url_map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,  # noqa: A002
        signed: bool = True,
    ) -> None:
        super().__init__(url_map, fixed_digits, min, max, signed)

    def to_python(self, value: str) -> int:
        try:
            number = int(value)
        except ValueError:  # more digits than Python converts
            raise NotFound(f"unknown id '{value[:40]}'") from None
        if not 1 <= number <= MAX_ROW_ID:
            raise NotFound(f"unknown id {value[:40]}: ids are whole numbers from 1 to {MAX_ROW_ID}")
        return number


def _json_error(status: int, message: str) -> Response:
    return Response(
        json.dumps({"error": {"status": status, "message": message}}),
        status=status,
        mimetype="application/json",
    )


def _json_depth_exceeds(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def callback_request_problem(app: Dash) -> tuple[int, str] | None:
    """Why a POST to /_dash-update-component cannot be a callback of this app (status, reason), or None.

    Dash itself assumes a well-formed body: ``null``, ``[]``, an unknown output or deep nesting raised
    AttributeError/KeyError/RecursionError (500 with a traceback). Checked after the access guard.
    """
    from dashboard import auth

    payload = auth.callback_payload()
    if not isinstance(payload, dict):
        return 400, "a callback request is a JSON object (unreadable, too deeply nested or not an object)"
    output = payload.get("output")
    if not isinstance(output, str):
        return 400, "'output' must be a string"
    if _json_depth_exceeds(payload, MAX_CALLBACK_DEPTH):
        return 400, f"the request is nested deeper than {MAX_CALLBACK_DEPTH} levels"
    for key in ("inputs", "state"):
        items = payload.get(key, [])
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and "id" in i and "property" in i or isinstance(i, list) for i in items
        ):
            return 400, f"'{key}' must be a list of {{id, property, value}} objects"
    if not isinstance(payload.get("outputs", {}), (dict, list)) or not isinstance(
        payload.get("changedPropIds", []), list
    ):
        return 400, "'outputs' must be an object or a list, 'changedPropIds' a list"
    if output not in app.callback_map:
        return 404, "no callback has this output"
    return None


def create_app(engine: Engine | None = None, config: dict | None = None) -> Dash:
    """Build the app over a warehouse (default: ``CRISISRISK_DATABASE_URL`` or the SQLite file)."""
    from warehouse.db import make_engine, migrate

    cfg = {**DEFAULT_CONFIG, **(config or {})}
    engine = engine or make_engine()
    if cfg["migrate"]:  # also brings an older warehouse up to date (users, audit, jobs tables)
        migrate(engine)
    ctx = AppContext(
        queries=Queries(engine, ttl_s=float(cfg["cache_ttl_s"])), geometry=GeometryStore(engine), config=cfg
    )
    app = new_dash(cfg["title"])
    install(app.server, ctx)
    app.server.url_map.converters["int"] = RowIdConverter  # before any route with an id is added
    from dashboard import auth

    static_assets.install(app.server)  # Cache-Control and gzip last, after auth's headers read the HTML
    auth.configure(app.server, cfg, engine)  # before any other hook: the guard runs first
    _guard_dash_routes(app)
    if cfg.get("gzip", True):
        app.server.after_request(gzip_json)
    from dashboard import i18n

    i18n.install(app)  # after gzip_json: Flask runs after_request hooks in reverse, so it sees plain JSON
    app.server.register_blueprint(geometry_blueprint(ctx.geometry))
    from dashboard.api import blueprint as api_blueprint

    app.server.register_blueprint(api_blueprint(ctx), url_prefix="/api/v1")
    from dashboard.brief import blueprint as brief_blueprint

    app.server.register_blueprint(brief_blueprint())  # /region/<id>/brief.pdf: the one-page PDF (issue 13)

    import_pages()
    install_page_callbacks(app)
    from warehouse.jobs import clear_stale

    for kind in ("retrain", "load", "validate"):  # owner gone or heartbeat stale: failed (warehouse.jobs)
        if clear_stale(engine, kind, int(cfg["stale_job_minutes"])):
            log.warning("marked a stale %s job as failed", kind)
    app.layout = lambda: shell(ctx)
    return app


def _guard_dash_routes(app: Dash) -> None:
    """Malformed requests to Dash's own routes answer 400/404 with one log line, never a 500 and a
    traceback."""
    from flask import request

    from dashboard import auth

    @app.server.before_request
    def _check_callback_request():  # runs after auth.guard: credentials are checked first
        if request.method != "POST" or request.path != "/_dash-update-component":
            return None
        problem = callback_request_problem(app)
        if problem is None:
            return None
        status, reason = problem
        log.warning("refused a malformed Dash callback request from %s: %s", auth.client_address(), reason)
        return _json_error(status, f"malformed callback request: {reason}")

    @app.server.errorhandler(DependencyException)
    def _unknown_bundle(exc: DependencyException):  # /_dash-component-suites/<unknown package or file>
        log.warning("no Dash bundle at %s (%s)", request.path[:200], str(exc).splitlines()[0][:120])
        return _json_error(404, "no such script bundle")


def import_pages() -> list[str]:
    """Import every page module of ``dashboard/pages`` (files not starting with ``_``), once per process.

    Each page registers itself (``dash.register_page``) and its ``@callback``s when imported; its ``layout``
    is
    put in the registry as Dash's discovery would. Dash's own folder
    discovery (``pages_folder=...``) is not used: it executes every page file again, under a second module
    name,
    for each app, so a process with several apps (tests, the benchmark) would register each callback again.
    """
    import dashboard.pages as package

    names = [
        f"{PAGES_PACKAGE}.{m.name}"
        for m in pkgutil.iter_modules(package.__path__)
        if not m.name.startswith("_") and not m.ispkg
    ]
    for name in names:
        module = importlib.import_module(name)
        page = dash.page_registry.get(name)
        if page is not None and not page.get(
            "supplied_layout"
        ):  # as Dash's discovery does: the module's layout
            page["layout"] = module.layout
    _keep_page_entries(names)
    return names


def _keep_page_entries(names: list[str]) -> None:
    """Remember the pages' registry entries the first time, and put them back when they are gone.

    A module registers its page only when first imported, so a registry emptied after that (code that
    saves and restores Dash's global registry around a second app, as tests do) would leave every later app
    without pages: "/" answered 404 in a browser test that ran after such an app.
    """
    global _PAGE_ENTRIES
    ours = [n for n in dash.page_registry if n in names]
    if _PAGE_ENTRIES is None:
        if ours:
            _PAGE_ENTRIES = {n: dash.page_registry[n] for n in ours}  # registry order (Dash's sort)
        return
    if len(ours) == len(_PAGE_ENTRIES):
        return
    others = {k: v for k, v in dash.page_registry.items() if k not in _PAGE_ENTRIES}
    dash.page_registry.clear()
    dash.page_registry.update({**_PAGE_ENTRIES, **others})
    log.info("page registry restored (%d pages)", len(_PAGE_ENTRIES))


def page_callbacks() -> tuple[dict, list]:
    """The pages' module-level callbacks: (callback map, callback list), taken once from Dash's globals.

    Dash keeps ``@dash.callback`` registrations in a global list and moves them into the first app that serves
    a
    request, leaving none for a second app. So the pages' callbacks are taken from the globals once, after
    every
    page is imported, and each app gets its own copy (``install_page_callbacks``).
    """
    global _PAGE_CALLBACKS
    from dash import _callback

    with _PAGES_LOCK:
        if _PAGE_CALLBACKS is None:
            import_pages()
            _PAGE_CALLBACKS = (dict(_callback.GLOBAL_CALLBACK_MAP), list(_callback.GLOBAL_CALLBACK_LIST))
            _callback.GLOBAL_CALLBACK_MAP.clear()
            _callback.GLOBAL_CALLBACK_LIST.clear()
    return _PAGE_CALLBACKS


def install_page_callbacks(app: Dash) -> None:
    """Give ``app`` the pages' callbacks: what Dash does for its first app on the first request, for every
    app."""
    callback_map, callback_list = page_callbacks()
    app.callback_map.update({k: dict(v) for k, v in callback_map.items()})
    app._callback_list.extend(dict(c) for c in callback_list)  # noqa: SLF001 - Dash keeps no public setter


def ensure_page_registry() -> None:
    """Let a page module be imported before any app exists (a test reading its ids): Dash refuses
    ``register_page`` until an app with ``use_pages`` is made, so make one with the app's own settings."""
    from dash.exceptions import AppNotFoundError

    try:
        dash.get_app()
    except AppNotFoundError:
        new_dash(DEFAULT_CONFIG["title"])


def new_dash(title: str) -> Dash:
    """The Dash object of an app: pages on, every file served locally, the shell's meta tags, the partial
    Plotly bundle and content-hashed asset URLs (dashboard.static_assets)."""
    return static_assets.HashedDash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        title=title,
        update_title=None,
        suppress_callback_exceptions=True,
        serve_locally=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )


def context(app: Dash) -> AppContext:
    return app.server.extensions["crisisrisk"]
