"""Server-side checks of the app: pages answer, geometry is cached, a period change sends only values,
downloads are safe, the query cache follows the deployed run, and the layering rule holds."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from dashboard import ids

ROOT = Path(__file__).resolve().parents[2]


def dash_post(
    client,
    outputs: list[tuple[str, str]],
    inputs: list[tuple[str, str, object]],
    changed: list[str],
    state: list[tuple[str, str, object]] | None = None,
):
    """POST one callback to /_dash-update-component like the browser does; returns (response, bytes)."""
    out_str = "...".join(f"{i}.{p}" for i, p in outputs)
    payload = {
        "output": f"..{out_str}.." if len(outputs) > 1 else out_str,
        "outputs": (
            [{"id": i, "property": p} for i, p in outputs]
            if len(outputs) > 1
            else {"id": outputs[0][0], "property": outputs[0][1]}
        ),
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "changedPropIds": changed,
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state or []],
    }
    resp = client.post("/_dash-update-component", json=payload)
    return resp, len(resp.data)


MAP_OUTPUTS = [(ids.MAP_GRAPH, "figure"), (ids.MAP_NOTE, "children"), (ids.MAP_RISERS, "children")]


def map_inputs(year, metric="risk_score", country="__world__"):
    return [
        (ids.MAP_YEAR, "value", year),
        (ids.MAP_METRIC, "value", metric),
        (ids.MAP_COUNTRY, "value", country),
    ]


@pytest.mark.parametrize("path", ["/", "/region/NGA", "/region/NOWHERE", "/priorities", "/model", "/data"])
def test_pages_answer(client, path):
    resp = client.get(path)
    assert resp.status_code == 200
    assert b"_dash-config" in resp.data


def test_layout_has_no_external_urls(client):
    html = client.get("/").data.decode()
    for tag in ("src=", "href="):
        for part in html.split(tag)[1:]:
            url = part[1:].split(part[0], 1)[0]
            assert not url.startswith(("http://", "https://", "//")), url


def test_geometry_served_once_with_cache_headers(client, dash_app):
    store = dash_app.server.extensions["crisisrisk"].geometry
    url = store.url("countries")
    resp = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200
    assert "immutable" in resp.headers["Cache-Control"] and resp.headers["ETag"]
    assert resp.headers.get("Content-Encoding") == "gzip"
    again = client.get(url, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    plain = client.get(url)
    geo = json.loads(plain.data)
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) > 200
    ids_ = {f["id"] for f in geo["features"]}
    assert {"NGA", "SSD", "XKX"} <= ids_
    admin1 = json.loads(client.get(store.url("admin1-NGA")).data)
    assert len(admin1["features"]) == 37
    assert client.get(f"/geo/{store.version()}/bogus.geojson").status_code == 404


def test_period_change_sends_only_values(client, dash_app):
    full, full_bytes = dash_post(client, MAP_OUTPUTS, map_inputs(2019), [])
    assert full.status_code == 200
    fig = full.get_json()["response"][ids.MAP_GRAPH]["figure"]
    assert fig["data"][1]["geojson"].startswith("/geo/")  # geometry is a URL, fetched once
    patch, patch_bytes = dash_post(client, MAP_OUTPUTS, map_inputs(2020), [f"{ids.MAP_YEAR}.value"])
    assert patch.status_code == 200
    body = patch.get_json()["response"][ids.MAP_GRAPH]["figure"]
    assert body["__dash_patch_update"] == "__dash_patch_update"
    ops = body["operations"]
    touched = {tuple(op["location"]) for op in ops}
    # issue 16 item 3: z and each shape's opacity (its basis), never the hover data; the grey layer's z too
    # (each shape is drawn once: grey where it has no value, coloured where it has one)
    assert touched == {
        ("data", 0, "z"),
        ("data", 1, "z"),
        ("data", 1, "marker", "opacity"),
        ("layout", "title", "text"),
    }
    store = dash_app.server.extensions["crisisrisk"].geometry
    geometry_bytes = len(store.get("countries")[0])
    assert patch_bytes < 0.01 * (full_bytes + geometry_bytes)


def test_country_selection_switches_to_admin1(client):
    resp, _ = dash_post(
        client, MAP_OUTPUTS, map_inputs(2020, "estimate", "NGA"), [f"{ids.MAP_COUNTRY}.value"]
    )
    fig = resp.get_json()["response"][ids.MAP_GRAPH]["figure"]
    assert fig["data"][1]["geojson"].endswith("admin1-NGA.geojson")
    assert len(fig["data"][1]["locations"]) == 37
    assert fig["layout"]["map"]["zoom"] > 3


def test_click_opens_region_page(client):
    resp, _ = dash_post(
        client,
        [(ids.MAP_NAV, "href")],
        [(ids.MAP_GRAPH, "clickData", {"points": [{"location": "NGA"}]})],
        [f"{ids.MAP_GRAPH}.clickData"],
        [(ids.MAP_YEAR, "value", 2018)],
    )
    out = resp.get_json()["response"][ids.MAP_NAV]
    assert out == {"href": "/region/NGA?year=2018"}


def test_priorities_download_is_neutralised_csv(client):
    outputs = [(ids.PRIO_DOWNLOAD, "data")]
    resp, _ = dash_post(
        client,
        outputs,
        [(ids.PRIO_CSV, "n_clicks", None), (ids.PRIO_HXL, "n_clicks", 1)],
        [f"{ids.PRIO_HXL}.n_clicks"],
        [(ids.PRIO_YEAR, "value", 2020), (ids.PRIO_LEVEL, "value", 1), (ids.PRIO_MIN_POP, "value", 0)],
    )
    data = resp.get_json()["response"][ids.PRIO_DOWNLOAD]["data"]
    lines = data["content"].splitlines()
    assert data["filename"].endswith("_hxl.csv")
    assert lines[1].startswith("#indicator+rank,#adm1+code,#adm1+name,#country+name")
    assert len(lines) > 100


def test_region_year_callback(client):
    outputs = [
        (ids.REGION_KPIS, "children"),
        (ids.REGION_WATERFALL, "figure"),
        (ids.REGION_CHANGED, "figure"),
        (ids.REGION_ADMIN1, "figure"),
        (ids.REGION_ADMIN1_TABLE, "children"),
    ]
    resp, _ = dash_post(
        client,
        outputs,
        [(ids.REGION_YEAR, "value", 2019), (ids.REGION_STORE, "data", "NGA")],
        [f"{ids.REGION_YEAR}.value"],
    )
    out = resp.get_json()["response"]
    assert out[ids.REGION_WATERFALL]["figure"]["data"][0]["type"] == "waterfall"
    assert len(out[ids.REGION_ADMIN1]["figure"]["data"][0]["y"]) == 37


def test_query_cache_follows_the_deployed_run(dash_engine):
    from sqlalchemy import update

    from dashboard.queries import Queries
    from tests.dashboard.synthetic import OLD_RUN_ID, RUN_ID
    from warehouse.schema import model_run

    q = Queries(dash_engine, ttl_s=0)
    assert q.years(0)
    misses = q.misses
    q.years(0)
    assert q.misses == misses and q.hits > 0  # second call from the cache
    try:
        with dash_engine.begin() as conn:
            conn.execute(update(model_run).where(model_run.c.run_id == RUN_ID).values(status="archived"))
            conn.execute(update(model_run).where(model_run.c.run_id == OLD_RUN_ID).values(status="deployed"))
        assert q.run_id == OLD_RUN_ID
        assert q.years(0) == []  # the old synthetic run has no predictions: the cache did not answer
    finally:
        with dash_engine.begin() as conn:
            conn.execute(update(model_run).where(model_run.c.run_id == OLD_RUN_ID).values(status="archived"))
            conn.execute(update(model_run).where(model_run.c.run_id == RUN_ID).values(status="deployed"))


def test_package_import_is_light():
    import subprocess
    import sys

    code = "import sys, dashboard; assert 'dash' not in sys.modules, 'dash imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_layering_etl_and_models_do_not_import_dashboard():
    for pkg, forbidden in (("etl", {"models", "dashboard"}), ("models", {"dashboard"})):
        for path in (ROOT / pkg).rglob("*.py"):
            assert not (_imports(path) & forbidden), f"{path} imports {_imports(path) & forbidden}"


def test_an_app_made_after_the_page_registry_was_emptied_still_has_every_page(dash_engine):
    """Pages register when their module is first imported, so a registry emptied afterwards (a test's
    save-and-restore around a second app, taken before any app existed) left later apps without pages:
    the map page answered "404" in the browser tests that ran after tests/dashboard/test_admin_compare.py."""
    import dash

    from dashboard.app import create_app, nav_links
    from tests.dashboard.workflow_app import saved_dash_pages

    with saved_dash_pages():
        create_app(dash_engine, {"cache_ttl_s": 0, "public_read": True})
        before = list(dash.page_registry)
        assert "dashboard.pages.map" in before
        dash.page_registry.clear()
        app = create_app(dash_engine, {"cache_ttl_s": 0, "public_read": True})
        assert list(dash.page_registry) == before  # every page, in Dash's order (the header's order)
        with app.server.test_request_context("/"):
            assert ("Map", "/") in nav_links()
