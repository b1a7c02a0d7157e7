"""JSON API of the alerts (issue 14), registered through dashboard.api_phases.

Access: confirmed alerts, their Atom feeds and the rules with their backtest are for readers (viewers); the review
queue, reviews, rule edits, evaluation and subscriptions for analysts; webhooks for admins.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, request

from dashboard.auth import actor, allowed, client_address, current_principal, requires

log = logging.getLogger(__name__)
STATUSES = ("pending", "confirmed", "dismissed", "all")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if isinstance(data, dict):
        return data
    return {k: v for k, v in request.form.items()}


def _rule_out(r: dict[str, Any]) -> dict[str, Any]:
    return {"rule_id": r["rule_id"], "name": r["name"], "condition": r["condition"], "params": r["params_json"],
            "minimum": r["minimum"], "region_scope": r["region_scope"], "cooldown_years": r["cooldown_years"],
            "enabled": r["enabled"], "description": r["description"], "updated_at": r["updated_at"],
            "updated_by": r["updated_by"]}


def alert_out(a: dict[str, Any]) -> dict[str, Any]:
    return {k: a.get(k) for k in ("alert_id", "rule", "region_id", "region_name", "period", "status", "value",
                                  "threshold", "message", "created_at", "reviewed_by", "reviewed_at",
                                  "review_note")}


def register(bp: Blueprint, actx) -> None:
    from dashboard import alerts_delivery as delivery
    from dashboard import api
    from models import alerts

    engine = actx.engine

    def region_param() -> str | None:
        raw = request.args.get("region")
        if raw is None:
            return None
        if len(raw.strip()) != 3 or not raw.strip().isalpha():
            raise api.ApiError(400, f"parameter 'region' must be an ISO3 code, got '{raw[:40]}'")
        return raw.strip().upper()

    @bp.route("/alerts")
    @requires("read")
    def alerts_list():
        api._check_params({"region", "rule", "status", "limit"})
        status = (request.args.get("status") or "confirmed").strip().lower()
        if status not in STATUSES:
            raise api.ApiError(400, f"parameter 'status' must be one of {list(STATUSES)}, got '{status[:20]}'")
        if status != "confirmed" and not allowed("analyst"):
            raise api.ApiError(403, "only analysts see pending and dismissed alerts; viewers see confirmed ones")
        limit = api._int_param("limit", 1, 5000, default=500)
        rows = alerts.list_alerts(engine, status=None if status == "all" else status, region_id=region_param(),
                                  rule=request.args.get("rule"), limit=limit)
        return api._json({"data": [alert_out(a) for a in rows],
                          "meta": {"count": len(rows), "status": status, "api_version": api.API_VERSION}})

    @bp.route("/alerts.atom")
    @requires("read")
    def alerts_atom():
        api._check_params({"region", "rule"})
        body = delivery.atom_feed(engine, request.host_url.rstrip("/"), region_id=region_param(),
                                  rule=request.args.get("rule"))
        return Response(body, mimetype="application/atom+xml")

    @bp.route("/alerts/<int:alert_id>/review", methods=["POST"])
    @requires("analyst")
    def alert_review(alert_id: int):
        api._check_params(set())
        body = _body()
        try:
            row = alerts.review(engine, alert_id, str(body.get("decision", "")), str(body.get("note", "")),
                                actor(), client_address())
        except alerts.ReviewError as exc:
            raise api.ApiError(exc.status, str(exc)) from None
        if row["status"] == "confirmed":
            delivery.deliver_soon(engine)
        actx.queries.clear()
        return api._json({"alert": alert_out(row)})

    @bp.route("/alerts/evaluate", methods=["POST"])
    @requires("analyst")
    def alerts_evaluate():
        api._check_params(set())
        delivery.after_change(engine, "api", actor())
        return api._json({"message": "evaluation started in the background; see /api/v1/alerts?status=pending"},
                         202)

    @bp.route("/alert-rules", methods=["GET"])
    @requires("read")
    def rules_list():
        api._check_params(set())
        alerts.seed_starter_rules(engine)
        backtest, evaluation = alerts.latest_backtest(engine)
        by_name = {b["rule"]: b for b in backtest}
        rows = [{**_rule_out(r), "backtest": by_name.get(r["name"])} for r in alerts.list_rules(engine)]
        return api._json({"data": rows, "meta": {
            "count": len(rows), "backtest_evaluation_id": evaluation["evaluation_id"] if evaluation else None,
            "backtest_at": evaluation["finished_at"] if evaluation else None, "conditions": list(alerts.CONDITIONS),
            "precision": alerts.precision(engine)}})

    def _save(rule_id: int | None):
        api._check_params(set())
        body = _body()
        fields = {k: body[k] for k in ("name", "condition", "params", "minimum", "region_scope", "cooldown_years",
                                       "enabled", "description") if k in body}
        try:
            row = alerts.save_rule(engine, actor(), fields, rule_id, client_address())
        except alerts.RuleError as exc:
            raise api.ApiError(422 if rule_id is None or "exists" not in str(exc) else 409, str(exc)) from None
        except LookupError as exc:
            raise api.ApiError(404, str(exc)) from None
        return api._json({"rule": _rule_out(row)}, 201 if rule_id is None else 200)

    @bp.route("/alert-rules", methods=["POST"])
    @requires("analyst")
    def rules_add():
        return _save(None)

    @bp.route("/alert-rules/<int:rule_id>", methods=["POST"])
    @requires("analyst")
    def rules_edit(rule_id: int):
        return _save(rule_id)

    def me() -> str:
        principal = current_principal()
        return principal.name if principal else "anonymous"

    @bp.route("/alert-subscriptions", methods=["GET"])
    @requires("analyst")
    def subs_list():
        api._check_params(set())
        rows = delivery.list_subscriptions(engine, me())
        return api._json({"data": rows, "meta": {"count": len(rows), "user": me()}})

    @bp.route("/alert-subscriptions", methods=["POST"])
    @requires("analyst")
    def subs_add():
        api._check_params(set())
        body = _body()
        try:
            row = delivery.add_subscription(engine, me(), str(body.get("email", "")), str(body.get("regions", "*")),
                                            str(body.get("rules", "*")), client_address())
        except delivery.DeliveryError as exc:
            raise api.ApiError(422, str(exc)) from None
        return api._json({"subscription": row}, 201)

    @bp.route("/alert-subscriptions/<int:subscription_id>/delete", methods=["POST"])
    @requires("analyst")
    def subs_delete(subscription_id: int):
        api._check_params(set())
        if not delivery.remove_subscription(engine, me(), subscription_id, client_address()):
            raise api.ApiError(404, f"no subscription {subscription_id} of yours")
        return api._json({"subscription_id": subscription_id, "active": False})

    @bp.route("/alert-webhooks", methods=["GET"])
    @requires("admin")
    def hooks_list():
        api._check_params(set())
        rows = delivery.list_webhooks(engine)
        return api._json({"data": rows, "meta": {"count": len(rows)}})

    @bp.route("/alert-webhooks", methods=["POST"])
    @requires("admin")
    def hooks_add():
        api._check_params(set())
        body = _body()
        try:
            row = delivery.add_webhook(engine, actor(), str(body.get("name", "")), str(body.get("url", "")),
                                       str(body.get("secret_env") or "CRISISRISK_WEBHOOK_SECRET"),
                                       str(body.get("regions", "*")), str(body.get("rules", "*")), client_address())
        except delivery.DeliveryError as exc:
            raise api.ApiError(422, str(exc)) from None
        return api._json({"webhook": row}, 201)

    @bp.route("/alert-webhooks/<int:webhook_id>/disable", methods=["POST"])
    @requires("admin")
    def hooks_disable(webhook_id: int):
        api._check_params(set())
        if not delivery.set_webhook_active(engine, actor(), webhook_id, False, client_address()):
            raise api.ApiError(404, f"unknown webhook {webhook_id}")
        return api._json({"webhook_id": webhook_id, "active": False})


def openapi_paths() -> dict[str, Any]:
    """OpenAPI entries of the alert endpoints."""
    err = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    obj = {"application/json": {"schema": {"type": "object"}}}
    analyst = [{"bearerAuth": []}, {"cookieAuth": [], "csrfHeader": []}]
    admin = analyst

    def q(name: str, desc: str, schema: dict) -> dict:
        return {"name": name, "in": "query", "required": False, "description": desc, "schema": schema}

    def path_id(name: str) -> dict:
        return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}

    def op(summary: str, ok: str = "200", security=None, params=None, body=None, extra=None) -> dict:
        out: dict[str, Any] = {"summary": summary, "responses": {ok: {"description": "OK", "content": obj},
                                                                 "400": err, **(extra or {})}}
        if security is not None:
            out["security"] = security
        if params:
            out["parameters"] = params
        if body:
            out["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": body}}}}
        return out

    region = q("region", "ISO3 of a country", {"type": "string", "minLength": 3, "maxLength": 3})
    rule = q("rule", "Rule name", {"type": "string", "maxLength": 80})
    scope = {"type": "string", "description": "'*' or comma-separated ISO3 codes"}
    return {
        "/alerts": {"get": op("Alerts: confirmed ones (default) for readers; status=pending|dismissed|all for "
                              "analysts", params=[region, rule, q("status", "confirmed (default), pending, dismissed "
                                                                          "or all", {"type": "string",
                                                                                     "enum": list(STATUSES)}),
                                                  q("limit", "At most this many", {"type": "integer", "minimum": 1,
                                                                                    "maximum": 5000})],
                              extra={"403": err})},
        "/alerts.atom": {"get": {"summary": "Atom feed of confirmed alerts, per region or per rule",
                                 "parameters": [region, rule],
                                 "responses": {"200": {"description": "Atom 1.0", "content": {
                                     "application/atom+xml": {"schema": {"type": "string"}}}}, "400": err}}},
        "/alerts/{alert_id}/review": {"post": op(
            "Confirm or dismiss a pending alert with a note (analyst; audited). Confirmed alerts are delivered",
            security=analyst, params=[path_id("alert_id")],
            body={"decision": {"type": "string", "enum": ["confirmed", "dismissed"]}, "note": {"type": "string"}},
            extra={"404": err, "409": err})},
        "/alerts/evaluate": {"post": op("Evaluate every enabled rule now (background; idempotent)", "202",
                                        security=analyst)},
        "/alert-rules": {
            "get": op("Alert rules with their backtest (how often each fired; share followed by a rise within 3 "
                      "years, with n and the base rate)"),
            "post": op("Add a rule (analyst; audited)", "201", security=analyst, body={
                "name": {"type": "string"}, "condition": {"type": "string"}, "params": {"type": "object"},
                "minimum": {"type": "number", "nullable": True}, "region_scope": scope,
                "cooldown_years": {"type": "integer"}, "enabled": {"type": "boolean"},
                "description": {"type": "string"}}, extra={"422": err})},
        "/alert-rules/{rule_id}": {"post": op("Edit or disable a rule: fields not given are kept (analyst; audited)",
                                              security=analyst, params=[path_id("rule_id")],
                                              body={"enabled": {"type": "boolean"}, "minimum": {"type": "number"},
                                                    "params": {"type": "object"}, "region_scope": scope,
                                                    "cooldown_years": {"type": "integer"}},
                                              extra={"404": err, "409": err, "422": err})},
        "/alert-subscriptions": {
            "get": op("Your e-mail subscriptions (analyst)", security=analyst),
            "post": op("Subscribe an e-mail address to confirmed alerts of some regions and rules (analyst)", "201",
                       security=analyst, body={"email": {"type": "string"}, "regions": scope,
                                               "rules": {"type": "string"}}, extra={"422": err})},
        "/alert-subscriptions/{subscription_id}/delete": {"post": op(
            "End one of your subscriptions", security=analyst, params=[path_id("subscription_id")],
            extra={"404": err})},
        "/alert-webhooks": {
            "get": op("Webhooks (admin)", security=admin),
            "post": op("Add a webhook: confirmed alerts are POSTed as JSON signed with HMAC-SHA256 "
                       "(X-Crisisrisk-Signature) using the secret in the named environment variable (admin)", "201",
                       security=admin, body={"name": {"type": "string"}, "url": {"type": "string"},
                                             "secret_env": {"type": "string"}, "regions": scope,
                                             "rules": {"type": "string"}}, extra={"422": err})},
        "/alert-webhooks/{webhook_id}/disable": {"post": op("Disable a webhook (admin)", security=admin,
                                                            params=[path_id("webhook_id")], extra={"404": err})},
    }
