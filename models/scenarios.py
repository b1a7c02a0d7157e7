"""What-if scenarios (issue 15): change a region's model inputs ("levers") and re-run both deployed models.

Pure: no database or registry access here. ``models/scenarios_store.py`` gathers a ``ScenarioModel``
(observations,
panels, boosters, calibration, stored predictions) once; every function below computes from it.

Why levers act on observations, not on feature columns: a rate appears in several features (last year, 3-year
sum,
change, years since a conflict began). A lever rewrites the observation the model reads for the scenario year,
and the features it declares are rebuilt from the modified observations with the feature builders' own code
(``models.features.feature_frame`` for detected victims, ``models.watchlist.driver_panel`` for the watch
list), so
the scenario stays coherent. Which year a lever rewrites:

* detected in country, year t: the inputs dated t - 1 (label-source inputs, prosecutions and convictions, at
  t - label lag), the value each feature actually reads there, including one carried forward;
* the watch-list rise, year t: the inputs as of t (the watch list reads its own year).

A factor lever multiplies that value (the latest year only: "displacement doubles" is growth against the years
before it); a level lever sets it. Every answer is the model's learned association, not a causal effect
(``HONESTY``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from models import watchlist as wl
from models.evaluate import DAMPED_PHI, blend_weights, damped_trend_values, eb_mean_values, interval_group
from models.explain import BIAS
from models.features import (
    FEATURES,
    POPULATION,
    VALUE_KINDS,
    FeatureSpec,
    _lagged,
    _wide,
    feature_frame,
    is_label_derived,
)

log = logging.getLogger(__name__)

HONESTY = (
    "This is the model's learned association between these inputs and the outcome in past data, not a "
    "causal effect: changing a lever in the world need not move risk by this amount."
)
MAX_REGIONS = 30  # a portfolio (or an API call) changes at most this many regions
SUPPORT_NEIGHBOURS = (
    200  # "similar countries": the training rows nearest in log population and log GDP per capita
)
SUPPORT_QUANTILES = (0.01, 0.99)
WIDEN_FACTOR = 2.0  # beyond support: interval half-widths × this
DIRECTION_AGREEMENT = (
    0.8  # share of backtest origins whose effect has the majority sign, to call it supported
)
DIRECTION_MIN_EFFECT = 1e-3  # log units: below this at every origin the model does not use the lever
COVERAGE_REGION = (  # sentinel rows: a one-region panel sees each source's years as the full one does
    "~coverage"
)
DETECTED_UNIT = "detected victims per 100,000"
RISE_UNIT = "rise factor: nationals detected abroad, next 3 years against the last 3"


class ScenarioError(ValueError):
    """A scenario the engine refuses (unknown lever or region, value out of range); the message says which."""


class ScenarioNotFound(ScenarioError):
    """The region (or its year) has no model inputs: nothing to compute, as distinct from a bad request."""


@dataclass(frozen=True)
class Lever:
    """One lever: what it changes in the observations, and which model features that moves.

    ``how``: scale (value × factor), set (value = level), per100k (count = level × population / 100,000),
    pct_pop
    (count = level % × population). ``detected_inputs`` / ``rise_inputs``: groups of indicator codes (one
    group per
    quantity, codes in the builders' priority order). ``probe``: the two values the backtest compares to
    measure
    the direction of the lever's effect.
    """

    name: str
    label: str
    unit: str
    kind: str  # factor | level
    min: float
    max: float
    default: float | None  # factor: 1; level: None = the region's current value
    step: float
    how: str
    detected_inputs: tuple[tuple[str, ...], ...]
    detected_features: tuple[str, ...]
    rise_inputs: tuple[tuple[str, ...], ...] = ()
    rise_features: tuple[str, ...] = ()
    probe: tuple[float, float] = (0.5, 2.0)
    special: str = ""  # ends_conflict_at_zero | funding_follows_coverage
    description: str = ""
    better: int = (
        1  # which way more capacity lies (TIP tier: -1, lower is better); used by "raise to the median"
    )


_DISPLACED = (("displacement.refugees_by_origin",), ("displacement.asylum_seekers_by_origin",))
_IDPS = (("displacement.idmc_conflict_idps", "displacement.conflict_idps_stock", "displacement.idps_unhcr"),)

LEVERS: tuple[Lever, ...] = (
    Lever(
        "displaced_abroad",
        "Refugees and asylum-seekers originating",
        "× factor",
        "factor",
        0.0,
        10.0,
        1.0,
        0.1,
        "scale",
        _DISPLACED,
        ("refugees_origin_per100k", "asylum_seekers_origin_per100k", "refugees_origin_change"),
        _DISPLACED,
        (
            "displaced_growth_2y",
            "displaced_growth_2y_based",
            "displaced_growth_2y_scaled",
            "displaced_abroad_level",
            "displaced_abroad",
        ),
        description="Refugees and asylum-seekers from the country abroad (UNHCR), latest year × factor",
    ),
    Lever(
        "idps",
        "Conflict IDPs",
        "× factor",
        "factor",
        0.0,
        10.0,
        1.0,
        0.1,
        "scale",
        _IDPS,
        ("idps_per100k",),
        _IDPS,
        ("idp_growth_2y", "idp_growth_2y_based", "idp_growth_2y_scaled", "idps_level", "idps"),
        description="People internally displaced by conflict (IDMC, else UNHCR), latest year × factor",
    ),
    Lever(
        "refugees_hosted",
        "Refugees hosted",
        "× factor",
        "factor",
        0.0,
        10.0,
        1.0,
        0.1,
        "scale",
        (("displacement.refugees_hosted",),),
        ("refugees_hosted_per100k",),
        description=(
            "Refugees hosted in the country (UNHCR), latest year × factor; the watch list does not use it"
        ),
    ),
    Lever(
        "conflict_deaths",
        "Conflict deaths",
        "× factor",
        "factor",
        0.0,
        10.0,
        1.0,
        0.1,
        "scale",
        (("conflict.deaths_organised_violence",), ("conflict.battle_deaths",)),
        ("conflict_deaths_per100k", "conflict_deaths_3y_per100k", "battle_deaths_per100k"),
        (("conflict.deaths_organised_violence",),),
        ("conflict_intensity", "conflict_growth", "deaths"),
        special="ends_conflict_at_zero",
        description=(
            "Deaths in organised violence and battle deaths (UCDP), latest year × factor; at 0 the "
            "armed conflicts of that year end too (years since the conflict began = 0)"
        ),
    ),
    Lever(
        "disaster_affected",
        "People affected by a disaster",
        "% of population",
        "level",
        0.0,
        100.0,
        None,
        0.5,
        "pct_pop",
        (("hazard.disaster_affected",),),
        ("disaster_affected_per100k",),
        (("hazard.disaster_affected",),),
        ("disaster_affected",),
        probe=(0.0, 10.0),
        description="People affected by disasters in the latest year (EM-DAT), as a share of the population",
    ),
    Lever(
        "humanitarian_coverage",
        "Humanitarian funding coverage",
        "% of requirements",
        "level",
        0.0,
        150.0,
        None,
        1.0,
        "set",
        (("response.fts_coverage_pct",),),
        ("humanitarian_coverage_pct", "humanitarian_funding_per_capita"),
        probe=(20.0, 80.0),
        special="funding_follows_coverage",
        description=(
            "Share of humanitarian requirements funded (OCHA FTS); funding per person moves with it "
            "(requirements held fixed); 0 = funding stops"
        ),
    ),
    Lever(
        "tip_tier",
        "US TIP report tier",
        "tier (1 best, 3 worst)",
        "level",
        1.0,
        3.0,
        None,
        0.5,
        "set",
        (("detection.tip_tier",),),
        ("tip_tier",),
        probe=(3.0, 1.0),
        better=-1,
        description="US Trafficking in Persons report tier (2.5 = Tier 2 Watch List)",
    ),
    Lever(
        "prosecutions",
        "Prosecutions per 100,000",
        "persons per 100,000",
        "level",
        0.0,
        20.0,
        None,
        0.01,
        "per100k",
        (("detection.persons_prosecuted",),),
        ("prosecutions_per100k",),
        probe=(0.05, 1.0),
        description="Persons prosecuted for trafficking per 100,000 people (UNODC)",
    ),
    Lever(
        "convictions",
        "Convictions per 100,000",
        "persons per 100,000",
        "level",
        0.0,
        20.0,
        None,
        0.01,
        "per100k",
        (("detection.persons_convicted",),),
        ("convictions_per100k",),
        probe=(0.02, 0.5),
        description="Persons convicted of trafficking per 100,000 people (UNODC)",
    ),
    Lever(
        "policy_3p",
        "3P anti-trafficking policy index",
        "index (3-15)",
        "level",
        3.0,
        15.0,
        None,
        1.0,
        "set",
        (("detection.policy_3p",),),
        ("policy_3p",),
        probe=(6.0, 12.0),
        description="Prosecution, protection and prevention policy index (3P)",
    ),
    Lever(
        "rule_of_law",
        "WGI rule of law",
        "estimate (-2.5 to 2.5)",
        "level",
        -2.5,
        2.5,
        None,
        0.05,
        "set",
        (("structural.wgi_rl",),),
        ("wgi_rule_of_law",),
        (("structural.wgi_rl",),),
        ("rule_of_law",),
        probe=(-1.0, 1.0),
        description="World Bank governance indicator: rule of law",
    ),
)
LEVER_BY_NAME = {lv.name: lv for lv in LEVERS}
SPEC_BY_NAME = {f.name: f for f in FEATURES}
_ZERO_CONFLICT_FEATURES = ("armed_conflicts", "years_since_conflict_onset")
_ARMED_CONFLICTS = ("conflict.armed_conflicts",)
_FUNDING = ("response.fts_funding_usd",)
RISE_SCORE_COLUMNS = (
    "displaced_growth_2y",
    "displaced_growth_2y_based",
    "displaced_growth_2y_scaled",
    "idp_growth_2y",
    "idp_growth_2y_based",
    "idp_growth_2y_scaled",
    "conflict_intensity",
    "conflict_growth",
    "disaster_affected",
    "displaced_abroad_level",
    "idps_level",
    "log_population",
    "log_gdp_per_capita",
    "rule_of_law",
)


def lever_table() -> list[dict[str, Any]]:
    """The levers as the API and the page describe them (GET /api/v1/scenarios/levers)."""
    return [
        {
            "name": lv.name,
            "label": lv.label,
            "unit": lv.unit,
            "kind": lv.kind,
            "min": lv.min,
            "max": lv.max,
            "default": lv.default,
            "step": lv.step,
            "description": lv.description,
            "detected_features": list(lv.detected_features),
            "rise_features": list(lv.rise_features),
        }
        for lv in LEVERS
    ]


@dataclass(frozen=True)
class Scenario:
    """A region, a year and lever values (factor for kind factor, level otherwise)."""

    region: str
    year: int
    levers: Mapping[str, float] = field(default_factory=dict)


def validate_levers(levers: Mapping[str, Any]) -> dict[str, float]:
    """Lever values as floats; refuses unknown names, non-numbers and values outside a lever's range."""
    out = {}
    for name, value in levers.items():
        lever = LEVER_BY_NAME.get(name)
        if lever is None:
            raise ScenarioError(f"unknown lever '{name}'; known levers: {', '.join(LEVER_BY_NAME)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            raise ScenarioError(f"lever '{name}': value must be a finite number, got {value!r}")
        if not lever.min <= float(value) <= lever.max:
            raise ScenarioError(
                f"lever '{name}': {value} is outside {lever.min:g}..{lever.max:g} ({lever.unit})"
            )
        out[name] = float(value)
    return out


def _active(levers: Mapping[str, float]) -> dict[str, float]:
    """Levers that change something: a factor other than 1; any level."""
    return {k: v for k, v in levers.items() if not (LEVER_BY_NAME[k].kind == "factor" and v == 1.0)}


# --- the model the engine runs on
# ------------------------------------------------------------------------------


@dataclass
class DetectedModel:
    """The deployed detected-victims run: deployment panel, one booster per horizon, ensemble partner,
    intervals."""

    panel: pd.DataFrame  # the deployment panel (build_panel with the run's per-year label lag)
    lag_map: dict[int, int]
    boosters: dict[int, xgb.Booster]
    features: list[str]
    weight: float  # of the XGBoost part; the partner (label history only) gets 1 - weight
    partner: str | None  # eb_mean | damped_trend | mean_3y | None (ridge partners are not supported)
    partner_median: float
    halfwidths: dict[int, dict[str, dict[float, float]]]
    level: float
    stored: (
        pd.DataFrame
    )  # index (region_id, year): estimate_per_100k, lower_per_100k, upper_per_100k, risk_score
    run_id: str
    directions: dict[str, dict[str, Any]] = field(default_factory=dict)
    partner_phi: float = DAMPED_PHI  # the run's [damped_trend] phi, for a damped_trend partner
    weight_first_time: float | None = None  # the XGBoost part's weight for rows without a label history


@dataclass
class RiseModel:
    """The deployed watch list: driver panel, headline, calibration line and stored scores."""

    panel: pd.DataFrame  # driver_panel(...).drivers, every scored country-year
    headline: str
    calibration: dict[str, float]
    booster: xgb.Booster | None
    stored: pd.DataFrame  # index (region_id, year): score, rise_factor, lower, upper, rank, percentile
    support_years: list[int]
    per_year: dict[str, list[dict[str, Any]]]


@dataclass
class ScenarioModel:
    """Everything a scenario needs, gathered once (models/scenarios_store.py)."""

    obs: pd.DataFrame  # level-0 yearly observations (region_id, year, indicator, value, censored)
    detected: DetectedModel
    rise: RiseModel | None
    coverage: pd.DataFrame = field(init=False)
    _by_region: dict[str, pd.DataFrame] = field(init=False, repr=False)
    _support_detected: pd.DataFrame = field(init=False, repr=False)
    _memo: dict[Any, Any] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        # plain object strings: the small per-region frames are pivoted many times per scenario, and
        # Arrow-backed
        # strings cost more per operation than they save there
        self.obs = self.obs[["region_id", "year", "indicator", "value", "censored"]].astype(
            {"region_id": object, "indicator": object, "year": int, "value": float, "censored": bool}
        )
        self.coverage = coverage_rows(self.obs)
        self._by_region = {r: g for r, g in self.obs.groupby("region_id", sort=False)}
        labelled = self.detected.panel[self.detected.panel["label"].notna()]
        self._support_detected = labelled

    def region_obs(self, region: str) -> pd.DataFrame:
        """The region's observations plus the coverage rows (so one-region builds see each source's years)."""
        own = self._by_region.get(region)
        if own is None:
            raise ScenarioNotFound(f"unknown region '{region}': no observations in the warehouse")
        return pd.concat([own, self.coverage], ignore_index=True)

    def lever_inputs(self, regions: Sequence[str]) -> tuple[pd.DataFrame, dict[Any, Any]]:
        """The regions' observations plus the coverage rows, and the memo of what levers read from them.

        One region (a scenario): both memoised per region, so the next scenario of the region (another
        slider position) reuses them; nothing may modify them (``apply_levers`` returns a new frame).
        Several regions (a portfolio): built afresh, with a memo for this call only.
        """
        if len(regions) != 1:
            for r in regions:
                if r not in self._by_region:
                    raise ScenarioNotFound(f"unknown region '{r}': no observations in the warehouse")
            frames = [self._by_region[r] for r in regions] + [self.coverage]
            return pd.concat(frames, ignore_index=True), {}
        key = ("lever_inputs", regions[0])
        if key not in self._memo:
            self._memo[key] = (self.region_obs(regions[0]), {})
        obs, reads = self._memo[key]
        return obs, reads

    def rise_year(self, year: int) -> pd.DataFrame:
        """The watch list's driver rows of one year (memoised: every scenario of that year starts from
        them)."""
        key = ("rise_year", year)
        if key not in self._memo:
            assert self.rise is not None
            panel = self.rise.panel
            self._memo[key] = panel[panel.index.get_level_values("year") == year]
        return self._memo[key]

    def rise_base_terms(self, year: int) -> pd.DataFrame:
        key = ("rise_terms", year)
        if key not in self._memo:
            assert self.rise is not None
            self._memo[key] = _rise_terms(self.rise, self.rise_year(year))
        return self._memo[key]

    def rise_support(self) -> pd.DataFrame:
        if "rise_support" not in self._memo:
            assert self.rise is not None
            panel = self.rise.panel
            self._memo["rise_support"] = panel[
                panel.index.get_level_values("year").isin(self.rise.support_years)
            ]
        return self._memo["rise_support"]

    def years(self) -> list[int]:
        """The years both models have stored answers for (a scenario's year must be one of them)."""
        if "years" not in self._memo:
            years = set(self.detected.stored.index.get_level_values("year"))
            if self.rise is not None:
                years &= set(self.rise.stored.index.get_level_values("year"))
            self._memo["years"] = sorted(int(y) for y in years)
        return self._memo["years"]


def coverage_rows(obs: pd.DataFrame) -> pd.DataFrame:
    """Empty (NaN) rows of a sentinel region at each indicator's first and last year.

    The builders read a source's coverage (first and last year: zero-filling, carrying past its end) from the
    columns of its region × year matrix; with these rows a matrix of one region has the same columns as the
    full
    one, so a one-region rebuild equals the full panel (tests/models/test_scenarios.py checks it).
    """
    span = obs.groupby("indicator")["year"].agg(["min", "max"])
    rows = [
        {"region_id": COVERAGE_REGION, "year": int(y), "indicator": ind, "value": np.nan, "censored": False}
        for ind, r in span.iterrows()
        for y in {int(r["min"]), int(r["max"])}
        if ind != "trafficking.victims_detected" and ind != POPULATION
    ]
    return pd.DataFrame(rows, columns=["region_id", "year", "indicator", "value", "censored"])


# --- levers applied to observations
# ----------------------------------------------------------------------------


def _spec_for(codes: tuple[str, ...]) -> FeatureSpec:
    """The detected-model feature that reads this indicator group as a value (its carry and coverage
    rules)."""
    for f in FEATURES:
        if f.indicators == codes and f.kind in VALUE_KINDS:
            return f
    raise KeyError(codes)


def _detected_read(obs: pd.DataFrame, codes: tuple[str, ...], year: int, lag: int) -> tuple[pd.Series, int]:
    """The raw value each region's detected features read for target ``year`` (carried values included), and
    the input year it is dated (t - 1, or t - lag for the label's own source)."""
    spec = _spec_for(codes)
    from models.features import CONFLICT_DISPLACEMENT_FAMILIES, FILL_ZERO_COVERAGE, STALE_CARRY_YEARS

    coverage_end = max(FILL_ZERO_COVERAGE.get(i, 0) for i in codes) or None
    stale = STALE_CARRY_YEARS if spec.family in CONFLICT_DISPLACEMENT_FAMILIES else 0
    at = year - lag + 1 if any(is_label_derived(c) for c in codes) else year
    vals = _lagged(_wide(obs, codes), [at], spec.carry_years, spec.fill_zero, coverage_end, stale)
    return (vals[at] if at in vals.columns else pd.Series(dtype=float)), at - 1


def _rise_read(obs: pd.DataFrame, codes: tuple[str, ...], year: int) -> pd.Series:
    """The raw value each region's watch-list drivers read as of ``year`` (carried values included)."""
    name = next(k for k, v in wl.INPUTS.items() if v == codes)
    carry = 0 if name == "disaster_affected" else wl.CARRY_YEARS
    wide = wl._wide(obs, codes)
    index = pd.Index(sorted(set(obs["region_id"]) - {COVERAGE_REGION}), name="region_id")
    vals, _ = wl._as_of(wide, [year], index, carry, name in wl.FILL_ZERO, wl.FILL_ZERO.get(name))
    return vals[year]


def _read(reads: dict[Any, Any] | None, key: tuple[Any, ...], compute: Any) -> Any:
    """``compute()``, memoised in ``reads`` under ``key`` when a memo is given (never modified by callers)."""
    if reads is None:
        return compute()
    if key not in reads:
        reads[key] = compute()
    return reads[key]


def _population(obs: pd.DataFrame, year: int, carry: int) -> pd.Series:
    wide = _wide(obs, (POPULATION,))
    vals = _lagged(wide, [year + 1], carry, False, None)
    return vals[year + 1] if year + 1 in vals.columns else pd.Series(dtype=float)


def _write(obs: pd.DataFrame, new: dict[tuple[str, str, int], float]) -> pd.DataFrame:
    """Replace (or add) the observations keyed (region, indicator, year)."""
    if not new:
        return obs
    keys = pd.MultiIndex.from_tuples(list(new), names=["region_id", "indicator", "year"])
    current = pd.MultiIndex.from_frame(obs[["region_id", "indicator", "year"]])
    kept = obs[~current.isin(keys)]
    add = pd.DataFrame(
        {
            "region_id": keys.get_level_values(0),
            "indicator": keys.get_level_values(1),
            "year": keys.get_level_values(2).astype(int),
            "value": list(new.values()),
            "censored": False,
        }
    )
    return pd.concat([kept, add], ignore_index=True)


def _target_value(lever: Lever, value: float, current: float, population: float) -> float | None:
    """The observation a lever writes: the current value scaled, the level itself, or a rate turned into
    people."""
    if lever.how == "scale":
        return None if pd.isna(current) else float(current) * value
    if lever.how == "set":
        return value
    if pd.isna(population):
        return None
    return value * float(population) / (1e5 if lever.how == "per100k" else 100.0)  # per100k | pct_pop


def _lever_writes(
    obs: pd.DataFrame,
    lever: Lever,
    value: float,
    year: int,
    target: str,
    lag: int,
    regions: Sequence[str],
    population: pd.Series,
    reads: dict[Any, Any] | None = None,
) -> tuple[dict[tuple[str, str, int], float], list[str]]:
    """The observations one lever rewrites for ``target`` (keyed region, indicator, year), and notes."""
    new: dict[tuple[str, str, int], float] = {}
    notes: list[str] = []
    for codes in lever.detected_inputs if target == "detected" else lever.rise_inputs:
        if target == "detected":
            current, at = _read(
                reads, ("detected", codes, year, lag), lambda c=codes: _detected_read(obs, c, year, lag)
            )
        else:
            current, at = _read(
                reads, ("rise", codes, year), lambda c=codes: (_rise_read(obs, c, year), year)
            )
        for region in regions:
            written = _target_value(lever, value, current.get(region, np.nan), population.get(region, np.nan))
            if written is None:
                notes.append(
                    f"{region}: no {codes[0]} value (or population) for {year}; lever '{lever.name}' "
                    "left it unchanged"
                )
                continue
            for code in codes:
                new[(region, code, at)] = written
    return new, notes


def _follow_ups(
    obs: pd.DataFrame,
    lever: Lever,
    value: float,
    year: int,
    lag: int,
    regions: Sequence[str],
    reads: dict[Any, Any] | None = None,
) -> tuple[dict[tuple[str, str, int], float], list[str]]:
    """What else a lever changes to stay coherent (detected model): the conflict ends with its deaths; funding
    follows coverage with requirements held fixed."""
    new: dict[tuple[str, str, int], float] = {}
    notes: list[str] = []
    if lever.special == "ends_conflict_at_zero" and value == 0.0:
        new.update({(region, _ARMED_CONFLICTS[0], year - 1): 0.0 for region in regions})
    if lever.special == "funding_follows_coverage":
        coverage = ("response.fts_coverage_pct",)
        cov, at = _read(
            reads, ("detected", coverage, year, lag), lambda: _detected_read(obs, coverage, year, lag)
        )
        funding, _ = _read(
            reads, ("detected", _FUNDING, year, lag), lambda: _detected_read(obs, _FUNDING, year, lag)
        )
        for region in regions:
            c, f = cov.get(region, np.nan), funding.get(region, np.nan)
            if pd.isna(c) or c <= 0 or pd.isna(f):
                notes.append(
                    f"{region}: funding per person unchanged (no funding or coverage figure for {year - 1})"
                )
                continue
            new[(region, _FUNDING[0], at)] = float(f) * value / float(c)
    return new, notes


def apply_levers(
    obs: pd.DataFrame,
    levers: Mapping[str, float],
    year: int,
    target: str,
    lag: int = 1,
    regions: Sequence[str] | None = None,
    reads: dict[Any, Any] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Observations with the levers applied for ``target`` ("detected" or "rise") in scenario ``year``.

    Works on any number of regions at once (``regions``: which; default all in ``obs``). Returns the modified
    observations and notes (e.g. a factor with no value to scale). ``reads``: a memo of what the levers read
    from these same (unmodified) ``obs``, kept by the caller per region so a region's next scenario skips
    them; the values do not depend on the lever values.
    """
    regions = [r for r in regions or sorted(set(obs["region_id"])) if r != COVERAGE_REGION]
    population = _read(
        reads,
        ("population", target, year),
        lambda: (
            _population(obs, year - 1, 1) if target == "detected" else _population(obs, year, wl.CARRY_YEARS)
        ),
    )
    new: dict[tuple[str, str, int], float] = {}
    notes: list[str] = []
    for name, value in _active(levers).items():
        lever = LEVER_BY_NAME[name]
        writes, said = _lever_writes(obs, lever, value, year, target, lag, regions, population, reads)
        new.update(writes)
        notes += said
        if target == "detected":
            writes, said = _follow_ups(obs, lever, value, year, lag, regions, reads)
            new.update(writes)
            notes += said
    return _write(obs, new), sorted(set(notes))


def moved_detected_features(levers: Mapping[str, float]) -> list[str]:
    """The detected-model features the active levers declare they move."""
    out: list[str] = []
    for name, value in _active(levers).items():
        lever = LEVER_BY_NAME[name]
        out += list(lever.detected_features)
        if lever.special == "ends_conflict_at_zero" and value == 0.0:
            out += list(_ZERO_CONFLICT_FEATURES)
    return list(dict.fromkeys(out))


def moved_rise_features(levers: Mapping[str, float]) -> list[str]:
    out: list[str] = []
    for name in _active(levers):
        out += list(LEVER_BY_NAME[name].rise_features)
    return list(dict.fromkeys(out))


def rebuild_detected(obs: pd.DataFrame, names: Sequence[str], year: int, lag: int) -> pd.DataFrame:
    """The named detected-model features for ``year`` rebuilt from ``obs`` by the panel's own code."""
    years = [year]
    pop_lag = _lagged(_wide(obs, (POPULATION,)), years, 1, False, None)
    cols = {}
    for name in names:
        frame = feature_frame(SPEC_BY_NAME[name], obs, years, [year - lag + 1], pop_lag)
        cols[name] = frame[year] if frame is not None and year in frame.columns else pd.Series(dtype=float)
    out = pd.DataFrame(cols).replace([np.inf, -np.inf], np.nan)
    return out.drop(index=COVERAGE_REGION, errors="ignore")


def rebuild_rise(obs: pd.DataFrame, levers: Mapping[str, float], year: int) -> pd.DataFrame:
    """Watch-list drivers for ``year`` rebuilt by ``driver_panel`` from the inputs the levers and the
    scored-row
    rule need (the others do not enter the rebuilt columns)."""
    codes = {c for lv in _active(levers) for g in LEVER_BY_NAME[lv].rise_inputs for c in g}
    for key in ("refugees_origin", "asylum_origin", "idps", "deaths", "population"):
        codes |= set(wl.INPUTS[key])
    sub = obs[obs["indicator"].isin(codes)]
    return wl.driver_panel(sub, [year]).drivers.droplevel("year")


# --- the out-of-support guard
# ----------------------------------------------------------------------------------


def similar_rows(
    reference: pd.DataFrame, log_population: float, log_gdp: float, neighbours: int = SUPPORT_NEIGHBOURS
) -> pd.DataFrame:
    """The ``neighbours`` training rows nearest to a region in standardised log population and log GDP per
    capita
    (log population alone where its GDP is missing): the "similar countries" of the out-of-support rule."""
    cols = ["log_population", "log_gdp_per_capita"] if pd.notna(log_gdp) else ["log_population"]
    point = np.array([log_population, log_gdp][: len(cols)], dtype=float)
    ref = reference.dropna(subset=cols)
    if ref.empty or np.isnan(point).any():
        return ref.iloc[:0]
    Z = ref[cols].to_numpy(dtype=float)
    sd = Z.std(axis=0)
    sd[sd == 0] = 1.0
    dist = (((Z - point) / sd) ** 2).sum(axis=1)
    return ref.iloc[np.argsort(dist, kind="stable")[:neighbours]]


def support_range(similar: pd.DataFrame, feature: str) -> tuple[float, float] | None:
    """The range of ``feature`` seen in training among similar countries: the 1st to 99th percentile of the
    similar rows that have it (docs/SCENARIOS.md). None when fewer than 20 of them have it."""
    if feature not in similar.columns:
        return None
    near = similar[feature].dropna()
    if len(near) < 20:
        return None
    lo, hi = np.quantile(near.to_numpy(dtype=float), SUPPORT_QUANTILES)
    return float(lo), float(hi)


def support_check(
    reference: pd.DataFrame,
    base: pd.Series,
    scen: pd.Series,
    features: Sequence[str],
    gdp_column: str = "log_gdp_per_capita",
    neighbours: int = SUPPORT_NEIGHBOURS,
) -> list[dict[str, Any]]:
    """For each feature the scenario moved: its value, the similar countries' range, beyond and far beyond.

    Beyond: outside the range (the interval is widened WIDEN_FACTOR-fold). Far beyond: further outside than
    the
    range is wide (the answer is withheld). A feature the scenario did not change is never flagged.
    """
    out = []
    similar = None
    for name in features:
        b, s = base.get(name), scen.get(name)
        if pd.isna(s) or (pd.notna(b) and np.isclose(float(b), float(s), rtol=0, atol=1e-12)):
            continue
        if similar is None:
            similar = similar_rows(
                reference,
                float(base.get("log_population", np.nan)),
                float(base.get(gdp_column, np.nan)),
                neighbours,
            )
        rng = support_range(similar, name)
        if rng is None:
            out.append(
                {
                    "feature": name,
                    "value": float(s),
                    "low": None,
                    "high": None,
                    "beyond": True,
                    "far": False,
                    "reason": "too few similar countries with this input in training",
                }
            )
            continue
        lo, hi = rng
        width = max(hi - lo, 1e-9)
        beyond = bool(s < lo or s > hi)
        far = bool(s < lo - width or s > hi + width)
        out.append(
            {
                "feature": name,
                "value": float(s),
                "low": lo,
                "high": hi,
                "beyond": beyond,
                "far": far,
                "reason": (
                    "far beyond what the model has seen"
                    if far
                    else "beyond what the model has seen"
                    if beyond
                    else ""
                ),
            }
        )
    return out


# --- detected victims
# ------------------------------------------------------------------------------------------


def _detected_margin(model: DetectedModel, X: pd.DataFrame, horizon: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Margins (log1p per 100k) and SHAP contributions of the deployed ensemble for rows of the panel."""
    booster = model.boosters[horizon]
    feats = X[model.features]
    # nthread=1: building a DMatrix of a few rows with the default threads cost ~16 ms of CPU on a busy
    # machine (threads waiting for a core), one thread 0.3 ms; the values are the same
    d = xgb.DMatrix(feats.to_numpy(dtype=float), feature_names=model.features, missing=np.nan, nthread=1)
    w = blend_weights(X["past_victims_per100k"].isna().to_numpy(), model.weight, model.weight_first_time)
    contrib = booster.predict(d, pred_contribs=True).astype(float) * w[:, None]
    shap = pd.DataFrame(contrib, index=X.index, columns=[*model.features, BIAS])
    if model.partner in ("eb_mean", "damped_trend"):
        level = eb_mean_values(X, model.partner_median)
        part = (
            damped_trend_values(X, model.partner_median, model.partner_phi)
            if model.partner == "damped_trend"
            else level
        )
        shap["past_victims_shrunk_per100k"] += (1 - w) * (level - model.partner_median)
        shap["past_victims_per100k"] += (1 - w) * (part - level)
        shap[BIAS] += (1 - w) * model.partner_median
    elif model.partner == "mean_3y":
        part = (
            X["hist_mean3_origin"]
            .fillna(X["past_victims_per100k"])
            .fillna(model.partner_median)
            .to_numpy(dtype=float)
        )
        shap["past_victims_mean3_per100k"] += (1 - w) * (part - model.partner_median)
        shap[BIAS] += (1 - w) * model.partner_median
    elif model.partner is not None:
        raise ScenarioError(
            f"the deployed ensemble partner '{model.partner}' is not supported by the scenario engine"
        )
    # the margin is the booster's own prediction (float32 sums) plus the partner, as the pipeline computed it
    margin = booster.predict(d, output_margin=True).astype(float) * w
    if model.partner is not None:
        margin = margin + (1 - w) * part
    return margin, shap


def detected_rows(
    model: ScenarioModel, regions: Sequence[str], year: int, levers: Mapping[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Baseline and scenario feature rows (index region) of the detected model for ``year``."""
    panel = model.detected.panel
    keys = [(r, year) for r in regions]
    missing = [r for r, k in zip(regions, keys, strict=True) if k not in panel.index]
    if missing:
        raise ScenarioNotFound(f"no detected-victims features for {', '.join(missing)} in {year}")
    base = panel.loc[keys].droplevel("year")
    scen = base.copy()
    names = moved_detected_features(levers)
    notes: list[str] = []
    if names:
        lag = model.detected.lag_map.get(year, 1)
        obs, reads = model.lever_inputs(regions)
        modified, notes = apply_levers(obs, levers, year, "detected", lag, regions, reads)
        rebuilt = rebuild_detected(modified, names, year, lag).reindex(base.index)
        scen[names] = rebuilt[names].to_numpy()
    return base, scen, notes


def _detected_result(
    model: ScenarioModel,
    region: str,
    year: int,
    levers: Mapping[str, float],
    base: pd.Series,
    scen: pd.Series,
    notes: list[str],
) -> dict[str, Any]:
    det = model.detected
    lag = det.lag_map.get(year, 1)
    h = min(lag, max(det.boosters))
    frame = pd.DataFrame([base, scen], index=["baseline", "scenario"])
    margin, shap = _detected_margin(det, frame, h)
    group = interval_group(frame.iloc[[0]]).iloc[0]
    q = float(det.halfwidths[h][group][det.level])
    moved = moved_detected_features(levers)
    support = support_check(model._support_detected, base, scen, moved)
    beyond = any(s["beyond"] for s in support)
    far = any(s["far"] for s in support)
    q_s = q * WIDEN_FACTOR if beyond else q

    def per100k(m: float, half: float) -> tuple[float, float, float]:
        return (
            float(np.expm1(max(m, 0.0))),
            float(np.expm1(max(m - half, 0.0))),
            float(np.expm1(max(m, 0.0) + half)),
        )

    b_est, b_lo, b_hi = per100k(margin[0], q)
    s_est, s_lo, s_hi = per100k(margin[1], q_s)
    diff = shap.iloc[1] - shap.iloc[0]
    return {
        "target": "detected",
        "unit": DETECTED_UNIT,
        "region": region,
        "year": year,
        "horizon": h,
        "baseline": b_est,
        "baseline_lower": b_lo,
        "baseline_upper": b_hi,
        "scenario": None if far else s_est,
        "lower": None if far else s_lo,
        "upper": None if far else s_hi,
        "difference": None if far else s_est - b_est,
        "beyond_support": beyond,
        "withheld": far,
        "widened": beyond and not far,
        "support": support,
        "contributions": _per_lever(diff, levers, "detected"),
        "feature_contributions": {k: float(v) for k, v in diff.items() if abs(v) > 1e-12},
        "shap_scenario": {k: float(v) for k, v in shap.iloc[1].items()},
        "margin_baseline": float(margin[0]),
        "margin_scenario": float(margin[1]),
        "contribution_space": "log1p(detected victims per 100,000)",
        "inputs": {k: {"baseline": _num(base.get(k)), "scenario": _num(scen.get(k))} for k in moved},
        "directions": {
            k: det.directions.get(k, {}).get("detected", {"verdict": "not measured"}) for k in _active(levers)
        },
        "notes": notes,
    }


def _per_lever(diff: pd.Series, levers: Mapping[str, float], target: str) -> dict[str, float]:
    """Change of the output explained by each lever's own features, the rest as interactions."""
    out: dict[str, float] = {}
    claimed: set[str] = set()
    for name, value in _active(levers).items():
        lever = LEVER_BY_NAME[name]
        feats = set(lever.detected_features if target == "detected" else lever.rise_features)
        if target == "rise" and lever.name == "rule_of_law":
            feats.add("vulnerability")  # the composite's modifier term
        if target == "detected" and lever.special == "ends_conflict_at_zero" and value == 0.0:
            feats |= set(_ZERO_CONFLICT_FEATURES)
        out[name] = float(diff.reindex(sorted(feats)).fillna(0.0).sum())
        claimed |= feats
    out["other (interactions)"] = float(diff.drop(labels=[c for c in diff.index if c in claimed]).sum())
    return out


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


# --- the watch-list rise
# ---------------------------------------------------------------------------------------


def _rise_terms(rise: RiseModel, year_frame: pd.DataFrame) -> pd.DataFrame:
    """The headline's additive terms per country for one year (score = their sum)."""
    if rise.headline == "xgboost":
        X = year_frame[list(wl.XGB_FEATURES)]
        d = xgb.DMatrix(X.to_numpy(dtype=float), feature_names=list(X.columns), missing=np.nan, nthread=1)
        c = rise.booster.predict(d, pred_contribs=True)  # type: ignore[union-attr]
        return pd.DataFrame(c, index=year_frame.index, columns=[*wl.XGB_FEATURES, BIAS])
    if rise.headline in ("composite", wl.AMENDED, wl.SCALED):
        terms = wl.composite_terms(
            year_frame, based=rise.headline == wl.AMENDED, scaled=rise.headline == wl.SCALED
        )
        score = terms.pop("score")
        # additive split: each crisis term without the modifier, plus the modifier's whole share
        # (vulnerability),
        # so a rule-of-law lever's effect lands on "vulnerability"; __check__ holds any rounding left
        vuln = (
            (
                wl._z_within_year(-year_frame["log_gdp_per_capita"])
                + wl._z_within_year(-year_frame["rule_of_law"])
            )
            / 2
        ).clip(-1, 1)
        factor = 1 + wl.VULNERABILITY_STRENGTH * vuln
        out = terms.drop(columns="vulnerability").div(factor, axis=0)
        out["vulnerability"] = terms["vulnerability"]
        out["__check__"] = score - out.sum(axis=1)
        return out
    # a single driver as headline: its raw value is the score (watchlist_frame)
    return pd.DataFrame({rise.headline: year_frame[rise.headline]}, index=year_frame.index)


def headline_inputs(headline: str) -> tuple[str, ...]:
    """The driver columns the watch-list headline reads (the out-of-support guard checks only these)."""
    if headline == "xgboost":
        return tuple(wl.XGB_FEATURES)
    if headline in ("composite", wl.AMENDED, wl.SCALED):
        suffix = {"composite": "", wl.AMENDED: "_based", wl.SCALED: "_scaled"}[headline]
        growth = ("displaced_growth_2y", "idp_growth_2y")
        return (
            *(f"{k}{suffix}" if k in growth else k for k in wl.COMPOSITE_WEIGHTS),
            "log_gdp_per_capita",
            "rule_of_law",
        )
    return (headline,)


def rise_year_frames(
    model: ScenarioModel, regions: Sequence[str], year: int, levers: Mapping[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The year's driver rows before and after the levers (index (region_id, year))."""
    rise = model.rise
    assert rise is not None
    base = model.rise_year(year)
    missing = [r for r in regions if (r, year) not in base.index]
    if missing:
        raise ScenarioNotFound(f"no watch-list score for {', '.join(missing)} in {year}")
    names = [n for n in moved_rise_features(levers) if n in base.columns]
    notes: list[str] = []
    if not names:
        return base, base, notes  # the same frame: its terms are the memoised baseline's
    scen = base.copy()
    if names:
        obs, reads = model.lever_inputs(regions)
        modified, notes = apply_levers(obs, levers, year, "rise", regions=regions, reads=reads)
        rebuilt = rebuild_rise(modified, levers, year).reindex(list(regions))
        for r in regions:
            scen.loc[(r, year), names] = rebuilt.loc[r, names].to_numpy(dtype=float)
    return base, scen, notes


def _rise_value(
    rise: RiseModel, scores: pd.Series, key: tuple[str, int], q10: float, q90: float
) -> tuple[float, float, float]:
    """Rise factor and interval of one row from the year's scores, as ``watchlist.watchlist_frame`` computes
    them (without a fitted calibration line: a tenth of the score's z within the year)."""
    cal = rise.calibration
    if cal.get("fitted"):
        fitted = cal["intercept"] + cal["slope"] * float(scores[key])
    else:
        fitted = float(wl._z_within_year(scores)[key]) * 0.1
    return float(np.exp(fitted)), float(np.exp(fitted + q10)), float(np.exp(fitted + q90))


def _rise_result(
    model: ScenarioModel,
    region: str,
    year: int,
    levers: Mapping[str, float],
    base: pd.DataFrame,
    scen: pd.DataFrame,
    notes: list[str],
) -> dict[str, Any]:
    rise = model.rise
    assert rise is not None
    t_base = model.rise_base_terms(year)
    t_scen = t_base if scen is base else _rise_terms(rise, scen)
    key = (region, year)
    s_base, s_scen = float(t_base.loc[key].sum()), float(t_scen.loc[key].sum())
    moved = [n for n in moved_rise_features(levers) if n in headline_inputs(rise.headline)]
    support = support_check(model.rise_support(), base.loc[key], scen.loc[key], moved)
    beyond = any(s["beyond"] for s in support)
    far = any(s["far"] for s in support)
    q10, q90 = rise.calibration.get("q10", 0.0), rise.calibration.get("q90", 0.0)
    widen = WIDEN_FACTOR if beyond else 1.0
    b, b_lo, b_hi = _rise_value(rise, t_base.sum(axis=1), key, q10, q90)
    s, s_lo, s_hi = _rise_value(rise, t_scen.sum(axis=1), key, q10 * widen, q90 * widen)
    rank_b = int((t_base.sum(axis=1) > s_base).sum() + 1)
    rank_s = int((t_scen.sum(axis=1) > s_scen).sum() + 1)
    # in log rise factor: fitted = intercept + slope × score, so slope × each term's change adds up to the
    # change
    slope = rise.calibration.get("slope", 0.0) if rise.calibration.get("fitted") else float("nan")
    diff = (t_scen.loc[key] - t_base.loc[key]).drop(labels=["__check__"], errors="ignore") * slope
    others = float((t_scen.loc[key].get("__check__", 0.0)) - (t_base.loc[key].get("__check__", 0.0))) * slope
    contributions = _per_lever(diff, levers, "rise")
    if others:
        contributions["other (interactions)"] += others
    return {
        "target": "rise",
        "unit": RISE_UNIT,
        "region": region,
        "year": year,
        "baseline": b,
        "baseline_lower": b_lo,
        "baseline_upper": b_hi,
        "scenario": None if far else s,
        "lower": None if far else s_lo,
        "upper": None if far else s_hi,
        "difference": None if far else s - b,
        "rank_baseline": rank_b,
        "rank_scenario": None if far else rank_s,
        "ranked": int(len(t_base)),
        "beyond_support": beyond,
        "withheld": far,
        "widened": beyond and not far,
        "support": support,
        "contributions": contributions,
        "contribution_space": (
            "log(rise factor)"
            if rise.calibration.get("fitted")
            else "not additive (no calibration line: the rise is a tenth of the score's z within the year)"
        ),
        "feature_contributions": {k: float(v) for k, v in diff.items() if abs(v) > 1e-12},
        "shap_scenario": {k: float(v) * slope for k, v in t_scen.loc[key].items() if k != "__check__"},
        "score_baseline": s_base,
        "score_scenario": s_scen,
        "headline": rise.headline,
        "inputs": {
            k: {"baseline": _num(base.loc[key].get(k)), "scenario": _num(scen.loc[key].get(k))}
            for k in moved_rise_features(levers)
            if k in base.columns
        },
        "directions": {
            k: model.detected.directions.get(k, {}).get("rise", {"verdict": "not measured"})
            for k in _active(levers)
        },
        "notes": notes,
    }


# --- a scenario
# ------------------------------------------------------------------------------------------------


def run_scenario(model: ScenarioModel, scenario: Scenario) -> dict[str, Any]:
    """Both targets for one region and year: baseline, scenario, interval, difference, contributions,
    guard."""
    started = time.perf_counter()
    levers = validate_levers(scenario.levers)
    region, year = scenario.region, int(scenario.year)
    years = model.years()
    if year not in years:
        raise ScenarioError(
            f"year {year} is outside the years both models cover ({years[0]}-{years[-1]})"
            if years
            else "no year is scored by both models"
        )
    base, scen, notes = detected_rows(model, [region], year, levers)
    data = [_detected_result(model, region, year, levers, base.iloc[0], scen.iloc[0], notes)]
    if model.rise is not None:
        try:
            b, s, n = rise_year_frames(model, [region], year, levers)
            data.append(_rise_result(model, region, year, levers, b, s, n))
        except ScenarioError as exc:
            data.append(
                {
                    "target": "rise",
                    "unit": RISE_UNIT,
                    "region": region,
                    "year": year,
                    "withheld": True,
                    "scenario": None,
                    "baseline": None,
                    "notes": [str(exc)],
                }
            )
    return {
        "data": data,
        "meta": {
            "region": region,
            "year": year,
            "levers": levers,
            "honesty": HONESTY,
            "run_id": model.detected.run_id,
            "compute_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    }


def current_levels(model: ScenarioModel, region: str, year: int) -> dict[str, float | None]:
    """Each level lever's current value for the region (what the detected model reads), in the lever's
    unit."""
    try:
        row = model.detected.panel.loc[(region, year)]
    except KeyError:
        raise ScenarioNotFound(f"no detected-victims features for {region} in {year}") from None
    return {lv.name: _current(lv, row) for lv in LEVERS}


def _current(lever: Lever, row: pd.Series) -> float | None:
    if lever.kind == "factor":
        return 1.0
    value = _num(row.get(lever.detected_features[0]))
    if value is None:
        return None
    if lever.how == "per100k":
        return float(np.expm1(value))
    if lever.how == "pct_pop":
        return float(np.expm1(value)) / 1000.0  # per 100,000 -> %
    return value


# --- portfolio
# -------------------------------------------------------------------------------------------------


def detection_gap(model: ScenarioModel, year: int, n: int = 10) -> list[str]:
    """The ``n`` regions whose watch-list percentile most exceeds their detected-victims risk score.

    A high crisis signal with few victims found is where identification capacity is most likely missing.
    """
    if model.rise is None:
        raise ScenarioError("no watch list in this run; the detection gap needs it")
    rise = model.rise.stored.xs(year, level="year")["percentile"]
    det = model.detected.stored.xs(year, level="year")["risk_score"]
    gap = (rise - det.reindex(rise.index)).dropna().sort_values(ascending=False, kind="stable")
    return [str(r) for r in gap.index[:n]]


def lever_median(model: ScenarioModel, lever: str, year: int) -> float:
    """The year's median of a level lever's current value across regions (e.g. prosecutions per 100,000)."""
    lv = LEVER_BY_NAME[lever]
    if lv.kind != "level":
        raise ScenarioError(f"lever '{lever}' is a factor; a median applies to level levers only")
    rows = model.detected.panel.xs(year, level="year")
    values = [v for v in (_current(lv, r) for _, r in rows.iterrows()) if v is not None]
    if not values:
        raise ScenarioError(f"no region has a value for '{lever}' in {year}")
    return float(np.clip(np.median(values), lv.min, lv.max))


def portfolio(
    model: ScenarioModel, regions: Sequence[str], year: int, lever: str, value: float | str
) -> dict[str, Any]:
    """One lever applied to a set of regions at once: the change in each one's estimate and ranked risk.

    ``value``: the lever's value, or "median" (level levers: raise to the year's median across regions; a
    region
    already at or beyond it, in the lever's ``better`` direction, is left as it is). Ranks are within the year
    among every region the model scores, after all the set's regions are changed together.
    """
    started = time.perf_counter()
    regions = list(dict.fromkeys(regions))
    if not regions:
        raise ScenarioError("a portfolio needs at least one region")
    if len(regions) > MAX_REGIONS:
        raise ScenarioError(f"a portfolio changes at most {MAX_REGIONS} regions, got {len(regions)}")
    level = lever_median(model, lever, year) if value == "median" else value
    levers = validate_levers({lever: level})
    det = model.detected
    panel_year = det.panel.xs(year, level="year")
    base_d, scen_d, notes = detected_rows(model, regions, year, {})
    moved = regions
    if value == "median":
        lv = LEVER_BY_NAME[lever]
        current = {r: _current(lv, base_d.loc[r]) for r in regions}
        moved = [r for r in regions if current[r] is None or (level - current[r]) * lv.better > 0]
        notes += [
            f"{r}: already at or beyond the median ({current[r]:.3g}); unchanged"
            for r in regions
            if r not in moved
        ]
    if moved:
        _, changed, said = detected_rows(model, moved, year, levers)
        scen_d.loc[moved] = changed.to_numpy()
        notes += said
    lag = det.lag_map.get(year, 1)
    h = min(lag, max(det.boosters))
    all_base, _ = _detected_margin(det, panel_year, h)
    all_scen = pd.Series(all_base, index=panel_year.index)
    m_b, _ = _detected_margin(det, base_d, h)
    m_s, _ = _detected_margin(det, scen_d, h)
    all_scen.loc[regions] = m_s
    base_rank = pd.Series(all_base, index=panel_year.index).rank(ascending=False, method="min")
    scen_rank = all_scen.rank(ascending=False, method="min")
    groups = interval_group(base_d)
    rows = []
    for i, r in enumerate(regions):
        q = float(det.halfwidths[h][groups.iloc[i]][det.level])
        rows.append(
            {
                "region": r,
                "target": "detected",
                "baseline": float(np.expm1(max(m_b[i], 0))),
                "scenario": float(np.expm1(max(m_s[i], 0))),
                "lower": float(np.expm1(max(m_s[i] - q, 0))),
                "upper": float(np.expm1(max(m_s[i], 0) + q)),
                "rank_baseline": int(base_rank[r]),
                "rank_scenario": int(scen_rank[r]),
            }
        )
    if model.rise is not None:
        try:
            scored = [r for r in moved if (r, year) in model.rise_year(year).index]
            s = model.rise_year(year)
            if scored:
                _, s, n2 = rise_year_frames(model, scored, year, levers)
                notes += n2
            tb = model.rise_base_terms(year).sum(axis=1)
            ts = tb if s is model.rise_year(year) else _rise_terms(model.rise, s).sum(axis=1)
            rb, rs = tb.rank(ascending=False, method="min"), ts.rank(ascending=False, method="min")
            q10, q90 = model.rise.calibration.get("q10", 0.0), model.rise.calibration.get("q90", 0.0)
            for r in [r for r in regions if (r, year) in tb.index]:
                vb = _rise_value(model.rise, tb, (r, year), q10, q90)
                vs = _rise_value(model.rise, ts, (r, year), q10, q90)
                rows.append(
                    {
                        "region": r,
                        "target": "rise",
                        "baseline": vb[0],
                        "scenario": vs[0],
                        "lower": vs[1],
                        "upper": vs[2],
                        "rank_baseline": int(rb[(r, year)]),
                        "rank_scenario": int(rs[(r, year)]),
                    }
                )
        except ScenarioError as exc:
            notes.append(str(exc))
    return {
        "data": rows,
        "meta": {
            "year": year,
            "lever": lever,
            "value": level,
            "regions": regions,
            "moved": moved,
            "honesty": HONESTY,
            "notes": sorted(set(notes)),
            "compute_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    }


# --- lever directions in the backtest
# --------------------------------------------------------------------------


def probe_rows(
    obs: pd.DataFrame, panel: pd.DataFrame, year: int, lag: int = 1
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """For each lever, the panel rows of ``year`` with the lever at its two probe values (all regions at
    once)."""
    base = panel.xs(year, level="year", drop_level=False)
    regions = sorted(base.index.get_level_values("region_id"))
    out = {}
    for lever in LEVERS:
        pair = []
        for value in lever.probe:
            levers = {lever.name: value}
            modified, _ = apply_levers(obs, levers, year, "detected", lag, regions)
            names = moved_detected_features(levers)
            rebuilt = rebuild_detected(modified, names, year, lag)
            rows = base.copy()
            rows[names] = rebuilt.reindex(base.index.get_level_values("region_id"))[names].to_numpy()
            pair.append(rows)
        out[lever.name] = (pair[0], pair[1])
    return out


def direction_verdict(effects: Sequence[float]) -> dict[str, Any]:
    """Supported when at least DIRECTION_AGREEMENT of the origins share the sign; no effect when every
    origin's
    effect is below DIRECTION_MIN_EFFECT."""
    e = np.asarray(effects, dtype=float)
    if len(e) == 0:
        return {"verdict": "not measured", "origins": 0}
    if np.all(np.abs(e) < DIRECTION_MIN_EFFECT):
        return {
            "verdict": "no effect",
            "origins": len(e),
            "mean_effect": float(e.mean()),
            "effects": e.tolist(),
        }
    sign = 1.0 if (e > 0).sum() >= (e < 0).sum() else -1.0
    share = float(np.mean(np.sign(e) == sign))
    verdict = "supported" if share >= DIRECTION_AGREEMENT else "uncertain"
    return {
        "verdict": verdict,
        "direction": "up" if sign > 0 else "down",
        "agreement": share,
        "origins": len(e),
        "mean_effect": float(e.mean()),
        "effects": [round(float(x), 5) for x in e],
    }


def rise_direction(per_year: Sequence[Mapping[str, Any]], weight_sign: float = 1.0) -> dict[str, Any]:
    """A watch-list driver's direction from its per-year rank correlation with the realised change.

    The composite's weights are fixed, not fitted, so what the backtest can support is the association:
    supported
    when the driver's Spearman has the composite's sign in at least RISE_AGREEMENT of the origin years and on
    average; uncertain otherwise.
    """
    rhos = [float(r["spearman"]) for r in per_year if r.get("spearman") is not None]
    if not rhos:
        return {"verdict": "not measured", "origins": 0}
    agree = float(np.mean(np.sign(rhos) == weight_sign))
    verdict = "supported" if agree >= RISE_AGREEMENT and np.mean(rhos) * weight_sign > 0 else "uncertain"
    return {
        "verdict": verdict,
        "direction": "up" if weight_sign > 0 else "down",
        "agreement": agree,
        "origins": len(rhos),
        "mean_spearman": float(np.mean(rhos)),
        "spearman": [round(r, 4) for r in rhos],
    }


RISE_AGREEMENT = 2 / 3


def detected_directions(
    obs: pd.DataFrame,
    config: Mapping[str, Any],
    xgb_variant: str,
    weight: float,
    origins: Sequence[int],
    horizon: int = 1,
) -> dict[str, dict[str, Any]]:
    """The sign of each lever's effect on detected victims, refitted at every backtest origin.

    For origin Y the deployed XGBoost variant is fitted on label years <= Y of the horizon's panel (as the
    backtest
    does) and each lever is moved between its two probe values for every country of year Y + horizon; the
    effect
    is the mean change of the ensemble's margin (weight × XGBoost; the label-history partner does not move).
    """
    from models.evaluate import FitContext, candidates
    from models.features import build_panel

    started = time.perf_counter()
    cf = float(config["label"]["censored_fraction"])
    years = sorted({y + horizon for y in origins})
    panel = build_panel(obs, list(range(min(years) - 1, max(years) + 1)), cf, horizon)
    fitter = {c.name: c for c in candidates(dict(config))}[xgb_variant]
    probes = {y: probe_rows(obs, panel, y, horizon) for y in years}
    effects: dict[str, list[float]] = {lv.name: [] for lv in LEVERS}
    labelled = panel[panel["label"].notna()]
    for origin in origins:
        train = labelled[labelled.index.get_level_values("year") <= origin]
        predictor = fitter.fit(train, FitContext(origin=origin, horizon=horizon))
        for name, (low, high) in probes[origin + horizon].items():
            effects[name].append(float(weight * np.mean(predictor(high) - predictor(low))))
    out = {name: direction_verdict(e) for name, e in effects.items()}
    log.info("lever directions measured on %d origins in %.1f s", len(origins), time.perf_counter() - started)
    return out


RISE_DIRECTION_DRIVERS = {
    "displaced_abroad": "displaced_growth_2y",
    "idps": "idp_growth_2y",
    "conflict_deaths": "conflict_intensity",
    "disaster_affected": "disaster_affected",
}


def rise_directions(rise: RiseModel) -> dict[str, dict[str, Any]]:
    """Per lever: the watch-list direction verdict (levers the headline does not read: no effect)."""
    out = {}
    for lever in LEVERS:
        driver = RISE_DIRECTION_DRIVERS.get(lever.name)
        if lever.name == "rule_of_law" and rise.headline != "xgboost":
            out[lever.name] = {
                "verdict": "uncertain",
                "rule": (
                    "rule of law enters the composite only as a "
                    "modifier that amplifies the crisis score's sign, so its direction depends on it"
                ),
            }
        elif driver is None:
            out[lever.name] = {"verdict": "no effect", "rule": "the watch list does not read this input"}
        else:
            out[lever.name] = rise_direction(rise.per_year.get(driver, []))
    return out
