"""Crisis-phase curves (issue 14): what happens to trafficking outcomes in the years around the start of a
crisis.

Why: prevention works best at the onset of a crisis, so the question is *when* detected trafficking rises
after a
conflict, an outflow of refugees, an internal displacement or a large disaster. Each event type is a
documented
rule with thresholds in ``models/phases.toml``; the curves are a stacked event study:

- for an event in country c at year E and each k in -3..+6: the change of the outcome from its pre-event mean
  (years E-3..E-1) to year E+k;
- minus the mean of the same change over *placebo* country-years (same anchor year E, no event of that type
  within [E-3-6, E+6]), which removes year effects (world-wide shifts in reporting) and the mechanics of the
  outcome;
- averaged over events, with n per k and a 90% interval from a cluster bootstrap over countries; a pre-trend
  check (k=-1 minus k=-3) and a verdict that says "no detectable change" when no post-event interval excludes
  0.

Pure functions of DataFrames; ``phase_curves_from_warehouse`` is the only reader.
"""

from __future__ import annotations

import logging
import tomllib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from models.watchlist import abroad_counts

log = logging.getLogger(__name__)

CONFIG_PATH = Path(__file__).with_name("phases.toml")
EVENT_TYPES = ("conflict_onset", "outflow_surge", "idp_surge", "large_disaster")
EVENT_LABELS = {
    "conflict_onset": "conflict onset",
    "outflow_surge": "refugee-outflow surge",
    "idp_surge": "IDP surge",
    "large_disaster": "large disaster",
}
OUTCOMES = ("nationals_abroad", "detected_in_country", "watchlist_score")
OUTCOME_LABELS = {
    "nationals_abroad": (
        "nationals detected as trafficking victims abroad (mean change of log1p victims per "
        "detecting country, GLOTIP citizenship pairs)"
    ),
    "detected_in_country": "detected victims in the country (log1p per 100,000, GLOTIP)",
    "watchlist_score": "crisis watch-list score (expected change, log scale)",
}
CURVE_COLUMNS = ["event_type", "outcome", "k", "effect", "lower", "upper", "n", "n_countries"]
EVENT_COLUMNS = ["region_id", "year", "event_type", "value", "previous", "detail"]
CENSORED_VICTIMS = 2.5  # '<5' as the midpoint of [0, 5), as the labels of the models do


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The [phases] section of models/phases.toml (thresholds live there, not in code)."""
    with open(path or CONFIG_PATH, "rb") as fh:
        cfg = tomllib.load(fh).get("phases")
    if not cfg:
        raise ValueError(f"{path or CONFIG_PATH}: no [phases] section")
    missing = [t for t in EVENT_TYPES if t not in cfg]
    if missing:
        raise ValueError(f"{path or CONFIG_PATH}: [phases] lacks the rule(s) {missing}")
    return cfg


# --- inputs


def wide(obs: pd.DataFrame, codes: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Country x year values of the first listed indicator that has a value (later codes fill gaps only)."""
    out: pd.DataFrame | None = None
    for code in codes:
        part = obs[obs["indicator"] == code]
        if part.empty:
            continue
        w = part.pivot_table(index="region_id", columns="year", values="value", aggfunc="first")
        out = w if out is None else out.combine_first(w)
    if out is None:
        return pd.DataFrame()
    out.columns = out.columns.astype(int)
    return out.reindex(columns=range(int(out.columns.min()), int(out.columns.max()) + 1)).sort_index()


def _summed(obs: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Sum of several indicators per country-year (a cell with none of them stays missing)."""
    frames = [wide(obs, [c]) for c in codes]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    total = frames[0]
    for f in frames[1:]:
        total = total.add(f, fill_value=0)
    return total.reindex(columns=range(int(total.columns.min()), int(total.columns.max()) + 1))


def _events(
    mask: pd.DataFrame, value: pd.DataFrame, previous: pd.DataFrame, event_type: str, describe
) -> pd.DataFrame:
    hits = mask.stack()
    hits = hits[hits.astype(bool)]
    if hits.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    rows = []
    for region_id, year in hits.index:
        v = float(value.at[region_id, year])
        p = previous.at[region_id, year] if previous is not None else np.nan
        p = None if pd.isna(p) else float(p)
        rows.append(
            {
                "region_id": region_id,
                "year": int(year),
                "event_type": event_type,
                "value": v,
                "previous": p,
                "detail": describe(v, p),
            }
        )
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def _people(x: float | None) -> str:
    if x is None:
        return "none recorded"
    return f"{x / 1e6:.1f} million" if x >= 1e6 else f"{x:,.0f}"


# --- event rules


def conflict_onsets(obs: pd.DataFrame, rule: dict[str, Any]) -> pd.DataFrame:
    """A year with an active UCDP/PRIO armed conflict after ``quiet_years`` years without one.

    The dataset lists only country-years with a conflict, so inside its coverage an absent year is a year with
    none;
    years before the coverage starts (plus the quiet period) cannot be onsets.
    """
    w = wide(obs, [rule["indicator"]])
    if w.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    active = w.fillna(0) >= 1
    quiet = int(rule["quiet_years"])
    none_before = pd.DataFrame(True, index=active.index, columns=active.columns)
    for lag in range(1, quiet + 1):
        none_before &= ~active.shift(lag, axis=1, fill_value=True)  # before coverage: unknown, so not quiet
    return _events(
        active & none_before,
        w,
        None,
        "conflict_onset",
        lambda v, p: f"{v:.0f} active armed conflict(s) after {quiet} years without one (UCDP/PRIO)",
    )


def _surge(total: pd.DataFrame, rule: dict[str, Any], event_type: str, what: str) -> pd.DataFrame:
    if total.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    prev = total.shift(1, axis=1)
    ratio, min_increase = float(rule["ratio"]), float(rule["min_increase"])
    # a first year on record (no previous value) is not a surge: it may be the start of reporting
    mask = prev.notna() & total.notna() & (total >= ratio * prev) & (total - prev >= min_increase)
    return _events(
        mask,
        total,
        prev,
        event_type,
        lambda v, p: (
            f"{what} {_people(p)} -> {_people(v)} (x{v / p:.1f})"
            if p
            else f"{what} none recorded -> {_people(v)}"
        ),
    )


def outflow_surges(obs: pd.DataFrame, rule: dict[str, Any]) -> pd.DataFrame:
    """Refugees plus asylum-seekers originating from the country at least ``ratio`` x the previous year, by at
    least
    ``min_increase`` people (UNHCR)."""
    return _surge(
        _summed(obs, list(rule["indicators"])), rule, "outflow_surge", "refugees and asylum-seekers abroad"
    )


def idp_surges(obs: pd.DataFrame, rule: dict[str, Any]) -> pd.DataFrame:
    """Conflict IDPs (IDMC first, UNHCR where IDMC has none) at least ``ratio`` x the previous year, by at
    least
    ``min_increase``."""
    return _surge(wide(obs, list(rule["indicators"])), rule, "idp_surge", "conflict IDPs")


def large_disasters(obs: pd.DataFrame, rule: dict[str, Any]) -> pd.DataFrame:
    """EM-DAT disaster deaths >= ``min_deaths``, or people affected >= ``min_affected`` and >=
    ``min_affected_share``
    of the population."""
    deaths = wide(obs, [rule["deaths_indicator"]])
    affected = wide(obs, [rule["affected_indicator"]])
    if deaths.empty and affected.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    pop = wide(obs, ["structural.population"])
    idx = deaths.index.union(affected.index)
    cols = deaths.columns.union(affected.columns)
    deaths, affected = deaths.reindex(index=idx, columns=cols), affected.reindex(index=idx, columns=cols)
    share = affected / pop.reindex(index=idx, columns=cols) if not pop.empty else affected * np.nan
    by_deaths = deaths >= float(rule["min_deaths"])
    by_affected = (affected >= float(rule["min_affected"])) & (share >= float(rule["min_affected_share"]))
    mask = by_deaths | by_affected
    return _events(
        mask,
        deaths.fillna(0),
        affected,
        "large_disaster",
        lambda v, p: f"{v:,.0f} disaster deaths, {_people(p)} people affected (EM-DAT)",
    )


RULES = {
    "conflict_onset": conflict_onsets,
    "outflow_surge": outflow_surges,
    "idp_surge": idp_surges,
    "large_disaster": large_disasters,
}


def detect_events(obs: pd.DataFrame, cfg: dict[str, Any]) -> pd.DataFrame:
    """Every qualifying country-year of every event type, with the rule's numbers in plain words."""
    obs = obs[obs["level"] == 0] if "level" in obs.columns else obs
    frames = [RULES[t](obs, cfg[t]) for t in EVENT_TYPES]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=[*EVENT_COLUMNS, "onset"])
    events = pd.concat(frames, ignore_index=True)
    events["onset"] = onset_flags(events, int(cfg["onset_gap_years"]))
    return events.sort_values(["event_type", "region_id", "year"]).reset_index(drop=True)


def onset_flags(events: pd.DataFrame, gap: int) -> pd.Series:
    """True for an event year with no event of the same type in the ``gap`` years before (the start of a
    spell)."""
    flags = pd.Series(False, index=events.index)
    for _, grp in events.groupby(["event_type", "region_id"]):
        years = grp["year"].astype(int)
        prev = years.sort_values().shift(1)
        flags.loc[prev.index] = prev.isna() | (years.loc[prev.index] - prev > gap)
    return flags


# --- outcomes as changes from the pre-event mean


def panel_changes(
    panel: pd.DataFrame, anchor_years: list[int], ks: list[int], pre_years: int, min_pre: int
) -> pd.DataFrame:
    """For every region and anchor year Y: value(Y+k) minus the mean of the observed values of Y-pre..Y-1.

    ``panel``: region x year (wide). Returns region_id, anchor, k, change.
    """
    out = []
    if panel.empty:
        return pd.DataFrame(columns=["region_id", "anchor", "k", "change"])
    for y in anchor_years:
        pre_cols = [c for c in range(y - pre_years, y) if c in panel.columns]
        if not pre_cols:
            continue
        pre = panel[pre_cols]
        base = pre.mean(axis=1).where(pre.notna().sum(axis=1) >= min_pre)
        for k in ks:
            if y + k not in panel.columns:
                continue
            change = (panel[y + k] - base).dropna()
            out.append(
                pd.DataFrame({"region_id": change.index, "anchor": y, "k": k, "change": change.to_numpy()})
            )
    if not out:
        return pd.DataFrame(columns=["region_id", "anchor", "k", "change"])
    return pd.concat(out, ignore_index=True)


def pair_changes(
    pairs: pd.DataFrame,
    census: pd.DataFrame,
    anchor_years: list[int],
    ks: list[int],
    pre_years: int = 3,
    censored_value: float = CENSORED_VICTIMS,
    min_detecting: int = 2,
) -> pd.DataFrame:
    """Nationals detected abroad, with the realised-change definition of docs/WATCHLIST.md §1.2.

    Windows: baseline B = Y-pre..Y-1, target T = {Y+k}. Eligible detecting countries d != o reported a
    citizenship
    breakdown in at least one year of B and in Y+k, and listed o at least once in B or Y+k; a reporting year
    without
    o counts 0 (below the listing threshold). The change of o is the mean over eligible d of
    log1p(count at Y+k) - mean log1p(count over d's reporting years of B), defined with >= ``min_detecting``
    d.
    Returns region_id (the citizenship), anchor, k, change.
    """
    cols = ["region_id", "anchor", "k", "change"]
    p, rep = abroad_counts(pairs, census, censored_value)
    if p.empty:
        return pd.DataFrame(columns=cols)
    reporters = rep.groupby("t")["d"].apply(set).to_dict()
    out = []
    for y in anchor_years:
        n_base = rep[rep["t"].between(y - pre_years, y - 1)].groupby("d").size()
        if n_base.empty:
            continue
        pb = p[p["t"].between(y - pre_years, y - 1)]
        base_sum = pb.groupby(["o", "d"])["v"].sum()
        for k in ks:
            t = y + k
            eligible = set(n_base.index) & reporters.get(t, set())
            if len(eligible) < min_detecting:
                continue
            b = base_sum[base_sum.index.get_level_values("d").isin(eligible)]
            b = b / n_base.reindex(b.index.get_level_values("d")).to_numpy()
            tgt = p[(p["t"] == t) & p["d"].isin(eligible)].groupby(["o", "d"])["v"].sum()
            keys = b.index.union(tgt.index)
            change = tgt.reindex(keys, fill_value=0.0) - b.reindex(keys, fill_value=0.0)
            per_o = change.groupby(level="o").agg(["mean", "count"])
            per_o = per_o[per_o["count"] >= min_detecting]
            out.append(
                pd.DataFrame(
                    {"region_id": per_o.index, "anchor": y, "k": k, "change": per_o["mean"].to_numpy()}
                )
            )
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)


# --- the event study


def placebo_anchors(
    changes: pd.DataFrame, event_years: pd.DataFrame, pre_years: int, max_k: int
) -> pd.Series:
    """Rows of ``changes`` whose (region, anchor) has no event year within [anchor-pre-max_k, anchor+max_k]:
    no
    event inside the window, and no earlier event whose own post-event years reach into its baseline."""
    if event_years.empty:
        return pd.Series(True, index=changes.index)
    by_region = event_years.groupby("region_id")["year"].apply(lambda s: np.sort(s.astype(int).to_numpy()))
    clean = np.ones(len(changes), dtype=bool)
    regions = changes["region_id"].to_numpy()
    anchors = changes["anchor"].astype(int).to_numpy()
    for i, (r, y) in enumerate(zip(regions, anchors, strict=True)):
        years = by_region.get(r)
        if years is not None:
            lo = np.searchsorted(years, y - pre_years - max_k)
            hi = np.searchsorted(years, y + max_k, side="right")
            clean[i] = hi <= lo
    return pd.Series(clean, index=changes.index)


def event_study(
    changes: pd.DataFrame, events: pd.DataFrame, cfg: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Effect at each k = mean over events of (event change - placebo mean change of the same anchor year and
    k).

    ``changes``: region_id, anchor, k, change for every region and anchor year (from
    panel_changes/pair_changes).
    ``events``: every qualifying event year (region_id, year, onset); onsets are the events studied, all event
    years define which country-years are clean placebos. Returns the curve (k, effect, lower, upper, n,
    n_countries) and a summary (pre-trend, verdict, peak).
    """
    ks = [int(k) for k in cfg["ks"]]
    pre_years, max_k = int(cfg["pre_years"]), max(ks)
    level = float(cfg["interval"])
    reps, seed, min_events = int(cfg["bootstrap_reps"]), int(cfg["seed"]), int(cfg["min_events"])
    onsets = events[events["onset"].astype(bool)][["region_id", "year"]].rename(columns={"year": "anchor"})
    ch = changes.assign(anchor=changes["anchor"].astype(int), k=changes["k"].astype(int))
    treated = ch.merge(onsets.assign(anchor=onsets["anchor"].astype(int)), on=["region_id", "anchor"])
    placebo = ch[placebo_anchors(ch, events[["region_id", "year"]], pre_years, max_k).to_numpy()]
    # only (anchor, k) cells with a placebo can be netted of year effects
    cells = placebo.groupby(["anchor", "k"]).size()
    treated = treated[pd.MultiIndex.from_frame(treated[["anchor", "k"]]).isin(cells.index)]

    regions = pd.Index(sorted(set(treated["region_id"]) | set(placebo["region_id"])))
    cell_index = pd.MultiIndex.from_frame(placebo[["anchor", "k"]]).unique()
    p_cell = cell_index.get_indexer(pd.MultiIndex.from_frame(placebo[["anchor", "k"]]))
    t_cell = cell_index.get_indexer(pd.MultiIndex.from_frame(treated[["anchor", "k"]]))
    p_reg, t_reg = regions.get_indexer(placebo["region_id"]), regions.get_indexer(treated["region_id"])
    k_pos = {k: i for i, k in enumerate(ks)}
    t_k = treated["k"].map(k_pos).to_numpy()
    p_val, t_val = placebo["change"].to_numpy(float), treated["change"].to_numpy(float)

    def estimate(weights: np.ndarray) -> np.ndarray:
        pw = weights[p_reg]
        p_sum = np.bincount(p_cell, pw * p_val, minlength=len(cell_index))
        p_n = np.bincount(p_cell, pw, minlength=len(cell_index))
        with np.errstate(invalid="ignore", divide="ignore"):
            p_mean = p_sum / p_n
        tw = weights[t_reg]
        diff = t_val - p_mean[t_cell]
        ok = np.isfinite(diff) & (tw > 0)
        num = np.bincount(t_k[ok], tw[ok] * diff[ok], minlength=len(ks))
        den = np.bincount(t_k[ok], tw[ok], minlength=len(ks))
        with np.errstate(invalid="ignore", divide="ignore"):
            return num / den

    point = estimate(np.ones(len(regions)))
    n = np.bincount(t_k, minlength=len(ks)) if len(t_k) else np.zeros(len(ks), dtype=int)
    n_countries = treated.groupby("k")["region_id"].nunique().reindex(ks, fill_value=0).to_numpy()
    rng = np.random.default_rng(seed)
    boot = np.full((reps, len(ks)), np.nan)
    if len(regions) and len(t_k):
        for r in range(reps):
            weights = np.bincount(rng.integers(0, len(regions), len(regions)), minlength=len(regions)).astype(
                float
            )
            boot[r] = estimate(weights)
    alpha = (1 - level) / 2
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a k without any event: NaN, said by n = 0
        lower = np.nanquantile(boot, alpha, axis=0) if reps else np.full(len(ks), np.nan)
        upper = np.nanquantile(boot, 1 - alpha, axis=0) if reps else np.full(len(ks), np.nan)
    thin = n < min_events
    lower[thin], upper[thin] = np.nan, np.nan
    curve = pd.DataFrame(
        {
            "k": ks,
            "effect": point,
            "lower": lower,
            "upper": upper,
            "n": n.astype(int),
            "n_countries": n_countries.astype(int),
        }
    )
    band = simultaneous_band(point, boot, np.array(ks) >= 0, level, ~thin)
    summary = _summary(curve, boot, ks, level, n_events=len(onsets), n_placebo=len(placebo), band=band)
    return curve, summary


def simultaneous_band(
    point: np.ndarray, boot: np.ndarray, post: np.ndarray, level: float, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A sup-t band over the post-event points: it covers the whole post-event curve with probability
    ``level``.

    Why: seven pointwise 90% intervals after the event exclude 0 somewhere by chance far more often than 10%
    of the
    time; the verdict "a rise/fall" uses this band, so "no detectable change" is not lost to multiple looks.
    """
    lo, hi = np.full(len(point), np.nan), np.full(len(point), np.nan)
    cols = post & usable & np.isfinite(point)
    if not cols.any() or len(boot) < 2:
        return lo, hi
    b = boot[:, cols]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        se = np.nanstd(b, axis=0, ddof=1)
        se = np.where(se > 0, se, np.nan)
        t = np.nanmax(np.abs(b - point[cols]) / se, axis=1)
    t = t[np.isfinite(t)]
    crit = float(np.quantile(t, level)) if len(t) else np.nan
    width = np.where(np.isfinite(se), crit * se, 0.0)  # a point with no spread keeps its exact value
    lo[cols], hi[cols] = point[cols] - width, point[cols] + width
    return lo, hi


def _summary(
    curve: pd.DataFrame,
    boot: np.ndarray,
    ks: list[int],
    level: float,
    n_events: int,
    n_placebo: int,
    band: tuple[np.ndarray, np.ndarray],
) -> dict[str, Any]:
    """Pre-trend check, the peak and a plain verdict ("no detectable change" unless an interval excludes
    0)."""
    pct = f"{level:.0%}"
    out: dict[str, Any] = {"n_events": int(n_events), "n_placebo_rows": int(n_placebo)}
    if -1 in ks and -3 in ks:
        i1, i3 = ks.index(-1), ks.index(-3)
        d = boot[:, i1] - boot[:, i3]
        d = d[np.isfinite(d)]
        est = curve["effect"].iloc[i1] - curve["effect"].iloc[i3]
        if len(d) and np.isfinite(est) and curve["n"].iloc[[i1, i3]].min() > 0:
            lo, hi = np.quantile(d, [(1 - level) / 2, 1 - (1 - level) / 2])
            out["pretrend"] = {
                "estimate": float(est),
                "lower": float(lo),
                "upper": float(hi),
                "passed": bool(lo <= 0 <= hi),
                "sentence": (
                    f"pre-trend (k=-1 minus k=-3) {est:+.2f}, {pct} interval {lo:+.2f} to {hi:+.2f}: "
                    + (
                        "no pre-trend detected"
                        if lo <= 0 <= hi
                        else "a pre-trend: read the curve with caution"
                    )
                ),
            }
    curve = curve.assign(band_lower=band[0], band_upper=band[1])
    out["band"] = [
        {"k": int(k), "lower": _num(lo), "upper": _num(hi)}
        for k, lo, hi in zip(curve["k"], band[0], band[1], strict=True)
        if np.isfinite(lo)
    ]
    post = curve[(curve["k"] >= 0) & curve["band_lower"].notna()]
    rises = post[post["band_lower"] > 0]
    falls = post[post["band_upper"] < 0]
    if post.empty:
        out["verdict"], out["sentence"] = "too few events", "too few events to measure a change"
    elif rises.empty and falls.empty:
        out["verdict"] = "no detectable change"
        out["sentence"] = (
            f"no detectable change: the {pct} simultaneous band over years 0 to {max(ks)} after "
            "the event includes 0 everywhere"
        )
    else:
        best = rises.loc[rises["effect"].idxmax()] if not rises.empty else falls.loc[falls["effect"].idxmin()]
        out["verdict"] = "rise" if not rises.empty else "fall"
        out["peak_k"] = int(best["k"])
        out["peak_effect"] = float(best["effect"])
        out["sentence"] = (
            f"{'a rise' if not rises.empty else 'a fall'}: largest at year {int(best['k'])} after "
            f"the event, x{np.exp(best['effect']):.2f} ({pct} interval x{np.exp(best['lower']):.2f} "
            f"to x{np.exp(best['upper']):.2f}; n = {int(best['n'])} events); the {pct} simultaneous "
            "band excludes 0 at year(s) "
            f"{', '.join(str(int(k)) for k in (rises if not rises.empty else falls)['k'])}"
        )
    return out


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


# --- all curves


def _anchors(years: list[int], ks: list[int], pre: int) -> list[int]:
    """Anchor years whose window k=-pre..max(k) can touch the outcome's years."""
    if not years:
        return []
    return list(range(min(years) - max(ks), max(years) + pre + 1))


def outcome_changes(
    outcome: str,
    obs: pd.DataFrame,
    pairs: pd.DataFrame,
    census: pd.DataFrame,
    watch: pd.DataFrame,
    cfg: dict[str, Any],
) -> pd.DataFrame:
    """Changes from the pre-event mean for one outcome, for every region and anchor year."""
    ks, pre, min_pre = [int(k) for k in cfg["ks"]], int(cfg["pre_years"]), int(cfg["min_pre_years"])
    empty = pd.DataFrame(columns=["region_id", "anchor", "k", "change"])
    if outcome == "nationals_abroad":
        if pairs.empty:
            return empty
        years = sorted({int(y) for y in pairs["year"]} | {int(y) for y in census.get("year", [])})
        return pair_changes(pairs, census, _anchors(years, ks, pre), ks, pre)
    if outcome == "detected_in_country":
        panel = detected_rate_panel(obs)
    elif outcome == "watchlist_score":
        if watch.empty:
            return empty
        panel = watch.pivot_table(index="region_id", columns="year", values="score", aggfunc="first")
        panel.columns = panel.columns.astype(int)
    else:
        raise ValueError(f"unknown outcome '{outcome}'")
    if panel.empty:
        return empty
    return panel_changes(panel, _anchors(list(panel.columns), ks, pre), ks, pre, min_pre)


def detected_rate_panel(obs: pd.DataFrame) -> pd.DataFrame:
    """log1p(GLOTIP detected victims per 100,000), '<5' as 2.5."""
    v = obs[obs["indicator"] == "trafficking.victims_detected"]
    if v.empty:
        return pd.DataFrame()
    if "censored" in v.columns:
        v = v.assign(value=np.where(v["censored"].fillna(False).astype(bool), CENSORED_VICTIMS, v["value"]))
    victims = v.pivot_table(index="region_id", columns="year", values="value", aggfunc="first")
    pop = wide(obs, ["structural.population"]).reindex(index=victims.index, columns=victims.columns)
    rate = np.log1p(victims / pop * 1e5)
    rate.columns = rate.columns.astype(int)
    return rate


def phase_curves(
    obs: pd.DataFrame,
    pairs: pd.DataFrame,
    census: pd.DataFrame,
    watch: pd.DataFrame,
    cfg: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """Every event type x outcome curve. Returns (curves in CURVE_COLUMNS, meta, events)."""
    cfg = cfg or load_config()
    events = detect_events(obs, cfg)
    curves, summaries = [], {}
    for outcome in OUTCOMES:
        changes = outcome_changes(outcome, obs, pairs, census, watch, cfg)
        for etype in EVENT_TYPES:
            ev = events[events["event_type"] == etype]
            if changes.empty:
                summaries[f"{etype}/{outcome}"] = {
                    "verdict": "no data",
                    "sentence": "the outcome is not loaded",
                    "n_events": 0,
                }
                continue
            curve, summary = event_study(changes, ev, cfg)
            curves.append(curve.assign(event_type=etype, outcome=outcome))
            summaries[f"{etype}/{outcome}"] = summary
            log.info("phases %s / %s: %s", etype, outcome, summary.get("sentence"))
    frame = (
        pd.concat(curves, ignore_index=True)[CURVE_COLUMNS] if curves else pd.DataFrame(columns=CURVE_COLUMNS)
    )
    meta = {
        "design": (
            "stacked event study: change from the mean of k=-3..-1, minus the mean change of placebo "
            "country-years (same anchor year, no event of the type within the window)"
        ),
        "scale": "log (effect 0.69 = x2)",
        "interval": cfg["interval"],
        "bootstrap": "cluster by country",
        "bootstrap_reps": cfg["bootstrap_reps"],
        "ks": cfg["ks"],
        "event_counts": (
            events[events["onset"]].groupby("event_type").size().astype(int).to_dict()
            if not events.empty
            else {}
        ),
        "event_labels": EVENT_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "summaries": summaries,
        "rules": {t: cfg[t] for t in EVENT_TYPES},
    }
    return frame, meta, events


def phase_curves_from_warehouse(
    engine: Engine, cfg: dict[str, Any] | None = None, run_id: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """Read the events' inputs, the pairs, detected victims and the watch list, and compute all curves."""
    from models import watchlist_store
    from warehouse import io as store

    cfg = cfg or load_config()
    codes = {
        "trafficking.victims_detected",
        "structural.population",
        cfg["conflict_onset"]["indicator"],
        cfg["large_disaster"]["deaths_indicator"],
        cfg["large_disaster"]["affected_indicator"],
        *cfg["outflow_surge"]["indicators"],
        *cfg["idp_surge"]["indicators"],
    }
    obs = store.read_observations(engine, indicators=sorted(codes), level=0)
    try:
        pairs, census = store.read_citizenship_pairs(engine), store.read_reporting_census(engine)
    except Exception as exc:  # noqa: BLE001 - a warehouse from before migration 0005
        log.warning("citizenship pairs unreadable (%s): no nationals-abroad curves", exc)
        pairs, census = pd.DataFrame(), pd.DataFrame()
    try:
        watch = watchlist_store.read_watchlist(engine, run_id=run_id)
    except Exception as exc:  # noqa: BLE001 - a warehouse from before migration 0007
        log.warning("watch list unreadable (%s): no watch-list curves", exc)
        watch = pd.DataFrame()
    curves, meta, events = phase_curves(obs, pairs, census, watch, cfg)
    meta["watchlist_run_id"] = None if watch.empty else str(watch["run_id"].iloc[0])
    return curves, meta, events


def country_phases(
    events: pd.DataFrame, summaries: dict[str, Any], region_id: str, year: int, max_k: int = 6
) -> list[str]:
    """Plain sentences for a country's current phase, e.g. "year 2 after a refugee-outflow surge (2022)".

    The historical verdict of the nationals-abroad curve is added ("historically the peak", "historically no
    detectable change") so the phase is never read as a forecast on its own.
    """
    out = []
    mine = events[
        (events["region_id"] == region_id) & events["onset"].astype(bool) & (events["year"] <= year)
    ]
    for etype, grp in mine.groupby("event_type"):
        start = int(grp["year"].max())
        k = year - start
        if k > max_k:
            continue
        s = summaries.get(f"{etype}/nationals_abroad", {})
        if s.get("verdict") == "rise" and s.get("peak_k") == k:
            note = "historically the peak of nationals detected abroad"
        elif s.get("verdict") == "rise":
            note = f"historically the peak is year {s.get('peak_k')}"
        else:
            note = f"historically {s.get('verdict', 'not measured')}"
        if (s.get("pretrend") or {}).get("passed") is False:
            note += " (the curve has a pre-trend: read it with caution)"
        out.append(f"year {k} after {with_article(EVENT_LABELS[etype])} ({start}): {note}")
    return out


def with_article(label: str) -> str:
    """'a refugee-outflow surge', 'an IDP surge'."""
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label
