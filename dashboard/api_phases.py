"""JSON API of issue 14: crisis-phase curves (``GET /api/v1/phases``); the alerts are in
dashboard/api_alerts.py.

Declared with ``dashboard.api_core`` (route, parameters and OpenAPI entry from one declaration).
"""

from __future__ import annotations

import logging
from typing import Any

from dashboard.api_core import Choice, Operations, listing
from models.phases import EVENT_TYPES, OUTCOMES

log = logging.getLogger(__name__)


def _selected(summaries: dict[str, Any], event_type: str | None, outcome: str | None) -> dict[str, Any]:
    """The verdicts of the chosen curves (keys are 'event_type/outcome')."""
    return {
        k: v
        for k, v in summaries.items()
        if (not event_type or k.startswith(event_type + "/")) and (not outcome or k.endswith("/" + outcome))
    }


def phases_payload(engine, event_type: str | None = None, outcome: str | None = None) -> dict[str, Any]:
    """``{"data": [{event_type, outcome, k, effect, lower, upper, n}], "meta": {...}}`` of the newest
    curves."""
    from models import phases, phases_store

    if event_type is not None and event_type not in phases.EVENT_TYPES:
        raise ValueError(
            f"parameter 'event_type' must be one of {list(phases.EVENT_TYPES)}, got '{event_type[:40]}'"
        )
    if outcome is not None and outcome not in phases.OUTCOMES:
        raise ValueError(f"parameter 'outcome' must be one of {list(phases.OUTCOMES)}, got '{outcome[:40]}'")
    frame, result = phases_store.read_curves(engine, event_type=event_type, outcome=outcome)
    data = []
    for r in frame.itertuples(index=False):
        data.append(
            {
                "event_type": r.event_type,
                "outcome": r.outcome,
                "k": int(r.k),
                "effect": phases_store._num(r.effect),
                "lower": phases_store._num(r.lower),
                "upper": phases_store._num(r.upper),
                "n": int(r.n),
                "n_countries": int(r.n_countries),
            }
        )
    chosen = {"event_type": event_type, "outcome": outcome}
    meta: dict[str, Any] = {"count": len(data), "filters": {k: v for k, v in chosen.items() if v is not None}}
    if result is None:
        meta["note"] = (
            "no phase curves computed yet (`crisisrisk phases compute`, or after the next load/promote)"
        )
        return {"data": data, "meta": meta}
    m = result["meta_json"] or {}
    summaries = m.get("summaries", {})
    if event_type or outcome:
        summaries = _selected(summaries, event_type, outcome)
    meta.update(
        {
            "result_id": result["result_id"],
            "computed_at": result["computed_at"],
            "watchlist_run_id": result["watchlist_run_id"],
            "design": m.get("design"),
            "scale": m.get("scale"),
            "interval": m.get("interval"),
            "bootstrap": m.get("bootstrap"),
            "ks": m.get("ks"),
            "event_counts": m.get("event_counts"),
            "event_labels": m.get("event_labels"),
            "outcome_labels": m.get("outcome_labels"),
            "rules": m.get("rules"),
            "summaries": summaries,
        }
    )
    return {"data": data, "meta": meta}


POINT = {
    "type": "object",
    "properties": {
        "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "k": {"type": "integer", "description": "Years relative to the event (-3..+6)"},
        "effect": {
            "type": "number",
            "nullable": True,
            "description": "Change from the pre-event mean net of placebo country-years, log scale",
        },
        "lower": {"type": "number", "nullable": True, "description": "90% cluster-bootstrap interval, lower"},
        "upper": {"type": "number", "nullable": True, "description": "90% cluster-bootstrap interval, upper"},
        "n": {"type": "integer", "description": "Events with a value at k"},
        "n_countries": {"type": "integer"},
    },
}
ops = Operations({"PhasePoint": POINT})
CURVES = {**listing("PhasePoint")}
CURVES["properties"] = {**CURVES["properties"], "meta": {"type": "object"}}  # meta: design, rules, verdicts


@ops.get(
    "/phases",
    role="read",
    summary=(
        "Crisis-phase curves: outcome change in the years around conflict onsets, refugee-outflow "
        "surges, IDP surges and large disasters (event study, n and 90% intervals per point)"
    ),
    params=(Choice("event_type", choices=EVENT_TYPES), Choice("outcome", choices=OUTCOMES)),
    ok_description="Curve points; meta holds the design, rules, pre-trend checks and verdicts",
    ok_schema=CURVES,
)
def phases_curves(actx, a: dict) -> dict[str, Any]:
    return phases_payload(actx.engine, a["event_type"], a["outcome"])
