"""Dashboard fixtures: a warehouse with the real Natural Earth regions and SYNTHETIC model outputs.

The predictions, explanations, model run and observations come from ``tests/dashboard/synthetic.py``:
seeded, made-up test values (run id ``SYNTHETIC-TEST-RUN-deployed``) that exercise the code paths. They
are not estimates and are never shipped in the product.

Browser tests use Debian's ``chromium`` and ``chromium-driver`` through ``dash[testing]`` (``dash_duo``);
``pytest_setup_options`` below gives Chromium the flags it needs in a container and turns on the
performance log so a test can list every request the page made.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from tests.conftest import _fresh_url
from tests.dashboard.synthetic import build_synthetic_warehouse

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--window-size=1400,1000",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="session")
def dash_engine(tmp_path_factory):
    """Read-only warehouse shared by the dashboard tests (real regions + synthetic model outputs)."""
    from warehouse.db import make_engine

    tmp = tmp_path_factory.mktemp("dash")
    engine = make_engine(_fresh_url(tmp, "dash"))
    build_synthetic_warehouse(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _shared_dash_app(dash_engine):
    """One app for the session, with a copy of the page registry it made (Dash keeps pages in a global)."""
    import dash
    from dash import _pages

    from dashboard.app import create_app

    app = create_app(dash_engine, {"cache_ttl_s": 0, "public_read": True})
    return app, dict(dash.page_registry), _pages.CONFIG


@pytest.fixture
def dash_app(_shared_dash_app):
    """The shared app, with Dash's page registry and config put back as it made them, and its app context
    pushed: a test that calls a page's layout outside a request reads this app's warehouse
    (``dashboard.context.current()``), not that of another test's app."""
    import dash
    from dash import _pages

    app, registry, config = _shared_dash_app
    dash.page_registry.clear()
    dash.page_registry.update(registry)
    _pages.CONFIG = config
    with app.server.app_context():
        yield app


@pytest.fixture
def client(dash_app):
    return dash_app.server.test_client()


def chromium_available() -> bool:
    return bool(shutil.which("chromedriver")) and bool(
        shutil.which("chromium") or os.environ.get("DASH_TEST_CHROMEPATH")
    )


def pytest_setup_options():
    """Chrome options for dash_duo: Debian's Chromium, headless, and a performance log of all requests."""
    from selenium.webdriver.chrome.options import Options

    class _Options(Options):
        def set_capability(self, name, value):  # dash_duo sets browser-only logging; keep performance too
            if name == "goog:loggingPrefs":
                value = {**value, "browser": "ALL", "performance": "ALL"}
            return super().set_capability(name, value)

    options = _Options()
    chromium = os.environ.get("DASH_TEST_CHROMEPATH") or shutil.which("chromium")
    if chromium:
        options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return options


def wait_js(driver, script: str, timeout: float = 40.0):
    """Poll a script until it returns something truthy (a browser test's wait for a page state)."""
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script[:160]}")


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for since the last call (Chrome performance log, Network domain)."""
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def external(urls: list[str]) -> list[str]:
    """URLs that leave the machine (anything but 127.0.0.1/localhost; data: and blob: URLs are local)."""
    from urllib.parse import urlparse

    out = []
    for url in urls:
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about", "chrome", "chrome-extension", "devtools"):
            continue
        if parsed.hostname not in LOCAL_HOSTS:
            out.append(url)
    return out
