"""The alert review queue and the Phases page in headless Chromium (issue 14).

An analyst signs in, selects a pending alert (raised by the outflow-surge rule on the real UNHCR Syria
extract),
writes a note and confirms it; the alert leaves the queue and appears among the confirmed alerts, with the
audit
entry written. A viewer sees the confirmed alert but no queue. Screenshots of both pages go to
``CRISISRISK_SCREENSHOT_DIR`` (default: the test's tmp folder).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dashboard.pages import alerts as alerts_page
from models import alerts, phases_store
from tests.dashboard.test_api_phases import _known_curves
from tests.dashboard.workflow_app import PASSWORDS, workflow_app
from tests.models.test_alerts import SYRIA, inputs
from warehouse import accounts

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRISISRISK_ALERTS_AUTO", "false")
        with workflow_app(tmp_path_factory.mktemp("browser-alerts"), public_read=True) as (app, engine):
            alerts.evaluate(engine, "test", "tester", inputs=inputs(SYRIA))
            phases_store.write_phases(engine, *_known_curves())
            yield app, engine


def shot(driver, folder: Path, name: str) -> Path:
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, min(max(height + 40, 1000), 4000))
    time.sleep(0.5)
    path = folder / name
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


def wait_text(driver, selector: str, text: str, timeout: float = 30.0) -> str:
    end, content = time.time() + timeout, ""
    while time.time() < end:
        content = (
            driver.execute_script(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", selector
            )
            or ""
        )
        if text in content:
            return content
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {text!r} in {selector}; it shows {content[:400]!r}")


def sign_in(dash_duo, name: str, target: str) -> None:
    from selenium.webdriver.common.by import By

    driver = dash_duo.driver
    driver.get(dash_duo.server_url + "/login?next=" + target)
    dash_duo.wait_for_element("#login-name", timeout=20)
    driver.find_element(By.ID, "login-name").send_keys(name)
    driver.find_element(By.ID, "login-password").send_keys(PASSWORDS[name])
    driver.find_element(By.ID, "login-submit").click()


def test_review_queue_confirms_an_alert_and_pages_render(dash_duo, env, tmp_path):
    from selenium.webdriver.common.by import By

    app, engine = env
    folder = Path(os.environ.get("CRISISRISK_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    pending = alerts.list_alerts(engine, status="pending")
    surge = next(a for a in pending if a["rule"] == "outflow-surge")
    dash_duo.start_server(app)
    driver = dash_duo.driver
    sign_in(dash_duo, "ana", "/alerts")
    dash_duo.wait_for_element(f"#{alerts_page.QUEUE}", timeout=30)
    wait_text(driver, "#alerts-queue-card", f"Review queue ({len(pending)} pending)")
    # select the outflow-surge alert's row, write a note, confirm
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{alerts_page.QUEUE} tbody tr")
    target = next(r for r in rows if "outflow surge" in r.text)
    target.find_element(By.CSS_SELECTOR, "input[type=radio]").click()
    driver.find_element(By.ID, alerts_page.NOTE).send_keys("UNHCR figures checked with the country office")
    shot(driver, folder, "alerts_queue.png")
    driver.find_element(By.ID, alerts_page.CONFIRM).click()
    wait_text(driver, f"#{alerts_page.REVIEW_MSG}", f"Alert {surge['alert_id']}")
    assert "is confirmed" in driver.find_element(By.ID, alerts_page.REVIEW_MSG).text
    assert "outflow surge" not in driver.find_element(By.ID, alerts_page.QUEUE).text  # it left the queue
    done = alerts.get_alert(engine, surge["alert_id"])
    assert done["status"] == "confirmed" and done["reviewed_by"] == "ana"
    assert any(
        e["action"] == "alert review" and e["actor"] == "ana" and e["outcome"] == "ok"
        for e in accounts.audit_entries(engine, 50)
    )
    # the note was cleared with the decision; without a new note the queue refuses to dismiss
    assert driver.find_element(By.ID, alerts_page.NOTE).get_attribute("value") == ""
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{alerts_page.QUEUE} tbody tr input[type=radio]")
    rows[0].click()
    driver.find_element(By.ID, alerts_page.DISMISS).click()
    wait_text(driver, f"#{alerts_page.REVIEW_MSG}", "note: say why")
    assert len(alerts.list_alerts(engine, status="pending")) == len(pending) - 1  # nothing else was decided
    driver.get(dash_duo.server_url + "/alerts")
    wait_text(driver, f"#{alerts_page.CONFIRMED}", "Syria")
    shot(driver, folder, "alerts_page.png")
    driver.get(dash_duo.server_url + "/phases")
    dash_duo.wait_for_element("#phases-card-outflow_surge .js-plotly-plot", timeout=30)
    wait_text(driver, "#phases-card-outflow_surge", "a rise")
    shot(driver, folder, "phases_page.png")
    errors = [e for e in dash_duo.get_logs() if e.get("level") == "SEVERE"]
    assert not errors, errors
    # a viewer sees the confirmed alert and no queue
    driver.delete_all_cookies()
    sign_in(dash_duo, "vera", "/alerts")
    wait_text(driver, f"#{alerts_page.CONFIRMED}", "Syria")
    assert not driver.find_elements(By.ID, alerts_page.QUEUE)
    shot(driver, folder, "alerts_viewer.png")
