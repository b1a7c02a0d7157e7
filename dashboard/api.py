"""JSON API under ``/api/v1`` (a Flask blueprint on the Dash server), described at ``/api/v1/openapi.json``.

List endpoints answer ``{"data": [...], "meta": {"run_id", "filters", "count", ...}}``. Errors answer
``{"error": {"status", "message"}}``: 400 for a bad parameter, 404 for an unknown region, indicator or
path. Bad input never produces a 500.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import pandas as pd
from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

# Field names follow the CSV exports (models.export.PREDICTION_COLUMNS / EXPLANATION_COLUMNS; a test checks
# they match), then fields only the API has.
PREDICTION_FIELDS = ["region_id", "iso3", "name", "level", "year", "estimate_per_100k", "lower_per_100k",
                     "upper_per_100k", "risk_score", "risk_band", "run_id", "rank", "label_per_100k", "method",
                     "has_subnational_data", "parent_id", "score_change", "estimate_change"]
EXPLANATION_FIELDS = ["region_id", "iso3", "name", "year", "feature", "family", "shap_value", "feature_value",
                      "run_id"]

log = logging.getLogger(__name__)
API_VERSION = "1.0.0"
MAX_LIMIT = 50_000
YEAR_RANGE = (1900, 2100)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(payload, status: int = 200, headers: dict | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False, default=_default, separators=(",", ":"))
    return Response(body, status=status, mimetype="application/json", headers=headers)


def _default(value):
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _records(frame: pd.DataFrame) -> list[dict]:
    if frame.empty:
        return []
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def error(status: int, message: str) -> Response:
    return _json({"error": {"status": status, "message": message}}, status)


# --- parameter parsing ---------------------------------------------------------------------------------
def _check_params(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise ApiError(400, f"unknown parameter(s) {unknown}; allowed: {sorted(allowed)}")
    for key in request.args:
        if len(request.args.getlist(key)) > 1:
            raise ApiError(400, f"parameter '{key}' given more than once")


def _int_param(name: str, lo: int | None = None, hi: int | None = None, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ApiError(400, f"parameter '{name}' must be an integer, got '{raw[:40]}'") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ApiError(400, f"parameter '{name}' must be between {lo} and {hi}, got {value}")
    return value


def _level_param() -> int | None:
    raw = request.args.get("level")
    if raw is None or raw == "":
        return None
    aliases = {"0": 0, "country": 0, "countries": 0, "1": 1, "admin1": 1, "admin-1": 1}
    if raw.strip().lower() not in aliases:
        raise ApiError(400, f"parameter 'level' must be 0 (countries) or 1 (admin-1 units), got '{raw[:40]}'")
    return aliases[raw.strip().lower()]


def _region_param(q, required: bool = False) -> dict | None:
    raw = request.args.get("region")
    if raw is None or raw.strip() == "":
        if required:
            raise ApiError(400, "parameter 'region' is required (ISO3 code or Natural Earth adm1_code)")
        return None
    rid = raw.strip()
    if len(rid) > 32:
        raise ApiError(400, "parameter 'region' is too long (at most 32 characters)")
    info = q.region(rid) or q.region(rid.upper())
    if info is None:
        raise ApiError(404, f"unknown region '{rid}'")
    return info


def _page() -> tuple[int, int]:
    return (_int_param("limit", 1, MAX_LIMIT, default=MAX_LIMIT), _int_param("offset", 0, 10**9, default=0))


def _list(data: pd.DataFrame, q, filters: dict, total: int | None = None, offset: int = 0, **extra) -> Response:
    meta = {"run_id": q.run_id, "filters": {k: v for k, v in filters.items() if v is not None},
            "count": len(data), "total": len(data) if total is None else total, "offset": offset,
            "api_version": API_VERSION, **extra}
    return _json({"data": _records(data), "meta": meta})


def blueprint(actx) -> Blueprint:
    q = actx.queries
    bp = Blueprint("api_v1", __name__)

    @bp.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error(exc.status, exc.message)

    @bp.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error(exc.code or 500, exc.description or exc.name)

    @bp.errorhandler(Exception)
    def _unexpected(exc: Exception):  # a bug, not bad input: still JSON, and logged
        log.exception("API error on %s", request.path)
        return error(500, f"internal error ({type(exc).__name__}); see the server log")

    def _app_http_error(exc: HTTPException):
        """Routing errors (405, 404) happen before the blueprint: answer JSON under /api/ only."""
        if request.path.startswith("/api/"):
            return error(exc.code or 500, exc.description or exc.name)
        return exc

    bp.record_once(lambda state: state.app.register_error_handler(405, _app_http_error))

    @bp.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Cache-Control", "no-cache")
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    @bp.route("/health")
    def health():
        _check_params(set())
        from etl.db import is_initialised

        run = q.deployed_run()
        loads = q.version()[1]
        return _json({"status": "ok", "api_version": API_VERSION, "database": is_initialised(q.engine),
                      "dialect": q.engine.dialect.name, "deployed_run": run["run_id"] if run else None,
                      "current_loads": len(loads), "years": q.years(0),
                      "uptime_s": round(dt.datetime.now().timestamp() - actx.started, 1)})

    @bp.route("/regions")
    def regions():
        _check_params({"level", "parent"})
        level = _level_param()
        frame = q.regions(level).drop(columns=["has_geometry"]).copy()
        parent = request.args.get("parent")
        if parent:
            if q.region(parent.strip().upper()) is None:
                raise ApiError(404, f"unknown region '{parent[:32]}'")
            frame = frame[frame["parent_id"] == parent.strip().upper()]
        return _list(frame, q, {"level": level, "parent": parent})

    @bp.route("/predictions")
    def predictions():
        _check_params({"level", "year", "region", "limit", "offset"})
        level = _level_param()
        year = _int_param("year", *YEAR_RANGE)
        info = _region_param(q)
        limit, offset = _page()
        if info is not None and level is not None and int(info["level"]) != level:
            raise ApiError(400, f"region '{info['region_id']}' is level {info['level']}, not level {level}")
        frame = q.predictions(level=level if info is None else int(info["level"]), year=year,
                              region_ids=[info["region_id"]] if info else None)
        frame = frame.rename(columns={"region_name": "name"}).assign(run_id=q.run_id)
        frame = frame[[c for c in PREDICTION_FIELDS if c in frame]]
        total = len(frame)
        return _list(frame.iloc[offset:offset + limit], q,
                     {"level": level, "year": year, "region": info["region_id"] if info else None}, total, offset,
                     target="risk of detected trafficking: detected victims per 100,000 people (UNODC GLOTIP)",
                     interval="80%")

    @bp.route("/explanations")
    def explanations():
        _check_params({"region", "year"})
        info = _region_param(q, required=True)
        year = _int_param("year", *YEAR_RANGE)
        rid = info["region_id"] if int(info["level"]) == 0 else info["parent_id"]
        frame = q.explanations(rid, year).rename(columns={"value": "shap_value"})
        parent = q.region(rid) or {}
        frame = frame.assign(iso3=parent.get("iso3"), name=parent.get("name"), run_id=q.run_id)[EXPLANATION_FIELDS]
        note = None if int(info["level"]) == 0 else \
            f"admin-1 units have no model of their own: these are the explanations of {rid}"
        return _list(frame, q, {"region": info["region_id"], "year": year}, unit="SHAP value in log1p(victims per 100k)",
                     note=note)

    @bp.route("/indicators")
    def indicators():
        _check_params({"region", "indicator", "from", "to", "limit", "offset"})
        info = _region_param(q)
        code = request.args.get("indicator")
        if code is not None and code.strip() == "":
            code = None
        if code is not None:
            catalogue = q.indicators()
            if code.strip() not in set(catalogue["code"]):
                raise ApiError(404, f"unknown indicator '{code[:80]}'")
            code = code.strip()
        if info is None and code is None:
            raise ApiError(400, "give 'region', 'indicator' or both")
        year_from = _int_param("from", *YEAR_RANGE)
        year_to = _int_param("to", *YEAR_RANGE)
        if year_from is not None and year_to is not None and year_from > year_to:
            raise ApiError(400, f"'from' ({year_from}) is after 'to' ({year_to})")
        limit, offset = _page()
        frame = q.indicator_series(info["region_id"] if info else None, code, year_from, year_to).copy()
        if len(frame):
            frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.strftime("%Y-%m-%d")
            frame.insert(3, "year", pd.to_datetime(frame["period_start"]).dt.year)
            units = q.indicators().set_index("code")["unit"]
            frame["unit"] = frame["indicator"].map(units)
        total = len(frame)
        return _list(frame.iloc[offset:offset + limit], q,
                     {"region": info["region_id"] if info else None, "indicator": code, "from": year_from,
                      "to": year_to}, total, offset)

    @bp.route("/models")
    def models():
        _check_params(set())
        frame = q.runs()
        frame = frame.astype(object).where(frame.notna(), None)
        return _list(frame, q, {})

    @bp.route("/openapi.json")
    def openapi():
        return _json(openapi_spec(request.host_url.rstrip("/") + "/api/v1"),
                     headers={"Cache-Control": "public, max-age=3600"})

    @bp.route("/", defaults={"rest": ""})
    @bp.route("/<path:rest>")
    def not_found(rest: str):
        raise ApiError(404, f"no endpoint '/api/v1/{rest}'; see /api/v1/openapi.json")

    return bp


def openapi_spec(server: str = "/api/v1") -> dict:
    """The OpenAPI 3.0 description of the API."""

    def param(name, desc, schema, required=False):
        return {"name": name, "in": "query", "required": required, "description": desc, "schema": schema}

    level = param("level", "0 = countries, 1 = admin-1 units (also 'country', 'admin1')",
                  {"type": "string", "enum": ["0", "1", "country", "admin1"]})
    year = param("year", "Predicted year", {"type": "integer", "minimum": YEAR_RANGE[0], "maximum": YEAR_RANGE[1]})
    region = param("region", "Region id: ISO3 for a country, Natural Earth adm1_code for an admin-1 unit",
                   {"type": "string", "maxLength": 32})
    limit = param("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": MAX_LIMIT})
    offset = param("offset", "Rows to skip", {"type": "integer", "minimum": 0, "default": 0})
    err = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

    def listing(item_ref: str, desc: str) -> dict:
        return {"200": {"description": desc, "content": {"application/json": {"schema": {
            "type": "object", "required": ["data", "meta"],
            "properties": {"data": {"type": "array", "items": {"$ref": item_ref}},
                           "meta": {"$ref": "#/components/schemas/Meta"}}}}}},
                "400": err, "404": err}

    num = {"type": "number", "nullable": True}
    prediction_props = {
        "run_id": {"type": "string"}, "region_id": {"type": "string"}, "name": {"type": "string"},
        "iso3": {"type": "string"}, "parent_id": {"type": "string", "nullable": True},
        "level": {"type": "integer", "enum": [0, 1]}, "year": {"type": "integer"},
        "risk_score": {"type": "number", "minimum": 0, "maximum": 100,
                       "description": "Percentile within the year and level, 0-100"},
        "risk_band": {"type": "string", "enum": ["low", "moderate", "high", "very high"]},
        "rank": {"type": "integer", "nullable": True, "description": "1 = highest within year and level"},
        "estimate_per_100k": {"type": "number", "description": "Estimated detected victims per 100,000 people"},
        "lower_per_100k": {"type": "number", "description": "80% interval, lower bound"},
        "upper_per_100k": {"type": "number", "description": "80% interval, upper bound"},
        "label_per_100k": {**num, "description": "Observed GLOTIP detected victims per 100k, when known"},
        "method": {"type": "string", "description": "'model' or 'model_no_label_history' (countries; the latter never reported detected victims, so the estimate is extrapolated) or 'exposure_downscaled' (admin-1)"},
        "has_subnational_data": {"type": "boolean", "nullable": True},
        "score_change": {**num, "description": "Risk score minus the previous year's (points)"},
        "estimate_change": {**num, "description": "Estimate minus the previous year's (per 100k)"},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "crisisrisk API", "version": API_VERSION,
                 "description": "Risk of *detected* human trafficking in humanitarian crises: predictions with 80% "
                                "intervals, SHAP explanations, indicators and model runs. Detection depends on "
                                "how hard a state looks; read the model card (GET /models)."},
        "servers": [{"url": server}],
        "paths": {
            "/health": {"get": {"summary": "Service health", "responses": {"200": {
                "description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/regions": {"get": {"summary": "Countries and admin-1 units", "parameters": [
                level, param("parent", "Only the admin-1 units of this country (ISO3)", {"type": "string"})],
                "responses": listing("#/components/schemas/Region", "Regions")}},
            "/predictions": {"get": {"summary": "Predictions of the deployed model", "parameters": [
                level, year, region, limit, offset], "responses": listing("#/components/schemas/Prediction",
                                                                          "Predictions")}},
            "/explanations": {"get": {"summary": "SHAP values of one region's predictions", "parameters": [
                {**region, "required": True}, year], "responses": listing("#/components/schemas/Explanation",
                                                                          "SHAP values")}},
            "/indicators": {"get": {"summary": "Observed indicator values (yearly)", "parameters": [
                region, param("indicator", "Indicator code, e.g. trafficking.victims_detected", {"type": "string"}),
                param("from", "First year", {"type": "integer"}), param("to", "Last year", {"type": "integer"}),
                limit, offset], "responses": listing("#/components/schemas/Observation", "Observations")}},
            "/models": {"get": {"summary": "Model runs with their status", "responses": listing(
                "#/components/schemas/ModelRun", "Runs")}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "status": {"type": "integer"}, "message": {"type": "string"}}}}},
            "Meta": {"type": "object", "properties": {
                "run_id": {"type": "string", "nullable": True}, "filters": {"type": "object"},
                "count": {"type": "integer"}, "total": {"type": "integer"}, "offset": {"type": "integer"}}},
            "Region": {"type": "object", "properties": {
                "region_id": {"type": "string"}, "level": {"type": "integer"}, "iso3": {"type": "string"},
                "parent_id": {"type": "string", "nullable": True}, "name": {"type": "string"},
                "type": {"type": "string", "nullable": True}, "area_km2": num, "label_lon": num, "label_lat": num}},
            "Prediction": {"type": "object", "properties": prediction_props},
            "Explanation": {"type": "object", "properties": {
                "run_id": {"type": "string"}, "region_id": {"type": "string"}, "iso3": {"type": "string"},
                "name": {"type": "string"}, "year": {"type": "integer"},
                "feature": {"type": "string", "description": "'__bias__' holds the expected value"},
                "family": {"type": "string"}, "shap_value": {"type": "number"}, "feature_value": num}},
            "Observation": {"type": "object", "properties": {
                "region_id": {"type": "string"}, "indicator": {"type": "string"}, "period_start": {"type": "string"},
                "year": {"type": "integer"}, "period_type": {"type": "string"}, "source": {"type": "string"},
                "value": {"type": "number"}, "censored": {"type": "boolean"}, "unit": {"type": "string"}}},
            "ModelRun": {"type": "object", "properties": {
                "run_id": {"type": "string"}, "status": {"type": "string",
                                                         "enum": ["candidate", "deployed", "archived"]},
                "created_at": {"type": "string"}, "deployed_at": {"type": "string", "nullable": True},
                "rmsle": num, "spearman": num, "coverage80": num, "gate_passed": {"type": "boolean",
                                                                                  "nullable": True}}},
        }},
    }

