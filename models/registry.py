"""Registry of runs: artefacts on disk (XGBoost's own format + metadata + checksum) and status in the DB.

Never pickle. Loading a run verifies the checksum and that the booster's features match the metadata.
Promotion and rollback are single transactions, so exactly one run is deployed at any time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import xgboost as xgb
from sqlalchemy import Engine, select, update

from warehouse.config import model_dir
from warehouse.faults import fault_point
from warehouse.schema import model_run

log = logging.getLogger(__name__)
MODEL_FILE = "model.ubj"
METADATA_FILE = "metadata.json"
CHECKSUM_FILE = "checksum.sha256"


class RegistryError(RuntimeError):
    """A run cannot be used: missing, tampered with, or inconsistent."""


def registry_dir() -> Path:
    return model_dir()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_artefacts(
    run_id: str,
    booster: xgb.Booster,
    metadata: dict[str, Any],
    root: Path | None = None,
    extra: dict[str, xgb.Booster] | None = None,
) -> str:
    """Write model.ubj, metadata.json and a checksum file; returns the model's sha256.

    ``extra``: further boosters of the run (one per horizon) written as model_<name>.ubj, checksummed too.

    Files are written to a temporary folder and renamed into place, so a crash leaves no half run.
    """
    root = root or registry_dir()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{run_id}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    booster.save_model(str(tmp / MODEL_FILE))
    names = [MODEL_FILE, METADATA_FILE]
    for key, other in (extra or {}).items():
        other.save_model(str(tmp / f"model_{key}.ubj"))
        names.append(f"model_{key}.ubj")
    (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str, allow_nan=False))
    sums = {name: _sha256(tmp / name) for name in names}
    (tmp / CHECKSUM_FILE).write_text("".join(f"{v}  {k}\n" for k, v in sums.items()))
    os.replace(tmp, root / run_id)
    return sums[MODEL_FILE]


def load_run(
    run_id: str, root: Path | None = None, expected_features: list[str] | None = None
) -> tuple[xgb.Booster, dict[str, Any]]:
    """Load a run after checking its checksums and feature list; refuses anything inconsistent."""
    folder = (root or registry_dir()) / run_id
    if not folder.is_dir():
        raise RegistryError(f"run '{run_id}' has no artefacts in {folder}")
    try:
        expected = dict(
            line.split()[::-1] for line in (folder / CHECKSUM_FILE).read_text().splitlines() if line
        )
    except (OSError, ValueError) as exc:
        raise RegistryError(f"run '{run_id}': unreadable checksum file ({exc})") from None
    for name in sorted({MODEL_FILE, METADATA_FILE} | set(expected)):
        if name not in expected or not (folder / name).is_file() or _sha256(folder / name) != expected[name]:
            raise RegistryError(f"run '{run_id}': checksum mismatch for {name}; the artefact was changed")
    metadata = json.loads((folder / METADATA_FILE).read_text())
    booster = xgb.Booster()
    booster.load_model(str(folder / MODEL_FILE))
    if list(booster.feature_names or []) != list(metadata["features"]):
        raise RegistryError(f"run '{run_id}': model features {booster.feature_names} differ from metadata")
    if expected_features is not None and list(expected_features) != list(metadata["features"]):
        raise RegistryError(
            f"run '{run_id}': features {metadata['features']} differ from the expected {expected_features}"
        )
    return booster, metadata


def list_runs(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(model_run).order_by(model_run.c.created_at.desc())).mappings().all()
    return [dict(r) for r in rows]


def deployed_run(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(model_run).where(model_run.c.status == "deployed")).mappings().first()
    return dict(row) if row else None


def promote(engine: Engine, run_id: str, root: Path | None = None) -> None:
    """Deploy ``run_id`` and archive the previously deployed run, in one transaction."""
    load_run(run_id, root)  # refuse a run whose artefacts do not verify
    with engine.begin() as conn:
        exists = conn.execute(select(model_run.c.status).where(model_run.c.run_id == run_id)).scalar()
        if exists is None:
            raise RegistryError(f"unknown run '{run_id}'")
        conn.execute(
            update(model_run)
            .where(model_run.c.status == "deployed", model_run.c.run_id != run_id)
            .values(status="archived")
        )
        conn.execute(
            update(model_run)
            .where(model_run.c.run_id == run_id)
            .values(status="deployed", deployed_at=dt.datetime.now(dt.UTC))
        )
        fault_point("model.promote.before_commit")


def rollback(engine: Engine, root: Path | None = None) -> str:
    """Re-deploy the run that was deployed before the current one; returns its id."""
    with engine.connect() as conn:
        current = conn.execute(
            select(model_run.c.run_id, model_run.c.deployed_at).where(model_run.c.status == "deployed")
        ).first()
        if current is None:
            raise RegistryError("no run is deployed, nothing to roll back")
        previous = conn.execute(
            select(model_run.c.run_id)
            .where(
                model_run.c.status == "archived",
                model_run.c.deployed_at.is_not(None),
                model_run.c.deployed_at < current.deployed_at,
            )
            .order_by(model_run.c.deployed_at.desc())
        ).first()
    if previous is None:
        raise RegistryError(
            f"run '{current.run_id}' is the first deployed run; there is nothing to roll back to"
        )
    load_run(previous.run_id, root)
    with engine.begin() as conn:
        conn.execute(update(model_run).where(model_run.c.run_id == current.run_id).values(status="archived"))
        # deployed_at is kept, so a second rollback steps further back instead of bouncing
        conn.execute(update(model_run).where(model_run.c.run_id == previous.run_id).values(status="deployed"))
    return previous.run_id
