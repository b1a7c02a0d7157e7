"""Regression tests for the security defects of issue 9 (#4, #5, #8, #9, #10, #11, #13, #14).

Each test reproduces what the attack on the running product found and fails on the code as it was:
a copied cookie outliving logout, GETs answering 500 ``database is locked`` during a load, twice the scrypt
work for unknown names, a name locked out for everyone, OverflowError on huge ids, 500s with tracebacks from
malformed Dash requests, OPTIONS/TRACE/blank-parameter answers that disagree with the OpenAPI document, and
missing CSP/HSTS/CORS headers. The app is the writable analyst-workflow app (real regions, synthetic model
rows).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
import time

import pytest
from sqlalchemy import select, text

from tests.dashboard.workflow_app import PASSWORDS, csrf_of, login, workflow_app
from warehouse import accounts
from warehouse.schema import api_token


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    with workflow_app(tmp_path_factory.mktemp("security")) as (app, engine):
        yield app, engine


@pytest.fixture
def app(app_env):
    return app_env[0]


@pytest.fixture
def engine(app_env):
    return app_env[1]


def _user(engine, name: str, role: str = "analyst") -> str:
    """A fresh user for one test (so tests never share sessions or sign-in failures)."""
    accounts.add_user(engine, name, role, PASSWORDS["ana"])
    return name


def _sign_in(app, name: str, address: str = "127.0.0.1", password: str | None = None):
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client, client.post(
        "/login", data={"name": name, "password": password or PASSWORDS["ana"], "csrf_token": token}
    )


def _copy_of(app, client):
    """A second client holding the same session cookie (a stolen or copied cookie)."""
    thief = app.server.test_client()
    thief.set_cookie("crisisrisk_session", client.get_cookie("crisisrisk_session").value)
    return thief


# --- #4 logout, password change and role change end sessions
def test_logout_ends_a_copied_session(app, engine):
    name = _user(engine, "sess-logout")
    client, resp = _sign_in(app, name)
    assert resp.status_code == 303
    thief = _copy_of(app, client)
    assert thief.get("/api/v1/jobs").status_code == 200  # the copy works while the user is signed in
    assert client.post("/logout", data={"csrf_token": csrf_of(client)}).status_code == 303
    resp = thief.get("/api/v1/jobs")
    assert resp.status_code == 401, "the copied cookie still works after logout"
    assert thief.get("/admin").status_code in (302, 303)  # the page redirects to the sign-in form


@pytest.mark.parametrize("change", ["password", "role", "disable"])
def test_password_role_change_and_disabling_end_sessions(app, engine, change):
    name = _user(engine, f"sess-{change}")
    client, _ = _sign_in(app, name)
    assert client.get("/api/v1/jobs").status_code == 200
    if change == "password":
        accounts.set_password(engine, name, "a-new-password-2")
    elif change == "role":
        accounts.set_role(engine, name, "admin")  # even a promotion: the session was issued for the old role
    else:
        accounts.set_disabled(engine, name, True)
    assert client.get("/api/v1/jobs").status_code == 401
    if change != "disable":  # signing in again works (with the new password)
        again, resp = _sign_in(app, name, password="a-new-password-2" if change == "password" else None)
        assert resp.status_code == 303 and again.get("/api/v1/jobs").status_code == 200


def test_cli_role_and_password_commands_end_sessions(app, engine, monkeypatch):
    from typer.testing import CliRunner

    from dashboard.cli import users_app as cli

    monkeypatch.setenv("CRISISRISK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    name = _user(engine, "sess-cli")
    client, _ = _sign_in(app, name)
    result = CliRunner().invoke(cli, ["role", name, "viewer"])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/regions").status_code == 401
    client, _ = _sign_in(app, name)
    result = CliRunner().invoke(cli, ["passwd", name, "--password-stdin"], input="another-password-3\n")
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/regions").status_code == 401
    assert accounts.authenticate(engine, name, "another-password-3") is not None
    actions = {(e["action"], e["target"]) for e in accounts.audit_entries(engine, 50)}
    assert ("user role", name) in actions and ("user passwd", name) in actions


# --- #5 bearer-token reads never write in the request path
class _WriteLock:
    """Hold the warehouse's write lock from a second connection, as a running ETL does."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.conn = None
        self.raw = None

    def __enter__(self):
        if self.engine.dialect.name == "sqlite":
            self.raw = sqlite3.connect(self.engine.url.database, timeout=1, isolation_level=None)
            self.raw.execute("BEGIN IMMEDIATE")
            self.raw.execute("UPDATE app_user SET created_at = created_at")  # a pending write, like a load
        else:  # PostgreSQL: a table lock that blocks every write to api_token but no read
            self.conn = self.engine.connect()
            self.conn.execute(text("LOCK TABLE api_token IN EXCLUSIVE MODE"))
        return self

    def __exit__(self, *exc) -> None:
        if self.raw is not None:
            self.raw.execute("ROLLBACK")
            self.raw.close()
        else:
            self.conn.rollback()
            self.conn.close()


def _last_used(engine, token_name: str):
    with engine.connect() as conn:
        return conn.execute(
            select(api_token.c.last_used_at).where(api_token.c.name == token_name)
        ).scalar_one()


def test_token_reads_answer_during_a_held_write_lock(app, engine):
    name = _user(engine, "token-reader")
    token = accounts.create_token(engine, name, "reader-token")
    client = app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    statuses = []
    with _WriteLock(engine):
        started = time.monotonic()
        for _ in range(12):
            statuses.append(client.get("/api/v1/regions?level=0", headers=headers).status_code)
            statuses.append(client.get("/api/v1/jobs", headers=headers).status_code)
        elapsed = time.monotonic() - started
        accounts.wait_for_token_touches()  # the background update gives up under the lock, logged, not raised
    assert statuses == [200] * len(statuses), statuses
    assert elapsed < 20, f"reads waited for the write lock ({elapsed:.1f} s)"
    assert _last_used(engine, "reader-token") is None  # nothing could be written while the lock was held
    # once the lock is gone the next request records the use, in the background
    assert client.get("/api/v1/jobs", headers=headers).status_code == 200
    accounts.wait_for_token_touches()
    first = _last_used(engine, "reader-token")
    assert first is not None
    # and it is not rewritten on every request: only when older than TOKEN_TOUCH_MINUTES
    for _ in range(3):
        assert client.get("/api/v1/jobs", headers=headers).status_code == 200
    accounts.wait_for_token_touches()
    assert _last_used(engine, "reader-token") == first


def test_principal_for_token_issues_no_write(engine, monkeypatch):
    """The request path of a token only reads; a recent last_used_at means no background update either."""
    name = _user(engine, "token-nowrite")
    token = accounts.create_token(engine, name, "nowrite-token")
    assert accounts.principal_for_token(engine, token) is not None
    accounts.wait_for_token_touches()
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self.name))
    from sqlalchemy import event

    writes = []

    def on_execute(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        assert accounts.principal_for_token(engine, token).role == "analyst"
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert writes == [] and started == []


# --- #8 the same scrypt work for known and unknown names
def test_unknown_and_known_names_cost_one_scrypt_each(engine, monkeypatch):
    name = _user(engine, "timing-known")
    calls = []
    real = hashlib.scrypt

    def counting(password, **kwargs):
        calls.append((kwargs["n"], kwargs["r"], kwargs["p"]))
        return real(password, **kwargs)

    monkeypatch.setattr(accounts.hashlib, "scrypt", counting)
    assert accounts.authenticate(engine, "no-such-user", "some-password-1") is None
    unknown = list(calls)
    calls.clear()
    assert accounts.authenticate(engine, name, "wrong-password-1") is None
    known = list(calls)
    calls.clear()
    assert accounts.authenticate(engine, name, PASSWORDS["ana"]) is not None
    assert unknown == known == calls == [(accounts.SCRYPT_N, accounts.SCRYPT_R, accounts.SCRYPT_P)]


# --- #9 sign-in limits per (name, address) and per address; admin unlock; trusted proxy
def _fail(app, name: str, times: int, address: str = "10.5.0.1", headers: dict | None = None):
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    codes = [
        client.post(
            "/login",
            headers=headers or {},
            data={"name": name, "password": "wrong-password-x", "csrf_token": token},
        ).status_code
        for _ in range(times)
    ]
    return client, token, codes


def test_failures_from_one_address_do_not_lock_the_name_elsewhere(app, engine):
    name = _user(engine, "limit-pair")
    other = _user(engine, "limit-other")
    attacker, token, codes = _fail(app, name, 6, address="10.5.0.1")
    assert codes == [401] * 5 + [429]
    resp = attacker.post("/login", data={"name": name, "password": PASSWORDS["ana"], "csrf_token": token})
    assert resp.status_code == 429  # the right password does not help from the attacking address
    assert _sign_in(app, name, address="10.5.0.2")[1].status_code == 303  # the user, from their own address
    assert _sign_in(app, other, address="10.5.0.1")[1].status_code == 303  # another user behind that address


def test_many_names_from_one_address_hit_the_address_limit(app, engine):
    from dashboard.auth import LOGIN_ADDRESS_LIMIT, LOGIN_LIMIT

    name = _user(engine, "limit-addr")
    names = [f"guess-{i}" for i in range(LOGIN_ADDRESS_LIMIT // (LOGIN_LIMIT - 1) + 1)]
    for guess in names:
        _fail(app, guess, LOGIN_LIMIT - 1, address="10.6.0.1")
    assert _sign_in(app, name, address="10.6.0.1")[1].status_code == 429
    assert _sign_in(app, name, address="10.6.0.2")[1].status_code == 303


def test_admin_unlocks_a_locked_user_by_api_and_cli(app, engine, monkeypatch):
    from typer.testing import CliRunner

    from dashboard.cli import users_app as cli

    name = _user(engine, "limit-unlock")
    _fail(app, name, 5, address="10.7.0.1")
    assert _sign_in(app, name, address="10.7.0.1")[1].status_code == 429
    analyst = login(app, "ana")
    assert (
        analyst.post(f"/api/v1/users/{name}/unlock", headers={"X-CSRFToken": csrf_of(analyst)}).status_code
        == 403
    )
    admin = login(app, "adam")
    resp = admin.post(f"/api/v1/users/{name}/unlock", headers={"X-CSRFToken": csrf_of(admin)})
    assert resp.status_code == 200 and resp.get_json()["failures_cleared"] == 5
    assert (
        admin.post("/api/v1/users/nobody-here/unlock", headers={"X-CSRFToken": csrf_of(admin)}).status_code
        == 404
    )
    assert _sign_in(app, name, address="10.7.0.1")[1].status_code == 303
    unlocks = [e for e in accounts.audit_entries(engine, 100) if e["action"] == "login unlock"]
    assert any(e["target"] == name and e["actor"] == "adam" for e in unlocks)
    # the CLI does the same
    _fail(app, name, 5, address="10.7.0.1")
    assert _sign_in(app, name, address="10.7.0.1")[1].status_code == 429
    monkeypatch.setenv("CRISISRISK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli, ["unlock", name])
    assert result.exit_code == 0, result.output
    assert _sign_in(app, name, address="10.7.0.1")[1].status_code == 303


def test_trusted_proxy_header_gives_each_client_its_own_limit(app, engine):
    name = _user(engine, "limit-proxy")
    # off by default: a client cannot choose its address by sending the header
    _fail(app, name, 5, address="10.8.0.1", headers={"X-Forwarded-For": "203.0.113.1"})
    assert _sign_in(app, name, address="10.8.0.1")[1].status_code == 429
    app.server.config.update(
        CRISISRISK_TRUSTED_PROXY_HEADER="X-Forwarded-For", CRISISRISK_TRUSTED_PROXY_HOPS=1
    )
    try:
        proxy = "10.8.0.9"  # every client arrives from the reverse proxy
        # what the client claims (leftmost) is ignored; the address the proxy appended counts
        _fail(app, name, 5, address=proxy, headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.5"})
        client, token, _ = _fail(app, name, 0, address=proxy)
        locked = client.post(
            "/login",
            headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.5"},
            data={"name": name, "password": PASSWORDS["ana"], "csrf_token": token},
        )
        assert locked.status_code == 429
        other = client.post(
            "/login",
            headers={"X-Forwarded-For": "203.0.113.6"},
            data={"name": name, "password": PASSWORDS["ana"], "csrf_token": token},
        )
        assert other.status_code == 303  # another client behind the same proxy signs in
        clients = {e["client"] for e in accounts.audit_entries(engine, 30) if e["target"] == name}
        assert "203.0.113.5" in clients and "198.51.100.7" not in clients
    finally:
        app.server.config.update(CRISISRISK_TRUSTED_PROXY_HEADER="", CRISISRISK_TRUSTED_PROXY_HOPS=1)


# --- #10 huge and negative ids
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/jobs/9223372036854775808"),
        ("GET", "/api/v1/uploads/99999999999999999999"),
        ("GET", "/api/v1/uploads/-1"),
        ("GET", "/api/v1/jobs/-5"),
        ("GET", "/api/v1/jobs/0"),
        ("POST", "/api/v1/uploads/-1/load"),
        ("POST", "/api/v1/uploads/99999999999999999999/load"),
        ("GET", "/api/v1/jobs/" + "9" * 5000),
    ],
)
def test_out_of_range_ids_answer_404_json(app, method, path):
    client = login(app, "ana")
    resp = client.open(path, method=method, headers={"X-CSRFToken": csrf_of(client)})
    assert resp.status_code == 404, (path[:60], resp.status_code, resp.data[:200])
    assert resp.get_json()["error"]["status"] == 404


def test_out_of_range_ids_still_need_credentials(app):
    assert app.server.test_client().get("/api/v1/jobs/9223372036854775808").status_code == 401


# --- #11 malformed Dash requests
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("null", 400),
        ("[]", 400),
        ("{}", 400),
        ("not json", 400),
        ('{"output": 5}', 400),
        (
            (
                '{"output": "nope.children", "outputs": {"id": "nope", "property": "children"}, "inputs": [],'
                ' "changedPropIds": []}'
            ),
            404,
        ),
        ("[" * 100_000 + "]" * 100_000, 400),
        (
            json.dumps(
                {
                    "output": "x.children",
                    "inputs": [{"id": "a", "property": "value", "value": json.loads("[" * 200 + "]" * 200)}],
                }
            ),
            400,
        ),
        ('{"output": "x.children", "inputs": "nope"}', 400),
    ],
)
def test_malformed_callback_requests_answer_4xx_without_traceback(app, body, status, caplog):
    client = login(app, "vera")
    with caplog.at_level(logging.WARNING):
        resp = client.post(
            "/_dash-update-component",
            data=body,
            content_type="application/json",
            headers={"X-CSRFToken": csrf_of(client)},
        )
    assert resp.status_code == status, (body[:60], resp.status_code, resp.data[:200])
    assert resp.get_json()["error"]["status"] == status
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert len([r for r in caplog.records if "malformed Dash callback" in r.getMessage()]) == 1


def test_malformed_callback_needs_credentials_first(app):
    resp = app.server.test_client().post(
        "/_dash-update-component", data="null", content_type="application/json"
    )
    assert resp.status_code == 401


@pytest.mark.parametrize(
    "path", ["/_dash-component-suites/nopkg/x.js", "/_dash-component-suites/dash/nofile.js"]
)
def test_unknown_component_bundle_answers_404(app, path, caplog):
    with caplog.at_level(logging.WARNING):
        resp = app.server.test_client().get(path)
    assert resp.status_code == 404
    assert not [r for r in caplog.records if r.exc_info]


# --- #13 OPTIONS, TRACE, blank parameters and the OpenAPI document agree
def test_options_and_unsupported_methods_list_the_real_methods(app):
    client = login(app, "ana")
    resp = client.options("/api/v1/retrain")
    assert resp.status_code == 204 and set(resp.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    for method in ("TRACE", "GET", "DELETE"):
        resp = client.open("/api/v1/retrain", method=method)
        assert resp.status_code == 405, method
        assert set(resp.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
        assert resp.get_json()["error"]["status"] == 405
    resp = client.open("/api/v1/regions", method="TRACE")
    assert resp.status_code == 405 and "GET" in resp.headers["Allow"] and "POST" not in resp.headers["Allow"]
    assert (
        client.post("/api/v1/no-such-endpoint", headers={"X-CSRFToken": csrf_of(client)}).status_code == 404
    )


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/predictions?region=%0C",
        "/api/v1/indicators?region=NGA&indicator=",
        "/api/v1/indicators?indicator=",
        "/api/v1/regions?parent=%20",
        "/api/v1/predictions?year=",
    ],
)
def test_blank_parameters_answer_400(app, query):
    resp = login(app, "vera").get(query)
    assert resp.status_code == 400 and "empty" in resp.get_json()["error"]["message"]


def test_openapi_documents_auth_errors_and_non_blank_strings(app):
    from dashboard.api import openapi_spec

    spec = openapi_spec()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path == "/health" or path == "/openapi.json":
                continue
            assert {"401", "403", "400"} <= set(op["responses"]), (method, path)
            for parameter in op.get("parameters", []):
                schema = parameter["schema"]
                if parameter["in"] == "query" and schema.get("type") == "string" and "enum" not in schema:
                    assert schema["minLength"] >= 1 and schema.get("pattern"), (path, parameter["name"])


# --- #14 CSP, HSTS, CORS
def test_pages_have_a_strict_csp_with_their_inline_scripts_hashed(app):
    import base64

    resp = login(app, "vera").get("/")
    assert resp.status_code == 200
    csp = dict(part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";"))
    assert (
        csp["default-src"] == "'self'"
        and csp["frame-ancestors"] == "'none'"
        and csp["object-src"] == "'none'"
    )
    script_src = csp["script-src"].split()
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "blob:" in csp["worker-src"] and {"data:", "blob:"} <= set(csp["img-src"].split())
    html = resp.get_data(as_text=True)
    inline = [
        m.group(2)
        for m in re.finditer(r"<script([^>]*)>(.*?)</script>", html, re.S)
        if "src=" not in m.group(1) and "application/json" not in m.group(1)
    ]
    assert any("DashRenderer" in body for body in inline)  # Dash's renderer start-up is inline
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    login_page = app.server.test_client().get("/login")
    assert "default-src 'self'" in login_page.headers["Content-Security-Policy"]


def test_hsts_only_over_https(app):
    client = app.server.test_client()
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert (
        "max-age=" in client.get("/login", base_url="https://localhost").headers["Strict-Transport-Security"]
    )
    app.server.config["CRISISRISK_HTTPS"] = True
    try:
        assert "Strict-Transport-Security" in client.get("/api/v1/health").headers
    finally:
        app.server.config["CRISISRISK_HTTPS"] = False


def test_cors_is_off_by_default_and_configurable(app):
    client = app.server.test_client()
    origin = {"Origin": "https://elsewhere.example"}
    resp = client.get("/api/v1/health", headers=origin)
    assert resp.status_code == 200 and "Access-Control-Allow-Origin" not in resp.headers
    app.server.config["CRISISRISK_CORS_ORIGINS"] = frozenset({"https://partner.example"})
    try:
        assert "Access-Control-Allow-Origin" not in client.get("/api/v1/health", headers=origin).headers
        resp = client.get("/api/v1/health", headers={"Origin": "https://partner.example"})
        assert resp.headers["Access-Control-Allow-Origin"] == "https://partner.example"
        assert "Origin" in resp.headers.get("Vary", "")
        pre = client.options(
            "/api/v1/regions",
            headers={"Origin": "https://partner.example", "Access-Control-Request-Method": "GET"},
        )
        assert (
            pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == "https://partner.example"
        )
        assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    finally:
        app.server.config["CRISISRISK_CORS_ORIGINS"] = frozenset()


def test_cors_origins_setting_is_read_from_the_environment(monkeypatch):
    from dashboard.api import _cors_origins

    monkeypatch.setenv("CRISISRISK_CORS_ORIGINS", "https://a.example/, https://b.example")
    assert _cors_origins(None) == {"https://a.example", "https://b.example"}
    monkeypatch.delenv("CRISISRISK_CORS_ORIGINS")
    assert _cors_origins(None) == frozenset()


# --- every CRISISRISK_ setting is documented
def test_every_setting_is_in_the_readme():
    from warehouse.config import PROJECT_ROOT

    used = set()
    for folder in ("etl", "dashboard", "models"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"CRISISRISK_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8")))
    used -= {
        n for n in used if n.startswith("CRISISRISK_FAULT_")
    }  # test-only fault injection (warehouse/faults.py)
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(CRISISRISK_[A-Z0-9_]+)`", readme))
    assert not sorted(
        used - documented
    ), f"settings missing from the README settings table: {sorted(used - documented)}"
