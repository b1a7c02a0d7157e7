"""Headless Chromium (dash[testing] ``dash_duo``, Debian's chromium + chromium-driver): every page loads
with no console error and no request to another host; the year changes; a click on a country opens its
region page."""

from __future__ import annotations

import time

import pytest

from dashboard import ids
from tests.dashboard.conftest import chromium_available, external, requested_urls

pytestmark = [pytest.mark.browser]


def test_chromium_is_installed():
    """Browser tests never skip silently: without Chromium this fails and says what to install."""
    assert (
        chromium_available()
    ), "install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"


MAP_READY = """
    const gd = document.querySelector('#MAP_ID .js-plotly-plot');
    if (!gd || !gd._fullLayout || !gd._fullLayout.map || !gd._fullLayout.map._subplot) return false;
    const m = gd._fullLayout.map._subplot.map;
    return !!(m && m.loaded() && gd.data && gd.data.length >= 2);
""".replace("MAP_ID", ids.MAP_GRAPH)


def wait_js(driver, script: str, timeout: float = 40.0, *args):
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script[:120]}")


def click_at(driver, x: float, y: float) -> None:
    """A real mouse click at viewport pixels, through Chrome's input pipeline (CDP)."""
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        driver.execute_cdp_cmd(
            "Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
        )
        time.sleep(0.05)


def severe(dash_duo) -> list[dict]:
    return [e for e in dash_duo.get_logs() if e.get("level") == "SEVERE"]


def assert_clean(dash_duo, page: str) -> None:
    errors = severe(dash_duo)
    assert not errors, f"{page}: console errors {errors}"
    outside = external(requested_urls(dash_duo.driver))
    assert not outside, f"{page}: requests to external hosts {outside}"


@pytest.fixture
def started(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    return dash_duo


@pytest.mark.parametrize(
    "path,selector",
    [
        ("/", f"#{ids.MAP_GRAPH} .js-plotly-plot"),
        ("/region/NGA", f"#{ids.REGION_WATERFALL} .js-plotly-plot"),
        ("/region/NOWHERE", "h2"),
        ("/priorities", f"#{ids.PRIO_TABLE} .dash-spreadsheet"),
        ("/model", f"#{ids.MODEL_BASELINES} .js-plotly-plot"),
        ("/data", f"#{ids.DATA_SOURCES}"),
    ],
)
def test_page_loads_offline_without_errors(started, path, selector):
    started.driver.get(started.server_url + path)
    started.wait_for_element(selector, timeout=30)
    if path == "/":
        wait_js(started.driver, MAP_READY)
    time.sleep(1.0)
    assert_clean(started, path)


def test_map_year_change_click_and_region_page(started):
    driver = started.driver
    driver.get(started.server_url + "/")
    started.wait_for_element(f"#{ids.MAP_GRAPH} .js-plotly-plot", timeout=30)
    wait_js(driver, MAP_READY)
    title = f"return document.querySelector('#{ids.MAP_GRAPH} .gtitle').textContent"
    assert "2020" in driver.execute_script(title)
    # change the year: click the 2017 mark of the slider
    mark = driver.find_element("xpath", f"//div[@id='{ids.MAP_YEAR}']/..//*[normalize-space(text())='2017']")
    box = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.left + r.width / 2, r.top];", mark
    )
    click_at(driver, box[0], box[1] - 6)  # on the track above the label: the slider jumps there
    wait_js(driver, title.replace("return ", "return ") + ".includes('2017')")
    # click Nigeria on the map: project its label point to screen pixels, then a real mouse click (CDP)
    xy = wait_js(
        driver,
        """
        const gd = document.querySelector('#MAP_ID .js-plotly-plot');
        const m = gd._fullLayout.map._subplot.map;
        const p = m.project([8.1, 9.6]);
        const r = m.getCanvas().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    """.replace("MAP_ID", ids.MAP_GRAPH),
    )
    click_at(driver, xy[0], xy[1])
    wait_js(driver, "return window.location.pathname === '/region/NGA'", 20)
    assert "year=2017" in driver.current_url
    started.wait_for_text_to_equal("h1", "Nigeria", timeout=20)
    started.wait_for_element(f"#{ids.REGION_WATERFALL} .js-plotly-plot", timeout=20)
    wf = f"document.querySelector('#{ids.REGION_WATERFALL} .gtitle')"
    wait_js(driver, f"return {wf} && {wf}.textContent.includes('2017')")
    assert_clean(started, "map -> region")


def test_admin1_view(started):
    driver = started.driver
    driver.get(started.server_url + "/?country=NGA")
    started.wait_for_element(f"#{ids.MAP_GRAPH} .js-plotly-plot", timeout=30)
    wait_js(driver, MAP_READY)
    urls = requested_urls(driver)
    assert any(u.endswith("admin1-NGA.geojson") for u in urls), urls
    assert not external(urls)
    assert not severe(started)


def _text(driver, selector: str) -> str:
    return driver.execute_script(
        f"const e = document.querySelector({selector!r}); return e ? e.innerText : '';"
    )


def test_map_and_region_headline_is_the_watch_list(started, tmp_path):
    """Issue 11: the map's and the region page's headline is the watch list, with its drivers, skill and
    basis.

    Values from tests/dashboard/synthetic.py: Syria tops 2020 (score 0.60 -> x1.82), skill 'weak'."""
    from tests.dashboard.synthetic import WATCH_BASIS

    driver = started.driver
    driver.set_window_size(1440, 900)
    driver.get(started.server_url + "/")
    started.wait_for_element(f"#{ids.MAP_GRAPH} .js-plotly-plot", timeout=30)
    wait_js(driver, MAP_READY)
    title = f"return document.querySelector('#{ids.MAP_GRAPH} .gtitle').textContent"
    assert "Crisis watch list" in driver.execute_script(title) and "2021–2023" in driver.execute_script(title)
    checked = driver.execute_script(f"return document.querySelector('#{ids.MAP_METRIC} input:checked').value")
    assert checked == "watch"
    wait_js(driver, f"return document.querySelector('#{ids.MAP_WATCHLIST} li') !== null")
    side = _text(driver, f"#{ids.MAP_WATCHLIST}")
    first = _text(driver, f"#{ids.MAP_WATCHLIST} li")
    assert (
        first.startswith("Syria") and "×1.82" in first and "refugees and asylum-seekers abroad x2.4" in first
    )
    assert "People exposed: 6.7 million" in first
    assert "Basis" in side and WATCH_BASIS in side
    skill = _text(driver, f"#{ids.MAP_SKILL}")
    assert "Measured skill: weak" in skill and "Historically" in skill
    driver.save_screenshot(str(tmp_path / "map.png"))
    assert_clean(started, "/ (watch list)")

    driver.get(started.server_url + "/region/SYR?year=2020")
    started.wait_for_text_to_equal("h1", "Syria", timeout=20)
    wait_js(driver, f"return document.querySelector('#{ids.REGION_WATCH} .kpi') !== null", 20)
    first_h2 = driver.execute_script("return document.querySelector('.region-page h2').innerText")
    assert first_h2.startswith("Crisis watch list")  # the first section is the watch list
    block = _text(driver, f"#{ids.REGION_WATCH}")
    for part in ("1 of", "×1.82", "×1.42–×2.34", "6.7 million", WATCH_BASIS, "weak"):
        assert part in block, part
    started.wait_for_element(f"#{ids.REGION_WATCH_DRIVERS} .js-plotly-plot", timeout=20)
    drivers_title = f"document.querySelector('#{ids.REGION_WATCH_DRIVERS} .gtitle')"
    wait_js(
        driver, f"return {drivers_title} && {drivers_title}.textContent.includes('Drivers of the watch-list')"
    )
    bars = driver.execute_script(
        f"return document.querySelectorAll('#{ids.REGION_WATCH_DRIVERS} .bars path').length"
    )
    assert bars == 4  # the composite's four stored terms
    started.wait_for_element(f"#{ids.REGION_PAIRS} .js-plotly-plot", timeout=20)
    # the detected model follows as context, after the watch list, with its caveat
    order = driver.execute_script(f"""
        const w = document.getElementById('{ids.REGION_WATCH}');
        const k = document.getElementById('{ids.REGION_KPIS}');
        return w.compareDocumentPosition(k) & Node.DOCUMENT_POSITION_FOLLOWING;""")
    assert order
    assert "detection capacity" in _text(driver, ".caveat")
    driver.save_screenshot(str(tmp_path / "region_SYR.png"))
    assert_clean(started, "/region/SYR (watch list)")
