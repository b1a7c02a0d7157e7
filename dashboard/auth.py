"""Access control for the dashboard and the API: sessions, bearer tokens, roles, CSRF, login and logout.

Every request passes ``guard`` (a Flask ``before_request`` hook) before anything else runs, so an unknown
run id without credentials answers 401, never 404. The role a request needs comes from one place,
``required_role``:

- ``public``: static bundles, assets, the login/logout forms, ``/api/v1/health`` and the OpenAPI document;
- ``read``: read-only pages, their callbacks, geometry and GET API endpoints. Anonymous visitors get them
  only when ``CRISISRISK_PUBLIC_READ=true``; otherwise a ``viewer`` login is needed;
- ``viewer`` / ``analyst`` / ``admin``: at least that role. Dash pages declare it with
  ``dash.register_page(..., required_role="analyst")``, API views with ``@requires("analyst")``, Dash
  callbacks by writing a component whose id starts with ``admin-`` (analyst, and CSRF-checked).

A route that says nothing needs ``admin`` (fail closed); ``tests/test_access_control.py`` walks every
registered route and page, so a new route without an entry in its table fails the suite.

Sessions are Flask's signed cookies (``CRISISRISK_SECRET_KEY``): HttpOnly, SameSite=Lax, Secure over HTTPS.
The session holds the user name, the user's session epoch at sign-in and a CSRF token; the role and the
epoch are re-read from the database on every request, so a disabled user loses access at once and a
logout, password change or role change ends every session issued before (a copied cookie stops working). The
CSRF token is also sent in the ``_csrf_token``
cookie, which the Dash renderer echoes in the ``X-CSRFToken`` header of every callback request; forms carry
it in a hidden field. Bearer-token API calls are exempt (a browser never adds that header by itself).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, Response, current_app, g, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from markupsafe import escape

from warehouse import accounts, settings
from warehouse.accounts import Principal
from warehouse.schema import ROLES

log = logging.getLogger(__name__)

CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads (it sends the value as X-CSRFToken)
CSRF_HEADER = "X-CSRFToken"
CSRF_FIELD = "csrf_token"
SESSION_COOKIE = "crisisrisk_session"
SESSION_HOURS = 12
LOGIN_LIMIT = 5  # failed sign-ins for one name from one address ...
LOGIN_ADDRESS_LIMIT = 30  # ... or for any names from one address ...
LOGIN_WINDOW_MIN = (
    15  # ... in this many minutes, then 429 (an admin can unlock a name: `crisisrisk users unlock`)
)
STATE_CHANGING_PREFIX = "admin-"  # Dash callbacks writing these ids change state: analyst + CSRF
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# Routes that Flask, Dash or other modules register without a decorator. Anything not here and not
# declared with @requires needs admin (fail closed).
ROUTE_ROLES: dict[str, str] = {
    "static": "public",
    "_dash_assets.static": "public",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": "public",
    "/_favicon.ico": "public",
    "/_dash-layout": "read",
    "/_dash-dependencies": "read",
    "/_reload-hash": "read",
    "/_dash-update-component": "callback",  # read, or analyst for state-changing callbacks
    "/": "page",
    "/<path:path>": "page",
    "geometry.layer_geojson": "read",
}


class ConfigError(RuntimeError):
    """The app cannot start with this configuration (e.g. production without a secret key)."""


def requires(role: str) -> Callable:
    """Declare the role a Flask view needs: 'public', 'read', 'viewer', 'analyst' or 'admin'."""
    if role not in ("public", "read", *ROLES):
        raise ValueError(f"unknown role {role!r}")

    def mark(view):
        view.required_role = role
        return view

    return mark


class _Sessions(SecureCookieSessionInterface):
    """Signed-cookie sessions whose cookie is Secure when configured or when the request came over HTTPS."""

    def get_cookie_secure(self, app) -> bool:  # noqa: D102
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        from flask import has_request_context

        return bool(has_request_context() and request.is_secure)


# --- configuration ---------------------------------------------------------------------------------------
def _or_setting(configured: object, name: str) -> object:
    """The app config's value when given (tests, ``up``), else the declared setting's."""
    return settings.get(name) if configured is None else configured


def configure(server: Flask, cfg: dict, engine) -> None:
    """Secret key, cookie flags, request size limit, the guard and the login/logout routes."""
    try:
        env = str(cfg.get("env") or settings.get("CRISISRISK_ENV") or "development").strip().lower()
        secret = cfg.get("secret_key") or settings.get("CRISISRISK_SECRET_KEY")
        public_read = _or_setting(cfg.get("public_read"), "CRISISRISK_PUBLIC_READ")
        https = _or_setting(cfg.get("https"), "CRISISRISK_HTTPS")
        proxy_header = _or_setting(cfg.get("trusted_proxy_header"), "CRISISRISK_TRUSTED_PROXY_HEADER") or ""
        proxy_hops = _or_setting(cfg.get("trusted_proxy_hops"), "CRISISRISK_TRUSTED_PROXY_HOPS")
    except settings.SettingError as exc:  # a bad value stops the server with its name, not a traceback
        raise ConfigError(str(exc)) from None
    if not secret:
        if env == "production":
            raise ConfigError(
                "CRISISRISK_SECRET_KEY is not set. In production mode the dashboard needs a secret "
                "key to sign session cookies: set CRISISRISK_SECRET_KEY to a long random value "
                "(for example `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
                "or use --debug / CRISISRISK_ENV=development for a throw-away key."
            )
        secret = secrets.token_urlsafe(48)
        log.warning("no CRISISRISK_SECRET_KEY: using a random key; sessions end when this process stops")
    elif env == "production" and len(secret) < 16:
        raise ConfigError(
            "CRISISRISK_SECRET_KEY is too short; use at least 16 random characters (32+ recommended)"
        )
    from etl import uploads

    server.secret_key = secret
    server.session_interface = _Sessions()
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(https),
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
        # a Dash upload arrives base64-encoded inside JSON: 4/3 of the file plus the callback envelope
        MAX_CONTENT_LENGTH=int(uploads.MAX_UPLOAD_BYTES * 4 / 3) + (1 << 20),
        CRISISRISK_PUBLIC_READ=bool(public_read),
        CRISISRISK_ENV=env,
        CRISISRISK_HTTPS=bool(https),
        CRISISRISK_TRUSTED_PROXY_HEADER=str(proxy_header).strip(),
        CRISISRISK_TRUSTED_PROXY_HOPS=int(proxy_hops),
    )
    server.extensions["crisisrisk_engine"] = engine
    server.before_request(guard)
    server.after_request(_after)
    server.register_blueprint(login_blueprint())


def public_read() -> bool:
    return bool(current_app.config.get("CRISISRISK_PUBLIC_READ"))


def _engine():
    return current_app.extensions["crisisrisk_engine"]


def client_address() -> str:
    """The client's address: the socket peer, or, behind a configured trusted proxy, what that proxy saw.

    With ``CRISISRISK_TRUSTED_PROXY_HEADER=X-Forwarded-For`` and ``CRISISRISK_TRUSTED_PROXY_HOPS=N`` the N-th
    address from the right is used (each trusted proxy appends the peer it saw; entries further left are
    whatever the client claimed). Off by default: a client could otherwise pick its own address and escape
    the sign-in limit.
    """
    header = current_app.config.get("CRISISRISK_TRUSTED_PROXY_HEADER")
    if header:
        values = [v.strip() for v in ",".join(request.headers.getlist(header)).split(",") if v.strip()]
        hops = int(current_app.config.get("CRISISRISK_TRUSTED_PROXY_HOPS") or 1)
        if len(values) >= hops:
            return values[-hops][:80]
    return (request.remote_addr or "unknown")[:80]


# --- who is asking ------------------------------------------------------------------------------------------
def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def current_principal() -> Principal | None:
    """The user behind this request (session, or bearer token on the API); None when anonymous."""
    if "crisisrisk_principal" in g:
        return g.crisisrisk_principal
    principal = None
    g.crisisrisk_bad_token = False
    token = _bearer() if request.path.startswith("/api/") else None
    if token is not None:
        principal = accounts.principal_for_token(_engine(), token) if 0 < len(token) <= 200 else None
        g.crisisrisk_bad_token = principal is None
    elif session.get("user"):
        found = accounts.session_user(_engine(), session["user"])
        if found and found[1] == session.get("epoch", 0):
            principal = Principal(session["user"], found[0], "session", found[1])
        else:  # user removed or disabled, or the session was ended (logout, new password, new role)
            session.clear()
    g.crisisrisk_principal = principal
    return principal


def actor() -> str:
    principal = current_principal()
    return principal.name if principal else "anonymous"


def allowed(role: str) -> bool:
    """Whether the current request may do what needs ``role`` ('read' honours CRISISRISK_PUBLIC_READ)."""
    if role == "public" or (role == "read" and public_read()):
        return True
    principal = current_principal()
    if principal is None:
        return False
    return principal.allows("viewer" if role == "read" else role)


# --- what the request needs
def callback_payload():
    """The JSON body of a Dash callback request, or None when it is not JSON (deep nesting included)."""
    if "crisisrisk_callback_payload" not in g:
        try:
            g.crisisrisk_callback_payload = json.loads(request.get_data(cache=True) or b"null")
        except (ValueError, RecursionError):
            g.crisisrisk_callback_payload = None
    return g.crisisrisk_callback_payload


def _callback_outputs() -> list[str]:
    payload = callback_payload()
    if not isinstance(payload, dict):
        return []
    outputs = payload.get("outputs")
    items = outputs if isinstance(outputs, list) else [outputs]
    found = []
    for item in items:
        if isinstance(item, dict):
            ident = item.get("id")
            found.append(ident if isinstance(ident, str) else json.dumps(ident, sort_keys=True))
    output = payload.get("output")
    if isinstance(output, str):
        found.append(output.strip("."))
    return found


def state_changing_callback() -> bool:
    return any(
        o.startswith(STATE_CHANGING_PREFIX)
        or f"..{STATE_CHANGING_PREFIX}" in o
        or f"...{STATE_CHANGING_PREFIX}" in o
        for o in _callback_outputs()
    )


def page_role(path: str) -> str:
    """Role of a Dash page path: the ``required_role`` given to ``register_page``, else 'read'."""
    import dash

    clean = "/" + path.strip("/")
    for page in dash.page_registry.values():
        role = page.get("required_role")
        if role and (clean == page["path"] or clean.startswith(page["path"].rstrip("/") + "/")):
            return role
    return "read"


def required_role() -> str:
    """'public', 'read', 'viewer', 'analyst' or 'admin' for the current request."""
    rule = request.url_rule
    if rule is None:  # 404 or 405: reading needs 'read', anything else at least analyst ...
        from werkzeug.exceptions import MethodNotAllowed

        if isinstance(
            request.routing_exception, MethodNotAllowed
        ):  # ... except a wrong method on a public URL
            try:
                endpoint, _ = current_app.url_map.bind("localhost").match(request.path, method="GET")
            except Exception:  # noqa: BLE001 - no GET route there either
                endpoint = None
            if getattr(current_app.view_functions.get(endpoint), "required_role", None) == "public":
                return "public"
        return "read" if request.method in SAFE_METHODS else "analyst"
    view = current_app.view_functions.get(rule.endpoint)
    declared = getattr(view, "required_role", None)
    if declared:
        return declared
    kind = ROUTE_ROLES.get(rule.endpoint)
    if kind == "page":
        return page_role(request.path)
    if kind == "callback":
        return "analyst" if state_changing_callback() else "read"
    return kind or "admin"


def csrf_required() -> bool:
    if request.method in SAFE_METHODS:
        return False
    principal = current_principal()
    if principal is not None and principal.via == "token":
        return False  # bearer tokens are never sent by a browser on its own
    if principal is None and required_role() == "read":
        return (
            False  # anonymous under public read (e.g. POST /api/v1/scenarios): no credentials to forge with
        )
    rule = request.url_rule
    if rule is None:
        return False  # 404/405: no view runs, nothing can change
    if rule.endpoint == "/_dash-update-component":
        return state_changing_callback()
    return True


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok() -> bool:
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = request.form.get(CSRF_FIELD)
    return bool(expected and sent and hmac.compare_digest(str(expected), str(sent)))


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/_dash-", "/geo/"))


def deny(status: int, message: str) -> Response:
    """401/403/429 answer: JSON for the API and Dash requests, a login redirect or a page for browsers."""
    if _wants_json():
        body = json.dumps({"error": {"status": status, "message": message}})
        headers = {"WWW-Authenticate": 'Bearer realm="crisisrisk"'} if status == 401 else {}
        return Response(body, status=status, mimetype="application/json", headers=headers)
    if status == 401:
        return redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/?=&"))
    return Response(
        page("Not allowed", f"<p>{escape(message)}</p><p><a href='/'>Back to the map</a></p>"),
        status=status,
        mimetype="text/html",
    )


def guard():
    """before_request: authenticate, authorise, then check CSRF. Runs before routing errors and views."""
    if request.method == "OPTIONS":
        return None
    need = required_role()
    principal = current_principal()
    if g.get("crisisrisk_bad_token"):
        return deny(401, "invalid or revoked API token")
    if not allowed(need):
        if principal is None:
            return deny(
                401,
                "log in first: this needs the "
                f"{'viewer' if need == 'read' else need} role (session login at /login, or an API token "
                "in 'Authorization: Bearer <token>')",
            )
        if request.method not in SAFE_METHODS:
            accounts.audit(
                _engine(),
                principal.name,
                "access",
                "denied",
                request.path[:300],
                f"{request.method} needs {need}; user has {principal.role}",
                client_address(),
            )
        return deny(
            403, f"this needs the {need} role; you are signed in as {principal.name} ({principal.role})"
        )
    if csrf_required() and not csrf_ok():
        return deny(
            403,
            "CSRF token missing or wrong: reload the page (API clients: send the X-CSRFToken header "
            "with the session, or use a bearer token)",
        )
    return None


def _after(response: Response) -> Response:
    token = session.get("csrf")
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=False,
            samesite="Lax",
            secure=current_app.session_interface.get_cookie_secure(current_app),
            max_age=SESSION_HOURS * 3600,
        )
    elif not token and request.cookies.get(CSRF_COOKIE) and request.path in ("/logout",):
        response.delete_cookie(CSRF_COOKIE)
    security_headers(response)
    return response


# --- response headers: CSP, HSTS
# Inline scripts Dash writes into its page (the clientside-callback registry and ``new DashRenderer()``),
# found
# in the page itself; JSON data blocks (the Dash config) are not executed, so CSP does not apply to them.
_INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S | re.I)
_SRC_OR_DATA = re.compile(r"""\bsrc\s*=|\btype\s*=\s*["']?application/(?:json|ld\+json)""", re.I)
HSTS = "max-age=31536000; includeSubDomains"


def inline_script_hashes(html_text: str) -> list[str]:
    """CSP source expressions ('sha256-...') for each executable inline script of a page."""
    hashes = []
    for match in _INLINE_SCRIPT.finditer(html_text):
        if _SRC_OR_DATA.search(match.group("attrs")):
            continue
        digest = hashlib.sha256(match.group("body").encode("utf-8")).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return sorted(set(hashes))


def content_security_policy(script_hashes: list[str]) -> str:
    """The policy of every HTML page: only this server's scripts, plus the page's own hashed inline scripts.

    ``style-src 'unsafe-inline'``: Dash components and plotly.js write <style> elements and style attributes
    at
    run time (no nonce or hash can cover those); scripts, the real risk, stay strict. The map (MapLibre in
    plotly.js) runs its tile workers from blob: URLs and draws markers from data:/blob: images.
    """
    return "; ".join(
        [
            "default-src 'self'",
            "script-src " + " ".join(["'self'", *script_hashes]),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "child-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(response: Response) -> Response:
    """CSP and framing rules on pages, HSTS over HTTPS, nosniff everywhere."""
    if response.mimetype == "text/html":
        hashes = []
        if not response.direct_passthrough and not response.is_streamed:
            hashes = inline_script_hashes(response.get_data(as_text=True))
        response.headers["Content-Security-Policy"] = content_security_policy(hashes)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("CRISISRISK_HTTPS") or request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


# --- login and logout (server-rendered; they work without JavaScript)
def page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · crisisrisk</title><link rel="stylesheet" href="/assets/style.css"></head>
<body><header class="site-header"><div class="brand"><a class="brand-name brand-link" href="/">crisisrisk</a>
<span class="brand-tag">risk of <em>detected</em> trafficking in humanitarian crises</span></div></header>
<main class="page auth-page"><div class="card auth-card"><h1>{escape(title)}</h1>{body}</div></main>
</body></html>"""


def _safe_next(target: str | None) -> str:
    """Only local paths: no scheme, no host, no '//' or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target[:500]


def _login_form(message: str = "", name: str = "", status_class: str = "error") -> str:
    nxt = _safe_next(request.values.get("next"))
    msg = f"<p class='auth-message {status_class}' role='alert'>{escape(message)}</p>" if message else ""
    public = (
        "<p class='note'>The map and the other read-only pages are public; sign in for the admin page.</p>"
        if public_read()
        else "<p class='note'>Sign in to see the dashboard.</p>"
    )
    return msg + f"""<form method="post" action="/login" class="auth-form">
<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token())}">
<input type="hidden" name="next" value="{escape(nxt)}">
<label for="login-name">User name</label>
<input id="login-name" name="name" autocomplete="username" required maxlength="120"
 value="{escape(name)}" autofocus>
<label for="login-password">Password</label>
<input id="login-password" name="password" type="password" autocomplete="current-password" required
 maxlength="1024">
<button class="button" id="login-submit" type="submit">Sign in</button></form>{public}
<p class="note">Accounts are made on the server: <code>crisisrisk users add NAME --role analyst</code>.</p>"""


def login_blueprint() -> Blueprint:
    bp = Blueprint("auth", __name__)

    @bp.route("/login", methods=["GET", "POST"])
    @requires("public")
    def login():
        if request.method == "GET":
            principal = current_principal()
            note = f"You are signed in as {principal.name} ({principal.role})." if principal else ""
            if request.args.get("logged_out"):
                note = "You are signed out."
            return page("Sign in", _login_form(note, status_class="info"))
        name = (request.form.get("name") or "").strip()[:120]
        password = request.form.get("password") or ""
        engine = _engine()
        client = client_address()
        pair, address = accounts.login_failures(engine, name, client, LOGIN_WINDOW_MIN)
        if pair >= LOGIN_LIMIT or address >= LOGIN_ADDRESS_LIMIT:
            what = (
                f"{pair} for this name from your address"
                if pair >= LOGIN_LIMIT
                else f"{address} from your address"
            )
            accounts.audit(
                engine,
                name or "anonymous",
                "login",
                "refused",
                name,
                f"rate limited: {what} in {LOGIN_WINDOW_MIN} min",
                client,
            )
            return Response(
                page(
                    "Sign in",
                    _login_form(
                        f"Too many failed sign-ins ({what} in {LOGIN_WINDOW_MIN} minutes). Wait"
                        f" {LOGIN_WINDOW_MIN} minutes and try again, or ask an administrator to unlock your"
                        " name.",
                        name,
                    ),
                ),
                status=429,
                mimetype="text/html",
                headers={"Retry-After": str(LOGIN_WINDOW_MIN * 60)},
            )
        principal = accounts.authenticate(engine, name, password) if name and password else None
        if principal is None:
            accounts.audit(
                engine, name or "anonymous", "login", "denied", name, "wrong name or password", client
            )
            return Response(
                page("Sign in", _login_form("Wrong user name or password.", name)),
                status=401,
                mimetype="text/html",
            )
        session.clear()
        session.permanent = True
        session["user"] = principal.name
        session["epoch"] = principal.epoch
        session["csrf"] = secrets.token_urlsafe(32)
        session["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        accounts.audit(
            engine, principal.name, "login", "ok", principal.name, f"role {principal.role}", client
        )
        return redirect(_safe_next(request.form.get("next")), code=303)

    @bp.route("/logout", methods=["GET", "POST"])
    @requires("public")
    def logout():
        principal = current_principal()
        if request.method == "GET":
            if principal is None:
                return page("Sign out", "<p>You are not signed in. <a href='/login'>Sign in</a></p>")
            return page(
                "Sign out",
                f"""<p>Signed in as {escape(principal.name)} ({escape(principal.role)}).</p>
<form method="post" action="/logout"><input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token())}">
<button class="button" type="submit">Sign out</button></form>""",
            )
        if principal is not None and principal.via == "session":
            # the cookie may have been copied: end every session of this user on the server, not just this one
            accounts.end_sessions(_engine(), principal.name)
            accounts.audit(
                _engine(), principal.name, "logout", "ok", principal.name, "sessions ended", client_address()
            )
        session.clear()
        response = redirect("/login?logged_out=1", code=303)
        response.delete_cookie(CSRF_COOKIE)
        return response

    return bp


def require_dash(role: str = "analyst") -> Principal:
    """Inside a Dash callback: the principal, or raise PermissionError (the guard has already checked)."""
    principal = current_principal()
    if principal is None or not principal.allows(role):
        raise PermissionError(f"this needs the {role} role")
    return principal


def audit_here(action: str, outcome: str, target: str | None = None, detail: str | None = None) -> None:
    accounts.audit(_engine(), actor(), action, outcome, target, detail, client_address())
