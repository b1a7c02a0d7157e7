"""Pair model (issue 11 item 3): own past without leakage, answers for any pair and year, clear input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import pairs as pm
from models import watchlist as wl
from tests.models.test_watchlist import synthetic_obs


@pytest.fixture(autouse=True)
def few_trees(monkeypatch):
    """30 trees instead of the product's 150: these tests check behaviour, not skill, and must stay quick."""
    monkeypatch.setattr(pm, "ROUNDS", 30)


def synthetic_pairs(seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Six detecting countries listing random citizenships 2007-2020 (random counts, a third '<5')."""
    rng = np.random.default_rng(seed)
    rows, census = [], []
    countries = [f"C{i:02d}" for i in range(30)]
    for d in countries[:6]:
        for year in range(2007, 2021):
            if rng.random() < 0.15:
                continue  # not every country reports every year
            census.append((d, year))
            for o in rng.choice(countries, size=6, replace=False):
                censored = rng.random() < 0.33
                rows.append((d, o, year, 5.0 if censored else float(rng.integers(5, 200)), censored))
    pairs = pd.DataFrame(rows, columns=["detecting_iso3", "citizenship_iso3", "year", "victims", "censored"])
    return pairs, pd.DataFrame(census, columns=["detecting_iso3", "year"])


def coords() -> pd.DataFrame:
    return pd.DataFrame({"region_id": [f"C{i:02d}" for i in range(30)], "lon": np.linspace(-150, 150, 30),
                         "lat": np.linspace(-50, 60, 30)})


def test_history_for_a_cutoff_ignores_reports_dated_after_it():
    pairs, census = synthetic_pairs()
    keys = pairs[["detecting_iso3", "citizenship_iso3"]].drop_duplicates().set_axis(["d", "o"], axis=1)
    keys = keys.assign(cutoff=2013)
    before = pm.history_features(keys, pairs, census)
    mutated = pairs.copy()
    late = mutated["year"] > 2013
    mutated.loc[late, "victims"] = mutated.loc[late, "victims"] * 10 + 3
    extra = pd.DataFrame([("C00", "C29", 2015, 900.0, False)], columns=pairs.columns)  # a new listing after 2013
    after = pm.history_features(keys, pd.concat([mutated, extra]), census)
    pd.testing.assert_frame_equal(before, after)
    # the cutoff year itself enters: changing it moves the pair's last value
    now = mutated["year"] == 2013
    mutated.loc[now, "victims"] = mutated.loc[now, "victims"] * 10
    moved = pm.history_features(keys, mutated, census)
    assert not np.allclose(before["last_value"], moved["last_value"])


def test_a_reporting_year_without_the_pair_counts_zero_in_its_last_value():
    pairs = pd.DataFrame([("AAA", "SYR", 2010, 40.0, False)], columns=["detecting_iso3", "citizenship_iso3", "year",
                                                                        "victims", "censored"])
    census = pd.DataFrame({"detecting_iso3": ["AAA", "AAA"], "year": [2010, 2012]})
    keys = pd.DataFrame({"d": ["AAA", "AAA"], "o": ["SYR", "SYR"], "cutoff": [2011, 2012]})
    feats = pm.history_features(keys, pairs, census).set_index("cutoff")
    assert feats.loc[2011, "last_value"] == pytest.approx(np.log1p(40))
    assert feats.loc[2012, "last_value"] == 0.0  # AAA reported in 2012 and did not list SYR
    assert feats.loc[2012, "max_value"] == pytest.approx(np.log1p(40))


def test_the_model_answers_never_listed_pairs_and_years_after_the_last_label():
    pairs, census = synthetic_pairs()
    drivers = wl.driver_panel(synthetic_obs(), years=list(range(2000, 2021))).drivers
    examples = pm.build_examples(pairs, census, drivers, coords())
    assert examples["horizon"].isin(pm.HORIZONS).all()
    assert (examples["year"] == examples["cutoff"] + examples["horizon"]).all()
    assert not examples.duplicated(["d", "o", "cutoff", "horizon"]).any()
    table, _oos = pm.backtest(examples[examples["cutoff"] >= 2012])  # short: tests cutoffs 2015-2019
    assert set(table["horizon"]) == set(pm.HORIZONS)
    assert (table["rmsle_last_value"] > 0).all()
    booster = pm._fit(examples)
    meta = {"last_label_year": 2020, "interval_halfwidth_log": {1: 0.5, 2: 0.7, 3: 0.9}}
    listed = pairs[["detecting_iso3", "citizenship_iso3"]].drop_duplicates()
    never = next((d, o) for d in [f"C{i:02d}" for i in range(6)] for o in [f"C{i:02d}" for i in range(30)]
                 if d != o and not ((listed["detecting_iso3"] == d) & (listed["citizenship_iso3"] == o)).any())
    keys = pd.DataFrame({"d": [never[0], "C00", "C00"], "o": [never[1], "C05", "C05"], "year": [2022, 2019, 2026]})
    out = pm.predict_pairs(booster, meta, keys, pairs, census, drivers, coords())
    assert len(out) == 3 and out["expected_victims"].notna().all()
    assert list(out["year"]) == [2022, 2019, 2026]
    assert (out["lower"] <= out["expected_victims"]).all() and (out["expected_victims"] <= out["upper"]).all()
    assert list(out["horizon"]) == [2, 1, 6]
    assert "never listed" in out["basis"].iloc[0] and "beyond 3" in out["basis"].iloc[2]


def test_bad_pairs_file_names_the_row_and_the_column(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("detecting_iso3,citizenship_iso3,year\nDEU,SYR,2022\nDEU,XXQ,2022\nFRA,UKR,20x1\n")
    with pytest.raises(pm.PairInputError) as err:
        pm.read_pairs_file(path, {"DEU", "SYR", "FRA", "UKR"})
    message = str(err.value)
    assert "row 3, column citizenship_iso3: 'XXQ'" in message
    assert "row 4, column year: '20x1'" in message
    assert "row 2" not in message
    path.write_text("detecting,citizenship_iso3,year\nDEU,SYR,2022\n")
    with pytest.raises(pm.PairInputError, match="missing column"):
        pm.read_pairs_file(path, {"DEU", "SYR"})


def test_pair_model_artefact_is_verified(tmp_path):
    from models.registry import RegistryError

    pairs, census = synthetic_pairs()
    drivers = wl.driver_panel(synthetic_obs(), years=list(range(2000, 2021))).drivers
    booster = pm._fit(pm.build_examples(pairs, census, drivers, coords()))
    pm.save_pair_model(booster, {"features": list(pm.FEATURES), "last_label_year": 2020}, tmp_path)
    loaded, meta = pm.load_pair_model(tmp_path)
    assert meta["last_label_year"] == 2020 and list(loaded.feature_names) == list(pm.FEATURES)
    (tmp_path / pm.META_FILE).write_text('{"features": [], "last_label_year": 2030}')
    with pytest.raises(RegistryError, match="checksum"):
        pm.load_pair_model(tmp_path)
