"""Every page at a phone's width (390×844) and a desktop's (1440×900) in headless Chromium (issue 13 item 1):
the document never scrolls sideways (``scrollWidth <= clientWidth <= innerWidth``) and no visible element
reaches past the right edge of the viewport.

The exact width comes from CDP ``Emulation.setDeviceMetricsOverride`` with ``mobile: false``: with
``mobile: true`` Chromium grows the layout viewport to fit overflowing content, so ``innerWidth`` would equal
``scrollWidth`` and the check could not fail. An element inside a wrapper that scrolls or clips sideways
(a table in an ``overflow-x: auto`` box) is fine when the wrapper itself fits.

The app is the dashboard test warehouse (real regions, SYNTHETIC model outputs, tests/dashboard/synthetic.py)
with an analyst signed in for the admin page.
"""

from __future__ import annotations

import time

import pytest

from tests.dashboard.test_api_scenarios import ISO3
from tests.dashboard.workflow_app import PASSWORDS, workflow_app
from tests.models.test_scenarios import REGIONS, YEAR, make_model, synthetic_obs

pytestmark = [pytest.mark.browser]

SIZES = [(390, 844), (1440, 900)]
PAGES = {
    "map": ("/", ".map-graph .js-plotly-plot"),
    "map-country": ("/?country=NGA", ".map-graph .js-plotly-plot"),
    "region": ("/region/NGA", ".js-plotly-plot"),
    "model": ("/model", ".js-plotly-plot"),
    "data": ("/data", ".dash-spreadsheet"),
    "priorities": ("/priorities", ".dash-spreadsheet"),
    "phases": ("/phases", "h1"),
    "alerts": ("/alerts", "h1"),
    "scenarios": (f"/scenarios?region=AGO&year={YEAR}", ".scen-rise .scen-value"),
    "admin": ("/admin", "h1"),
    "glossary": ("/glossary", "dl"),
}

# Visible elements whose box ends right of the viewport, unless an ancestor that scrolls or clips sideways
# (overflow-x auto/scroll/hidden/clip) fits in the viewport: that ancestor holds them.
OVERFLOWING = """
const W = document.documentElement.clientWidth, out = [];
const clippedInside = (el) => {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const s = getComputedStyle(p);
    const holds = /(auto|scroll|hidden|clip)/.test(s.overflowX);
    if (holds && p.getBoundingClientRect().right <= W + 0.5) return true;
  }
  return false;
};
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || r.right <= W + 0.5) continue;
  const s = getComputedStyle(el);
  if (s.visibility === 'hidden' || s.display === 'none' || clippedInside(el)) continue;
  const cls = typeof el.className === 'string' ? el.className : (el.className.baseVal || '');
  const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (cls ? '.' + cls.trim().split(/\\s+/).join('.') : '');
  const text = (el.innerText || el.textContent || '').trim().slice(0, 40);
  out.push(name + ' (right edge ' + Math.round(r.right) + ' px): ' + text);
}
return out;
"""


@pytest.fixture(scope="module")
def app_with_users(tmp_path_factory):
    """The synthetic dashboard with users of every role (tests/dashboard/workflow_app.py), public pages."""
    with workflow_app(tmp_path_factory.mktemp("responsive"), public_read=True) as (app, _engine):
        yield app


@pytest.fixture(scope="module")
def iso3_model():
    obs = synthetic_obs()
    obs["region_id"] = obs["region_id"].map(dict(zip(REGIONS, ISO3, strict=True)))
    return make_model(obs)


@pytest.fixture
def browser(dash_duo, app_with_users, iso3_model, monkeypatch):
    monkeypatch.setattr("dashboard.pages.scenarios.scenario_model", lambda: iso3_model)
    dash_duo.start_server(app_with_users)
    return dash_duo


def set_size(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def sign_in(duo) -> None:
    driver = duo.driver
    driver.get(duo.server_url + "/login")
    duo.wait_for_element("input[name=name]", timeout=20).send_keys("ana")
    driver.find_element("css selector", "input[name=password]").send_keys(PASSWORDS["ana"])
    driver.find_element("css selector", "form.auth-form button[type=submit]").click()
    end = time.time() + 30
    while "/login" in driver.current_url and time.time() < end:  # signed in: the form redirects
        time.sleep(0.2)
    assert "/login" not in driver.current_url, "sign-in did not leave the login page"


def settle(driver, seconds: float = 1.5) -> None:
    """Wait until Dash has no callback in flight and the layout has stopped changing width."""
    end, last = time.time() + 30, None
    while time.time() < end:
        busy = driver.execute_script("return !!document.querySelector('[data-dash-is-loading=true]')")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        if not busy and width == last:
            return
        last = width
        time.sleep(seconds)


@pytest.mark.parametrize("width,height", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("page", list(PAGES))
def test_no_horizontal_scroll(browser, page, width, height):
    driver = browser.driver
    set_size(driver, width, height)
    if page == "admin":
        sign_in(browser)
    path, ready = PAGES[page]
    driver.get(browser.server_url + path)
    browser.wait_for_element(ready, timeout=40)
    settle(driver)
    inner, visible, scroll = driver.execute_script(
        "const d = document.documentElement; return [window.innerWidth, d.clientWidth, d.scrollWidth]"
    )
    assert inner == width  # the emulated viewport really is this wide
    offenders = driver.execute_script(OVERFLOWING)
    # clientWidth is innerWidth less a vertical scroll bar: what is left for the page to fit in
    assert scroll <= visible <= inner and not offenders, (
        f"{page} at {width}px lays out {scroll}px wide in {visible}px; past the right edge: {offenders[:8]}"
    )
