"""Every ``CRISISRISK_*`` environment variable, declared once: name, type, default and a one-line doc.

Code reads a setting with ``settings.get(name)`` (typed, default applied, a bad value is a
``SettingError`` naming the variable), never from ``os.environ``, so a new setting cannot go undocumented:
tests/test_settings.py fails when code names a ``CRISISRISK_`` variable this module does not declare, when a
declared one is missing from the README settings table, or when that table is not ``markdown_table()``
(print it with ``python -m warehouse.settings``). A blank value counts as unset.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "CRISISRISK_"
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
ESCAPED_PIPE = "\\|"  # a | inside a markdown table cell
KIND_WORDS = {bool: "true or false", Path: "a path", str: "text", int: "a whole number", float: "a number"}
TABLE_KINDS = {bool: "true/false", Path: "path", str: "text", int: "integer", float: "number"}


class SettingError(ValueError):
    """A ``CRISISRISK_*`` variable holds a value of the wrong type, or an undeclared name was asked for."""


@dataclass(frozen=True)
class Setting:
    """One variable. ``default`` is a value, or a function of other settings (``default_doc`` says which)."""

    name: str
    type: type
    default: Any
    doc: str
    default_doc: str | None = None
    minimum: float | None = None
    secret: bool = False

    def parse(self, raw: str) -> Any:
        """The typed value of a non-blank ``raw``; a SettingError names the variable and what it takes."""
        text = raw.strip()
        try:
            if self.type is bool:
                if text.lower() in TRUE:
                    return True
                if text.lower() in FALSE:
                    return False
                raise ValueError
            value = self.type(text)
        except ValueError:
            kind = KIND_WORDS[self.type]
            shown = "(hidden)" if self.secret else f"'{text[:40]}'"
            raise SettingError(f"{self.name} must be {kind}, not {shown}") from None
        if self.minimum is not None and value < self.minimum:
            raise SettingError(f"{self.name} must be at least {self.minimum:g}, not {text[:40]}")
        return value

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default

    def shown_default(self) -> str:
        """The default as the README shows it."""
        if self.default_doc is not None:
            return self.default_doc
        if self.default is None:
            return "unset"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, float):
            return f"`{self.default:g}`"
        if isinstance(self.default, Path):
            return f"`{self.default.relative_to(PROJECT_ROOT)}`"
        return f"`{self.default}`"


def _data_dir() -> Path:
    return get("CRISISRISK_DATA_DIR")


_DECLARED = [
    # where things are
    Setting(
        "CRISISRISK_DATABASE_URL",
        str,
        lambda: f"sqlite:///{_data_dir() / 'crisisrisk.sqlite'}",
        "the warehouse; PostgreSQL: `postgresql+psycopg://user:password@host/db`",
        default_doc="SQLite `crisisrisk.sqlite` in the data folder",
        secret=True,
    ),
    Setting(
        "CRISISRISK_DATA_DIR",
        Path,
        PROJECT_ROOT / "data",
        "folder of the SQLite warehouse and the model registry",
    ),
    Setting(
        "CRISISRISK_RAW_DIR", Path, PROJECT_ROOT / "data" / "raw", "folder of the published source files"
    ),
    Setting(
        "CRISISRISK_MODEL_DIR",
        Path,
        lambda: _data_dir() / "models",
        "the model registry",
        default_doc="`models/` in the data folder",
    ),
    Setting(
        "CRISISRISK_MODEL_CONFIG",
        Path,
        PROJECT_ROOT / "models" / "config.toml",
        "the training configuration (TOML)",
    ),
    # the server and its access control
    Setting(
        "CRISISRISK_ENV",
        str,
        None,
        "`development` (like `serve --debug`) allows a random secret key; anything else is production",
        default_doc="unset: `serve` runs in production mode",
    ),
    Setting(
        "CRISISRISK_SECRET_KEY",
        str,
        None,
        "signs session cookies; `serve` (production) refuses to start without it (16+ characters); "
        "`up` makes a random one for its run (sign-ins end when it stops)",
        secret=True,
    ),
    Setting(
        "CRISISRISK_PUBLIC_READ",
        bool,
        False,
        "`true`: read-only pages and the GET API need no login (`up` defaults it to true when unset)",
    ),
    Setting(
        "CRISISRISK_HTTPS",
        bool,
        False,
        "`true` marks cookies Secure and sends Strict-Transport-Security (also on any request over HTTPS)",
    ),
    Setting(
        "CRISISRISK_TRUSTED_PROXY_HEADER",
        str,
        None,
        "behind a reverse proxy, the header it writes the client address into (e.g. `X-Forwarded-For`); "
        "unset: the socket address counts (a client could otherwise escape the sign-in limit)",
    ),
    Setting(
        "CRISISRISK_TRUSTED_PROXY_HOPS",
        int,
        1,
        "how many trusted proxies append to that header: the address that many from the right is the "
        "client's",
        minimum=1,
    ),
    Setting(
        "CRISISRISK_CORS_ORIGINS",
        str,
        None,
        "comma-separated origins (`https://tool.example.org`) whose pages may call the API from a "
        "browser; `*` allows any; unset: no Access-Control-Allow-Origin",
    ),
    Setting("CRISISRISK_HOST", str, "127.0.0.1", "where `serve` and `up` listen"),
    Setting("CRISISRISK_PORT", int, 8050, "the TCP port of `serve` and `up`", minimum=1),
    Setting(
        "CRISISRISK_LOG_LEVEL", str, "WARNING", "the `crisisrisk` command's log level (DEBUG, INFO, ...)"
    ),
    # uploads, jobs and the ETL writer
    Setting(
        "CRISISRISK_MAX_UPLOAD_MB",
        float,
        60.0,
        "upload size limit, enforced in the browser and on the server",
        minimum=0,
    ),
    Setting(
        "CRISISRISK_MAX_EXPANDED_MB",
        float,
        400.0,
        "the most an uploaded .xlsx/.gz may expand to (a zip bomb is refused)",
        minimum=0,
    ),
    Setting(
        "CRISISRISK_MAX_DRY_RUNS",
        int,
        2,
        "upload dry runs computing at once (the others wait their turn)",
        minimum=1,
    ),
    Setting(
        "CRISISRISK_JOB_HEARTBEAT_S", float, 15.0, "seconds between a running job's heartbeats", minimum=0
    ),
    Setting(
        "CRISISRISK_JOB_STALE_S",
        float,
        300.0,
        "age of a heartbeat after which its server counts as gone (jobs and the ETL lock)",
        minimum=0,
    ),
    Setting(
        "CRISISRISK_ETL_LOCK_WAIT_S",
        float,
        300.0,
        "seconds a second ETL writer waits for the first (`etl run --wait` overrides it)",
        minimum=0,
    ),
    # alerts
    Setting(
        "CRISISRISK_ALERTS_AUTO",
        bool,
        True,
        "`false` stops evaluating alert rules after loads and promotes (server, `etl run`, "
        "`model promote|rollback|train`)",
    ),
    Setting(
        "CRISISRISK_SMTP_HOST",
        str,
        None,
        "the SMTP server that e-mails confirmed alerts (unset: e-mails wait and are retried)",
    ),
    Setting("CRISISRISK_SMTP_PORT", int, 25, "its port", minimum=1),
    Setting("CRISISRISK_SMTP_USER", str, None, "its login (unset: no login)"),
    Setting("CRISISRISK_SMTP_PASSWORD", str, None, "its password", secret=True),
    Setting("CRISISRISK_SMTP_FROM", str, "crisisrisk@localhost", "the From address of alert e-mails"),
    Setting("CRISISRISK_SMTP_STARTTLS", bool, False, "`true`: STARTTLS before the login"),
    Setting(
        "CRISISRISK_WEBHOOK_SECRET",
        str,
        None,
        "HMAC secret of alert webhooks (a webhook may name another `CRISISRISK_*` variable); "
        "never stored in the database",
        secret=True,
    ),
    # tools and tests
    Setting("CRISISRISK_BENCH_TOKEN", str, None, "analyst bearer token of `benchmarks/load.py`", secret=True),
    Setting(
        "CRISISRISK_FAULT_POINT",
        str,
        None,
        "tests only: the fault point (warehouse/faults.py) at which the process blocks to be killed",
    ),
    Setting(
        "CRISISRISK_FAULT_MARKER", Path, None, "tests only: the file written when the fault point is reached"
    ),
    Setting(
        "CRISISRISK_FAULT_SLEEP", float, 120.0, "tests only: seconds blocked at the fault point", minimum=0
    ),
]
SETTINGS: dict[str, Setting] = {s.name: s for s in _DECLARED}


def declared(name: str) -> Setting:
    """The declaration of ``name``; SettingError for a name this module does not declare."""
    try:
        return SETTINGS[name]
    except KeyError:
        raise SettingError(f"{name} is not a declared setting (warehouse/settings.py)") from None


def get(name: str) -> Any:
    """The typed value of a declared setting: the environment's, else its default."""
    setting = declared(name)
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return setting.default_value()
    return setting.parse(raw)


def is_set(name: str) -> bool:
    """Whether the environment gives the declared setting a (non-blank) value."""
    declared(name)
    return bool((os.environ.get(name) or "").strip())


def named_secret(name: str) -> str | None:
    """A secret held in the ``CRISISRISK_*`` variable an admin named (a webhook's ``secret_env``), else None.

    Such names are chosen at run time, so they need not be declared; the prefix keeps other variables out.
    """
    if not name.startswith(PREFIX):
        log.warning("secret variable %s does not start with %s: not read", name[:80], PREFIX)
        return None
    raw = os.environ.get(name)
    return raw if raw and raw.strip() else None


def markdown_table() -> str:
    """The README settings table, from the declarations (tests/test_settings.py checks the README has it)."""
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for s in _DECLARED:
        doc = s.doc.replace("|", ESCAPED_PIPE)
        rows.append(f"| `{s.name}` | {TABLE_KINDS[s.type]} | {s.shown_default()} | {doc} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
