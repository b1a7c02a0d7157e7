"""JSON API: shapes, filters, OpenAPI, and errors (400 bad parameter, 404 unknown region; never 500)."""

from __future__ import annotations

import pytest

from tests.dashboard.synthetic import RUN_ID


def _ok(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code, resp.data[:300])
    assert resp.mimetype == "application/json"
    return resp.get_json()


def test_health(client):
    body = _ok(client, "/api/v1/health")
    assert body["status"] == "ok" and body["deployed_run"] == RUN_ID
    assert body["years"] == [2016, 2017, 2018, 2019, 2020]


def test_regions_by_level(client):
    countries = _ok(client, "/api/v1/regions?level=0")
    assert countries["meta"]["count"] == len(countries["data"]) > 200
    assert {r["level"] for r in countries["data"]} == {0}
    nga = _ok(client, "/api/v1/regions?level=admin1&parent=NGA")
    assert nga["meta"]["count"] == 37 and all(r["parent_id"] == "NGA" for r in nga["data"])


def test_predictions_filters_and_meta(client):
    body = _ok(client, "/api/v1/predictions?level=0&year=2019")
    assert body["meta"]["run_id"] == RUN_ID
    assert body["meta"]["filters"] == {"level": 0, "year": 2019}
    assert body["meta"]["count"] == len(body["data"]) > 100
    row = body["data"][0]
    for field in (
        "region_id",
        "iso3",
        "name",
        "level",
        "year",
        "estimate_per_100k",
        "lower_per_100k",
        "upper_per_100k",
        "risk_score",
        "risk_band",
        "run_id",
        "rank",
    ):
        assert field in row
    assert row["lower_per_100k"] <= row["estimate_per_100k"] <= row["upper_per_100k"]
    one = _ok(client, "/api/v1/predictions?region=NGA")
    assert {r["year"] for r in one["data"]} == {2016, 2017, 2018, 2019, 2020}
    admin1 = _ok(client, "/api/v1/predictions?level=1&year=2020&limit=5&offset=5")
    assert admin1["meta"]["count"] == 5 and admin1["meta"]["total"] > 5 and admin1["meta"]["offset"] == 5
    assert all(r["method"] == "exposure_downscaled" for r in admin1["data"])
    assert _ok(client, "/api/v1/predictions?year=1990")["data"] == []


def test_prediction_fields_match_the_csv_export():
    import models.export as export
    from dashboard.api import EXPLANATION_FIELDS, PREDICTION_FIELDS

    assert PREDICTION_FIELDS[: len(export.PREDICTION_COLUMNS)] == export.PREDICTION_COLUMNS
    assert EXPLANATION_FIELDS == export.EXPLANATION_COLUMNS


def test_explanations(client):
    body = _ok(client, "/api/v1/explanations?region=NGA&year=2020")
    feats = {r["feature"] for r in body["data"]}
    assert "__bias__" in feats and len(feats) == 10
    assert sum(r["shap_value"] for r in body["data"]) == pytest.approx(
        __import__("math").log1p(
            _ok(client, "/api/v1/predictions?region=NGA&year=2020")["data"][0]["estimate_per_100k"]
        )
    )
    admin1 = _ok(client, "/api/v1/regions?level=1&parent=NGA")["data"][0]["region_id"]
    sub = _ok(client, f"/api/v1/explanations?region={admin1}&year=2020")
    assert sub["meta"]["note"] and {r["region_id"] for r in sub["data"]} == {"NGA"}


def test_indicators(client):
    body = _ok(client, "/api/v1/indicators?region=NGA&indicator=conflict.deaths&from=2014&to=2018")
    assert body["data"] and all(2014 <= r["year"] <= 2018 for r in body["data"])
    assert all(r["indicator"] == "conflict.deaths" and r["unit"] == "deaths" for r in body["data"])


def test_models(client):
    body = _ok(client, "/api/v1/models")
    assert {r["status"] for r in body["data"]} == {"deployed", "archived"}


def test_openapi(client):
    spec = _ok(client, "/api/v1/openapi.json")
    assert spec["openapi"].startswith("3.")
    for path in ("/health", "/regions", "/predictions", "/explanations", "/indicators", "/models"):
        assert path in spec["paths"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/predictions?year=abc",
        "/api/v1/predictions?year=99999",
        "/api/v1/predictions?level=3",
        "/api/v1/predictions?level=1&region=NGA",
        "/api/v1/predictions?limit=0",
        "/api/v1/predictions?offset=-1",
        "/api/v1/predictions?bogus=1",
        "/api/v1/predictions?year=2019&year=2020",
        "/api/v1/regions?level=x",
        "/api/v1/explanations",
        "/api/v1/explanations?region=NGA&year=20x0",
        "/api/v1/indicators",
        "/api/v1/indicators?region=NGA&from=2020&to=2010",
        "/api/v1/indicators?region=NGA&from=%00",
        "/api/v1/predictions?region=" + "A" * 40,
        "/api/v1/health?x=1",
        "/api/v1/predictions?year=%27%3B--",
    ],
)
def test_bad_parameters_are_400_json(client, url):
    resp = client.get(url)
    assert resp.status_code == 400, (url, resp.status_code, resp.data[:200])
    assert resp.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/predictions?region=XXX",
        "/api/v1/explanations?region=NOPE&year=2020",
        "/api/v1/indicators?region=ZZZ",
        "/api/v1/indicators?region=NGA&indicator=no.such",
        "/api/v1/nothing",
        "/api/v1/regions?parent=QQQ",
    ],
)
def test_unknown_things_are_404_json(client, url):
    resp = client.get(url)
    assert resp.status_code == 404, (url, resp.status_code)
    assert resp.get_json()["error"]["status"] == 404


def test_wrong_method_is_json(client):
    resp = client.post("/api/v1/health")
    assert resp.status_code == 405 and resp.get_json()["error"]["status"] == 405


def test_region_id_is_case_tolerant(client):
    assert _ok(client, "/api/v1/predictions?region=nga&year=2020")["data"][0]["region_id"] == "NGA"
