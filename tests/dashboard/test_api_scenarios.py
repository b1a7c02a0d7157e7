"""POST /api/v1/scenarios, GET /api/v1/scenarios/levers and saved scenarios (issue 15).

The engine runs on the hand-made observations of tests/models/test_scenarios.py (40 countries, 2000-2016),
whose
made-up ids are replaced by 40 real ISO3 codes only so the region table accepts saved scenarios. Test values,
never shipped.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import scenarios as sc
from tests.dashboard.workflow_app import post_json, session_client, workflow_app
from tests.models.test_scenarios import REGIONS, YEAR, make_model, synthetic_obs
from warehouse.schema import audit_log

ISO3 = [
    "AFG",
    "AGO",
    "ALB",
    "ARE",
    "ARG",
    "ARM",
    "AUS",
    "AUT",
    "AZE",
    "BDI",
    "BEL",
    "BEN",
    "BFA",
    "BGD",
    "BGR",
    "BIH",
    "BLR",
    "BOL",
    "BRA",
    "BTN",
    "BWA",
    "CAF",
    "CAN",
    "CHE",
    "CHL",
    "CHN",
    "CIV",
    "CMR",
    "COD",
    "COG",
    "COL",
    "CRI",
    "CUB",
    "CYP",
    "CZE",
    "DEU",
    "DJI",
    "DNK",
    "DOM",
    "DZA",
]


@pytest.fixture(scope="module")
def scenario_app(tmp_path_factory):
    obs = synthetic_obs()
    obs["region_id"] = obs["region_id"].map(dict(zip(REGIONS, ISO3, strict=True)))
    model = make_model(obs)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("dashboard.api_scenarios.scenario_model", lambda actx: model)
        with workflow_app(tmp_path_factory.mktemp("scenarios_api"), public_read=True) as (app, engine):
            yield app, engine, model


@pytest.fixture
def viewer(scenario_app):
    return session_client(scenario_app[0], "viewer")


def run(client, body, **kw):
    return post_json(client, "/api/v1/scenarios", json=body, **kw)


def test_levers_are_described(scenario_app):
    client = scenario_app[0].server.test_client()
    body = client.get("/api/v1/scenarios/levers").get_json()
    assert [lv["name"] for lv in body["data"]] == [lv.name for lv in sc.LEVERS]
    for lv in body["data"]:
        assert {"name", "label", "unit", "kind", "min", "max", "default"} <= set(lv)
        assert lv["kind"] in ("factor", "level")
        assert lv["default"] == (1.0 if lv["kind"] == "factor" else None)
    assert body["meta"]["honesty"] == sc.HONESTY
    with_current = client.get(f"/api/v1/scenarios/levers?region=AGO&year={YEAR}").get_json()
    tier = next(lv for lv in with_current["data"] if lv["name"] == "tip_tier")
    assert tier["current"] in (1.0, 2.0, 2.5, 3.0)  # the hand-made tiers
    assert client.get(f"/api/v1/scenarios/levers?region=ZZZ&year={YEAR}").status_code == 404


def test_an_empty_scenario_returns_the_stored_estimate_anonymously_under_public_read(scenario_app):
    """Public read: an anonymous client (no session, so no CSRF token to send) computes a scenario."""
    client = scenario_app[0].server.test_client()
    resp = client.post("/api/v1/scenarios", json={"region": "AGO", "year": YEAR, "levers": {}})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert [d["target"] for d in body["data"]] == ["detected", "rise"]
    for item in body["data"]:
        assert item["scenario"] == item["baseline"] and item["difference"] == 0
        assert item["unit"]
    model = scenario_app[2]
    assert body["data"][0]["baseline"] == pytest.approx(
        model.detected.stored.loc[("AGO", YEAR), "estimate_per_100k"]
    )
    assert body["meta"]["honesty"] == sc.HONESTY


def test_a_lever_moves_the_answer(scenario_app, viewer):
    body = run(viewer, {"region": "ago", "year": YEAR, "levers": {"displaced_abroad": 3.0}}).get_json()
    rise = body["data"][1]
    assert rise["scenario"] > rise["baseline"]  # the composite's displacement term rises with the factor
    assert rise["contributions"]["displaced_abroad"] > 0
    assert "displaced_abroad" in rise["directions"]


@pytest.mark.parametrize(
    "body, words",
    [
        ({"region": "AGO", "year": YEAR, "levers": {"nonsense": 2}}, "unknown lever 'nonsense'"),
        ({"region": "AGO", "year": YEAR, "levers": {"idps": 50}}, "outside 0..10"),
        ({"region": "AGO", "year": YEAR, "levers": {"tip_tier": "median", "idps": -1}}, "outside 0..10"),
        ({"regions": ISO3 + ["ECU"] * 5, "year": YEAR, "levers": {"idps": 2}}, "too many regions: 45"),
        ({"region": "AGO", "regions": ["AGO"], "year": YEAR, "levers": {}}, "exactly one of"),
        ({"year": YEAR, "levers": {}}, "exactly one of"),
        (
            {"regions": ["AGO", "ALB"], "year": YEAR, "levers": {"idps": 2, "tip_tier": 1}},
            "exactly one lever",
        ),
        ({"region": "AGO", "year": YEAR, "levers": {"idps": True}}, "body field levers/idps"),
        ({"region": "AGO", "year": YEAR, "levers": {}, "extra": 1}, "body field"),
        ({"region": "AGO", "year": 1990, "levers": {}}, "outside the years"),
    ],
)
def test_bad_input_is_a_400_json_naming_the_problem(scenario_app, viewer, body, words):
    resp = run(viewer, body)
    assert resp.status_code == 400, resp.get_json()
    assert words in resp.get_json()["error"]["message"]


def test_unknown_region_is_404_and_a_non_object_body_400(scenario_app, viewer):
    resp = run(viewer, {"region": "ZZZ", "year": YEAR, "levers": {"idps": 2}})
    assert resp.status_code == 404 and "ZZZ" in resp.get_json()["error"]["message"]
    resp = post_json(viewer, "/api/v1/scenarios", data="[1, 2]", content_type="application/json")
    assert resp.status_code == 400 and "JSON object" in resp.get_json()["error"]["message"]


def test_a_body_too_large_is_413(scenario_app, viewer):
    big = {"region": "AGO", "year": YEAR, "levers": {}, "pad": "x" * 20000}
    assert run(viewer, big).status_code == 413


def test_rate_limit_answers_429(scenario_app, monkeypatch):
    from dashboard import api_scenarios

    monkeypatch.setattr(api_scenarios, "RATE_PER_MINUTE", 2)
    monkeypatch.setattr(api_scenarios, "_calls", {})
    client = scenario_app[0].server.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    codes = [
        client.post("/api/v1/scenarios", json={"region": "AGO", "year": YEAR, "levers": {}}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_portfolio_of_the_largest_detection_gaps(scenario_app, viewer):
    resp = run(viewer, {"largest_detection_gap": 5, "year": YEAR, "levers": {"prosecutions": "median"}})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    detected = [r for r in body["data"] if r["target"] == "detected"]
    assert len(detected) == 5 and body["meta"]["lever"] == "prosecutions"
    assert all(r["lower"] <= r["scenario"] <= r["upper"] for r in detected)


def test_saving_needs_a_viewer_login_and_is_audited(scenario_app, viewer):
    app, engine, _ = scenario_app
    body = {
        "name": "Angola: twice the displacement",
        "region": "AGO",
        "year": YEAR,
        "levers": {"displaced_abroad": 2.0},
    }
    anonymous = app.server.test_client().post("/api/v1/scenarios/saved", json=body)
    assert anonymous.status_code == 401
    resp = post_json(viewer, "/api/v1/scenarios/saved", json=body)
    assert resp.status_code == 201, resp.get_json()
    saved = resp.get_json()["data"]
    assert saved["created_by"] == "vera" and saved["levers"] == {"displaced_abroad": 2.0}
    again = post_json(viewer, "/api/v1/scenarios/saved", json=body)
    assert again.status_code == 409
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.outcome, audit_log.c.target).where(
                audit_log.c.action == "scenario save"
            )
        ).all()
    assert ("vera", "ok", body["name"]) in rows and ("vera", "refused", body["name"]) in rows
    mine = viewer.get("/api/v1/scenarios/saved").get_json()["data"]
    assert [m["name"] for m in mine] == [body["name"]]
    shared = app.server.test_client().get(f"/api/v1/scenarios/saved/{saved['scenario_id']}")
    assert shared.status_code == 200 and shared.get_json()["data"]["region_id"] == "AGO"
    assert app.server.test_client().get("/api/v1/scenarios/saved/999999").status_code == 404
    refused = post_json(
        viewer, "/api/v1/scenarios/saved", json={**body, "name": "bad", "levers": {"idps": 99}}
    )
    assert refused.status_code == 400
