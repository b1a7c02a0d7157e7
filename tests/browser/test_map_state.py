"""The map in headless Chromium (issue 13 items 3 and 4): the view lives in the URL, the admin-1 view has its
own colour range, names, neighbours, ranks k of n and tie reasons, and the basis of each year is on screen.

The warehouse is tests/dashboard/synthetic.py: real Natural Earth regions, SYNTHETIC predictions for
2016-2020 (every year has checked labels) and watch-list score years 2017-2020. In it, 15 of Nigeria's 37
admin-1 units have no sub-national data and carry the country rate (a tie the page must explain).
"""

from __future__ import annotations

import time

import pytest

from dashboard import figures, ids
from dashboard.pages import map as map_page
from tests.dashboard.conftest import external, requested_urls, wait_js

pytestmark = [pytest.mark.browser]

GD = f"document.querySelector('#{ids.MAP_GRAPH} .js-plotly-plot')"
MAP_READY = f"""
    const gd = {GD};
    if (!gd || !gd._fullLayout || !gd._fullLayout.map || !gd._fullLayout.map._subplot) return false;
    const m = gd._fullLayout.map._subplot.map;
    return !!(m && m.loaded() && gd.data && gd.data.length >= 2);
"""


def move_to(driver, x: float, y: float, click: bool = False) -> None:
    """A real mouse move (and click) at viewport pixels through Chrome's input pipeline (CDP)."""
    kinds = ["mouseMoved", "mousePressed", "mouseReleased"] if click else ["mouseMoved"]
    for kind in kinds:
        driver.execute_cdp_cmd(
            "Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
        )
        time.sleep(0.05)


def screen_xy(driver, lon: float, lat: float) -> list[float]:
    return driver.execute_script(f"""
        const gd = {GD};
        const m = gd._fullLayout.map._subplot.map;
        const p = m.project([{lon}, {lat}]);
        const r = m.getCanvas().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];""")


def open_map(dash_duo, path: str) -> None:
    dash_duo.driver.get(dash_duo.server_url + path)
    dash_duo.wait_for_element(f"#{ids.MAP_GRAPH} .js-plotly-plot", timeout=30)
    wait_js(dash_duo.driver, MAP_READY)


def text_of(driver, selector: str) -> str:
    return driver.execute_script(
        f"const e = document.querySelector({selector!r}); return e ? e.innerText : '';"
    )


@pytest.fixture
def started(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    dash_duo.driver.set_window_size(1440, 1000)
    return dash_duo


def test_url_state_round_trip(started):
    """Country, year and colour read from the URL on load, and written back (no reload) when they change."""
    driver = started.driver
    open_map(started, "/?country=NGA&year=2018&metric=estimate")
    assert driver.execute_script(f"return {GD}.data[1].geojson").endswith("admin1-NGA.geojson")
    title = f"return {GD}.layout.title.text"
    assert "2018" in driver.execute_script(title) and "Nigeria" in driver.execute_script(title)
    checked = driver.execute_script(f"return document.querySelector('#{ids.MAP_METRIC} input:checked').value")
    assert checked == "estimate"
    wait_js(driver, "return window.location.search.includes('year=2018')")
    # move the slider to 2020 (the last mark): the title and the URL follow, and the page is not reloaded
    driver.execute_script("window.__notReloaded = true;")
    mark = driver.find_element("xpath", f"//div[@id='{ids.MAP_YEAR}']/..//*[normalize-space(text())='2020']")
    box = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.left + r.width / 2, r.top];", mark
    )
    move_to(driver, box[0], box[1] - 6, click=True)
    wait_js(driver, f"return {GD}.layout.title.text.includes('2020')")
    wait_js(driver, "return window.location.search.includes('year=2020')")
    search = driver.execute_script("return window.location.search")
    assert "country=NGA" in search and "metric=estimate" in search, search
    assert driver.execute_script("return window.__notReloaded === true")
    # the shared link opens the same view
    shared = driver.current_url
    driver.get("about:blank")
    driver.get(shared)
    started.wait_for_element(f"#{ids.MAP_GRAPH} .js-plotly-plot", timeout=30)
    wait_js(driver, MAP_READY)
    assert "2020" in driver.execute_script(title) and "Nigeria" in driver.execute_script(title)
    assert not external(requested_urls(driver))


def test_admin1_scale_names_neighbours_ranks_and_ties(started, dash_app):
    """Nigeria's units span their own colour range; the national position, unit labels, grey neighbours,
    rank k of n in the hover details and the reason for tied values are on screen."""
    from dashboard.context import current

    driver = started.driver
    open_map(started, "/?country=NGA&year=2020&metric=estimate")
    trace = driver.execute_script(f"const t = {GD}.data[1]; return [t.z, t.zmin, t.zmax, t.colorbar];")
    z = [v for v in trace[0] if v is not None]
    assert trace[1] == pytest.approx(min(z), abs=1e-3) and trace[2] == pytest.approx(max(z), abs=1e-3)
    assert trace[3]["orientation"] == "h" and trace[3]["thickness"] <= 12  # flat, thin, below the map
    assert trace[3]["ticktext"] and all(not t.startswith("-") for t in trace[3]["ticktext"])  # real values
    q = current().queries
    value, k, n = q.national_position("NGA", 2020)
    note = text_of(driver, f"#{ids.MAP_NOTE}")
    assert f"rank {k} of {n} countries" in note and "Nigeria" in note, note
    units = q.map_values(1, 2020, "NGA")
    groups = units["estimate_per_100k"].round(6).value_counts()
    assert groups.iloc[0] > 1  # the synthetic data has units that carry the country rate
    assert f"{groups.iloc[0]} units share one value, for a reason" in note and "country rate" in note, note
    names = [t.get("name") for t in driver.execute_script(f"return {GD}.data")]
    assert figures.LABEL_LAYER in names and any("Neighbouring" in (nm or "") for nm in names), names
    neighbours = driver.execute_script(f"return {GD}.data[2].locations")
    assert "NER" in neighbours and "CMR" in neighbours and "NGA" not in neighbours
    labels = int(
        wait_js(driver, "const b = document.querySelector('.map-labels'); return b && b.dataset.count")
    )
    assert labels >= 5  # the larger units are named on the map
    placed = driver.execute_script(
        "return [...document.querySelectorAll('.map-label')].map(e => e.getBoundingClientRect())"
        ".map(r => [r.left, r.top, r.right, r.bottom])"
    )
    overlaps = [
        (a, b)
        for i, a in enumerate(placed)
        for b in placed[i + 1 :]
        if not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])
    ]
    assert not overlaps, overlaps
    # hover a unit: its details (k of n within the country) come from the server
    tied = units[units["estimate_per_100k"].round(6) == groups.index[0]]
    info = q.regions(1).set_index("region_id").loc[tied["region_id"].iloc[0]]
    driver.execute_script("window.scrollTo(0, 0)")
    xy = screen_xy(driver, info["label_lon"], info["label_lat"])
    move_to(driver, xy[0] + 1, xy[1] + 1)
    move_to(driver, xy[0], xy[1])
    hover = f"#{map_page.MAP_HOVER}"
    wait_js(driver, f"return document.querySelector({hover!r}).innerText.includes('units of Nigeria')")
    details = text_of(driver, hover)
    assert info["name"] in details and f"of {len(units)} units of Nigeria" in details, details
    assert f"Same value as {groups.iloc[0] - 1} other units" in details and "country rate" in details, details
    assert "Basis:" in details


def test_basis_legend_slider_and_default_year(started, dash_app):
    """The page opens on the latest usable year, says how old its newest label is, styles the slider's year
    labels by basis and explains the shapes' opacity."""
    from dashboard.context import current
    from dashboard.queries import default_year

    driver = started.driver
    open_map(started, "/")
    q = current().queries
    bases = q.year_bases()
    expected = default_year(map_page.years(), bases)
    assert bases[expected] in ("checked", "nowcast")
    value = driver.execute_script(f"return {GD}.layout.title.text")
    assert str(expected) in value
    legend = text_of(driver, ".basis-legend")
    for part in ("checked", "nowcast", "projection", "opacity"):
        assert part in legend, legend
    opacities = driver.execute_script(f"return {GD}.data[1].marker.opacity")
    assert set(opacities) <= set(figures.BASIS_OPACITY.values())
    assert opacities[0] == figures.BASIS_OPACITY[bases[expected]]  # the watch list takes the year's basis
    wait_js(driver, f"return document.querySelector('#{ids.MAP_YEAR_NOTE} .year-basis') !== null")
    note = text_of(driver, f"#{ids.MAP_YEAR_NOTE} .year-basis")
    assert note.startswith(f"{expected}: {bases[expected]}"), note
    marks = driver.execute_script(
        f"return [...document.querySelectorAll('#{ids.MAP_YEAR} .dash-slider-mark')]"
        ".map(e => [e.innerText, getComputedStyle(e).fontWeight, getComputedStyle(e).fontStyle])"
    )
    assert len(marks) >= 3, marks
    for text, weight, style in marks:
        basis = bases.get(int(text))
        assert (int(weight) >= 700) == (basis == "checked"), marks
        assert (style == "italic") == (basis in ("nowcast", "projection")), marks
    assert str(expected) in [t for t, _w, _s in marks]  # the default year is always labelled
