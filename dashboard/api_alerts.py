"""JSON API of the alerts (issue 14), declared with ``dashboard.api_core``.

Access: confirmed alerts, their Atom feeds and the rules with their backtest are for readers (viewers); the
review queue, reviews, rule edits, evaluation and subscriptions for analysts; webhooks for admins.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, request

from dashboard.api_core import (
    API_VERSION,
    ApiError,
    Choice,
    Forbidden,
    Int,
    NotFound,
    Operations,
    PathInt,
    Text,
)
from dashboard.auth import actor, allowed, client_address, current_principal

log = logging.getLogger(__name__)
STATUSES = ("pending", "confirmed", "dismissed", "all")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if isinstance(data, dict):
        return data
    return {k: v for k, v in request.form.items()}


def _rule_out(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule_id": r["rule_id"],
        "name": r["name"],
        "condition": r["condition"],
        "params": r["params_json"],
        "minimum": r["minimum"],
        "region_scope": r["region_scope"],
        "cooldown_years": r["cooldown_years"],
        "enabled": r["enabled"],
        "description": r["description"],
        "updated_at": r["updated_at"],
        "updated_by": r["updated_by"],
    }


def alert_out(a: dict[str, Any]) -> dict[str, Any]:
    return {
        k: a.get(k)
        for k in (
            "alert_id",
            "rule",
            "region_id",
            "region_name",
            "period",
            "status",
            "value",
            "threshold",
            "message",
            "created_at",
            "reviewed_by",
            "reviewed_at",
            "review_note",
        )
    }


def _json_body(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "properties": properties}}},
    }


ops = Operations()
REGION = Text("region", "ISO3 of a country", exact_length=3, alpha=True, hint="an ISO3 code")
RULE = Text("rule", "Rule name", max_length=80)
SCOPE = {"type": "string", "description": "'*' or comma-separated ISO3 codes"}


def _me() -> str:
    principal = current_principal()
    return principal.name if principal else "anonymous"


@ops.get(
    "/alerts",
    role="read",
    summary="Alerts: confirmed ones (default) for readers; status=pending|dismissed|all for analysts",
    params=(
        REGION,
        RULE,
        Choice(
            "status",
            "confirmed (default), pending, dismissed or all",
            choices=STATUSES,
            fold=True,
            default="confirmed",
        ),
        Int("limit", "At most this many", lo=1, hi=5000, default=500),
    ),
    errors={403: "Only analysts see pending and dismissed alerts"},
)
def alerts_list(actx, a: dict) -> dict[str, Any]:
    from models import alerts

    status = a["status"]
    if status != "confirmed" and not allowed("analyst"):
        raise Forbidden("only analysts see pending and dismissed alerts; viewers see confirmed ones")
    rows = alerts.list_alerts(
        actx.engine,
        status=None if status == "all" else status,
        region_id=_upper(a["region"]),
        rule=a["rule"],
        limit=a["limit"],
    )
    return {
        "data": [alert_out(r) for r in rows],
        "meta": {"count": len(rows), "status": status, "api_version": API_VERSION},
    }


def _upper(code: str | None) -> str | None:
    return code.upper() if code else None


@ops.get(
    "/alerts.atom",
    role="read",
    summary="Atom feed of confirmed alerts, per region or per rule",
    params=(REGION, RULE),
    ok_description="Atom 1.0",
    media_type="application/atom+xml",
    ok_schema={"type": "string"},
)
def alerts_atom(actx, a: dict) -> Response:
    from dashboard import alerts_delivery as delivery

    body = delivery.atom_feed(
        actx.engine, request.host_url.rstrip("/"), region_id=_upper(a["region"]), rule=a["rule"]
    )
    return Response(body, mimetype="application/atom+xml")


@ops.post(
    "/alerts/{alert_id}/review",
    role="analyst",
    params=(PathInt("alert_id"),),
    summary=(
        "Confirm or dismiss a pending alert with a note (analyst; audited). Confirmed alerts are delivered"
    ),
    body=_json_body(
        {"decision": {"type": "string", "enum": ["confirmed", "dismissed"]}, "note": {"type": "string"}}
    ),
    errors={404: "Unknown alert", 409: "The alert was already reviewed"},
)
def alert_review(actx, a: dict) -> dict[str, Any]:
    from dashboard import alerts_delivery as delivery
    from models import alerts

    body = _body()
    try:
        row = alerts.review(
            actx.engine,
            a["alert_id"],
            str(body.get("decision", "")),
            str(body.get("note", "")),
            actor(),
            client_address(),
        )
    except alerts.ReviewError as exc:
        raise ApiError(exc.status, str(exc)) from None
    if row["status"] == "confirmed":
        delivery.deliver_soon(actx.engine)
    actx.queries.clear()
    return {"alert": alert_out(row)}


@ops.post(
    "/alerts/evaluate",
    role="analyst",
    summary="Evaluate every enabled rule now (background; idempotent)",
    ok=202,
)
def alerts_evaluate(actx, a: dict) -> dict[str, Any]:
    from dashboard import alerts_delivery as delivery

    delivery.after_change(actx.engine, "api", actor())
    return {"message": "evaluation started in the background; see /api/v1/alerts?status=pending"}


@ops.get(
    "/alert-rules",
    role="read",
    summary=(
        "Alert rules with their backtest (how often each fired; share "
        "followed by a rise within 3 years, with n and the base rate)"
    ),
)
def rules_list(actx, a: dict) -> dict[str, Any]:
    from models import alerts

    alerts.seed_starter_rules(actx.engine)
    backtest, evaluation = alerts.latest_backtest(actx.engine)
    by_name = {b["rule"]: b for b in backtest}
    rows = [{**_rule_out(r), "backtest": by_name.get(r["name"])} for r in alerts.list_rules(actx.engine)]
    return {
        "data": rows,
        "meta": {
            "count": len(rows),
            "backtest_evaluation_id": evaluation["evaluation_id"] if evaluation else None,
            "backtest_at": evaluation["finished_at"] if evaluation else None,
            "conditions": list(alerts.CONDITIONS),
            "precision": alerts.precision(actx.engine),
        },
    }


def _save(actx, rule_id: int | None) -> dict[str, Any]:
    from models import alerts

    body = _body()
    fields = {
        k: body[k]
        for k in (
            "name",
            "condition",
            "params",
            "minimum",
            "region_scope",
            "cooldown_years",
            "enabled",
            "description",
        )
        if k in body
    }
    try:
        row = alerts.save_rule(actx.engine, actor(), fields, rule_id, client_address())
    except alerts.RuleError as exc:
        raise ApiError(422 if rule_id is None or "exists" not in str(exc) else 409, str(exc)) from None
    except LookupError as exc:
        raise NotFound(str(exc)) from None
    return {"rule": _rule_out(row)}


@ops.post(
    "/alert-rules",
    role="analyst",
    summary="Add a rule (analyst; audited)",
    ok=201,
    body=_json_body(
        {
            "name": {"type": "string"},
            "condition": {"type": "string"},
            "params": {"type": "object"},
            "minimum": {"type": "number", "nullable": True},
            "region_scope": SCOPE,
            "cooldown_years": {"type": "integer"},
            "enabled": {"type": "boolean"},
            "description": {"type": "string"},
        }
    ),
    errors={422: "Invalid rule"},
)
def rules_add(actx, a: dict) -> dict[str, Any]:
    return _save(actx, None)


@ops.post(
    "/alert-rules/{rule_id}",
    role="analyst",
    params=(PathInt("rule_id"),),
    summary="Edit or disable a rule: fields not given are kept (analyst; audited)",
    body=_json_body(
        {
            "enabled": {"type": "boolean"},
            "minimum": {"type": "number"},
            "params": {"type": "object"},
            "region_scope": SCOPE,
            "cooldown_years": {"type": "integer"},
        }
    ),
    errors={404: "Unknown rule", 409: "A rule of that name exists", 422: "Invalid rule"},
)
def rules_edit(actx, a: dict) -> dict[str, Any]:
    return _save(actx, a["rule_id"])


@ops.get("/alert-subscriptions", role="analyst", summary="Your e-mail subscriptions (analyst)")
def subs_list(actx, a: dict) -> dict[str, Any]:
    from dashboard import alerts_delivery as delivery

    rows = delivery.list_subscriptions(actx.engine, _me())
    return {"data": rows, "meta": {"count": len(rows), "user": _me()}}


@ops.post(
    "/alert-subscriptions",
    role="analyst",
    ok=201,
    summary="Subscribe an e-mail address to confirmed alerts of some regions and rules (analyst)",
    body=_json_body({"email": {"type": "string"}, "regions": SCOPE, "rules": {"type": "string"}}),
    errors={422: "Invalid subscription"},
)
def subs_add(actx, a: dict) -> dict[str, Any]:
    from dashboard import alerts_delivery as delivery

    body = _body()
    try:
        row = delivery.add_subscription(
            actx.engine,
            _me(),
            str(body.get("email", "")),
            str(body.get("regions", "*")),
            str(body.get("rules", "*")),
            client_address(),
        )
    except delivery.DeliveryError as exc:
        raise ApiError(422, str(exc)) from None
    return {"subscription": row}


@ops.post(
    "/alert-subscriptions/{subscription_id}/delete",
    role="analyst",
    summary="End one of your subscriptions",
    params=(PathInt("subscription_id"),),
    errors={404: "No such subscription of yours"},
)
def subs_delete(actx, a: dict) -> dict[str, Any]:
    from dashboard import alerts_delivery as delivery

    subscription_id = a["subscription_id"]
    if not delivery.remove_subscription(actx.engine, _me(), subscription_id, client_address()):
        raise NotFound(f"no subscription {subscription_id} of yours")
    return {"subscription_id": subscription_id, "active": False}


@ops.get("/alert-webhooks", role="admin", summary="Webhooks (admin)")
def hooks_list(actx, a: dict) -> dict[str, Any]:
    from dashboard import alerts_delivery as delivery

    rows = delivery.list_webhooks(actx.engine)
    return {"data": rows, "meta": {"count": len(rows)}}


@ops.post(
    "/alert-webhooks",
    role="admin",
    ok=201,
    summary=(
        "Add a webhook: confirmed alerts are POSTed as JSON signed with HMAC-SHA256 "
        "(X-Crisisrisk-Signature) using the secret in the named environment variable (admin)"
    ),
    body=_json_body(
        {
            "name": {"type": "string"},
            "url": {"type": "string"},
            "secret_env": {"type": "string"},
            "regions": SCOPE,
            "rules": {"type": "string"},
        }
    ),
    errors={422: "Invalid webhook"},
)
def hooks_add(actx, a: dict) -> dict[str, Any]:
    from dashboard import alerts_delivery as delivery

    body = _body()
    try:
        row = delivery.add_webhook(
            actx.engine,
            actor(),
            str(body.get("name", "")),
            str(body.get("url", "")),
            str(body.get("secret_env") or "CRISISRISK_WEBHOOK_SECRET"),
            str(body.get("regions", "*")),
            str(body.get("rules", "*")),
            client_address(),
        )
    except delivery.DeliveryError as exc:
        raise ApiError(422, str(exc)) from None
    return {"webhook": row}


@ops.post(
    "/alert-webhooks/{webhook_id}/disable",
    role="admin",
    summary="Disable a webhook (admin)",
    params=(PathInt("webhook_id"),),
    errors={404: "Unknown webhook"},
)
def hooks_disable(actx, a: dict) -> dict[str, Any]:
    from dashboard import alerts_delivery as delivery

    webhook_id = a["webhook_id"]
    if not delivery.set_webhook_active(actx.engine, actor(), webhook_id, False, client_address()):
        raise NotFound(f"unknown webhook {webhook_id}")
    return {"webhook_id": webhook_id, "active": False}
