"""JSON API under ``/api/v1`` (a Flask blueprint on the Dash server), described at ``/api/v1/openapi.json``.

List endpoints answer ``{"data": [...], "meta": {"run_id", "filters", "count", ...}}``. Errors answer
``{"error": {"status", "message"}}``: 400 for a bad parameter, 404 for an unknown region, indicator or
path. Bad input never produces a 500.

Access (see ``dashboard.auth``): GET endpoints need the viewer role unless ``CRISISRISK_PUBLIC_READ=true``;
the analyst endpoints (uploads, retrain, promote, rollback, jobs) need an analyst or admin, by session
(with the ``X-CSRFToken`` header) or ``Authorization: Bearer <token>``. Authentication is checked before
anything else: no credentials -> 401, a role too low -> 403, then 404 for an unknown id.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging

import pandas as pd
from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from dashboard.auth import actor, client_address, requires
from dashboard.workflows import WorkflowError

# Field names follow the CSV exports (models.export.PREDICTION_COLUMNS / EXPLANATION_COLUMNS; a test checks
# they match), then fields only the API has.
PREDICTION_FIELDS = ["region_id", "iso3", "name", "level", "year", "estimate_per_100k", "lower_per_100k",
                     "upper_per_100k", "risk_score", "risk_band", "run_id", "rank", "label_per_100k", "method",
                     "has_subnational_data", "parent_id", "score_change", "estimate_change", "basis", "horizon",
                     "label_year", "conflict_year", "displacement_year", "small_population"]
# target=rise: the crisis watch list (models.watchlist_store.RISE_EXPORT_COLUMNS first, then API-only fields)
RISE_FIELDS = ["iso3", "year", "rise_factor", "lower", "upper", "rank", "top_driver", "people_exposed", "basis",
               "run_id", "name", "percentile", "score", "method", "displaced_abroad", "displaced_abroad_year", "idps",
               "idps_year", "hosted", "hosted_year", "small_population"]
PAIR_FIELDS = ["detecting_iso3", "detecting_name", "citizenship_iso3", "citizenship_name", "year",
               "expected_victims", "lower", "upper", "horizon", "last_listed_year", "last_listed_victims", "run_id"]
TARGETS = ("detected", "rise")
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
    _refuse_blank()


def _refuse_blank() -> None:
    """A parameter given with an empty or blank value ('indicator=', 'region=%0C') is a 400, as documented."""
    for key, value in request.args.items(multi=True):
        if value.strip() == "":
            raise ApiError(400, f"parameter '{key}' is empty; leave it out or give a value")


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

    def cached(view):
        """Memoise a read endpoint's JSON answer per warehouse version (after the access check).

        Serialising the 4,800 regions takes ~70 ms; the load test (benchmarks/load.py) needs answers in ms.
        """

        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            def render():
                response = view(*args, **kwargs)
                return response.get_data(), response.status_code

            key = (request.path, tuple(sorted(request.args.items(multi=True))))
            body, status = q._cached("api_response", key, render)
            return Response(body, status=status, mimetype="application/json")

        return wrapper

    @bp.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error(exc.status, exc.message)

    @bp.errorhandler(WorkflowError)
    def _workflow_error(exc: WorkflowError):
        body = {"error": {"status": exc.status, "message": exc.message, "code": exc.code}, **exc.extra}
        return _json(body, exc.status)

    @bp.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error(exc.code or 500, exc.description or exc.name)

    @bp.errorhandler(Exception)
    def _unexpected(exc: Exception):  # a bug, not bad input: still JSON, and logged
        log.exception("API error on %s", request.path)
        return error(500, f"internal error ({type(exc).__name__}); see the server log")

    def _app_http_error(exc: HTTPException):
        """Routing errors (405, 404) happen before the blueprint: answer JSON under /api/ only (Allow kept)."""
        if request.path.startswith("/api/"):
            response = error(exc.code or 500, exc.description or exc.name)
            for key, value in exc.get_headers():
                if key.lower() != "content-type":
                    response.headers[key] = value
            return response
        return exc

    def _register_app_handlers(state) -> None:
        for code in (404, 405):
            state.app.register_error_handler(code, _app_http_error)
        state.app.config["CRISISRISK_CORS_ORIGINS"] = _cors_origins(actx.config.get("cors_origins"))

    bp.record_once(_register_app_handlers)
    bp.before_app_request(_api_methods_guard)

    @bp.after_app_request
    def _headers(resp: Response) -> Response:
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-cache")
            _cors_headers(resp)
        return resp

    @bp.route("/health")
    @requires("public")
    def health():
        _check_params(set())
        from warehouse.db import is_initialised

        run = q.deployed_run()
        loads = q.version()[1]
        return _json({"status": "ok", "api_version": API_VERSION, "database": is_initialised(q.engine),
                      "dialect": q.engine.dialect.name, "deployed_run": run["run_id"] if run else None,
                      "current_loads": len(loads), "years": q.years(0),
                      "uptime_s": round(dt.datetime.now().timestamp() - actx.started, 1)})

    @bp.route("/regions")
    @requires("read")
    @cached
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
    @requires("read")
    @cached
    def predictions():
        _check_params({"level", "year", "region", "limit", "offset", "target"})
        target = (request.args.get("target") or "detected").strip().lower()
        if target not in TARGETS:
            raise ApiError(400, f"parameter 'target' must be one of {list(TARGETS)}, got '{target[:40]}'")
        level = _level_param()
        year = _int_param("year", *YEAR_RANGE)
        info = _region_param(q)
        limit, offset = _page()
        if target == "rise":
            return _rise(level, year, info, limit, offset)
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

    def _rise(level, year, info, limit: int, offset: int) -> Response:
        """target=rise: the crisis watch list of the deployed run (countries only)."""
        if level == 1 or (info is not None and int(info["level"]) != 0):
            raise ApiError(400, "the watch list (target=rise) is scored for countries only (level 0)")
        frame = q.watchlist(year)
        if info is not None:
            frame = frame[frame["region_id"] == info["region_id"]]
        frame = frame.rename(columns={"region_id": "iso3", "region_name": "name"})
        frame = frame[[c for c in RISE_FIELDS if c in frame]].copy()
        for col in [c for c in frame if c.endswith("_year")]:  # years are integers in the document (2020, not 2020.0)
            frame[col] = pd.to_numeric(frame[col], errors="coerce").round().astype("Int64")
        total = len(frame)
        return _list(frame.iloc[offset:offset + limit], q,
                     {"target": "rise", "level": level, "year": year,
                      "region": info["region_id"] if info else None}, total, offset,
                     target="crisis watch list: expected rise of a population's nationals detected as trafficking "
                            "victims abroad, years year+1..year+3 against year-2..year (rise_factor = ratio)",
                     interval="80%", skill=(q.watchlist_skill() or {}).get("skill"))

    def _country_param(name: str) -> str | None:
        raw = request.args.get(name)
        if raw is None or raw.strip() == "":
            return None
        code = raw.strip().upper()
        if len(code) > 32:
            raise ApiError(400, f"parameter '{name}' is too long (at most 32 characters)")
        info = q.region(code)
        if info is None or int(info["level"]) != 0:
            raise ApiError(404, f"unknown country '{raw.strip()[:32]}' for '{name}' (give an ISO3 code)")
        return code

    @bp.route("/pairs")
    @requires("read")
    @cached
    def pairs():
        _check_params({"citizenship", "detecting", "year", "limit", "offset"})
        citizenship = _country_param("citizenship")
        detecting = _country_param("detecting")
        year = _int_param("year", *YEAR_RANGE)
        limit, offset = _page()
        if citizenship is None and detecting is None:
            raise ApiError(400, "give 'citizenship', 'detecting' or both (ISO3 codes)")
        frame = q.pair_predictions(citizenship=citizenship, detecting=detecting, year=year)
        frame = frame[[c for c in PAIR_FIELDS if c in frame]]
        total = len(frame)
        return _list(frame.iloc[offset:offset + limit], q,
                     {"citizenship": citizenship, "detecting": detecting, "year": year}, total, offset,
                     unit="expected detected victims (persons) of the citizenship in the detecting country",
                     interval="80%", note="stored for listed pairs and the three years after the last UNODC label "
                     "year (horizon = years after it); other pairs: `crisisrisk model predict-dyads`")

    @bp.route("/explanations")
    @requires("read")
    @cached
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
    @requires("read")
    @cached
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
    @requires("read")
    def models():
        _check_params(set())
        frame = q.runs()
        frame = frame.astype(object).where(frame.notna(), None)
        return _list(frame, q, {})

    @bp.route("/openapi.json")
    @requires("public")
    def openapi():
        return _json(openapi_spec(request.host_url.rstrip("/") + "/api/v1"),
                     headers={"Cache-Control": "public, max-age=3600"})

    register_analyst_endpoints(bp, actx)
    from dashboard.api_phases import register as register_phases_alerts  # issue 14: /phases, /alerts ...
    register_phases_alerts(bp, actx)

    @bp.route("/", defaults={"rest": ""})
    @bp.route("/<path:rest>")
    @requires("read")
    def not_found(rest: str):
        raise ApiError(404, f"no endpoint '/api/v1/{rest}'; see /api/v1/openapi.json")

    return bp


# --- methods, OPTIONS and CORS ----------------------------------------------------------------------------------
CATCH_ALL = "api_v1.not_found"
CORS_HEADERS = "Authorization, Content-Type, X-CSRFToken"


def _cors_origins(configured) -> frozenset[str]:
    """Origins whose pages may call the API from a browser: none unless CRISISRISK_CORS_ORIGINS lists them."""
    import os

    raw = configured if configured is not None else os.environ.get("CRISISRISK_CORS_ORIGINS", "")
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
    """The methods the API really offers at ``path`` (its catch-all 404 route and Dash's page route left out)."""
    from flask import current_app
    from werkzeug.routing import Map, Rule

    api_map = current_app.extensions.get("crisisrisk_api_map")
    if api_map is None:
        rules = [Rule(r.rule, methods=r.methods, endpoint=r.endpoint) for r in current_app.url_map.iter_rules()
                 if r.endpoint.startswith("api_v1.") and r.endpoint != CATCH_ALL]
        api_map = Map(rules, converters=dict(current_app.url_map.converters))
        current_app.extensions["crisisrisk_api_map"] = api_map
    return sorted(api_map.bind("localhost").allowed_methods(path))


def _api_methods_guard():
    """before_request (after the access guard): OPTIONS and unsupported methods under /api/v1 answer from the
    API's own routes, so ``Allow`` lists what the operation offers (not GET from a catch-all) and 405 has it."""
    if not request.path.startswith("/api/v1/"):
        return None
    rule = request.url_rule
    if rule is not None and rule.endpoint != CATCH_ALL and request.method != "OPTIONS":
        return None
    allowed = api_methods(request.path)
    if not allowed:  # no such endpoint: 404 for every method (the catch-all only takes GET)
        from werkzeug.exceptions import MethodNotAllowed

        if request.method == "OPTIONS" or (rule is None and isinstance(request.routing_exception, MethodNotAllowed)):
            return error(404, f"no endpoint '{request.path[:200]}'; see /api/v1/openapi.json")
        return None
    allow = ", ".join(allowed)
    if request.method == "OPTIONS":
        response = Response(status=204, headers={"Allow": allow})
        if request.headers.get("Origin") and _allowed_origins():
            response.headers["Access-Control-Allow-Methods"] = allow
            response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
        return response
    if request.method not in allowed:
        response = error(405, f"{request.method} is not allowed here; allowed: {allow}")
        response.headers["Allow"] = allow
        return response
    return None


def _flag(name: str) -> bool:
    raw = (request.args.get(name) or request.form.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ApiError(400, f"parameter '{name}' must be true or false, got '{raw[:20]}'")


def register_analyst_endpoints(bp: Blueprint, actx) -> None:
    """Uploads, loads, retraining, promotion, rollback, jobs and the audit log (analyst or admin)."""
    from dashboard import workflows
    from etl import uploads
    from warehouse import accounts, jobs

    engine = actx.engine

    def refresh(_ok: bool = True) -> None:
        """After a promote, rollback or load: drop the cache and warm it for the new version before answering
        (issue 9 #12: a cold cache gave 50 clients a p95 of 5.3 s right after a promote)."""
        actx.queries.clear()
        actx.queries.warm()

    @bp.route("/uploads", methods=["POST"])
    @requires("analyst")
    def upload_create():
        limit = uploads.MAX_UPLOAD_BYTES
        if request.content_length is not None and request.content_length > limit + 65536:
            accounts.audit(engine, actor(), "upload", "refused", request.args.get("source"),
                           f"too_large: request of {request.content_length:,} bytes", client_address())
            raise ApiError(413, f"file too large: the request has {request.content_length:,} bytes; the limit is "
                           f"{limit:,} bytes (CRISISRISK_MAX_UPLOAD_MB)")
        unknown = sorted(set(request.args) - {"source", "confirm"})
        if unknown:
            raise ApiError(400, f"unknown parameter(s) {unknown}; allowed: ['confirm', 'source']")
        _refuse_blank()
        source = (request.form.get("source") or request.args.get("source") or "").strip()
        confirm = _flag("confirm")
        if not source:
            raise ApiError(400, "give the source: a form field or query parameter 'source', e.g. "
                           "unhcr_population (`crisisrisk etl sources` lists them)")
        files = request.files.getlist("file")
        if len(files) != 1:
            raise ApiError(400, "send exactly one file as multipart/form-data field 'file'")
        data = files[0].read(limit + 1)
        outcome = workflows.validate_upload(engine, actor(), source, files[0].filename or "", data, client_address(),
                                            then_load=confirm, on_loaded=refresh)
        report = outcome["report"]
        if outcome["status"] == "refused":  # the instant checks: size, empty, file name
            status = 413 if report["error_code"] == "too_large" else 422
            return _json({"error": {"status": status, "message": report["error"], "code": report["error_code"]},
                          "upload_id": outcome["upload_id"], "report": report}, status)
        upload_id, job = outcome["upload_id"], outcome["job"]
        return _json({"upload_id": upload_id, "status": "validating", "job": job,
                      "job_url": f"/api/v1/jobs/{job['job_id']}", "upload_url": f"/api/v1/uploads/{upload_id}",
                      "load_url": f"/api/v1/uploads/{upload_id}/load", "confirm": confirm}, 202)

    @bp.route("/uploads", methods=["GET"])
    @requires("analyst")
    def upload_list():
        _check_params({"limit"})
        rows = uploads.recent_uploads(engine, _int_param("limit", 1, 500, default=30))
        return _json({"data": [_upload_out(r) for r in rows], "meta": {"count": len(rows)}})

    @bp.route("/uploads/<int:upload_id>", methods=["GET"])
    @requires("analyst")
    def upload_get(upload_id: int):
        _check_params(set())
        item = uploads.get_upload(engine, upload_id)
        if item is None:
            raise ApiError(404, f"unknown upload {upload_id}")
        return _json(_upload_out(item))

    @bp.route("/uploads/<int:upload_id>/load", methods=["POST"])
    @requires("analyst")
    def upload_load(upload_id: int):
        _check_params(set())
        job = workflows.start_load(engine, actor(), upload_id, client_address(), refresh)
        return _json({"upload_id": upload_id, "status": "loading", "job": job}, 202)

    @bp.route("/retrain", methods=["POST"])
    @requires("analyst")
    def retrain():
        _check_params(set())
        job = workflows.start_retrain(engine, actor(), client_address())
        return _json({"job": job, "job_url": f"/api/v1/jobs/{job['job_id']}"}, 202)

    @bp.route("/jobs", methods=["GET"])
    @requires("analyst")
    def job_list():
        _check_params({"kind", "limit"})
        kind = request.args.get("kind")
        if kind not in (None, "", "retrain", "load", "validate"):
            raise ApiError(400, f"parameter 'kind' must be retrain, load or validate, got '{kind[:20]}'")
        rows = jobs.recent_jobs(engine, kind or None, _int_param("limit", 1, 500, default=20))
        return _json({"data": rows, "meta": {"count": len(rows)}})

    @bp.route("/jobs/<int:job_id>", methods=["GET"])
    @requires("analyst")
    def job_get(job_id: int):
        _check_params(set())
        item = jobs.get_job(engine, job_id)
        if item is None:
            raise ApiError(404, f"unknown job {job_id}")
        return _json(item)

    @bp.route("/jobs/<int:job_id>/cancel", methods=["POST"])
    @requires("analyst")
    def job_cancel(job_id: int):
        _check_params(set())
        return _json(workflows.cancel_job(engine, actor(), job_id, client_address()), 202)

    @bp.route("/models/<run_id>/promote", methods=["POST"])
    @requires("analyst")
    def model_promote(run_id: str):
        _check_params(set())
        out = workflows.promote(engine, actor(), run_id, client_address())
        refresh()
        return _json(out)

    @bp.route("/models/rollback", methods=["POST"])
    @requires("analyst")
    def model_rollback():
        _check_params(set())
        out = workflows.rollback(engine, actor(), client_address())
        refresh()
        return _json(out)

    @bp.route("/models/<run_id>/compare", methods=["GET"])
    @requires("read")
    def model_compare(run_id: str):
        _check_params(set())
        if len(run_id) > 64 or workflows._run(engine, run_id) is None:
            raise ApiError(404, f"unknown run '{run_id[:64]}'")
        return _json(workflows.compare(engine, run_id))

    @bp.route("/users/<name>/unlock", methods=["POST"])
    @requires("admin")
    def user_unlock(name: str):
        """Let a user locked out by failed sign-ins sign in again (issue 9 #9); audited by unlock_login."""
        _check_params(set())
        if len(name) > 80:
            raise ApiError(404, "unknown user")
        try:
            cleared = accounts.unlock_login(engine, name, actor(), client_address())
        except accounts.AccountError as exc:
            raise ApiError(404, str(exc)) from None
        return _json({"user": name, "unlocked": True, "failures_cleared": cleared})

    @bp.route("/audit", methods=["GET"])
    @requires("admin")
    def audit_log():
        _check_params({"limit"})
        rows = accounts.audit_entries(engine, _int_param("limit", 1, 5000, default=200))
        return _json({"data": rows, "meta": {"count": len(rows)}})


def _upload_out(row: dict) -> dict:
    out = {k: v for k, v in row.items() if k != "staged_path"}
    out["report"] = out.pop("report_json", None)
    return out


def openapi_spec(server: str = "/api/v1") -> dict:
    """The OpenAPI 3.0 description of the API."""

    def param(name, desc, schema, required=False):
        return {"name": name, "in": "query", "required": required, "description": desc, "schema": schema}

    level = param("level", "0 = countries, 1 = admin-1 units (also 'country', 'admin1')",
                  {"type": "string", "enum": ["0", "1", "country", "admin1"]})
    year = param("year", "Predicted year", {"type": "integer", "minimum": YEAR_RANGE[0], "maximum": YEAR_RANGE[1]})
    region = param("region", "Region id: ISO3 for a country, Natural Earth adm1_code for an admin-1 unit",
                   {"type": "string", "minLength": 1, "maxLength": 32, "pattern": "\\S"})
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
        "basis": {"type": "string", "nullable": True, "enum": ["checked", "nowcast", "projection", None],
                  "description": "checked (labelled year), nowcast (newest label 1-2 years old), projection"},
        "horizon": {"type": "integer", "nullable": True}, "label_year": {"type": "integer", "nullable": True},
        "conflict_year": {"type": "integer", "nullable": True},
        "displacement_year": {"type": "integer", "nullable": True},
        "small_population": {"type": "boolean", "nullable": True},
    }
    analyst = [{"bearerAuth": []}, {"cookieAuth": [], "csrfHeader": []}]
    reader = [{}, {"bearerAuth": []}, {"cookieAuth": []}]
    json_obj = {"application/json": {"schema": {"type": "object"}}}
    auth_errors = {"401": {**err, "description": "No or invalid credentials"},
                   "403": {**err, "description": "Role too low, or CSRF token missing (session auth)"}}

    def action(summary: str, ok: str, ok_desc: str, extra: dict | None = None, **more) -> dict:
        return {"summary": summary, "security": analyst, **more,
                "responses": {ok: {"description": ok_desc, "content": json_obj}, **auth_errors, **(extra or {})}}

    run_id = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
    upload_id = {"name": "upload_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    analyst_paths = {
        "/uploads": {
            "post": action(
                "Upload a new file for a registered source: the dry run (checks, parse, mapping) runs as a "
                "background job; loaded only when confirmed",
                "202", "Accepted: the dry-run job (kind 'validate'). Poll job_url or upload_url; when the job "
                "ends the upload is 'validated' (its report says what a load would do; nothing written yet) or "
                "'refused' (the report says why: type, zip bomb, macros, formulas, columns)",
                {"400": err, "413": {**err, "description": "File larger than the limit"},
                 "422": {**err, "description": "Refused at once: empty file or a file name the source does not "
                                               "accept"}},
                parameters=[param("confirm", "Load as soon as the dry run passes (the dry-run job's result "
                                  "then names load_job_id)", {"type": "boolean"}),
                            param("source", "Source name (or form field), e.g. unhcr_population",
                                  {"type": "string"})],
                requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"], "properties": {
                        "file": {"type": "string", "format": "binary"}, "source": {"type": "string"}}}}}}),
            "get": action("Recent uploads with their reports", "200", "Uploads")},
        "/uploads/{upload_id}": {"get": action("One upload and its report", "200", "Upload", {"404": err},
                                               parameters=[upload_id])},
        "/uploads/{upload_id}/load": {"post": action(
            "Load a validated upload (background job)", "202", "Loading: a job", {"404": err, "409": err},
            parameters=[upload_id])},
        "/retrain": {"post": action("Train a candidate run (background job; one at a time)", "202", "Started: a job",
                                    {"409": {**err, "description": "A retrain job is already running"}})},
        "/jobs": {"get": action("Recent jobs (retrain, load, validate = an upload's dry run)", "200", "Jobs",
                                parameters=[param("kind", "retrain, load or validate",
                                                  {"type": "string", "enum": ["retrain", "load", "validate"]})])},
        "/jobs/{job_id}": {"get": action("A job's status (running, succeeded, failed, cancelled), progress and log; "
                                         "a dry run's result holds the upload report", "200", "Job", {"404": err},
                                         parameters=[job_id])},
        "/jobs/{job_id}/cancel": {"post": action(
            "Cancel a running job: it stops at its next progress point and changes nothing (audited)", "202",
            "Cancel requested: the job record (status 'cancelled' once it stopped, or 'failed' if its server "
            "had stopped)", {"404": err, "409": {**err, "description": "The job is not running"}},
            parameters=[job_id])},
        "/models/{run_id}/promote": {"post": action("Deploy a run (atomic; the deployed one is archived)", "200",
                                                    "Deployed", {"404": err, "409": err}, parameters=[run_id])},
        "/models/rollback": {"post": action("Re-deploy the previously deployed run (atomic)", "200", "Rolled back",
                                            {"409": err})},
        "/models/{run_id}/compare": {"get": {
            "summary": "A run against the deployed run: metrics, baselines, largest rank changes",
            "security": reader, "parameters": [run_id],
            "responses": {"200": {"description": "Comparison", "content": json_obj}, "404": err}}},
        "/users/{name}/unlock": {"post": {
            "summary": "Unlock a user locked out by failed sign-ins (admin; audited)",
            "security": [{"bearerAuth": []}, {"cookieAuth": [], "csrfHeader": []}],
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string",
                                                                                       "maxLength": 80}}],
            "responses": {"200": {"description": "Unlocked", "content": json_obj}, **auth_errors,
                          "400": err, "404": {**err, "description": "Unknown user"}}}},
        "/audit": {"get": {"summary": "The audit log (admin)", "security": [{"bearerAuth": []}, {"cookieAuth": []}],
                           "responses": {"200": {"description": "Entries", "content": json_obj}, **auth_errors}}},
    }
    spec = {
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
            "/predictions": {"get": {
                "summary": "Predictions of the deployed model: target=detected (default; detected victims per 100k, "
                           "where victims are found) or target=rise (the crisis watch list, countries only)",
                "parameters": [level, year, region, limit, offset, param(
                    "target", "detected (default) or rise", {"type": "string", "enum": list(TARGETS)})],
                "responses": {**listing("#/components/schemas/Prediction", "Predictions"), "200": {
                    "description": "Predictions (Prediction items for target=detected, Rise items for target=rise)",
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["data", "meta"],
                        "properties": {"data": {"type": "array", "items": {"anyOf": [
                            {"$ref": "#/components/schemas/Prediction"}, {"$ref": "#/components/schemas/Rise"}]}},
                            "meta": {"$ref": "#/components/schemas/Meta"}}}}}}}}},
            "/pairs": {"get": {
                "summary": "Pair model: expected detected victims of a citizenship in a detecting country",
                "parameters": [
                    param("citizenship", "ISO3 of the victims' citizenship", {"type": "string", "minLength": 1,
                                                                              "maxLength": 32, "pattern": "\\S"}),
                    param("detecting", "ISO3 of the detecting country", {"type": "string", "minLength": 1,
                                                                         "maxLength": 32, "pattern": "\\S"}),
                    year, limit, offset],
                "responses": listing("#/components/schemas/Pair", "Pair predictions")}},
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
            "Rise": {"type": "object", "properties": {
                "iso3": {"type": "string"}, "name": {"type": "string"},
                "year": {"type": "integer", "description": "Score year: inputs dated <= year; looks at year+1..year+3"},
                "rise_factor": {"type": "number", "description": "Expected ratio, target window / baseline window"},
                "lower": {"type": "number", "description": "80% interval of rise_factor, lower"},
                "upper": {"type": "number", "description": "80% interval of rise_factor, upper"},
                "rank": {"type": "integer", "description": "1 = strongest expected rise in the year"},
                "percentile": {"type": "number"}, "score": {"type": "number"},
                "top_driver": {"type": "string", "nullable": True},
                "people_exposed": {"type": "string", "description": "Absolute numbers with their years"},
                "basis": {"type": "string", "description": "Inputs and their years"},
                "method": {"type": "string"}, "run_id": {"type": "string"},
                "displaced_abroad": num, "displaced_abroad_year": {"type": "integer", "nullable": True},
                "idps": num, "idps_year": {"type": "integer", "nullable": True}, "hosted": num,
                "hosted_year": {"type": "integer", "nullable": True},
                "small_population": {"type": "boolean", "nullable": True}}},
            "Pair": {"type": "object", "properties": {
                "detecting_iso3": {"type": "string"}, "detecting_name": {"type": "string"},
                "citizenship_iso3": {"type": "string"}, "citizenship_name": {"type": "string"},
                "year": {"type": "integer"}, "expected_victims": {"type": "number", "minimum": 0},
                "lower": {"type": "number", "minimum": 0}, "upper": {"type": "number", "minimum": 0},
                "horizon": {"type": "integer", "minimum": 1}, "last_listed_year": {"type": "integer", "nullable": True},
                "last_listed_victims": num, "run_id": {"type": "string"}}},
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
        }, "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "API token from `crisisrisk tokens create NAME --user USER`"},
            "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "crisisrisk_session",
                           "description": "Session cookie from the /login form"},
            "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                           "description": "With session auth, state-changing requests also need this header: "
                                          "the value of the _csrf_token cookie"},
        }},
    }
    from dashboard.api_phases import openapi_paths as phases_alerts_paths  # issue 14
    spec["paths"].update(phases_alerts_paths())
    for path, ops in spec["paths"].items():
        for op in ops.values():
            op.setdefault("security", [] if path in ("/health",) else reader)
    spec["paths"].update(analyst_paths)
    for ops in spec["paths"].values():
        for op in ops.values():
            if op["security"]:  # 401 without credentials (unless public read), 403 for a role too low
                op["responses"] = {**auth_errors, **op["responses"]}
            op["responses"].setdefault("400", err)  # unknown, repeated or empty parameters
            for parameter in op.get("parameters", []):
                schema = parameter["schema"]
                if parameter["in"] == "query" and schema.get("type") == "string" and "enum" not in schema:
                    schema.setdefault("minLength", 1)  # empty values answer 400 (_refuse_blank)
                    schema.setdefault("pattern", "\\S")
    return spec

