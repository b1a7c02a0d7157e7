"""Confirmed alerts on the map (issue 14): one marker per country at its label point with rule and data year
in
the hover, a short list beside the map linking to /alerts; pending alerts never show; a year change still
sends
only the value trace's Patch (the alert layer is part of the figure, never re-sent)."""

from __future__ import annotations

import dash
import pandas as pd
import pytest
from sqlalchemy import select

from dashboard import figures, ids
from dashboard.pages import map as map_page
from tests.dashboard.synthetic import add_map_alerts, remove_map_alerts
from tests.dashboard.test_app import MAP_OUTPUTS, dash_post, map_inputs
from warehouse.schema import region


@pytest.fixture
def with_alerts(dash_engine):
    alert_ids, seeded = add_map_alerts(dash_engine)
    yield dash_engine
    remove_map_alerts(dash_engine, alert_ids, seeded)


def label_point(engine, region_id: str) -> tuple[float, float]:
    with engine.connect() as conn:
        lat, lon = conn.execute(
            select(region.c.label_lat, region.c.label_lon).where(region.c.region_id == region_id)
        ).one()
    return lat, lon


def alert_trace(fig: dict) -> dict:
    layers = [t for t in fig["data"] if t.get("name") == figures.ALERT_NAME]
    assert len(layers) == 1, [t.get("name") for t in fig["data"]]
    return layers[0]


def test_map_draws_confirmed_alerts_only(client, with_alerts):
    resp, _ = dash_post(client, MAP_OUTPUTS, map_inputs(2020, "watch"), [f"{ids.MAP_COUNTRY}.value"])
    fig = resp.get_json()["response"][ids.MAP_GRAPH]["figure"]
    assert fig["data"][1]["name"] == figures.MAP_METRICS["watch"]["label"]  # the value trace stays at index 1
    layer = alert_trace(fig)
    assert layer["type"] == "scattermap" and layer["text"] == ["Sudan", "Syria"]  # NGA's alert is pending
    by_name = dict(zip(layer["text"], layer["customdata"], strict=True))
    assert by_name["Syria"] == ["outflow-surge (2020)<br>displacement-3y-high (2019)", 2]  # newest first
    assert by_name["Sudan"] == ["conflict-deaths-3y-high (2020)", 1]
    syr = layer["text"].index("Syria")
    assert (layer["lat"][syr], layer["lon"][syr]) == pytest.approx(label_point(with_alerts, "SYR"))
    assert 32 < layer["lat"][syr] < 37.5 and 35.5 < layer["lon"][syr] < 42.5  # the point lies in Syria


def test_year_change_still_patches_only_values(client, with_alerts):
    patch, _ = dash_post(client, MAP_OUTPUTS, map_inputs(2019), [f"{ids.MAP_YEAR}.value"])
    ops = patch.get_json()["response"][ids.MAP_GRAPH]["figure"]["operations"]
    assert {tuple(op["location"]) for op in ops} == {
        ("data", 0, "z"),
        ("data", 1, "z"),
        ("data", 1, "marker", "opacity"),
        ("layout", "title", "text"),
    }


def test_admin1_view_keeps_only_the_country_alerts(client, with_alerts):
    resp, _ = dash_post(
        client, MAP_OUTPUTS, map_inputs(2020, "estimate", "NGA"), [f"{ids.MAP_COUNTRY}.value"]
    )
    fig = resp.get_json()["response"][ids.MAP_GRAPH]["figure"]
    assert figures.ALERT_NAME not in [t.get("name") for t in fig["data"]]  # Nigeria: only a pending alert


def test_side_list_links_to_alerts(dash_app, with_alerts):
    layout = dash.page_registry["dashboard.pages.map"]["layout"]()
    text = str(layout)
    assert "Sudan" in text and "conflict-deaths-3y-high (2020)" in text and "outflow-surge (2020)" in text
    assert "watchlist-enters-top" not in text  # pending: analysts only
    assert "href='/alerts'" in text and "href='/region/SYR'" in text


def test_no_confirmed_alert_no_layer(client):
    resp, _ = dash_post(client, MAP_OUTPUTS, map_inputs(2020, "watch"), [f"{ids.MAP_COUNTRY}.value"])
    assert len(resp.get_json()["response"][ids.MAP_GRAPH]["figure"]["data"]) == 2
    assert "No confirmed alerts" in str(map_page.alert_list(pd.DataFrame(columns=["region_id"])))


def test_alert_layer_caps_the_hover_and_skips_countries_without_a_point():
    rows = [
        {
            "region_id": "AAA",
            "region_name": "A",
            "rule": f"r{i}",
            "period": 2000 + i,
            "label_lat": 1.0,
            "label_lon": 2.0,
        }
        for i in range(7)
    ]
    rows.append(
        {
            "region_id": "BBB",
            "region_name": "B",
            "rule": "r",
            "period": 2020,
            "label_lat": None,
            "label_lon": None,
        }
    )
    layer = figures.alert_layer(pd.DataFrame(rows))
    assert list(layer.text) == ["A"]
    hover, n = layer.customdata[0]
    assert n == 7 and hover.startswith("r6 (2006)<br>r5 (2005)") and hover.endswith("and 2 more")
    assert figures.alert_layer(pd.DataFrame(rows[-1:])) is None


@pytest.mark.browser
def test_browser_shows_alert_markers_and_list(dash_duo, dash_app, with_alerts, tmp_path):
    """Headless Chromium: the map draws three traces (no data, values, alerts), hovering Syria's marker names
    its
    rules and years, the side list links to /alerts; no console error. Screenshot: CRISISRISK_SCREENSHOT_DIR.
    """
    import os
    import time
    from pathlib import Path

    from tests.dashboard.test_browser import assert_clean, wait_js

    dash_duo.start_server(dash_app)
    driver = dash_duo.driver
    driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_element(f"#{ids.MAP_GRAPH} .js-plotly-plot", timeout=30)
    wait_js(
        driver,
        """
        const gd = document.querySelector('#MAP_ID .js-plotly-plot');
        if (!gd || !gd._fullLayout || !gd._fullLayout.map || !gd._fullLayout.map._subplot) return false;
        const m = gd._fullLayout.map._subplot.map;
        return !!(m && m.loaded() && gd.data && gd.data.length === 3);
    """.replace("MAP_ID", ids.MAP_GRAPH),
    )
    lat, lon = label_point(with_alerts, "SYR")
    xy = wait_js(
        driver,
        """
        const gd = document.querySelector('#MAP_ID .js-plotly-plot');
        const m = gd._fullLayout.map._subplot.map;
        const p = m.project([arguments[1], arguments[0]]);
        const r = m.getCanvas().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    """.replace("MAP_ID", ids.MAP_GRAPH),
        20,
        lat,
        lon,
    )
    hover = ""
    for dx in (0, 1, -1, 2):  # a real mouse move through Chrome's input pipeline (CDP) onto Syria's marker
        driver.execute_cdp_cmd(
            "Input.dispatchMouseEvent", {"type": "mouseMoved", "x": xy[0] + dx, "y": xy[1]}
        )
        time.sleep(0.4)
        hover = driver.execute_script(
            "const h = document.querySelector('.hoverlayer'); return h ? h.textContent : '';"
        )
        if "outflow-surge" in hover:
            break
    assert "Syria" in hover and "outflow-surge (2020)" in hover and "displacement-3y-high (2019)" in hover
    side = driver.find_element("id", map_page.MAP_ALERTS)
    assert "Sudan: conflict-deaths-3y-high (2020)" in side.text
    assert side.find_element("css selector", "a[href='/alerts']")
    folder = Path(os.environ.get("CRISISRISK_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / "map_alerts_hover.png"))
    driver.set_window_size(1400, 1500)  # the side list under the watch list in view
    time.sleep(2.0)
    driver.save_screenshot(str(folder / "map_alerts.png"))
    assert_clean(dash_duo, "map with alerts")
