"""Scenarios page in headless Chromium (issue 15): moving a lever's slider changes the estimate, the share
link
and the waterfall, with no console error and no request to another host.

The engine runs on the hand-made observations of tests/models/test_scenarios.py with 40 real ISO3 codes (test
values, never shipped); the rest of the app is the dashboard test warehouse (tests/dashboard/conftest.py).
"""

from __future__ import annotations

import time

import pytest

from tests.dashboard.conftest import external, requested_urls, wait_js
from tests.dashboard.test_api_scenarios import ISO3
from tests.models.test_scenarios import REGIONS, YEAR, make_model, synthetic_obs

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def iso3_model():
    obs = synthetic_obs()
    obs["region_id"] = obs["region_id"].map(dict(zip(REGIONS, ISO3, strict=True)))
    return make_model(obs)


@pytest.fixture
def page(dash_duo, dash_app, iso3_model, monkeypatch):
    monkeypatch.setattr("dashboard.pages.scenarios.scenario_model", lambda: iso3_model)
    dash_duo.start_server(dash_app)
    return dash_duo


def click_at(driver, x: float, y: float) -> None:
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        driver.execute_cdp_cmd(
            "Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
        )
        time.sleep(0.05)


RISE = "return (document.querySelector('.scen-rise .scen-value') || {}).innerText || ''"
RISE_BASE = "return (document.querySelector('.scen-rise .scen-baseline') || {}).innerText || ''"


def test_moving_a_slider_changes_the_estimate(page):
    driver = page.driver
    driver.get(page.server_url + f"/scenarios?region=AGO&year={YEAR}")
    page.wait_for_element(".scen-rise .scen-value", timeout=40)
    before = wait_js(driver, RISE)
    assert before == wait_js(driver, RISE_BASE)  # nothing moved yet: the scenario is the baseline
    rail = driver.execute_script(
        "const r = document.querySelector('.lever-displaced_abroad"
        " .dash-slider-track').getBoundingClientRect();window.scrollTo(0, r.top + window.scrollY - 200);const"
        " s = document.querySelector('.lever-displaced_abroad"
        " .dash-slider-track').getBoundingClientRect();return [s.left, s.width, s.top + s.height / 2];"
    )
    click_at(driver, rail[0] + 0.6 * rail[1], rail[2])  # about × 6 on the 0-10 rail
    after = wait_js(
        driver,
        "const v = (document.querySelector('.scen-rise .scen-value') || {}).innerText || '';"
        f"return v && v !== {before!r} ? v : '';",
        timeout=40,
    )
    assert float(after) > float(before)  # more people displaced abroad: a larger expected rise
    share = driver.execute_script("return document.getElementById('scen-share').getAttribute('href')")
    assert "displaced_abroad=" in share and "region=AGO" in share
    wait_js(
        driver,
        "return document.querySelectorAll('#scen-waterfall .waterfall').length > 0 || "
        "document.querySelectorAll('#scen-waterfall .js-plotly-plot').length > 0",
    )
    errors = [e for e in page.get_logs() if e.get("level") == "SEVERE"]
    assert not errors, errors
    assert not external(requested_urls(driver))


@pytest.fixture(scope="module")
def users_app(tmp_path_factory, iso3_model):
    """An app with users (tests/dashboard/workflow_app.py), public read on, the same hand-made engine."""
    from tests.dashboard.workflow_app import workflow_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("dashboard.pages.scenarios.scenario_model", lambda: iso3_model)
        mp.setattr("dashboard.api_scenarios.scenario_model", lambda actx: iso3_model)
        with workflow_app(tmp_path_factory.mktemp("scen_browser"), public_read=True) as (app, engine):
            yield app, engine


def test_a_viewer_saves_a_named_scenario_from_the_page(dash_duo, users_app):
    """Anonymous: the page says to log in. Signed in as a viewer: the save goes through the API (CSRF header
    from
    the session cookie) and lands in saved_scenario with the levers on the page."""
    from selenium.webdriver.common.by import By
    from sqlalchemy import select

    from tests.dashboard.workflow_app import PASSWORDS
    from warehouse.schema import saved_scenario

    app, engine = users_app
    dash_duo.start_server(app)
    driver = dash_duo.driver
    url = dash_duo.server_url + f"/scenarios?region=AGO&year={YEAR}&displaced_abroad=2"
    driver.get(url)
    dash_duo.wait_for_element(".scen-rise .scen-value", timeout=40)
    time.sleep(1.0)
    driver.find_element(By.ID, "scen-save-name").send_keys("Angola doubled")
    driver.find_element(By.ID, "scen-save").click()
    wait_js(driver, "return document.getElementById('scen-save-msg').innerText.includes('Log in')")
    driver.get(dash_duo.server_url + "/login?next=/scenarios")
    dash_duo.wait_for_element("#login-name", timeout=20)
    driver.find_element(By.ID, "login-name").send_keys("vera")
    driver.find_element(By.ID, "login-password").send_keys(PASSWORDS["vera"])
    driver.find_element(By.ID, "login-submit").click()
    time.sleep(1.0)
    driver.get(url)
    dash_duo.wait_for_element(".scen-rise .scen-value", timeout=40)
    time.sleep(1.0)
    driver.find_element(By.ID, "scen-save-name").send_keys("Angola doubled")
    driver.find_element(By.ID, "scen-save").click()
    wait_js(driver, "return document.getElementById('scen-save-msg').innerText.includes('Saved as')")
    with engine.connect() as conn:
        row = (
            conn.execute(select(saved_scenario).where(saved_scenario.c.name == "Angola doubled"))
            .mappings()
            .one()
        )
    assert (
        row["created_by"] == "vera"
        and row["region_id"] == "AGO"
        and row["levers_json"] == {"displaced_abroad": 2.0}
    )


def test_region_page_links_to_its_scenarios(page):
    driver = page.driver
    driver.get(page.server_url + "/region/NGA")
    page.wait_for_element("a.scenarios-link", timeout=40)
    href = driver.execute_script("return document.querySelector('a.scenarios-link').getAttribute('href')")
    assert href.startswith("/scenarios?region=NGA&year=")
