"""The crisis watch list (issue 11): rise score, realised-change label, candidates and the pre-registered
protocol.

Why a rise score: levels of detected victims follow distance, diaspora and detection capacity, so any
cross-country
ranking of them ranks detection, not risk. What the data can validate is the *change* within one population:
how
many of its nationals are detected abroad over the next three years compared with the last three. The protocol
(docs/WATCHLIST.md §1) was committed before any result; this module implements it and nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.stats import spearmanr
from sqlalchemy import Engine

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

CENSORED_VALUE = 2.5  # '<5' as the midpoint of [0, 5), as the detected-victims label does
MIN_DETECTING = 2
TOP_K = 15
BOOTSTRAP_REPS = 1000
FIRST_SCORE_YEAR = 2009
CARRY_YEARS = 2  # a value may stand for up to two later years; the basis names its year
COMPOSITE_WEIGHTS = {
    "displaced_growth_2y": 0.40,
    "idp_growth_2y": 0.20,
    "conflict_intensity": 0.30,
    "disaster_affected": 0.10,
}
VULNERABILITY_STRENGTH = 0.25
GROWTH_BASE = 1000.0  # amendment 1 (docs/WATCHLIST.md §5): growth terms of composite_min_base
AMENDED = "composite_min_base"
SCALE_FULL_PER_100K = 100.0  # amendment 2 (§5b): growth counts in full from 100 per 100,000 of the population
SCALED = "composite_scaled"
NON_INFERIOR_SPEARMAN = 0.02
DRIVERS = (
    "displaced_growth_2y",
    "idp_growth_2y",
    "conflict_intensity",
    "conflict_growth",
    "disaster_affected",
    "displaced_abroad_level",
    "idps_level",
)
XGB_FEATURES = (*DRIVERS, "log_population", "log_gdp_per_capita", "rule_of_law")
XGB_PARAMS = {
    "objective": "reg:squarederror",
    "max_depth": 2,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "min_child_weight": 5,
    "seed": 0,
    "nthread": 2,
}
XGB_ROUNDS = 200
XGB_MIN_TRAIN_YEARS = 3

INPUTS: dict[str, tuple[str, ...]] = {
    "refugees_origin": ("displacement.refugees_by_origin",),
    "asylum_origin": ("displacement.asylum_seekers_by_origin",),
    "idps": (
        "displacement.idmc_conflict_idps",
        "displacement.conflict_idps_stock",
        "displacement.idps_unhcr",
    ),
    "deaths": ("conflict.deaths_organised_violence",),
    "disaster_affected": ("hazard.disaster_affected",),
    "population": ("structural.population",),
    "gdp": ("structural.gdp_current_usd",),
    "rule_of_law": ("structural.wgi_rl",),
    "refugees_hosted": ("displacement.refugees_hosted",),
    "asylum_hosted": ("displacement.asylum_seekers_hosted",),
}
# absent = 0 inside the source's coverage (complete panels of events/stocks); after it the value is carried
FILL_ZERO = {
    "deaths": None,
    "idps": None,
    "disaster_affected": 2020,
    "refugees_origin": None,
    "asylum_origin": None,
}
DRIVER_LABELS = {
    "displaced_growth_2y": "refugees and asylum-seekers abroad, change over two years",
    "idp_growth_2y": "conflict IDPs, change over two years",
    "conflict_intensity": "deaths in organised violence per 100,000",
    "conflict_growth": "deaths in organised violence, change against the previous three years",
    "disaster_affected": "people affected by disasters per 100,000",
    "displaced_abroad_level": "refugees and asylum-seekers abroad per 100,000",
    "idps_level": "conflict IDPs per 100,000",
    "vulnerability": "poverty and weak rule of law (modifier)",
}


def needed_indicators() -> list[str]:
    return sorted({c for codes in INPUTS.values() for c in codes})


# --- the label


def abroad_counts(
    pairs: pd.DataFrame, census: pd.DataFrame, censored_value: float = CENSORED_VALUE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairs of victims detected abroad as (d, o, t, v = log1p count, '<5' as ``censored_value``), and the
    reporting years (d, t): census rows plus any year a pair was listed. Shared by the label and the phases.
    """
    p = pairs[pairs["detecting_iso3"] != pairs["citizenship_iso3"]]
    counts = np.where(p["censored"].astype(bool), censored_value, p["victims"].astype(float))
    p = pd.DataFrame(
        {
            "d": p["detecting_iso3"].to_numpy(),
            "o": p["citizenship_iso3"].to_numpy(),
            "t": p["year"].astype(int).to_numpy(),
            "v": np.log1p(counts),
        }
    )
    rep = pd.concat([census[["detecting_iso3", "year"]].set_axis(["d", "t"], axis=1), p[["d", "t"]]])
    return p, rep.assign(t=rep["t"].astype(int)).drop_duplicates()


def realised_change(
    pairs: pd.DataFrame,
    census: pd.DataFrame,
    origin_years: list[int] | None = None,
    variant: str = "main",
    censored_value: float = CENSORED_VALUE,
    min_detecting: int = MIN_DETECTING,
) -> pd.DataFrame:
    """Realised change of each population's nationals detected abroad (docs/WATCHLIST.md §1.2).

    ``variant``: "main" (a reporting year without o counts 0) or "listed" (only years that list o, and d must
    list
    o in both windows). Returns origin, year, change, n_detecting.
    """
    if variant not in ("main", "listed"):
        raise ValueError(f"unknown label variant '{variant}'")
    cols = ["origin", "year", "change", "n_detecting"]
    p, rep = abroad_counts(pairs, census, censored_value)
    if p.empty:
        return pd.DataFrame(columns=cols)
    if origin_years is None:
        origin_years = list(range(int(rep["t"].min()) + 2, int(rep["t"].max()) - 2))
    out = []
    for y in origin_years:
        n_base = rep[rep["t"].between(y - 2, y)].groupby("d").size()
        n_target = rep[rep["t"].between(y + 1, y + 3)].groupby("d").size()
        eligible = n_base.index.intersection(n_target.index)
        w = p[p["d"].isin(eligible) & p["t"].between(y - 2, y + 3)]
        if w.empty:
            continue
        w = w.assign(win=np.where(w["t"] <= y, "base", "target"))
        agg = w.groupby(["o", "d", "win"])["v"].agg(["sum", "count"]).unstack("win")
        sums = agg["sum"].reindex(columns=["base", "target"]).fillna(0.0)
        listed = agg["count"].reindex(columns=["base", "target"]).fillna(0)
        d_index = sums.index.get_level_values("d")
        if variant == "main":
            base = sums["base"] / n_base.reindex(d_index).to_numpy()
            target = sums["target"] / n_target.reindex(d_index).to_numpy()
            change = target - base
        else:
            both = (listed["base"] > 0) & (listed["target"] > 0)
            change = (sums["target"] / listed["target"] - sums["base"] / listed["base"])[both]
        per_origin = change.groupby(level="o").agg(["mean", "count"])
        per_origin = per_origin[per_origin["count"] >= min_detecting]
        out.append(
            pd.DataFrame(
                {
                    "origin": per_origin.index,
                    "year": y,
                    "change": per_origin["mean"].to_numpy(),
                    "n_detecting": per_origin["count"].to_numpy(),
                }
            )
        )
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)


def year_demeaned(labels: pd.DataFrame) -> pd.Series:
    """The change minus its mean over origins of the same year (world-wide shifts in reporting removed)."""
    return labels["change"] - labels.groupby("year")["change"].transform("mean")


# --- drivers


def _wide(obs: pd.DataFrame, codes: tuple[str, ...]) -> pd.DataFrame:
    sub = obs[obs["indicator"].isin(codes)]
    if sub.empty:
        return pd.DataFrame()
    prio = {c: i for i, c in enumerate(codes)}
    sub = sub.assign(_p=sub["indicator"].map(prio)).sort_values("_p").drop_duplicates(["region_id", "year"])
    return sub.pivot(index="region_id", columns="year", values="value").sort_index(axis=1)


def _as_of(
    wide: pd.DataFrame,
    years: list[int],
    index: pd.Index,
    carry: int,
    fill_zero: bool,
    coverage_end: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Value as of each year (observed that year, else carried up to ``carry`` years) and the year it is
    from."""
    span = list(range(min(years) - 6, max(years) + 1))
    if wide.empty:
        empty = pd.DataFrame(np.nan, index=index, columns=span)
        return empty, empty.copy()
    full = wide.reindex(index=index, columns=span)
    if fill_zero:
        first, last = int(min(wide.columns)), int(coverage_end or max(wide.columns))
        inside = [y for y in span if first <= y <= last]
        full[inside] = full[inside].fillna(0.0)
    stamp = pd.DataFrame(np.where(full.notna(), np.array(span)[None, :], np.nan), index=index, columns=span)
    if carry <= 0:
        return full, stamp
    return full.ffill(axis=1, limit=carry), stamp.ffill(axis=1, limit=carry)


def last_input_year(obs: pd.DataFrame) -> int:
    """The newest year of any core driver (displacement, IDPs, conflict deaths): the last year scored."""
    core = obs[obs["indicator"].isin(INPUTS["refugees_origin"] + INPUTS["idps"] + INPUTS["deaths"])]
    return int(core["year"].max()) if not core.empty else int(obs["year"].max())


@dataclass
class DriverPanel:
    """Drivers (origin × year, data dated <= year only) with the inputs' own years and the people exposed."""

    drivers: pd.DataFrame  # index (region_id, year); columns DRIVERS + vulnerability inputs + raw values
    last_year: int


def driver_panel(obs: pd.DataFrame, years: list[int] | None = None) -> DriverPanel:
    """Compute every driver for each country and year from observations dated <= that year.

    ``obs``: level-0 yearly observations (region_id, year, indicator, value) as read_observations returns
    them.
    """
    obs = obs[obs["indicator"].isin(needed_indicators())]
    if obs.empty:
        raise ValueError("no driver observations (UNHCR, UCDP, IDMC, EM-DAT, World Bank) in the warehouse")
    last_year = last_input_year(obs)
    if years is None:
        years = list(range(FIRST_SCORE_YEAR, last_year + 1))
    index = pd.Index(sorted(obs["region_id"].unique()), name="region_id")
    vals: dict[str, pd.DataFrame] = {}
    stamps: dict[str, pd.DataFrame] = {}
    for name, codes in INPUTS.items():
        fz = name in FILL_ZERO
        carry = 0 if name == "disaster_affected" else CARRY_YEARS
        vals[name], stamps[name] = _as_of(_wide(obs, codes), years, index, carry, fz, FILL_ZERO.get(name))
    displaced = vals["refugees_origin"].add(vals["asylum_origin"], fill_value=0)
    displaced_year = stamps["refugees_origin"].combine_first(stamps["asylum_origin"])
    pop = vals["population"]
    hosted = vals["refugees_hosted"].add(vals["asylum_hosted"], fill_value=0)
    hosted_year = stamps["refugees_hosted"].combine_first(stamps["asylum_hosted"])

    def shifted(frame: pd.DataFrame, k: int) -> pd.DataFrame:
        return frame.shift(k, axis=1)

    rate_deaths = np.log1p(vals["deaths"] / pop * 1e5)
    past_deaths = (shifted(vals["deaths"], 1) + shifted(vals["deaths"], 2) + shifted(vals["deaths"], 3)) / 3
    frames = {
        "displaced_growth_2y": np.log1p(displaced) - np.log1p(shifted(displaced, 2)),
        "idp_growth_2y": np.log1p(vals["idps"]) - np.log1p(shifted(vals["idps"], 2)),
        "displaced_growth_2y_based": np.log(
            (displaced + GROWTH_BASE) / (shifted(displaced, 2) + GROWTH_BASE)
        ),
        "idp_growth_2y_based": np.log(
            (vals["idps"] + GROWTH_BASE) / (shifted(vals["idps"], 2) + GROWTH_BASE)
        ),
        "displaced_growth_2y_scaled": (
            np.log((displaced + GROWTH_BASE) / (shifted(displaced, 2) + GROWTH_BASE))
            * _scale_weight(displaced, shifted(displaced, 2), pop)
        ),
        "idp_growth_2y_scaled": (
            np.log((vals["idps"] + GROWTH_BASE) / (shifted(vals["idps"], 2) + GROWTH_BASE))
            * _scale_weight(vals["idps"], shifted(vals["idps"], 2), pop)
        ),
        "displaced_abroad_2y_before": shifted(displaced, 2),
        "idps_2y_before": shifted(vals["idps"], 2),
        "conflict_intensity": rate_deaths,
        "conflict_growth": rate_deaths - np.log1p(past_deaths / pop * 1e5),
        "disaster_affected": np.log1p(vals["disaster_affected"] / pop * 1e5),
        "displaced_abroad_level": np.log1p(displaced / pop * 1e5),
        "idps_level": np.log1p(vals["idps"] / pop * 1e5),
        "log_population": np.log(pop.where(pop > 0)),
        "log_gdp_per_capita": np.log((vals["gdp"] / pop).where(vals["gdp"] > 0)),
        "rule_of_law": vals["rule_of_law"],
        "displaced_abroad": displaced.where(displaced_year.notna()),
        "displaced_abroad_year": displaced_year,
        "idps": vals["idps"],
        "idps_year": stamps["idps"],
        "hosted": hosted.where(hosted_year.notna()),
        "hosted_year": hosted_year,
        "deaths": vals["deaths"],
        "deaths_year": stamps["deaths"],
        "disaster_year": stamps["disaster_affected"],
        "population_year": stamps["population"],
    }
    long = []
    for name, frame in frames.items():
        s = frame.reindex(columns=years).stack(future_stack=True)
        s.index.names = ["region_id", "year"]
        long.append(s.rename(name))
    panel = pd.concat(long, axis=1).replace([np.inf, -np.inf], np.nan)
    # a population is scored where it has a population and at least one displacement or conflict value
    has_input = panel[["displaced_growth_2y", "conflict_intensity", "idp_growth_2y"]].notna().any(axis=1)
    panel = panel[panel["log_population"].notna() & has_input]
    panel["basis"] = [
        _basis(r)
        for r in panel[
            ["displaced_abroad_year", "idps_year", "deaths_year", "disaster_year", "population_year"]
        ].itertuples(index=False)
    ]
    return DriverPanel(panel.sort_index(), last_year)


def _scale_weight(now: pd.DataFrame, before: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Amendment 2 (§5b): min(1, max(N_Y, N_Y-2) per 100,000 / 100), so that growth from a base that is tiny
    for
    the population (7,446 of 340 million) barely counts; the larger year keeps a fall from a large base
    visible.
    """
    per_100k = np.maximum(now, before) / population.where(population > 0) * 1e5
    return (per_100k / SCALE_FULL_PER_100K).clip(upper=1.0)


def _basis(r: Any) -> str:
    def y(v: Any) -> str:
        return "none" if v is None or pd.isna(v) else str(int(v))

    return (
        f"refugees/asylum-seekers {y(r.displaced_abroad_year)}; IDPs {y(r.idps_year)}; conflict deaths "
        f"{y(r.deaths_year)}; disasters {y(r.disaster_year)}; population {y(r.population_year)}"
    )


# --- candidates


def _z_within_year(values: pd.Series) -> pd.Series:
    grp = values.groupby(level="year")
    std = grp.transform("std").replace(0, np.nan)
    return ((values - grp.transform("mean")) / std).fillna(0.0)


def composite_terms(panel: pd.DataFrame, based: bool = False, scaled: bool = False) -> pd.DataFrame:
    """The composite's weighted terms and its vulnerability modifier (docs/WATCHLIST.md §1.3).

    ``based``: amendment 1 (§5), growth terms with a base of GROWTH_BASE people. ``scaled``: amendment 2
    (§5b),
    those growth terms weighted by the quantity's scale per 100,000 of the population.
    """
    suffix = "_scaled" if scaled else "_based" if based else ""
    source = {
        k: f"{k}{suffix}" if k in ("displaced_growth_2y", "idp_growth_2y") else k for k in COMPOSITE_WEIGHTS
    }
    z = {k: _z_within_year(panel[source[k]]) for k in COMPOSITE_WEIGHTS}
    crisis = sum(COMPOSITE_WEIGHTS[k] * z[k] for k in COMPOSITE_WEIGHTS)
    vuln = ((_z_within_year(-panel["log_gdp_per_capita"]) + _z_within_year(-panel["rule_of_law"])) / 2).clip(
        -1, 1
    )
    factor = 1 + VULNERABILITY_STRENGTH * vuln
    terms = pd.DataFrame(
        {k: COMPOSITE_WEIGHTS[k] * z[k] * factor for k in COMPOSITE_WEIGHTS}, index=panel.index
    )
    # the modifier's share of the score is already inside each term; report it separately as well
    terms["vulnerability"] = crisis * (factor - 1)
    terms["score"] = crisis * factor
    return terms


def transparent_scores(panel: pd.DataFrame) -> pd.DataFrame:
    """Every transparent candidate's score (higher = more expected rise)."""
    scores = pd.DataFrame({k: panel[k] for k in DRIVERS}, index=panel.index)
    scores["composite"] = composite_terms(panel)["score"]
    scores[AMENDED] = composite_terms(panel, based=True)["score"]
    scores[SCALED] = composite_terms(panel, scaled=True)["score"]
    return scores


def _fit_xgb(X: pd.DataFrame, y: pd.Series) -> xgb.Booster:
    d = xgb.DMatrix(
        X.to_numpy(dtype=float), label=y.to_numpy(dtype=float), feature_names=list(X.columns), missing=np.nan
    )
    return xgb.train(XGB_PARAMS, d, num_boost_round=XGB_ROUNDS)


def _xgb_predict(booster: xgb.Booster, X: pd.DataFrame, contribs: bool = False) -> np.ndarray:
    d = xgb.DMatrix(X.to_numpy(dtype=float), feature_names=list(X.columns), missing=np.nan)
    return booster.predict(d, pred_contribs=contribs)


def xgb_backtest_scores(panel: pd.DataFrame, labels: pd.DataFrame, years: list[int]) -> pd.Series:
    """XGBoost scores for each origin year Y, trained strictly on origin years <= Y-3 (labels end by Y)."""
    target = labels.assign(target=year_demeaned(labels)).set_index(["origin", "year"])["target"]
    target.index.names = ["region_id", "year"]
    train_all = panel.join(target, how="inner")
    out = []
    for y in years:
        train = train_all[train_all.index.get_level_values("year") <= y - 3]
        if train.index.get_level_values("year").nunique() < XGB_MIN_TRAIN_YEARS:
            continue
        booster = _fit_xgb(train[list(XGB_FEATURES)], train["target"])
        scope = panel[panel.index.get_level_values("year") == y]
        out.append(pd.Series(_xgb_predict(booster, scope[list(XGB_FEATURES)]), index=scope.index))
    return pd.concat(out) if out else pd.Series(dtype=float)


# --- the protocol


def score_candidate(
    score: pd.Series, labels: pd.DataFrame, top_k: int = TOP_K, reps: int = BOOTSTRAP_REPS, seed: int = 0
) -> dict[str, Any]:
    """Mean per-year Spearman and top-k lift with a bootstrap interval (docs/WATCHLIST.md §1.4)."""
    empty = {
        "years": 0,
        "mean_spearman": None,
        "top_lift": None,
        "top_lift_interval": [None, None],
        "per_year": [],
    }
    if labels.empty or score.empty:
        return empty
    lab = labels.set_index(["origin", "year"])["change"]
    lab.index.names = ["region_id", "year"]
    frame = lab.to_frame("label").join(score.rename("score"), how="left")
    frame["score"] = frame["score"].fillna(frame.groupby(level="year")["score"].transform("median"))
    frame = frame.dropna()
    rng = np.random.default_rng(seed)
    rhos, lifts, per_year, groups = [], [], [], []
    for year, grp in frame.groupby(level="year"):
        if len(grp) < top_k + 2:
            continue
        rho = float(spearmanr(grp["score"], grp["label"]).statistic)
        lift = _lift(grp["score"].to_numpy(), grp["label"].to_numpy(), top_k)
        rhos.append(rho)
        lifts.append(lift)
        per_year.append({"year": int(year), "n": len(grp), "spearman": rho, "top_lift": lift})
        groups.append((grp["score"].to_numpy(), grp["label"].to_numpy()))
    if not groups:
        return empty
    boot = np.empty(reps)
    for i in range(reps):
        vals = []
        for s, lab_values in groups:
            idx = rng.integers(0, len(s), len(s))
            vals.append(_lift(s[idx], lab_values[idx], top_k))
        boot[i] = np.mean(vals)
    return {
        "years": len(groups),
        "first_year": per_year[0]["year"],
        "last_year": per_year[-1]["year"],
        "n_origin_years": int(sum(r["n"] for r in per_year)),
        "mean_spearman": float(np.mean(rhos)),
        "top_lift": float(np.mean(lifts)),
        "top_lift_pct": float(np.expm1(np.mean(lifts)) * 100),
        "top_lift_interval": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
        "per_year": per_year,
    }


def _lift(score: np.ndarray, label: np.ndarray, top_k: int) -> float:
    order = np.argsort(-score, kind="stable")[:top_k]
    return float(label[order].mean() - label.mean())


def strength(result: dict[str, Any]) -> str:
    """Plain-words skill class (docs/WATCHLIST.md §1.6)."""
    if not result or result.get("top_lift") is None:
        return "not measured"
    lo = result["top_lift_interval"][0]
    rho = result["mean_spearman"]
    if lo is None or lo <= 0 or rho < 0.15:
        return "weak"
    return "strong" if rho >= 0.30 else "moderate"


def skill_sentence(result: dict[str, Any], label_note: str = "") -> str:
    if not result or result.get("top_lift") is None:
        return (
            "Skill not measured: the warehouse holds no GLOTIP victims-by-citizenship pairs to validate the "
            "watch list against."
        )
    lo, hi = (np.expm1(v) * 100 for v in result["top_lift_interval"])
    return (
        f"Historically ({result['first_year']}-{result['last_year']}), the {TOP_K} populations at the top of "
        f"this list saw on average {result['top_lift_pct']:+.0f}% more of their nationals detected as "
        "trafficking victims abroad over the next three years than the average population (95% interval "
        f"{lo:+.0f}% to {hi:+.0f}%; mean rank correlation {result['mean_spearman']:+.2f}). "
        f"Skill: {strength(result)}.{label_note}"
    )


def run_protocol(
    panel: pd.DataFrame, labels_main: pd.DataFrame, labels_listed: pd.DataFrame, reps: int = BOOTSTRAP_REPS
) -> dict[str, Any]:
    """Score every candidate under both label variants and choose the headline (docs/WATCHLIST.md §1.5)."""
    scores = transparent_scores(panel)
    years = sorted(labels_main["year"].unique().tolist()) if len(labels_main) else []
    xgb_scores = xgb_backtest_scores(panel, labels_main, years) if years else pd.Series(dtype=float)
    table = []
    results: dict[str, dict[str, dict[str, Any]]] = {}
    candidates = {**{c: scores[c] for c in scores.columns}, "xgboost": xgb_scores}
    for name, s in candidates.items():
        results[name] = {
            "main": score_candidate(s, labels_main, reps=reps),
            "listed": score_candidate(s, labels_listed, reps=reps),
        }
        for variant, r in results[name].items():
            table.append(
                {
                    "candidate": name,
                    "label": variant,
                    "kind": (
                        "xgboost"
                        if name == "xgboost"
                        else (
                            "composite"
                            if name == "composite"
                            else (
                                "amendment 1"
                                if name == AMENDED
                                else "amendment 2" if name == SCALED else "single driver"
                            )
                        )
                    ),
                    **{
                        k: r.get(k)
                        for k in (
                            "years",
                            "first_year",
                            "last_year",
                            "n_origin_years",
                            "mean_spearman",
                            "top_lift",
                            "top_lift_pct",
                        )
                    },
                    "top_lift_lo": r["top_lift_interval"][0],
                    "top_lift_hi": r["top_lift_interval"][1],
                }
            )
    transparent = [
        c for c in scores.columns if c not in (AMENDED, SCALED) and results[c]["main"]["top_lift"] is not None
    ]
    if not transparent:
        return {
            "headline": "composite",
            "table": table,
            "results": results,
            "xgb_comparison": None,
            "amendment": None,
            "amendment_2": None,
        }
    best = max(
        transparent, key=lambda c: (results[c]["main"]["top_lift"], results[c]["main"]["mean_spearman"])
    )
    amendment = None
    if best == "composite" and results[AMENDED]["main"]["top_lift"] is not None:
        ref, new = results["composite"]["main"], results[AMENDED]["main"]
        lo, hi = ref["top_lift_interval"]
        accepted = bool(
            lo <= new["top_lift"] <= hi
            and new["mean_spearman"] >= ref["mean_spearman"] - NON_INFERIOR_SPEARMAN
        )
        amendment = {
            "candidate": AMENDED,
            "accepted": accepted,
            "top_lift": new["top_lift"],
            "composite_interval": [lo, hi],
            "mean_spearman": new["mean_spearman"],
            "composite_spearman": ref["mean_spearman"],
        }
        if accepted:
            best = AMENDED
    amendment_2 = None
    if best == AMENDED and results[SCALED]["main"]["top_lift"] is not None:
        amendment_2 = _non_inferior(SCALED, results[AMENDED]["main"], results[SCALED]["main"], AMENDED)
        if amendment_2["accepted"]:
            best = SCALED
    headline = best
    comparison = None
    if len(xgb_scores):
        xgb_years = sorted(xgb_scores.index.get_level_values("year").unique().tolist())
        common = labels_main[labels_main["year"].isin(xgb_years)]
        best_common = score_candidate(scores[best], common, reps=reps)
        xgb_main = results["xgboost"]["main"]
        wins = (
            xgb_main["top_lift"] is not None
            and best_common["top_lift"] is not None
            and xgb_main["top_lift"] > best_common["top_lift"]
            and xgb_main["mean_spearman"] > best_common["mean_spearman"]
        )
        comparison = {
            "years": xgb_years,
            "best_transparent": best,
            "best_transparent_top_lift": best_common["top_lift"],
            "best_transparent_spearman": best_common["mean_spearman"],
            "xgboost_top_lift": xgb_main["top_lift"],
            "xgboost_spearman": xgb_main["mean_spearman"],
            "xgboost_wins": bool(wins),
        }
        if wins:
            headline = "xgboost"
    return {
        "headline": headline,
        "best_transparent": best,
        "table": table,
        "results": results,
        "xgb_comparison": comparison,
        "amendment": amendment,
        "amendment_2": amendment_2,
    }


def _non_inferior(candidate: str, ref: dict[str, Any], new: dict[str, Any], reference: str) -> dict[str, Any]:
    """Amendment 2's rule (§5b, amendment 1's rule of §5): lift inside the reference's 95% interval, Spearman
    at
    most NON_INFERIOR_SPEARMAN below it."""
    lo, hi = ref["top_lift_interval"]
    accepted = bool(
        lo <= new["top_lift"] <= hi and new["mean_spearman"] >= ref["mean_spearman"] - NON_INFERIOR_SPEARMAN
    )
    return {
        "candidate": candidate,
        "reference": reference,
        "accepted": accepted,
        "top_lift": new["top_lift"],
        "reference_interval": [lo, hi],
        "mean_spearman": new["mean_spearman"],
        "reference_spearman": ref["mean_spearman"],
    }


# --- the watch list itself


def calibrate(score: pd.Series, labels: pd.DataFrame) -> dict[str, float]:
    """Line from score to expected change and out-of-sample residual quantiles (docs/WATCHLIST.md §1.7)."""
    lab = labels.set_index(["origin", "year"])["change"]
    lab.index.names = ["region_id", "year"]
    frame = lab.to_frame("label").join(score.rename("score"), how="inner").dropna()
    if len(frame) < 10:
        return {"intercept": 0.0, "slope": 0.0, "q10": 0.0, "q90": 0.0, "n": len(frame), "fitted": False}
    slope, intercept = np.polyfit(frame["score"], frame["label"], 1)
    resid = []
    for y in sorted(frame.index.get_level_values("year").unique()):
        train = frame[frame.index.get_level_values("year") <= y - 3]
        test = frame[frame.index.get_level_values("year") == y]
        if len(train) < 10:
            continue
        b, a = np.polyfit(train["score"], train["label"], 1)
        resid.extend((test["label"] - (a + b * test["score"])).tolist())
    if len(resid) < 10:
        resid = (frame["label"] - (intercept + slope * frame["score"])).tolist()
    return {
        "intercept": float(intercept),
        "slope": float(slope),
        "q10": float(min(np.quantile(resid, 0.1), 0.0)),
        "q90": float(max(np.quantile(resid, 0.9), 0.0)),
        "n": len(frame),
        "fitted": True,
    }


def _growth_words(what: str, now: Any, before: Any, year: Any) -> str:
    span = f" ({int(year) - 2}-{int(year)})" if pd.notna(year) else ""
    if pd.isna(before) or before < 1:
        return f"{what} from none to {_count(now)} in two years{span}"
    return f"{what} x{now / before:.1f} in two years{span} ({_count(before)} to {_count(now)})"


def _count(value: Any) -> str:
    value = float(value)
    return f"{value / 1e6:.1f} million" if value >= 1e6 else f"{value:,.0f}"


def _rising(driver: str, row: pd.Series) -> bool:
    """A growth driver is named only when the quantity actually rose (by 10% or more)."""
    if driver == "displaced_growth_2y":
        now, before = row.get("displaced_abroad"), row.get("displaced_abroad_2y_before")
    elif driver == "idp_growth_2y":
        now, before = row.get("idps"), row.get("idps_2y_before")
    else:
        return True
    if pd.isna(now) or now <= 0:
        return False
    return bool(pd.isna(before) or now >= 1.1 * before)


def _plain(driver: str, row: pd.Series) -> str:
    """One driver in words, e.g. 'refugees and asylum-seekers abroad x2.4 in two years (2023-2025)'."""
    v = row.get(driver)
    if driver == "displaced_growth_2y" and pd.notna(v):
        return _growth_words(
            "refugees and asylum-seekers abroad",
            row.get("displaced_abroad"),
            row.get("displaced_abroad_2y_before"),
            row.get("displaced_abroad_year"),
        )
    if driver == "idp_growth_2y" and pd.notna(v):
        return _growth_words(
            "conflict IDPs", row.get("idps"), row.get("idps_2y_before"), row.get("idps_year")
        )
    if driver == "conflict_intensity" and pd.notna(v):
        y = row.get("deaths_year")
        return f"{np.expm1(v):,.1f} conflict deaths per 100,000" + (f" ({int(y)})" if pd.notna(y) else "")
    if driver == "conflict_growth" and pd.notna(v):
        return f"conflict deaths per 100,000 x{np.exp(v):.1f} against the previous three years"
    if driver == "disaster_affected" and pd.notna(v):
        y = row.get("disaster_year")
        return f"{np.expm1(v):,.0f} per 100,000 affected by disasters" + (
            f" ({int(y)})" if pd.notna(y) else ""
        )
    if driver == "displaced_abroad_level" and pd.notna(v):
        return f"{np.expm1(v):,.0f} refugees and asylum-seekers abroad per 100,000"
    if driver == "idps_level" and pd.notna(v):
        return f"{np.expm1(v):,.0f} conflict IDPs per 100,000"
    if driver == "vulnerability":
        return "poverty and weak rule of law amplify the crisis signal"
    return DRIVER_LABELS.get(driver, driver)


def watchlist_frame(
    panel: pd.DataFrame, headline: str, labels_main: pd.DataFrame, booster: xgb.Booster | None = None
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Headline scores for every scored country-year, with rise factor, interval, rank, drivers and basis."""
    if headline == "xgboost":
        if booster is None:
            raise ValueError("the xgboost headline needs its booster")
        X = panel[list(XGB_FEATURES)]
        contribs = _xgb_predict(booster, X, contribs=True)
        score = pd.Series(contribs.sum(axis=1), index=panel.index)
        terms = pd.DataFrame(contribs[:, :-1], index=panel.index, columns=list(XGB_FEATURES))
    elif headline in ("composite", AMENDED, SCALED):
        terms = composite_terms(panel, based=headline == AMENDED, scaled=headline == SCALED)
        score = terms.pop("score")
    else:
        score = panel[headline]
        terms = pd.DataFrame({headline: _z_within_year(panel[headline])}, index=panel.index)
    cal = calibrate(score, labels_main)
    fitted = cal["intercept"] + cal["slope"] * score if cal["fitted"] else _z_within_year(score) * 0.1
    out = panel[
        ["basis", "displaced_abroad", "displaced_abroad_year", "idps", "idps_year", "hosted", "hosted_year"]
    ].copy()
    out["score"] = fitted
    out["rise_factor"] = np.exp(fitted)
    out["lower"] = np.exp(fitted + cal["q10"])
    out["upper"] = np.exp(fitted + cal["q90"])
    out["rank"] = out.groupby(level="year")["score"].rank(ascending=False, method="min").astype(int)
    out["percentile"] = out.groupby(level="year")["score"].rank(pct=True, method="average") * 100
    out["method"] = headline
    drivers, tops = [], []
    for key, row in terms.iterrows():
        prow = panel.loc[key]
        items = sorted(((k, float(c)) for k, c in row.items() if pd.notna(c)), key=lambda kv: -abs(kv[1]))
        drivers.append(
            [
                {
                    "driver": k,
                    "label": DRIVER_LABELS.get(k, k),
                    "value": _value(prow, k),
                    "contribution": round(c, 4),
                }
                for k, c in items
            ]
        )
        positive = [(k, c) for k, c in items if c > 0 and k in DRIVERS and _rising(k, prow)]
        tops.append(_plain(positive[0][0], prow) if positive else "no rising crisis driver")
    out["drivers"] = drivers
    out["top_driver"] = tops
    out = out.reset_index()
    return out, cal


def _value(row: pd.Series, key: str) -> float | None:
    v = row.get(key)
    return None if v is None or pd.isna(v) else round(float(v), 4)


# --- a training run


def train_watchlist(
    engine: Engine,
    run_id: str,
    registry_dir: Path | None = None,
    progress: Progress | None = None,
    reps: int = BOOTSTRAP_REPS,
    with_pairs: bool = True,
) -> dict[str, Any]:
    """Score the watch list for every year with inputs, measure its skill, fit the pair model; store all of
    it."""
    from models import external, watchlist_store
    from warehouse.io import read_observations

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    say("watch list: computing crisis drivers")
    obs = read_observations(engine, indicators=needed_indicators(), level=0)
    panel = driver_panel(obs).drivers
    pairs, census = read_pairs(engine)
    labels_main = realised_change(pairs, census) if len(pairs) else _no_labels()
    labels_listed = realised_change(pairs, census, variant="listed") if len(pairs) else _no_labels()
    say(f"watch list: scoring candidates on {len(labels_main):,} realised changes")
    protocol = run_protocol(panel, labels_main, labels_listed, reps=reps)
    headline = protocol["headline"]
    booster = None
    if headline == "xgboost":
        target = labels_main.assign(t=year_demeaned(labels_main)).set_index(["origin", "year"])["t"]
        target.index.names = ["region_id", "year"]
        train = panel.join(target, how="inner")
        booster = _fit_xgb(train[list(XGB_FEATURES)], train["t"])
    scores, cal = watchlist_frame(panel, headline, labels_main, booster)
    head_result = protocol["results"].get(headline, {}).get("main", {})
    skill = {
        "candidate": headline,
        "top15_lift_log": head_result.get("top_lift"),
        "top15_lift_interval": head_result.get("top_lift_interval"),
        "top15_pct_more": head_result.get("top_lift_pct"),
        "mean_spearman": head_result.get("mean_spearman"),
        "listed_only": {
            k: protocol["results"].get(headline, {}).get("listed", {}).get(k)
            for k in ("top_lift", "top_lift_interval", "mean_spearman")
        },
        "strength": strength(head_result),
        "sentence": skill_sentence(head_result),
    }
    meta: dict[str, Any] = {
        "headline": headline,
        "best_transparent": protocol.get("best_transparent"),
        "skill": skill,
        "protocol": protocol["table"],
        "xgb_comparison": protocol.get("xgb_comparison"),
        "amendment": protocol.get("amendment"),
        "amendment_2": protocol.get("amendment_2"),
        "per_year": {c: r["main"]["per_year"] for c, r in protocol["results"].items()},
        "calibration": cal,
        "composite_weights": COMPOSITE_WEIGHTS,
        "vulnerability_strength": VULNERABILITY_STRENGTH,
        "score_years": [int(scores["year"].min()), int(scores["year"].max())] if len(scores) else None,
        "labels": {
            "main": len(labels_main),
            "listed": len(labels_listed),
            "origin_years": sorted({int(y) for y in labels_main["year"]}) if len(labels_main) else [],
            "pairs": len(pairs),
            "reporting_country_years": len(census),
            "detecting_countries": int(census["detecting_iso3"].nunique()) if len(census) else 0,
            "citizenships": int(pairs["citizenship_iso3"].nunique()) if len(pairs) else 0,
            "censored_share": float(pairs["censored"].mean()) if len(pairs) else None,
        },
        "protocol_doc": "docs/WATCHLIST.md §1 (pre-registered)",
    }
    if booster is not None and registry_dir is not None:
        meta["model_file"] = _save_booster(booster, registry_dir / run_id, "watchlist_model.ubj")
    pair_out = None
    if with_pairs and len(pairs):
        from models import pairs as pair_model

        say("pair model: horizon-augmented training and backtest")
        pair_meta, pair_out = pair_model.train_pairs(engine, pairs, census, run_id, registry_dir)
        meta["pair_model"] = pair_meta
    say("watch list: external validity")
    meta["external_validity"] = external.external_validity(engine, scores, run_id)
    meta["training_seconds"] = round(time.perf_counter() - started, 1)
    meta["summary_md"] = summary_markdown(meta)
    watchlist_store.write_watchlist(engine, run_id, scores, pair_out, meta)
    say(f"watch list: {len(scores):,} scores ({headline}); skill {skill['strength']}")
    return meta


def _no_labels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin": pd.Series(dtype=str),
            "year": pd.Series(dtype=int),
            "change": pd.Series(dtype=float),
            "n_detecting": pd.Series(dtype=int),
        }
    )


def read_pairs(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Citizenship pairs and the reporting census from the warehouse; empty frames where they are not
    loaded."""
    from warehouse import io as store

    empty_pairs = pd.DataFrame(
        columns=[
            "detecting_iso3",
            "citizenship_iso3",
            "year",
            "victims",
            "censored",
            "is_nationals",
            "release",
        ]
    )
    empty_census = pd.DataFrame(columns=["detecting_iso3", "year", "n_citizenships", "release"])
    try:
        pairs = store.read_citizenship_pairs(engine)
        census = store.read_reporting_census(engine)
    except Exception as exc:  # noqa: BLE001 - an older warehouse without the tables
        log.warning("citizenship pairs unreadable (%s); the watch list is scored without validation", exc)
        return empty_pairs, empty_census
    return pairs, census


def _save_booster(booster: xgb.Booster, folder: Path, name: str) -> dict[str, str]:
    """XGBoost's own format plus a sha256 beside it (never pickle)."""
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    booster.save_model(str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / (name + ".sha256")).write_text(f"{digest}  {name}\n")
    return {"file": name, "sha256": digest}


def summary_markdown(meta: dict[str, Any]) -> str:
    """The watch list's part of the model card: skill in words, the protocol table, pair model, external
    checks."""
    lines = [
        "## Crisis watch list (headline)",
        "",
        f"Headline: **{meta.get('headline')}** (pre-registered protocol, docs/WATCHLIST.md §1).",
        "",
        meta.get("skill", {}).get("sentence", ""),
        "",
        "| candidate | label | years | mean Spearman | top-15 lift (log) | 95% interval |",
        "|---|---|---|---|---|---|",
    ]
    for r in meta.get("protocol", []):
        if r.get("top_lift") is None:
            continue
        lines.append(
            f"| {r['candidate']} | {r['label']} | {r['first_year']}-{r['last_year']} | "
            f"{r['mean_spearman']:+.3f} | {r['top_lift']:+.3f} | {r['top_lift_lo']:+.3f} to "
            f"{r['top_lift_hi']:+.3f} |"
        )
    pair = meta.get("pair_model")
    if pair:
        lines += [
            "",
            "### Where a population's victims are found (pair model)",
            "",
            f"Gate ({pair['gate']}): {'passed' if pair['gate_passed'] else 'NOT passed'}.",
            "",
            (
                "| horizon | n | RMSLE model | last value | 3-year mean | vs last | vs 3-year mean | coverage"
                " 80% |"
            ),
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in pair["backtest"]:
            cov = r.get("coverage80")
            lines.append(
                f"| {r['horizon']} | {r['n']:,} | {r['rmsle_model']:.3f} | {r['rmsle_last_value']:.3f} | "
                f"{r['rmsle_mean_3y']:.3f} | {r['improvement_vs_last']:+.1%} | "
                f"{r['improvement_vs_mean_3y']:+.1%} | {'' if cov is None else f'{cov:.0%}'} |"
            )
    ext = meta.get("external_validity") or []
    if ext:
        lines += [
            "",
            "### External validity (checks, not targets)",
            "",
            "| ranking | year | reference | Spearman |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['ranking']} | {r['year']} | {r['reference']} ({r['edition_year']}) |"
            f" {r['spearman']:+.2f} |"
            for r in ext
        ]
    return "\n".join(lines) + "\n"
