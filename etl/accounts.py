"""Users, roles, API tokens and the audit log, stored in the warehouse.

Passwords are hashed with scrypt (memory-hard KDF from the standard library); API tokens are random and only
their SHA-256 is stored. Every analyst action is written to ``audit_log`` with who, what, when and the outcome.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, update

from etl.schema import ROLES, api_token, app_user, audit_log

log = logging.getLogger(__name__)

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD_LENGTH = 10
ROLE_RANK = {role: i for i, role in enumerate(ROLES)}
TOKEN_PREFIX = "crk_"


class AccountError(ValueError):
    """Bad account request (unknown role, weak password, duplicate name)."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user (session) or a user's API token."""

    name: str
    role: str
    via: str  # session | token

    def allows(self, needed: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=2**26, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        calc = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                              maxmem=2**26, dklen=len(digest) // 2)
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
        return conn.execute(app_user.insert().values(
            name=name, role=role, password_hash=hash_password(password), created_at=dt.datetime.now(dt.UTC),
            disabled=False)).inserted_primary_key[0]


def authenticate(engine: Engine, name: str, password: str) -> Principal | None:
    """Check a name and password; constant-time comparison, same cost for unknown users."""
    with engine.connect() as conn:
        row = conn.execute(select(app_user).where(app_user.c.name == name, app_user.c.disabled.is_(False))).first()
    if row is None:
        verify_password(password, hash_password("timing-equaliser"))
        return None
    return Principal(row.name, row.role, "session") if verify_password(password, row.password_hash) else None


def user_role(engine: Engine, name: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(app_user.c.role).where(app_user.c.name == name,
                                                          app_user.c.disabled.is_(False))).scalar()


def create_token(engine: Engine, user_name: str, token_name: str) -> str:
    """Create an API token for a user; the plain token is returned once and never stored."""
    with engine.begin() as conn:
        user_id = conn.execute(select(app_user.c.user_id).where(app_user.c.name == user_name)).scalar()
        if user_id is None:
            raise AccountError(f"unknown user '{user_name}'")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        conn.execute(api_token.insert().values(user_id=user_id, name=token_name,
                                               token_hash=hashlib.sha256(token.encode()).hexdigest(),
                                               created_at=dt.datetime.now(dt.UTC), revoked=False))
    return token


def principal_for_token(engine: Engine, token: str) -> Principal | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with engine.begin() as conn:
        row = conn.execute(
            select(api_token.c.token_id, api_token.c.name, app_user.c.name.label("user"), app_user.c.role)
            .join(app_user, app_user.c.user_id == api_token.c.user_id)
            .where(api_token.c.token_hash == digest, api_token.c.revoked.is_(False), app_user.c.disabled.is_(False))
        ).first()
        if row is None:
            return None
        conn.execute(update(api_token).where(api_token.c.token_id == row.token_id)
                     .values(last_used_at=dt.datetime.now(dt.UTC)))
    return Principal(f"{row.user} (token {row.name})", row.role, "token")


def revoke_token(engine: Engine, token_name: str) -> int:
    with engine.begin() as conn:
        return conn.execute(update(api_token).where(api_token.c.name == token_name).values(revoked=True)).rowcount


def audit(engine: Engine, actor: str, action: str, outcome: str, target: str | None = None,
          detail: str | None = None, client: str | None = None) -> None:
    """Record who did what, when, and how it ended."""
    with engine.begin() as conn:
        conn.execute(audit_log.insert().values(at=dt.datetime.now(dt.UTC), actor=actor[:120], action=action[:60],
                                               target=(target or "")[:300] or None, outcome=outcome,
                                               detail=(detail or "")[:4000] or None, client=(client or "")[:80] or None))


def recent_failures(engine: Engine, name: str, client: str | None, minutes: int = 15) -> int:
    """Failed logins for this name or client in the last minutes (for rate limiting)."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
    cond = (audit_log.c.target == name)
    if client:
        cond = cond | (audit_log.c.client == client)
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(audit_log.c.action == "login", audit_log.c.outcome == "denied",
                                                       audit_log.c.at >= since, cond)).scalar_one()


def audit_entries(engine: Engine, limit: int = 200) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.audit_id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]
