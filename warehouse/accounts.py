"""Users, roles, API tokens and the audit log, stored in the warehouse.

Passwords are hashed with werkzeug's scrypt (``scrypt:32768:8:1$salt$hash``); hashes written by the earlier
hand-rolled code (``scrypt$32768$8$1$salthex$hashhex``) still verify and are rewritten in werkzeug's format at
the
next successful sign-in. API tokens are random and only their SHA-256 is stored. Every analyst action is
written to ``audit_log`` with who, what, when and the outcome.

Sessions are signed cookies that carry the user's ``session_epoch`` from sign-in; logout, a password change, a
role
change and disabling raise the epoch, which ends every session issued before (a cookie cannot be recalled).
Failed sign-ins are counted from the audit log per (name, address) and, with a higher limit, per address; an
admin's ``unlock`` (also an audit entry) makes earlier failures for a name stop counting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, exists, func, not_, or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.security import check_password_hash, generate_password_hash

from warehouse.io import inserted_id
from warehouse.schema import ROLES, api_token, app_user, audit_log

log = logging.getLogger(__name__)

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
HASH_METHOD = f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}"  # werkzeug's method string (its default today)
LEGACY_PREFIX = "scrypt$"  # hashes of the hand-rolled code before werkzeug: scrypt$N$r$p$salthex$hashhex
MIN_PASSWORD_LENGTH = 10
ROLE_RANK = {role: i for i, role in enumerate(ROLES)}
TOKEN_PREFIX = "crk_"
TOKEN_TOUCH_LOCK_TIMEOUT_MS = 2000  # a background last-use update waits no longer for a lock
TOKEN_TOUCH_MINUTES = 5  # last_used_at is refreshed at most this often, off the request path
# Unknown users are checked against this hash, so a sign-in costs one scrypt whether the name exists or not
# (the digest matches no password; the parameters are those of real hashes).
_DUMMY_HASH = f"{HASH_METHOD}${'Z' * 16}${'00' * 64}"


class AccountError(ValueError):
    """Bad account request (unknown role, weak password, duplicate name)."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user (session) or a user's API token."""

    name: str
    role: str
    via: str  # session | token
    epoch: int = 0  # the user's session epoch when authenticated (sessions store it)

    def allows(self, needed: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]


def hash_password(password: str) -> str:
    """werkzeug's scrypt hash with a random 16-character salt: ``scrypt:32768:8:1$salt$hash``."""
    return generate_password_hash(password, method=HASH_METHOD)


def verify_password(password: str, stored: str) -> bool:
    """True when the password matches a werkzeug hash or a legacy ``scrypt$`` one; malformed hashes never
    match."""
    if stored.startswith(LEGACY_PREFIX):
        return _verify_legacy(password, stored)
    try:
        return check_password_hash(stored, password)
    except (ValueError, TypeError):  # malformed or unknown method: no match, never a traceback at sign-in
        return False


def needs_rehash(stored: str) -> bool:
    """A hash not written with today's method and parameters (legacy format, or older werkzeug parameters)."""
    return not stored.startswith(HASH_METHOD + "$")


def _verify_legacy(password: str, stored: str) -> bool:
    """The hand-rolled format: hex salt used as bytes, digest length from the stored hex (32 bytes)."""
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        calc = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=2**26,
            dklen=len(digest) // 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(calc.hex(), digest)


def add_user(engine: Engine, name: str, role: str, password: str) -> int:
    """Create a user; the password must be at least 10 characters."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not '{role}'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    name = name.strip()
    if len(name) < 2:
        raise AccountError("user name must have at least 2 characters")
    with engine.begin() as conn:
        if conn.execute(select(app_user.c.user_id).where(app_user.c.name == name)).first():
            raise AccountError(f"user '{name}' already exists")
        return inserted_id(
            conn.execute(
                app_user.insert().values(
                    name=name,
                    role=role,
                    password_hash=hash_password(password),
                    created_at=dt.datetime.now(dt.UTC),
                    disabled=False,
                )
            )
        )


def authenticate(engine: Engine, name: str, password: str) -> Principal | None:
    """Check a name and password: exactly one scrypt for known and unknown names (no timing oracle)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(app_user).where(app_user.c.name == name, app_user.c.disabled.is_(False))
        ).first()
    if row is None:
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, row.password_hash):
        return None
    if needs_rehash(row.password_hash):
        _rehash(engine, row.name, row.password_hash, password)
    return Principal(row.name, row.role, "session", int(row.session_epoch or 0))


def _rehash(engine: Engine, name: str, old_hash: str, password: str) -> None:
    """Rewrite an old-format hash after a successful sign-in (one extra scrypt, once per user).

    Only replaces the hash it verified, so a password changed meanwhile is kept; the session epoch is not
    raised (the password did not change). A failed write (a held lock during an ETL) only delays the upgrade.
    """
    new_hash = hash_password(password)  # before the transaction: no write lock held during scrypt
    try:
        with engine.begin() as conn:
            conn.execute(
                update(app_user)
                .where(app_user.c.name == name, app_user.c.password_hash == old_hash)
                .values(password_hash=new_hash)
            )
    except SQLAlchemyError as exc:
        log.warning(
            "could not upgrade the password hash of '%s' (%s); the next sign-in retries",
            name,
            type(exc).__name__,
        )


def user_role(engine: Engine, name: str) -> str | None:
    found = session_user(engine, name)
    return found[0] if found else None


def session_user(engine: Engine, name: str) -> tuple[str, int] | None:
    """(role, session epoch) of an enabled user, None when unknown or disabled; read on every session
    request."""
    with engine.connect() as conn:
        row = conn.execute(
            select(app_user.c.role, app_user.c.session_epoch).where(
                app_user.c.name == name, app_user.c.disabled.is_(False)
            )
        ).first()
    return (row.role, int(row.session_epoch or 0)) if row else None


def end_sessions(engine: Engine, name: str) -> bool:
    """Raise the user's session epoch: every session cookie issued before stops working. False if unknown."""
    with engine.begin() as conn:
        return _bump_epoch(conn, name) > 0


def _bump_epoch(conn: Connection, name: str, **values: object) -> int:
    return conn.execute(
        update(app_user)
        .where(app_user.c.name == name)
        .values(session_epoch=app_user.c.session_epoch + 1, **values)
    ).rowcount


def set_password(engine: Engine, name: str, password: str) -> None:
    """Replace a user's password and end their sessions (a stolen cookie dies with the old password)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    with engine.begin() as conn:
        if not _bump_epoch(conn, name, password_hash=hash_password(password)):
            raise AccountError(f"unknown user '{name}'")


def set_role(engine: Engine, name: str, role: str) -> None:
    """Change a user's role and end their sessions, so no page rendered for the old role stays usable."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not '{role}'")
    with engine.begin() as conn:
        if not _bump_epoch(conn, name, role=role):
            raise AccountError(f"unknown user '{name}'")


def set_disabled(engine: Engine, name: str, disabled: bool) -> None:
    """Disable (or enable) a user; disabling ends their sessions and their tokens stop working."""
    with engine.begin() as conn:
        if not _bump_epoch(conn, name, disabled=disabled):
            raise AccountError(f"unknown user '{name}'")


def create_token(engine: Engine, user_name: str, token_name: str) -> str:
    """Create an API token for a user; the plain token is returned once and never stored."""
    with engine.begin() as conn:
        user_id = conn.execute(select(app_user.c.user_id).where(app_user.c.name == user_name)).scalar()
        if user_id is None:
            raise AccountError(f"unknown user '{user_name}'")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        conn.execute(
            api_token.insert().values(
                user_id=user_id,
                name=token_name,
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                created_at=dt.datetime.now(dt.UTC),
                revoked=False,
            )
        )
    return token


def principal_for_token(engine: Engine, token: str) -> Principal | None:
    """The user behind a bearer token. Only reads: a held write lock (an ETL) never fails the request.

    ``last_used_at`` is refreshed in the background when older than ``TOKEN_TOUCH_MINUTES``.
    """
    digest = hashlib.sha256(token.encode()).hexdigest()
    with engine.connect() as conn:
        row = conn.execute(
            select(
                api_token.c.token_id,
                api_token.c.name,
                api_token.c.last_used_at,
                app_user.c.name.label("user"),
                app_user.c.role,
            )
            .join(app_user, app_user.c.user_id == api_token.c.user_id)
            .where(
                api_token.c.token_hash == digest,
                api_token.c.revoked.is_(False),
                app_user.c.disabled.is_(False),
            )
        ).first()
    if row is None:
        return None
    now = dt.datetime.now(dt.UTC)
    last = row.last_used_at
    if last is not None and last.tzinfo is None:  # SQLite returns naive UTC
        last = last.replace(tzinfo=dt.UTC)
    if last is None or now - last > dt.timedelta(minutes=TOKEN_TOUCH_MINUTES):
        _touch_token_later(engine, row.token_id, now)
    return Principal(f"{row.user} (token {row.name})", row.role, "token")


_TOUCHES: dict[int, threading.Thread] = {}
_TOUCH_LOCK = threading.Lock()


def _touch_token_later(engine: Engine, token_id: int, now: dt.datetime) -> None:
    """Record a token's use in a background thread (one per token at a time); the request does not wait."""
    with _TOUCH_LOCK:
        if token_id in _TOUCHES:
            return
        thread = threading.Thread(
            target=_touch_token, args=(engine, token_id, now), daemon=True, name=f"token-touch-{token_id}"
        )
        _TOUCHES[token_id] = thread
    thread.start()


def _touch_token(engine: Engine, token_id: int, now: dt.datetime) -> None:
    stale = now - dt.timedelta(minutes=TOKEN_TOUCH_MINUTES)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # give up under a held lock, like SQLite
                conn.execute(text(f"SET LOCAL lock_timeout = '{TOKEN_TOUCH_LOCK_TIMEOUT_MS}ms'"))
            conn.execute(
                update(api_token)
                .where(
                    api_token.c.token_id == token_id,
                    or_(api_token.c.last_used_at.is_(None), api_token.c.last_used_at < stale),
                )
                .values(last_used_at=now)
            )
    except SQLAlchemyError as exc:  # e.g. 'database is locked' during an ETL: retried on a later request
        log.warning(
            "could not record the use of API token %s (%s); a later request retries",
            token_id,
            type(exc).__name__,
        )
    finally:
        with _TOUCH_LOCK:
            _TOUCHES.pop(token_id, None)


def wait_for_token_touches(timeout: float = 30.0) -> None:
    """Wait for pending last-use updates (tests, and a clean shutdown)."""
    with _TOUCH_LOCK:
        threads = list(_TOUCHES.values())
    for thread in threads:
        thread.join(timeout)


def revoke_token(engine: Engine, token_name: str) -> int:
    with engine.begin() as conn:
        return conn.execute(
            update(api_token).where(api_token.c.name == token_name).values(revoked=True)
        ).rowcount


def audit(
    engine: Engine,
    actor: str,
    action: str,
    outcome: str,
    target: str | None = None,
    detail: str | None = None,
    client: str | None = None,
) -> None:
    """Record who did what, when, and how it ended."""
    with engine.begin() as conn:
        conn.execute(
            audit_log.insert().values(
                at=dt.datetime.now(dt.UTC),
                actor=actor[:120],
                action=action[:60],
                target=(target or "")[:300] or None,
                outcome=outcome,
                detail=(detail or "")[:4000] or None,
                client=(client or "")[:80] or None,
            )
        )


UNLOCK_ACTION = "login unlock"


def login_failures(engine: Engine, name: str, client: str | None, minutes: int = 15) -> tuple[int, int]:
    """Failed sign-ins in the last minutes: (for this name from this address, from this address for any name).

    A failure stops counting once an admin has unlocked its name after it (``unlock_login``). Counting per
    (name, address) means a stranger's wrong guesses never lock a user out from their own address.
    """
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
    unlock = audit_log.alias("unlock")
    unlocked_later = exists().where(
        unlock.c.action == UNLOCK_ACTION,
        unlock.c.outcome == "ok",
        unlock.c.target == audit_log.c.target,
        unlock.c.at >= audit_log.c.at,
    )
    failed = and_(
        audit_log.c.action == "login",
        audit_log.c.outcome == "denied",
        audit_log.c.at >= since,
        not_(unlocked_later),
    )
    client = client or "unknown"
    with engine.connect() as conn:
        pair = conn.execute(
            select(func.count()).where(failed, audit_log.c.target == name, audit_log.c.client == client)
        ).scalar_one()
        address = conn.execute(select(func.count()).where(failed, audit_log.c.client == client)).scalar_one()
    return int(pair), int(address)


def unlock_login(engine: Engine, name: str, actor: str, client: str | None = None) -> int:
    """Let a locked-out user sign in again: earlier failures for the name stop counting. Audited.

    Returns how many failures of the last day were cleared; an unknown user is an :class:`AccountError`.
    """
    with engine.connect() as conn:
        if conn.execute(select(app_user.c.user_id).where(app_user.c.name == name)).first() is None:
            raise AccountError(f"unknown user '{name}'")
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        cleared = conn.execute(
            select(func.count()).where(
                audit_log.c.action == "login",
                audit_log.c.outcome == "denied",
                audit_log.c.target == name,
                audit_log.c.at >= since,
            )
        ).scalar_one()
    audit(
        engine,
        actor,
        UNLOCK_ACTION,
        "ok",
        name,
        f"sign-in failures of the last day no longer count ({cleared})",
        client,
    )
    return int(cleared)


def audit_entries(engine: Engine, limit: int = 200) -> list[dict]:
    with engine.connect() as conn:
        rows = (
            conn.execute(select(audit_log).order_by(audit_log.c.audit_id.desc()).limit(limit))
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]
