"""GET /api/v1/phases, the stored curves and `crisisrisk export phases` (issue 14).

The curves stored here are computed by models.phases from a small made-up panel (outcome = year effect +
country
level + a known bump after the event), with event countries given real ISO3 codes only so the region table
accepts them. They are test values, never shipped.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from models import phases, phases_store
from tests.conftest import _fresh_url
from tests.dashboard.synthetic import build_synthetic_warehouse

TAU = {0: 0.1, 1: 0.3, 2: 0.7, 3: 0.4}


def _known_curves():
    years = range(2000, 2021)
    event_year = {"SYR": 2008, "UKR": 2010, "AFG": 2012}
    rows = []
    for i, c in enumerate(["SYR", "UKR", "AFG", "FRA", "DEU", "NOR", "CHL"]):
        for y in years:
            rows.append((c, y, 0.05 * (y - 2000) + i + TAU.get(y - event_year.get(c, 9999), 0.0)))
    panel = pd.DataFrame(rows, columns=["region_id", "year", "v"]).pivot(
        index="region_id", columns="year", values="v"
    )
    events = pd.DataFrame(
        {
            "region_id": list(event_year),
            "year": list(event_year.values()),
            "onset": True,
            "event_type": "outflow_surge",
            "value": 1e5,
            "previous": 1e4,
            "detail": "test event",
        }
    )
    cfg = {**phases.load_config(), "min_events": 1, "bootstrap_reps": 50}
    changes = phases.panel_changes(panel, list(range(2003, 2021)), [int(k) for k in cfg["ks"]], 3, 1)
    curve, summary = phases.event_study(changes, events, cfg)
    curves = curve.assign(event_type="outflow_surge", outcome="nationals_abroad")
    meta = {"design": "test", "summaries": {"outflow_surge/nationals_abroad": summary}, "ks": cfg["ks"]}
    return curves, meta, events


@pytest.fixture(scope="module")
def phases_app(tmp_path_factory):
    from dashboard.app import create_app
    from warehouse.db import make_engine

    engine = make_engine(_fresh_url(tmp_path_factory.mktemp("phases"), "phases"))
    build_synthetic_warehouse(engine)
    app = create_app(engine, {"cache_ttl_s": 0, "public_read": True})
    curves, meta, events = _known_curves()
    phases_store.write_phases(engine, curves, meta, events)
    yield app, engine
    engine.dispose()


def test_phases_endpoint_answers_one_row_per_point(phases_app):
    app, _ = phases_app
    resp = app.server.test_client().get("/api/v1/phases")
    assert resp.status_code == 200
    body = resp.get_json()
    assert {"event_type", "outcome", "k", "effect", "lower", "upper", "n"} <= set(body["data"][0])
    by_k = {r["k"]: r for r in body["data"]}
    assert sorted(by_k) == list(range(-3, 7))
    assert by_k[2]["effect"] == pytest.approx(0.7, abs=1e-9)  # the known bump, net of the year trend
    assert by_k[-2]["effect"] == pytest.approx(0.0, abs=1e-9)
    assert by_k[2]["n"] == 3
    meta = body["meta"]
    assert meta["count"] == len(body["data"]) == 10
    assert meta["summaries"]["outflow_surge/nationals_abroad"]["verdict"] == "rise"


def test_phases_filters_and_bad_parameters(phases_app):
    app, _ = phases_app
    c = app.server.test_client()
    assert c.get("/api/v1/phases?outcome=detected_in_country").get_json()["data"] == []
    assert len(c.get("/api/v1/phases?event_type=outflow_surge").get_json()["data"]) == 10
    for url in ("/api/v1/phases?event_type=earthquake", "/api/v1/phases?outcome=", "/api/v1/phases?x=1"):
        resp = c.get(url)
        assert resp.status_code == 400, url
        assert "error" in resp.get_json()


def test_phases_in_openapi(phases_app):
    app, _ = phases_app
    spec = app.server.test_client().get("/api/v1/openapi.json").get_json()
    assert "/phases" in spec["paths"]
    assert spec["paths"]["/phases"]["get"]["parameters"][0]["schema"]["enum"] == list(phases.EVENT_TYPES)


def test_no_curves_yet_says_so(tmp_path):
    from dashboard.api_phases import phases_payload
    from warehouse.db import make_engine, migrate

    engine = make_engine(_fresh_url(tmp_path, "empty"))
    migrate(engine)
    body = phases_payload(engine)
    assert body["data"] == [] and "no phase curves" in body["meta"]["note"]
    with pytest.raises(LookupError):
        phases_store.export_frame(engine)


def test_export_phases_command(phases_app, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from crisisrisk.cli import _register_optional, app

    _, engine = phases_app
    monkeypatch.setenv("CRISISRISK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    _register_optional()
    out = tmp_path / "phases.csv"
    result = CliRunner().invoke(app, ["export", "phases", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 10
    k2 = next(r for r in rows if r["k"] == "2")
    assert float(k2["effect"]) == pytest.approx(0.7, abs=1e-6)
    assert float(k2["factor"]) == pytest.approx(np.exp(0.7), abs=1e-3)


def test_stored_events_and_country_phase(phases_app):
    _, engine = phases_app
    ev = phases_store.read_events(engine, region_id="SYR")
    assert ev["year"].tolist() == [2008]
    sentences = phases_store.country_phase_sentences(engine, "SYR", 2010)
    assert sentences == [
        "year 2 after a refugee-outflow surge (2008): historically the peak of nationals detected abroad"
    ]
    assert phases_store.country_phase_sentences(engine, "SYR", 2020) == []  # beyond year 6: no phase


def test_region_page_block_shows_the_phase(phases_app):
    from dashboard.pages.phases import region_block

    _, engine = phases_app
    text = str(region_block(engine, "SYR", 2010))
    assert "year 2 after a refugee-outflow surge (2008)" in text and "No confirmed alerts." in text
    assert "No onset" in str(region_block(engine, "FRA", 2010))  # FRA has no event in the test curves
