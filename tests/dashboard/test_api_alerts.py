"""The alerts API (issue 14): viewers see confirmed alerts; analysts see the queue, review, edit rules and
their own
subscriptions; admins manage webhooks. Alerts come from the outflow-surge rule on the real UNHCR Syria
extract.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from models import alerts
from tests.dashboard.workflow_app import post_json, session_client, workflow_app
from tests.models.test_alerts import SYRIA, inputs


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRISISRISK_ALERTS_AUTO", "false")
        with workflow_app(tmp_path_factory.mktemp("alerts_api")) as (app, engine):
            alerts.evaluate(engine, "test", "tester", inputs=inputs(SYRIA))
            yield app, engine


def test_viewer_sees_only_confirmed_alerts(env):
    app, engine = env
    viewer, analyst = session_client(app, "viewer"), session_client(app, "analyst")
    assert viewer.get("/api/v1/alerts").get_json()["data"] == []  # nothing confirmed yet
    assert viewer.get("/api/v1/alerts?status=pending").status_code == 403
    queue = analyst.get("/api/v1/alerts?status=pending").get_json()["data"]
    surge = next(a for a in queue if a["rule"] == "outflow-surge")
    assert surge["region_id"] == "SYR" and surge["period"] == 2012
    resp = post_json(
        analyst,
        f"/api/v1/alerts/{surge['alert_id']}/review",
        json={"decision": "confirmed", "note": "UNHCR figures checked"},
    )
    assert resp.status_code == 200 and resp.get_json()["alert"]["status"] == "confirmed"
    again = post_json(
        analyst,
        f"/api/v1/alerts/{surge['alert_id']}/review",
        json={"decision": "dismissed", "note": "second thoughts"},
    )
    assert again.status_code == 409
    assert (
        post_json(
            analyst, "/api/v1/alerts/999999/review", json={"decision": "dismissed", "note": "x"}
        ).status_code
        == 404
    )
    assert (
        post_json(
            analyst, f"/api/v1/alerts/{queue[-1]['alert_id']}/review", json={"decision": "confirmed"}
        ).status_code
        == 400
    )  # a note is required
    seen = viewer.get("/api/v1/alerts").get_json()["data"]
    assert [a["alert_id"] for a in seen] == [surge["alert_id"]]
    assert (
        post_json(
            viewer,
            f"/api/v1/alerts/{queue[-1]['alert_id']}/review",
            json={"decision": "confirmed", "note": "x"},
        ).status_code
        == 403
    )
    feed = ET.fromstring(viewer.get("/api/v1/alerts.atom?region=SYR").data)
    assert len(feed.findall("{http://www.w3.org/2005/Atom}entry")) == 1
    assert viewer.get("/api/v1/alerts.atom?region=Syria").status_code == 400


def test_rules_listed_with_backtest_and_edited_by_analysts(env):
    app, _ = env
    viewer, analyst = session_client(app, "viewer"), session_client(app, "analyst")
    rules = viewer.get("/api/v1/alert-rules").get_json()["data"]
    assert {r["name"] for r in rules} >= {r["name"] for r in alerts.STARTER_RULES}
    surge = next(r for r in rules if r["name"] == "outflow-surge")
    assert (
        post_json(viewer, f"/api/v1/alert-rules/{surge['rule_id']}", json={"enabled": False}).status_code
        == 403
    )
    resp = post_json(analyst, f"/api/v1/alert-rules/{surge['rule_id']}", json={"cooldown_years": 4})
    assert resp.status_code == 200 and resp.get_json()["rule"]["cooldown_years"] == 4
    bad = post_json(analyst, "/api/v1/alert-rules", json={"name": "bad", "condition": "nope"})
    assert bad.status_code == 422 and "condition" in bad.get_json()["error"]["message"]
    ok = post_json(
        analyst,
        "/api/v1/alert-rules",
        json={
            "name": "sahel-deaths",
            "condition": "new_maximum",
            "params": {"series": "conflict_deaths", "lookback_years": 1},
            "minimum": 500,
            "region_scope": "MLI,BFA,NER",
        },
    )
    assert ok.status_code == 201 and ok.get_json()["rule"]["region_scope"] == "BFA,MLI,NER"


def test_subscriptions_are_per_user_and_webhooks_for_admins(env):
    app, _ = env
    analyst, admin, viewer = (session_client(app, r) for r in ("analyst", "admin", "viewer"))
    resp = post_json(
        analyst, "/api/v1/alert-subscriptions", json={"email": "ana@example.org", "regions": "SYR"}
    )
    assert resp.status_code == 201
    sid = resp.get_json()["subscription"]["subscription_id"]
    assert [s["email"] for s in analyst.get("/api/v1/alert-subscriptions").get_json()["data"]] == [
        "ana@example.org"
    ]
    assert admin.get("/api/v1/alert-subscriptions").get_json()["data"] == []  # the admin's own: none
    assert post_json(admin, f"/api/v1/alert-subscriptions/{sid}/delete").status_code == 404  # not theirs
    assert viewer.get("/api/v1/alert-subscriptions").status_code == 403
    assert (
        post_json(
            analyst, "/api/v1/alert-webhooks", json={"name": "h", "url": "http://127.0.0.1:9/"}
        ).status_code
        == 403
    )
    hook = post_json(
        admin, "/api/v1/alert-webhooks", json={"name": "cluster", "url": "http://127.0.0.1:9/hook"}
    )
    assert hook.status_code == 201 and hook.get_json()["webhook"]["secret_env"] == "CRISISRISK_WEBHOOK_SECRET"
    assert "secret" not in {k for k in hook.get_json()["webhook"] if k not in ("secret_env", "secret_set")}
    assert post_json(analyst, f"/api/v1/alert-subscriptions/{sid}/delete").status_code == 200


def test_openapi_lists_the_alert_endpoints(env):
    app, _ = env
    paths = app.server.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    for p in (
        "/alerts",
        "/alerts.atom",
        "/alerts/{alert_id}/review",
        "/alert-rules",
        "/alert-rules/{rule_id}",
        "/alert-subscriptions",
        "/alert-webhooks",
        "/alerts/evaluate",
        "/phases",
    ):
        assert p in paths, p
