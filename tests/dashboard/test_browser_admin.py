"""The analyst workflow end to end in headless Chromium, on the small real extracts with a fast model config:
sign in, upload a new UNHCR population file (the full published file from data/raw), read the dry-run report,
confirm the load, retrain (a real ``train_run``), compare the candidate with the deployed run, promote it.

Screenshots of the login and admin pages go to ``CRISISRISK_SCREENSHOT_DIR`` (default: the test's tmp folder).
"""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
from pathlib import Path

import pytest

from dashboard import ids
from tests.conftest import RAW_DIR
from tests.dashboard.conftest import external, requested_urls
from tests.dashboard.workflow_app import PASSWORDS, workflow_app

pytestmark = [pytest.mark.browser]
SOURCES = [
    "natural_earth",
    "country_codes",
    "unodc_glotip",
    "wb_population",
    "wb_gdp",
    "owid_conflict_deaths",
    "unhcr_population",
    "ucdp_ged",
]
NEW_UNHCR = RAW_DIR / "unhcr_population" / "population.csv.gz"  # the full published file, new to the extracts


def fast_config(path: Path) -> Path:
    from models.train import CONFIG_PATH

    config = tomllib.loads(Path(CONFIG_PATH).read_text())
    config["xgboost"]["n_estimators"] = 40
    config["backtest"].update(first_origin=2016, last_origin=2017)
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml_value(value) -> str:
    """TOML for the config's value types: booleans, numbers, strings, lists and inline tables (variants)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def build_extracts(engine, raw: Path) -> None:
    from etl.loader import run
    from models.pipeline import train_run
    from warehouse.db import migrate

    migrate(engine)
    results = run(engine, names=SOURCES, raw_dir=raw)
    assert all(r.status == "loaded" for r in results), [(r.source, r.error) for r in results]
    train_run(engine, deploy=True)


@pytest.fixture(scope="module")
def real_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-admin")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRISISRISK_MODEL_CONFIG", str(fast_config(tmp / "fast.toml")))
        with workflow_app(tmp, public_read=True, build=build_extracts) as (app, engine):
            yield app, engine


def wait_match(driver, selector: str, pattern: str, timeout: float = 60.0) -> str:
    """Wait until the element's text matches the regular expression ``pattern``; its text."""
    end = time.time() + timeout
    content = ""
    while time.time() < end:
        content = driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", selector
        )
        if re.search(pattern, content or ""):
            return content
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for /{pattern}/ in {selector}; it shows: {content[:500]!r}")


def wait_text(driver, selector: str, text: str, timeout: float = 60.0) -> str:
    end = time.time() + timeout
    content = ""
    while time.time() < end:
        try:
            content = driver.execute_script(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", selector
            )
        except Exception:  # noqa: BLE001 - the page may be re-rendering
            content = ""
        if text in content:
            return content
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {text!r} in {selector}; it shows: {content[:500]!r}")


def shot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CRISISRISK_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def full_page_shot(driver, path: Path) -> None:
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, min(max(height + 40, 1000), 4000))
    time.sleep(0.4)
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)


def test_analyst_uploads_loads_retrains_compares_and_promotes(dash_duo, real_env, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from models.registry import deployed_run

    app, engine = real_env
    shots = shot_dir(tmp_path)
    first = deployed_run(engine)["run_id"]
    started = time.time()
    dash_duo.start_server(app)
    driver = dash_duo.driver

    # the admin page sends an anonymous visitor to the sign-in form
    driver.get(dash_duo.server_url + "/admin")
    dash_duo.wait_for_element("#login-name", timeout=20)
    assert "/login?next=/admin" in driver.current_url
    driver.find_element(By.ID, "login-name").send_keys("ana")
    driver.find_element(By.ID, "login-password").send_keys(PASSWORDS["ana"])
    driver.save_screenshot(str(shots / "login.png"))
    driver.find_element(By.ID, "login-submit").click()

    # admin page: choose the source, upload the file, read the report
    dash_duo.wait_for_element(f"#{ids.ADMIN_SOURCE}", timeout=30)
    wait_text(driver, f"#{ids.ADMIN_WHO}", "ana (analyst)")
    dropdown = driver.find_element(By.ID, ids.ADMIN_SOURCE)
    dropdown.click()
    time.sleep(0.3)
    driver.switch_to.active_element.send_keys("unhcr_population")
    time.sleep(0.3)
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_text(driver, f"#{ids.ADMIN_SOURCE_HELP}", "population.csv.gz")
    driver.find_element(By.CSS_SELECTOR, f"#{ids.ADMIN_UPLOAD} input[type=file]").send_keys(str(NEW_UNHCR))
    report = wait_text(driver, f"#{ids.ADMIN_REPORT}", "Rows that would load", 60)
    assert "Checked:" in report and "population.csv.gz" in report
    full_page_shot(driver, shots / "admin-report.png")

    # confirm: the load runs as a job and its progress is shown
    dash_duo.wait_for_element(f"#{ids.ADMIN_CONFIRM}:not([disabled])", timeout=10).click()
    wait_text(driver, f"#{ids.ADMIN_MESSAGE}", "Loading upload #")
    # the dry run's job already reads "succeeded": wait for the data load's own line
    wait_match(driver, f"#{ids.ADMIN_JOBS}", r"Data load: job #\d+ succeeded", 90)

    # retrain: a real train_run with the fast config, then the comparison with the deployed run
    driver.find_element(By.ID, ids.ADMIN_RETRAIN).click()
    wait_text(driver, f"#{ids.ADMIN_MESSAGE}", "Retraining started")
    end = time.time() + 120
    while time.time() < end and "Retraining: job" not in driver.find_element(By.ID, ids.ADMIN_JOBS).text:
        time.sleep(0.3)
    wait_text(driver, "#admin-job-retrain", "succeeded", 120)
    # the new label file may leave every rank as it was (the candidate can even be identical): either is said
    compare = wait_text(driver, f"#{ids.ADMIN_COMPARE}", "rank", 30)
    end = time.time() + 30
    while not any(t in compare for t in ("Countries whose rank changes most", "No country changes rank")):
        assert time.time() < end, compare[:500]
        time.sleep(0.3)
        compare = driver.find_element(By.ID, ids.ADMIN_COMPARE).text
    asks = "Promoting it asks for confirmation" in compare  # an identical or worse candidate (issue 13 #8)
    assert "baseline: last_value" in compare and first in compare
    candidate = driver.execute_script(
        f"return Array.from(document.querySelectorAll('#{ids.ADMIN_COMPARE} .run-id')).map(e => e.innerText)"
    )
    assert candidate and candidate[0] == first and candidate[1] != first
    full_page_shot(driver, shots / "admin-compare.png")

    # promote
    dash_duo.wait_for_element(f"#{ids.ADMIN_PROMOTE}:not([disabled])", timeout=10).click()
    if asks:  # the dialog gives the reason; nothing is deployed before the analyst accepts it
        WebDriverWait(driver, 20).until(EC.alert_is_present())
        dialog = driver.switch_to.alert
        assert "Promote it to deployed anyway?" in dialog.text and candidate[1] in dialog.text
        assert deployed_run(engine)["run_id"] == first
        dialog.accept()
    wait_text(driver, f"#{ids.ADMIN_MESSAGE}", "is deployed", 20)
    assert deployed_run(engine)["run_id"] == candidate[1]
    wait_text(driver, f"#{ids.ADMIN_AUDIT}", "promote", 10)
    full_page_shot(driver, shots / "admin-promoted.png")

    errors = [e for e in dash_duo.get_logs() if e.get("level") == "SEVERE"]
    assert not errors, errors
    assert not external(requested_urls(driver))
    assert time.time() - started < 120
