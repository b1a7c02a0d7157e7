"""Languages in headless Chromium (issue 13 item 6): a page in each language, Arabic right to left from the
first paint, and the header's switch that sets the cookie the next page load keeps.

The warehouse is tests/dashboard/synthetic.py (real Natural Earth regions, SYNTHETIC model rows).
"""

from __future__ import annotations

import json

import pytest

from dashboard import i18n, ids
from tests.dashboard.conftest import wait_js

pytestmark = [pytest.mark.browser]


def nav_texts(driver) -> list[str]:
    wait_js(driver, f"return document.querySelectorAll('#{ids.NAV} a').length > 3")
    return driver.execute_script(
        f"return [...document.querySelectorAll('#{ids.NAV} a')].map(a => a.innerText)"
    )


def page_text(driver) -> str:
    wait_js(
        driver, "const c = document.getElementById('_pages_content'); return c && c.innerText.length > 40"
    )
    return driver.execute_script("return document.getElementById('_pages_content').innerText")


def wait_for_page_word(driver, word: str) -> None:
    """Figure titles come after the graphs' async chunk loads, later than the page's first text: wait."""
    page_text(driver)
    wait_js(
        driver, f"return document.getElementById('_pages_content').innerText.includes({json.dumps(word)})"
    )


@pytest.fixture
def started(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    dash_duo.driver.set_window_size(1440, 1000)
    return dash_duo


def test_arabic_page_is_right_to_left(started):
    driver = started.driver
    driver.get(started.server_url + "/?lang=ar")
    # set by the server in the page itself, before any script ran
    assert driver.execute_script("return document.documentElement.dir") == "rtl"
    assert driver.execute_script("return document.documentElement.lang") == "ar"
    assert "الخريطة" in nav_texts(driver)  # "Map"
    assert driver.execute_script("return getComputedStyle(document.body).direction") == "rtl"
    # the header is mirrored: the brand sits right of the navigation
    brand_x, nav_x = driver.execute_script(
        f"return [document.querySelector('.brand').getBoundingClientRect().left,"
        f" document.getElementById('{ids.NAV}').getBoundingClientRect().left]"
    )
    assert brand_x > nav_x
    wait_for_page_word(driver, "التلوين حسب")  # "Colour by"
    assert driver.get_cookie(i18n.COOKIE_NAME)["value"] == "ar"


@pytest.mark.parametrize(
    ("path", "lang", "nav_word", "page_words"),
    [
        # a country other than the catalogue extraction's sample: its name (CLDR) and its figure titles
        ("/region/SYR", "fr", "Carte", ["Syrie", "Tendance : risque de traite"]),
        ("/data", "es", "Datos", ["Datos: fuentes, cargas y filas rechazadas"]),
    ],
)
def test_a_page_in_french_and_in_spanish(started, path, lang, nav_word, page_words):
    driver = started.driver
    driver.get(f"{started.server_url}{path}?lang={lang}")
    assert driver.execute_script("return [document.documentElement.lang, document.documentElement.dir]") == [
        lang,
        "ltr",
    ]
    assert nav_word in nav_texts(driver)
    for word in page_words:
        wait_for_page_word(driver, word)


def test_switch_sets_the_cookie_and_the_next_page_keeps_the_language(started):
    driver = started.driver
    driver.get(started.server_url + "/?country=NGA")
    assert driver.execute_script("return document.documentElement.lang") == "en"
    assert "Map" in nav_texts(driver)
    driver.find_element("css selector", "a.lang-link[hreflang='fr']").click()
    wait_js(driver, "return document.documentElement.lang === 'fr'")
    assert "country=NGA" in driver.current_url and "lang=fr" in driver.current_url  # the view is kept
    assert driver.get_cookie(i18n.COOKIE_NAME)["value"] == "fr"
    driver.get(started.server_url + "/data")  # no ?lang=: the cookie decides
    assert driver.execute_script("return document.documentElement.lang") == "fr"
    assert "Données" in nav_texts(driver)
    current = driver.execute_script(
        "return document.querySelector('a.lang-current').getAttribute('hreflang')"
    )
    assert current == "fr"
    driver.find_element("css selector", "a.lang-link[hreflang='en']").click()
    wait_js(driver, "return document.documentElement.lang === 'en'")
    assert driver.get_cookie(i18n.COOKIE_NAME)["value"] == "en"
