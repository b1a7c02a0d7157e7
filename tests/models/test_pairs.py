"""Pair model (issue 11 item 3): own past without leakage, answers for any pair and year, clear input
errors."""

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
    return pd.DataFrame(
        {
            "region_id": [f"C{i:02d}" for i in range(30)],
            "lon": np.linspace(-150, 150, 30),
            "lat": np.linspace(-50, 60, 30),
        }
    )


def test_history_for_a_cutoff_ignores_reports_dated_after_it():
    pairs, census = synthetic_pairs()
    keys = pairs[["detecting_iso3", "citizenship_iso3"]].drop_duplicates().set_axis(["d", "o"], axis=1)
    keys = keys.assign(cutoff=2013)
    before = pm.history_features(keys, pairs, census)
    mutated = pairs.copy()
    late = mutated["year"] > 2013
    mutated.loc[late, "victims"] = mutated.loc[late, "victims"] * 10 + 3
    extra = pd.DataFrame(
        [("C00", "C29", 2015, 900.0, False)], columns=pairs.columns
    )  # a new listing after 2013
    after = pm.history_features(keys, pd.concat([mutated, extra]), census)
    pd.testing.assert_frame_equal(before, after)
    # the cutoff year itself enters: changing it moves the pair's last value
    now = mutated["year"] == 2013
    mutated.loc[now, "victims"] = mutated.loc[now, "victims"] * 10
    moved = pm.history_features(keys, mutated, census)
    assert not np.allclose(before["last_value"], moved["last_value"])


def test_a_reporting_year_without_the_pair_counts_zero_in_its_last_value():
    pairs = pd.DataFrame(
        [("AAA", "SYR", 2010, 40.0, False)],
        columns=["detecting_iso3", "citizenship_iso3", "year", "victims", "censored"],
    )
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
    never = next(
        (d, o)
        for d in [f"C{i:02d}" for i in range(6)]
        for o in [f"C{i:02d}" for i in range(30)]
        if d != o and not ((listed["detecting_iso3"] == d) & (listed["citizenship_iso3"] == o)).any()
    )
    keys = pd.DataFrame(
        {"d": [never[0], "C00", "C00"], "o": [never[1], "C05", "C05"], "year": [2022, 2019, 2026]}
    )
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


# --- pair-side features: diaspora of o in d, shared land border, leakage of displacement pairs


def _displacement(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["origin_iso3", "asylum_iso3", "year", "refugees", "asylum_seekers"])


def test_diaspora_is_the_latest_stock_of_o_in_d_dated_at_or_before_the_cutoff():
    # Syrians: 900 + 100 in AAA and 3,000 elsewhere (BBB) in 2012; 90 + 9 in AAA in 2010; 5,000 in AAA in 2014
    disp = _displacement(
        [
            ("SYR", "AAA", 2010, 90.0, 9.0),
            ("SYR", "AAA", 2012, 900.0, 100.0),
            ("SYR", "BBB", 2012, 3000.0, np.nan),
            ("SYR", "AAA", 2014, 5000.0, 0.0),
        ]
    )
    keys = pd.DataFrame(
        {"d": ["AAA", "AAA", "CCC"], "o": ["SYR", "SYR", "SYR"], "cutoff": [2012, 2013, 2012]}
    )
    got = pm.diaspora_features(keys, disp)
    # cutoff 2012: 1,000 in AAA (blank asylum-seekers in BBB count as none); 2 years earlier 99
    assert got.loc[0, "diaspora_log"] == pytest.approx(np.log1p(1000))
    assert got.loc[0, "diaspora_growth_2y"] == pytest.approx(np.log1p(1000) - np.log1p(99))
    assert got.loc[0, "diaspora_share"] == pytest.approx(1000 / 4000)
    # cutoff 2013: the table lists no SYR in AAA in 2013, a covered year: 0 people, not the 2012 value carried
    # on; and no Syrians abroad at all that year, so the share is undefined (NaN), not 0
    assert got.loc[1, "diaspora_log"] == 0.0 and np.isnan(got.loc[1, "diaspora_share"])
    # a country UNHCR never lists as hosting Syrians: 0 people, share 0 of the 3,000 + 1,000 abroad
    assert got.loc[2, "diaspora_log"] == 0.0 and got.loc[2, "diaspora_share"] == 0.0
    # no table (an older warehouse): missing, not zero
    assert pm.diaspora_features(keys, None)[list(pm.DIASPORA_FEATURES)].isna().all().all()


def test_a_displacement_pair_dated_after_the_cutoff_changes_nothing():
    disp = _displacement(
        [
            ("SYR", "AAA", 2011, 400.0, 50.0),
            ("SYR", "AAA", 2012, 900.0, 100.0),
            ("SYR", "BBB", 2012, 3000.0, 0.0),
            ("AFG", "AAA", 2012, 10.0, 0.0),
        ]
    )
    keys = pd.DataFrame(
        {"d": ["AAA", "BBB", "AAA"], "o": ["SYR", "SYR", "AFG"], "cutoff": [2012, 2012, 2012]}
    )
    before = pm.diaspora_features(keys, disp)
    later = _displacement(
        [
            ("SYR", "AAA", 2013, 1e6, 1e5),
            ("SYR", "CCC", 2013, 5e6, 0.0),
            ("AFG", "AAA", 2015, 1e5, 0.0),
            ("SYR", "BBB", 2014, 1.0, 1.0),
        ]
    )
    after = pm.diaspora_features(keys, pd.concat([disp, later], ignore_index=True))
    pd.testing.assert_frame_equal(before, after)
    # the cutoff year itself enters: a changed 2012 value moves the feature
    moved = disp.assign(refugees=np.where(disp["year"] == 2012, disp["refugees"] * 10, disp["refugees"]))
    assert not np.allclose(pm.diaspora_features(keys, moved)["diaspora_log"], before["diaspora_log"])


def test_the_whole_feature_row_ignores_displacement_after_the_cutoff():
    pairs, census = synthetic_pairs()
    drivers = wl.driver_panel(synthetic_obs(), years=list(range(2000, 2021))).drivers
    rng = np.random.default_rng(3)
    names = [f"C{i:02d}" for i in range(30)]
    disp = _displacement(
        [
            (o, d, y, float(rng.integers(0, 5000)), float(rng.integers(0, 500)))
            for o in names
            for d in names[:6]
            if o != d
            for y in range(2005, 2021)
        ]
    )
    ctx = pm.PairContext(displacement=disp, borders=pd.DataFrame({"a": ["C00", "C01"], "b": ["C01", "C00"]}))
    examples = pm.build_examples(pairs, census, drivers, coords(), ctx)
    early = examples[examples["cutoff"] <= 2013].reset_index(drop=True)
    shifted = disp.assign(refugees=np.where(disp["year"] > 2013, disp["refugees"] * 7 + 11, disp["refugees"]))
    again_all = pm.build_examples(pairs, census, drivers, coords(), pm.PairContext(shifted, ctx.borders))
    again = again_all[again_all["cutoff"] <= 2013].reset_index(drop=True)
    pd.testing.assert_frame_equal(early[list(pm.FEATURES)], again[list(pm.FEATURES)])
    # the change did reach the later cutoffs (so the equality above is not vacuous)
    assert not np.allclose(
        examples.loc[examples["cutoff"] > 2013, "diaspora_log"],
        again_all.loc[again_all["cutoff"] > 2013, "diaspora_log"],
    )
    assert examples["shared_border"].sum() > 0  # C00-C01 pairs carry the border flag


def test_shared_border_comes_from_touching_polygons(engine):
    from shapely.geometry import Polygon

    from warehouse.schema import region

    # AAA and BBB share the edge x = 1; CCC is an island 0.5 degrees east of BBB; DDD has no geometry
    shapes = {
        "AAA": Polygon([(0, 0), (1, 0), (1, 1), (0, 1)]),
        "BBB": Polygon([(1, 0), (2, 0), (2, 1), (1, 1)]),
        "CCC": Polygon([(2.5, 0), (3, 0), (3, 1), (2.5, 1)]),
        "DDD": None,
    }
    with engine.begin() as conn:
        for code, shape in shapes.items():
            conn.execute(
                region.insert().values(
                    region_id=code,
                    level=0,
                    iso3=code,
                    name=code,
                    type="country",
                    geometry_wkb=shape.wkb_hex if shape is not None else None,
                )
            )
    borders = pm.border_pairs(engine)
    assert set(zip(borders["a"], borders["b"], strict=True)) == {("AAA", "BBB"), ("BBB", "AAA")}
    keys = pd.DataFrame({"d": ["AAA", "BBB", "CCC", "DDD"], "o": ["BBB", "AAA", "BBB", "AAA"]})
    assert pm.border_features(keys, borders)["shared_border"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert pm.border_features(keys, None)["shared_border"].isna().all()  # no geometry at all: missing


def test_real_regions_give_known_land_borders(regions_engine):
    borders = pm.border_pairs(regions_engine)
    got = set(zip(borders["a"], borders["b"], strict=True))
    for a, b in (("DEU", "FRA"), ("USA", "MEX"), ("SYR", "TUR"), ("NGA", "NER"), ("UKR", "POL")):
        assert (a, b) in got and (b, a) in got
    for a, b in (("GBR", "FRA"), ("AUS", "NZL"), ("DEU", "ESP"), ("JPN", "KOR")):
        assert (a, b) not in got
    assert 250 <= len(got) // 2 <= 450  # about 320 land borders between the world's countries


def test_detecting_intensity_uses_reports_up_to_the_cutoff_only():
    pairs = pd.DataFrame(
        [
            ("AAA", "AAA", 2010, 30.0, False),
            ("AAA", "SYR", 2010, 5.0, True),
            ("AAA", "SYR", 2012, 40.0, False),
            ("AAA", "IRQ", 2014, 900.0, False),
        ],
        columns=["detecting_iso3", "citizenship_iso3", "year", "victims", "censored"],
    )
    census = pd.DataFrame(
        {"detecting_iso3": ["AAA"] * 3, "year": [2010, 2012, 2014], "n_citizenships": [2, 1, 1]}
    )
    keys = pd.DataFrame({"d": ["AAA"], "o": ["SYR"], "cutoff": [2012]})
    got = pm.intensity_features(keys, pairs, census).iloc[0]
    assert got["detecting_years_reported"] == 2  # 2010 and 2012; 2014 is after the cutoff
    assert got["detecting_citizenships_mean3"] == pytest.approx((2 + 1) / 2)
    assert got["detecting_total_log"] == pytest.approx(np.log1p(40))  # the 2012 report; nationals would count


def test_blend_weight_is_fitted_on_the_rows_given():
    rng = np.random.default_rng(0)
    mean3 = rng.normal(2, 1, 600)
    target = mean3 + rng.normal(0, 0.1, 600)  # the 3-year mean is right: the best weight of the model is 0
    oos = pd.DataFrame(
        {
            "horizon": np.repeat([1, 2, 3], 200),
            "mean_3y": mean3,
            "target": target,
            "pred": mean3 + rng.normal(0, 1, 600),
        }
    )
    weights = pm.blend_weights(oos)
    assert all(w <= 0.1 for w in weights.values())
    assert pm.blend_weights(oos.iloc[:10]) == {1: 1.0, 2: 1.0, 3: 1.0}  # too few rows: model alone
    blended = pm.apply_blend(
        np.full(3, 4.0), pd.DataFrame({"horizon": [1, 2, 3], "mean_3y": [0.0] * 3}), {1: 0.5, 2: 1.0, 3: 0.0}
    )
    assert blended.tolist() == [2.0, 4.0, 0.0]
