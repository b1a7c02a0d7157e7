"""The map's first view comes with the page (issue 16, first map render): the router's answer carries the
figure, its note and the side lists, so the browser makes no second round trip for the map callbacks; the
figure is built once per warehouse version and view; ``warm`` builds it and the world geometry at start-up.
On the dashboard test warehouse (SYNTHETIC outputs, tests/dashboard/synthetic.py)."""

from __future__ import annotations

from dashboard import ids
from dashboard.pages import map as map_page
from tests.dashboard.test_app import MAP_OUTPUTS, dash_post, map_inputs

ROUTER = {
    "output": ".._pages_content.children..._pages_store.data..",
    "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
    "inputs": [
        {"id": "_pages_location", "property": "pathname", "value": "/"},
        {"id": "_pages_location", "property": "search", "value": ""},
    ],
    "changedPropIds": ["_pages_location.pathname", "_pages_location.search"],
    "state": [],
}


def _props(node, out: dict) -> dict:
    """id -> props of every component in a serialised layout."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and isinstance(props.get("id"), str):
            out[props["id"]] = props
        for value in node.values():
            _props(value, out)
    elif isinstance(node, list):
        for value in node:
            _props(value, out)
    return out


def _first_view(client, search: str = "") -> dict:
    body = {**ROUTER, "inputs": [ROUTER["inputs"][0], {**ROUTER["inputs"][1], "value": search}]}
    resp = client.post("/_dash-update-component", json=body)
    assert resp.status_code == 200
    return _props(resp.get_json()["response"]["_pages_content"]["children"], {})


def test_the_page_answer_carries_the_map_figure_note_and_side_lists(client):
    props = _first_view(client)
    fig = props[ids.MAP_GRAPH]["figure"]
    assert [t["type"] for t in fig["data"][:2]] == ["choroplethmap", "choroplethmap"]
    assert fig["data"][0]["geojson"].endswith("/countries.geojson")  # geometry by URL, loaded once
    assert "customdata" not in fig["data"][1]  # hover details are fetched on hover
    grey, vals = (
        {r for r, z in zip(t["locations"], t["z"], strict=True) if z is not None} for t in fig["data"][:2]
    )
    assert vals and not grey & vals  # each shape drawn once: grey only where there is no value
    assert set(fig["data"][0]["locations"]) <= grey | vals
    year = props[ids.MAP_YEAR]["value"]
    assert str(year) in fig["layout"]["title"]["text"]
    for component in (ids.MAP_NOTE, ids.MAP_RISERS, ids.MAP_SKILL, ids.MAP_WATCHLIST, ids.MAP_YEAR_NOTE):
        assert props[component].get("children"), component


def test_the_first_view_is_the_one_the_map_callback_draws(client):
    props = _first_view(client, "?year=2019&metric=risk_score")
    assert props[ids.MAP_YEAR]["value"] == 2019
    resp, _ = dash_post(client, MAP_OUTPUTS, map_inputs(2019, "risk_score"), [])
    answer = resp.get_json()["response"]
    assert answer[ids.MAP_GRAPH]["figure"] == props[ids.MAP_GRAPH]["figure"]
    assert answer[ids.MAP_NOTE]["children"] == props[ids.MAP_NOTE]["children"]


def test_the_map_callbacks_make_no_request_when_the_page_opens(client):
    deps = client.get("/_dash-dependencies").get_json()
    by_output = {d["output"]: d for d in deps}
    for outputs in (MAP_OUTPUTS, [(ids.MAP_SKILL, "children"), (ids.MAP_WATCHLIST, "children")]):
        key = next(k for k in by_output if all(f"{i}.{p}" in k for i, p in outputs))
        assert by_output[key]["prevent_initial_call"] is True, key
    # a year change still answers with a Patch (issue 16 item 3)
    patch, _ = dash_post(client, MAP_OUTPUTS, map_inputs(2020), [f"{ids.MAP_YEAR}.value"])
    assert patch.get_json()["response"][ids.MAP_GRAPH]["figure"]["__dash_patch_update"]


def test_the_figure_is_built_once_per_view_and_alerts_are_read_each_time(dash_app, monkeypatch):
    built, alerts_read = [], []
    real_figure, real_alerts = map_page._figure, map_page.confirmed_alerts
    monkeypatch.setattr(map_page, "_figure", lambda *a: built.append(a) or real_figure(*a))
    monkeypatch.setattr(map_page, "confirmed_alerts", lambda *a: alerts_read.append(a) or real_alerts(*a))
    with dash_app.server.test_request_context("/"):
        dash_app.server.extensions["crisisrisk"].queries.clear()
        first, _ = map_page.full_figure(2018, "estimate", "__world__")
        again, _ = map_page.full_figure(2018, "estimate", "__world__")
    assert len(built) == 1 and len(alerts_read) == 2
    assert first == again and first is not again and first["data"] is not again["data"]


def test_warm_builds_the_world_geometry_and_the_default_view(dash_app):
    app_ctx = dash_app.server.extensions["crisisrisk"]
    app_ctx.queries.clear()
    app_ctx.geometry.refresh()
    misses = app_ctx.queries.misses
    assert map_page.warm(dash_app.server) is True
    assert any(layer == "countries" for _version, layer in app_ctx.geometry._layers)
    assert app_ctx.queries.misses > misses  # the page's queries and its figure were computed ...
    with dash_app.server.test_request_context("/"):
        misses = app_ctx.queries.misses
        map_page.layout()
        assert app_ctx.queries.misses == misses  # ... so the first visitor computes nothing


def test_warm_reports_a_failure_instead_of_raising(dash_app, monkeypatch):
    def broken(**_query):
        raise RuntimeError("warehouse unreachable")

    monkeypatch.setattr(map_page, "layout", broken)
    assert map_page.warm(dash_app.server) is False
