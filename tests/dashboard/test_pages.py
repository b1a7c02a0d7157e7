"""Dash Pages the usual way (issue 12): pages register themselves at import, the nav is read from the
registry,
and several apps in one process each get every page callback and read their own warehouse."""

from __future__ import annotations

import dash
from dash import html

from dashboard import context, ids
from tests.dashboard.test_app import MAP_OUTPUTS, dash_post, map_inputs

NAV = [
    ("Map", "/"),
    ("Priorities", "/priorities"),
    ("Phases", "/phases"),
    ("Alerts", "/alerts"),
    ("Model", "/model"),
    ("Data", "/data"),
]  # the order the nav kept before issue 12 (newer pages may join)
PAGE_MODULES = {"admin", "alerts", "data", "map", "model", "not_found_404", "phases", "priorities", "region"}


def test_every_page_module_registers_itself(dash_app):
    registered = {m.rsplit(".", 1)[-1] for m in dash.page_registry if m.startswith("dashboard.pages.")}
    assert registered >= PAGE_MODULES
    for module, page in dash.page_registry.items():
        assert callable(page["layout"]), f"{module} has no layout function"


def _in_order(links: list, expected: list) -> bool:
    """The expected entries appear in ``links`` in this order (other pages may sit between them)."""
    return [link for link in links if link in expected] == expected


def test_nav_is_read_from_the_page_registry(dash_app):
    from dashboard.app import nav_links

    with dash_app.server.test_request_context("/"):  # public read, nobody signed in: no Admin link
        links = nav_links()
    assert _in_order(links, NAV) and ("Admin", "/admin") not in links
    registered = {(p["name"], p["path"]) for p in dash.page_registry.values()}
    assert set(links) <= registered and ("Region", "/region/none") not in links
    dash.register_page("tests.fake_page", path="/fake", name="Fake", order=4.5, layout=html.Div())
    try:  # a new page is one registration: it shows in the nav at its order, between Model (4) and Data (5)
        with dash_app.server.test_request_context("/"):
            links = nav_links()
        assert links.index(("Fake", "/fake")) == links.index(("Model", "/model")) + 1
    finally:
        dash.page_registry.pop("tests.fake_page")


def _nav_hrefs(node) -> list[str]:
    """The hrefs of the header's nav in a /_dash-layout answer."""
    if isinstance(node, list):
        return [h for child in node for h in _nav_hrefs(child)]
    if not isinstance(node, dict):
        return []
    props = node.get("props", {})
    if props.get("id") == ids.NAV:
        return [link["props"]["href"] for link in props["children"]]
    return [h for value in props.values() for h in _nav_hrefs(value)]


def test_admin_link_only_for_analysts(tmp_path):
    from tests.dashboard.workflow_app import login, workflow_app

    with workflow_app(tmp_path) as (app, _engine):
        for name, analyst in (("vera", False), ("ana", True)):
            hrefs = _nav_hrefs(login(app, name).get("/_dash-layout").get_json())
            assert _in_order(hrefs, [path for _, path in NAV]), (name, hrefs)
            assert ("/admin" in hrefs) is analyst, (name, hrefs)


def _declared_callbacks() -> int:
    """How many ``@callback``/``clientside_callback`` calls the page files make (read with ast)."""
    import ast
    from pathlib import Path

    pages = Path(__file__).resolve().parents[2] / "dashboard" / "pages"
    return sum(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id in ("callback", "clientside_callback")
        for f in pages.glob("*.py")
        for n in ast.walk(ast.parse(f.read_text()))
    )


def test_two_apps_each_have_every_page_callback_and_their_own_warehouse(dash_app, tmp_path):
    from dashboard.app import create_app, page_callbacks
    from tests.conftest import _fresh_url, drop_database
    from tests.dashboard.workflow_app import saved_dash_pages
    from warehouse.db import make_engine

    url = _fresh_url(tmp_path, "empty")
    engine = make_engine(url)
    try:
        with saved_dash_pages():
            other = create_app(engine, {"cache_ttl_s": 0, "public_read": True})
        outputs, _ = page_callbacks()
        assert set(outputs) <= set(dash_app.callback_map) and set(outputs) <= set(other.callback_map)
        assert len(outputs) == _declared_callbacks()  # every page's callbacks, in each app
        shared, _ = dash_post(dash_app.server.test_client(), MAP_OUTPUTS, map_inputs(2020), [])
        empty, _ = dash_post(other.server.test_client(), MAP_OUTPUTS, map_inputs(2020), [])
        assert shared.status_code == 200 and ids.MAP_GRAPH in shared.get_json()["response"]
        assert empty.status_code in (200, 204), empty.data[:200]  # no year scored in the empty warehouse ...
        assert ids.MAP_GRAPH not in ((empty.get_json(silent=True) or {}).get("response") or {})  # ... no map
        layout = dash.page_registry["dashboard.pages.model"]["layout"]  # one function, two warehouses
        with other.server.test_request_context("/model"):
            assert context.current().engine is engine
            assert "No model deployed" in str(layout())
        with dash_app.server.test_request_context("/model"):
            assert "No model deployed" not in str(layout()) and "SYNTHETIC-TEST-RUN-deployed" in str(layout())
    finally:
        engine.dispose()
        drop_database(url)


def test_context_outside_an_app_says_how_to_get_one():
    import threading

    errors: list[Exception] = []

    def read() -> None:  # a new thread has no app context pushed, whatever the fixtures did
        try:
            context.current()
        except RuntimeError as exc:
            errors.append(exc)

    worker = threading.Thread(target=read)
    worker.start()
    worker.join()
    assert len(errors) == 1 and "app_context" in str(errors[0])


def test_public_cached_memoises_per_warehouse_version(dash_engine):
    from dashboard.queries import Queries

    q = Queries(dash_engine, ttl_s=60)
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert q.cached("answer", ("a",), compute) == 1 and q.cached("answer", ("a",), compute) == 1
    assert q.cached("answer", ("b",), compute) == 2  # another key computes again
    q.clear()  # a new warehouse version (promote, load) forgets every answer
    assert q.cached("answer", ("a",), compute) == 3


def test_country_bounds_cover_the_country_and_unknown_has_none(dash_app):
    bounds = context.queries().country_bounds("NGA")  # Nigeria's 37 Natural Earth admin-1 units
    minx, miny, maxx, maxy = bounds
    assert 2 < minx < 3.5 and 14 < maxx < 15 and 4 < miny < 5 and 13 < maxy < 14.5, bounds
    assert context.queries().country_bounds("XXX") is None
