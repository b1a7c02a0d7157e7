"""Watch list (issue 11): the realised-change label, no leakage into a score for year Y, the protocol, the
store."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models import watchlist as wl


def pair_frame(rows: list[tuple[str, str, int, float, bool]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["detecting_iso3", "citizenship_iso3", "year", "victims", "censored"])


def census_frame(rows: dict[str, range]) -> pd.DataFrame:
    return pd.DataFrame(
        [(d, y) for d, years in rows.items() for y in years], columns=["detecting_iso3", "year"]
    )


# Two detecting countries that report every year 2010-2015. Origin year Y = 2012: baseline 2010-12, target
# 2013-15.
# AAA lists SYR with 4 victims in 2010 and 9 in 2013; BBB lists SYR once, '<5' (= 2.5) in 2014.
BASE_PAIRS = [
    ("AAA", "SYR", 2010, 4.0, False),
    ("AAA", "SYR", 2013, 9.0, False),
    ("BBB", "SYR", 2014, 5.0, True),
    ("AAA", "AAA", 2013, 500.0, False),
]  # nationals: never part of 'detected abroad'
BASE_CENSUS = {"AAA": range(2010, 2016), "BBB": range(2010, 2016)}


def test_realised_change_is_the_mean_over_detecting_countries_of_target_minus_baseline():
    labels = wl.realised_change(pair_frame(BASE_PAIRS), census_frame(BASE_CENSUS), origin_years=[2012])
    assert list(labels["origin"]) == ["SYR"]  # AAA's own nationals are not an origin here
    # AAA: (log1p 9)/3 - (log1p 4)/3 ; BBB: (log1p 2.5)/3 - 0 ; reporting years without SYR count 0
    expected = np.mean([np.log1p(9) / 3 - np.log1p(4) / 3, np.log1p(2.5) / 3])
    assert labels["change"].iloc[0] == pytest.approx(expected)
    assert labels["n_detecting"].iloc[0] == 2


def test_realised_change_unchanged_when_a_country_reporting_in_only_one_window_is_added():
    before = wl.realised_change(pair_frame(BASE_PAIRS), census_frame(BASE_CENSUS), origin_years=[2012])
    extra = BASE_PAIRS + [
        ("CCC", "SYR", 2011, 300.0, False),  # CCC reported only in the baseline window
        ("DDD", "SYR", 2014, 800.0, False),
    ]  # DDD reported only in the target window
    census = {**BASE_CENSUS, "CCC": range(2009, 2013), "DDD": range(2014, 2016)}
    after = wl.realised_change(pair_frame(extra), census_frame(census), origin_years=[2012])
    pd.testing.assert_frame_equal(before, after)
    # ... while a country reporting in both windows does change it (the test can fail)
    census["CCC"] = range(2009, 2015)
    changed = wl.realised_change(pair_frame(extra), census_frame(census), origin_years=[2012])
    assert changed["change"].iloc[0] != pytest.approx(before["change"].iloc[0])


def test_fewer_than_two_detecting_countries_give_no_label():
    rows = [r for r in BASE_PAIRS if r[0] != "BBB"]
    labels = wl.realised_change(
        pair_frame(rows), census_frame({"AAA": range(2010, 2016)}), origin_years=[2012]
    )
    assert labels.empty


def test_listed_only_variant_uses_listed_years_and_needs_both_windows():
    rows = BASE_PAIRS + [("EEE", "SYR", 2012, 20.0, False), ("EEE", "SYR", 2015, 2.0, False)]
    census = {**BASE_CENSUS, "EEE": range(2010, 2016)}
    labels = wl.realised_change(pair_frame(rows), census_frame(census), origin_years=[2012], variant="listed")
    # BBB lists SYR only in the target window: excluded; AAA and EEE compare listed years only
    expected = np.mean([np.log1p(9) - np.log1p(4), np.log1p(2) - np.log1p(20)])
    assert labels["change"].iloc[0] == pytest.approx(expected)
    assert labels["n_detecting"].iloc[0] == 2


def test_year_demeaned_change_has_zero_mean_each_year():
    labels = pd.DataFrame(
        {
            "origin": ["A", "B", "C", "A"],
            "year": [2010, 2010, 2010, 2011],
            "change": [0.3, 0.1, -0.1, 2.0],
            "n_detecting": 2,
        }
    )
    out = wl.year_demeaned(labels)
    assert out.tolist() == pytest.approx([0.2, 0.0, -0.2, 0.0])


def synthetic_obs(seed: int = 3, countries: int = 30) -> pd.DataFrame:
    """Hand-made observations for 30 countries × 2000-2020 of every driver input; random positive values that
    only
    need to differ between years so that leakage would show."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(countries):
        region = f"C{i:02d}"
        for year in range(2000, 2021):
            for code in wl.needed_indicators():
                if code == "structural.population":
                    value = rng.uniform(1e6, 5e7)
                elif code == "structural.gdp_current_usd":
                    value = rng.uniform(1e9, 1e12)
                elif code == "structural.wgi_rl":
                    value = rng.normal()
                else:
                    value = rng.uniform(0, 1e5)
                rows.append({"region_id": region, "year": year, "indicator": code, "value": float(value)})
    return pd.DataFrame(rows)


def synthetic_labels(panel: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keys = panel.reset_index()[["region_id", "year"]]
    keys = keys[keys["year"].between(2009, 2017)]
    return pd.DataFrame(
        {
            "origin": keys["region_id"].to_numpy(),
            "year": keys["year"].to_numpy(),
            "change": rng.normal(size=len(keys)),
            "n_detecting": 3,
        }
    )


@pytest.mark.parametrize("year", [2010, 2014, 2017])
def test_nothing_dated_after_y_enters_a_score_for_y(year):
    obs = synthetic_obs()
    before = wl.driver_panel(obs, years=[year]).drivers
    mutated = obs.copy()
    future = mutated["year"] > year
    mutated.loc[future, "value"] = mutated.loc[future, "value"] * 3.7 + 5
    after = wl.driver_panel(mutated, years=[year]).drivers
    pd.testing.assert_frame_equal(before, after)
    pd.testing.assert_frame_equal(wl.transparent_scores(before), wl.transparent_scores(after))
    # year Y itself does enter (inputs dated <= Y): changing it moves the score, so the test can fail
    deaths_now = (mutated["year"] == year) & (mutated["indicator"] == "conflict.deaths_organised_violence")
    mutated.loc[deaths_now, "value"] *= 9
    moved = wl.driver_panel(mutated, years=[year]).drivers
    assert not np.allclose(before["conflict_intensity"], moved["conflict_intensity"])


def test_xgboost_candidate_for_y_uses_labels_of_origin_years_up_to_y_minus_3_only():
    panel = wl.driver_panel(synthetic_obs(), years=list(range(2009, 2018))).drivers
    labels = synthetic_labels(panel)
    before = wl.xgb_backtest_scores(panel, labels, [2015])
    mutated = labels.copy()
    late = mutated["year"] > 2012  # realised changes of 2013+ end after 2015
    mutated.loc[late, "change"] = mutated.loc[late, "change"] * -4 + 1
    after = wl.xgb_backtest_scores(panel, mutated, [2015])
    pd.testing.assert_series_equal(before, after)
    mutated.loc[mutated["year"] == 2012, "change"] *= -3  # origin year 2012 is allowed and used
    assert not np.allclose(before, wl.xgb_backtest_scores(panel, mutated, [2015]))


def test_protocol_rewards_a_score_that_orders_the_label_and_not_one_that_does_not():
    rng = np.random.default_rng(0)
    keys = [(f"C{i:02d}", y) for y in range(2009, 2014) for i in range(40)]
    labels = pd.DataFrame(
        {
            "origin": [k[0] for k in keys],
            "year": [k[1] for k in keys],
            "change": rng.normal(size=len(keys)),
            "n_detecting": 2,
        }
    )
    index = pd.MultiIndex.from_tuples(keys, names=["region_id", "year"])
    perfect = pd.Series(labels["change"].to_numpy(), index=index)
    noise = pd.Series(rng.normal(size=len(keys)), index=index)
    good = wl.score_candidate(perfect, labels, reps=100)
    bad = wl.score_candidate(noise, labels, reps=100)
    assert good["mean_spearman"] == pytest.approx(1.0)
    assert good["top_lift"] > 0.8 and good["top_lift_interval"][0] > 0
    assert abs(bad["mean_spearman"]) < 0.2
    assert wl.strength(good) == "strong" and wl.strength(bad) == "weak"
    assert "Skill: strong" in wl.skill_sentence(good)


def test_headline_is_xgboost_only_when_it_beats_the_best_transparent_candidate():
    panel = wl.driver_panel(synthetic_obs(), years=list(range(2009, 2018))).drivers
    # the label is the refugee-growth driver itself: a transparent candidate is perfect, XGBoost cannot beat
    # it
    lab = panel["displaced_growth_2y"].reset_index()
    lab = lab[lab["year"].between(2009, 2017)]
    labels = pd.DataFrame(
        {
            "origin": lab["region_id"],
            "year": lab["year"],
            "change": lab["displaced_growth_2y"],
            "n_detecting": 2,
        }
    )
    result = wl.run_protocol(panel, labels, labels, reps=50)
    assert result["best_transparent"] == "displaced_growth_2y"
    assert result["headline"] == "displaced_growth_2y"
    assert result["xgb_comparison"]["xgboost_wins"] is False
    assert {r["candidate"] for r in result["table"]} >= {*wl.DRIVERS, "composite", "xgboost"}
    card = wl.summary_markdown(
        {"headline": result["headline"], "protocol": result["table"], "skill": {"sentence": "Skill: weak."}}
    )
    assert "| composite | main |" in card and "| xgboost | listed |" in card and "Skill: weak." in card


def test_watchlist_frame_has_ordered_intervals_ranks_and_plain_drivers():
    panel = wl.driver_panel(synthetic_obs(), years=list(range(2009, 2021))).drivers
    labels = synthetic_labels(panel)
    frame, cal = wl.watchlist_frame(panel, "composite", labels)
    assert cal["fitted"]
    assert (frame["lower"] <= frame["rise_factor"]).all() and (frame["rise_factor"] <= frame["upper"]).all()
    assert (frame["lower"] > 0).all()
    for _year, grp in frame.groupby("year"):
        assert sorted(grp["rank"]) == list(range(1, len(grp) + 1))
        top = grp.sort_values("rank").iloc[0]
        assert top["score"] == grp["score"].max()
    assert frame["top_driver"].str.len().gt(5).all()
    assert frame["basis"].str.contains("refugees/asylum-seekers 20").all()


def two_scores(engine) -> pd.DataFrame:
    """A deployed run r1 and two hand-made watch-list rows for 2024 (Syria first, Ukraine second)."""
    from warehouse.schema import model_run, region

    with engine.begin() as conn:
        conn.execute(
            region.insert(), [{"region_id": c, "level": 0, "iso3": c, "name": c} for c in ("SYR", "UKR")]
        )
        conn.execute(
            model_run.insert().values(
                run_id="r1",
                created_at=dt.datetime.now(dt.UTC),
                status="deployed",
                level=0,
                artefact_sha256="0" * 64,
                panel_sha256="0" * 64,
                metadata_json={"run_id": "r1"},
                metrics_json={},
            )
        )
    scores = pd.DataFrame(
        [
            {
                "region_id": "SYR",
                "year": 2024,
                "score": 0.3,
                "rise_factor": np.exp(0.3),
                "lower": 0.9,
                "upper": 2.0,
                "rank": 1,
                "percentile": 100.0,
                "top_driver": "refugees and asylum-seekers abroad x2.4 in two years",
                "drivers": [{"driver": "displaced_growth_2y", "contribution": 0.3}],
                "displaced_abroad": 6.4e6,
                "displaced_abroad_year": 2024,
                "idps": 7.2e6,
                "idps_year": 2024,
                "hosted": np.nan,
                "hosted_year": np.nan,
                "basis": "refugees/asylum-seekers 2024",
                "method": "composite",
            },
            {
                "region_id": "UKR",
                "year": 2024,
                "score": 0.1,
                "rise_factor": np.exp(0.1),
                "lower": 0.8,
                "upper": 1.6,
                "rank": 2,
                "percentile": 50.0,
                "top_driver": "=cmd",
                "drivers": [],
                "displaced_abroad": 5000.0,
                "displaced_abroad_year": 2024,
                "idps": None,
                "idps_year": None,
                "hosted": None,
                "hosted_year": None,
                "basis": "refugees/asylum-seekers 2024",
                "method": "composite",
            },
        ]
    )
    return scores


def test_store_round_trip_and_rise_export(engine):
    from models import watchlist_store as store

    scores = two_scores(engine)
    store.write_watchlist(
        engine, "r1", scores, None, {"headline": "composite", "skill": {"strength": "weak"}}
    )
    frame = store.read_watchlist(engine)
    assert list(frame["region_id"]) == ["SYR", "UKR"]
    assert (
        frame.loc[0, "people_exposed"]
        == "6.4 million refugees and asylum-seekers abroad (2024); 7.2 million IDPs (2024)"
    )
    assert store.read_watchlist_skill(engine)["skill"]["strength"] == "weak"
    assert store.latest_watchlist_year(engine) == 2024
    export = store.rise_export_frame(engine, 2024, 2024)
    assert list(export.columns) == store.RISE_EXPORT_COLUMNS
    assert export["run_id"].eq("r1").all()
    # a second write replaces the run's rows instead of adding to them
    store.write_watchlist(engine, "r1", scores.iloc[:1], None, {"headline": "composite"})
    assert len(store.read_watchlist(engine)) == 1


def test_export_predictions_target_rise_cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from models import watchlist_store as store
    from models.cli import export_app
    from tests.conftest import _fresh_url
    from warehouse.db import make_engine, migrate

    url = _fresh_url(tmp_path, "rise")
    monkeypatch.setenv("CRISISRISK_DATABASE_URL", url)
    engine = make_engine(url)
    migrate(engine)
    store.write_watchlist(engine, "r1", two_scores(engine), None, {"headline": "composite"})
    out = tmp_path / "rise.csv"
    runner = CliRunner()
    result = runner.invoke(
        export_app,
        [
            "predictions",
            "--target",
            "rise",
            "--level",
            "country",
            "--from",
            "2024",
            "--to",
            "2024",
            "--out",
            str(out),
            "--hxl",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(store.RISE_EXPORT_COLUMNS)
    assert lines[1].startswith("#country+code,#date+year")
    assert lines[2].startswith("SYR,2024,")
    assert "'=cmd" in lines[3]  # a driver text starting with '=' cannot run as a spreadsheet formula
    bad = runner.invoke(
        export_app, ["predictions", "--target", "rise", "--level", "admin1", "--out", str(out)]
    )
    assert bad.exit_code == 2 and "country only" in bad.output
    unknown = runner.invoke(export_app, ["predictions", "--target", "risk", "--out", str(out)])
    assert unknown.exit_code == 2 and "--target must be" in unknown.output
    engine.dispose()


def test_top_driver_words_name_real_rises_only():
    row = pd.Series(
        {
            "displaced_growth_2y": np.log1p(120_000) - np.log1p(50_000),
            "displaced_abroad": 120_000.0,
            "displaced_abroad_2y_before": 50_000.0,
            "displaced_abroad_year": 2025,
            "idp_growth_2y": 12.7,
            "idps": 316_000.0,
            "idps_2y_before": 0.0,
            "idps_year": 2025,
        }
    )
    assert (
        wl._plain("displaced_growth_2y", row)
        == "refugees and asylum-seekers abroad x2.4 in two years (2023-2025) (50,000 to 120,000)"
    )
    assert wl._plain("idp_growth_2y", row) == "conflict IDPs from none to 316,000 in two years (2023-2025)"
    assert wl._rising("displaced_growth_2y", row)
    flat = row.copy()
    flat["displaced_abroad"] = 51_000.0  # +2% is not a rise worth naming
    assert not wl._rising("displaced_growth_2y", flat)


def test_amended_growth_terms_do_not_treat_a_handful_of_people_as_an_outflow():
    obs = pd.DataFrame(
        [
            {"region_id": r, "year": y, "indicator": "displacement.refugees_by_origin", "value": v}
            for r, series in {"AAA": (1.0, 5.0), "BBB": (50_000.0, 120_000.0)}.items()
            for y, v in zip((2008, 2010), series, strict=True)
        ]
        + [
            {"region_id": r, "year": y, "indicator": "structural.population", "value": 1e6}
            for r in ("AAA", "BBB")
            for y in (2008, 2010)
        ]
    )
    panel = wl.driver_panel(obs, years=[2010]).drivers
    # plain log1p growth: 5 people from 1 scores x3, nearly the x2.4 of a real outflow ...
    assert panel.loc[("AAA", 2010), "displaced_growth_2y"] == pytest.approx(np.log(6 / 2))
    # ... with the 1,000-person base it is x1.004 while the real outflow stays x2.3
    assert panel.loc[("AAA", 2010), "displaced_growth_2y_based"] == pytest.approx(np.log(1005 / 1001))
    assert panel.loc[("BBB", 2010), "displaced_growth_2y_based"] == pytest.approx(np.log(121_000 / 51_000))


def test_scaled_growth_terms_count_a_rise_only_in_proportion_to_the_population():
    # the 2025 United States case: 3,280 -> 7,446 refugees and asylum-seekers abroad in 340 million people
    # (AAA),
    # the same rise in 100,000 people (BBB), no change (CCC), and a fall from 1 million to 10,000 in 100
    # million
    # (DDD: the larger year sets the scale, so a fall from a large displaced population still counts in full)
    series = {
        "AAA": (3_280.0, 7_446.0, 340e6),
        "BBB": (3_280.0, 7_446.0, 1e5),
        "CCC": (10_000.0, 10_000.0, 1e7),
        "DDD": (1e6, 1e4, 1e8),
    }
    obs = pd.DataFrame(
        [
            {"region_id": r, "year": y, "indicator": code, "value": v}
            for r, (before, now, pop) in series.items()
            for y, refugees in ((2008, before), (2010, now))
            for code, v in (("displacement.refugees_by_origin", refugees), ("structural.population", pop))
        ]
    )
    panel = wl.driver_panel(obs, years=[2010]).drivers
    rise = np.log(8_446 / 4_280)
    # amendment 1 treats both rises alike ...
    assert panel.loc[("AAA", 2010), "displaced_growth_2y_based"] == pytest.approx(rise)
    assert panel.loc[("BBB", 2010), "displaced_growth_2y_based"] == pytest.approx(rise)
    # ... amendment 2 weights by min(1, 7,446 per 340 million per 100,000 / 100) = 0.022: almost nothing
    assert panel.loc[("AAA", 2010), "displaced_growth_2y_scaled"] == pytest.approx(
        rise * 7_446 / 340e6 * 1e5 / 100
    )
    assert panel.loc[("AAA", 2010), "displaced_growth_2y_scaled"] < 0.02
    assert panel.loc[("BBB", 2010), "displaced_growth_2y_scaled"] == pytest.approx(rise)
    assert panel.loc[("DDD", 2010), "displaced_growth_2y_scaled"] == pytest.approx(np.log(11_000 / 1_001_000))
    # in the composite the US-like rise now ranks with the flat population, far below the same rise in 100,000
    based = wl.composite_terms(panel, based=True)["displaced_growth_2y"]
    scaled = wl.composite_terms(panel, scaled=True)["displaced_growth_2y"]
    assert based[("AAA", 2010)] == pytest.approx(based[("BBB", 2010)])
    gap_to_flat = scaled[("AAA", 2010)] - scaled[("CCC", 2010)]
    assert 0 < gap_to_flat < 0.05 * (scaled[("BBB", 2010)] - scaled[("CCC", 2010)])
    assert wl.SCALED in wl.transparent_scores(panel).columns


def test_amendment_2_rule_is_non_inferiority_against_composite_min_base():
    ref = {"top_lift": 0.158, "top_lift_interval": [0.083, 0.204], "mean_spearman": 0.146}
    inside = wl._non_inferior(wl.SCALED, ref, {"top_lift": 0.090, "mean_spearman": 0.127}, wl.AMENDED)
    assert inside["accepted"] is True
    below_interval = wl._non_inferior(wl.SCALED, ref, {"top_lift": 0.080, "mean_spearman": 0.160}, wl.AMENDED)
    assert below_interval["accepted"] is False
    spearman_drop = wl._non_inferior(wl.SCALED, ref, {"top_lift": 0.160, "mean_spearman": 0.125}, wl.AMENDED)
    assert spearman_drop["accepted"] is False
