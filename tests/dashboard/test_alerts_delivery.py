"""Delivery of confirmed alerts (issue 14): e-mail to a local aiosmtpd server, webhooks with an HMAC signature
to a
local receiver on 127.0.0.1 (also while it is down: retried, nothing lost, nothing twice), and the Atom feed.

The alerts come from the outflow-surge rule on the real UNHCR Syria extract of tests/models/test_alerts.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from xml.etree import ElementTree as ET

import pytest

from dashboard import alerts_delivery as delivery
from models import alerts
from tests.conftest import _fresh_url
from tests.models.test_alerts import SYRIA, inputs
from warehouse import accounts
from warehouse.schema import region

SECRET = "test-webhook-secret-0123456789"


@pytest.fixture
def engine(tmp_path, monkeypatch):
    from warehouse.db import make_engine, migrate

    monkeypatch.setenv("CRISISRISK_ALERTS_AUTO", "false")
    eng = make_engine(_fresh_url(tmp_path, "delivery"))
    migrate(eng)
    with eng.begin() as conn:
        for iso, name in (("SYR", "Syria"), ("UKR", "Ukraine")):
            conn.execute(region.insert().values(region_id=iso, level=0, iso3=iso, name=name))
    accounts.add_user(eng, "ana", "analyst", "ana-password-123")
    alerts.evaluate(eng, "test", "tester", inputs=inputs(SYRIA))
    yield eng
    eng.dispose()


def confirm_surge(engine) -> int:
    surge = next(a for a in alerts.list_alerts(engine, status="pending") if a["rule"] == "outflow-surge")
    alerts.review(engine, surge["alert_id"], "confirmed", "checked against UNHCR mid-year figures", "ana")
    return surge["alert_id"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- e-mail


@pytest.fixture
def smtp_server(monkeypatch):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CRISISRISK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CRISISRISK_SMTP_PORT", str(port))
    monkeypatch.setenv("CRISISRISK_SMTP_FROM", "alerts@crisisrisk.test")
    yield inbox
    controller.stop()


def test_email_to_a_local_smtp_server_once(engine, smtp_server):
    delivery.add_subscription(engine, "ana", "ana@example.org", regions="SYR", rules="outflow-surge")
    delivery.add_subscription(engine, "ana", "other@example.org", regions="UKR")  # another region: nothing
    assert delivery.deliver_pending(engine) == {"sent": 0, "failed": 0}  # nothing confirmed yet: nothing sent
    alert_id = confirm_surge(engine)
    assert delivery.deliver_pending(engine) == {"sent": 1, "failed": 0}
    assert delivery.deliver_pending(engine) == {"sent": 0, "failed": 0}  # never twice
    assert len(smtp_server.messages) == 1
    sender, rcpts, content = smtp_server.messages[0]
    assert sender == "alerts@crisisrisk.test" and rcpts == ["ana@example.org"]
    text = content.decode()
    assert "Syria" in text and "refugee-outflow surge" in text and f"X-Crisisrisk-Alert: {alert_id}" in text
    assert [d["status"] for d in delivery.list_deliveries(engine)] == ["sent"]


def test_email_without_smtp_settings_is_kept_and_retried(engine, monkeypatch):
    monkeypatch.delenv("CRISISRISK_SMTP_HOST", raising=False)
    delivery.add_subscription(engine, "ana", "ana@example.org")
    confirm_surge(engine)
    assert delivery.deliver_pending(engine) == {"sent": 0, "failed": 1}
    (row,) = delivery.list_deliveries(engine)
    assert row["status"] == "failed" and "CRISISRISK_SMTP_HOST" in row["last_error"]


def test_subscription_input_is_checked(engine):
    for bad in ("not-an-address", "a@b@c", ""):
        with pytest.raises(delivery.DeliveryError, match="email"):
            delivery.add_subscription(engine, "ana", bad)
    with pytest.raises(delivery.DeliveryError, match="regions"):
        delivery.add_subscription(engine, "ana", "ana@example.org", regions="Syria")
    delivery.add_subscription(engine, "ana", "ana@example.org")
    with pytest.raises(delivery.DeliveryError, match="already"):
        delivery.add_subscription(engine, "ana", "ana@example.org")


# --- webhooks


class Receiver:
    """A local webhook receiver on 127.0.0.1 that checks the signature and counts deliveries by id."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.server: HTTPServer | None = None

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("X-Crisisrisk-Signature", "")):
                    outer.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                outer.received.append({"delivery": self.headers["X-Crisisrisk-Delivery"], **json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver(monkeypatch):
    monkeypatch.setenv("CRISISRISK_WEBHOOK_SECRET", SECRET)
    rec = Receiver(free_port())
    yield rec
    rec.stop()


def test_webhook_signed_and_delivered_once(engine, receiver):
    receiver.start()
    delivery.add_webhook(engine, "adam", "local", f"http://127.0.0.1:{receiver.port}/hook")
    alert_id = confirm_surge(engine)
    assert delivery.deliver_pending(engine)["sent"] == 1
    assert delivery.deliver_pending(engine)["sent"] == 0
    assert len(receiver.received) == 1 and receiver.bad_signatures == 0
    got = receiver.received[0]
    assert got["event"] == "alert.confirmed" and got["alert"]["alert_id"] == alert_id
    assert got["alert"]["region_id"] == "SYR" and got["alert"]["review_note"].startswith("checked")


def test_webhook_receiver_down_is_retried_without_loss_or_duplicate(engine, receiver):
    delivery.add_webhook(engine, "adam", "local", f"http://127.0.0.1:{receiver.port}/hook")
    alert_id = confirm_surge(engine)
    # the receiver is down: the delivery fails, is kept with its error and a later attempt time
    assert delivery.deliver_pending(engine) == {"sent": 0, "failed": 1}
    (row,) = delivery.list_deliveries(engine)
    assert row["status"] == "failed" and row["attempts"] == 1 and row["last_error"]
    # not due yet: a run right away does not hammer the receiver
    assert delivery.deliver_pending(engine) == {"sent": 0, "failed": 0}
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delivery.BACKOFF_S + 1)
    assert delivery.deliver_pending(engine, now=later) == {"sent": 0, "failed": 1}  # still down: attempt 2
    receiver.start()
    much_later = later + dt.timedelta(seconds=4 * delivery.BACKOFF_S + 1)
    assert delivery.deliver_pending(engine, now=much_later) == {"sent": 1, "failed": 0}
    assert delivery.deliver_pending(engine, now=much_later + dt.timedelta(hours=2)) == {
        "sent": 0,
        "failed": 0,
    }
    assert [r["alert"]["alert_id"] for r in receiver.received] == [alert_id]  # exactly once, not lost
    (row,) = delivery.list_deliveries(engine)
    assert row["status"] == "sent" and row["attempts"] == 3


def test_webhook_without_its_secret_is_not_sent_unsigned(engine, receiver, monkeypatch):
    receiver.start()
    monkeypatch.delenv("CRISISRISK_WEBHOOK_SECRET")
    delivery.add_webhook(engine, "adam", "local", f"http://127.0.0.1:{receiver.port}/hook")
    confirm_surge(engine)
    assert delivery.deliver_pending(engine) == {"sent": 0, "failed": 1}
    assert receiver.received == [] and receiver.bad_signatures == 0
    with pytest.raises(delivery.DeliveryError, match="url"):
        delivery.add_webhook(engine, "adam", "x2", "file:///etc/passwd")
    with pytest.raises(delivery.DeliveryError, match="secret_env"):
        delivery.add_webhook(engine, "adam", "x3", "http://127.0.0.1:1/", secret_env="HOME")


def test_concurrent_workers_send_once(engine, receiver):
    receiver.start()
    delivery.add_webhook(engine, "adam", "local", f"http://127.0.0.1:{receiver.port}/hook")
    confirm_surge(engine)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(delivery.deliver_pending(engine))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(r["sent"] for r in results) == 1 and len(receiver.received) == 1


# --- Atom


def test_atom_feed_per_region_and_rule(engine):
    alert_id = confirm_surge(engine)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feed = ET.fromstring(delivery.atom_feed(engine, "http://localhost:8050", region_id="SYR"))
    entries = feed.findall("a:entry", ns)
    assert len(entries) == 1  # only the confirmed alert; the pending ones are not published
    assert entries[0].find("a:category", ns).get("term") == "outflow-surge"
    assert entries[0].find("a:link", ns).get("href").endswith(f"alert={alert_id}")
    assert ET.fromstring(delivery.atom_feed(engine, "http://x", region_id="UKR")).findall("a:entry", ns) == []
    by_rule = ET.fromstring(delivery.atom_feed(engine, "http://x", rule="outflow-surge"))
    assert len(by_rule.findall("a:entry", ns)) == 1
