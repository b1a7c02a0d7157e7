"""Where things are: the folders and the warehouse URL, from the declared settings (warehouse.settings)."""

from __future__ import annotations

from pathlib import Path

from warehouse import settings

PROJECT_ROOT = settings.PROJECT_ROOT


def data_dir() -> Path:
    """Folder for the embedded database and the model registry."""
    return settings.get("CRISISRISK_DATA_DIR")


def raw_dir() -> Path:
    """Folder of the shipped real source files (``data/raw``)."""
    return settings.get("CRISISRISK_RAW_DIR")


def model_dir() -> Path:
    """The model registry (default ``models/`` in the data folder)."""
    return settings.get("CRISISRISK_MODEL_DIR")


def database_url() -> str:
    """The warehouse URL; the default is a SQLite file under ``data/``."""
    return settings.get("CRISISRISK_DATABASE_URL")
