"""Horizon-matched rolling-origin validation, baselines, split-conformal intervals and the deployment gate.

Labels are published about two years late, so the product predicts one to several years past the newest label.
The backtest reproduces that: for each origin Y and horizon h, a model is trained on label years <= Y and
predicts year Y + h, with every input from the label's source dated Y or earlier. ``rolling_origin`` is
generic:
it takes a function returning the panel for a horizon (built so that label-source inputs of year t are dated
t - h or earlier, see ``models.features.build_panel(label_lag=h)``) and a list of candidates, each a fitter.
Any model of the product (the watch list, the pair model) can reuse it with its own panels and fitters.
Never random K-fold.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from models.features import PAST_VICTIM_FEATURES, feature_names
from models.train import RidgeModel, fit_xgb, predict_margin, prediction_matrix, training_matrix

log = logging.getLogger(__name__)

Predictor = Callable[[pd.DataFrame], np.ndarray]


class MatrixCache:
    """XGBoost matrices of one origin and horizon, built once and shared by every candidate fitted there.

    The variants of a backtest origin train on the same rows and predict the same target rows; building their
    DMatrix/QuantileDMatrix once per origin saves the conversion and the histogram sketch per variant. Keyed
    by the frame's identity (the frame is kept alive with its matrix, so an id is never reused) and the
    columns. One cache per origin and horizon, used by one thread at a time.
    """

    def __init__(self) -> None:
        self._store: dict[tuple, tuple[pd.DataFrame, Any]] = {}
        self.built = 0
        self.reused = 0

    def get(self, frame: pd.DataFrame, key: tuple, build: Callable[[], Any]) -> Any:
        """The matrix stored for ``frame`` and ``key``, built by ``build()`` the first time."""
        full = (id(frame), *key)
        hit = self._store.get(full)
        if hit is not None and hit[0] is frame:
            self.reused += 1
            return hit[1]
        matrix = build()
        self._store[full] = (frame, matrix)
        self.built += 1
        return matrix


@dataclass(frozen=True)
class FitContext:
    """What a fitter may know: the origin (newest label year it may use) and the horizon it predicts.

    ``matrices``: the origin's shared XGBoost matrices (None: each fitter builds its own).
    """

    origin: int
    horizon: int
    matrices: MatrixCache | None = field(default=None, compare=False, repr=False)


Fitter = Callable[[pd.DataFrame, FitContext], Predictor]


@dataclass(frozen=True)
class Candidate:
    """A model or baseline in the backtest: a name and how to fit it on the training rows of one origin."""

    name: str
    fit: Fitter
    description: str
    role: str = "model"  # model | baseline


BASELINES = ("last_value", "mean_3y", "ridge", "eb_mean", "damped_trend")
DAMPED_PHI = 0.5  # [damped_trend] phi: chosen on the selection origins from 0.3 / 0.5 / 0.7 / 0.8 / 0.9
LEVELS = (0.5, 0.8, 0.9)


def backtest_workers(config: dict | None = None, tasks: int | None = None) -> int:
    """Threads for the backtest: the machine's cores divided by XGBoost's threads per booster.

    Each worker fits one origin at a time with boosters of ``[xgboost] nthread`` threads, so workers × nthread
    never exceeds the cores this process may use. ``[backtest] workers`` caps it (1 = sequential).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    config = config or {}
    nthread = max(int(config.get("xgboost", {}).get("nthread", 1) or cores), 1)
    workers = max(cores // nthread, 1)
    cap = int(config.get("backtest", {}).get("workers", 0) or 0)
    if cap > 0:
        workers = min(workers, cap)
    return max(1, min(workers, tasks)) if tasks else workers


def rolling_origin(
    panel_at: Callable[[int], pd.DataFrame],
    models: Sequence[Candidate],
    origins: Iterable[int],
    horizons: Sequence[int] = (1, 2, 3),
    label: str = "label",
    keep: Sequence[str] = ("label_censored", "first_time", "history_censored", "population"),
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
    share_matrices: bool = True,
    timings: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Out-of-sample predictions for every origin Y, horizon h and candidate.

    Train rows: ``panel_at(h)`` rows with a label and year <= Y. Target rows: year == Y + h with a label.
    ``panel_at(h)`` must date every label-source input of year t at t - h or earlier; the training rows then
    use labels <= Y only and the target rows label inputs <= Y only. Returns one row per prediction with
    columns model, origin, horizon, target_year, region_id, y_true, y_pred and the ``keep`` columns present.

    ``workers`` > 1 fits the origins of a horizon in that many threads (XGBoost releases the GIL while it
    trains); each origin stays in one thread and the rows come back in the sequential order, so the result is
    the same as ``workers=1`` (test_validation). ``share_matrices``: the candidates of an origin share its
    XGBoost matrices (MatrixCache). ``timings`` receives the seconds per horizon (``h1``, ...).
    """
    origins = list(origins)
    lock = threading.Lock()

    def say(message: str) -> None:
        if progress:
            with lock:
                progress(message)

    out = []
    for h in horizons:
        started = time.perf_counter()
        panel = panel_at(h)
        labelled = panel[panel[label].notna()]
        years = labelled.index.get_level_values("year")

        def one_origin(origin: int, labelled: pd.DataFrame = labelled, years=years, h: int = h):
            train = labelled[years <= origin]
            target = labelled[years == origin + h]
            if train.empty or target.empty:
                return []
            ctx = FitContext(int(origin), int(h), MatrixCache() if share_matrices else None)
            frames = []
            for cand in models:
                say(f"backtest origin {origin}, horizon {h}: {cand.name}")
                y_pred = np.asarray(cand.fit(train, ctx)(target), dtype=float)
                frames.append(_predictions(cand.name, origin, h, target, y_pred, label, keep))
            return frames

        if workers > 1 and len(origins) > 1:
            with ThreadPoolExecutor(max_workers=min(workers, len(origins))) as pool:
                per_origin = list(pool.map(one_origin, origins))
        else:
            per_origin = [one_origin(o) for o in origins]
        out.extend(f for frames in per_origin for f in frames)
        if timings is not None:
            timings[f"h{h}"] = round(time.perf_counter() - started, 2)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def _predictions(
    name: str,
    origin: int,
    h: int,
    target: pd.DataFrame,
    y_pred: np.ndarray,
    label: str,
    keep: Sequence[str],
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "model": name,
            "origin": int(origin),
            "horizon": int(h),
            "target_year": int(origin + h),
            "region_id": target.index.get_level_values(0),
            "y_true": target[label].to_numpy(dtype=float),
            "y_pred": y_pred,
        }
    )
    for col in keep:
        if col in target:
            frame[col] = target[col].to_numpy()
    return frame


# --- fitters
def _median(train: pd.DataFrame) -> float:
    return float(train["label"].median())


def last_value_fitter() -> Fitter:
    """Latest label before the cutoff (<= 11 years old); the training median when there is none."""

    def fit(train: pd.DataFrame, _ctx: FitContext) -> Predictor:
        median = _median(train)
        return lambda X: X["past_victims_per100k"].fillna(median).to_numpy(dtype=float)

    return fit


def mean_3y_fitter() -> Fitter:
    """Mean label of the 3 years up to the cutoff; else the last value; else the training median."""

    def fit(train: pd.DataFrame, _ctx: FitContext) -> Predictor:
        median = _median(train)
        return lambda X: (
            X["hist_mean3_origin"].fillna(X["past_victims_per100k"]).fillna(median).to_numpy(dtype=float)
        )

    return fit


def eb_mean_values(X: pd.DataFrame, median: float) -> np.ndarray:
    """The partially pooled (empirical-Bayes) mean of the label history; the all-country prior for countries
    that never reported (a typical country, not 0); the training median if there is no prior either."""
    return X["hist_eb_mean"].fillna(X["hist_eb_prior"]).fillna(median).to_numpy(dtype=float)


def eb_mean_fitter() -> Fitter:
    """Baseline: each country's recency-weighted mean of its reports shrunk toward all countries' mean."""

    def fit(train: pd.DataFrame, _ctx: FitContext) -> Predictor:
        median = _median(train)
        return lambda X: eb_mean_values(X, median)

    return fit


def damped_steps(age: np.ndarray, phi: float) -> np.ndarray:
    """phi + phi² + ... + phi^age: the years of trend a damped-trend forecast adds ``age`` years ahead."""
    a = np.clip(np.nan_to_num(np.asarray(age, dtype=float), nan=1.0), 0, 60).astype(int)
    table = np.concatenate([[0.0], np.cumsum(phi ** np.arange(1, int(a.max(initial=0)) + 1))])
    return table[a]


def damped_trend_values(X: pd.DataFrame, median: float, phi: float = DAMPED_PHI) -> np.ndarray:
    """The partially pooled mean plus the label history's damped trend up to the predicted year.

    A recency-weighted mean lags a series that keeps rising (detections grew for years in some countries), and
    the lag grows with the label's age. The slope (``hist_trend``, reports in the 5 years up to the cutoff) is
    added for each year between the newest report and the predicted year, damped by ``phi`` per year (Gardner
    and McKenzie's damped trend), so an old trend is not extrapolated far. No trend (fewer than 3 reports):
    the pooled mean itself.
    """
    slope = X["hist_trend"].fillna(0.0).to_numpy(dtype=float)
    age = X["years_since_victims_report"].to_numpy(dtype=float)
    return eb_mean_values(X, median) + slope * damped_steps(age, phi)


def damped_trend_fitter(phi: float = DAMPED_PHI) -> Fitter:
    """Baseline: the partially pooled mean with the label history's damped trend (no fitted parameter)."""

    def fit(train: pd.DataFrame, _ctx: FitContext) -> Predictor:
        median = _median(train)
        return lambda X: damped_trend_values(X, median, phi)

    return fit


def damped_phi(config: dict) -> float:
    """The damping per year of the damped-trend baseline ([damped_trend] phi, in [0, 1))."""
    phi = float(config.get("damped_trend", {}).get("phi", DAMPED_PHI))
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"[damped_trend] phi must be in [0, 1), got {phi}")
    return phi


def anchor(X: pd.DataFrame, median: float) -> np.ndarray:
    """Where the label history says a country is: its recent mean, shrunk for small counts; median if none."""
    return (
        X["past_victims_shrunk_per100k"]
        .fillna(X["past_victims_mean3_per100k"])
        .fillna(median)
        .to_numpy(dtype=float)
    )


def ridge_fitter(features: list[str]) -> Fitter:
    def fit(train: pd.DataFrame, _ctx: FitContext) -> Predictor:
        model = RidgeModel().fit(train[features], train["label"])
        return lambda X: model.predict(X[features])

    return fit


def xgb_fitter(
    features: list[str],
    config: dict,
    objective: str = "squared",
    anchored: bool = False,
    split_history: bool = False,
    monotone: dict[str, int] | None = None,
) -> Fitter:
    """XGBoost on the horizon's panel.

    objective: ``squared`` (log1p point labels, '<5' as 2.5 victims) or ``aft`` (survival:aft with '<5' as the
    interval 1-4 victims). anchored: boosting starts from the label-history anchor (base_margin), so trees
    learn
    departures from it. split_history: countries with no earlier report get a model without the label-history
    features instead of reading "missing" as a value.
    """
    history_free = [f for f in features if f not in PAST_VICTIM_FEATURES]

    max_bin = int(config["xgboost"].get("max_bin", 256))

    def fit(train: pd.DataFrame, ctx: FitContext) -> Predictor:
        median = _median(train)
        margin = anchor(train, median) if anchored else None
        lower, upper = train.get("label_lower"), train.get("label_upper")
        cache = ctx.matrices if margin is None else None  # a base margin is per variant: never shared
        dtrain = (
            cache.get(
                train,
                ("train", tuple(features), objective, max_bin),
                lambda: training_matrix(train[features], train["label"], objective, lower, upper, max_bin),
            )
            if cache is not None
            else None
        )
        booster = fit_xgb(
            train[features],
            train["label"],
            config,
            monotone,
            base_margin=margin,
            objective=objective,
            lower=lower,
            upper=upper,
            dtrain=dtrain,
        )
        fallback = (
            fit_xgb(
                train[history_free],
                train["label"],
                config,
                None,
                objective=objective,
                lower=train.get("label_lower"),
                upper=train.get("label_upper"),
            )
            if split_history
            else None
        )

        def predict(X: pd.DataFrame) -> np.ndarray:
            matrix = (
                ctx.matrices.get(X, ("predict", tuple(features)), lambda: prediction_matrix(X[features]))
                if ctx.matrices is not None and not anchored
                else None
            )
            out = predict_margin(booster, X[features], anchor(X, median) if anchored else None, matrix)
            if fallback is not None:
                new = X["past_victims_per100k"].isna().to_numpy()
                if new.any():
                    out[new] = predict_margin(fallback, X.loc[new, history_free])
            return out

        predict.boosters = (booster, fallback)  # type: ignore[attr-defined]
        predict.median = median  # type: ignore[attr-defined]
        return predict

    return fit


DEFAULT_VARIANTS = {"xgboost": {"objective": "squared", "description": "XGBoost on the horizon's panel"}}


def variants_of(config: dict) -> dict[str, dict]:
    """The XGBoost variants of config.toml [variants]; a config without any gets plain XGBoost, so a run
    always
    has a model to set against the baselines."""
    return config.get("variants") or DEFAULT_VARIANTS


def candidates(config: dict) -> list[Candidate]:
    """The model variants and the baselines scored in the same backtest (variants listed in config.toml)."""
    features = feature_names(include_past_victims=True)
    variants = variants_of(config)
    out = [
        Candidate(
            name,
            xgb_fitter(
                features,
                config,
                v.get("objective", "squared"),
                bool(v.get("anchored")),
                bool(v.get("split_history")),
                config.get("monotone") if v.get("monotone") else None,
            ),
            v.get("description", name),
        )
        for name, v in variants.items()
    ]
    out += [
        Candidate("last_value", last_value_fitter(), "Baseline: last observed value", "baseline"),
        Candidate(
            "mean_3y", mean_3y_fitter(), "Baseline: mean of the 3 label years up to the origin", "baseline"
        ),
        Candidate(
            "ridge", ridge_fitter(features), "Baseline: ridge regression on the same features", "baseline"
        ),
        Candidate(
            "eb_mean",
            eb_mean_fitter(),
            "Baseline: partially pooled (empirical-Bayes) mean of the label history",
            "baseline",
        ),
        Candidate(
            "damped_trend",
            damped_trend_fitter(damped_phi(config)),
            "Baseline: partially pooled mean plus the label history's damped trend",
            "baseline",
        ),
    ]
    return out


def add_ensembles(oos: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Every ensemble of config.toml [ensembles] as another candidate's predictions."""
    for name, spec in config.get("ensembles", {}).items():
        first = spec.get("weight_first_time")
        oos = add_blend(
            oos,
            spec["model"],
            spec["partner"],
            float(spec.get("weight", 0.5)),
            name,
            None if first is None else float(first),
        )
    return oos


def blend_weights(no_history: np.ndarray, weight: float, weight_first_time: float | None) -> np.ndarray:
    """Per-row weight of the model in an ensemble: ``weight_first_time`` for rows without a label history.

    For a country that never reported, the label-history partner is only the all-country prior (it knows
    nothing of the country), so the model, which reads the country's other inputs, may get more weight.
    """
    no_history = np.asarray(no_history, dtype=bool)
    if weight_first_time is None:
        return np.full(len(no_history), float(weight))
    return np.where(no_history, float(weight_first_time), float(weight))


def gate_baselines(config: dict) -> list[str]:
    """Candidates the deployed model must beat: the plain baselines and ensembles marked role = baseline."""
    return [*BASELINES, *[n for n, s in config.get("ensembles", {}).items() if s.get("role") == "baseline"]]


def model_names(config: dict) -> list[str]:
    """Deployable candidates: XGBoost variants and ensembles with role = model."""
    return [
        *variants_of(config),
        *[n for n, s in config.get("ensembles", {}).items() if s.get("role", "model") == "model"],
    ]


def add_blend(
    oos: pd.DataFrame,
    model: str,
    baseline: str = "mean_3y",
    weight: float = 0.5,
    name: str | None = None,
    weight_first_time: float | None = None,
) -> pd.DataFrame:
    """Append the blend weight × model + (1 - weight) × baseline as another candidate's predictions
    (``weight_first_time`` for first-time reporters, see ``blend_weights``)."""
    a = oos[oos["model"] == model].reset_index(drop=True)
    b = oos[oos["model"] == baseline].reset_index(drop=True)
    if a.empty or b.empty:
        return oos
    key = ["origin", "horizon", "region_id"]
    merged = a.merge(b[[*key, "y_pred"]], on=key, suffixes=("", "_base"), validate="one_to_one")
    no_history = merged.get("first_time", pd.Series(False, index=merged.index)).to_numpy(dtype=bool)
    w = blend_weights(no_history, weight, weight_first_time)
    merged["y_pred"] = w * merged["y_pred"] + (1 - w) * merged.pop("y_pred_base")
    merged["model"] = name or f"{model}_blend_{baseline}"
    return pd.concat([oos, merged[a.columns]], ignore_index=True)


# --- metrics and summaries
def metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    top_k: int = 20,
) -> dict[str, float]:
    """RMSLE (labels are log1p already), MAE per 100k, Spearman, top-k recall, interval coverage/width."""
    y_true = np.asarray(y_true, float)
    y_pred = np.asarray(y_pred, float)
    n = len(y_true)
    out = {
        "n": int(n),
        "rmsle": float(np.sqrt(np.mean((y_pred - y_true) ** 2))) if n else np.nan,
        "mae": float(np.mean(np.abs(np.expm1(y_pred) - np.expm1(y_true)))) if n else np.nan,
    }
    constant = n < 3 or np.ptp(y_true) == 0 or np.ptp(y_pred) == 0
    out["spearman"] = np.nan if constant else float(spearmanr(y_true, y_pred).statistic)
    k = min(top_k, n)
    if k:
        true_top = set(np.argsort(-y_true)[:k])
        pred_top = set(np.argsort(-y_pred)[:k])
        out["top20_recall"] = len(true_top & pred_top) / k
    else:
        out["top20_recall"] = np.nan
    if lower is not None and upper is not None and n:
        ok = ~np.isnan(np.asarray(lower, float))
        inside = (y_true >= lower) & (y_true <= upper)
        out["coverage80"] = float(np.mean(inside[ok])) if ok.any() else np.nan
        out["width80"] = float(np.mean(np.expm1(upper[ok]) - np.expm1(lower[ok]))) if ok.any() else np.nan
    return out


def summarise(oos: pd.DataFrame, by: Sequence[str] = ("horizon",)) -> pd.DataFrame:
    """Metrics per model and group (e.g. horizon, or horizon and target year)."""
    rows = []
    for keys, grp in oos.groupby([*by, "model"], sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        lower = grp["lower80"].to_numpy() if "lower80" in grp else None
        upper = grp["upper80"].to_numpy() if "upper80" in grp else None
        rows.append(
            {
                **dict(zip([*by, "model"], keys, strict=True)),
                **metrics(grp["y_true"].to_numpy(), grp["y_pred"].to_numpy(), lower, upper),
            }
        )
    return pd.DataFrame(rows)


def latest_origins(oos: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """Rows of the ``n`` latest origins that have scored targets, chosen per horizon (the gate's test set)."""
    parts = []
    for _h, grp in oos.groupby("horizon"):
        keep = sorted(grp["origin"].unique())[-n:]
        parts.append(grp[grp["origin"].isin(keep)])
    return pd.concat(parts, ignore_index=True) if parts else oos


def selection_origins(oos: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """Rows of the origins before the gate's ``n`` latest, per horizon.

    Candidates are chosen, and stacking weights learned, on these rows only, so the gate's figures stay a test
    that no choice was fitted to.
    """
    parts = []
    for _h, grp in oos.groupby("horizon"):
        held = sorted(grp["origin"].unique())[-n:]
        parts.append(grp[~grp["origin"].isin(held)])
    return pd.concat(parts, ignore_index=True) if parts else oos


# --- split-conformal intervals
def conformal_quantile(abs_residuals: np.ndarray, level: float) -> float:
    """Split-conformal half-width: the ceil((n + 1) level)-th smallest |residual| (inf when n is too small).

    For exchangeable residuals the interval prediction ± q covers a new value with probability >= level
    (and < level + 1 / (n + 1) without ties).
    """
    r = np.sort(np.asarray(abs_residuals, dtype=float))
    n = len(r)
    k = math.ceil((n + 1) * level)
    return float(r[k - 1]) if 1 <= k <= n else float("inf")


def interval_group(frame: pd.DataFrame) -> pd.Series:
    """Mondrian groups: first-time reporters, countries whose latest report was '<5', and the rest."""
    first = frame.get("first_time", pd.Series(False, index=frame.index)).astype(bool)
    cens = frame.get("history_censored", pd.Series(False, index=frame.index)).fillna(False).astype(bool)
    return pd.Series(np.where(first, "first_time", np.where(cens, "censored", "regular")), index=frame.index)


def group_quantiles(
    resid: pd.DataFrame, levels: Sequence[float] = LEVELS, min_group: int = 20
) -> dict[str, dict[float, float]]:
    """Half-widths per group and level; a group is never narrower than the regular rows, and a small group
    gets twice the pooled width."""
    abs_r = (resid["y_true"] - resid["y_pred"]).abs()
    groups = interval_group(resid)
    pooled = {lv: conformal_quantile(abs_r.to_numpy(), lv) for lv in levels}
    regular = {lv: conformal_quantile(abs_r[groups == "regular"].to_numpy(), lv) for lv in levels}
    base = {lv: regular[lv] if np.isfinite(regular[lv]) else pooled[lv] for lv in levels}
    out = {"regular": base}
    for g in ("first_time", "censored"):
        sub = abs_r[groups == g].to_numpy()
        out[g] = {
            lv: max(conformal_quantile(sub, lv), base[lv]) if len(sub) >= min_group else 2 * base[lv]
            for lv in levels
        }
    return out


def add_intervals(
    oos: pd.DataFrame, levels: Sequence[float] = LEVELS, min_calibration: int = 30
) -> pd.DataFrame:
    """Sequential split-conformal intervals for the backtest's own predictions.

    For origin Y and horizon h, the calibration residuals are those of the same model and horizon whose target
    year is <= Y (labels known at the origin). Origins with fewer than ``min_calibration`` such residuals get
    no interval (NaN) and are left out of the coverage.
    """
    oos = oos.copy()
    for lv in levels:
        oos[f"lower{int(lv * 100)}"] = np.nan
        oos[f"upper{int(lv * 100)}"] = np.nan
    groups = interval_group(oos)
    for _key, grp in oos.groupby(["model", "horizon"]):
        for origin in sorted(grp["origin"].unique()):
            calib = grp[grp["target_year"] <= origin]
            if len(calib) < min_calibration:
                continue
            q = group_quantiles(calib, levels)
            idx = grp.index[grp["origin"] == origin]
            for lv in levels:
                half = groups.loc[idx].map({g: v[lv] for g, v in q.items()}).to_numpy(dtype=float)
                oos.loc[idx, f"lower{int(lv * 100)}"] = oos.loc[idx, "y_pred"] - half
                oos.loc[idx, f"upper{int(lv * 100)}"] = oos.loc[idx, "y_pred"] + half
    return oos


def coverage(
    oos: pd.DataFrame, model: str, by: Sequence[str] = ("horizon",), levels: Sequence[float] = LEVELS
) -> list[dict]:
    """Empirical coverage of the sequential conformal intervals per group and nominal level."""
    sub = oos[(oos["model"] == model) & oos["lower80"].notna()]
    rows = []
    for keys, grp in sub.groupby(list(by)):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = {
            **dict(zip(by, (int(k) if isinstance(k, np.integer) else k for k in keys), strict=True)),
            "n": len(grp),
        }
        for lv in levels:
            lo, hi = grp[f"lower{int(lv * 100)}"], grp[f"upper{int(lv * 100)}"]
            row[f"coverage{int(lv * 100)}"] = float(((grp["y_true"] >= lo) & (grp["y_true"] <= hi)).mean())
        rows.append(row)
    return rows


# --- the gate
def gate(table: pd.DataFrame, model: str, baselines: Sequence[str] = BASELINES) -> dict:
    """Deploy only if ``model`` beats the best baseline on RMSLE at every horizon and is not worse on
    Spearman.

    ``table``: per-horizon metrics (columns horizon, model, rmsle, spearman), normally pooled over the last
    three
    origins. Returns {"passed", "model", "horizons": [per-horizon verdicts]}.
    """
    rows, passed = [], True
    for h, grp in table.groupby("horizon"):
        by_model = grp.set_index("model")
        base = by_model.loc[[b for b in baselines if b in by_model.index]]
        if model not in by_model.index or base.empty:
            rows.append({"horizon": int(h), "passed": False, "reason": "model or baselines missing"})
            passed = False
            continue
        best = str(base["rmsle"].idxmin())
        m = by_model.loc[model]
        best_spearman = float(base["spearman"].max())
        rmsle_ok = bool(m["rmsle"] < base["rmsle"].min())
        spearman_ok = bool(np.nan_to_num(m["spearman"], nan=-1) >= np.nan_to_num(best_spearman, nan=-1))
        rows.append(
            {
                "horizon": int(h),
                "model_rmsle": float(m["rmsle"]),
                "best_baseline": best,
                "best_baseline_rmsle": float(base["rmsle"].min()),
                "improvement_pct": float(100 * (1 - m["rmsle"] / base["rmsle"].min())),
                "model_spearman": float(m["spearman"]),
                "best_baseline_spearman": best_spearman,
                "beats_rmsle": rmsle_ok,
                "not_worse_spearman": spearman_ok,
                "passed": rmsle_ok and spearman_ok,
            }
        )
        passed &= rmsle_ok and spearman_ok
    return {"passed": bool(passed and rows), "model": model, "horizons": rows}
