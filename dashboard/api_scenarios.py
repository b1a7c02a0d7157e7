"""JSON API of issue 15: what-if scenarios (``POST /api/v1/scenarios``), the levers, and saved scenarios.

Declared with ``dashboard.api_core``. Computing a scenario stores nothing and is readable wherever reading is
(public read included); saving one needs a viewer login and is audited. The engine is models/scenarios.py; its
inputs are loaded once per run (models/scenarios_store.py). Every answer carries the honesty sentence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from flask import request

from dashboard import auth
from dashboard.api_core import (
    ApiError,
    BadRequest,
    Conflict,
    Int,
    JsonBody,
    NotFound,
    Operations,
    PathInt,
    Text,
    TooLarge,
    listing,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
RATE_PER_MINUTE = 120  # scenario computations per client address and minute
_calls: dict[str, deque] = {}
_calls_lock = threading.Lock()

LEVER_VALUE = {
    "oneOf": [{"type": "number"}, {"type": "string", "enum": ["median"]}],
    "description": (
        'A factor (kind factor) or a level; "median": the year\'s median across regions '
        "(level levers; in a portfolio only regions below it move)"
    ),
}
LEVERS_FIELD = {
    "type": "object",
    "additionalProperties": LEVER_VALUE,
    "maxProperties": 20,
    "description": "Lever name -> value (GET /scenarios/levers); {} = the stored estimate",
}
SCENARIO_BODY = JsonBody(
    {
        "type": "object",
        "required": ["year", "levers"],
        "additionalProperties": False,
        "properties": {
            "region": {"type": "string", "minLength": 1, "maxLength": 32, "description": "ISO3 of a country"},
            "regions": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 32},
                "description": "Portfolio: several countries, one lever (at most 30)",
            },
            "largest_detection_gap": {
                "type": "integer",
                "minimum": 1,
                "maximum": 30,
                "description": (
                    "Portfolio: the n countries whose watch-list percentile most "
                    "exceeds their detected-victims risk score"
                ),
            },
            "year": {"type": "integer", "minimum": 1950, "maximum": 2100},
            "levers": LEVERS_FIELD,
        },
    },
    "One region (region) or a portfolio (regions or largest_detection_gap, one lever)",
)
SAVE_BODY = JsonBody(
    {
        "type": "object",
        "required": ["name", "region", "year", "levers"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "region": {"type": "string", "minLength": 1, "maxLength": 32},
            "year": {"type": "integer", "minimum": 1950, "maximum": 2100},
            "levers": LEVERS_FIELD,
        },
    },
    "A named scenario (its definition; the result is recomputed when opened)",
)

LEVER = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "label": {"type": "string"},
        "unit": {"type": "string"},
        "kind": {"type": "string", "enum": ["factor", "level"]},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "default": {
            "type": "number",
            "nullable": True,
            "description": "factor 1; null for levels = the region's current value",
        },
        "step": {"type": "number"},
        "description": {"type": "string"},
        "current": {"type": "number", "nullable": True, "description": "With ?region=: its current value"},
        "detected_features": {"type": "array", "items": {"type": "string"}},
        "rise_features": {"type": "array", "items": {"type": "string"}},
    },
}
RESULT = {
    "type": "object",
    "properties": {
        "target": {"type": "string", "enum": ["rise", "detected"]},
        "unit": {"type": "string"},
        "region": {"type": "string"},
        "year": {"type": "integer"},
        "baseline": {"type": "number", "nullable": True},
        "scenario": {"type": "number", "nullable": True},
        "lower": {"type": "number", "nullable": True},
        "upper": {"type": "number", "nullable": True},
        "difference": {"type": "number", "nullable": True},
        "beyond_support": {
            "type": "boolean",
            "description": (
                "A lever pushed an input beyond what the model saw for "
                "similar countries (interval widened, or withheld)"
            ),
        },
        "withheld": {"type": "boolean"},
        "contributions": {
            "type": "object",
            "additionalProperties": {"type": "number"},
            "description": "Change per lever (and interactions), in contribution_space",
        },
    },
}
SAVED = {
    "type": "object",
    "properties": {
        "scenario_id": {"type": "integer"},
        "name": {"type": "string"},
        "region_id": {"type": "string"},
        "year": {"type": "integer"},
        "levers": {"type": "object"},
        "created_by": {"type": "string"},
        "created_at": {"type": "string"},
        "run_id": {"type": "string", "nullable": True},
    },
}
ops = Operations({"Lever": LEVER, "ScenarioResult": RESULT, "SavedScenario": SAVED})


def scenario_model(actx):
    """The engine's inputs for the deployed run (loaded once per run and process)."""
    from models.registry import RegistryError

    try:
        return actx.queries.scenario_model()
    except RegistryError as exc:
        raise Conflict(
            f"scenarios need a deployed model run with its artefacts: {exc}", code="no_model"
        ) from None


def _size_limit(_actx) -> None:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise TooLarge(f"request body of {length:,} bytes; a scenario takes at most {MAX_BODY_BYTES:,}")


def _rate_limit(_actx) -> None:
    """At most RATE_PER_MINUTE computations per client address and minute (a scenario costs ~0.1-0.5 s)."""
    _size_limit(_actx)
    now, client = time.monotonic(), auth.client_address()
    with _calls_lock:
        recent = _calls.setdefault(client, deque())
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= RATE_PER_MINUTE:
            raise ApiError(
                429,
                f"more than {RATE_PER_MINUTE} scenarios a minute from this address; wait a minute",
                code="rate_limited",
            )
        recent.append(now)


def _engine_error(exc: Exception) -> ApiError:
    from models.scenarios import ScenarioNotFound

    return NotFound(str(exc)) if isinstance(exc, ScenarioNotFound) else BadRequest(str(exc))


def _resolve(model, levers: dict[str, Any], year: int) -> dict[str, float]:
    """Lever values with "median" replaced by the year's median (level levers only)."""
    from models import scenarios as sc

    out = {}
    for name, value in levers.items():
        if value == "median":
            if name not in sc.LEVER_BY_NAME:
                raise BadRequest(f"unknown lever '{name}'; known levers: {', '.join(sc.LEVER_BY_NAME)}")
            out[name] = sc.lever_median(model, name, year)
        else:
            out[name] = value
    return out


def _clean(value: Any) -> Any:
    from models.jsonsafe import json_safe

    return json_safe(value)


@ops.get(
    "/scenarios/levers",
    role="read",
    summary="The levers a what-if scenario can move (name, unit, range)",
    params=(
        Text("region", "ISO3: add each lever's current value for this country", max_length=32),
        Int("year", "Year of the current values (default: the newest both models score)", lo=1950, hi=2100),
    ),
    ok_description="Levers",
    ok_schema=listing("Lever"),
    errors={404: "Unknown region", 409: "No deployed model run (code no_model)"},
)
def scenario_levers(actx, a: dict) -> dict[str, Any]:
    from models import scenarios as sc

    data = sc.lever_table()
    meta: dict[str, Any] = {
        "count": len(data),
        "honesty": sc.HONESTY,
        "note": (
            "kind factor: the value multiplies the latest input; kind level: it sets it. "
            "See docs/SCENARIOS.md."
        ),
    }
    if a["region"]:
        model = scenario_model(actx)
        year = a["year"] or model.years()[-1]
        try:
            current = sc.current_levels(model, a["region"].upper(), year)
        except sc.ScenarioError as exc:
            raise _engine_error(exc) from None
        for lever in data:
            lever["current"] = current.get(lever["name"])
        meta.update(region=a["region"].upper(), year=year, run_id=model.detected.run_id)
    return _clean({"data": data, "meta": meta})


@ops.post(
    "/scenarios",
    role="read",
    precheck=_rate_limit,
    body=SCENARIO_BODY,
    summary=(
        "Compute a what-if scenario for one country (both targets) or a portfolio of countries; stores "
        "nothing"
    ),
    ok_description=(
        "Baseline, scenario, interval, difference and contributions per target; the model's "
        "learned association, not a causal effect (meta.honesty)"
    ),
    ok_schema=listing("ScenarioResult"),
    errors={
        404: "Unknown region or no model inputs for it that year",
        413: "Body too large",
        409: "No deployed model run (code no_model)",
        429: "Too many scenarios from this address",
    },
)
def scenarios_run(actx, a: dict) -> dict[str, Any]:
    from models import scenarios as sc

    body = a["body"]
    portfolio = "regions" in body or "largest_detection_gap" in body
    if portfolio == ("region" in body) or ("regions" in body and "largest_detection_gap" in body):
        raise BadRequest(
            "give exactly one of 'region' (one country), 'regions' or 'largest_detection_gap' (a portfolio)"
        )
    if "regions" in body and len(body["regions"]) > sc.MAX_REGIONS:
        raise BadRequest(
            f"too many regions: {len(body['regions'])}; a portfolio changes at most {sc.MAX_REGIONS}"
        )
    model = scenario_model(actx)
    year = int(body["year"])
    try:
        if not portfolio:
            levers = _resolve(model, body["levers"], year)
            return _clean(sc.run_scenario(model, sc.Scenario(body["region"].upper(), year, levers)))
        if len(body["levers"]) != 1:
            raise BadRequest(f"a portfolio moves exactly one lever, got {len(body['levers'])}")
        ((lever, value),) = body["levers"].items()
        if lever not in sc.LEVER_BY_NAME:
            raise BadRequest(f"unknown lever '{lever}'; known levers: {', '.join(sc.LEVER_BY_NAME)}")
        regions = (
            [r.upper() for r in body["regions"]]
            if "regions" in body
            else sc.detection_gap(model, year, int(body["largest_detection_gap"]))
        )
        return _clean(sc.portfolio(model, regions, year, lever, value))
    except sc.ScenarioError as exc:
        raise _engine_error(exc) from None


@ops.post(
    "/scenarios/saved",
    role="viewer",
    precheck=_size_limit,
    body=SAVE_BODY,
    ok=201,
    summary="Save a named scenario (its definition; audited)",
    ok_description="The saved scenario",
    ok_schema={"type": "object", "properties": {"data": {"$ref": "#/components/schemas/SavedScenario"}}},
    errors={
        404: "Unknown region",
        409: "You already saved a scenario with this name, or no deployed model run",
    },
)
def scenario_save(actx, a: dict) -> dict[str, Any]:
    from models import scenarios as sc
    from models import scenarios_store as store

    body = a["body"]
    model = scenario_model(actx)
    region, year = body["region"].upper(), int(body["year"])
    try:
        levers = sc.validate_levers(_resolve(model, body["levers"], year))
        sc.run_scenario(model, sc.Scenario(region, year, levers))  # refuse what cannot be computed
        saved = store.save_scenario(
            actx.engine, body["name"].strip(), region, year, levers, auth.actor(), model.detected.run_id
        )
    except sc.ScenarioError as exc:
        auth.audit_here("scenario save", "refused", body["name"][:120], str(exc)[:300])
        raise _engine_error(exc) from None
    except store.SavedScenarioExists as exc:
        auth.audit_here("scenario save", "refused", body["name"][:120], str(exc))
        raise Conflict(str(exc)) from None
    auth.audit_here("scenario save", "ok", saved["name"], f"{region} {year} {levers}")
    return _clean({"data": saved})


@ops.get(
    "/scenarios/saved",
    role="viewer",
    summary="Your saved scenarios, newest first",
    ok_description="Saved scenarios",
    ok_schema=listing("SavedScenario"),
)
def scenario_saved_list(actx, a: dict) -> dict[str, Any]:
    from models import scenarios_store as store

    rows = store.saved_scenarios(actx.engine, created_by=auth.actor())
    return _clean({"data": rows, "meta": {"count": len(rows)}})


@ops.get(
    "/scenarios/saved/{scenario_id}",
    role="read",
    params=(PathInt("scenario_id", "Saved scenario id"),),
    summary="One saved scenario (to share it: its definition; POST /scenarios recomputes it)",
    ok_description="The saved scenario",
    ok_schema={"type": "object", "properties": {"data": {"$ref": "#/components/schemas/SavedScenario"}}},
    errors={404: "No saved scenario with this id"},
)
def scenario_saved_one(actx, a: dict) -> dict[str, Any]:
    from models import scenarios_store as store

    rows = store.saved_scenarios(actx.engine, scenario_id=a["scenario_id"])
    if not rows:
        raise NotFound(f"no saved scenario {a['scenario_id']}")
    return _clean({"data": rows[0]})
