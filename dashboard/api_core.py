"""Declared API operations: one declaration per operation gives its Flask route, its role, its parameter
checks, its OpenAPI entry and its typed errors, so the document cannot drift from what is served (issue 12).

An operation is a function decorated with ``ops.get(...)`` / ``ops.post(...)`` of an :class:`Operations`
group. Its parameters are :class:`Param` objects (``Int``, ``Choice``, ``Text``, ``Flag``, ``PathInt``,
``PathText``): each one parses and checks the raw value with the API's error messages *and* writes its
OpenAPI schema. The view receives the app context and the parsed arguments and returns a JSON-able payload
(or a ``Response``).
Errors are :class:`ApiError` (and its subclasses), answered as ``{"error": {"status", "message"[, "code"]}}``.
The document is assembled with apispec from the same declarations (``openapi_document``).

See docs/ARCHITECTURE.md for how to add an operation.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd
from apispec import APISpec
from flask import Blueprint, Response, request

from dashboard.auth import requires

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
ERROR_REF = {"$ref": "#/components/schemas/Error"}
READER_SECURITY = [{}, {"bearerAuth": []}, {"cookieAuth": []}]  # {} = anonymous when CRISISRISK_PUBLIC_READ
SIGNED_IN_SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]
WRITE_SECURITY = [{"bearerAuth": []}, {"cookieAuth": [], "csrfHeader": []}]  # sessions also send CSRF


# --- one typed error family (the API's and the workflows') --------------------------------------------------
class ApiError(Exception):
    """A refused request: ``status`` is the HTTP status, ``message`` says why, ``code`` (optional) names the
    reason for programs, ``extra`` goes into the answer beside ``error``."""

    def __init__(self, status: int, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        return {"error": error, **self.extra}


class _FixedStatus(ApiError):
    status_code: ClassVar[int] = 500

    def __init__(self, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(self.status_code, message, code, **extra)


class BadRequest(_FixedStatus):
    status_code = 400


class Forbidden(_FixedStatus):
    status_code = 403


class NotFound(_FixedStatus):
    status_code = 404


class Conflict(_FixedStatus):
    status_code = 409


class TooLarge(_FixedStatus):
    status_code = 413


class Unprocessable(_FixedStatus):
    status_code = 422


# --- JSON answers -------------------------------------------------------------------------------------------
def _default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    """Compact UTF-8 JSON; NaN is refused (it is not JSON), dates are ISO strings."""
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False, default=_default, separators=(",", ":"))
    return Response(body, status=status, mimetype="application/json", headers=headers)


def error_response(status: int, message: str) -> Response:
    return json_response(ApiError(status, message).body(), status)


def records(frame: pd.DataFrame) -> list[dict]:
    """A frame as JSON records (pandas writes NaN as null)."""
    if frame.empty:
        return []
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def listing(item: str | Mapping[str, Any]) -> dict[str, Any]:
    """The schema of a list answer ``{"data": [item, ...], "meta": Meta}``; ``item`` is a component name or a
    schema."""
    items = {"$ref": f"#/components/schemas/{item}"} if isinstance(item, str) else dict(item)
    return {
        "type": "object",
        "required": ["data", "meta"],
        "properties": {
            "data": {"type": "array", "items": items},
            "meta": {"$ref": "#/components/schemas/Meta"},
        },
    }


# --- parameters ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """A query parameter: ``parse`` turns the raw text into a value (or raises ``BadRequest``) and ``openapi``
    describes it; both come from the same fields. ``resolve`` (optional) looks the value up with the app
    context, e.g. a region id to its row (``NotFound`` for an unknown one)."""

    name: str
    description: str = ""
    required: bool = False
    default: Any = None
    missing: str | None = None  # the message when a required parameter is absent
    sources: tuple[str, ...] = ("args",)  # where the raw value is read: query string ('args') and/or 'form'
    resolve: Callable[[Any, Any], Any] | None = None
    location: ClassVar[str] = "query"
    converter: ClassVar[str] = ""  # a path parameter's Flask converter prefix ('int:')

    def raw(self) -> str | None:
        for source in self.sources:
            value = (request.args if source == "args" else request.form).get(self.name)
            if value is not None and value.strip() != "":
                return value
        return None

    def parse(self, ctx: Any) -> Any:
        raw = self.raw()
        if raw is None:
            if self.required:
                raise BadRequest(self.missing or f"parameter '{self.name}' is required")
            return self.default
        value = self.convert(raw)
        return self.resolve(ctx, value) if self.resolve is not None else value

    def convert(self, raw: str) -> Any:
        return raw

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def openapi(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "in": self.location,
            "required": self.required or self.location == "path",
            "schema": self.schema(),
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class Int(Param):
    """An integer within ``lo``..``hi``."""

    lo: int | None = None
    hi: int | None = None

    def convert(self, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise BadRequest(f"parameter '{self.name}' must be an integer, got '{raw[:40]}'") from None
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise BadRequest(f"parameter '{self.name}' must be between {self.lo} and {self.hi}, got {value}")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer"}
        if self.lo is not None:
            out["minimum"] = self.lo
        if self.hi is not None:
            out["maximum"] = self.hi
        if self.default is not None:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class Choice(Param):
    """One of ``choices`` (documented as the enum). ``aliases`` map further accepted spellings to a value;
    ``fold`` compares stripped and lower-cased; ``expected`` words the error (default: the list)."""

    choices: tuple[str, ...] = ()
    aliases: Mapping[str, Any] = field(default_factory=dict)
    fold: bool = False
    expected: str | None = None

    def convert(self, raw: str) -> Any:
        key = raw.strip().lower() if self.fold else raw
        if key in self.aliases:
            return self.aliases[key]
        if key in self.choices:
            return key
        expected = self.expected or f"one of {list(self.choices)}"
        raise BadRequest(f"parameter '{self.name}' must be {expected}, got '{raw[:40]}'")

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(frozen=True)
class Text(Param):
    """Non-blank text (stripped) of at most ``max_length`` characters; ``exact_length`` and ``alpha``
    narrow it (an ISO3 code is ``exact_length=3, alpha=True``)."""

    max_length: int | None = None
    exact_length: int | None = None
    alpha: bool = False
    hint: str = ""  # what a valid value looks like, for the error message

    def convert(self, raw: str) -> str:
        value = raw.strip()
        if any(ord(c) < 32 or ord(c) == 127 for c in value):  # NUL etc.: PostgreSQL text refuses NUL
            raise BadRequest(f"parameter '{self.name}' must not contain control characters")
        wrong_length = self.exact_length is not None and len(value) != self.exact_length
        if wrong_length or (self.exact_length is not None and self.alpha and not value.isalpha()):
            expected = self.hint or f"{self.exact_length} letters"
            raise BadRequest(f"parameter '{self.name}' must be {expected}, got '{raw[:40]}'")
        if self.max_length is not None and len(value) > self.max_length:
            raise BadRequest(f"parameter '{self.name}' is too long (at most {self.max_length} characters)")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "minLength": self.exact_length or 1}
        if self.exact_length is not None or self.max_length is not None:
            out["maxLength"] = self.exact_length or self.max_length
        out["pattern"] = "\\S"  # blank values answer 400
        return out


@dataclass(frozen=True)
class Flag(Param):
    """true/false (also 1/0, yes/no, on/off); absent is ``default`` (False)."""

    default: Any = False

    def convert(self, raw: str) -> bool:
        value = raw.strip().lower()
        if value in ("0", "false", "no", "off"):
            return False
        if value in ("1", "true", "yes", "on"):
            return True
        raise BadRequest(f"parameter '{self.name}' must be true or false, got '{value[:20]}'")

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class PathInt(Param):
    """An integer path segment (Flask's ``int`` converter: anything else is a 404 from routing)."""

    location: ClassVar[str] = "path"
    converter: ClassVar[str] = "int:"

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}  # routing answers 404 outside


@dataclass(frozen=True)
class PathText(Param):
    """A text path segment; the view checks it (an over-long id is an unknown one: 404)."""

    max_length: int = 64
    location: ClassVar[str] = "path"

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": self.max_length}


@dataclass(frozen=True, eq=False)  # compared by identity: one checker per declaration (_validator's cache)
class JsonBody:
    """A JSON object request body: ``schema`` (OpenAPI 3.0) is both documented and checked (jsonschema), so
    the view receives ``a["body"]``, a dict that conforms; a body that does not answers 400 naming the
    field."""

    schema: Mapping[str, Any]
    description: str = ""

    def openapi(self) -> dict[str, Any]:
        content = {"application/json": {"schema": dict(self.schema)}}
        out: dict[str, Any] = {"required": True, "content": content}
        if self.description:
            out["description"] = self.description
        return out

    def parse(self) -> dict[str, Any]:
        import jsonschema

        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest("send a JSON object as the request body (Content-Type: application/json)")
        error = jsonschema.exceptions.best_match(_validator(self).iter_errors(data))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(the object)"
            raise BadRequest(f"body field {where}: {error.message[:300]}")
        return data


@functools.cache
def _validator(body: JsonBody) -> Any:
    import jsonschema

    return jsonschema.Draft4Validator(_nullable_as_null(body.schema))


def _nullable_as_null(schema: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` as JSON Schema (``type: [t, "null"]``), recursively."""
    if isinstance(schema, Mapping):
        out = {k: _nullable_as_null(v) for k, v in schema.items() if k != "nullable"}
        if schema.get("nullable") and "type" in schema:
            out["type"] = [schema["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        return out
    if isinstance(schema, list):
        return [_nullable_as_null(v) for v in schema]
    return schema


# --- operations ---------------------------------------------------------------------------------------------
def _check_query(allowed: set[str], refuse_repeats: bool = True) -> None:
    """Unknown, repeated or blank query parameters are a 400 (a typo must not silently widen a query)."""
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadRequest(f"unknown parameter(s) {unknown}; allowed: {sorted(allowed)}")
    if refuse_repeats:
        for key in request.args:
            if len(request.args.getlist(key)) > 1:
                raise BadRequest(f"parameter '{key}' given more than once")
    for key, value in request.args.items(multi=True):
        if value.strip() == "":
            raise BadRequest(f"parameter '{key}' is empty; leave it out or give a value")


@dataclass(frozen=True)
class Operation:
    """One API operation, declared once: what is served and what is documented both come from here."""

    method: str
    path: str  # OpenAPI form, e.g. /jobs/{job_id}
    view: Callable[..., Any]
    role: str  # dashboard.auth role: public, read, viewer, analyst, admin
    summary: str
    params: tuple[Param, ...] = ()
    ok: int = 200
    ok_description: str = "OK"
    ok_schema: Mapping[str, Any] | None = None  # default: a JSON object
    media_type: str = "application/json"
    errors: Mapping[int, str] = field(default_factory=dict)  # status -> description (400, 401, 403 are added)
    body: Mapping[str, Any] | JsonBody | None = None  # JsonBody: documented and checked; a dict: documented
    cached: bool = False  # memoise the answer per warehouse version (read endpoints over large frames)
    refuse_repeats: bool = True
    precheck: Callable[[Any], None] | None = None  # runs before the parameters (e.g. the upload size limit)

    @property
    def endpoint(self) -> str:
        return self.view.__name__

    def flask_rule(self) -> str:
        rule = self.path
        for p in self.params:
            if p.location == "path":
                rule = rule.replace("{" + p.name + "}", f"<{p.converter}{p.name}>")
        return rule

    def parse(self, ctx: Any, path_args: Mapping[str, Any]) -> dict[str, Any]:
        """The checked arguments, in declaration order (the first bad one answers)."""
        query = [p for p in self.params if p.location == "query" and "args" in p.sources]
        _check_query({p.name for p in query}, self.refuse_repeats)
        args: dict[str, Any] = dict(path_args)
        for p in self.params:
            if p.location == "query":
                args[p.name] = p.parse(ctx)
        if isinstance(self.body, JsonBody):
            args["body"] = self.body.parse()
        return args

    def openapi(self) -> dict[str, Any]:
        error = {"content": {"application/json": {"schema": ERROR_REF}}}
        responses: dict[str, Any] = {}
        if self.role != "public":  # 401 without credentials (unless public read), 403 for a role too low
            responses["401"] = {**error, "description": "No or invalid credentials"}
            responses["403"] = {**error, "description": "Role too low, or CSRF token missing (session auth)"}
        ok_schema = dict(self.ok_schema or {"type": "object"})
        responses[str(self.ok)] = {
            "description": self.ok_description,
            "content": {self.media_type: {"schema": ok_schema}},
        }
        responses["400"] = {**error, "description": "Bad parameter: unknown, repeated, empty or out of range"}
        for status, description in self.errors.items():
            responses[str(status)] = {**error, "description": description}
        out: dict[str, Any] = {
            "summary": self.summary,
            "operationId": self.endpoint,
            "security": self.security(),
            "responses": responses,
        }
        documented = [p.openapi() for p in self.params if "args" in p.sources or p.location == "path"]
        if documented:
            out["parameters"] = documented
        if self.body is not None:
            out["requestBody"] = self.body.openapi() if isinstance(self.body, JsonBody) else dict(self.body)
        return out

    def security(self) -> list[dict[str, list]]:
        """Who may call: GET reads also anonymously under public read; every POST from a session needs the
        CSRF header (dashboard.auth.csrf_required), whatever its role."""
        if self.role == "public":
            return []
        if self.method != "GET":
            return WRITE_SECURITY
        return READER_SECURITY if self.role == "read" else SIGNED_IN_SECURITY


class Operations:
    """A group of declared operations (one per API module) and the component schemas they refer to."""

    def __init__(self, schemas: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.items: list[Operation] = []
        self.schemas = dict(schemas or {})

    def _declare(self, method: str, path: str, **spec: Any) -> Callable:
        def add(view: Callable) -> Callable:
            self.items.append(Operation(method=method, path=path, view=view, **spec))
            return view

        return add

    def get(self, path: str, **spec: Any) -> Callable:
        """Declare a GET operation: ``@ops.get("/things", role="read", summary=..., params=(...))``."""
        return self._declare("GET", path, **spec)

    def post(self, path: str, **spec: Any) -> Callable:
        """Declare a POST operation (state-changing: sessions need the CSRF header)."""
        return self._declare("POST", path, **spec)


def register(bp: Blueprint, actx: Any, groups: Iterable[Operations]) -> None:
    """Add every declared operation of ``groups`` to the blueprint, with its role and its parameter checks."""
    for group in groups:
        for op in group.items:
            view = requires(op.role)(_view(op, actx))
            bp.add_url_rule(op.flask_rule(), endpoint=op.endpoint, view_func=view, methods=[op.method])


def _answer(op: Operation, result: Any) -> Response:
    return result if isinstance(result, Response) else json_response(result, op.ok)


def _view(op: Operation, actx: Any) -> Callable[..., Response]:
    def view(**path_args: Any) -> Response:
        if op.precheck is not None:
            op.precheck(actx)
        args = op.parse(actx, path_args)
        if not op.cached:
            return _answer(op, op.view(actx, args))

        def render() -> tuple[bytes, int]:
            response = _answer(op, op.view(actx, args))
            return response.get_data(), response.status_code

        # Serialising the 4,800 regions takes ~70 ms; the load test (benchmarks/load.py) needs answers in ms.
        key = (request.path, tuple(sorted(request.args.items(multi=True))))
        body, status = actx.queries.cached("api_response", key, render)
        return Response(body, status=status, mimetype="application/json")

    view.__name__ = op.endpoint
    return functools.wraps(op.view)(view)


# --- the document -------------------------------------------------------------------------------------------
def openapi_document(
    groups: Iterable[Operations],
    server: str,
    info: Mapping[str, Any],
    security_schemes: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the declared operations (apispec assembles and checks its structure)."""
    spec = APISpec(
        title=info["title"],
        version=info["version"],
        openapi_version="3.0.3",
        info={"description": info["description"]},
        servers=[{"url": server}],
    )
    for name, scheme in security_schemes.items():
        spec.components.security_scheme(name, dict(scheme))
    seen: dict[tuple[str, str], Operation] = {}
    for group in groups:
        for name, schema in group.schemas.items():
            spec.components.schema(name, dict(schema))
        for op in group.items:
            if (op.method, op.path) in seen:
                raise ValueError(f"{op.method} {op.path} is declared twice")
            seen[(op.method, op.path)] = op
            spec.path(path=op.path, operations={op.method.lower(): op.openapi()})
    return spec.to_dict()
