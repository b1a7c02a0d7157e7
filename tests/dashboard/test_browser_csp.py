"""Headless Chromium under the real Content-Security-Policy (issue 9 #14): the map page renders its MapLibre
map
(tile workers from blob: URLs, Dash's hashed inline scripts) and the other pages load, with no CSP violation.

Violations are caught twice: a ``securitypolicyviolation`` listener installed before any page script runs
(CDP ``Page.addScriptToEvaluateOnNewDocument``), and Chrome's console log ("Refused to ...").
"""

from __future__ import annotations

import time

import pytest

from dashboard import ids
from tests.dashboard.conftest import chromium_available

pytestmark = [pytest.mark.browser]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(
    {directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile}));
"""
MAP_LOADED = """
    const gd = document.querySelector('#MAP_ID .js-plotly-plot');
    if (!gd || !gd._fullLayout || !gd._fullLayout.map || !gd._fullLayout.map._subplot) return false;
    const m = gd._fullLayout.map._subplot.map;
    return !!(m && m.loaded() && m.areTilesLoaded());
""".replace("MAP_ID", ids.MAP_GRAPH)


def test_chromium_is_installed():
    assert (
        chromium_available()
    ), "install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"


def _wait(driver, script: str, timeout: float = 40.0):
    end = time.time() + timeout
    while time.time() < end:
        if driver.execute_script(script):
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script[:100]}")


def _csp_problems(dash_duo) -> list:
    violations = dash_duo.driver.execute_script("return window.__cspViolations || null")
    assert violations is not None, "the violation listener was not installed"
    console = [
        e
        for e in dash_duo.get_logs()
        if "Content Security Policy" in e.get("message", "") or "Refused to" in e.get("message", "")
    ]
    return violations + console


@pytest.mark.parametrize(
    "path,selector",
    [
        ("/", f"#{ids.MAP_GRAPH} .js-plotly-plot"),
        ("/region/NGA", ".js-plotly-plot"),
        ("/priorities", f"#{ids.PRIO_TABLE}"),
        ("/model", ".js-plotly-plot"),
        ("/data", f"#{ids.DATA_SOURCES}"),
        ("/login", "#login-submit"),
    ],
)
def test_pages_render_under_the_csp_without_violations(dash_duo, dash_app, path, selector):
    client = dash_app.server.test_client()
    csp = client.get(path).headers.get("Content-Security-Policy", "")
    assert (
        "default-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]
    )
    dash_duo.start_server(dash_app)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    dash_duo.driver.get(dash_duo.server_url + path)
    dash_duo.wait_for_element(selector, timeout=30)
    if path == "/":
        _wait(dash_duo.driver, MAP_LOADED)  # the MapLibre map with its workers really drew
        canvas = dash_duo.driver.execute_script(
            f"return document.querySelectorAll('#{ids.MAP_GRAPH} canvas').length"
        )
        assert canvas >= 1
    time.sleep(1.0)
    assert _csp_problems(dash_duo) == []
