"""Pure feature building: warehouse observations -> a country × year panel.

The rule that keeps the backtest honest: every feature for year ``t`` uses only observations dated
``t - 1`` or earlier (publication lag). Slow-moving indices are carried forward from their last
observed year for a bounded number of years; the lag is still at least one year.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

LABEL_INDICATOR = "trafficking.victims_detected"
POPULATION = "structural.population"
ROW_FEATURE = "log_population"  # a panel row exists where this feature (population of t - 1) does


@dataclass(frozen=True)
class Family:
    """A feature (and indicator) family as every view shows it: one label and one colour."""

    name: str
    label: str
    colour: str  # Okabe-Ito (colour-blind safe)


# The one list of families: features, warehouse indicators (etl source catalogues) and SHAP explanations use
# these
# names; dashboard/figures.py takes colours and labels from here. tests/models/test_features.py fails on a
# family
# missing from it.
FAMILIES: tuple[Family, ...] = (
    Family("displacement", "Displacement", "#E69F00"),
    Family("conflict", "Conflict", "#D55E00"),
    Family("trafficking", "Trafficking", "#CC79A7"),
    Family("detection", "Detection", "#0072B2"),
    Family("structural", "Structural", "#009E73"),
    Family("response", "Response", "#56B4E9"),
    Family("hazard", "Hazard", "#F0E442"),
    Family("bias", "Base value", "#666666"),  # the SHAP base value (models/pipeline.py), not a feature family
)
FAMILY_BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}


@dataclass(frozen=True)
class FeatureSpec:
    """One model feature: how it is computed from indicators, and its family."""

    name: str
    family: str
    indicators: tuple[str, ...]
    kind: str = "rate"  # a key of FEATURE_KINDS (below): how the indicator values become the feature
    carry_years: int = 0  # how many extra years a value may be carried forward
    fill_zero: bool = False  # absent = 0 (complete panels, event counts)
    description: str = ""


FEATURES: tuple[FeatureSpec, ...] = (
    # displacement
    FeatureSpec(
        "refugees_origin_per100k",
        "displacement",
        ("displacement.refugees_by_origin",),
        carry_years=1,
        description="Refugees originating from the country per 100k residents (UNHCR), log1p",
    ),
    FeatureSpec(
        "asylum_seekers_origin_per100k",
        "displacement",
        ("displacement.asylum_seekers_by_origin",),
        carry_years=1,
        description="Asylum-seekers originating per 100k, log1p",
    ),
    FeatureSpec(
        "refugees_hosted_per100k",
        "displacement",
        ("displacement.refugees_hosted",),
        carry_years=1,
        description="Refugees hosted per 100k residents, log1p",
    ),
    FeatureSpec(
        "idps_per100k",
        "displacement",
        ("displacement.idmc_conflict_idps", "displacement.conflict_idps_stock", "displacement.idps_unhcr"),
        carry_years=1,
        description="Conflict IDPs per 100k (IDMC, else UNHCR), log1p",
    ),
    FeatureSpec(
        "new_conflict_displacements_per100k",
        "displacement",
        ("displacement.conflict_new_displacements",),
        description="New conflict displacements in the year per 100k (IDMC), log1p",
    ),
    FeatureSpec(
        "new_disaster_displacements_per100k",
        "displacement",
        ("displacement.disaster_new_displacements",),
        description="New disaster displacements per 100k (IDMC), log1p",
    ),
    FeatureSpec(
        "refugees_origin_change",
        "displacement",
        ("displacement.refugees_by_origin",),
        kind="change",
        description="Change in log1p refugees originating, last year vs the year before",
    ),
    # conflict
    FeatureSpec(
        "conflict_deaths_per100k",
        "conflict",
        ("conflict.deaths_organised_violence",),
        fill_zero=True,
        description="Deaths in organised violence per 100k (UCDP via OWID), log1p",
    ),
    FeatureSpec(
        "conflict_deaths_3y_per100k",
        "conflict",
        ("conflict.deaths_organised_violence",),
        kind="sum3_rate",
        fill_zero=True,
        description="Deaths in organised violence over the last 3 years per 100k, log1p",
    ),
    FeatureSpec(
        "battle_deaths_per100k",
        "conflict",
        ("conflict.battle_deaths",),
        fill_zero=True,
        description="Battle-related deaths per 100k (UCDP BRD), log1p",
    ),
    FeatureSpec(
        "armed_conflicts",
        "conflict",
        ("conflict.armed_conflicts",),
        kind="level",
        fill_zero=True,
        description="Active state-based armed conflicts located in the country (UCDP/PRIO)",
    ),
    FeatureSpec(
        "years_since_conflict_onset",
        "conflict",
        ("conflict.armed_conflicts",),
        kind="onset",
        description="Years since the current spell of armed conflict began (0 = none active)",
    ),
    # trafficking and detection
    FeatureSpec(
        "past_victims_per100k",
        "trafficking",
        (LABEL_INDICATOR,),
        kind="history",
        carry_years=10,
        description=(
            "Detected victims per 100k in the latest earlier year (UNODC GLOTIP, up to 10 years old), log1p"
        ),
    ),
    FeatureSpec(
        "years_since_victims_report",
        "trafficking",
        (LABEL_INDICATOR,),
        kind="since",
        description="Years since the latest earlier UNODC detected-victims report (missing if none)",
    ),
    FeatureSpec(
        "past_victims_mean3_per100k",
        "trafficking",
        (LABEL_INDICATOR,),
        kind="history",
        description=(
            "Mean detected victims per 100k (log1p) over the 3 years ending at the latest earlier report"
        ),
    ),
    FeatureSpec(
        "past_victims_shrunk_per100k",
        "trafficking",
        (LABEL_INDICATOR,),
        kind="history",
        description=(
            "Latest earlier report shrunk toward the country's own 10-year mean; small counts "
            "(tiny populations, '<5') shrink most"
        ),
    ),
    FeatureSpec(
        "past_reports_10y",
        "trafficking",
        (LABEL_INDICATOR,),
        kind="history",
        description="Number of detected-victims reports in the 10 years up to the latest earlier report",
    ),
    FeatureSpec(
        "past_label_censored",
        "trafficking",
        (LABEL_INDICATOR,),
        kind="history",
        description="The latest earlier report was censored ('<5')",
    ),
    FeatureSpec(
        "prosecutions_per100k",
        "detection",
        ("detection.persons_prosecuted",),
        carry_years=2,
        description="Persons prosecuted for trafficking per 100k, log1p",
    ),
    FeatureSpec(
        "convictions_per100k",
        "detection",
        ("detection.persons_convicted",),
        carry_years=2,
        description="Persons convicted of trafficking per 100k, log1p",
    ),
    FeatureSpec(
        "tip_tier",
        "detection",
        ("detection.tip_tier",),
        kind="level",
        carry_years=10,
        description="US TIP report tier (1 best, 3 worst)",
    ),
    FeatureSpec(
        "policy_3p",
        "detection",
        ("detection.policy_3p",),
        kind="level",
        carry_years=12,
        description="3P anti-trafficking policy index (3-15)",
    ),
    FeatureSpec(
        "gsi_vulnerability",
        "trafficking",
        ("structural.gsi2016_vulnerability",),
        kind="level",
        carry_years=10,
        description="Global Slavery Index 2016 vulnerability (0-100), from 2017 on",
    ),
    # structural
    FeatureSpec(
        "log_population",
        "structural",
        (POPULATION,),
        kind="log",
        carry_years=1,
        description="log of population (World Bank)",
    ),
    FeatureSpec(
        "log_gdp_per_capita",
        "structural",
        ("structural.gdp_current_usd",),
        kind="per_capita_log",
        carry_years=1,
        description="log GDP per capita, current US$ (World Bank)",
    ),
    FeatureSpec(
        "wgi_rule_of_law",
        "structural",
        ("structural.wgi_rl",),
        kind="level",
        carry_years=2,
        description="WGI rule of law estimate",
    ),
    FeatureSpec(
        "wgi_government_effectiveness",
        "structural",
        ("structural.wgi_ge",),
        kind="level",
        carry_years=2,
        description="WGI government effectiveness estimate",
    ),
    FeatureSpec(
        "wgi_control_of_corruption",
        "structural",
        ("structural.wgi_cc",),
        kind="level",
        carry_years=2,
        description="WGI control of corruption estimate",
    ),
    FeatureSpec(
        "wgi_political_stability",
        "structural",
        ("structural.wgi_pv",),
        kind="level",
        carry_years=2,
        description="WGI political stability and absence of violence estimate",
    ),
    FeatureSpec(
        "wgi_voice_accountability",
        "structural",
        ("structural.wgi_va",),
        kind="level",
        carry_years=2,
        description="WGI voice and accountability estimate",
    ),
    # response
    FeatureSpec(
        "humanitarian_funding_per_capita",
        "response",
        ("response.fts_funding_usd",),
        kind="per_capita_log1p",
        description="Humanitarian funding received per person (OCHA FTS), log1p US$",
    ),
    FeatureSpec(
        "humanitarian_coverage_pct",
        "response",
        ("response.fts_coverage_pct",),
        kind="level",
        description="Share of humanitarian requirements funded (OCHA FTS), %",
    ),
    # hazard
    FeatureSpec(
        "disaster_deaths_per100k",
        "hazard",
        ("hazard.disaster_deaths",),
        fill_zero=True,
        description="Disaster deaths per 100k (EM-DAT), log1p",
    ),
    FeatureSpec(
        "disaster_affected_per100k",
        "hazard",
        ("hazard.disaster_affected",),
        fill_zero=True,
        description="People affected by disasters per 100k (EM-DAT), log1p",
    ),
)

PAST_VICTIM_FEATURES = (
    "past_victims_per100k",
    "years_since_victims_report",
    "past_victims_mean3_per100k",
    "past_victims_shrunk_per100k",
    "past_reports_10y",
    "past_label_censored",
)
CONFLICT_DISPLACEMENT_FAMILIES = ("conflict", "displacement")
FILL_ZERO_COVERAGE = {"hazard.disaster_deaths": 2020, "hazard.disaster_affected": 2020}
# Every indicator from the label's own source (UNODC GLOTIP): masked after the origin in the backtest.
LABEL_SOURCE_PREFIXES = (
    "trafficking.victims_detected",
    "detection.persons_prosecuted",
    "detection.persons_convicted",
)
# Conflict and displacement values may be carried this many years past the end of their source's coverage
# (UCDP ends a year or two before the predicted year), so a missing value never stands for "no conflict".
STALE_CARRY_YEARS = 2
HISTORY_WINDOW = 10  # label reports older than this many years are not used
SHRINK_COUNT = 10.0  # victims: weight of the latest report = count / (count + SHRINK_COUNT)
EB_HALF_LIFE = 3.0  # years: weight of a report in the partially pooled mean halves every EB_HALF_LIFE years
EB_MIN_WITHIN = 0.01  # floor of the pooled year-to-year variance (log1p scale)
EB_MIN_TAU2 = 0.05  # floor of the between-country variance
TREND_WINDOW = 5  # years up to the cutoff whose reports set the label-history trend
TREND_MIN_REPORTS = 3  # fewer reports in the window: no trend (0 in the damped-trend baseline)


def is_label_derived(indicator: str) -> bool:
    """True for indicators published with the label (same source): they must be masked after an origin."""
    return indicator.startswith(LABEL_SOURCE_PREFIXES)


def label_derived_features() -> list[str]:
    """Names of the features computed from label-source indicators."""
    return [f.name for f in FEATURES if any(is_label_derived(i) for i in f.indicators)]


def feature_names(include_past_victims: bool = True, families: tuple[str, ...] | None = None) -> list[str]:
    return [
        f.name
        for f in FEATURES
        if (include_past_victims or f.name not in PAST_VICTIM_FEATURES)
        and (families is None or f.family in families)
    ]


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


def _lagged(
    wide: pd.DataFrame,
    years: list[int],
    carry: int,
    fill_zero: bool,
    coverage_end: int | None,
    stale_carry: int = 0,
) -> pd.DataFrame:
    """For each target year t: the value at t-1, or carried from up to t-1-carry.

    ``stale_carry``: years after the end of the source's coverage (its last year in the data) that the last
    value may be carried, so a source that stops early reads as "same as last known", not as missing.
    """
    if wide.empty:
        return pd.DataFrame(index=pd.Index([], name="region_id"), columns=years, dtype=float)
    all_years = list(
        range(min(min(wide.columns), min(years) - 1 - carry), max(max(years), max(wide.columns)) + 1)
    )
    full = wide.reindex(columns=all_years)
    last = coverage_end if coverage_end is not None else max(wide.columns)
    if fill_zero:
        first = min(wide.columns)
        cols = [y for y in all_years if first <= y <= last]
        full[cols] = full[cols].fillna(0.0)
    carried = full.ffill(axis=1, limit=carry) if carry else full
    if stale_carry:
        stale = [y for y in all_years if last < y <= last + stale_carry]
        if stale and last in carried.columns:
            tail = carried.loc[:, [last, *stale]].ffill(axis=1, limit=stale_carry)
            carried.loc[:, stale] = tail.loc[:, stale]
    # positional, so a list with repeated years (a per-year label lag) keeps one column per entry
    out = pd.concat(
        [
            carried[t - 1] if (t - 1) in carried.columns else pd.Series(np.nan, index=carried.index)
            for t in years
        ],
        axis=1,
    )
    out.columns = years
    return out


def build_panel(
    obs: pd.DataFrame,
    years: list[int] | None = None,
    censored_fraction: float = 0.5,
    label_lag: int | Mapping[int, int] = 1,
) -> pd.DataFrame:
    """Country × year panel: features (from years < t), label (year t), and bookkeeping columns.

    ``obs`` holds level-0 yearly observations with columns region_id, year, indicator, value, censored.
    Label: log1p(detected victims per 100k). A censored '<N' count becomes N × censored_fraction, and the
    interval bounds ``label_lower``/``label_upper`` hold 1 and N - 1 victims.

    ``label_lag`` = h: every input from the label's source (victims, prosecutions, convictions) for year t is
    dated t - h or earlier, as when predicting h years past the newest label (horizon-matched panel); other
    inputs keep the one-year publication lag. A mapping year -> h sets it per target year (deployment: the
    years after the newest label are as of that label).
    """
    obs = obs[obs["indicator"].isin(needed_indicators())]
    if years is None:
        years = list(range(int(obs["year"].min()) + 1, int(obs["year"].max()) + 2))
    lags = {
        y: max(int(label_lag.get(y, 1) if isinstance(label_lag, Mapping) else label_lag), 1) for y in years
    }
    shifted = [y - (lags[y] - 1) for y in years]
    pop = _wide(obs, (POPULATION,))
    pop_lag = _lagged(pop, years, 1, False, None)
    frames: dict[str, pd.DataFrame] = {}
    for spec in FEATURES:
        frame = feature_frame(spec, obs, years, shifted, pop_lag)
        if frame is not None:
            frames[spec.name] = frame
    counts = _label_counts(obs, censored_fraction)
    cens_wide = _censored_flags(obs)
    rates = np.log1p(counts / pop.reindex_like(counts) * 1e5) if not counts.empty else counts
    history = _label_history(rates, counts, cens_wide, years, lags)
    frames.update(history)
    bookkeeping = [c for c in history if c not in {f.name for f in FEATURES}]
    panel = _stacked(frames, [f.name for f in FEATURES] + bookkeeping)
    # a row exists where the country has a population for t-1 (the denominator of every rate)
    panel = panel[panel[ROW_FEATURE].notna()]
    panel = _with_label(panel, obs, pop, counts, cens_wide)
    return _with_bookkeeping(panel, obs, years).sort_index()


def _stacked(frames: Mapping[str, pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The region × year frames as one (region_id, year)-indexed panel with ``columns`` in that order."""
    long = []
    for name, frame in frames.items():
        if frame.empty:
            continue
        st = frame.stack(future_stack=True)
        st.index.names = ["region_id", "year"]
        long.append(st.rename(name))
    panel = pd.concat(long, axis=1) if long else pd.DataFrame()
    return panel.reindex(columns=columns).replace([np.inf, -np.inf], np.nan)


def _long(wide: pd.DataFrame, name: str) -> pd.Series:
    st = wide.stack().rename(name)
    st.index.names = ["region_id", "year"]
    return st


def _with_label(
    panel: pd.DataFrame, obs: pd.DataFrame, pop: pd.DataFrame, counts: pd.DataFrame, cens_wide: pd.DataFrame
) -> pd.DataFrame:
    """The label of year t (log1p victims per 100k), its censoring flag and interval bounds."""
    panel = (
        panel.join(_long(counts, "victims"), how="left")
        .join(_long(pop, "population"), how="left")
        .join(_long(cens_wide, "label_censored"), how="left")
    )
    panel["label_per_100k"] = panel["victims"] / panel["population"] * 1e5
    panel["label"] = np.log1p(panel["label_per_100k"])
    panel["label_censored"] = panel["label_censored"].astype("boolean").fillna(False).astype(bool)
    # '<N' is the interval [1, N - 1] victims; plain counts are their own bounds
    raw = _label_counts(obs, 1.0).stack().reindex(panel.index)
    low_count = np.where(panel["label_censored"], 1.0, panel["victims"])
    high_count = np.where(panel["label_censored"], np.maximum(raw - 1.0, 1.0), panel["victims"])
    panel["label_lower"] = np.log1p(low_count / panel["population"] * 1e5)
    panel["label_upper"] = np.log1p(high_count / panel["population"] * 1e5)
    return panel


def _with_bookkeeping(panel: pd.DataFrame, obs: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Input ages, the pooled prior for every row, and the first-time / censored-history flags."""
    panel["conflict_year"] = _input_year(obs, CONFLICT_DISPLACEMENT_FAMILIES[0], years).reindex(panel.index)
    panel["displacement_year"] = _input_year(obs, CONFLICT_DISPLACEMENT_FAMILIES[1], years).reindex(
        panel.index
    )
    # the pooled prior is one value per year; countries that never reported get it too (weight 0 on no
    # history)
    panel["hist_eb_prior"] = panel.groupby(level="year")["hist_eb_prior"].transform("max")
    panel["hist_eb_weight"] = panel["hist_eb_weight"].fillna(0.0)
    panel["first_time"] = panel["past_victims_per100k"].isna()
    panel["history_censored"] = panel["past_label_censored"].fillna(0).astype(bool)
    return panel


@dataclass(frozen=True)
class _KindInputs:
    """What a kind's function reads for one feature: its indicator matrix and the panel's years and rules."""

    spec: FeatureSpec
    wide: pd.DataFrame  # region × year values of the feature's indicators (first available code)
    years: list[int]  # target years
    at: list[int]  # input year + 1 per target year (shifted for the label's own source)
    pop_lag: pd.DataFrame  # population of t - 1 by target year
    coverage_end: int | None  # last covered year of an event count (absent = 0 up to it)
    stale: int  # years a conflict or displacement value may be carried past its source's end

    def value(self) -> pd.DataFrame:
        """The raw value each target year reads: t - 1 (or its label-source shift), carried as the spec
        says."""
        spec = self.spec
        return _lagged(
            self.wide, self.at, spec.carry_years, spec.fill_zero, self.coverage_end, self.stale
        ).set_axis(self.years, axis=1)

    def per_capita(self) -> pd.DataFrame:
        vals = self.value()
        return vals / self.pop_lag.reindex_like(vals)


def _kind_rate(x: _KindInputs) -> pd.DataFrame:
    """log1p of the value per 100,000 residents of t - 1."""
    return np.log1p(x.per_capita() * 1e5)


def _kind_level(x: _KindInputs) -> pd.DataFrame:
    """The value itself (indices, tiers, counts)."""
    return x.value()


def _kind_log(x: _KindInputs) -> pd.DataFrame:
    """log of a positive value (population); zero or negative is missing."""
    vals = x.value()
    return np.log(vals.where(vals > 0))


def _kind_per_capita_log(x: _KindInputs) -> pd.DataFrame:
    """log of the value per resident (GDP per capita: never zero)."""
    return np.log(x.per_capita())


def _kind_per_capita_log1p(x: _KindInputs) -> pd.DataFrame:
    """log1p of the value per resident (funding per person: often zero)."""
    return np.log1p(x.per_capita())


def _kind_sum3_rate(x: _KindInputs) -> pd.DataFrame:
    """log1p of the last three input years' sum per 100,000 residents of t - 1."""
    spec = x.spec
    vals = sum(
        _lagged(x.wide, [y - k for y in x.years], 0, spec.fill_zero, x.coverage_end, x.stale).set_axis(
            x.years, axis=1
        )
        for k in range(3)
    )
    return np.log1p(vals / x.pop_lag.reindex_like(vals) * 1e5)


def _kind_change(x: _KindInputs) -> pd.DataFrame:
    """log1p of the value at t - 1 minus log1p of the value at t - 2 (no carrying)."""
    now = _lagged(x.wide, x.years, 0, False, None, x.stale)
    before = _lagged(x.wide, [y - 1 for y in x.years], 0, False, None, x.stale).set_axis(x.years, axis=1)
    return np.log1p(now) - np.log1p(before.reindex_like(now))


def _kind_onset(x: _KindInputs) -> pd.DataFrame:
    """Years since the current spell of a positive value began (conflict onset)."""
    return _onset(x.wide, x.years, x.stale)


KindFunction = Callable[[_KindInputs], pd.DataFrame]
# kind -> how a feature is computed; None: built with the label history by _label_history (from the label's
# own
# reports, with its interval and lag rules). A new kind is one function and one entry here.
FEATURE_KINDS: dict[str, KindFunction | None] = {
    "rate": _kind_rate,
    "level": _kind_level,
    "log": _kind_log,
    "per_capita_log": _kind_per_capita_log,
    "per_capita_log1p": _kind_per_capita_log1p,
    "sum3_rate": _kind_sum3_rate,
    "change": _kind_change,
    "onset": _kind_onset,
    "history": None,
    "since": None,
}
# kinds whose feature is a function of one carried input value per region (what a what-if lever can rewrite)
VALUE_KINDS = ("rate", "level", "log", "per_capita_log", "per_capita_log1p")


def feature_frame(
    spec: FeatureSpec, obs: pd.DataFrame, years: list[int], shifted: list[int], pop_lag: pd.DataFrame
) -> pd.DataFrame | None:
    """One feature outside the label-history block as a region × year frame (None for that block).

    ``shifted``: the input year + 1 of each target year for label-source inputs (t - lag + 1); ``pop_lag``:
    the
    population of t - 1 by target year. Split out of ``build_panel`` so the what-if engine
    (models/scenarios.py)
    rebuilds only the features a lever moves with exactly the code that built them.
    """
    compute = FEATURE_KINDS[spec.kind]
    if compute is None:
        return None  # the label history block of build_panel
    label_source = any(is_label_derived(i) for i in spec.indicators)
    return compute(
        _KindInputs(
            spec=spec,
            wide=_wide(obs, spec.indicators),
            years=years,
            at=shifted if label_source else years,
            pop_lag=pop_lag,
            coverage_end=max(FILL_ZERO_COVERAGE.get(i, 0) for i in spec.indicators) or None,
            stale=STALE_CARRY_YEARS if spec.family in CONFLICT_DISPLACEMENT_FAMILIES else 0,
        )
    )


def _label_history(
    rates: pd.DataFrame,
    counts: pd.DataFrame,
    censored: pd.DataFrame,
    years: list[int],
    lags: Mapping[int, int],
) -> dict[str, pd.DataFrame]:
    """Label-history features and baselines for each target year t, from label years <= t - lag.

    The latest report L must be at most HISTORY_WINDOW + 1 years before t; windows are anchored at L, so the
    features of a country with no report in (t - h, t - 1] are the same at every lag h <= t - L.
    ``hist_mean3_origin`` (the 3-year-mean baseline) is the mean of labels in [t - lag - 2, t - lag].
    """
    names = [
        "past_victims_per100k",
        "years_since_victims_report",
        "past_victims_mean3_per100k",
        "past_victims_shrunk_per100k",
        "past_reports_10y",
        "past_label_censored",
        "label_year",
        "hist_mean3_origin",
        "hist_eb_mean",
        "hist_eb_prior",
        "hist_eb_weight",
        "hist_trend",
    ]
    if rates.empty:
        return {n: pd.DataFrame(columns=years, dtype=float) for n in names}
    cols = np.array(rates.columns, dtype=int)
    R = rates.to_numpy(dtype=float)
    C = counts.reindex_like(rates).to_numpy(dtype=float)
    Z = censored.reindex_like(rates).astype("boolean").fillna(False).to_numpy(dtype=bool)
    seen = ~np.isnan(R)
    X = np.expm1(np.nan_to_num(R))
    # sampling variance of a log1p rate from a Poisson count n: (rate / (1 + rate))^2 / n (delta method)
    S = (X / (1 + X)) ** 2 / np.maximum(np.nan_to_num(C), 1.0)
    out: dict[str, dict[int, np.ndarray]] = {n: {} for n in names}
    rows = np.arange(len(R))
    for t in years:
        cutoff = t - lags[t]
        ok = seen & (cols[None, :] <= cutoff) & (cols[None, :] >= t - HISTORY_WINDOW - 1)
        has = ok.any(axis=1)
        last_idx = np.where(has, ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1), 0)
        L = np.where(has, cols[last_idx], np.nan)
        last = np.where(has, R[rows, last_idx], np.nan)
        in3 = ok & (cols[None, :] >= (L - 2)[:, None])
        in10 = ok & (cols[None, :] >= (L - HISTORY_WINDOW + 1)[:, None])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean3 = np.where(in3, R, 0).sum(axis=1) / in3.sum(axis=1)
            mean10 = np.where(in10, R, 0).sum(axis=1) / in10.sum(axis=1)
            w = C[rows, last_idx] / (C[rows, last_idx] + SHRINK_COUNT)
            origin3 = seen & (cols[None, :] <= cutoff) & (cols[None, :] >= cutoff - 2)
            mean_origin = np.where(origin3, R, 0).sum(axis=1) / origin3.sum(axis=1)
        out["past_victims_per100k"][t] = last
        out["years_since_victims_report"][t] = t - L
        out["past_victims_mean3_per100k"][t] = np.where(has, mean3, np.nan)
        out["past_victims_shrunk_per100k"][t] = np.where(has, w * last + (1 - w) * mean10, np.nan)
        out["past_reports_10y"][t] = np.where(has, in10.sum(axis=1), np.nan)
        out["past_label_censored"][t] = np.where(has, Z[rows, last_idx].astype(float), np.nan)
        out["label_year"][t] = L
        out["hist_mean3_origin"][t] = np.where(origin3.any(axis=1), mean_origin, np.nan)
        eb, prior, weight = _partial_pooling(np.nan_to_num(R), S, ok, cols, cutoff)
        out["hist_eb_mean"][t], out["hist_eb_prior"][t], out["hist_eb_weight"][t] = eb, prior, weight
        out["hist_trend"][t] = _trend(R, ok & (cols[None, :] > cutoff - TREND_WINDOW), cols)
    return {n: pd.DataFrame(v, index=rates.index) for n, v in out.items()}


def _trend(R: np.ndarray, ok: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Least-squares slope per year of each country's log1p rates over its reports ``ok`` (NaN with fewer than
    TREND_MIN_REPORTS): the drift a recency-weighted mean lags when detections keep rising or falling."""
    n = ok.sum(axis=1)
    x = np.where(ok, cols[None, :].astype(float), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_mean = x.sum(axis=1) / n
        y_mean = np.where(ok, R, 0.0).sum(axis=1) / n
        dx = np.where(ok, cols[None, :] - x_mean[:, None], 0.0)
        sxx = (dx**2).sum(axis=1)
        sxy = (dx * np.where(ok, R - y_mean[:, None], 0.0)).sum(axis=1)
        return np.where((n >= TREND_MIN_REPORTS) & (sxx > 0), sxy / sxx, np.nan)


def _partial_pooling(
    R: np.ndarray, S: np.ndarray, ok: np.ndarray, cols: np.ndarray, cutoff: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical-Bayes mean of each country's reports (``ok``), shrunk toward the mean of all countries.

    A country's recency-weighted mean m (half-life EB_HALF_LIFE) has noise sigma² = (within-country
    year-to-year
    variance + Poisson sampling variance of its counts) / effective number of reports; it is pulled toward the
    all-country mean mu with weight tau² / (tau² + sigma²), tau² the between-country variance net of noise.
    Few,
    small or '<5' reports shrink most, so a micro-territory's one report of 3 victims does not set its level.
    Countries without a report get the prior mu (a typical country), never 0. Returns (mean, prior, weight).
    """
    has = ok.any(axis=1)
    n_rows = len(R)
    if not has.any():
        return np.full(n_rows, np.nan), np.full(n_rows, np.nan), np.zeros(n_rows)
    w = np.where(ok, 0.5 ** ((cutoff - cols[None, :]) / EB_HALF_LIFE), 0.0)
    k = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = (R * w).sum(axis=1) / w.sum(axis=1)
        dev2 = np.where(ok, (R - m[:, None]) ** 2, 0.0).sum(axis=1)
        s_mean = np.where(ok, S, 0.0).sum(axis=1) / k
        multi = k >= 2
        within = float(np.mean(dev2[multi] / (k[multi] - 1) - s_mean[multi])) if multi.any() else 0.1
        within = max(within, EB_MIN_WITHIN)
        k_eff = w.sum(axis=1) ** 2 / (w**2).sum(axis=1)
        sigma2 = (within + s_mean) / k_eff
        mu = float(np.mean(m[has]))
        tau2 = max(float(np.var(m[has]) - np.mean(sigma2[has])), EB_MIN_TAU2)
        weight = tau2 / (tau2 + sigma2)
    return (np.where(has, mu + weight * (m - mu), np.nan), np.full(n_rows, mu), np.where(has, weight, 0.0))


def _input_year(obs: pd.DataFrame, family: str, years: list[int]) -> pd.Series:
    """Newest year <= t - 1 of any input of ``family`` for each country and target year (the input's age)."""
    codes = {i for f in FEATURES if f.family == family for i in f.indicators}
    sub = obs[obs["indicator"].isin(codes)]
    if sub.empty:
        return pd.Series(dtype=float)
    present = sub.groupby(["region_id", "year"]).size().unstack().notna()
    if any(f.fill_zero for f in FEATURES if f.family == family):
        # event counts: a covered year with no event is a known zero for every country
        covered = [y for y in present.columns if y <= int(sub["year"].max())]
        present.loc[:, covered] = True
    cols = np.array(present.columns, dtype=float)
    out = {}
    for t in years:
        mask = present.to_numpy() & (cols[None, :] <= t - 1)
        out[t] = np.where(mask.any(axis=1), np.where(mask, cols[None, :], -np.inf).max(axis=1), np.nan)
    st = pd.DataFrame(out, index=present.index).stack(future_stack=True)
    st.index.names = ["region_id", "year"]
    return st


def _label_counts(obs: pd.DataFrame, censored_fraction: float) -> pd.DataFrame:
    sub = obs[obs["indicator"] == LABEL_INDICATOR].copy()
    sub["value"] = np.where(sub["censored"].astype(bool), sub["value"] * censored_fraction, sub["value"])
    return sub.pivot(index="region_id", columns="year", values="value").sort_index(axis=1)


def _censored_flags(obs: pd.DataFrame) -> pd.DataFrame:
    sub = obs[obs["indicator"] == LABEL_INDICATOR]
    return sub.pivot(index="region_id", columns="year", values="censored").sort_index(axis=1)


def _onset(wide: pd.DataFrame, years: list[int], stale_carry: int = 0) -> pd.DataFrame:
    """Years since the current conflict spell began, as of t-1 (0 when no conflict in t-1).

    Past the end of the data (up to ``stale_carry`` years) a spell active in the last year is assumed to go
    on.
    """
    if wide.empty:
        return pd.DataFrame(columns=years, dtype=float)
    last = int(max(wide.columns))
    span = list(range(min(wide.columns), max(max(years), last + 1)))
    active = wide.reindex(columns=span).fillna(0) > 0
    run = np.zeros(len(active))
    runs = {}
    for y in span:
        if last < y <= last + stale_carry:
            run = np.where(run > 0, run + 1, 0)
        else:
            run = np.where(active[y].to_numpy(), run + 1, 0)
        runs[y] = run.copy()
    out = {t: runs.get(t - 1, np.zeros(len(active))) for t in years}
    return pd.DataFrame(out, index=active.index)


def panel_sha256(panel: pd.DataFrame) -> str:
    """Content hash of the panel, stored with each run so a result can be traced to its inputs."""
    data = pd.util.hash_pandas_object(panel.reset_index(), index=False).to_numpy().tobytes()
    return hashlib.sha256(data).hexdigest()
