"""JSON API under ``/api/v1`` (a Flask blueprint on the Dash server), described at ``/api/v1/openapi.json``.

Every operation is declared once (``dashboard.api_core``): its route, role, parameters and checks, and its
OpenAPI entry come from that declaration. This module declares the read operations and assembles the
blueprint; ``api_workflows`` (analyst actions), ``api_phases`` and ``api_alerts`` declare the others.

List endpoints answer ``{"data": [...], "meta": {"run_id", "filters", "count", ...}}``. Errors answer
``{"error": {"status", "message"}}``: 400 for a bad parameter, 404 for an unknown region, indicator or
path. Bad input never produces a 500.

Access (see ``dashboard.auth``): GET endpoints need the viewer role unless ``CRISISRISK_PUBLIC_READ=true``;
the analyst endpoints (uploads, retrain, promote, rollback, jobs) need an analyst or admin, by session
(with the ``X-CSRFToken`` header) or ``Authorization: Bearer <token>``. Authentication is checked before
anything else: no credentials -> 401, a role too low -> 403, then 404 for an unknown id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

import pandas as pd
from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from dashboard import api_alerts, api_phases, api_scenarios, api_workflows
from dashboard.api_core import (
    API_VERSION,
    ApiError,
    BadRequest,
    Choice,
    Int,
    NotFound,
    Operations,
    Text,
    error_response,
    json_response,
    listing,
    openapi_document,
    records,
    register,
)
from dashboard.auth import requires
from models import fields
from warehouse import settings

# The fields of each answer come from the one prediction field table (models.fields): the CSV export's fields
# first, then the ones only the API has; the OpenAPI schemas below take each field's type and header from
# there.
PREDICTION_FIELDS = fields.API_DETECTED
RISE_FIELDS = fields.API_RISE  # target=rise: the crisis watch list
EXPLANATION_FIELDS = fields.EXPLANATION_EXPORT
PAIR_FIELDS = [
    "detecting_iso3",
    "detecting_name",
    "citizenship_iso3",
    "citizenship_name",
    "year",
    "expected_victims",
    "lower",
    "upper",
    "horizon",
    "last_listed_year",
    "last_listed_victims",
    "run_id",
]
TARGETS = ("detected", "rise")
EXPLANATION_FIELDS = [
    "region_id",
    "iso3",
    "name",
    "year",
    "feature",
    "family",
    "shap_value",
    "feature_value",
    "run_id",
]

log = logging.getLogger(__name__)
MAX_LIMIT = 50_000
YEAR_RANGE = (1900, 2100)
__all__ = ["API_VERSION", "ApiError", "blueprint", "openapi_spec"]

INFO = {
    "title": "crisisrisk API",
    "version": API_VERSION,
    "description": (
        "Risk of *detected* human trafficking in humanitarian crises: predictions with 80% intervals, "
        "SHAP explanations, indicators and model runs. Detection depends on how hard a state looks; "
        "read the model card (GET /models)."
    ),
}
SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "API token from `crisisrisk tokens create NAME --user USER`",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": "crisisrisk_session",
        "description": "Session cookie from the /login form",
    },
    "csrfHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRFToken",
        "description": (
            "With session auth, state-changing requests also need this header: the value of "
            "the _csrf_token cookie"
        ),
    },
}

# --- component schemas --------------------------------------------------------------------------------------
NUM = {"type": "number", "nullable": True}
NULL_INT = {"type": "integer", "nullable": True}
OPENAPI_TYPES = {"text": "string", "integer": "integer", "number": "number", "boolean": "boolean"}


def _from_table(table: dict[str, fields.Field], names: list[str], refined: dict[str, dict]) -> dict[str, Any]:
    """An object schema of ``names``: description (the table's header) and type from the field table, nullable
    as frames hold NaN, unless ``refined`` states the field's schema more precisely (enums, bounds, non-null).
    """
    props = {
        n: (
            {"description": table[n].header, **refined[n]}
            if n in refined
            else {"type": OPENAPI_TYPES[table[n].kind], "nullable": True, "description": table[n].header}
        )
        for n in names
    }
    return {"type": "object", "properties": props}


PREDICTION = _from_table(
    fields.DETECTED,
    PREDICTION_FIELDS,
    {
        "run_id": {"type": "string"},
        "region_id": {"type": "string"},
        "name": {"type": "string"},
        "iso3": {"type": "string"},
        "parent_id": {"type": "string", "nullable": True},
        "level": {"type": "integer", "enum": [0, 1]},
        "year": {"type": "integer"},
        "risk_score": {
            "type": "number",
            "minimum": 0,
            "maximum": 100,
            "description": "Percentile within the year and level, 0-100",
        },
        "risk_band": {"type": "string", "enum": ["low", "moderate", "high", "very high"]},
        "rank": {"type": "integer", "nullable": True, "description": "1 = highest within year and level"},
        "estimate_per_100k": {
            "type": "number",
            "description": "Estimated detected victims per 100,000 people",
        },
        "lower_per_100k": {"type": "number", "description": "80% interval, lower bound"},
        "upper_per_100k": {"type": "number", "description": "80% interval, upper bound"},
        "label_per_100k": {**NUM, "description": "Observed GLOTIP detected victims per 100k, when known"},
        "method": {
            "type": "string",
            "description": (
                "'model' or 'model_no_label_history' (countries; the latter never "
                "reported detected victims, so the estimate is extrapolated) or "
                "'exposure_downscaled' (admin-1)"
            ),
        },
        "has_subnational_data": {"type": "boolean", "nullable": True},
        "score_change": {**NUM, "description": "Risk score minus the previous year's (points)"},
        "estimate_change": {**NUM, "description": "Estimate minus the previous year's (per 100k)"},
        "basis": {
            "type": "string",
            "nullable": True,
            "enum": ["checked", "nowcast", "projection", None],
            "description": "checked (labelled year), nowcast (newest label 1-2 years old), projection",
        },
        "horizon": NULL_INT,
        "label_year": NULL_INT,
        "conflict_year": NULL_INT,
        "displacement_year": NULL_INT,
        "small_population": {"type": "boolean", "nullable": True},
    },
)
RISE = _from_table(
    fields.RISE,
    RISE_FIELDS,
    {
        "iso3": {"type": "string"},
        "name": {"type": "string"},
        "year": {
            "type": "integer",
            "description": "Score year: inputs dated <= year; looks at year+1..year+3",
        },
        "rise_factor": {"type": "number", "description": "Expected ratio, target window / baseline window"},
        "lower": {"type": "number", "description": "80% interval of rise_factor, lower"},
        "upper": {"type": "number", "description": "80% interval of rise_factor, upper"},
        "rank": {"type": "integer", "description": "1 = strongest expected rise in the year"},
        "percentile": {"type": "number"},
        "score": {"type": "number"},
        "top_driver": {"type": "string", "nullable": True},
        "people_exposed": {"type": "string", "description": "Absolute numbers with their years"},
        "basis": {"type": "string", "description": "Inputs and their years"},
        "method": {"type": "string"},
        "run_id": {"type": "string"},
        "displaced_abroad": NUM,
        "displaced_abroad_year": NULL_INT,
        "idps": NUM,
        "idps_year": NULL_INT,
        "hosted": NUM,
        "hosted_year": NULL_INT,
        "small_population": {"type": "boolean", "nullable": True},
    },
)
SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            }
        },
    },
    "Meta": {
        "type": "object",
        "properties": {
            "run_id": {"type": "string", "nullable": True},
            "filters": {"type": "object"},
            "count": {"type": "integer"},
            "total": {"type": "integer"},
            "offset": {"type": "integer"},
        },
    },
    "Region": {
        "type": "object",
        "properties": {
            "region_id": {"type": "string"},
            "level": {"type": "integer"},
            "iso3": {"type": "string"},
            "parent_id": {"type": "string", "nullable": True},
            "name": {"type": "string"},
            "type": {"type": "string", "nullable": True},
            "area_km2": NUM,
            "label_lon": NUM,
            "label_lat": NUM,
        },
    },
    "Prediction": PREDICTION,
    "Rise": RISE,
    "Pair": {
        "type": "object",
        "properties": {
            "detecting_iso3": {"type": "string"},
            "detecting_name": {"type": "string"},
            "citizenship_iso3": {"type": "string"},
            "citizenship_name": {"type": "string"},
            "year": {"type": "integer"},
            "expected_victims": {"type": "number", "minimum": 0},
            "lower": {"type": "number", "minimum": 0},
            "upper": {"type": "number", "minimum": 0},
            "horizon": {"type": "integer", "minimum": 1},
            "last_listed_year": NULL_INT,
            "last_listed_victims": NUM,
            "run_id": {"type": "string"},
        },
    },
    "Explanation": _from_table(
        fields.EXPLANATION,
        EXPLANATION_FIELDS,
        {
            "run_id": {"type": "string"},
            "region_id": {"type": "string"},
            "iso3": {"type": "string"},
            "name": {"type": "string"},
            "year": {"type": "integer"},
            "feature": {"type": "string", "description": "'__bias__' holds the expected value"},
            "family": {"type": "string"},
            "shap_value": {"type": "number"},
            "feature_value": NUM,
        },
    ),
    "Observation": {
        "type": "object",
        "properties": {
            "region_id": {"type": "string"},
            "indicator": {"type": "string"},
            "period_start": {"type": "string"},
            "year": {"type": "integer"},
            "period_type": {"type": "string"},
            "source": {"type": "string"},
            "value": {"type": "number"},
            "censored": {"type": "boolean"},
            "unit": {"type": "string"},
        },
    },
    "ModelRun": {
        "type": "object",
        "properties": {
            "run_id": {"type": "string"},
            "status": {"type": "string", "enum": ["candidate", "deployed", "archived"]},
            "created_at": {"type": "string"},
            "deployed_at": {"type": "string", "nullable": True},
            "rmsle": NUM,
            "spearman": NUM,
            "coverage80": NUM,
            "gate_passed": {"type": "boolean", "nullable": True},
        },
    },
}


# --- shared parameters --------------------------------------------------------------------------------------
def _region(actx, rid: str) -> dict:
    info = actx.queries.region(rid) or actx.queries.region(rid.upper())
    if info is None:
        raise NotFound(f"unknown region '{rid}'")
    return info


def _country(name: str):
    def resolve(actx, raw: str) -> str:
        code = raw.upper()
        info = actx.queries.region(code)
        if info is None or int(info["level"]) != 0:
            raise NotFound(f"unknown country '{raw[:32]}' for '{name}' (give an ISO3 code)")
        return code

    return resolve


def _indicator(actx, code: str) -> str:
    if code not in set(actx.queries.indicators()["code"]):
        raise NotFound(f"unknown indicator '{code[:80]}'")
    return code


LEVEL = Choice(
    "level",
    "0 = countries, 1 = admin-1 units (also 'country', 'admin1')",
    choices=("0", "1", "country", "admin1"),
    fold=True,
    expected="0 (countries) or 1 (admin-1 units)",
    aliases={"0": 0, "country": 0, "countries": 0, "1": 1, "admin1": 1, "admin-1": 1},
)
YEAR = Int("year", "Predicted year", lo=YEAR_RANGE[0], hi=YEAR_RANGE[1])
REGION = Text(
    "region",
    "Region id: ISO3 for a country, Natural Earth adm1_code for an admin-1 unit",
    max_length=32,
    resolve=_region,
)
LIMIT = Int("limit", "Page size", lo=1, hi=MAX_LIMIT, default=MAX_LIMIT)
OFFSET = Int("offset", "Rows to skip", lo=0, hi=10**9, default=0)
PAGE = (LIMIT, OFFSET)


def _list(data: pd.DataFrame, q, filters: dict, total: int | None = None, offset: int = 0, **extra) -> dict:
    meta = {
        "run_id": q.run_id,
        "filters": {k: v for k, v in filters.items() if v is not None},
        "count": len(data),
        "total": len(data) if total is None else total,
        "offset": offset,
        "api_version": API_VERSION,
        **extra,
    }
    return {"data": records(data), "meta": meta}


def _page(frame: pd.DataFrame, a: dict) -> pd.DataFrame:
    return frame.iloc[a["offset"] : a["offset"] + a["limit"]]


# --- read operations ----------------------------------------------------------------------------------------
ops = Operations(SCHEMAS)


@ops.get("/health", role="public", summary="Service health")
def health(actx, a: dict) -> dict:
    from warehouse.db import is_initialised

    q = actx.queries
    run = q.deployed_run()
    return {
        "status": "ok",
        "api_version": API_VERSION,
        "database": is_initialised(q.engine),
        "dialect": q.engine.dialect.name,
        "deployed_run": run["run_id"] if run else None,
        "current_loads": len(q.version()[1]),
        "years": q.years(0),
        "uptime_s": round(dt.datetime.now().timestamp() - actx.started, 1),
    }


@ops.get("/openapi.json", role="public", summary="This document (OpenAPI 3.0)")
def openapi(actx, a: dict) -> Response:
    return json_response(
        openapi_spec(request.host_url.rstrip("/") + "/api/v1"),
        headers={"Cache-Control": "public, max-age=3600"},
    )


@ops.get(
    "/regions",
    role="read",
    summary="Countries and admin-1 units",
    cached=True,
    params=(LEVEL, Text("parent", "Only the admin-1 units of this country (ISO3)")),
    ok_description="Regions",
    ok_schema=listing("Region"),
    errors={404: "Unknown parent region"},
)
def regions(actx, a: dict) -> dict:
    q = actx.queries
    frame = q.regions(a["level"]).drop(columns=["has_geometry"]).copy()
    parent = a["parent"]
    if parent:
        if q.region(parent.upper()) is None:
            raise NotFound(f"unknown region '{parent[:32]}'")
        frame = frame[frame["parent_id"] == parent.upper()]
    return _list(frame, q, {"level": a["level"], "parent": parent})


@ops.get(
    "/predictions",
    role="read",
    cached=True,
    summary=(
        "Predictions of the deployed model: target=detected (default; detected victims per 100k, where "
        "victims are found) or target=rise (the crisis watch list, countries only)"
    ),
    params=(
        Choice("target", "detected (default) or rise", choices=TARGETS, fold=True, default="detected"),
        LEVEL,
        YEAR,
        REGION,
        *PAGE,
    ),
    ok_description="Predictions (Prediction items for target=detected, Rise items for target=rise)",
    ok_schema=listing(
        {"anyOf": [{"$ref": "#/components/schemas/Prediction"}, {"$ref": "#/components/schemas/Rise"}]}
    ),
    errors={404: "Unknown region"},
)
def predictions(actx, a: dict) -> dict:
    q, info, level = actx.queries, a["region"], a["level"]
    if a["target"] == "rise":
        return _rise(q, a)
    if info is not None and level is not None and int(info["level"]) != level:
        raise BadRequest(f"region '{info['region_id']}' is level {info['level']}, not level {level}")
    frame = q.predictions(
        level=level if info is None else int(info["level"]),
        year=a["year"],
        region_ids=[info["region_id"]] if info else None,
    )
    frame = frame.rename(columns={"region_name": "name"}).assign(run_id=q.run_id)
    frame = frame[[c for c in PREDICTION_FIELDS if c in frame]]
    return _list(
        _page(frame, a),
        q,
        {"level": level, "year": a["year"], "region": info["region_id"] if info else None},
        len(frame),
        a["offset"],
        target="risk of detected trafficking: detected victims per 100,000 people (UNODC GLOTIP)",
        interval="80%",
    )


def _rise(q, a: dict) -> dict:
    """target=rise: the crisis watch list of the deployed run (countries only)."""
    info, level = a["region"], a["level"]
    if level == 1 or (info is not None and int(info["level"]) != 0):
        raise BadRequest("the watch list (target=rise) is scored for countries only (level 0)")
    frame = q.watchlist(a["year"])
    if info is not None:
        frame = frame[frame["region_id"] == info["region_id"]]
    frame = frame.rename(columns={"region_id": "iso3", "region_name": "name"})
    frame = frame[[c for c in RISE_FIELDS if c in frame]].copy()
    for col in [
        c for c in frame if c.endswith("_year")
    ]:  # years are integers in the document (2020, not 2020.0)
        frame[col] = pd.to_numeric(frame[col], errors="coerce").round().astype("Int64")
    return _list(
        _page(frame, a),
        q,
        {"target": "rise", "level": level, "year": a["year"], "region": info["region_id"] if info else None},
        len(frame),
        a["offset"],
        target=(
            "crisis watch list: expected rise of a population's nationals detected as trafficking "
            "victims abroad, years year+1..year+3 against year-2..year (rise_factor = ratio)"
        ),
        interval="80%",
        skill=(q.watchlist_skill() or {}).get("skill"),
    )


@ops.get(
    "/pairs",
    role="read",
    cached=True,
    summary="Pair model: expected detected victims of a citizenship in a detecting country",
    params=(
        Text(
            "citizenship", "ISO3 of the victims' citizenship", max_length=32, resolve=_country("citizenship")
        ),
        Text("detecting", "ISO3 of the detecting country", max_length=32, resolve=_country("detecting")),
        YEAR,
        *PAGE,
    ),
    ok_description="Pair predictions",
    ok_schema=listing("Pair"),
    errors={404: "Unknown country"},
)
def pairs(actx, a: dict) -> dict:
    q, citizenship, detecting = actx.queries, a["citizenship"], a["detecting"]
    if citizenship is None and detecting is None:
        raise BadRequest("give 'citizenship', 'detecting' or both (ISO3 codes)")
    frame = q.pair_predictions(citizenship=citizenship, detecting=detecting, year=a["year"])
    frame = frame[[c for c in PAIR_FIELDS if c in frame]]
    return _list(
        _page(frame, a),
        q,
        {"citizenship": citizenship, "detecting": detecting, "year": a["year"]},
        len(frame),
        a["offset"],
        unit="expected detected victims (persons) of the citizenship in the detecting country",
        interval="80%",
        note=(
            "stored for listed pairs and the three years after the last UNODC label "
            "year (horizon = years after it); other pairs: `crisisrisk model predict-dyads`"
        ),
    )


@ops.get(
    "/explanations",
    role="read",
    cached=True,
    summary="SHAP values of one region's predictions",
    params=(
        dataclasses.replace(
            REGION,
            required=True,
            missing="parameter 'region' is required (ISO3 code or Natural Earth adm1_code)",
        ),
        YEAR,
    ),
    ok_description="SHAP values",
    ok_schema=listing("Explanation"),
    errors={404: "Unknown region"},
)
def explanations(actx, a: dict) -> dict:
    q, info = actx.queries, a["region"]
    rid = info["region_id"] if int(info["level"]) == 0 else info["parent_id"]
    frame = q.explanations(rid, a["year"]).rename(columns={"value": "shap_value"})
    parent = q.region(rid) or {}
    frame = frame.assign(iso3=parent.get("iso3"), name=parent.get("name"), run_id=q.run_id)[
        EXPLANATION_FIELDS
    ]
    note = (
        None
        if int(info["level"]) == 0
        else f"admin-1 units have no model of their own: these are the explanations of {rid}"
    )
    return _list(
        frame,
        q,
        {"region": info["region_id"], "year": a["year"]},
        unit="SHAP value in log1p(victims per 100k)",
        note=note,
    )


@ops.get(
    "/indicators",
    role="read",
    cached=True,
    summary="Observed indicator values (yearly)",
    params=(
        REGION,
        Text("indicator", "Indicator code, e.g. trafficking.victims_detected", resolve=_indicator),
        Int("from", "First year", lo=YEAR_RANGE[0], hi=YEAR_RANGE[1]),
        Int("to", "Last year", lo=YEAR_RANGE[0], hi=YEAR_RANGE[1]),
        *PAGE,
    ),
    ok_description="Observations",
    ok_schema=listing("Observation"),
    errors={404: "Unknown region or indicator"},
)
def indicators(actx, a: dict) -> dict:
    q, info, code, year_from, year_to = actx.queries, a["region"], a["indicator"], a["from"], a["to"]
    if info is None and code is None:
        raise BadRequest("give 'region', 'indicator' or both")
    if year_from is not None and year_to is not None and year_from > year_to:
        raise BadRequest(f"'from' ({year_from}) is after 'to' ({year_to})")
    frame = q.indicator_series(info["region_id"] if info else None, code, year_from, year_to).copy()
    if len(frame):
        frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.strftime("%Y-%m-%d")
        frame.insert(3, "year", pd.to_datetime(frame["period_start"]).dt.year)
        frame["unit"] = frame["indicator"].map(q.indicators().set_index("code")["unit"])
    return _list(
        _page(frame, a),
        q,
        {"region": info["region_id"] if info else None, "indicator": code, "from": year_from, "to": year_to},
        len(frame),
        a["offset"],
    )


@ops.get(
    "/models",
    role="read",
    summary="Model runs with their status",
    ok_description="Runs",
    ok_schema=listing("ModelRun"),
)
def models(actx, a: dict) -> dict:
    frame = actx.queries.runs()
    return _list(frame.astype(object).where(frame.notna(), None), actx.queries, {})


GROUPS = (ops, api_workflows.ops, api_phases.ops, api_alerts.ops, api_scenarios.ops)


def openapi_spec(server: str = "/api/v1") -> dict:
    """The OpenAPI 3.0 description of the API, from the declared operations."""
    return openapi_document(GROUPS, server, INFO, SECURITY_SCHEMES)


# --- the blueprint ------------------------------------------------------------------------------------------
def blueprint(actx) -> Blueprint:
    """Every declared operation, the JSON error handlers, CORS and the catch-all 404."""
    bp = Blueprint("api_v1", __name__)

    @bp.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return json_response(exc.body(), exc.status)

    @bp.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error_response(exc.code or 500, exc.description or exc.name)

    @bp.errorhandler(Exception)
    def _unexpected(exc: Exception):  # a bug, not bad input: still JSON, and logged
        log.exception("API error on %s", request.path)
        return error_response(500, f"internal error ({type(exc).__name__}); see the server log")

    def _register_app_handlers(state) -> None:
        for code in (404, 405):
            state.app.register_error_handler(code, _app_http_error)
        state.app.config["CRISISRISK_CORS_ORIGINS"] = _cors_origins(actx.config.get("cors_origins"))

    bp.record_once(_register_app_handlers)
    bp.before_app_request(_api_methods_guard)
    bp.after_app_request(_headers)
    register(bp, actx, GROUPS)

    @bp.route("/", defaults={"rest": ""})
    @bp.route("/<path:rest>")
    @requires("read")
    def not_found(rest: str):
        raise NotFound(f"no endpoint '/api/v1/{rest}'; see /api/v1/openapi.json")

    return bp


def _app_http_error(exc: HTTPException):
    """Routing errors (405, 404) happen before the blueprint: answer JSON under /api/ only (Allow kept)."""
    if request.path.startswith("/api/"):
        response = error_response(exc.code or 500, exc.description or exc.name)
        for key, value in exc.get_headers():
            if key.lower() != "content-type":
                response.headers[key] = value
        return response
    return exc


def _headers(resp: Response) -> Response:
    if request.path.startswith("/api/"):
        resp.headers.setdefault("Cache-Control", "no-cache")
        _cors_headers(resp)
    return resp


# --- methods, OPTIONS and CORS ------------------------------------------------------------------------------
CATCH_ALL = "api_v1.not_found"
CORS_HEADERS = "Authorization, Content-Type, X-CSRFToken"


def _cors_origins(configured) -> frozenset[str]:
    """Origins whose pages may call the API from a browser: none unless CRISISRISK_CORS_ORIGINS lists them."""
    raw = configured if configured is not None else settings.get("CRISISRISK_CORS_ORIGINS") or ""
    items = raw if isinstance(raw, (list, tuple, set, frozenset)) else str(raw).split(",")
    return frozenset(o.strip().rstrip("/") for o in items if o.strip())


def _allowed_origins() -> frozenset[str]:
    from flask import current_app

    return current_app.config.get("CRISISRISK_CORS_ORIGINS") or frozenset()


def _cors_headers(resp: Response) -> None:
    """Access-Control-Allow-Origin only for a configured origin (none by default: no cross-site reads)."""
    origins = _allowed_origins()
    origin = request.headers.get("Origin")
    if not origin or not origins:
        return
    if "*" in origins:
        resp.headers["Access-Control-Allow-Origin"] = "*"
    elif origin.rstrip("/") in origins:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers.add("Vary", "Origin")


def api_methods(path: str) -> list[str]:
    """The methods the API really offers at ``path`` (its catch-all 404 route and Dash's page route left
    out)."""
    from flask import current_app
    from werkzeug.routing import Map, Rule

    api_map = current_app.extensions.get("crisisrisk_api_map")
    if api_map is None:
        rules = [
            Rule(r.rule, methods=r.methods, endpoint=r.endpoint)
            for r in current_app.url_map.iter_rules()
            if r.endpoint.startswith("api_v1.") and r.endpoint != CATCH_ALL
        ]
        api_map = Map(rules, converters=dict(current_app.url_map.converters))
        current_app.extensions["crisisrisk_api_map"] = api_map
    return sorted(api_map.bind("localhost").allowed_methods(path))


def _options(allow: str) -> Response:
    response = Response(status=204, headers={"Allow": allow})
    if request.headers.get("Origin") and _allowed_origins():
        response.headers["Access-Control-Allow-Methods"] = allow
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def _api_methods_guard():
    """before_request (after the access guard): OPTIONS and unsupported methods under /api/v1 answer from the
    API's own routes, so ``Allow`` lists what the operation offers (not GET from a catch-all) and 405 has it.
    """
    if not request.path.startswith("/api/v1/"):
        return None
    rule = request.url_rule
    if rule is not None and rule.endpoint != CATCH_ALL and request.method != "OPTIONS":
        return None
    allowed = api_methods(request.path)
    if not allowed:  # no such endpoint: 404 for every method (the catch-all only takes GET)
        from werkzeug.exceptions import MethodNotAllowed

        if request.method == "OPTIONS" or (
            rule is None and isinstance(request.routing_exception, MethodNotAllowed)
        ):
            return error_response(404, f"no endpoint '{request.path[:200]}'; see /api/v1/openapi.json")
        return None
    allow = ", ".join(allowed)
    if request.method == "OPTIONS":
        return _options(allow)
    if request.method not in allowed:
        response = error_response(405, f"{request.method} is not allowed here; allowed: {allow}")
        response.headers["Allow"] = allow
        return response
    return None
