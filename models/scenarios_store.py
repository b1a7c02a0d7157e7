"""Gathers what the what-if engine (models/scenarios.py) needs from the warehouse and the registry, once per
run.

Loading reads the observations, rebuilds the deployment panel and the watch list's drivers, and loads the
run's boosters (checksums verified by ``models.registry.load_run``). The lever directions measured in the
backtest
are computed once per run and cached beside its artefacts (``scenario_directions.json`` with a sha256 file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import xgboost as xgb
from sqlalchemy import Engine, select

from models import scenarios as sc
from models import watchlist as wl
from models.evaluate import damped_phi
from models.features import build_panel, needed_indicators
from models.registry import RegistryError, deployed_run, load_run, registry_dir
from models.watchlist_store import read_watchlist, read_watchlist_skill
from warehouse.io import read_observations
from warehouse.schema import prediction

log = logging.getLogger(__name__)
DIRECTIONS_FILE = "scenario_directions.json"
_CACHE: dict[tuple[str, str], sc.ScenarioModel] = {}
_MEASURING: set[tuple[str, str]] = set()
_LOCK = threading.Lock()


def _one_thread(booster: xgb.Booster) -> xgb.Booster:
    """A scenario predicts two rows: threads cost more than they save, most of all on a busy machine."""
    booster.set_param({"nthread": 1})
    return booster


def _booster(folder: Path, name: str) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(str(folder / name))
    return _one_thread(booster)


def _stored_detected(engine: Engine, run_id: str) -> pd.DataFrame:
    t = prediction
    stmt = select(
        t.c.region_id,
        t.c.year,
        t.c.estimate_per_100k,
        t.c.lower_per_100k,
        t.c.upper_per_100k,
        t.c.risk_score,
        t.c.rank,
    ).where(t.c.run_id == run_id, t.c.level == 0)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "region_id",
            "year",
            "estimate_per_100k",
            "lower_per_100k",
            "upper_per_100k",
            "risk_score",
            "rank",
        ],
    )
    return frame.set_index(["region_id", "year"]).sort_index()


def load_scenario_model(
    engine: Engine, run_id: str | None = None, root: Path | None = None, directions: str = "background"
) -> sc.ScenarioModel:
    """The engine's inputs for ``run_id`` (default: the deployed run), memoised per database and run.

    ``directions`` (the lever directions measured in the backtest): "background" (the run's cached file, else
    measured once in a background thread, about 30 s, and cached; until then every lever reads "not
    measured"),
    "measure" (the same, but wait for it), "skip" (never).
    """
    if run_id is None:
        dep = deployed_run(engine)
        if dep is None:
            raise RegistryError("no run is deployed; train one with `crisisrisk model train`")
        run_id = str(dep["run_id"])
    key = (str(engine.url), run_id)
    root = root or registry_dir()
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = _CACHE[key] = _load(engine, run_id, root)
        if directions == "skip" or model.detected.directions:
            return model
        cached = cached_directions(root / run_id)
        if cached is not None:
            model.detected.directions = cached
            return model
        if directions == "measure":
            model.detected.directions = run_directions(model, run_id, root)
            return model
        if key not in _MEASURING:
            _MEASURING.add(key)
            threading.Thread(
                target=_measure_in_background,
                args=(model, run_id, root, key),
                daemon=True,
                name=f"scenario-directions-{run_id}",
            ).start()
        return model


def _measure_in_background(model: sc.ScenarioModel, run_id: str, root: Path, key: tuple[str, str]) -> None:
    try:
        model.detected.directions = run_directions(model, run_id, root)
    except Exception:  # noqa: BLE001 - a failed measurement leaves "not measured", never breaks a scenario
        log.exception("run %s: lever directions could not be measured", run_id)
    finally:
        _MEASURING.discard(key)


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def _load(engine: Engine, run_id: str, root: Path) -> sc.ScenarioModel:
    booster, meta = load_run(run_id, root)
    folder = root / run_id
    horizons = [int(h) for h in meta["metrics"]["horizons"]]
    boosters = {min(horizons): _one_thread(booster)}
    for h in horizons:
        if h != min(horizons):
            boosters[h] = _booster(folder, f"model_h{h}.ubj")
    config = meta["config"]
    indicators = sorted(needed_indicators() | set(wl.needed_indicators()))
    obs = read_observations(engine, indicators=indicators, level=0)
    newest = int(meta["metrics"]["newest_label_year"])
    first, last = meta["prediction_years"]
    years = list(range(int(first) - 5, int(last) + 1))
    lag_map = {y: max(1, y - newest) for y in years}
    panel = build_panel(obs, years, float(config["label"]["censored_fraction"]), lag_map)
    parts = meta["variant_parts"]
    labels = panel.loc[panel["label"].notna(), "label"]
    halfwidths = {
        int(h): {g: {float(lv): float(v) for lv, v in per.items()} for g, per in groups.items()}
        for h, groups in meta["metrics"]["interval_halfwidths_log"].items()
    }
    detected = sc.DetectedModel(
        panel=panel,
        lag_map=lag_map,
        boosters=boosters,
        features=list(meta["features"]),
        weight=float(parts.get("weight", 1.0)),
        partner=parts.get("partner"),
        partner_median=float(labels.median()),
        partner_phi=damped_phi(config),
        weight_first_time=parts.get("weight_first_time"),
        halfwidths=halfwidths,
        level=float(config["backtest"].get("interval", 0.8)),
        stored=_stored_detected(engine, run_id),
        run_id=run_id,
    )
    return sc.ScenarioModel(obs=obs, detected=detected, rise=_load_rise(engine, run_id, obs, folder))


def _load_rise(engine: Engine, run_id: str, obs: pd.DataFrame, folder: Path) -> sc.RiseModel | None:
    skill = read_watchlist_skill(engine, run_id)
    stored = read_watchlist(engine, run_id=run_id)
    if not skill or stored.empty:
        log.warning("run %s has no watch list; scenarios answer for detected victims only", run_id)
        return None
    headline = skill["headline"]
    booster = None
    if headline == "xgboost":
        info = skill.get("model_file") or {}
        path = folder / info.get("file", "watchlist_model.ubj")
        if hashlib.sha256(path.read_bytes()).hexdigest() != info.get("sha256"):
            raise RegistryError(f"run '{run_id}': checksum mismatch for {path.name}")
        booster = _booster(folder, path.name)
    watch_obs = obs[obs["indicator"].isin(wl.needed_indicators())]
    panel = wl.driver_panel(watch_obs).drivers
    stored = stored.set_index(["region_id", "year"])[
        ["score", "rise_factor", "lower", "upper", "rank", "percentile"]
    ]
    return sc.RiseModel(
        panel=panel,
        headline=headline,
        calibration=skill["calibration"],
        booster=booster,
        stored=stored,
        support_years=[int(y) for y in skill["labels"]["origin_years"]],
        per_year=skill.get("per_year", {}),
    )


def cached_directions(folder: Path) -> dict[str, dict[str, Any]] | None:
    """The run's cached lever directions, or None when absent or not matching their checksum."""
    path, digest = folder / DIRECTIONS_FILE, folder / (DIRECTIONS_FILE + ".sha256")
    if not (path.is_file() and digest.is_file()):
        return None
    text = path.read_text()
    if hashlib.sha256(text.encode()).hexdigest() != digest.read_text().split()[0]:
        log.warning("%s does not match its checksum; measuring again", path)
        return None
    return json.loads(text)


def run_directions(model: sc.ScenarioModel, run_id: str, root: Path) -> dict[str, dict[str, Any]]:
    """Lever directions for both targets: read from the run's cache file, else measured once and cached."""
    folder = root / run_id
    cached = cached_directions(folder)
    if cached is not None:
        return cached
    path, digest = folder / DIRECTIONS_FILE, folder / (DIRECTIONS_FILE + ".sha256")
    _, meta = load_run(run_id, root)
    parts = meta["variant_parts"]
    origins = [int(o) for o in meta["metrics"]["origins"]]
    detected = sc.detected_directions(
        model.obs, meta["config"], parts["xgboost"], float(parts.get("weight", 1.0)), origins
    )
    rise = sc.rise_directions(model.rise) if model.rise is not None else {}
    out = {
        lv.name: {
            "detected": detected.get(lv.name, {"verdict": "not measured"}),
            "rise": rise.get(lv.name, {"verdict": "not measured"}),
        }
        for lv in sc.LEVERS
    }
    text = json.dumps(out, indent=1, sort_keys=True)
    try:
        path.write_text(text)
        digest.write_text(f"{hashlib.sha256(text.encode()).hexdigest()}  {DIRECTIONS_FILE}\n")
    except OSError as exc:  # a read-only registry: keep them in memory only
        log.warning("lever directions not cached (%s)", exc)
    return out


# --- saved scenarios (table saved_scenario, migration 0010)
# ----------------------------------------------------


class SavedScenarioExists(ValueError):
    """The user already saved a scenario under this name."""


def save_scenario(
    engine: Engine,
    name: str,
    region: str,
    year: int,
    levers: dict[str, float],
    created_by: str,
    run_id: str | None,
) -> dict[str, Any]:
    """Store a named scenario's definition (not its result: that is recomputed when it is opened)."""
    import datetime as dt

    from sqlalchemy.exc import IntegrityError

    from warehouse.io import inserted_id
    from warehouse.schema import saved_scenario

    created_at = dt.datetime.now(dt.UTC)
    row = {
        "name": name,
        "region_id": region,
        "year": int(year),
        "levers_json": dict(levers),
        "created_by": created_by,
        "created_at": created_at,
        "run_id": run_id,
    }
    try:
        with engine.begin() as conn:
            new_id = inserted_id(conn.execute(saved_scenario.insert().values(**row)))
    except IntegrityError:
        raise SavedScenarioExists(f"you already saved a scenario named '{name}'") from None
    out = {"scenario_id": new_id, **row, "created_at": created_at.isoformat()}
    out["levers"] = out.pop("levers_json")
    return out


MAX_INTEGER_ID = 2**31 - 1  # saved_scenario.scenario_id is an INTEGER (int4 on PostgreSQL)


def saved_scenarios(
    engine: Engine, created_by: str | None = None, scenario_id: int | None = None
) -> list[dict[str, Any]]:
    """Saved scenarios, newest first: one user's, or the one with ``scenario_id``."""
    from warehouse.schema import saved_scenario as t

    stmt = select(t).order_by(t.c.scenario_id.desc())
    if created_by is not None:
        stmt = stmt.where(t.c.created_by == created_by)
    if scenario_id is not None:
        if not 1 <= int(scenario_id) <= MAX_INTEGER_ID:
            return []  # the column cannot hold it (PostgreSQL would refuse the bound value)
        stmt = stmt.where(t.c.scenario_id == int(scenario_id))
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt.limit(500)).mappings()]
    for r in rows:
        r["levers"] = r.pop("levers_json") or {}
        r["created_at"] = r["created_at"].isoformat() if r["created_at"] is not None else None
    return rows
