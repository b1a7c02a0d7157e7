"""Each map shape is drawn once (issue 16, first map render): the grey "no data" trace (0) draws only the
shapes the value trace (1) has no value for, and a period or colour change moves a shape between them.

Plotly draws no choropleth shape whose z is null, so trace 0 lists every shape of the layer and its z is null
where trace 1 has a value (``figures.nodata_z``). Hand-made frames whose values each test explains, the
dashboard test warehouse (SYNTHETIC outputs, tests/dashboard/synthetic.py) and, for what Plotly really draws
and hovers, headless Chromium.
"""

from __future__ import annotations

import copy
import json
import math

import pandas as pd
import pytest

from dashboard import figures, ids
from dashboard.pages.map import MAP_HOVER
from tests.dashboard.test_app import MAP_OUTPUTS, dash_post, map_inputs

WORLD = "__world__"
YEARS = (2017, 2018, 2019, 2020)  # the test warehouse's predicted years


def drawn(trace: dict) -> set[str]:
    """The locations a choroplethmap trace draws: those whose z is a finite number (Plotly skips the rest)."""
    return {
        loc
        for loc, z in zip(trace["locations"], trace["z"], strict=True)
        if isinstance(z, int | float) and not isinstance(z, bool) and math.isfinite(z)
    }


def _values() -> pd.DataFrame:
    """AAA and BBB have a prediction (AAA's risk score of 0 is a value); CCC and the others have none."""
    return pd.DataFrame(
        {
            "region_id": ["AAA", "BBB"],
            "region_name": ["A", "B"],
            "risk_score": [0.0, 55.0],
            "risk_band": ["low", "high"],
            "estimate_per_100k": [0.2, 3.0],
            "lower_per_100k": [0.1, 1.5],
            "upper_per_100k": [0.4, 6.0],
            "score_change": [None, 2.0],
            "basis": ["checked", "nowcast"],
        }
    )


def test_each_background_shape_is_drawn_by_exactly_one_trace():
    bg = pd.DataFrame({"region_id": ["AAA", "BBB", "CCC", "DDD"], "name": ["A", "B", "C", "D"]})
    fig = figures.map_figure(
        _values(), ["AAA", "BBB", "CCC", "EEE"], bg, "risk_score", "/g.geojson", (0, 100), title="t"
    ).to_plotly_json()
    grey, vals = fig["data"][0], fig["data"][1]
    assert list(grey["locations"]) == ["AAA", "BBB", "CCC", "DDD"] and list(grey["text"]) == list("ABCD")
    assert drawn(vals) == {"AAA", "BBB"}  # CCC has no value; EEE has no shape in the layer
    assert drawn(grey) == {"CCC", "DDD"}  # no value (CCC) or not in the value trace at all (DDD)
    assert drawn(grey) | drawn(vals) >= set(bg["region_id"]) and not drawn(grey) & drawn(vals)
    assert grey["showlegend"] is True and grey["name"] == figures.NO_DATA_TEXT


def test_nodata_z_takes_none_and_nan_as_no_value_and_zero_as_a_value():
    z = figures.nodata_z(["A", "B", "C", "D", "E"], ["A", "B", "C", "E"], [0.0, None, float("nan"), -1.5])
    assert z == [None, 0, 0, 0, None]  # D is not in the value trace: grey
    assert figures.nodata_z(["A"], [], []) == [0]
    with pytest.raises(ValueError):
        figures.nodata_z(["A"], ["A", "B"], [1.0])  # locations and z must be aligned


def test_the_no_data_legend_entry_stays_when_every_shape_has_a_value():
    values = _values()
    bg = pd.DataFrame({"region_id": ["AAA", "BBB"], "name": ["A", "B"]})
    fig = figures.map_figure(values, ["AAA", "BBB"], bg, "risk_score", "/g.geojson", (0, 100))
    grey = fig.data[0]
    assert list(grey.z) == [None, None] and not drawn(grey.to_plotly_json())
    assert grey.showlegend and grey.name == figures.NO_DATA_TEXT  # Plotly keeps an all-null trace's entry


def _full(client, year: int, metric: str, country: str) -> tuple[dict, int]:
    resp, size = dash_post(client, MAP_OUTPUTS, map_inputs(year, metric, country), [])
    return resp.get_json()["response"][ids.MAP_GRAPH]["figure"], size


def _patch(client, year: int, metric: str, country: str, changed: str) -> tuple[list[dict], int]:
    resp, size = dash_post(client, MAP_OUTPUTS, map_inputs(year, metric, country), [f"{changed}.value"])
    return resp.get_json()["response"][ids.MAP_GRAPH]["figure"]["operations"], size


def _apply(figure: dict, operations: list[dict]) -> dict:
    """The figure after a Patch, as dash-renderer applies it (the map's Patch only assigns)."""
    out = copy.deepcopy(figure)
    for op in operations:
        assert op["operation"] == "Assign", op
        *path, last = op["location"]
        node = out
        for key in path:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
        node[last] = op["params"]["value"]
    return out


@pytest.mark.parametrize("country", [WORLD, "NGA"])
@pytest.mark.parametrize("metric", ["watch", "risk_score", "estimate"])
def test_every_view_of_the_warehouse_draws_each_shape_once(client, country, metric):
    for year in YEARS:
        fig, _ = _full(client, year, metric, country)
        grey, vals = fig["data"][0], fig["data"][1]
        assert not drawn(grey) & drawn(vals), (year, drawn(grey) & drawn(vals))
        assert set(grey["locations"]) <= drawn(grey) | drawn(vals), year  # no background shape left out


def test_a_year_change_moves_shapes_between_the_traces(client):
    """Nigeria's watch view: 1 unit with located drivers in 2017, 3 in 2020 (test warehouse)."""
    before, _ = _full(client, 2017, "watch", "NGA")
    after, _ = _full(client, 2020, "watch", "NGA")
    gained = drawn(after["data"][1]) - drawn(before["data"][1])
    assert gained and gained <= drawn(before["data"][0])  # grey in 2017 ...
    patched = _apply(before, _patch(client, 2020, "watch", "NGA", ids.MAP_YEAR)[0])
    assert not gained & drawn(patched["data"][0]) and gained <= drawn(patched["data"][1])  # ... coloured now
    for trace in (0, 1):
        assert patched["data"][trace]["z"] == after["data"][trace]["z"], trace
    assert patched["data"][1]["marker"]["opacity"] == after["data"][1]["marker"]["opacity"]
    back = _apply(after, _patch(client, 2017, "watch", "NGA", ids.MAP_YEAR)[0])  # and back: grey again
    assert gained <= drawn(back["data"][0]) and not gained & drawn(back["data"][1])


def test_a_colour_change_moves_shapes_between_the_traces(client):
    """Watch (located drivers: few units) to the downscaled estimate (every unit has one)."""
    before, _ = _full(client, 2020, "watch", "NGA")
    after, _ = _full(client, 2020, "estimate", "NGA")
    patched = _apply(before, _patch(client, 2020, "estimate", "NGA", ids.MAP_METRIC)[0])
    assert drawn(patched["data"][1]) == drawn(after["data"][1]) == set(after["data"][1]["locations"])
    assert not drawn(patched["data"][0]) and len(drawn(before["data"][0])) > 0
    assert patched["data"][0]["name"] == after["data"][0]["name"]


@pytest.mark.parametrize("metric", ["risk_score", "watch", "estimate"])
def test_the_world_year_change_patch_stays_under_one_percent_of_figure_and_geometry(client, dash_app, metric):
    """Issue 16 item 3, with the grey trace's z in the Patch now (a world layer of 240 shapes)."""
    fig, full_bytes = _full(client, 2019, metric, WORLD)
    ops, patch_bytes = _patch(client, 2020, metric, WORLD, ids.MAP_YEAR)
    assert {tuple(op["location"]) for op in ops} >= {("data", 0, "z"), ("data", 1, "z")}
    assert not any(op["location"][:2] == ["data", 0] and op["location"][2] != "z" for op in ops)
    geometry = dash_app.server.extensions["crisisrisk"].geometry.get("countries")[0]
    assert patch_bytes / (full_bytes + len(geometry)) < 0.01


@pytest.mark.parametrize("country", [WORLD, "NGA"])
def test_the_grey_z_costs_the_patch_at_most_five_bytes_a_shape(client, country):
    """What this change adds to a period change: "null," or "0," per shape of the layer."""
    fig, _ = _full(client, 2020, "watch", country)
    ops, _ = _patch(client, 2019, "watch", country, ids.MAP_YEAR)
    grey_z = next(op["params"]["value"] for op in ops if op["location"] == ["data", 0, "z"])
    assert len(grey_z) == len(fig["data"][0]["locations"])
    assert len(json.dumps(grey_z, separators=(",", ":"))) <= 5 * len(grey_z) + 2


# --- what Plotly draws and hovers, in headless Chromium -------------------------------------------------

FEATURES = """
    const gd = document.querySelector('#MAP_ID .js-plotly-plot');
    if (!gd || !gd.calcdata || gd.calcdata.length < 2) return null;
    // each trace's shapes exist once its geojson arrived (fetched by URL): until then, wait (not a JS error)
    const loaded = i => gd.calcdata[i] && gd.calcdata[i][0] && gd.calcdata[i][0].trace._opts
        && gd.calcdata[i][0].trace._opts.geojson;
    if (!loaded(0) || !loaded(1)) return null;
    const ids = i => (gd.calcdata[i][0].trace._opts.geojson.features || []).map(f => f.id);
    const centre = i => (gd.calcdata[i][0].trace._opts.geojson.features || [])
        .map(f => [f.id, f.properties.ct]);
    const legend = Array.from(gd.querySelectorAll('.legend .traces')).map(e => e.textContent);
    return {grey: ids(0), vals: ids(1), greyCt: centre(0), valsCt: centre(1), legend: legend,
            greyName: gd._fullData[0].name, title: gd._fullLayout.title.text};
""".replace("MAP_ID", ids.MAP_GRAPH)

HOVER_HOOK = """
    const gd = document.querySelector('#MAP_ID .js-plotly-plot');
    window.__hovers = [];
    gd.on('plotly_hover', e => window.__hovers.push([e.points[0].curveNumber, e.points[0].location]));
    return true;
""".replace("MAP_ID", ids.MAP_GRAPH)

SCREEN_XY = """
    const gd = document.querySelector('#MAP_ID .js-plotly-plot');
    const m = gd._fullLayout.map._subplot.map;
    const p = m.project(arguments[0]);
    const r = m.getCanvas().getBoundingClientRect();
    return [r.left + p.x, r.top + p.y];
""".replace("MAP_ID", ids.MAP_GRAPH)


def _hover_one(driver, features: list, trace: int) -> str:
    """Move the mouse (CDP) to shapes' centres until Plotly reports a hover on one of them; its id. A centre
    can fall outside a concave shape, so a few shapes are tried."""
    from tests.dashboard.test_browser import wait_js

    for fid, lonlat in features[:6]:
        x, y = driver.execute_script(SCREEN_XY, lonlat)
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 5, "y": 5})
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        try:
            hit = wait_js(driver, "return (window.__hovers || []).find(h => h[1] === arguments[0]);", 3, fid)
        except AssertionError:
            continue
        assert hit[0] == trace, (fid, hit)  # the shape answers from the one trace that draws it
        return fid
    raise AssertionError(f"no hover on any of {[f for f, _ in features[:6]]}")


@pytest.mark.browser
def test_browser_draws_each_unit_once_and_hovers_grey_and_coloured(dash_duo, dash_app, client):
    from tests.dashboard.test_browser import MAP_READY, severe, wait_js

    expected = {}
    for year in (2017, 2020):
        fig, _ = _full(client, year, "watch", "NGA")
        expected[year] = sorted(drawn(fig["data"][0])), sorted(drawn(fig["data"][1]))
    dash_duo.start_server(dash_app)
    driver = dash_duo.driver
    driver.get(dash_duo.server_url + "/?country=NGA&year=2017&metric=watch")
    wait_js(driver, MAP_READY)
    first = wait_js(driver, FEATURES)
    assert "2017" in first["title"]
    assert (sorted(first["grey"]), sorted(first["vals"])) == expected[2017]  # what Plotly drew: the server's
    assert first["vals"] and first["grey"] and not set(first["grey"]) & set(first["vals"])
    assert len(first["grey"]) + len(first["vals"]) == 37  # Nigeria's 37 units, each drawn by one trace
    assert first["greyName"] in first["legend"]  # the "no data" legend entry
    # hover a grey unit and a coloured one: each reports its own trace, and the details panel names it
    wait_js(driver, HOVER_HOOK)
    names = dash_app.server.extensions["crisisrisk"].queries.region_names()
    grey_id = _hover_one(driver, first["greyCt"], 0)
    dash_duo.wait_for_contains_text(f"#{MAP_HOVER}", names[grey_id], timeout=20)
    val_id = _hover_one(driver, first["valsCt"], 1)
    dash_duo.wait_for_contains_text(f"#{MAP_HOVER}", names[val_id], timeout=20)
    # a year change (the Patch): units with located drivers in 2020 but not 2017 move to the value trace
    driver.execute_script(f"dash_clientside.set_props('{ids.MAP_YEAR}', {{value: 2020}});")
    # the map redraws its sources after the title: wait for the shapes (a unit moves each way, 2017 -> 2020)
    later = wait_js(
        driver,
        f"const v = (() => {{{FEATURES}}})();"
        " return v && v.vals.slice().sort().join() === arguments[0] && v;",
        20,
        ",".join(expected[2020][1]),
    )
    assert (sorted(later["grey"]), sorted(later["vals"])) == expected[2020]
    assert set(expected[2020][1]) - set(first["vals"]) and set(first["vals"]) - set(expected[2020][1])
    assert len(later["grey"]) + len(later["vals"]) == 37
    assert not severe(dash_duo)
