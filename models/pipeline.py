"""One training run end to end: panel -> backtest -> final model -> predictions, SHAP, admin-1 -> registry."""

from __future__ import annotations

import datetime as dt
import logging
import platform
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sqlalchemy import Engine, select

from models import downscale as ds
from models.card import model_card
from models.evaluate import (
    LEVELS,
    FitContext,
    add_ensembles,
    add_intervals,
    backtest_workers,
    blend_weights,
    candidates,
    coverage,
    damped_phi,
    damped_trend_values,
    eb_mean_values,
    gate,
    gate_baselines,
    group_quantiles,
    interval_group,
    latest_origins,
    model_names,
    rolling_origin,
    selection_origins,
    summarise,
    variants_of,
)
from models.explain import BIAS, global_importance, shap_values
from models.features import (
    FEATURES,
    build_panel,
    feature_families,
    feature_names,
    label_derived_features,
    needed_indicators,
    panel_sha256,
)
from models.jsonsafe import json_safe as _clean
from models.progress import TrainEvent
from models.registry import deployed_run, promote, registry_dir, save_artefacts
from models.train import RidgeModel, load_config, predict_margin
from warehouse.faults import fault_point
from warehouse.io import bulk_insert, read_observations, read_regions
from warehouse.schema import explanation, model_run, prediction

log = logging.getLogger(__name__)
Progress = Callable[[TrainEvent], None]


def _emitter(progress: Progress | None) -> Callable[..., None]:
    """``emit(key, message, done=0, of=0)``: a TrainEvent of the named step (nothing without a listener)."""

    def emit(key: str, message: str, done: int = 0, of: int = 0) -> None:
        if progress is not None:
            progress(TrainEvent.at(key, message, done, of))

    return emit


def _counting(emit: Callable[..., None], key: str, of: int) -> Callable[[str], None]:
    """A text callback for code that reports one line per unit of work (rolling_origin): counts the units."""
    seen = [0]

    def say(message: str) -> None:
        seen[0] += 1
        emit(key, str(message), min(seen[0], of), of)

    return say


class StepTimer:
    """Wall-clock seconds per training step, in the order they ran (stored in the run's metrics)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started = time.perf_counter()
        self._last = self._started

    def lap(self, step: str) -> float:
        """Record the time since the previous lap as ``step``; returns it."""
        now = time.perf_counter()
        spent = now - self._last
        self.seconds[step] = round(self.seconds.get(step, 0.0) + spent, 2)
        self._last = now
        log.info("training step %s: %.2f s", step, spent)
        return spent

    def total(self) -> float:
        return round(time.perf_counter() - self._started, 2)


class TrainingError(RuntimeError):
    """Training cannot run on this warehouse (e.g. no labels or no population)."""


def load_observations(engine: Engine) -> pd.DataFrame:
    """Level-0 yearly observations the features need; refuses a warehouse without labels or population."""
    obs = read_observations(engine, indicators=needed_indicators(), level=0)
    if obs.empty or not (obs["indicator"] == "trafficking.victims_detected").any():
        raise TrainingError(
            "the warehouse has no UNODC GLOTIP detected-victims observations; run `crisisrisk etl run`"
        )
    if not (obs["indicator"] == "structural.population").any():
        raise TrainingError(
            "the warehouse has no population observations (wb_population); run `crisisrisk etl run`"
        )
    return obs


def panel_years(obs: pd.DataFrame, config: dict[str, Any]) -> list[int]:
    last_pop = int(obs.loc[obs["indicator"] == "structural.population", "year"].max())
    return list(range(int(config["predictions"]["first_year"]) - 5, last_pop + 2))


def load_panel(engine: Engine, config: dict[str, Any], label_lag: int = 1) -> pd.DataFrame:
    """Read level-0 yearly observations and build the feature panel (label inputs ``label_lag`` years old)."""
    obs = load_observations(engine)
    return build_panel(obs, panel_years(obs, config), float(config["label"]["censored_fraction"]), label_lag)


def risk_scores(
    frame: pd.DataFrame, bands: dict[str, float], group: str = "year", value: str = "estimate_per_100k"
) -> pd.DataFrame:
    """Percentile of ``value`` within its year (0-100), the band, and the rank (1 = highest)."""
    frame = frame.copy()
    frame["risk_score"] = frame.groupby(group)[value].rank(pct=True, method="average") * 100
    frame["rank"] = frame.groupby(group)[value].rank(ascending=False, method="min").astype(int)
    frame["risk_band"] = pd.cut(
        frame["risk_score"],
        [-0.1, bands["moderate"], bands["high"], bands["very_high"], 100.1],
        labels=["low", "moderate", "high", "very high"],
        right=False,
    ).astype(str)
    return frame


def shrunk_for_ranking(
    log_estimate: pd.Series, population: pd.Series, year: pd.Series, k: float, half80: pd.Series | None = None
) -> pd.Series:
    """Log estimate pulled toward the year's median, for ranks and risk scores.

    Weight = pop / (pop + k) × tau² / (tau² + sigma²): tiny populations (per-100k rates of a few victims are
    noise) and uncertain estimates (wide intervals, e.g. places that never reported) rank close to the typical
    country instead of at the top. sigma = the 80% half-width / 1.2816; tau² = the year's variance of
    estimates.
    """
    years = year.to_numpy()
    w = (population / (population + k)).fillna(0.0)
    if half80 is not None:
        tau2 = log_estimate.groupby(years).transform("var").fillna(0.0)
        sigma2 = (half80 / 1.2816) ** 2
        w = w * (tau2 / (tau2 + sigma2)).fillna(1.0)
    median = log_estimate.groupby(years).transform("median")
    return w * log_estimate + (1 - w) * median


def basis_of(label_present: pd.Series, horizon: pd.Series) -> np.ndarray:
    """checked: the year has a label; nowcast: newest label 1-2 years old; projection: older or none."""
    return np.where(label_present, "checked", np.where(horizon <= 2, "nowcast", "projection"))


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def resolve(config: dict[str, Any], name: str) -> tuple[str, str | None, float]:
    """A deployable candidate as (XGBoost variant, ensemble partner or None, weight of the variant)."""
    ens = config.get("ensembles", {}).get(name)
    if ens:
        return ens["model"], ens["partner"], float(ens.get("weight", 0.5))
    return name, None, 1.0


def first_time_weight(config: dict[str, Any], name: str) -> float | None:
    """The variant's weight for countries without a label history, when the ensemble sets one."""
    first = config.get("ensembles", {}).get(name, {}).get("weight_first_time")
    return None if first is None else float(first)


def train_run(
    engine: Engine,
    deploy: bool = True,
    progress: Progress | None = None,
    config: dict[str, Any] | None = None,
    registry_root: Path | None = None,
) -> str:
    """Train, backtest, explain, store and (if it passes the gate) deploy. Returns the run id."""
    timer = StepTimer()
    config = config or load_config()
    emit = _emitter(progress)
    emit("panels", "building the feature panels (one per horizon)")
    obs = load_observations(engine)
    years = panel_years(obs, config)
    censored_fraction = float(config["label"]["censored_fraction"])
    horizons = [int(h) for h in config["backtest"].get("horizons", [1, 2, 3])]
    panels = {h: build_panel(obs, years, censored_fraction, h) for h in horizons}
    labelled = panels[1][panels[1]["label"].notna()]
    if labelled.empty:
        raise TrainingError("no country-year has both a detected-victims label and a population")
    timer.lap("panels")
    newest_label = int(labelled.index.get_level_values("year").max())
    bt = config["backtest"]
    last_origin = min(int(bt.get("last_origin", newest_label - 1)), newest_label - 1)
    origins = list(range(int(bt["first_origin"]), last_origin + 1))
    fits = len(horizons) * len(origins) * len(candidates(config))
    emit(
        "backtest",
        f"backtesting on {len(labelled):,} labelled country-years, origins "
        f"{origins[0]}–{origins[-1]}, horizons {horizons}",
        0,
        fits,
    )
    workers = backtest_workers(config, len(origins))
    per_horizon: dict[str, float] = {}
    oos = rolling_origin(
        panels.get,
        candidates(config),
        origins,
        horizons,
        progress=_counting(emit, "backtest", fits),
        workers=workers,
        timings=per_horizon,
    )
    timer.lap("backtest")
    oos = add_intervals(add_ensembles(oos, config))
    timer.lap("conformal")
    by_horizon = summarise(oos)
    n_gate = int(bt.get("gate_origins", 3))
    last3 = summarise(latest_origins(oos, n_gate))
    # chosen on the origins before the gate's: the gate's figures are a test no choice was fitted to
    selection = summarise(selection_origins(oos, n_gate))
    selection_rule = (
        f"lowest mean RMSLE over horizons on the origins before the gate's latest {n_gate} per horizon"
    )
    if selection.empty or not set(model_names(config)) & set(selection["model"]):
        # too few origins to hold the gate's out (small extracts): choose on all, and say so
        selection = by_horizon
        selection_rule = f"lowest mean RMSLE over horizons on all origins (fewer than {n_gate + 1} origins)"
        log.warning("backtest has no origins before the gate's; choosing on all origins")
    names = [n for n in model_names(config) if n in set(selection["model"])]
    mean_rmsle = selection.groupby("model")["rmsle"].mean()
    variant = min(names, key=lambda n: mean_rmsle[n])
    verdict = gate(last3, variant, gate_baselines(config))
    resid = oos[oos["model"] == variant]
    quantiles = {h: group_quantiles(resid[resid["horizon"] == h]) for h in horizons}
    timer.lap("summaries_gate")

    emit("final_models", f"fitting the final models ({variant}) for horizons {horizons}")
    xgb_name, partner, weight = resolve(config, variant)
    weight_first = first_time_weight(config, variant)
    fitters = {c.name: c for c in candidates(config)}

    def fit_final(h: int):
        rows = panels[h][panels[h]["label"].notna()]
        ctx = FitContext(origin=newest_label, horizon=h)
        return fitters[xgb_name].fit(rows, ctx), _fit_partner(partner, rows, config)

    # the horizons' final models are independent: fitted in parallel like the backtest's origins
    with ThreadPoolExecutor(max_workers=backtest_workers(config, len(horizons))) as pool:
        final = dict(zip(horizons, pool.map(fit_final, horizons), strict=True))
    timer.lap("final_models")
    features = feature_names(include_past_victims=True)
    first_year = int(config["predictions"]["first_year"])
    # deployment panel: years after the newest label see labels up to it only (their operating horizon)
    lag_map = {y: max(1, y - newest_label) for y in years}
    deploy_panel = build_panel(obs, years, censored_fraction, lag_map)
    timer.lap("deployment_panel")
    scope = deploy_panel[deploy_panel.index.get_level_values("year") >= first_year]
    scope_years = scope.index.get_level_values("year").to_numpy()
    operating = np.array([lag_map[int(y)] for y in scope_years])
    use_h = np.minimum(operating, max(horizons))
    margin = np.zeros(len(scope))
    shap = pd.DataFrame(0.0, index=scope.index, columns=[*features, BIAS])
    boosters = {}
    for h in horizons:
        rows = use_h == h
        if not rows.any():
            continue
        X = scope[rows]
        predictor, partner_model = final[h]
        booster = predictor.boosters[0]
        boosters[h] = booster
        w = blend_weights(X["past_victims_per100k"].isna().to_numpy(), weight, weight_first)
        part = w * predict_margin(booster, X[features])
        contrib = shap_values(booster, X[features]).mul(w, axis=0)
        if partner_model is not None:
            part += (1 - w) * partner_model.predict(X)
            partner_contrib = partner_model.contributions(X).reindex(columns=contrib.columns, fill_value=0)
            contrib += partner_contrib.mul(1 - w, axis=0)
        margin[rows] = part
        shap.loc[X.index, contrib.columns] = contrib.to_numpy()
    groups = interval_group(scope).to_numpy()
    half = {lv: np.array([quantiles[h][g][lv] for h, g in zip(use_h, groups, strict=True)]) for lv in LEVELS}
    level = float(config["backtest"].get("interval", 0.8))
    q = half[level] if level in half else half[0.8]
    label_year = scope["label_year"]
    horizon = pd.Series(scope_years, index=scope.index) - label_year
    population = np.exp(scope["log_population"])
    rank = config.get("ranking", {})
    preds = pd.DataFrame(
        {
            "region_id": scope.index.get_level_values(0),
            "year": scope_years.astype(int),
            "estimate_per_100k": np.expm1(np.maximum(margin, 0.0)),
            "lower_per_100k": np.expm1(np.maximum(margin - q, 0.0)),
            "upper_per_100k": np.expm1(np.maximum(margin, 0.0) + q),
            "label_per_100k": scope["label_per_100k"].to_numpy(),
            "method": np.where(scope["first_time"], "model_no_label_history", "model"),
            "basis": basis_of(scope["label"].notna(), horizon),
            "horizon": horizon.to_numpy(),
            "label_year": label_year.to_numpy(),
            "operating_horizon": operating,
            "conflict_year": scope["conflict_year"].to_numpy(),
            "displacement_year": scope["displacement_year"].to_numpy(),
            "small_population": (population < float(rank.get("small_population", 1e5))).to_numpy(),
            "ranking_value": (
                shrunk_for_ranking(
                    pd.Series(np.maximum(margin, 0.0), index=scope.index),
                    population,
                    pd.Series(scope_years, index=scope.index),
                    float(rank.get("shrink_population", 1e5)),
                    pd.Series(half[0.8], index=scope.index),
                ).to_numpy()
            ),
        }
    )
    preds = risk_scores(preds, config["risk_bands"], value="ranking_value")
    families = feature_families()
    fam_importance, feat_importance = global_importance(shap, families)
    timer.lap("predictions_shap")

    emit("admin1", "spreading country estimates to admin-1 units by exposure")
    admin = _admin1(engine, preds, config)
    timer.lap("admin1")

    run_id = new_run_id()
    created = dt.datetime.now(dt.UTC)
    top_h = max(horizons)
    latest_year = int(preds["year"].max())
    metrics = {
        "horizons": horizons,
        "origins": origins,
        "newest_label_year": newest_label,
        "backtest_horizons": _records(by_horizon),
        "backtest_last3": _records(last3),
        "backtest_selection": _records(selection),
        "selection_rule": selection_rule,
        "backtest_by_target_year": _records(summarise(oos, ("horizon", "target_year"))),
        "backtest_with_history": _records(summarise(oos[~oos["first_time"].astype(bool)])),
        "backtest_last3_origins": {
            str(h): sorted(int(o) for o in g["origin"].unique())
            for h, g in latest_origins(oos, n_gate).groupby("horizon")
        },
        # horizon 1 per origin and pooled, for the pages and commands that show one table
        "backtest_per_origin": _records(summarise(oos[oos["horizon"] == 1], ("origin", "target_year"))),
        "backtest_pooled": _records(by_horizon[by_horizon["horizon"] == 1].drop(columns="horizon")),
        "coverage_by_horizon": coverage(oos, variant),
        "coverage_by_target_year": coverage(oos, variant, ("horizon", "target_year")),
        "coverage_by_group": coverage(oos.assign(group=interval_group(oos)), variant, ("horizon", "group")),
        "calibration": [
            {
                "nominal": lv,
                "empirical": float(
                    np.mean([r[f"coverage{int(lv * 100)}"] for r in coverage(oos, variant, ("model",))])
                ),
            }
            for lv in LEVELS
        ],
        "interval_halfwidths_log": {str(h): quantiles[h] for h in horizons},
        "gate": {
            **verdict,
            "baselines": gate_baselines(config),
            # one-line summary kept for the admin and list views (operating horizon row)
            "model_rmsle": _row(last3, variant, top_h, "rmsle"),
            "last_value_rmsle": _row(last3, "last_value", top_h, "rmsle"),
        },
        "operating_horizon": {
            "latest_year": latest_year,
            "horizon": latest_year - newest_label,
            "table_horizon": min(latest_year - newest_label, top_h),
            "validated_up_to": top_h,
        },
        # seconds per step (filled below); the backtest also per horizon, with its worker threads
        "timing_s": timer.seconds,
        "timing_backtest_s": {**per_horizon, "workers": workers},
    }
    metadata: dict[str, Any] = {
        "run_id": run_id,
        "created_at": created.isoformat(),
        "level": 0,
        "label": "log1p detected trafficking victims per 100,000 (UNODC GLOTIP)",
        "target": "detected",
        "target_description": "risk of DETECTED trafficking: detected victims per 100,000 people",
        "variant": variant,
        "variant_parts": {
            "xgboost": xgb_name,
            "partner": partner,
            "weight": weight,
            "weight_first_time": weight_first,
        },
        "features": features,
        "feature_families": {f: families[f] for f in features},
        "feature_sources": {f.name: list(f.indicators) for f in FEATURES if f.name in features},
        "feature_descriptions": {f.name: f.description for f in FEATURES if f.name in features},
        "label_source_features": label_derived_features(),
        "monotone_constraints": (
            config.get("monotone", {}) if variants_of(config).get(xgb_name, {}).get("monotone") else {}
        ),
        "training_window": [int(labelled.index.get_level_values("year").min()), newest_label],
        "training_rows": len(labelled),
        "censored_labels": int(labelled["label_censored"].sum()),
        "prediction_years": [int(preds["year"].min()), latest_year],
        "countries_predicted": int(preds["region_id"].nunique()),
        "countries_without_label_history": sorted(set(preds.loc[preds["method"] != "model", "region_id"])),
        "basis_counts_latest_year": preds.loc[preds["year"] == latest_year, "basis"].value_counts().to_dict(),
        "small_population_countries": sorted(set(preds.loc[preds["small_population"], "region_id"])),
        "panel_sha256": panel_sha256(panels[1]),
        "versions": {
            "python": platform.python_version(),
            "xgboost": xgb.__version__,  # xgboost-cpu and xgboost both provide it
            **{p: version(p) for p in ("pandas", "numpy", "shap", "sqlalchemy")},
        },
        "hyperparameters": config["xgboost"],
        "config": config,
        "metrics": metrics,
        "global_shap": fam_importance,
        "global_shap_features": feat_importance,
        "admin1": {
            "method": "exposure_downscaled",
            "rows": len(admin),
            "units_with_subnational_data": int(admin["has_subnational_data"].sum()) if len(admin) else 0,
        },
    }
    metadata["model_card_md"] = model_card(metadata)
    timer.lap("model_card")
    metrics["timing_s"]["total_before_save"] = timer.total()
    extra = {f"h{h}": b for h, b in boosters.items() if h != min(boosters)}
    sha = save_artefacts(run_id, boosters[min(boosters)], _clean(metadata), registry_root, extra=extra)
    timer.lap("save_artefacts")

    emit("write", "writing predictions and explanations")
    _write(engine, run_id, created, sha, metadata, preds, admin, shap, scope[features], families)
    timer.lap("write")
    from models.watchlist import train_watchlist  # issue 11: the watch list and pair model of this run

    train_watchlist(engine, run_id, registry_root or registry_dir(), lambda m: emit("watchlist", str(m)))
    timer.lap("watchlist")
    _record_timings(engine, run_id, metadata, timer)
    passed = bool(verdict["passed"])
    if deploy and passed:
        promote(engine, run_id, registry_root)
        emit("deploy", f"deployed run {run_id}")
    elif deploy and deployed_run(engine) is None:
        # Nothing is deployed yet: serve the best honest variant; its model card says where it fails the gate.
        promote(engine, run_id, registry_root)
        emit("deploy", f"deployed run {run_id} although it does not pass the gate (no other run exists)")
    elif deploy:
        emit("deploy", f"run {run_id} did not pass the gate; kept as candidate")
    else:
        emit("deploy", f"candidate run {run_id} (not deployed: promote it to serve it)")
    return run_id


def _record_timings(engine: Engine, run_id: str, metadata: dict[str, Any], timer: StepTimer) -> None:
    """Complete the run's step timings in the warehouse with the steps after the artefacts were saved
    (writing, watch list); metadata.json in the registry keeps those up to saving (checksummed when written).

    Only the timings change: the stored metadata is read back first, since the watch list added its own part.
    """
    timing = _clean({**timer.seconds, "total": timer.total()})
    metadata["metrics"]["timing_s"] = timing
    with engine.begin() as conn:
        row = conn.execute(
            select(model_run.c.metadata_json, model_run.c.metrics_json).where(model_run.c.run_id == run_id)
        ).one()
        stored_meta, stored_metrics = dict(row.metadata_json or {}), dict(row.metrics_json or {})
        stored_meta["metrics"] = {**(stored_meta.get("metrics") or {}), "timing_s": timing}
        stored_metrics["timing_s"] = timing
        conn.execute(
            model_run.update()
            .where(model_run.c.run_id == run_id)
            .values(metadata_json=stored_meta, metrics_json=stored_metrics)
        )


def _fit_partner(partner: str | None, rows: pd.DataFrame, config: dict[str, Any]):
    """The ensemble partner fitted on the same rows: ridge (with exact contributions), the 3-year mean, the
    pooled mean or the pooled mean with its damped trend."""
    if partner is None:
        return None
    if partner == "ridge":
        return RidgeModel().fit(rows[feature_names(include_past_victims=True)], rows["label"])
    if partner == "mean_3y":
        return _Mean3(float(rows["label"].median()))
    if partner == "eb_mean":
        return _EBMean(float(rows["label"].median()))
    if partner == "damped_trend":
        return _DampedTrend(float(rows["label"].median()), damped_phi(config))
    raise TrainingError(f"unknown ensemble partner '{partner}' in models/config.toml")


class _Mean3:
    """The 3-year-mean baseline as an ensemble partner; its whole value is attributed to the label history."""

    def __init__(self, median: float):
        self.median = median

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (
            X["hist_mean3_origin"].fillna(X["past_victims_per100k"]).fillna(self.median).to_numpy(dtype=float)
        )

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        value = self.predict(X)
        return pd.DataFrame(
            {"past_victims_mean3_per100k": value - self.median, BIAS: self.median}, index=X.index
        )


class _EBMean:
    """The partially pooled label-history mean as an ensemble partner.

    Its value is attributed to the shrunken past value; for a country that never reported it is the
    all-country
    prior, so a missing history moves the estimate toward a typical country instead of down.
    """

    def __init__(self, median: float):
        self.median = median

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return eb_mean_values(X, self.median)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        value = self.predict(X)
        return pd.DataFrame(
            {"past_victims_shrunk_per100k": value - self.median, BIAS: self.median}, index=X.index
        )


class _DampedTrend(_EBMean):
    """The pooled mean plus the label history's damped trend as an ensemble partner.

    The pooled mean is attributed to the shrunken past value (as for ``eb_mean``) and the trend it adds to the
    latest past value, the reports that set it.
    """

    def __init__(self, median: float, phi: float):
        super().__init__(median)
        self.phi = phi

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return damped_trend_values(X, self.median, self.phi)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        level = eb_mean_values(X, self.median)
        return pd.DataFrame(
            {
                "past_victims_shrunk_per100k": level - self.median,
                "past_victims_per100k": self.predict(X) - level,
                BIAS: self.median,
            },
            index=X.index,
        )


def _row(table: pd.DataFrame, model: str, horizon: int, metric: str) -> float | None:
    hit = table[(table["model"] == model) & (table["horizon"] == horizon)]
    return float(hit[metric].iloc[0]) if len(hit) else None


def _admin1(engine: Engine, preds: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    units = read_regions(engine, level=1)
    obs = read_observations(engine, level=1, indicators=[ds.DEATHS, ds.EVENTS, *ds.DISPLACED, *ds.POPULATION])
    pop = read_observations(engine, level=0, indicators=["structural.population"])[
        ["region_id", "year", "value"]
    ]
    admin = ds.downscale(preds, units, obs, pop)
    if admin.empty:
        return admin
    admin = risk_scores(admin, config["risk_bands"])
    return admin


def _write(
    engine: Engine,
    run_id: str,
    created: dt.datetime,
    sha: str,
    metadata: dict,
    preds: pd.DataFrame,
    admin: pd.DataFrame,
    shap: pd.DataFrame,
    X: pd.DataFrame,
    families: dict[str, str],
) -> None:
    pred_rows = [
        {
            "run_id": run_id,
            "region_id": r.region_id,
            "year": int(r.year),
            "level": 0,
            "estimate_per_100k": float(r.estimate_per_100k),
            "lower_per_100k": float(r.lower_per_100k),
            "upper_per_100k": float(r.upper_per_100k),
            "risk_score": float(r.risk_score),
            "risk_band": r.risk_band,
            "rank": int(r.rank),
            "label_per_100k": None if pd.isna(r.label_per_100k) else float(r.label_per_100k),
            "method": r.method,
            "has_subnational_data": None,
            "basis": r.basis,
            "horizon": None if pd.isna(r.horizon) else int(r.horizon),
            "label_year": None if pd.isna(r.label_year) else int(r.label_year),
            "conflict_year": None if pd.isna(r.conflict_year) else int(r.conflict_year),
            "displacement_year": None if pd.isna(r.displacement_year) else int(r.displacement_year),
            "small_population": bool(r.small_population),
        }
        for r in preds.itertuples()
    ]
    staleness = preds.set_index(["region_id", "year"])[
        ["basis", "horizon", "label_year", "conflict_year", "displacement_year"]
    ]
    for r in admin.itertuples():
        pred_rows.append(
            {
                "run_id": run_id,
                "region_id": r.region_id,
                "year": int(r.year),
                "level": 1,
                "estimate_per_100k": float(r.estimate_per_100k),
                "lower_per_100k": float(r.lower_per_100k),
                "upper_per_100k": float(r.upper_per_100k),
                "risk_score": float(r.risk_score),
                "risk_band": r.risk_band,
                "rank": int(r.rank),
                "label_per_100k": None,
                "method": "exposure_downscaled",
                "has_subnational_data": bool(r.has_subnational_data),
                **_staleness(staleness, r.iso3, int(r.year)),
                "small_population": None,
            }
        )
    long = shap.stack().rename("value").reset_index()
    long.columns = ["region_id", "year", "feature", "value"]
    fv = X.stack(future_stack=True).rename("feature_value").reset_index()
    fv.columns = ["region_id", "year", "feature", "feature_value"]
    long = long.merge(fv, on=["region_id", "year", "feature"], how="left")
    long["family"] = long["feature"].map(families).fillna("bias")
    long.loc[long["feature"] == BIAS, "family"] = "bias"
    expl_rows = [
        {
            "run_id": run_id,
            "region_id": a,
            "year": int(b),
            "feature": c,
            "family": f,
            "value": float(v),
            "feature_value": None if pd.isna(x) else float(x),
        }
        for a, b, c, v, x, f in zip(
            long["region_id"],
            long["year"],
            long["feature"],
            long["value"],
            long["feature_value"],
            long["family"],
            strict=True,
        )
    ]
    with engine.begin() as conn:
        conn.execute(
            model_run.insert().values(
                run_id=run_id,
                created_at=created,
                status="candidate",
                level=0,
                artefact_sha256=sha,
                panel_sha256=metadata["panel_sha256"],
                metadata_json=_clean(metadata),
                metrics_json=_clean(metadata["metrics"]),
                deployed_at=None,
            )
        )
        bulk_insert(conn, prediction, pred_rows)
        bulk_insert(conn, explanation, expl_rows)
        fault_point("model.write.before_commit")


def _staleness(table: pd.DataFrame, iso3: str, year: int) -> dict[str, Any]:
    """An admin-1 row inherits the basis and input years of its country's prediction."""
    try:
        row = table.loc[(iso3, year)]
    except KeyError:
        return {
            "basis": None,
            "horizon": None,
            "label_year": None,
            "conflict_year": None,
            "displacement_year": None,
        }
    return {k: None if pd.isna(v) else (v if k == "basis" else int(v)) for k, v in row.items()}


def _coverage_by_history(resid: pd.DataFrame) -> dict[str, Any]:
    """Backtest coverage of the 80% interval for countries with and without earlier labels."""
    out = {}
    for flag, grp in resid.groupby(resid["has_history"].astype(bool)):
        inside = (grp["y_true"] >= grp["lower"]) & (grp["y_true"] <= grp["upper"])
        out["with_history" if flag else "first_label"] = {"n": len(grp), "coverage80": float(inside.mean())}
    return out


def _records(frame: pd.DataFrame) -> list[dict]:
    return [_clean(r) for r in frame.to_dict("records")]
