"""What-if engine (issue 15): levers move exactly their features, a no-op is the stored answer, monotone
levers
move the estimate the constrained way, the out-of-support guard, bad levers, the portfolio and the backtest's
lever directions.

Most tests run on hand-made observations (40 countries × 2000-2016, every indicator both models read; random
values in plausible ranges, explained in ``synthetic_obs``). The no-op test runs the real pipeline on the
small
real extracts of tests/fixtures/integration and compares with what it stored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from models import scenarios as sc
from models import watchlist as wl
from models.features import LABEL_INDICATOR, POPULATION, build_panel, feature_names, needed_indicators

YEAR = 2015
REGIONS = [f"C{i:02d}" for i in range(40)]
NON_HISTORY = [
    f.name for f in sc.FEATURES if f.kind not in ("history", "since") and f.name != "past_victims_per100k"
]


def _draw(code: str, rng: np.random.Generator) -> float:
    """One hand-made value of ``code`` (ranges in ``synthetic_obs``)."""
    fixed = {
        POPULATION: (1e6, 5e7),
        "response.fts_coverage_pct": (10, 90),
        "response.fts_funding_usd": (1e6, 1e8),
        "structural.gdp_current_usd": (1e9, 1e12),
        "structural.gsi2016_vulnerability": (10, 90),
        "detection.persons_prosecuted": (5, 500),
        "detection.persons_convicted": (5, 500),
    }
    if code == "detection.tip_tier":
        return float(rng.choice([1, 2, 2.5, 3]))
    if code == "detection.policy_3p":
        return float(rng.integers(3, 16))
    if code == "conflict.armed_conflicts":
        return float(rng.integers(1, 3))
    if code.startswith("structural.wgi"):
        return float(rng.uniform(-2, 2))
    lo, hi = fixed.get(code, (50, 20000))
    return float(rng.uniform(lo, hi))


def synthetic_obs(seed: int = 3, short: str | None = "C39") -> pd.DataFrame:
    """Every indicator of both models for 40 countries, 2000-2016.

    Populations 1-50 million; prosecutions and convictions 5-500; other people counts (refugees, IDPs, deaths,
    disaster affected, victims) 50-20,000 so no rate is zero; TIP tier 1/2/2.5/3; 3P 3-15; WGI -2..2; FTS
    coverage
    10-90% and funding 1-100 million US$; 1-2 armed conflicts every year, so a conflict spell is running.
    Country ``short``'s UCDP, UNHCR and WGI data stop in 2012 (a country whose own data end before its sources
    do).
    """
    rng = np.random.default_rng(seed)
    codes = sorted(needed_indicators() | set(wl.needed_indicators()))
    stops = ("conflict.", "displacement.", "structural.wgi")
    rows = [
        {
            "region_id": region,
            "year": year,
            "indicator": code,
            "value": _draw(code, rng),
            "censored": bool(code == LABEL_INDICATOR and rng.random() < 0.1),
        }
        for region in REGIONS
        for year in range(2000, 2017)
        for code in codes
        if not (region == short and year > 2012 and code.startswith(stops))
    ]
    return pd.DataFrame(rows)


def _fit(panel: pd.DataFrame, features: list[str], monotone: dict[str, int] | None = None) -> xgb.Booster:
    rows = panel[panel["label"].notna()]
    params = {"max_depth": 3, "eta": 0.3, "seed": 0, "nthread": 1}
    if monotone:
        params["monotone_constraints"] = "(" + ",".join(str(monotone.get(c, 0)) for c in features) + ")"
    d = xgb.DMatrix(
        rows[features].to_numpy(dtype=float),
        label=rows["label"].to_numpy(dtype=float),
        feature_names=features,
        missing=np.nan,
    )
    return xgb.train(params, d, num_boost_round=30)


def make_model(obs: pd.DataFrame, monotone: dict[str, int] | None = None, label_fn=None) -> sc.ScenarioModel:
    """A ScenarioModel like the store builds, from hand-made observations and boosters fitted on them.

    ``label_fn``: replaces the label by a function of the panel (so a test knows what the booster learned).
    """
    years = list(range(2005, 2017))
    panel = build_panel(obs, years, 0.5, 1)
    features = feature_names(include_past_victims=True)
    if label_fn is not None:
        panel["label"] = label_fn(panel)
    booster = _fit(panel, features, monotone)
    halfwidths = {
        h: {"regular": {0.8: 0.3}, "first_time": {0.8: 0.6}, "censored": {0.8: 0.4}} for h in (1, 2, 3)
    }
    detected = sc.DetectedModel(
        panel=panel,
        lag_map={y: 1 for y in years},
        boosters={1: booster, 2: booster, 3: booster},
        features=features,
        weight=0.5,
        partner="eb_mean",
        partner_median=float(panel["label"].median()),
        halfwidths=halfwidths,
        level=0.8,
        stored=pd.DataFrame(),
        run_id="synthetic",
    )
    margin, _ = sc._detected_margin(detected, panel, 1)
    detected.stored = pd.DataFrame(
        {
            "estimate_per_100k": np.expm1(np.maximum(margin, 0)),
            "risk_score": (
                pd.Series(margin, index=panel.index).groupby(level="year").rank(pct=True).to_numpy() * 100
            ),
        },
        index=panel.index,
    )
    drivers = wl.driver_panel(obs[obs["indicator"].isin(wl.needed_indicators())]).drivers
    terms = wl.composite_terms(drivers, scaled=True)
    rise = sc.RiseModel(
        panel=drivers,
        headline=wl.SCALED,
        calibration={"intercept": 0.05, "slope": 0.1, "q10": -0.5, "q90": 0.4, "fitted": True},
        booster=None,
        stored=pd.DataFrame(
            {"score": terms["score"], "percentile": terms["score"].groupby(level="year").rank(pct=True) * 100}
        ),
        support_years=list(range(2009, 2014)),
        per_year={},
    )
    return sc.ScenarioModel(obs=obs, detected=detected, rise=rise)


@pytest.fixture(scope="module")
def model() -> sc.ScenarioModel:
    return make_model(synthetic_obs())


# --- coherence: the one-region rebuild is the panel
# -------------------------------------------------------------


@pytest.mark.parametrize("region", ["C00", "C17", "C39"])
@pytest.mark.parametrize("year", [2008, 2013, 2016])
def test_one_region_rebuild_equals_the_full_panel(model, region, year):
    """With the coverage rows, every non-history feature rebuilt from one region's observations is the full
    panel's value, also for C39 whose own data stop in 2012 (carried, then missing, as in the full build)."""
    rebuilt = sc.rebuild_detected(model.region_obs(region), NON_HISTORY, year, 1).loc[region]
    full = model.detected.panel.loc[(region, year), NON_HISTORY].astype(float)
    np.testing.assert_allclose(rebuilt.to_numpy(dtype=float), full.to_numpy(), rtol=0, atol=1e-12)


def test_without_coverage_rows_a_one_region_rebuild_would_differ(model):
    """The coverage rows matter: C39's UCDP data end in 2012, so alone it would carry 2012 into 2014 as if its
    source ended there; the full panel reads 'missing' instead. Guards against dropping the sentinel."""
    own = model.obs[model.obs["region_id"] == "C39"]
    alone = sc.rebuild_detected(own, ["conflict_deaths_per100k"], 2014, 1).loc["C39"]
    assert model.detected.panel.loc[("C39", 2014), "conflict_deaths_per100k"] == pytest.approx(
        0.0
    ) or np.isnan(model.detected.panel.loc[("C39", 2014), "conflict_deaths_per100k"])
    assert not np.isclose(
        alone["conflict_deaths_per100k"],
        model.detected.panel.loc[("C39", 2014), "conflict_deaths_per100k"],
        equal_nan=True,
    )


# --- each lever moves exactly its features
# ----------------------------------------------------------------------


def _probe_value(lever: sc.Lever) -> float:
    return (
        2.5
        if lever.kind == "factor"
        else {
            "tip_tier": 1.0,
            "policy_3p": 4.0,
            "rule_of_law": 1.7,
            "humanitarian_coverage": 33.0,
            "disaster_affected": 7.0,
            "prosecutions": 3.3,
            "convictions": 1.1,
        }[lever.name]
    )


@pytest.mark.parametrize("lever", sc.LEVERS, ids=lambda lv: lv.name)
def test_each_lever_moves_exactly_its_detected_features(model, lever):
    base, scen, _ = sc.detected_rows(model, ["C05"], YEAR, {lever.name: _probe_value(lever)})
    features = model.detected.features
    changed = {
        f
        for f in features
        if not np.isclose(base.iloc[0][f], scen.iloc[0][f], rtol=0, atol=1e-12, equal_nan=True)
    }
    assert changed == set(lever.detected_features)


@pytest.mark.parametrize("lever", [lv for lv in sc.LEVERS if lv.rise_features], ids=lambda lv: lv.name)
def test_each_lever_moves_exactly_its_watchlist_drivers(model, lever):
    base, scen, _ = sc.rise_year_frames(model, ["C05"], YEAR, {lever.name: _probe_value(lever)})
    cols = [c for c in sc.RISE_SCORE_COLUMNS + ("displaced_abroad", "idps", "deaths") if c in base.columns]
    b, s = base.loc[("C05", YEAR), cols].astype(float), scen.loc[("C05", YEAR), cols].astype(float)
    changed = {c for c in cols if not np.isclose(b[c], s[c], rtol=0, atol=1e-12, equal_nan=True)}
    assert changed == set(lever.rise_features)
    # no other country's drivers change
    others = base.drop(index=("C05", YEAR))
    pd.testing.assert_frame_equal(others, scen.drop(index=("C05", YEAR)))


def test_the_rebuilt_features_are_those_of_the_builder_on_modified_observations(model):
    """Coherence: doubling conflict deaths is the same as doubling the 2014 observation and rebuilding the
    whole panel: the 1-year rate, the 3-year sum and battle deaths all move, and by the builder's own rule."""
    _, scen, _ = sc.detected_rows(model, ["C05"], YEAR, {"conflict_deaths": 2.0})
    obs = model.obs.copy()
    hit = (
        (obs["region_id"] == "C05")
        & (obs["year"] == YEAR - 1)
        & obs["indicator"].isin(["conflict.deaths_organised_violence", "conflict.battle_deaths"])
    )
    assert hit.sum() == 2
    obs.loc[hit, "value"] *= 2
    full = build_panel(obs, [YEAR], 0.5, 1).loc[("C05", YEAR)]
    for f in ("conflict_deaths_per100k", "conflict_deaths_3y_per100k", "battle_deaths_per100k"):
        assert scen.iloc[0][f] == pytest.approx(full[f], abs=1e-12)


def test_conflict_deaths_at_zero_ends_the_conflict_spell(model):
    base, scen, _ = sc.detected_rows(model, ["C05"], YEAR, {"conflict_deaths": 0.0})
    assert base.iloc[0]["years_since_conflict_onset"] > 0  # 1-2 conflicts every year in the hand-made data
    assert scen.iloc[0]["years_since_conflict_onset"] == 0
    assert scen.iloc[0]["armed_conflicts"] == 0
    assert scen.iloc[0]["conflict_deaths_per100k"] == 0


def test_funding_stops_when_coverage_is_set_to_zero(model):
    base, scen, _ = sc.detected_rows(model, ["C05"], YEAR, {"humanitarian_coverage": 0.0})
    assert base.iloc[0]["humanitarian_funding_per_capita"] > 0
    assert scen.iloc[0]["humanitarian_funding_per_capita"] == 0.0  # log1p(0 US$ per person)
    assert scen.iloc[0]["humanitarian_coverage_pct"] == 0.0


def test_a_level_lever_per_100k_sets_the_feature_to_that_rate(model):
    _, scen, _ = sc.detected_rows(model, ["C05"], YEAR, {"prosecutions": 3.3, "disaster_affected": 7.0})
    assert scen.iloc[0]["prosecutions_per100k"] == pytest.approx(np.log1p(3.3))
    assert scen.iloc[0]["disaster_affected_per100k"] == pytest.approx(np.log1p(7000.0))  # 7% = 7,000 per 100k


# --- no-op
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("levers", [{}, {"displaced_abroad": 1.0, "conflict_deaths": 1.0}])
def test_a_no_op_scenario_is_the_baseline(model, levers):
    out = sc.run_scenario(model, sc.Scenario("C05", YEAR, levers))
    for item in out["data"]:
        assert item["scenario"] == item["baseline"]
        assert item["difference"] == 0
        assert not item["beyond_support"]
    detected = out["data"][0]
    assert detected["baseline"] == pytest.approx(
        model.detected.stored.loc[("C05", YEAR), "estimate_per_100k"], rel=1e-12
    )
    assert out["meta"]["honesty"] == sc.HONESTY


# --- monotone levers
# --------------------------------------------------------------------------------------------


def test_monotone_levers_move_the_detected_estimate_in_the_constrained_direction():
    """A booster constrained increasing in the conflict features and decreasing in the TIP tier (labels built
    to
    depend on them): more deaths never lower the estimate, a better (lower) tier never raises it... as the
    constraint says, and the effect is not zero."""
    obs = synthetic_obs()
    mono = {
        "conflict_deaths_per100k": 1,
        "conflict_deaths_3y_per100k": 1,
        "battle_deaths_per100k": 1,
        "tip_tier": -1,
    }

    def label(panel: pd.DataFrame) -> pd.Series:
        return 0.3 * panel["conflict_deaths_per100k"] - 0.4 * panel["tip_tier"] + 2.0

    model = make_model(obs, mono, label)
    deaths = [
        sc.run_scenario(model, sc.Scenario("C07", YEAR, {"conflict_deaths": f}))["data"][0]["margin_scenario"]
        for f in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    ]
    assert all(b >= a - 1e-12 for a, b in zip(deaths, deaths[1:], strict=False))
    assert deaths[-1] > deaths[0]
    tiers = [
        sc.run_scenario(model, sc.Scenario("C07", YEAR, {"tip_tier": t}))["data"][0]["margin_scenario"]
        for t in (1.0, 2.0, 2.5, 3.0)
    ]
    assert all(b <= a + 1e-12 for a, b in zip(tiers, tiers[1:], strict=False))
    assert tiers[0] > tiers[-1]


@pytest.mark.parametrize("lever", ["displaced_abroad", "idps", "conflict_deaths"])
def test_watchlist_crisis_levers_raise_the_rise_factor(model, lever):
    """The composite's crisis terms have positive weights and z-scores rise with a country's own value, so a
    larger factor never lowers the rise factor."""
    rises = [
        sc.run_scenario(model, sc.Scenario("C07", YEAR, {lever: f}))["data"][1]["score_scenario"]
        for f in (0.5, 1.0, 1.5, 3.0, 6.0)
    ]
    assert all(b >= a - 1e-12 for a, b in zip(rises, rises[1:], strict=False))
    assert rises[-1] > rises[0]


# --- out of support
# ---------------------------------------------------------------------------------------------


def test_the_out_of_support_guard_widens_then_withholds():
    """Deaths in the hand-made data are 50-20,000 (a 1-year rate of at most ~2,000 per 100k, log1p ≈ 7.6):
    × 10 on a country near the top leaves that range (flagged, interval twice as wide in log space); a country
    whose deaths are set far beyond (× 10 on a 100-fold outlier) is withheld."""
    obs = synthetic_obs()
    model = make_model(obs)
    panel = model.detected.panel
    top = panel.xs(YEAR, level="year")["conflict_deaths_per100k"].idxmax()
    out = sc.run_scenario(model, sc.Scenario(top, YEAR, {"conflict_deaths": 10.0}))["data"][0]
    assert out["beyond_support"] and out["widened"] and not out["withheld"]
    flagged = {s["feature"] for s in out["support"] if s["beyond"]}
    assert "conflict_deaths_per100k" in flagged
    half_base = np.log1p(out["baseline_upper"]) - max(out["margin_baseline"], 0)
    half_scen = np.log1p(out["upper"]) - max(out["margin_scenario"], 0)
    assert half_scen == pytest.approx(sc.WIDEN_FACTOR * half_base)
    inside = sc.run_scenario(model, sc.Scenario(top, YEAR, {"conflict_deaths": 0.9}))["data"][0]
    assert not inside["beyond_support"]

    huge = obs.copy()
    hit = (
        (huge["region_id"] == "C03")
        & (huge["year"] == YEAR - 1)
        & (huge["indicator"] == "conflict.deaths_organised_violence")
    )
    huge.loc[hit, "value"] = 1e7  # an outlier the other 39 countries never approach
    far_model = make_model(huge)
    far = sc.run_scenario(far_model, sc.Scenario("C03", YEAR, {"conflict_deaths": 10.0}))["data"][0]
    assert far["withheld"] and far["scenario"] is None and far["lower"] is None
    assert any(s["far"] for s in far["support"])


def test_support_is_the_range_of_similar_countries():
    """Similar = nearest in log population and log GDP: a value common among big countries but never seen
    among
    small ones is beyond support for a small country."""
    ref = pd.DataFrame(
        {
            "log_population": [10.0] * 50 + [18.0] * 50,
            "log_gdp_per_capita": [7.0] * 100,
            "x": list(np.linspace(0, 1, 50)) + list(np.linspace(5, 6, 50)),
        }
    )
    small = sc.similar_rows(ref, 10.0, 7.0, neighbours=50)
    assert sc.support_range(small, "x") == pytest.approx((0.01, 0.99), abs=0.01)
    base = pd.Series({"log_population": 10.0, "log_gdp_per_capita": 7.0, "x": 0.5})
    common_among_big = base.copy()
    common_among_big["x"] = 5.5
    check = sc.support_check(ref, base, common_among_big, ["x"], neighbours=50)
    assert check[0]["beyond"] and check[0]["far"]  # 5.5 is 4.5 ranges beyond 0..1
    big = pd.Series({"log_population": 18.0, "log_gdp_per_capita": 7.0, "x": 5.2})
    assert not sc.support_check(ref, big, common_among_big, ["x"], neighbours=50)[0]["beyond"]
    assert (
        sc.support_check(ref, base, base, ["x"], neighbours=50) == []
    )  # an unchanged input is never flagged


# --- bad levers, portfolio
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "levers, words",
    [
        ({"nonsense": 2.0}, "unknown lever 'nonsense'"),
        ({"idps": 11.0}, "outside 0..10"),
        ({"tip_tier": 0.0}, "outside 1..3"),
        ({"idps": "two"}, "finite number"),
        ({"idps": float("nan")}, "finite number"),
        ({"idps": True}, "finite number"),
    ],
)
def test_bad_levers_are_refused_with_their_name(levers, words):
    with pytest.raises(sc.ScenarioError, match=words):
        sc.validate_levers(levers)


def test_unknown_region_and_year_are_refused(model):
    with pytest.raises(sc.ScenarioError, match="unknown region 'ZZZ'|no detected-victims features for ZZZ"):
        sc.run_scenario(model, sc.Scenario("ZZZ", YEAR, {"idps": 2.0}))
    with pytest.raises(sc.ScenarioError, match="outside the years"):
        sc.run_scenario(model, sc.Scenario("C05", 1990, {}))


def test_portfolio_raises_prosecutions_to_the_median_in_the_largest_detection_gaps(model):
    gap = sc.detection_gap(model, YEAR, 10)
    assert len(gap) == 10
    median = sc.lever_median(model, "prosecutions", YEAR)
    rates = [np.expm1(model.detected.panel.loc[(r, YEAR), "prosecutions_per100k"]) for r in REGIONS]
    assert median == pytest.approx(np.median(rates)) and median < 20  # inside the lever's range, not clipped
    out = sc.portfolio(model, gap, YEAR, "prosecutions", "median")
    det = [r for r in out["data"] if r["target"] == "detected"]
    assert [r["region"] for r in det] == gap
    for r in det:
        assert r["lower"] <= r["scenario"] <= r["upper"]
        assert 1 <= r["rank_scenario"] <= len(REGIONS)
    assert out["meta"]["value"] == pytest.approx(median)
    # raised to the median: only regions below it move; the others keep their estimate
    below = [r for r in gap if rates[REGIONS.index(r)] < median]
    assert out["meta"]["moved"] == below and below
    for r in det:
        if r["region"] not in below:
            assert r["scenario"] == r["baseline"]
    # a moved region's single-region scenario agrees with the portfolio's estimate
    one = sc.run_scenario(model, sc.Scenario(below[0], YEAR, {"prosecutions": median}))["data"][0]
    assert one["scenario"] == pytest.approx(
        next(r for r in det if r["region"] == below[0])["scenario"], rel=1e-9
    )


def test_portfolio_refuses_too_many_regions(model):
    with pytest.raises(sc.ScenarioError, match=f"at most {sc.MAX_REGIONS}"):
        sc.portfolio(model, [f"R{i}" for i in range(sc.MAX_REGIONS + 1)], YEAR, "idps", 2.0)


# --- directions
# -------------------------------------------------------------------------------------------------


def test_direction_verdicts():
    assert sc.direction_verdict([0.1, 0.2, 0.05, 0.3, 0.1])["verdict"] == "supported"
    flip = sc.direction_verdict([0.1, -0.2, 0.05, -0.3, 0.1])
    assert flip["verdict"] == "uncertain" and flip["agreement"] == pytest.approx(0.6)
    assert sc.direction_verdict([0.0, 1e-5, -1e-5])["verdict"] == "no effect"
    assert (
        sc.rise_direction([{"spearman": 0.1}, {"spearman": 0.2}, {"spearman": -0.05}])["verdict"]
        == "supported"
    )
    assert (
        sc.rise_direction([{"spearman": 0.1}, {"spearman": -0.2}, {"spearman": -0.05}])["verdict"]
        == "uncertain"
    )


def test_detected_directions_find_a_built_in_sign_at_every_origin():
    """Labels built to rise with conflict deaths and to fall with the TIP tier: refitting at each origin, the
    conflict lever is supported upward and the tier lever (probe 3 -> 1) too; a lever the labels ignore and
    the
    model barely uses is not called supported downward by accident."""
    obs = synthetic_obs()
    panel = build_panel(obs, list(range(2005, 2017)), 0.5, 1)
    deaths = panel["conflict_deaths_per100k"]
    tier = panel["tip_tier"]
    victims = np.expm1(1.0 + 0.5 * deaths - 0.5 * tier).clip(lower=0.01)
    labelled = obs.copy()
    lab = labelled["indicator"] == LABEL_INDICATOR
    pop = obs[obs["indicator"] == POPULATION].set_index(["region_id", "year"])["value"]
    for i in labelled.index[lab]:
        key = (labelled.at[i, "region_id"], int(labelled.at[i, "year"]))
        if key in victims.index and not np.isnan(victims[key]):
            labelled.at[i, "value"] = float(victims[key] * pop[key] / 1e5)
            labelled.at[i, "censored"] = False
    config = {
        "xgboost": {"n_estimators": 40, "learning_rate": 0.2, "max_depth": 3, "seed": 0, "nthread": 1},
        "label": {"censored_fraction": 0.5},
        "variants": {"xgboost": {"objective": "squared"}},
    }
    out = sc.detected_directions(labelled, config, "xgboost", 0.5, [2011, 2012, 2013, 2014])
    assert out["conflict_deaths"]["verdict"] == "supported" and out["conflict_deaths"]["direction"] == "up"
    assert out["tip_tier"]["verdict"] == "supported" and out["tip_tier"]["direction"] == "up"  # 3 -> 1 raises
    assert set(out) == {lv.name for lv in sc.LEVERS}


# --- the real pipeline: stored answers and the store
# ------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_store(tmp_path_factory):
    """A reduced real run on the small real extracts of tests/fixtures/integration (as
    test_integration_model)."""
    from etl.loader import run
    from models.pipeline import train_run
    from models.train import load_config
    from tests.conftest import FIXTURES, _fresh_url, drop_database
    from warehouse.db import make_engine, migrate

    tmp = tmp_path_factory.mktemp("scenarios")
    url = _fresh_url(tmp, "scen")
    engine = make_engine(url)
    migrate(engine)
    run(
        engine,
        names=[
            "natural_earth",
            "country_codes",
            "unodc_glotip",
            "wb_population",
            "wb_gdp",
            "owid_conflict_deaths",
            "unhcr_population",
            "ucdp_ged",
        ],
        raw_dir=FIXTURES / "integration" / "raw",
    )
    config = load_config()
    config["xgboost"]["n_estimators"] = 60
    config["backtest"].update(first_origin=2014, last_origin=2017)
    run_id = train_run(engine, deploy=True, config=config, registry_root=tmp / "models")
    yield engine, run_id, tmp / "models"
    engine.dispose()
    drop_database(url)


def test_a_no_op_scenario_equals_every_stored_prediction_of_a_real_run(trained_store):
    """Loaded through the store, the engine's baseline is what the pipeline stored, for detected victims
    (estimate
    and interval) and the watch list (rise factor, interval, rank): every country of the latest year and every
    15th country-year of the others (all of them pass too, in two minutes)."""
    from models import scenarios_store

    engine, run_id, root = trained_store
    scenarios_store.clear_cache()
    model = scenarios_store.load_scenario_model(engine, run_id, root, directions="skip")
    det, rise = model.detected.stored, model.rise.stored
    checked = 0
    pairs = sorted(set(det.index) & set(rise.index))
    latest = max(y for _, y in pairs)
    for region, year in [p for i, p in enumerate(pairs) if i % 15 == 0 or p[1] == latest]:
        out = sc.run_scenario(model, sc.Scenario(region, int(year), {}))
        d, r = out["data"]
        assert d["scenario"] == d["baseline"]
        assert d["baseline"] == pytest.approx(
            det.loc[(region, year), "estimate_per_100k"], rel=1e-9, abs=1e-12
        )
        assert d["baseline_lower"] == pytest.approx(
            det.loc[(region, year), "lower_per_100k"], rel=1e-9, abs=1e-12
        )
        assert d["baseline_upper"] == pytest.approx(
            det.loc[(region, year), "upper_per_100k"], rel=1e-9, abs=1e-12
        )
        assert r["baseline"] == pytest.approx(rise.loc[(region, year), "rise_factor"], rel=1e-9)
        assert r["baseline_upper"] == pytest.approx(rise.loc[(region, year), "upper"], rel=1e-9)
        assert r["rank_baseline"] == rise.loc[(region, year), "rank"]
        checked += 1
    assert checked >= 40


def test_lever_directions_are_measured_once_and_cached_with_the_run(trained_store):
    from models import scenarios_store

    engine, run_id, root = trained_store
    scenarios_store.clear_cache()
    cache = root / run_id / scenarios_store.DIRECTIONS_FILE
    assert not cache.exists()
    model = scenarios_store.load_scenario_model(engine, run_id, root, directions="measure")
    assert cache.exists()
    dirs = model.detected.directions
    assert set(dirs) == {lv.name for lv in sc.LEVERS}
    for verdicts in dirs.values():
        assert verdicts["detected"]["verdict"] in ("supported", "uncertain", "no effect")
        assert verdicts["detected"]["origins"] == 4  # origins 2014-2017
    # a scenario carries the verdict of each lever it moves
    region, year = model.detected.stored.index[-1]
    out = sc.run_scenario(model, sc.Scenario(region, int(year), {"displaced_abroad": 2.0}))
    assert out["data"][0]["directions"]["displaced_abroad"] == dirs["displaced_abroad"]["detected"]
    # the cache is read back, not measured again; a tampered cache is measured again
    again = scenarios_store.run_directions(model, run_id, root)
    assert again == json_roundtrip(dirs)
    cache.write_text(cache.read_text().replace("supported", "uncertain", 1))
    assert scenarios_store.run_directions(model, run_id, root) == json_roundtrip(dirs)


def json_roundtrip(value):
    import json

    return json.loads(json.dumps(value))


@pytest.mark.parametrize(
    "levers",
    [{"displaced_abroad": 2.0}, {"rule_of_law": 1.5}, {"conflict_deaths": 0.0, "idps": 3.0, "tip_tier": 1.0}],
)
def test_contributions_add_up_to_the_change(model, levers):
    """The waterfall is exact: per-lever contributions plus interactions are the change of the detected margin
    (log1p per 100k) and of the log rise factor; a lever's own term carries the watch-list change it causes.
    """
    detected, rise = sc.run_scenario(model, sc.Scenario("C11", YEAR, levers))["data"]
    assert sum(detected["contributions"].values()) == pytest.approx(
        detected["margin_scenario"] - detected["margin_baseline"], abs=1e-5
    )  # float32 SHAP sums
    assert sum(rise["contributions"].values()) == pytest.approx(
        np.log(rise["scenario"] / rise["baseline"]), abs=1e-12
    )
    if "rule_of_law" in levers:
        assert rise["contributions"]["rule_of_law"] != 0  # through the vulnerability modifier


def test_lever_directions_are_measured_in_the_background_when_not_cached(trained_store):
    """The default load does not wait for the ~30 s measurement: the model answers at once ("not measured"),
    and the directions arrive (and are cached) when the background thread ends."""
    import time

    from models import scenarios_store

    engine, run_id, root = trained_store
    for name in (scenarios_store.DIRECTIONS_FILE, scenarios_store.DIRECTIONS_FILE + ".sha256"):
        (root / run_id / name).unlink(missing_ok=True)
    scenarios_store.clear_cache()
    model = scenarios_store.load_scenario_model(engine, run_id, root)
    region, year = model.detected.stored.index[-1]
    out = sc.run_scenario(model, sc.Scenario(region, int(year), {"idps": 2.0}))
    assert out["data"][0]["directions"]["idps"]["verdict"] in (
        "not measured",
        "supported",
        "uncertain",
        "no effect",
    )
    end = time.time() + 300
    while not model.detected.directions and time.time() < end:
        time.sleep(0.5)
    assert set(model.detected.directions) == {lv.name for lv in sc.LEVERS}
    assert (root / run_id / scenarios_store.DIRECTIONS_FILE).exists()


def _without_timing(out):
    out = json_roundtrip(out)
    out["meta"].pop("compute_ms")
    return out


def test_memoised_lever_reads_give_the_answer_of_a_fresh_computation(trained_store):
    """A region's lever reads (the values each lever scales, population) are memoised per region and reused
    by its next scenario. On real rows: all eleven levers after another scenario of the same region (memo
    filled by it) give exactly the answer computed with an empty memo, and the memoised reads equal fresh
    reads of the unmodified observations."""
    from models import scenarios_store

    engine, run_id, root = trained_store
    scenarios_store.clear_cache()
    model = scenarios_store.load_scenario_model(engine, run_id, root, directions="skip")
    every = {lv.name: 2.0 if lv.kind == "factor" else (lv.min + lv.max) / 2 for lv in sc.LEVERS}
    regions = sorted({r for r, _ in model.detected.stored.index})
    year = max(model.years())
    checked = 0
    for region in regions[:: max(1, len(regions) // 8)]:
        if (region, year) not in model.detected.panel.index:
            continue
        model._memo.clear()
        fresh = _without_timing(sc.run_scenario(model, sc.Scenario(region, year, every)))
        model._memo.clear()
        for y in (year - 1, year):  # an earlier year too: its reads must not stand in for this year's
            if y in model.years() and (region, y) in model.detected.panel.index:
                sc.run_scenario(model, sc.Scenario(region, y, {"idps": 3.0, "tip_tier": 1.0}))
        obs, reads = model.lever_inputs([region])
        assert reads, "the first scenario filled the region's memo"
        again = _without_timing(sc.run_scenario(model, sc.Scenario(region, year, every)))
        assert again == fresh
        lag = model.detected.lag_map.get(year, 1)
        for target in ("detected", "rise"):
            memo_obs, memo_notes = sc.apply_levers(obs, every, year, target, lag, [region], reads)
            plain_obs, plain_notes = sc.apply_levers(
                model.region_obs(region), every, year, target, lag, [region]
            )
            assert memo_notes == plain_notes
            pd.testing.assert_frame_equal(memo_obs, plain_obs)
        checked += 1
    assert checked >= 4
