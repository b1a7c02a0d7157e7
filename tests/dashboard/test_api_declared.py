"""The declared API (issue 12): what Flask serves under /api/v1 and what the OpenAPI document lists are the
same set of operations; one declaration gives the route, the parameter checks and the document entry; one
typed error family serves the API and the analyst workflows."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint, Flask

from dashboard import api_core
from dashboard.api_core import ApiError, BadRequest, Conflict, Int, JsonBody, NotFound, Operations, Text

# Served but not an operation: the catch-all that answers a JSON 404 for unknown paths.
NOT_OPERATIONS = {"api_v1.not_found"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}  # added by Flask / answered by the API's method guard for every route


def _served(server: Flask) -> set[tuple[str, str]]:
    out = set()
    for rule in server.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint in NOT_OPERATIONS:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule[len("/api/v1") :])
        out |= {(method, path) for method in rule.methods - IGNORED_METHODS}
    return out


def test_every_served_route_is_documented_and_every_documented_operation_is_served(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    served = _served(client.application)
    assert served - documented == set(), "served under /api/v1 but missing from the OpenAPI document"
    assert documented - served == set(), "in the OpenAPI document but not served"
    assert len(served) >= 35  # every read, analyst, phase and alert operation (35 when this test was written)


def test_every_documented_operation_answers_something_other_than_the_catch_all(client):
    """A documented path reaches its own view (an unknown path answers the catch-all's 'no endpoint' 404)."""
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, ops in spec["paths"].items():
        if "get" not in ops:
            continue
        url = "/api/v1" + re.sub(r"\{[a-z_]+\}", "1", path)
        body = client.get(url).get_json(silent=True) or {}
        assert "no endpoint" not in str(body.get("error", {}).get("message", "")), url


SHIFT_BODY = JsonBody(
    {
        "type": "object",
        "required": ["region"],
        "additionalProperties": False,
        "properties": {
            "region": {"type": "string", "minLength": 3, "maxLength": 3},
            "shift": {"type": "number", "nullable": True, "minimum": -1, "maximum": 1},
        },
    }
)


def _toy_app() -> tuple[Flask, Operations]:
    """A plain Flask app with one declared operation (no Dash): what a new operation looks like."""
    ops = Operations({"Echo": {"type": "object", "properties": {"n": {"type": "integer"}}}})

    def known(actx, word: str) -> str:
        if word not in actx.words:
            raise NotFound(f"unknown word '{word}'")
        return word

    @ops.post("/shift", role="public", summary="Echo a checked JSON body", body=SHIFT_BODY)
    def shift(actx, a: dict) -> dict:
        return {"got": a["body"]}

    @ops.get(
        "/echo",
        role="public",
        summary="Echo n and a known word",
        ok_schema={"$ref": "#/components/schemas/Echo"},
        params=(
            Int("n", "A small number", lo=1, hi=5, default=2),
            Text("word", "A known word", max_length=8, resolve=known),
        ),
        errors={404: "Unknown word"},
    )
    def echo(actx, a: dict) -> dict:
        return {"n": a["n"], "word": a["word"]}

    class Context:
        words = {"alpha", "beta"}

    server = Flask(__name__)
    bp = Blueprint("toy", __name__)
    api_core.register(bp, Context(), [ops])

    @bp.errorhandler(ApiError)
    def _error(exc: ApiError):
        return api_core.json_response(exc.body(), exc.status)

    server.register_blueprint(bp, url_prefix="/v")
    return server, ops


def test_one_declaration_gives_the_route_its_checks_and_its_document_entry():
    server, ops = _toy_app()
    client = server.test_client()
    assert client.get("/v/echo?word=alpha").get_json() == {"n": 2, "word": "alpha"}  # the declared default
    assert client.get("/v/echo?n=5&word=beta").get_json() == {"n": 5, "word": "beta"}
    cases = {
        "/v/echo?n=6": (400, "between 1 and 5"),
        "/v/echo?n=x": (400, "must be an integer"),
        "/v/echo?n=": (400, "empty"),
        "/v/echo?n=1&n=2": (400, "more than once"),
        "/v/echo?m=1": (400, "unknown parameter"),
        "/v/echo?word=gamma": (404, "unknown word"),
        "/v/echo?word=abcdefghi": (400, "too long"),
    }
    for url, (status, words) in cases.items():
        resp = client.get(url)
        message = resp.get_json()["error"]["message"]
        assert resp.status_code == status and words in message, (url, message)
    doc = api_core.openapi_document([ops], "/v", {"title": "toy", "version": "1", "description": "toy"}, {})
    op = doc["paths"]["/echo"]["get"]
    params = {p["name"]: p["schema"] for p in op["parameters"]}
    assert params["n"] == {"type": "integer", "minimum": 1, "maximum": 5, "default": 2}  # the checked bounds
    assert params["word"] == {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "\\S"}
    assert set(op["responses"]) == {"200", "400", "404"} and op["security"] == []  # public: no 401/403
    assert doc["components"]["schemas"]["Echo"]["properties"]["n"] == {"type": "integer"}


def test_a_declared_json_body_is_checked_and_documented():
    server, ops = _toy_app()
    client = server.test_client()
    for body in ({"region": "NGA"}, {"region": "NGA", "shift": 0.5}, {"region": "NGA", "shift": None}):
        resp = client.post("/v/shift", json=body)
        assert resp.status_code == 200 and resp.get_json() == {"got": body}, body
    cases = [
        ({"shift": 0.5}, "'region' is a required property"),
        ({"region": "NGA", "shift": "x"}, "shift"),
        ({"region": "NGA", "shift": 2}, "shift"),
        ({"region": "NIGERIA"}, "region"),
        ({"region": "NGA", "extra": 1}, "extra"),
        ([1, 2], "JSON object"),
    ]
    for body, words in cases:
        resp = client.post("/v/shift", json=body)
        message = resp.get_json()["error"]["message"]
        assert resp.status_code == 400 and words in message, (body, message)
    assert client.post("/v/shift", data="not json", content_type="text/plain").status_code == 400
    doc = api_core.openapi_document([ops], "/v", {"title": "toy", "version": "1", "description": "toy"}, {})
    documented = doc["paths"]["/shift"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert documented == SHIFT_BODY.schema  # the document shows what is checked (OpenAPI 3.0 nullable)


def test_declaring_the_same_operation_twice_fails():
    ops = Operations()
    for _ in range(2):
        ops.get("/twice", role="read", summary="twice")(lambda actx, a: {})
    with pytest.raises(ValueError, match="declared twice"):
        api_core.openapi_document([ops], "/", {"title": "t", "version": "1", "description": ""}, {})


def test_one_error_family_for_the_api_and_the_workflows():
    from dashboard import workflows

    assert workflows.WorkflowError is ApiError  # the admin page's name for it
    assert (BadRequest("x").status, NotFound("x").status, Conflict("x").status) == (400, 404, 409)
    assert all(issubclass(cls, ApiError) for cls in (BadRequest, NotFound, Conflict, api_core.TooLarge))
    assert NotFound("no run", "unknown_run", run_id="r1").body() == {
        "error": {"status": 404, "message": "no run", "code": "unknown_run"},
        "run_id": "r1",
    }
    assert ApiError(400, "bad").body() == {"error": {"status": 400, "message": "bad"}}  # no code in the body


def test_workflows_raise_the_typed_errors(dash_engine):
    """A workflow refusal is a typed error with a code, which the API answers as its error body."""
    from dashboard import workflows

    with pytest.raises(NotFound) as caught:
        workflows.start_load(dash_engine, "tester", 987654321)
    assert caught.value.code == "unknown_upload" and caught.value.status == 404
    with pytest.raises(BadRequest) as caught:
        workflows.promote(dash_engine, "tester", " ")
    assert caught.value.code == "bad_run_id"


def test_metric_rows_round_and_leave_missing_values_empty():
    """compare's metric table (split out of compare): 3 decimals, None for a metric a column lacks."""
    from dashboard.workflows import METRICS, _metric_columns, _metric_rows

    deployed = {
        "run_id": "d",
        "metrics_json": {
            "backtest_pooled": [
                {"model": "xgboost", "rmsle": 0.51234, "spearman": 0.7},
                {"model": "last_value", "rmsle": 0.9},
            ]
        },
    }
    candidate = {
        "run_id": "c",
        "metadata_json": {"variant": "tuned"},
        "metrics_json": {
            "backtest_pooled": [
                {"model": "tuned", "rmsle": 0.4, "coverage80": 0.81},
                {"model": "mean_3y", "rmsle": 0.95},
            ]
        },
    }
    columns = _metric_columns(deployed, candidate)
    # the deployed run's own row, the candidate's (its variant), then the candidate's baselines only
    assert [c for c, _ in columns] == ["deployed: d", "candidate: c", "baseline: mean_3y"]
    rows = _metric_rows(columns)
    assert [r["metric"] for r in rows] == [label for _, label in METRICS]
    assert rows[0] == {
        "metric": METRICS[0][1],
        "deployed: d": 0.512,
        "candidate: c": 0.4,
        "baseline: mean_3y": 0.95,
    }
    assert rows[1]["candidate: c"] is None and rows[3]["candidate: c"] == 0.81
