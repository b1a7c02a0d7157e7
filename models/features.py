"""Pure feature building: warehouse observations -> a country × year panel.

The rule that keeps the backtest honest: every feature for year ``t`` uses only observations dated
``t - 1`` or earlier (publication lag). Slow-moving indices are carried forward from their last
observed year for a bounded number of years; the lag is still at least one year.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

LABEL_INDICATOR = "trafficking.victims_detected"
POPULATION = "structural.population"


@dataclass(frozen=True)
class FeatureSpec:
    """One model feature: how it is computed from indicators, and its family."""

    name: str
    family: str
    indicators: tuple[str, ...]
    kind: str = "rate"  # rate (per 100k, log1p) | level | log | sum3_rate | change | onset
    carry_years: int = 0  # how many extra years a value may be carried forward
    fill_zero: bool = False  # absent = 0 (complete panels, event counts)
    description: str = ""


FEATURES: tuple[FeatureSpec, ...] = (
    # displacement
    FeatureSpec("refugees_origin_per100k", "displacement", ("displacement.refugees_by_origin",), carry_years=1,
                description="Refugees originating from the country per 100k residents (UNHCR), log1p"),
    FeatureSpec("asylum_seekers_origin_per100k", "displacement", ("displacement.asylum_seekers_by_origin",),
                carry_years=1, description="Asylum-seekers originating per 100k, log1p"),
    FeatureSpec("refugees_hosted_per100k", "displacement", ("displacement.refugees_hosted",), carry_years=1,
                description="Refugees hosted per 100k residents, log1p"),
    FeatureSpec("idps_per100k", "displacement",
                ("displacement.idmc_conflict_idps", "displacement.conflict_idps_stock", "displacement.idps_unhcr"),
                carry_years=1, description="Conflict IDPs per 100k (IDMC, else UNHCR), log1p"),
    FeatureSpec("new_conflict_displacements_per100k", "displacement", ("displacement.conflict_new_displacements",),
                description="New conflict displacements in the year per 100k (IDMC), log1p"),
    FeatureSpec("new_disaster_displacements_per100k", "displacement", ("displacement.disaster_new_displacements",),
                description="New disaster displacements per 100k (IDMC), log1p"),
    FeatureSpec("refugees_origin_change", "displacement", ("displacement.refugees_by_origin",), kind="change",
                description="Change in log1p refugees originating, last year vs the year before"),
    # conflict
    FeatureSpec("conflict_deaths_per100k", "conflict", ("conflict.deaths_organised_violence",), fill_zero=True,
                description="Deaths in organised violence per 100k (UCDP via OWID), log1p"),
    FeatureSpec("conflict_deaths_3y_per100k", "conflict", ("conflict.deaths_organised_violence",), kind="sum3_rate",
                fill_zero=True, description="Deaths in organised violence over the last 3 years per 100k, log1p"),
    FeatureSpec("battle_deaths_per100k", "conflict", ("conflict.battle_deaths",), fill_zero=True,
                description="Battle-related deaths per 100k (UCDP BRD), log1p"),
    FeatureSpec("armed_conflicts", "conflict", ("conflict.armed_conflicts",), kind="level", fill_zero=True,
                description="Active state-based armed conflicts located in the country (UCDP/PRIO)"),
    FeatureSpec("years_since_conflict_onset", "conflict", ("conflict.armed_conflicts",), kind="onset",
                description="Years since the current spell of armed conflict began (0 = none active)"),
    # trafficking and detection
    FeatureSpec("past_victims_per100k", "trafficking", (LABEL_INDICATOR,), carry_years=10,
                description="Detected victims per 100k in the latest earlier year (UNODC GLOTIP, up to 10 years "
                            "old), log1p"),
    FeatureSpec("years_since_victims_report", "trafficking", (LABEL_INDICATOR,), kind="since",
                description="Years since the latest earlier UNODC detected-victims report (missing if none)"),
    FeatureSpec("prosecutions_per100k", "detection", ("detection.persons_prosecuted",), carry_years=2,
                description="Persons prosecuted for trafficking per 100k, log1p"),
    FeatureSpec("convictions_per100k", "detection", ("detection.persons_convicted",), carry_years=2,
                description="Persons convicted of trafficking per 100k, log1p"),
    FeatureSpec("tip_tier", "detection", ("detection.tip_tier",), kind="level", carry_years=10,
                description="US TIP report tier (1 best, 3 worst)"),
    FeatureSpec("policy_3p", "detection", ("detection.policy_3p",), kind="level", carry_years=12,
                description="3P anti-trafficking policy index (3-15)"),
    FeatureSpec("gsi_vulnerability", "trafficking", ("structural.gsi2016_vulnerability",), kind="level",
                carry_years=10, description="Global Slavery Index 2016 vulnerability (0-100), from 2017 on"),
    # structural
    FeatureSpec("log_population", "structural", (POPULATION,), kind="log", carry_years=1,
                description="log of population (World Bank)"),
    FeatureSpec("log_gdp_per_capita", "structural", ("structural.gdp_current_usd",), kind="per_capita_log",
                carry_years=1, description="log GDP per capita, current US$ (World Bank)"),
    FeatureSpec("wgi_rule_of_law", "structural", ("structural.wgi_rl",), kind="level", carry_years=2,
                description="WGI rule of law estimate"),
    FeatureSpec("wgi_government_effectiveness", "structural", ("structural.wgi_ge",), kind="level", carry_years=2,
                description="WGI government effectiveness estimate"),
    FeatureSpec("wgi_control_of_corruption", "structural", ("structural.wgi_cc",), kind="level", carry_years=2,
                description="WGI control of corruption estimate"),
    FeatureSpec("wgi_political_stability", "structural", ("structural.wgi_pv",), kind="level", carry_years=2,
                description="WGI political stability and absence of violence estimate"),
    FeatureSpec("wgi_voice_accountability", "structural", ("structural.wgi_va",), kind="level", carry_years=2,
                description="WGI voice and accountability estimate"),
    # response
    FeatureSpec("humanitarian_funding_per_capita", "response", ("response.fts_funding_usd",), kind="per_capita_log",
                description="Humanitarian funding received per person (OCHA FTS), log1p US$"),
    FeatureSpec("humanitarian_coverage_pct", "response", ("response.fts_coverage_pct",), kind="level",
                description="Share of humanitarian requirements funded (OCHA FTS), %"),
    # hazard
    FeatureSpec("disaster_deaths_per100k", "hazard", ("hazard.disaster_deaths",), fill_zero=True,
                description="Disaster deaths per 100k (EM-DAT), log1p"),
    FeatureSpec("disaster_affected_per100k", "hazard", ("hazard.disaster_affected",), fill_zero=True,
                description="People affected by disasters per 100k (EM-DAT), log1p"),
)

PAST_VICTIM_FEATURES = ("past_victims_per100k", "years_since_victims_report")
CONFLICT_DISPLACEMENT_FAMILIES = ("conflict", "displacement")
FILL_ZERO_COVERAGE = {"hazard.disaster_deaths": 2020, "hazard.disaster_affected": 2020}


def feature_names(include_past_victims: bool = True, families: tuple[str, ...] | None = None) -> list[str]:
    return [f.name for f in FEATURES
            if (include_past_victims or f.name not in PAST_VICTIM_FEATURES) and (families is None or f.family in families)]


def feature_families() -> dict[str, str]:
    return {f.name: f.family for f in FEATURES}


def needed_indicators() -> set[str]:
    return {i for f in FEATURES for i in f.indicators} | {LABEL_INDICATOR, POPULATION}


def _wide(obs: pd.DataFrame, codes: tuple[str, ...]) -> pd.DataFrame:
    """iso3 × year matrix of the first available indicator in ``codes`` (priority order)."""
    sub = obs[obs["indicator"].isin(codes)]
    if sub.empty:
        return pd.DataFrame()
    prio = {c: i for i, c in enumerate(codes)}
    sub = sub.assign(_p=sub["indicator"].map(prio)).sort_values("_p")
    first = sub.drop_duplicates(["region_id", "year"], keep="first")
    return first.pivot(index="region_id", columns="year", values="value").sort_index(axis=1)


def _lagged(wide: pd.DataFrame, years: list[int], carry: int, fill_zero: bool, coverage_end: int | None) -> pd.DataFrame:
    """For each target year t: the value at t-1, or carried from up to t-1-carry."""
    if wide.empty:
        return pd.DataFrame(index=pd.Index([], name="region_id"), columns=years, dtype=float)
    all_years = list(range(min(min(wide.columns), min(years) - 1 - carry), max(years) + 1))
    full = wide.reindex(columns=all_years)
    if fill_zero:
        last = coverage_end if coverage_end is not None else max(wide.columns)
        first = min(wide.columns)
        cols = [y for y in all_years if first <= y <= last]
        full[cols] = full[cols].fillna(0.0)
    carried = full.ffill(axis=1, limit=carry) if carry else full
    out = pd.DataFrame({t: carried[t - 1] if (t - 1) in carried.columns else np.nan for t in years})
    return out


def build_panel(obs: pd.DataFrame, years: list[int] | None = None,
                censored_fraction: float = 0.5) -> pd.DataFrame:
    """Country × year panel: features (from years < t), label (year t), and bookkeeping columns.

    ``obs`` holds level-0 yearly observations with columns region_id, year, indicator, value, censored.
    Label: log1p(detected victims per 100k). A censored '<N' count becomes N × censored_fraction.
    """
    obs = obs[obs["indicator"].isin(needed_indicators())]
    if years is None:
        years = list(range(int(obs["year"].min()) + 1, int(obs["year"].max()) + 2))
    pop = _wide(obs, (POPULATION,))
    pop_lag = _lagged(pop, years, 1, False, None)
    frames: dict[str, pd.DataFrame] = {}
    for spec in FEATURES:
        wide = _wide(obs, spec.indicators)
        coverage_end = max(FILL_ZERO_COVERAGE.get(i, 0) for i in spec.indicators) or None
        if spec.kind == "sum3_rate":
            vals = sum(_lagged(wide, [y - k for y in years], 0, spec.fill_zero, coverage_end).set_axis(years, axis=1)
                       for k in range(3))
            frames[spec.name] = np.log1p(vals / pop_lag.reindex_like(vals) * 1e5)
            continue
        if spec.kind == "change":
            now = _lagged(wide, years, 0, False, None)
            before = _lagged(wide, [y - 1 for y in years], 0, False, None).set_axis(years, axis=1)
            frames[spec.name] = np.log1p(now) - np.log1p(before.reindex_like(now))
            continue
        if spec.kind == "onset":
            frames[spec.name] = _onset(wide, years)
            continue
        if spec.kind == "since":
            frames[spec.name] = _years_since(wide, years)
            continue
        vals = _lagged(wide, years, spec.carry_years, spec.fill_zero, coverage_end)
        if spec.name == "past_victims_per100k":
            vals = _label_counts(obs, censored_fraction).pipe(_lagged, years, spec.carry_years, False, None)
        if spec.kind in ("rate", "sum3_rate") or spec.name == "past_victims_per100k":
            frames[spec.name] = np.log1p(vals / pop_lag.reindex_like(vals) * 1e5)
        elif spec.kind == "per_capita_log":
            per_capita = vals / pop_lag.reindex_like(vals)
            frames[spec.name] = np.log1p(per_capita) if spec.family == "response" else np.log(per_capita)
        elif spec.kind == "log":
            frames[spec.name] = np.log(vals.where(vals > 0))
        else:
            frames[spec.name] = vals
    long = []
    for name, frame in frames.items():
        if frame.empty:
            continue
        s = frame.stack(future_stack=True)
        s.index.names = ["region_id", "year"]
        long.append(s.rename(name))
    panel = pd.concat(long, axis=1) if long else pd.DataFrame()
    panel = panel.reindex(columns=[f.name for f in FEATURES])
    panel = panel.replace([np.inf, -np.inf], np.nan)
    # a row exists where the country has a population for t-1 (the denominator of every rate)
    panel = panel[panel["log_population"].notna()]
    counts = _label_counts(obs, censored_fraction)
    pop_now = pop.stack().rename("population")
    pop_now.index.names = ["region_id", "year"]
    lab = counts.stack().rename("victims")
    lab.index.names = ["region_id", "year"]
    cens = _censored_flags(obs).stack().rename("label_censored")
    cens.index.names = ["region_id", "year"]
    panel = panel.join(lab, how="left").join(pop_now, how="left").join(cens, how="left")
    panel["label_per_100k"] = panel["victims"] / panel["population"] * 1e5
    panel["label"] = np.log1p(panel["label_per_100k"])
    panel["label_censored"] = panel["label_censored"].astype("boolean").fillna(False).astype(bool)
    return panel.sort_index()


def _label_counts(obs: pd.DataFrame, censored_fraction: float) -> pd.DataFrame:
    sub = obs[obs["indicator"] == LABEL_INDICATOR].copy()
    sub["value"] = np.where(sub["censored"].astype(bool), sub["value"] * censored_fraction, sub["value"])
    return sub.pivot(index="region_id", columns="year", values="value").sort_index(axis=1)


def _censored_flags(obs: pd.DataFrame) -> pd.DataFrame:
    sub = obs[obs["indicator"] == LABEL_INDICATOR]
    return sub.pivot(index="region_id", columns="year", values="censored").sort_index(axis=1)


def _onset(wide: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Years since the current conflict spell began, as of t-1 (0 when no conflict in t-1)."""
    if wide.empty:
        return pd.DataFrame(columns=years, dtype=float)
    span = list(range(min(wide.columns), max(years)))
    active = wide.reindex(columns=span).fillna(0) > 0
    run = np.zeros(len(active))
    out = {}
    runs = {}
    for y in span:
        run = np.where(active[y].to_numpy(), run + 1, 0)
        runs[y] = run.copy()
    for t in years:
        out[t] = runs.get(t - 1, np.zeros(len(active)))
    return pd.DataFrame(out, index=active.index)


def _years_since(wide: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """For each target year t: t minus the latest year <= t - 1 with a value (NaN if none)."""
    if wide.empty:
        return pd.DataFrame(columns=years, dtype=float)
    observed = wide.notna()
    cols = np.array(observed.columns, dtype=float)
    out = {}
    for t in years:
        mask = observed.loc[:, [c for c in observed.columns if c <= t - 1]]
        if mask.shape[1] == 0:
            out[t] = np.full(len(observed), np.nan)
            continue
        last = np.where(mask.to_numpy(), cols[: mask.shape[1]], np.nan)
        out[t] = t - np.nanmax(np.where(np.isnan(last), -np.inf, last), axis=1)
        out[t] = np.where(np.isinf(out[t]), np.nan, out[t])
    return pd.DataFrame(out, index=observed.index)


def panel_sha256(panel: pd.DataFrame) -> str:
    """Content hash of the panel, stored with each run so a result can be traced to its inputs."""
    data = pd.util.hash_pandas_object(panel.reset_index(), index=False).to_numpy().tobytes()
    return hashlib.sha256(data).hexdigest()
