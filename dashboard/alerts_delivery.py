"""Delivery of confirmed alerts (issue 14): Atom feeds, e-mail over SMTP, signed webhooks; subscriptions and
webhook settings; the background evaluation after loads and promotes.

Why this shape:
- Only confirmed alerts leave the warehouse (a human decided). Each (alert, channel, target) is one row of
  ``alert_delivery`` (unique), so an alert is planned once per recipient; a row is claimed before it is sent
  and
  marked sent after, so two workers never send it twice, and a failed send stays in the table and is retried
  with
  back-off: nothing is lost while a receiver is down.
- Webhooks carry ``X-Crisisrisk-Signature: sha256=<HMAC of the body>`` with a secret read from the environment
  variable the webhook names (secrets never live in the database), and ``X-Crisisrisk-Delivery`` so a receiver
  can
  drop a repeat after a crash between send and bookkeeping.
- E-mail settings: ``CRISISRISK_SMTP_HOST`` (required to send), ``_PORT`` (25), ``_USER``, ``_PASSWORD``,
  ``_FROM``,
  ``_STARTTLS`` (true/false).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import smtplib
import threading
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from models import alerts
from warehouse import accounts, settings
from warehouse.schema import alert_delivery, alert_subscription, alert_webhook, app_user

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_S = 30.0  # 30 s, 60 s, 120 s ... capped at an hour
CLAIM_S = 120.0  # a claimed row is not picked up by another worker for this long
TIMEOUT_S = 10.0
ATOM_NS = "http://www.w3.org/2005/Atom"
SIGNATURE_HEADER = "X-Crisisrisk-Signature"
DELIVERY_HEADER = "X-Crisisrisk-Delivery"


class DeliveryError(ValueError):
    """A subscription or webhook setting that is refused (bad address, URL or scope)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _matches(scope: str, value: str) -> bool:
    items = {s.strip().upper() for s in (scope or "*").split(",") if s.strip()}
    return not items or "*" in items or value.upper() in items


def _check_scope(text: str, what: str) -> str:
    text = (text or "*").strip() or "*"
    if what == "regions":
        try:
            parsed = alerts.parse_scope(text)
        except alerts.RuleError as exc:
            raise DeliveryError(str(exc).replace("region_scope", "regions")) from None
        return "*" if parsed is None else ",".join(sorted(parsed))
    names = [s.strip() for s in text.split(",") if s.strip()]
    if len(text) > 500 or any(len(n) > 80 for n in names):
        raise DeliveryError("rules: '*' or comma-separated rule names")
    return "*" if names in ([], ["*"]) else ",".join(names)


# --- subscriptions (analysts, their own) and webhooks (admins)


def add_subscription(
    engine: Engine,
    user_name: str,
    email: str,
    regions: str = "*",
    rules: str = "*",
    client: str | None = None,
) -> dict[str, Any]:
    email = (email or "").strip()
    if (
        len(email) > 300
        or email.count("@") != 1
        or " " in email
        or email.startswith("@")
        or email.endswith("@")
    ):
        raise DeliveryError("email: one address like name@example.org")
    regions, rules = _check_scope(regions, "regions"), _check_scope(rules, "rules")
    with engine.begin() as conn:
        user_id = conn.execute(select(app_user.c.user_id).where(app_user.c.name == user_name)).scalar()
    if user_id is None:
        raise DeliveryError(f"unknown user '{user_name[:80]}' (API tokens and sign-ins belong to users)")
    try:
        with engine.begin() as conn:
            sid = conn.execute(
                alert_subscription.insert().values(
                    user_id=user_id, email=email, regions=regions, rules=rules, active=True, created_at=_now()
                )
            ).inserted_primary_key[0]
    except IntegrityError:
        raise DeliveryError(f"you already subscribe {email}; remove that subscription first") from None
    accounts.audit(
        engine, user_name, "alert subscribe", "ok", email, f"regions={regions} rules={rules}", client
    )
    return {"subscription_id": sid, "email": email, "regions": regions, "rules": rules, "active": True}


def list_subscriptions(engine: Engine, user_name: str | None = None) -> list[dict[str, Any]]:
    stmt = (
        select(alert_subscription, app_user.c.name.label("user"))
        .join(app_user, app_user.c.user_id == alert_subscription.c.user_id)
        .order_by(alert_subscription.c.subscription_id)
    )
    if user_name is not None:
        stmt = stmt.where(app_user.c.name == user_name)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def remove_subscription(
    engine: Engine, user_name: str, subscription_id: int, client: str | None = None
) -> bool:
    mine = {s["subscription_id"] for s in list_subscriptions(engine, user_name)}
    if subscription_id not in mine:
        return False
    with engine.begin() as conn:
        conn.execute(
            update(alert_subscription)
            .where(alert_subscription.c.subscription_id == subscription_id)
            .values(active=False)
        )
    accounts.audit(
        engine, user_name, "alert unsubscribe", "ok", f"subscription {subscription_id}", None, client
    )
    return True


def add_webhook(
    engine: Engine,
    actor: str,
    name: str,
    url: str,
    secret_env: str = "CRISISRISK_WEBHOOK_SECRET",
    regions: str = "*",
    rules: str = "*",
    client: str | None = None,
) -> dict[str, Any]:
    name, url, secret_env = (name or "").strip(), (url or "").strip(), (secret_env or "").strip()
    if not 2 <= len(name) <= 80:
        raise DeliveryError("name: 2-80 characters")
    if not url.startswith(("http://", "https://")) or len(url) > 500 or " " in url:
        raise DeliveryError("url: an http:// or https:// address")
    if not secret_env.startswith("CRISISRISK_") or not secret_env.replace("_", "").isalnum():
        raise DeliveryError(
            "secret_env: the name of an environment variable starting CRISISRISK_ that holds the "
            "HMAC secret (the secret itself is never stored)"
        )
    regions, rules = _check_scope(regions, "regions"), _check_scope(rules, "rules")
    try:
        with engine.begin() as conn:
            wid = conn.execute(
                alert_webhook.insert().values(
                    name=name,
                    url=url,
                    secret_env=secret_env,
                    regions=regions,
                    rules=rules,
                    active=True,
                    created_at=_now(),
                    created_by=actor[:120],
                )
            ).inserted_primary_key[0]
    except IntegrityError:
        raise DeliveryError(f"a webhook named '{name}' exists") from None
    accounts.audit(
        engine, actor, "alert webhook add", "ok", name, f"url={url} secret_env={secret_env}", client
    )
    return {
        "webhook_id": wid,
        "name": name,
        "url": url,
        "secret_env": secret_env,
        "regions": regions,
        "rules": rules,
        "active": True,
        "secret_set": bool(settings.named_secret(secret_env)),
    }


def list_webhooks(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(select(alert_webhook).order_by(alert_webhook.c.webhook_id)).mappings()
        ]
    for r in rows:
        r["secret_set"] = bool(settings.named_secret(r["secret_env"]))
    return rows


def set_webhook_active(
    engine: Engine, actor: str, webhook_id: int, active: bool, client: str | None = None
) -> bool:
    with engine.begin() as conn:
        n = conn.execute(
            update(alert_webhook).where(alert_webhook.c.webhook_id == webhook_id).values(active=active)
        ).rowcount
    if n:
        accounts.audit(
            engine,
            actor,
            "alert webhook " + ("enable" if active else "disable"),
            "ok",
            f"webhook {webhook_id}",
            None,
            client,
        )
    return bool(n)


# --- planning and sending


def plan_deliveries(engine: Engine) -> int:
    """One delivery row per confirmed alert and matching active subscription or webhook (unique: never
    twice)."""
    confirmed = alerts.list_alerts(engine, status="confirmed", limit=100_000)
    with engine.connect() as conn:
        subs = [
            dict(r)
            for r in conn.execute(
                select(alert_subscription).where(alert_subscription.c.active.is_(True))
            ).mappings()
        ]
        hooks = [
            dict(r)
            for r in conn.execute(select(alert_webhook).where(alert_webhook.c.active.is_(True))).mappings()
        ]
        existing = {
            (r.alert_id, r.channel, r.target)
            for r in conn.execute(
                select(alert_delivery.c.alert_id, alert_delivery.c.channel, alert_delivery.c.target)
            )
        }
    planned = 0
    for a in confirmed:
        # a subscription or webhook made after the alert was confirmed does not receive the older alerts
        wanted = [
            ("email", s["email"])
            for s in subs
            if _matches(s["regions"], a["region_id"])
            and _matches_rule(s["rules"], a["rule"])
            and _aware(s["created_at"]) <= _aware(a["reviewed_at"])
        ]
        wanted += [
            ("webhook", h["name"])
            for h in hooks
            if _matches(h["regions"], a["region_id"])
            and _matches_rule(h["rules"], a["rule"])
            and _aware(h["created_at"]) <= _aware(a["reviewed_at"])
        ]
        for channel, target in wanted:
            if (a["alert_id"], channel, target) in existing:
                continue
            try:
                with engine.begin() as conn:
                    conn.execute(
                        alert_delivery.insert().values(
                            alert_id=a["alert_id"],
                            channel=channel,
                            target=target,
                            status="pending",
                            attempts=0,
                        )
                    )
                planned += 1
            except IntegrityError:  # planned by another worker at the same time
                pass
    return planned


def _matches_rule(scope: str, rule: str) -> bool:
    items = {s.strip() for s in (scope or "*").split(",") if s.strip()}
    return not items or "*" in items or rule in items


def _claim(engine: Engine, delivery_id: int, now: dt.datetime) -> bool:
    """Take a row for sending (one worker only): attempts+1, and no other worker picks it for CLAIM_S."""
    with engine.begin() as conn:
        return (
            conn.execute(
                update(alert_delivery)
                .where(
                    alert_delivery.c.delivery_id == delivery_id,
                    alert_delivery.c.status != "sent",
                    alert_delivery.c.attempts < MAX_ATTEMPTS,
                    or_(alert_delivery.c.next_attempt_at.is_(None), alert_delivery.c.next_attempt_at <= now),
                )
                .values(
                    attempts=alert_delivery.c.attempts + 1,
                    next_attempt_at=now + dt.timedelta(seconds=CLAIM_S),
                )
            ).rowcount
            == 1
        )


def deliver_pending(engine: Engine, now: dt.datetime | None = None) -> dict[str, int]:
    """Plan, then send every due delivery once; failures are kept with their error and retried later."""
    plan_deliveries(engine)
    now = now or _now()
    with engine.connect() as conn:
        due = [
            dict(r)
            for r in conn.execute(
                select(alert_delivery)
                .where(
                    alert_delivery.c.status != "sent",
                    alert_delivery.c.attempts < MAX_ATTEMPTS,
                    or_(alert_delivery.c.next_attempt_at.is_(None), alert_delivery.c.next_attempt_at <= now),
                )
                .order_by(alert_delivery.c.delivery_id)
            ).mappings()
        ]
        hooks = {r["name"]: dict(r) for r in conn.execute(select(alert_webhook)).mappings()}
    counts = {"sent": 0, "failed": 0}
    for d in due:
        if not _claim(engine, d["delivery_id"], now):
            continue
        a = alerts.get_alert(engine, d["alert_id"])
        try:
            if a is None or a["status"] != "confirmed":
                raise RuntimeError("the alert is no longer confirmed")
            if d["channel"] == "email":
                send_email(d["target"], a)
            else:
                hook = hooks.get(d["target"])
                if hook is None or not hook["active"]:
                    raise RuntimeError(f"webhook '{d['target']}' is removed or disabled")
                send_webhook(hook, a, d["delivery_id"])
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried, never lost
            attempts = d["attempts"] + 1
            wait = min(BACKOFF_S * 2 ** (attempts - 1), 3600.0)
            with engine.begin() as conn:
                conn.execute(
                    update(alert_delivery)
                    .where(alert_delivery.c.delivery_id == d["delivery_id"])
                    .values(
                        status="failed",
                        last_error=f"{type(exc).__name__}: {exc}"[:2000],
                        next_attempt_at=now + dt.timedelta(seconds=wait),
                    )
                )
            log.warning(
                "alert delivery %s (%s %s) failed, attempt %d: %s",
                d["delivery_id"],
                d["channel"],
                d["target"],
                attempts,
                exc,
            )
            counts["failed"] += 1
            continue
        with engine.begin() as conn:
            conn.execute(
                update(alert_delivery)
                .where(alert_delivery.c.delivery_id == d["delivery_id"])
                .values(status="sent", sent_at=_now(), last_error=None, next_attempt_at=None)
            )
        counts["sent"] += 1
    return counts


def list_deliveries(engine: Engine, alert_id: int | None = None) -> list[dict[str, Any]]:
    stmt = select(alert_delivery).order_by(alert_delivery.c.delivery_id)
    if alert_id is not None:
        stmt = stmt.where(alert_delivery.c.alert_id == alert_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def _alert_json(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "alert_id": a["alert_id"],
        "rule": a["rule"],
        "region_id": a["region_id"],
        "region_name": a.get("region_name"),
        "period": a["period"],
        "message": a["message"],
        "value": a["value"],
        "threshold": a["threshold"],
        "status": a["status"],
        "reviewed_by": a["reviewed_by"],
        "review_note": a["review_note"],
        "reviewed_at": _aware(a["reviewed_at"]).isoformat() if a.get("reviewed_at") else None,
    }


def send_email(address: str, a: dict[str, Any]) -> None:
    host = (settings.get("CRISISRISK_SMTP_HOST") or "").strip()
    if not host:
        raise RuntimeError("CRISISRISK_SMTP_HOST is not set: e-mail cannot be sent (it is kept and retried)")
    port = settings.get("CRISISRISK_SMTP_PORT")
    msg = EmailMessage()
    msg["From"] = settings.get("CRISISRISK_SMTP_FROM")
    msg["To"] = address
    msg["Subject"] = f"[crisisrisk alert] {a.get('region_name') or a['region_id']} {a['period']}: {a['rule']}"
    msg["X-Crisisrisk-Alert"] = str(a["alert_id"])
    msg.set_content(
        f"{a['message']}\n\nRegion: {a.get('region_name')} ({a['region_id']}), data year {a['period']}\n"
        f"Rule: {a['rule']}\nConfirmed by {a['reviewed_by']}: {a['review_note']}\n\n"
        "This is risk of *detected* trafficking; read the model card before acting.\n"
    )
    with smtplib.SMTP(host, port, timeout=TIMEOUT_S) as smtp:
        if settings.get("CRISISRISK_SMTP_STARTTLS"):
            smtp.starttls()
        user = settings.get("CRISISRISK_SMTP_USER")
        if user:
            smtp.login(user, settings.get("CRISISRISK_SMTP_PASSWORD") or "")
        smtp.send_message(msg)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(hook: dict[str, Any], a: dict[str, Any], delivery_id: int) -> None:
    secret = settings.named_secret(hook["secret_env"])
    if not secret:
        raise RuntimeError(
            f"{hook['secret_env']} is not set: the webhook is not sent unsigned (kept and retried)"
        )
    body = json.dumps(
        {"event": "alert.confirmed", "delivery_id": delivery_id, "alert": _alert_json(a)},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    req = urllib.request.Request(
        hook["url"],
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(secret, body),
            DELIVERY_HEADER: str(delivery_id),
            "User-Agent": "crisisrisk-alerts",
        },
    )
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - http(s) only, checked on save
        if not 200 <= resp.status < 300:
            raise RuntimeError(f"receiver answered {resp.status}")


# --- Atom


def atom_feed(engine: Engine, base_url: str, region_id: str | None = None, rule: str | None = None) -> bytes:
    """Confirmed alerts as an Atom 1.0 feed (newest first, at most 100), per region or per rule."""
    items = alerts.list_alerts(engine, status="confirmed", region_id=region_id, rule=rule, limit=100)
    ET.register_namespace("", ATOM_NS)

    def sub(parent, tag, text=None, **attrs):
        el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            el.text = str(text)
        return el

    scope = f"region {region_id}" if region_id else f"rule {rule}" if rule else "all regions and rules"
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "title", f"crisisrisk confirmed alerts: {scope}")
    sub(
        feed,
        "id",
        f"{base_url}/api/v1/alerts.atom?{'region=' + region_id if region_id else ''}"
        f"{'rule=' + rule if rule else ''}",
    )
    updated = max((_aware(a["reviewed_at"]) for a in items if a.get("reviewed_at")), default=_now())
    sub(feed, "updated", updated.isoformat())
    sub(sub(feed, "author"), "name", "crisisrisk")
    sub(feed, "link", href=f"{base_url}/alerts", rel="alternate")
    for a in items:
        entry = sub(feed, "entry")
        sub(entry, "title", f"{a.get('region_name') or a['region_id']} {a['period']}: {a['rule']}")
        sub(entry, "id", f"urn:crisisrisk:alert:{a['dedup_key']}")
        sub(entry, "updated", (_aware(a["reviewed_at"]) or _now()).isoformat())
        sub(entry, "link", href=f"{base_url}/alerts?alert={a['alert_id']}", rel="alternate")
        sub(entry, "category", term=a["rule"])
        sub(entry, "summary", f"{a['message']} (confirmed by {a['reviewed_by']}: {a['review_note']})")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")


# --- background evaluation after loads and promotes

_lock = threading.Lock()
_again: dict[int, tuple[str, str]] = {}
_running: dict[int, threading.Thread] = {}


def evaluate_and_deliver(engine: Engine, trigger: str, actor: str) -> dict[str, Any]:
    """Recompute the phase curves, evaluate every rule, backtest them, then deliver (the background job's
    work)."""
    from models import phases_store

    try:
        phases_store.compute_and_store(engine)
    except Exception:  # noqa: BLE001 - the curves are context; alerts must still be evaluated
        log.exception("phases: recomputation after %s failed", trigger)
    inputs = alerts.Inputs.from_warehouse(engine)
    result = alerts.evaluate(engine, trigger, actor, inputs=inputs)
    try:
        bt = alerts.backtest_all(engine, inputs)
        alerts.store_backtest(engine, result["evaluation_id"], bt)
    except Exception:  # noqa: BLE001 - the backtest is shown beside the rules; its failure is logged
        log.exception("alerts: backtest after %s failed", trigger)
    result["delivery"] = deliver_pending(engine)
    schedule_retry(engine)
    return result


def after_change(engine: Engine, trigger: str, actor: str) -> None:
    """Hook for loads, promotes and rollbacks: evaluate in a background thread (one at a time per warehouse; a
    change during a run queues one more run, so the newest data is always evaluated)."""
    if not settings.get("CRISISRISK_ALERTS_AUTO"):
        log.info(
            "alerts: automatic evaluation is off (CRISISRISK_ALERTS_AUTO); run `crisisrisk alerts evaluate`"
        )
        return
    key = id(engine)
    with _lock:
        if key in _running and _running[key].is_alive():
            _again[key] = (trigger, actor)
            return

        def run(trigger: str = trigger, actor: str = actor) -> None:
            while True:
                try:
                    evaluate_and_deliver(engine, trigger, actor)
                except Exception:  # noqa: BLE001 - logged; the evaluation row says 'failed'
                    log.exception("alerts: evaluation after %s failed", trigger)
                with _lock:
                    nxt = _again.pop(key, None)
                    if nxt is None:
                        _running.pop(key, None)
                        return
                trigger, actor = nxt

        thread = threading.Thread(target=run, name=f"crisisrisk-alerts-{trigger}", daemon=True)
        _running[key] = thread
        thread.start()


def wait_idle(engine: Engine, timeout: float = 300.0) -> None:
    """Block until the background evaluation of this warehouse is done (tests, scripts)."""
    with _lock:
        thread = _running.get(id(engine))
    if thread is not None:
        thread.join(timeout)


def deliver_soon(engine: Engine) -> None:
    """Send newly confirmed alerts now, in a thread (the review request answers at once)."""
    threading.Thread(
        target=_deliver_quietly, args=(engine,), name="crisisrisk-alert-delivery", daemon=True
    ).start()


def _deliver_quietly(engine: Engine) -> None:
    try:
        deliver_pending(engine)
    except Exception:  # noqa: BLE001
        log.exception("alerts: delivery failed")
    schedule_retry(engine)


_timers: dict[int, threading.Timer] = {}


def schedule_retry(engine: Engine) -> float | None:
    """While deliveries wait for a retry, wake up when the first is due (a receiver that is down gets its
    alerts
    once it is back). Returns the delay in seconds, or None when nothing waits."""
    with engine.connect() as conn:
        due = conn.execute(
            select(func.min(alert_delivery.c.next_attempt_at)).where(
                alert_delivery.c.status == "failed", alert_delivery.c.attempts < MAX_ATTEMPTS
            )
        ).scalar()
    if due is None:
        return None
    delay = max(1.0, (_aware(due) - _now()).total_seconds())
    with _lock:
        old = _timers.get(id(engine))
        if old is not None and old.is_alive():
            return delay
        timer = threading.Timer(delay, _deliver_quietly, args=(engine,))
        timer.daemon = True
        _timers[id(engine)] = timer
        timer.start()
    return delay


def register_cli(alerts_app) -> None:
    """`crisisrisk alerts deliver` (the delivery code lives in the dashboard layer, above models)."""

    @alerts_app.command("deliver")
    def deliver_cmd() -> None:
        """Send confirmed alerts to subscribers (e-mail) and webhooks; failures are kept and retried later."""
        from warehouse.db import make_engine, migrate

        engine = make_engine()
        migrate(engine)
        counts = deliver_pending(engine)
        waiting = [d for d in list_deliveries(engine) if d["status"] == "failed"]
        print(f"sent {counts['sent']}, failed {counts['failed']}; {len(waiting)} waiting for a retry")
        for d in waiting[:20]:
            print(
                f"  delivery {d['delivery_id']} ({d['channel']} {d['target']}), attempt {d['attempts']}: "
                f"{d['last_error']}"
            )


__all__ = [
    "DeliveryError",
    "add_subscription",
    "add_webhook",
    "after_change",
    "atom_feed",
    "deliver_pending",
    "list_deliveries",
    "list_subscriptions",
    "list_webhooks",
    "plan_deliveries",
    "remove_subscription",
    "send_email",
    "send_webhook",
    "signature",
]
