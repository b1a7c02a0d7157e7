"""Settings from ``CRISISRISK_*`` environment variables, with safe embedded defaults."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Folder for the embedded database and the model registry."""
    return Path(os.environ.get("CRISISRISK_DATA_DIR", PROJECT_ROOT / "data"))


def raw_dir() -> Path:
    """Folder of the shipped real source files (``data/raw``)."""
    return Path(os.environ.get("CRISISRISK_RAW_DIR", PROJECT_ROOT / "data" / "raw"))


def database_url() -> str:
    """The warehouse URL; the default is a SQLite file under ``data/``."""
    url = os.environ.get("CRISISRISK_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'crisisrisk.sqlite'}"
