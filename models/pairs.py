"""The pair model (issue 11 item 3): where a population's victims are detected.

Expected detected victims of citizenship o in detecting country d in year t, from the pair's own past (the
strongest signal), the origin's crisis drivers, the detecting country's detection capacity and the distance
between them. Target log1p(count); a year in which d reported citizenships without o counts 0 (below the
listing
threshold). Training is horizon-augmented: every feature cutoff Y and horizon h = 1..3 is one example with
features dated <= Y and the target in Y + h. Backtested against the pair's last value and its 3-year mean.

Pair-side features besides distance: the diaspora of o in d (UNHCR refugees + asylum-seekers of o hosted by d,
``displacement_pair``, dated <= the cutoff), its 2-year growth and d's share of o's displaced abroad, and
whether
o and d share a land border (admin-0 polygons of the warehouse, computed once per call). Variants tried and
the
one chosen: docs/WATCHLIST.md §6.2.
"""

from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sqlalchemy import Engine

log = logging.getLogger(__name__)

HORIZONS = (1, 2, 3)
CENSORED_VALUE = 2.5
GATE_IMPROVEMENT = 0.10
INTERVAL = 0.8
MODEL_FILE = "pair_model.ubj"
META_FILE = "pair_model.json"
CHECKSUM_FILE = "pair_model.sha256"
# chosen on the selection window (docs/WATCHLIST.md §6.2): shallower, slower trees than the first version
# (depth 4, rate 0.08, 150 rounds, min_child_weight 5); nthread 1 is faster on the shared machine
PARAMS = {
    "objective": "reg:squarederror",
    "max_depth": 3,
    "learning_rate": 0.04,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 20,
    "lambda": 2.0,
    "seed": 0,
    "nthread": 1,
}
ROUNDS = 300
# variants are chosen on backtest cutoffs < GATE_FIRST_CUTOFF; the gate is judged on the later ones only
GATE_FIRST_CUTOFF = 2016
BLEND = (
    False  # shrinking toward the 3-year mean was tried and not chosen (§6.2); the code path stays testable
)
BASE_FEATURES = (
    "horizon",
    "last_value",
    "mean_3y",
    "max_value",
    "n_listed",
    "years_since_listed",
    "years_since_report",
    "origin_log_population",
    "origin_displaced_abroad_level",
    "origin_displaced_growth_2y",
    "origin_conflict_intensity",
    "origin_log_gdp_per_capita",
    "detecting_log_population",
    "detecting_log_gdp_per_capita",
    "detecting_rule_of_law",
    "detecting_citizenships",
    "detecting_foreign_victims",
    "log_distance_km",
)
DIASPORA_FEATURES = ("diaspora_log", "diaspora_growth_2y", "diaspora_share")
BORDER_FEATURES = ("shared_border",)
INTENSITY_FEATURES = ("detecting_years_reported", "detecting_citizenships_mean3", "detecting_total_log")
FEATURES = BASE_FEATURES + DIASPORA_FEATURES + BORDER_FEATURES + INTENSITY_FEATURES
# admin-0 polygons closer than this (degrees) count as touching: Natural Earth borders are not always exact
BORDER_TOLERANCE_DEG = 0.01
SIDE_COLUMNS = {
    "log_population": "log_population",
    "displaced_abroad_level": "displaced_abroad_level",
    "displaced_growth_2y": "displaced_growth_2y",
    "conflict_intensity": "conflict_intensity",
    "log_gdp_per_capita": "log_gdp_per_capita",
    "rule_of_law": "rule_of_law",
}


class PairInputError(ValueError):
    """A pairs file the model cannot answer: the message names the row and the column."""


def _foreign(pairs: pd.DataFrame) -> pd.DataFrame:
    p = pairs[pairs["detecting_iso3"] != pairs["citizenship_iso3"]]
    counts = np.where(p["censored"].astype(bool), CENSORED_VALUE, p["victims"].astype(float))
    return pd.DataFrame(
        {
            "d": p["detecting_iso3"].to_numpy(),
            "o": p["citizenship_iso3"].to_numpy(),
            "t": p["year"].astype(int).to_numpy(),
            "v": np.log1p(counts),
        }
    )


def _reporting(pairs: pd.DataFrame, census: pd.DataFrame) -> pd.DataFrame:
    rep = pd.concat([census[["detecting_iso3", "year"]], pairs[["detecting_iso3", "year"]]])
    return rep.set_axis(["d", "t"], axis=1).astype({"t": int}).drop_duplicates()


def history_features(keys: pd.DataFrame, pairs: pd.DataFrame, census: pd.DataFrame) -> pd.DataFrame:
    """The pair's own past as of each key's cutoff (columns d, o, cutoff): only reports dated <= cutoff."""
    p = _foreign(pairs)
    rep = _reporting(pairs, census)
    out = []
    for cutoff, grp in keys.groupby("cutoff"):
        rep_c = rep[rep["t"] <= cutoff]
        last_report = rep_c.groupby("d")["t"].max()
        listed = p[p["t"] <= cutoff]
        # series over d's reporting years: log1p(count), 0 where d reported without o
        k = grp[["d", "o"]].drop_duplicates()
        series = k.merge(rep_c, on="d").merge(listed, on=["d", "o", "t"], how="left").fillna({"v": 0.0})
        last = series.sort_values("t").groupby(["d", "o"]).tail(1).set_index(["d", "o"])["v"]
        recent = series[series["t"] >= cutoff - 2].groupby(["d", "o"])["v"].mean()
        stats = listed.groupby(["d", "o"]).agg(
            max_value=("v", "max"), n_listed=("v", "size"), last_t=("t", "max")
        )
        g = (
            grp[["d", "o"]].drop_duplicates().set_index(["d", "o"])
        )  # one history per pair, whatever the horizon
        feat = pd.DataFrame(index=g.index)
        feat["last_value"] = last.reindex(g.index).fillna(0.0).to_numpy()
        feat["mean_3y"] = recent.reindex(g.index).to_numpy()
        feat["mean_3y"] = feat["mean_3y"].fillna(feat["last_value"])
        feat["max_value"] = stats["max_value"].reindex(g.index).fillna(0.0).to_numpy()
        feat["n_listed"] = stats["n_listed"].reindex(g.index).fillna(0).to_numpy()
        feat["years_since_listed"] = (cutoff - stats["last_t"].reindex(g.index)).to_numpy()
        feat["years_since_report"] = (cutoff - last_report.reindex(g.index.get_level_values("d"))).to_numpy()
        cap = rep_c.merge(
            (
                census[["detecting_iso3", "year", "n_citizenships"]].set_axis(["d", "t", "n"], axis=1)
                if "n_citizenships" in census
                else rep_c.assign(n=np.nan)
            ),
            on=["d", "t"],
            how="left",
        )
        latest_cap = cap.sort_values("t").groupby("d").tail(1).set_index("d")["n"]
        foreign_total = listed.assign(c=np.expm1(listed["v"])).groupby(["d", "t"])["c"].sum().reset_index()
        latest_total = foreign_total.sort_values("t").groupby("d").tail(1).set_index("d")["c"]
        d_idx = g.index.get_level_values("d")
        feat["detecting_citizenships"] = latest_cap.reindex(d_idx).to_numpy(dtype=float)
        feat["detecting_foreign_victims"] = np.log1p(latest_total.reindex(d_idx).to_numpy(dtype=float))
        feat = feat.reset_index()
        feat["cutoff"] = cutoff
        out.append(grp.merge(feat, on=["d", "o", "cutoff"], how="left"))
    return pd.concat(out, ignore_index=True) if out else keys.assign(**{c: np.nan for c in FEATURES})


def side_features(keys: pd.DataFrame, drivers: pd.DataFrame, coords: pd.DataFrame) -> pd.DataFrame:
    """Origin and detecting-country values as of the cutoff, and the log distance between their centroids."""
    side = drivers[list(SIDE_COLUMNS)].reset_index()
    years = side["year"]
    first, last = int(years.min()), int(years.max())
    # a cutoff outside the driver years takes the nearest earlier available year (never a later one)
    keys = keys.assign(_y=keys["cutoff"].clip(upper=last))
    values = [c for c in side.columns if c not in ("region_id", "year")]
    orig = side.rename(columns={"region_id": "o", "year": "_y", **{c: f"origin_{c}" for c in values}})
    det = side.rename(columns={"region_id": "d", "year": "_y", **{c: f"detecting_{c}" for c in values}})
    out = keys.merge(orig, on=["o", "_y"], how="left").merge(det, on=["d", "_y"], how="left")
    side_cols = [f"origin_{c}" for c in values] + [f"detecting_{c}" for c in values]
    out.loc[out["_y"] < first, side_cols] = np.nan
    c = coords.set_index("region_id")
    lat1, lon1 = (
        np.radians(c["lat"].reindex(out["o"]).to_numpy()),
        np.radians(c["lon"].reindex(out["o"]).to_numpy()),
    )
    lat2, lon2 = (
        np.radians(c["lat"].reindex(out["d"]).to_numpy()),
        np.radians(c["lon"].reindex(out["d"]).to_numpy()),
    )
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    out["log_distance_km"] = np.log1p(2 * 6371 * np.arcsin(np.sqrt(np.clip(h, 0, 1))))
    return out.drop(columns=["_y"])


def region_coords(engine: Engine) -> pd.DataFrame:
    """Country centroids: the region table's label point, else the centroid of its geometry."""
    from warehouse.io import read_regions

    regions = read_regions(engine, level=0, with_geometry=True)
    lon, lat = regions["label_lon"].astype(float), regions["label_lat"].astype(float)
    missing = lon.isna() | lat.isna()
    if missing.any():
        from shapely import wkb

        for i in np.flatnonzero(missing.to_numpy()):
            geom = regions["geometry_wkb"].iloc[i]
            if isinstance(geom, str) and geom:
                centroid = wkb.loads(bytes.fromhex(geom)).centroid
                lon.iloc[i], lat.iloc[i] = centroid.x, centroid.y
    return pd.DataFrame({"region_id": regions["region_id"], "lon": lon, "lat": lat})


@dataclass
class PairContext:
    """Pair-side inputs read once per training or prediction call (diaspora table, land borders)."""

    displacement: pd.DataFrame | None = None  # origin_iso3, asylum_iso3, year, refugees, asylum_seekers
    borders: pd.DataFrame | None = None  # a, b: every neighbouring pair in both orders
    extra: dict[str, Any] = field(default_factory=dict)


def diaspora_features(keys: pd.DataFrame, displacement: pd.DataFrame | None) -> pd.DataFrame:
    """Diaspora of o in d as of each key's cutoff: log1p(refugees + asylum-seekers of o hosted by d).

    Only UNHCR years <= cutoff enter (the latest such year, so a cutoff past UNHCR's last year keeps the last
    one). A pair UNHCR does not list in a year it covers counts 0. ``diaspora_share`` is d's share of o's
    displaced abroad in that year (NaN when o has none); ``diaspora_growth_2y`` the change of the log over 2
    years.
    """
    out = keys.copy()
    if displacement is None or displacement.empty:
        return out.assign(**{c: np.nan for c in DIASPORA_FEATURES})
    dp = displacement.assign(
        n=displacement[["refugees", "asylum_seekers"]].sum(axis=1, min_count=1).fillna(0.0)
    )
    dp = dp.rename(columns={"origin_iso3": "o", "asylum_iso3": "d", "year": "_y"})[["o", "d", "_y", "n"]]
    first, last = int(dp["_y"].min()), int(dp["_y"].max())
    abroad = dp.groupby(["o", "_y"])["n"].sum().rename("abroad").reset_index()
    at = out["cutoff"].astype(int).clip(upper=last)

    def level(year: pd.Series) -> pd.Series:
        frame = pd.DataFrame({"o": out["o"].to_numpy(), "d": out["d"].to_numpy(), "_y": year.to_numpy()})
        got = frame.merge(dp, on=["o", "d", "_y"], how="left")["n"].fillna(0.0)
        return pd.Series(np.where(year.to_numpy() >= first, got.to_numpy(), np.nan), index=out.index)

    now, before = level(at), level(at - 2)
    total = pd.DataFrame({"o": out["o"].to_numpy(), "_y": at.to_numpy()}).merge(
        abroad, on=["o", "_y"], how="left"
    )
    total = total["abroad"].to_numpy()
    out["diaspora_log"] = np.log1p(now)
    out["diaspora_growth_2y"] = np.log1p(now) - np.log1p(before)
    out["diaspora_share"] = np.where(total > 0, now / np.where(total > 0, total, 1.0), np.nan)
    return out


def border_pairs(engine: Engine) -> pd.DataFrame:
    """Countries whose admin-0 polygons touch (within BORDER_TOLERANCE_DEG), both orders; computed once per
    call.

    A land border is a cheap proxy for overland movement that great-circle distance between label points
    misses
    (e.g. large neighbours whose centroids are far apart).
    """
    from shapely import STRtree, wkb

    from warehouse.io import read_regions

    regions = read_regions(engine, level=0, with_geometry=True)
    regions = regions[regions["geometry_wkb"].map(lambda g: isinstance(g, str) and bool(g))]
    if regions.empty:
        return pd.DataFrame({"a": pd.Series(dtype=str), "b": pd.Series(dtype=str)})
    geoms = [wkb.loads(bytes.fromhex(g)) for g in regions["geometry_wkb"]]
    ids = regions["region_id"].to_numpy()
    left, right = STRtree(geoms).query(geoms, predicate="dwithin", distance=BORDER_TOLERANCE_DEG)
    keep = left != right
    out = pd.DataFrame({"a": ids[left[keep]], "b": ids[right[keep]]}).drop_duplicates()
    log.info("pair model: %d neighbouring country pairs from %d admin-0 polygons", len(out) // 2, len(geoms))
    return out


def border_features(keys: pd.DataFrame, borders: pd.DataFrame | None) -> pd.DataFrame:
    """shared_border = 1 where o and d are neighbours, 0 otherwise (NaN when no geometry was available)."""
    if borders is None:
        return keys.assign(shared_border=np.nan)
    neighbours = set(zip(borders["a"], borders["b"], strict=True))
    flag = [1.0 if (o, d) in neighbours else 0.0 for o, d in zip(keys["o"], keys["d"], strict=True)]
    return keys.assign(shared_border=flag)


def intensity_features(keys: pd.DataFrame, pairs: pd.DataFrame, census: pd.DataFrame) -> pd.DataFrame:
    """The detecting country's own reporting intensity as of the cutoff (reports dated <= cutoff only).

    Years with a citizenship breakdown so far, mean citizenships listed in its reports of cutoff-2..cutoff,
    and
    log1p of all victims (nationals included) in its latest report.
    """
    rep = _reporting(pairs, census)
    n_cit = (
        census[["detecting_iso3", "year", "n_citizenships"]].set_axis(["d", "t", "n"], axis=1)
        if "n_citizenships" in census
        else pd.DataFrame(columns=["d", "t", "n"])
    )
    n_cit = n_cit.astype({"t": int})
    counts = np.where(pairs["censored"].astype(bool), CENSORED_VALUE, pairs["victims"].astype(float))
    totals = (
        pd.DataFrame(
            {"d": pairs["detecting_iso3"].to_numpy(), "t": pairs["year"].astype(int).to_numpy(), "c": counts}
        )
        .groupby(["d", "t"])["c"]
        .sum()
        .reset_index()
    )
    parts = []
    for cutoff, grp in keys.groupby("cutoff"):
        rep_c = rep[rep["t"] <= cutoff]
        years = rep_c.groupby("d")["t"].size()
        recent = n_cit[(n_cit["t"] <= cutoff) & (n_cit["t"] >= cutoff - 2)].groupby("d")["n"].mean()
        tot = totals[totals["t"] <= cutoff].sort_values("t").groupby("d").tail(1).set_index("d")["c"]
        d = grp["d"]
        parts.append(
            grp.assign(
                detecting_years_reported=years.reindex(d).fillna(0).to_numpy(dtype=float),
                detecting_citizenships_mean3=recent.reindex(d).to_numpy(dtype=float),
                detecting_total_log=np.log1p(tot.reindex(d).to_numpy(dtype=float)),
            )
        )
    return (
        pd.concat(parts).loc[keys.index] if parts else keys.assign(**{c: np.nan for c in INTENSITY_FEATURES})
    )


def pair_side_features(
    keys: pd.DataFrame, pairs: pd.DataFrame, census: pd.DataFrame, context: PairContext | None
) -> pd.DataFrame:
    """Diaspora, border and reporting-intensity columns for every key (any pair, listed before or not)."""
    context = context or PairContext()
    out = diaspora_features(keys, context.displacement)
    out = border_features(out, context.borders)
    return intensity_features(out, pairs, census)


def pair_context(engine: Engine) -> PairContext:
    """Read the diaspora table and compute the land borders once; an older warehouse without them gives
    NaN."""
    from warehouse import io as store

    try:
        displacement = store.read_displacement_pairs(engine)
    except Exception as exc:  # noqa: BLE001 - a warehouse migrated before 0009 or never loaded
        log.warning("pair model: no UNHCR origin x asylum pairs (%s); diaspora features are missing", exc)
        displacement = None
    try:
        borders = border_pairs(engine)
    except Exception as exc:  # noqa: BLE001 - geometry unreadable: the feature is missing, not invented
        log.warning("pair model: land borders not computed (%s); shared_border is missing", exc)
        borders = None
    return PairContext(displacement=displacement, borders=borders)


def build_examples(
    pairs: pd.DataFrame,
    census: pd.DataFrame,
    drivers: pd.DataFrame,
    coords: pd.DataFrame,
    context: PairContext | None = None,
) -> pd.DataFrame:
    """Horizon-augmented examples: pairs listed by the cutoff, target in a reporting year cutoff + h."""
    p = _foreign(pairs)
    rep = _reporting(pairs, census)
    first, last = int(rep["t"].min()), int(rep["t"].max())
    rows = []
    for cutoff in range(first + 2, last):
        known = p[p["t"] <= cutoff][["d", "o"]].drop_duplicates()
        for h in HORIZONS:
            t = cutoff + h
            if t > last:
                continue
            reporting = rep.loc[rep["t"] == t, "d"]
            k = known[known["d"].isin(reporting)].assign(cutoff=cutoff, horizon=h, year=t)
            rows.append(k)
    keys = pd.concat(rows, ignore_index=True)
    target = p.rename(columns={"t": "year", "v": "target"})
    keys = keys.merge(target, on=["d", "o", "year"], how="left").fillna({"target": 0.0})
    feats = side_features(history_features(keys, pairs, census), drivers, coords)
    return pair_side_features(feats, pairs, census, context)


def _fit(frame: pd.DataFrame, features: tuple[str, ...] | None = None) -> xgb.Booster:
    cols = list(features or FEATURES)
    d = xgb.DMatrix(
        frame[cols].to_numpy(dtype=float), label=frame["target"].to_numpy(dtype=float), missing=np.nan
    )
    booster = xgb.train(PARAMS, d, num_boost_round=ROUNDS)
    booster.feature_names = cols  # named after training: a named matrix is re-checked in every round
    return booster


def _predict(booster: xgb.Booster, frame: pd.DataFrame) -> np.ndarray:
    cols = list(booster.feature_names or FEATURES)  # the booster knows the features it was trained on
    d = xgb.DMatrix(frame[cols].to_numpy(dtype=float), feature_names=cols, missing=np.nan)
    return np.maximum(booster.predict(d), 0.0)


BLEND_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def blend_weights(oos: pd.DataFrame) -> dict[int, float]:
    """Per horizon, the weight w of the model in w * model + (1 - w) * 3-year mean that minimises RMSLE.

    Fitted only on the out-of-sample rows given (for a backtest cutoff Y: rows whose target year is <= Y).
    A horizon without such rows keeps the model alone (w = 1).
    """
    weights = {}
    for h in HORIZONS:
        grp = oos[oos["horizon"] == h]
        if len(grp) < 50:
            weights[h] = 1.0
            continue
        err = [np.mean((w * grp["pred"] + (1 - w) * grp["mean_3y"] - grp["target"]) ** 2) for w in BLEND_GRID]
        weights[h] = float(BLEND_GRID[int(np.argmin(err))])
    return weights


def apply_blend(pred: np.ndarray, frame: pd.DataFrame, weights: dict | None) -> np.ndarray:
    """Shrink the model's log prediction toward the pair's 3-year mean with the per-horizon weight."""
    if not weights:
        return pred
    w = np.array([float(weights.get(int(h), weights.get(str(int(h)), 1.0))) for h in frame["horizon"]])
    return w * pred + (1 - w) * frame["mean_3y"].to_numpy(dtype=float)


def backtest(
    examples: pd.DataFrame,
    features: tuple[str, ...] | None = None,
    blend: bool = False,
    first_cutoff: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling origin: for cutoff Y, train on examples whose target year <= Y, predict Y + 1..Y + 3.

    With ``blend``, the prediction at Y is shrunk toward the 3-year mean with weights fitted on the earlier
    cutoffs' out-of-sample rows whose target year is <= Y (inner origins), never on Y's own targets.
    ``first_cutoff`` restricts the table (not the training) to cutoffs >= it.
    """
    from models.evaluate import backtest_workers

    cutoffs = [
        c
        for c in sorted(examples["cutoff"].unique())
        if examples.loc[examples["year"] <= c, "year"].nunique() >= 3 and (examples["cutoff"] == c).any()
    ]

    def fit_predict(cutoff: int) -> np.ndarray:
        booster = _fit(examples[examples["year"] <= cutoff], features)
        return _predict(booster, examples[examples["cutoff"] == cutoff])

    # the cutoffs' fits are independent (only the blend reads earlier cutoffs): fitted in threads, as many as
    # cores / nthread, and taken in order, so the result is the sequential one
    workers = backtest_workers({"xgboost": {"nthread": PARAMS.get("nthread", 1)}}, len(cutoffs))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            raws = list(pool.map(fit_predict, cutoffs))
    else:
        raws = [fit_predict(c) for c in cutoffs]
    oos = []
    for cutoff, raw in zip(cutoffs, raws, strict=True):
        test = examples[examples["cutoff"] == cutoff]
        pred = raw
        if blend:
            inner = pd.concat(oos, ignore_index=True) if oos else pd.DataFrame(columns=["horizon"])
            inner = inner[inner["year"] <= cutoff] if len(inner) else inner
            pred = apply_blend(
                raw, test, blend_weights(inner.assign(pred=inner["raw"])) if len(inner) else None
            )
        oos.append(test.assign(pred=pred, raw=raw))
    oos_frame = pd.concat(oos, ignore_index=True)
    return (
        score_table(oos_frame if first_cutoff is None else oos_frame[oos_frame["cutoff"] >= first_cutoff]),
        oos_frame,
    )


def score_table(oos_frame: pd.DataFrame) -> pd.DataFrame:
    """Per-horizon RMSLE of the model and of the two baselines on the given out-of-sample rows."""
    table = []
    for h, grp in oos_frame.groupby("horizon"):

        def rmsle(pred: pd.Series, grp: pd.DataFrame = grp) -> float:
            return float(np.sqrt(np.mean((pred - grp["target"]) ** 2)))

        model, last, mean3 = rmsle(grp["pred"]), rmsle(grp["last_value"]), rmsle(grp["mean_3y"])
        table.append(
            {
                "horizon": int(h),
                "n": len(grp),
                "cutoffs": f"{grp['cutoff'].min()}-{grp['cutoff'].max()}",
                "rmsle_model": model,
                "rmsle_last_value": last,
                "rmsle_mean_3y": mean3,
                "improvement_vs_last": 1 - model / last,
                "improvement_vs_mean_3y": 1 - model / mean3,
                "coverage80": None,
            }
        )
    return pd.DataFrame(table)


def train_pairs(
    engine: Engine, pairs: pd.DataFrame, census: pd.DataFrame, run_id: str, registry_dir: Path | None
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Backtest, fit on everything, store the booster (XGBoost's own format + sha256) and the latest
    predictions.

    The gate is judged on backtest cutoffs >= GATE_FIRST_CUTOFF (the earlier ones chose the variant); the
    table
    over every cutoff is stored beside it.
    """
    from models import watchlist
    from warehouse.io import read_observations

    obs = read_observations(engine, indicators=watchlist.needed_indicators(), level=0)
    drivers = watchlist.driver_panel(obs, years=list(range(2000, watchlist.last_input_year(obs) + 1))).drivers
    coords = region_coords(engine)
    context = pair_context(engine)  # diaspora table and land borders: read and computed once per run
    examples = build_examples(pairs, census, drivers, coords, context)
    _all_table, oos = backtest(examples, FEATURES, blend=BLEND)
    half = {}
    for h, grp in oos.groupby("horizon"):
        half[int(h)] = float(np.quantile(np.abs(grp["target"] - grp["pred"]), INTERVAL))
    tables = {}
    for name, part in (
        ("gate", oos[oos["cutoff"] >= GATE_FIRST_CUTOFF]),
        ("all", oos),
        ("selection", oos[oos["cutoff"] < GATE_FIRST_CUTOFF]),
    ):
        table = score_table(part) if len(part) else pd.DataFrame(columns=["horizon"])
        for h, grp in part.groupby("horizon"):
            inside = np.abs(grp["target"] - grp["pred"]) <= half[int(h)]
            table.loc[table["horizon"] == h, "coverage80"] = float(inside.mean())
        tables[name] = table
    gate_table = tables["gate"] if len(tables["gate"]) else tables["all"]
    gate = bool(
        len(gate_table) == len(HORIZONS)
        and (
            (gate_table["improvement_vs_last"] >= GATE_IMPROVEMENT)
            & (gate_table["improvement_vs_mean_3y"] >= GATE_IMPROVEMENT)
        ).all()
    )
    booster = _fit(examples, FEATURES)
    last_year = int(_reporting(pairs, census)["t"].max())
    meta: dict[str, Any] = {
        "features": list(FEATURES),
        "horizons": list(HORIZONS),
        "last_label_year": last_year,
        "interval_halfwidth_log": half,
        "training_rows": len(examples),
        "backtest": gate_table.to_dict("records"),
        "backtest_all_cutoffs": tables["all"].to_dict("records"),
        "backtest_selection": tables["selection"].to_dict("records"),
        "gate_first_cutoff": GATE_FIRST_CUTOFF,
        "gate_passed": gate,
        "gate": (
            f">= {GATE_IMPROVEMENT:.0%} lower RMSLE than both the pair's last value and its 3-year mean at "
            f"every horizon, on backtest cutoffs >= {GATE_FIRST_CUTOFF} (earlier cutoffs chose the variant)"
        ),
        "target": (
            "log1p detected victims of citizenship o in detecting country d (0 in a reporting year without o)"
        ),
        "params": dict(PARAMS),
        "rounds": ROUNDS,
        "variants_doc": "docs/WATCHLIST.md §6.2",
    }
    if BLEND:
        meta["blend_weights"] = blend_weights(oos.assign(pred=oos["raw"]))
    if registry_dir is not None:
        meta["model_file"] = save_pair_model(booster, meta, registry_dir / run_id)
    stored = predict_pairs(
        booster, meta, _latest_keys(pairs, census, last_year), pairs, census, drivers, coords, context
    )
    return meta, stored


def _latest_keys(pairs: pd.DataFrame, census: pd.DataFrame, last_year: int) -> pd.DataFrame:
    p = _foreign(pairs)[["d", "o"]].drop_duplicates()
    return pd.concat([p.assign(year=last_year + h) for h in HORIZONS], ignore_index=True)


def predict_pairs(
    booster: xgb.Booster,
    meta: dict[str, Any],
    keys: pd.DataFrame,
    pairs: pd.DataFrame,
    census: pd.DataFrame,
    drivers: pd.DataFrame,
    coords: pd.DataFrame,
    context: PairContext | None = None,
) -> pd.DataFrame:
    """Expected victims and 80% interval for any (d, o, year), listed before or not.

    The cutoff is year - 1, but never after the last label year; horizons beyond 3 use the horizon-3 model and
    interval, and say so in the basis.
    """
    last = int(meta["last_label_year"])
    keys = keys.copy().reset_index(drop=True)
    keys["_row"] = np.arange(len(keys))  # answers come back in the order asked
    keys["cutoff"] = np.minimum(keys["year"] - 1, last)
    keys["horizon_actual"] = keys["year"] - keys["cutoff"]
    keys["horizon"] = keys["horizon_actual"].clip(1, max(HORIZONS))
    feats = side_features(history_features(keys, pairs, census), drivers, coords)
    feats = pair_side_features(feats, pairs, census, context)
    feats = feats.sort_values("_row").reset_index(drop=True)
    pred = apply_blend(_predict(booster, feats), feats, meta.get("blend_weights"))
    half = np.array(
        [
            float(
                meta["interval_halfwidth_log"][str(h)]
                if str(h) in meta["interval_halfwidth_log"]
                else meta["interval_halfwidth_log"][h]
            )
            for h in feats["horizon"]
        ]
    )
    stats = _foreign(pairs).sort_values("t").groupby(["d", "o"]).tail(1).set_index(["d", "o"])
    idx = pd.MultiIndex.from_arrays([feats["d"], feats["o"]])
    out = pd.DataFrame(
        {
            "detecting_iso3": feats["d"],
            "citizenship_iso3": feats["o"],
            "year": feats["year"].astype(int),
            "expected_victims": np.expm1(pred),
            "lower": np.expm1(np.maximum(pred - half, 0.0)),
            "upper": np.expm1(pred + half),
            "horizon": feats["horizon_actual"].astype(int),
            "last_listed_year": stats["t"].reindex(idx).to_numpy(),
            "last_listed_victims": np.expm1(stats["v"].reindex(idx).to_numpy()),
        }
    )
    out["basis"] = [
        f"GLOTIP pairs to {c}; horizon {h}"
        + (" (beyond 3: horizon-3 model)" if h > 3 else "")
        + ("" if pd.notna(ly) else "; pair never listed")
        for c, h, ly in zip(feats["cutoff"], out["horizon"], out["last_listed_year"], strict=True)
    ]
    return out


def save_pair_model(booster: xgb.Booster, meta: dict[str, Any], folder: Path) -> dict[str, str]:
    """pair_model.ubj and pair_model.json with their sha256 in the run's registry folder (never pickle)."""
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / MODEL_FILE))
    (folder / META_FILE).write_text(
        json.dumps({k: v for k, v in meta.items() if k != "model_file"}, default=str)
    )
    sums = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in (MODEL_FILE, META_FILE)}
    (folder / CHECKSUM_FILE).write_text("".join(f"{v}  {k}\n" for k, v in sums.items()))
    return {"file": MODEL_FILE, "sha256": sums[MODEL_FILE]}


def load_pair_model(folder: Path) -> tuple[xgb.Booster, dict[str, Any]]:
    """Load after verifying the checksums; a changed or missing file is refused."""
    from models.registry import RegistryError

    try:
        expected = dict(
            line.split()[::-1] for line in (folder / CHECKSUM_FILE).read_text().splitlines() if line
        )
    except (OSError, ValueError):
        raise RegistryError(
            f"run folder {folder} has no pair model (train a run with citizenship pairs)"
        ) from None
    for name in (MODEL_FILE, META_FILE):
        path = folder / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != expected.get(name):
            raise RegistryError(
                f"pair model in {folder}: checksum mismatch for {name}; the artefact was changed"
            )
    booster = xgb.Booster()
    booster.load_model(str(folder / MODEL_FILE))
    meta = json.loads((folder / META_FILE).read_text())
    if list(booster.feature_names or []) != list(meta["features"]):
        raise RegistryError(f"pair model in {folder}: features differ from its metadata")
    return booster, meta


def read_pairs_file(path: Path, known: set[str]) -> pd.DataFrame:
    """Validate a PAIRS.csv (detecting_iso3, citizenship_iso3, year); errors name the row and the column."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PairInputError(f"{path}: cannot read as CSV ({exc})") from None
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in ("detecting_iso3", "citizenship_iso3", "year") if c not in frame.columns]
    if missing:
        raise PairInputError(f"{path}: missing column(s) {', '.join(missing)}")
    errors = []
    for i, row in enumerate(frame.itertuples(index=False), start=2):  # row 1 is the header
        for col in ("detecting_iso3", "citizenship_iso3"):
            code = str(getattr(row, col)).strip().upper()
            if code not in known:
                errors.append(
                    f"row {i}, column {col}: '{getattr(row, col)}' is not a known ISO3 country code"
                )
        year = str(row.year).strip()
        if not year.isdigit() or not 1990 <= int(year) <= 2100:
            errors.append(f"row {i}, column year: '{row.year}' is not a year between 1990 and 2100")
    if errors:
        shown = "; ".join(errors[:20]) + (f"; and {len(errors) - 20} more" if len(errors) > 20 else "")
        raise PairInputError(f"{path}: {shown}")
    return pd.DataFrame(
        {
            "d": frame["detecting_iso3"].str.strip().str.upper(),
            "o": frame["citizenship_iso3"].str.strip().str.upper(),
            "year": frame["year"].str.strip().astype(int),
        }
    )


def predict_dyads(
    engine: Engine,
    pairs_csv: Path,
    out_csv: Path,
    run_id: str | None = None,
    registry_dir: Path | None = None,
) -> int:
    """`crisisrisk model predict-dyads`: answer every requested pair and year; returns the number of rows."""
    from models import watchlist
    from models.registry import RegistryError, deployed_run
    from models.registry import registry_dir as default_registry
    from warehouse.io import read_observations, read_regions

    if run_id is None:
        run = deployed_run(engine)
        if run is None:
            raise RegistryError("no run is deployed; pass --run RUN")
        run_id = run["run_id"]
    booster, meta = load_pair_model((registry_dir or default_registry()) / run_id)
    known = set(read_regions(engine, level=0)["region_id"])
    keys = read_pairs_file(pairs_csv, known)
    pairs, census = watchlist.read_pairs(engine)
    obs = read_observations(engine, indicators=watchlist.needed_indicators(), level=0)
    drivers = watchlist.driver_panel(obs, years=list(range(2000, watchlist.last_input_year(obs) + 1))).drivers
    out = predict_pairs(
        booster, meta, keys, pairs, census, drivers, region_coords(engine), pair_context(engine)
    )
    out = out[["detecting_iso3", "citizenship_iso3", "year", "expected_victims", "lower", "upper", "basis"]]
    out = out.assign(run_id=run_id).round({"expected_victims": 3, "lower": 3, "upper": 3})
    out.to_csv(out_csv, index=False)
    return len(out)
