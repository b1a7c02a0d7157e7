"""Access control, table-driven: every registered Flask route and every Dash page needs the role the tables
below say, for anonymous visitors, viewers, analysts and admins, with CRISISRISK_PUBLIC_READ off and on.

A route or page missing from the tables fails ``test_every_route_is_in_the_table`` (and its twin for pages),
so a new route cannot be added without deciding who may use it. Also here: 401 before 403 before 404,
CSRF, bearer tokens, login rate limiting, cookie flags and the production secret-key rule.
"""

from __future__ import annotations

import json
import re

import pytest

from dashboard import ids, static_assets
from tests.dashboard.workflow_app import (
    PASSWORDS,
    FakeTrainer,
    csrf_of,
    dash_callback,
    login,
    post_json,
    session_client,
    workflow_app,
)
from warehouse import accounts

ORDER = [None, "viewer", "analyst", "admin"]  # identities, lowest first
# a read callback (map page) and a state-changing one (admin page)
MAP_CALLBACK = dict(
    outputs=[(ids.MAP_GRAPH, "figure"), (ids.MAP_NOTE, "children"), (ids.MAP_RISERS, "children")],
    inputs=[
        (ids.MAP_YEAR, "value", 2020),
        (ids.MAP_METRIC, "value", "risk_score"),
        (ids.MAP_COUNTRY, "value", "__world__"),
    ],
)
ADMIN_CALLBACK = dict(
    outputs=[(ids.ADMIN_SOURCE_HELP, "children"), (ids.ADMIN_UPLOAD, "disabled")],
    inputs=[(ids.ADMIN_SOURCE, "value", "unhcr_population")],
)

# (rule, method) -> (needed role, request). Roles: public, read (viewer unless CRISISRISK_PUBLIC_READ),
# viewer,
# analyst, admin. A request is a path, or ("callback", spec) for a Dash callback.
ROUTES: dict[tuple[str, str], tuple[str, object]] = {
    ("/static/<path:filename>", "GET"): ("public", "/static/none.txt"),
    ("/assets/<path:filename>", "GET"): ("public", "/assets/style.css"),
    ("/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>", "GET"): (
        "public",
        "/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.12.1.min.js",
    ),
    ("/_favicon.ico", "GET"): ("public", "/_favicon.ico"),
    # issue 13 light first load: the vendored Plotly bundle at its content hash, and Dash's full-bundle URL
    # (a redirect to it); both static, so public like the other scripts
    ("/_static/<digest>/<path:name>", "GET"): (
        "public",
        static_assets.hashed_url(static_assets.STATIC_DIR / "vendor/plotly/plotly-crisisrisk.min.js"),
    ),
    (static_assets.DASH_PLOTLY_PATH, "GET"): ("public", static_assets.DASH_PLOTLY_PATH),
    ("/_dash-layout", "GET"): ("read", "/_dash-layout"),
    ("/_dash-dependencies", "GET"): ("read", "/_dash-dependencies"),
    ("/_reload-hash", "GET"): ("read", "/_reload-hash"),
    ("/_dash-update-component", "POST"): ("read", ("callback", MAP_CALLBACK)),
    ("/_dash-update-component", "POST", "admin"): ("analyst", ("callback", ADMIN_CALLBACK)),
    ("/", "GET"): ("read", "/"),
    ("/<path:path>", "GET"): ("read", "/priorities"),
    ("/geo/<version>/<layer>.geojson", "GET"): ("read", "/geo/v/countries.geojson"),
    ("/region/<region_id>/brief.pdf", "GET"): ("read", "/region/NGA/brief.pdf?lang=en"),  # issue 13 PDF brief
    ("/login", "GET"): ("public", "/login"),
    ("/login", "POST"): ("public", ("login",)),
    ("/logout", "GET"): ("public", "/logout"),
    ("/logout", "POST"): ("public", ("logout",)),
    ("/api/v1/health", "GET"): ("public", "/api/v1/health"),
    ("/api/v1/openapi.json", "GET"): ("public", "/api/v1/openapi.json"),
    ("/api/v1/regions", "GET"): ("read", "/api/v1/regions?level=0"),
    ("/api/v1/predictions", "GET"): ("read", "/api/v1/predictions?year=2020&limit=5"),
    ("/api/v1/pairs", "GET"): ("read", "/api/v1/pairs?citizenship=NGA&limit=5"),
    ("/api/v1/explanations", "GET"): ("read", "/api/v1/explanations?region=NGA"),
    ("/api/v1/indicators", "GET"): ("read", "/api/v1/indicators?region=NGA"),
    ("/api/v1/models", "GET"): ("read", "/api/v1/models"),
    ("/api/v1/models/<run_id>/compare", "GET"): ("read", "/api/v1/models/NO-SUCH-RUN/compare"),
    ("/api/v1/", "GET"): ("read", "/api/v1/"),
    ("/api/v1/<path:rest>", "GET"): ("read", "/api/v1/nothing-here"),
    ("/api/v1/uploads", "POST"): ("analyst", "/api/v1/uploads"),
    ("/api/v1/uploads", "GET"): ("analyst", "/api/v1/uploads"),
    ("/api/v1/uploads/<int:upload_id>", "GET"): ("analyst", "/api/v1/uploads/999999"),
    ("/api/v1/uploads/<int:upload_id>/load", "POST"): ("analyst", "/api/v1/uploads/999999/load"),
    ("/api/v1/retrain", "POST"): ("analyst", "/api/v1/retrain"),
    ("/api/v1/jobs", "GET"): ("analyst", "/api/v1/jobs"),
    ("/api/v1/jobs/<int:job_id>", "GET"): ("analyst", "/api/v1/jobs/999999"),
    ("/api/v1/jobs/<int:job_id>/cancel", "POST"): ("analyst", "/api/v1/jobs/999999/cancel"),
    ("/api/v1/models/<run_id>/promote", "POST"): ("analyst", "/api/v1/models/NO-SUCH-RUN/promote"),
    ("/api/v1/models/rollback", "POST"): ("analyst", "/api/v1/models/rollback"),
    ("/api/v1/audit", "GET"): ("admin", "/api/v1/audit"),
    ("/api/v1/users/<name>/unlock", "POST"): ("admin", "/api/v1/users/vera/unlock"),
    ("/api/v1/phases", "GET"): ("read", "/api/v1/phases"),
    ("/api/v1/scenarios/levers", "GET"): ("read", "/api/v1/scenarios/levers"),
    ("/api/v1/scenarios", "POST"): ("read", "/api/v1/scenarios"),
    ("/api/v1/scenarios/saved", "POST"): ("viewer", "/api/v1/scenarios/saved"),
    ("/api/v1/scenarios/saved", "GET"): ("viewer", "/api/v1/scenarios/saved"),
    ("/api/v1/scenarios/saved/<int:scenario_id>", "GET"): ("read", "/api/v1/scenarios/saved/999999"),
    ("/api/v1/alerts", "GET"): ("read", "/api/v1/alerts"),
    ("/api/v1/alerts.atom", "GET"): ("read", "/api/v1/alerts.atom"),
    ("/api/v1/alerts/<int:alert_id>/review", "POST"): ("analyst", "/api/v1/alerts/999999/review"),
    ("/api/v1/alerts/evaluate", "POST"): ("analyst", "/api/v1/alerts/evaluate"),
    ("/api/v1/alert-rules", "GET"): ("read", "/api/v1/alert-rules"),
    ("/api/v1/alert-rules", "POST"): ("analyst", "/api/v1/alert-rules"),
    ("/api/v1/alert-rules/<int:rule_id>", "POST"): ("analyst", "/api/v1/alert-rules/999999"),
    ("/api/v1/alert-subscriptions", "GET"): ("analyst", "/api/v1/alert-subscriptions"),
    ("/api/v1/alert-subscriptions", "POST"): ("analyst", "/api/v1/alert-subscriptions"),
    ("/api/v1/alert-subscriptions/<int:subscription_id>/delete", "POST"): (
        "analyst",
        "/api/v1/alert-subscriptions/999999/delete",
    ),
    ("/api/v1/alert-webhooks", "GET"): ("admin", "/api/v1/alert-webhooks"),
    ("/api/v1/alert-webhooks", "POST"): ("admin", "/api/v1/alert-webhooks"),
    ("/api/v1/alert-webhooks/<int:webhook_id>/disable", "POST"): (
        "admin",
        "/api/v1/alert-webhooks/999999/disable",
    ),
}
# Dash pages: registry path -> (needed role, a path to request)
PAGES = {
    "/": ("read", "/"),
    "/region/none": ("read", "/region/NGA"),
    "/priorities": ("read", "/priorities"),
    "/model": ("read", "/model"),
    "/data": ("read", "/data"),
    "/admin": ("analyst", "/admin"),
    "/phases": ("read", "/phases"),
    "/scenarios": ("read", "/scenarios"),
    "/alerts": ("read", "/alerts"),
    "/glossary": ("read", "/glossary"),
    "/not-found-404": ("read", "/no-such-page"),
}
RANK = {None: 0, "viewer": 1, "analyst": 2, "admin": 3}


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        trainer = FakeTrainer()
        mp.setattr("dashboard.workflows.train", trainer)
        with workflow_app(tmp_path_factory.mktemp("access")) as (app, engine):
            yield app, engine


@pytest.fixture(scope="module")
def clients(app_env):
    app, _ = app_env
    return {role: session_client(app, role) for role in ORDER}


@pytest.fixture
def public_read(app_env):
    app, _ = app_env

    def set_(value: bool) -> None:
        app.server.config["CRISISRISK_PUBLIC_READ"] = value

    yield set_
    app.server.config["CRISISRISK_PUBLIC_READ"] = False


def needed_rank(role: str, public: bool) -> int:
    if role == "public" or (role == "read" and public):
        return 0
    return RANK["viewer" if role == "read" else role]


def send(client, method: str, request, app=None, identity=None):
    if isinstance(request, tuple) and request[0] == "callback":
        return dash_callback(client, **request[1])
    if isinstance(request, tuple):  # login / logout: a fresh client, so the shared sessions stay signed in
        fresh = session_client(app, identity) if request[0] == "logout" else app.server.test_client()
        fresh.environ_base["REMOTE_ADDR"] = "10.1.1.1"
        page = fresh.get("/login").data.decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        if request[0] == "login":
            return fresh.post(
                "/login", data={"name": "adam", "password": PASSWORDS["adam"], "csrf_token": token}
            )
        return fresh.post("/logout", data={"csrf_token": token})
    if method == "GET":
        return client.get(request)
    return post_json(client, request)


def denied(resp) -> bool:
    if resp.status_code in (401, 403):
        return True
    return resp.status_code in (302, 303) and "/login?next=" in resp.headers.get("Location", "")


def test_every_route_is_in_the_table(app_env):
    app, _ = app_env
    missing = []
    for rule in app.server.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (rule.rule, method) not in ROUTES:
                missing.append((rule.rule, method))
    assert not missing, f"routes without an access rule in tests/test_access_control.py ROUTES: {missing}"


def test_every_dash_page_is_in_the_table(app_env):
    import dash

    paths = {page["path"] for page in dash.page_registry.values()}
    assert paths == set(PAGES), f"pages missing from PAGES: {paths - set(PAGES)}; stale: {set(PAGES) - paths}"


@pytest.mark.parametrize("public", [False, True], ids=["private", "public_read"])
@pytest.mark.parametrize("key", list(ROUTES), ids=lambda k: " ".join(k))
def test_route_needs_its_role(app_env, clients, public_read, key, public):
    role, request = ROUTES[key]
    public_read(public)
    need = needed_rank(role, public)
    for identity in ORDER:
        resp = send(clients[identity], key[1], request, app_env[0], identity)
        if (
            request == ("logout",) and identity is not None
        ):  # logout ends every session of the user (issue 9 #4)
            clients[identity] = session_client(app_env[0], identity)
        assert resp.status_code != 500, (key, identity, resp.data[:300])
        if RANK[identity] < need:
            assert denied(resp), (key, identity, resp.status_code, resp.data[:200])
            if key[0].startswith("/api/") and identity is None:
                assert resp.status_code == 401 and resp.get_json()["error"]["status"] == 401
            if identity is not None:
                assert resp.status_code == 403, (key, identity, resp.status_code)
        else:
            assert not denied(resp), (key, identity, resp.status_code, resp.data[:200])


@pytest.mark.parametrize("public", [False, True], ids=["private", "public_read"])
@pytest.mark.parametrize("registry_path", list(PAGES))
def test_dash_page_needs_its_role(app_env, clients, public_read, registry_path, public):
    """Both the server-side GET and the page content rendered by the router callback (client-side
    navigation)."""
    role, path = PAGES[registry_path]
    public_read(public)
    need = needed_rank(role, public)
    for identity in ORDER:
        client = clients[identity]
        get = client.get(path)
        rendered = dash_callback(
            client,
            outputs=[("_pages_content", "children"), ("_pages_store", "data")],
            inputs=[("_pages_location", "pathname", path), ("_pages_location", "search", "")],
        )
        if RANK[identity] < need:
            assert denied(get), (path, identity, get.status_code)
            assert denied(rendered) or "Analysts only" in rendered.data.decode(), (path, identity)
        else:
            assert get.status_code == 200 and b"_dash-config" in get.data, (path, identity, get.status_code)
            assert rendered.status_code == 200, (path, identity, rendered.data[:200])
            assert "Analysts only" not in rendered.data.decode()


def test_admin_link_only_for_analysts(app_env, clients, public_read):
    public_read(True)
    layouts = {who: json.dumps(clients[who].get("/_dash-layout").get_json()) for who in ORDER}
    link = '"children": "Admin", "href": "/admin"'
    assert link not in layouts[None] and link not in layouts["viewer"]
    assert link in layouts["analyst"] and link in layouts["admin"]
    assert "Sign in" in layouts[None] and "ana \\u00b7 analyst" in layouts["analyst"]


def test_unauthenticated_before_forbidden_before_not_found(app_env, clients):
    app, engine = app_env
    path = "/api/v1/models/NO-SUCH-RUN/promote"
    assert post_json(clients[None], path).status_code == 401
    assert clients[None].post(path, headers={"Authorization": "Bearer crk_not-a-token"}).status_code == 401
    assert post_json(clients["viewer"], path).status_code == 403
    resp = post_json(clients["analyst"], path)
    assert resp.status_code == 404 and "unknown run" in resp.get_json()["error"]["message"]
    # bearer tokens carry their user's role
    viewer_token = accounts.create_token(engine, "vera", "t-viewer")
    analyst_token = accounts.create_token(engine, "ana", "t-analyst")
    client = app.server.test_client()
    assert client.post(path, headers={"Authorization": f"Bearer {viewer_token}"}).status_code == 403
    assert client.post(path, headers={"Authorization": f"Bearer {analyst_token}"}).status_code == 404
    accounts.revoke_token(engine, "t-analyst")
    resp = client.post(path, headers={"Authorization": f"Bearer {analyst_token}"})
    assert resp.status_code == 401 and "revoked" in resp.get_json()["error"]["message"]
    # an unknown API path with POST: still 401 first
    assert clients[None].post("/api/v1/no/such/thing").status_code == 401


def test_csrf_is_required_for_session_posts(app_env, clients):
    app, engine = app_env
    analyst = clients["analyst"]
    token = csrf_of(analyst)
    assert token
    for headers in ({}, {"X-CSRFToken": "wrong"}):
        resp = analyst.post("/api/v1/models/rollback", headers=headers)
        assert resp.status_code == 403 and "CSRF" in resp.get_json()["error"]["message"]
    # Dash state-changing callback without the header: refused; read callbacks do not need it
    assert dash_callback(analyst, **ADMIN_CALLBACK, csrf=False).status_code == 403
    assert dash_callback(analyst, **ADMIN_CALLBACK).status_code == 200
    assert dash_callback(analyst, **MAP_CALLBACK, csrf=False).status_code == 200
    # form posts: logout without the token does not log out
    assert analyst.post("/logout").status_code == 403
    assert analyst.get("/api/v1/jobs").status_code == 200
    # a bearer token needs no CSRF token
    bearer = accounts.create_token(engine, "ana", "t-csrf")
    resp = app.server.test_client().post(
        "/api/v1/models/NO-SUCH-RUN/promote", headers={"Authorization": f"Bearer {bearer}"}
    )
    assert resp.status_code == 404
    # the login form itself is CSRF-protected
    fresh = app.server.test_client()
    fresh.get("/login")
    assert fresh.post("/login", data={"name": "ana", "password": "analyst-password-1"}).status_code == 403


def test_login_failures_are_rate_limited(app_env):
    app, engine = app_env
    accounts.add_user(engine, "rita", "analyst", "rita-password-1")
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    for _ in range(5):
        resp = client.post("/login", data={"name": "rita", "password": "wrong-password", "csrf_token": token})
        assert resp.status_code == 401 and b"Wrong user name or password" in resp.data
    resp = client.post("/login", data={"name": "rita", "password": "rita-password-1", "csrf_token": token})
    assert resp.status_code == 429 and b"Too many failed sign-ins" in resp.data
    assert resp.headers["Retry-After"] == "900"
    # the limit is per (name, address): rita at her own address is not locked out by these failures (issue 9
    # #9)
    log = [e for e in accounts.audit_entries(engine, 50) if e["action"] == "login" and e["target"] == "rita"]
    assert sum(e["outcome"] == "denied" for e in log) == 5
    login(app, "rita", "rita-password-1", address="10.9.9.10")
    assert any(e["outcome"] == "refused" and "rate limited" in e["detail"] for e in log)


def test_login_logout_and_cookie_flags(app_env):
    app, engine = app_env
    fresh = app.server.test_client()
    resp = fresh.get("/login")
    token = csrf_of(fresh)
    resp = fresh.post(
        "/login",
        data={
            "name": "ana",
            "password": "analyst-password-1",
            "csrf_token": token,
            "next": "https://evil.example/",
        },
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/"  # no open redirect
    session_cookie = next(
        h for h in resp.headers.getlist("Set-Cookie") if h.startswith("crisisrisk_session=")
    )
    assert (
        "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie and "Secure" not in session_cookie
    )
    # over HTTPS the cookie is Secure
    secure = app.server.test_client()
    secure.get("/login", base_url="https://localhost")
    tok = csrf_of(secure)
    resp = secure.post(
        "/login",
        base_url="https://localhost",
        data={"name": "ana", "password": "analyst-password-1", "csrf_token": tok},
    )
    assert any(
        h.startswith("crisisrisk_session=") and "Secure" in h for h in resp.headers.getlist("Set-Cookie")
    )
    # logout with the token ends the session
    resp = fresh.post("/logout", data={"csrf_token": csrf_of(fresh)})
    assert resp.status_code == 303
    assert fresh.get("/api/v1/jobs").status_code == 401
    actions = [(e["action"], e["outcome"]) for e in accounts.audit_entries(engine, 30) if e["actor"] == "ana"]
    assert ("login", "ok") in actions and ("logout", "ok") in actions
    # html pages refuse to be framed
    assert app.server.test_client().get("/login").headers["X-Frame-Options"] == "DENY"


def test_disabled_user_loses_access_at_once(app_env):
    from sqlalchemy import update

    from warehouse.schema import app_user

    app, engine = app_env
    accounts.add_user(engine, "dora", "analyst", "dora-password-1")
    client = login(app, "dora", "dora-password-1")
    assert client.get("/api/v1/jobs").status_code == 200
    with engine.begin() as conn:
        conn.execute(update(app_user).where(app_user.c.name == "dora").values(disabled=True))
    assert client.get("/api/v1/jobs").status_code == 401


def test_production_needs_a_secret_key(tmp_path, monkeypatch):
    from dashboard.app import create_app
    from dashboard.auth import ConfigError
    from tests.dashboard.workflow_app import saved_dash_pages
    from warehouse.db import make_engine

    monkeypatch.delenv("CRISISRISK_SECRET_KEY", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    with saved_dash_pages():
        with pytest.raises(ConfigError, match="CRISISRISK_SECRET_KEY is not set"):
            create_app(engine, {"env": "production"})
        app = create_app(engine, {"env": "production", "secret_key": "x" * 40})
        assert app.server.secret_key == "x" * 40


def test_serve_refuses_to_start_without_a_secret_in_production(tmp_path, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from dashboard.cli import register

    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)

    monkeypatch.delenv("CRISISRISK_SECRET_KEY", raising=False)
    monkeypatch.delenv("CRISISRISK_ENV", raising=False)
    monkeypatch.setenv("CRISISRISK_DATABASE_URL", f"sqlite:///{tmp_path / 's.sqlite'}")
    from tests.dashboard.workflow_app import saved_dash_pages

    with saved_dash_pages():
        result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "CRISISRISK_SECRET_KEY is not set" in result.output and "Traceback" not in result.output
