"""Crisis-phase curves (issue 14): each event rule on small real extracts, and the event study on a frame
whose
answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import phases


def obs_frame(rows: list[tuple[str, int, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["region_id", "year", "indicator", "value"]).assign(level=0)


@pytest.fixture(scope="module")
def cfg() -> dict:
    return phases.load_config()


# --- event rules on real extracts (values copied from the warehouse built from data/raw)

REF, ASY = "displacement.refugees_by_origin", "displacement.asylum_seekers_by_origin"
# UNHCR population statistics (data/raw/unhcr_population), Syria by origin 2010-2014
SYRIA_OUTFLOW = [
    ("SYR", 2010, REF, 18451),
    ("SYR", 2011, REF, 19931),
    ("SYR", 2012, REF, 729011),
    ("SYR", 2013, REF, 2468323),
    ("SYR", 2014, REF, 3887490),
    ("SYR", 2010, ASY, 9739),
    ("SYR", 2011, ASY, 14441),
    ("SYR", 2012, ASY, 26016),
    ("SYR", 2013, ASY, 41019),
    ("SYR", 2014, ASY, 79649),
]


def test_outflow_surge_syria_2012_13(cfg):
    ev = phases.outflow_surges(obs_frame(SYRIA_OUTFLOW), cfg["outflow_surge"])
    # 2012: 34,372 -> 755,027 (x22); 2013: -> 2,509,342 (x3.3); 2014: -> 3,967,139 (x1.6, not double)
    assert ev["year"].tolist() == [2012, 2013]
    assert ev.iloc[0]["previous"] == pytest.approx(19931 + 14441)
    assert "x22.0" in ev.iloc[0]["detail"]


def test_outflow_surge_needs_the_minimum_increase(cfg):
    # doubling of a small number is not a surge: 4,000 -> 9,000 is x2.25 but only +5,000
    small = obs_frame([("XKX", 2000, REF, 4000), ("XKX", 2001, REF, 9000)])
    assert phases.outflow_surges(small, cfg["outflow_surge"]).empty
    rule = {**cfg["outflow_surge"], "min_increase": 1000}
    assert phases.outflow_surges(small, rule)["year"].tolist() == [2001]


ACD = "conflict.armed_conflicts"
# UCDP/PRIO ACD v24.1 (data/raw/ucdp_country_year): Ukraine 2014-2016, Syria 2011-2013
CONFLICT_EXTRACT = [
    ("UKR", 2014, ACD, 4),
    ("UKR", 2015, ACD, 1),
    ("UKR", 2016, ACD, 1),
    ("SYR", 2011, ACD, 1),
    ("SYR", 2012, ACD, 2),
    ("SYR", 2013, ACD, 3),
]


def test_conflict_onset_ukraine_2014(cfg):
    ev = phases.conflict_onsets(obs_frame(CONFLICT_EXTRACT), cfg["conflict_onset"])
    # coverage of this extract starts in 2011: Syria 2011 has no known quiet years before it, so it is not an
    # onset here; Ukraine 2014 follows 2012-2013 without a conflict (inside the coverage)
    assert list(zip(ev["region_id"], ev["year"], strict=True)) == [("UKR", 2014)]
    # with the coverage from 2008 (a conflict row elsewhere that year), Syria 2011 becomes an onset too
    wider = obs_frame([*CONFLICT_EXTRACT, ("IND", 2008, ACD, 3)])
    ev = phases.conflict_onsets(wider, cfg["conflict_onset"])
    # (India 2008 opens the coverage, so it cannot be an onset)
    assert set(zip(ev["region_id"], ev["year"], strict=True)) == {("UKR", 2014), ("SYR", 2011)}


IDMC, UNHCR_IDP = "displacement.idmc_conflict_idps", "displacement.idps_unhcr"
# IDMC conflict IDPs (data/raw/unhcr_population idmc file): Syria 2010-2013, Ukraine 2020-2023
IDP_EXTRACT = [
    ("SYR", 2010, IDMC, 433000),
    ("SYR", 2011, IDMC, 600000),
    ("SYR", 2012, IDMC, 3000000),
    ("SYR", 2013, IDMC, 6500000),
    ("SYR", 2012, UNHCR_IDP, 2016500),
    ("UKR", 2020, IDMC, 734000),
    ("UKR", 2021, IDMC, 854000),
    ("UKR", 2022, IDMC, 5914000),
    ("UKR", 2023, IDMC, 3689000),
]


def test_idp_surge_syria_2012_13_and_ukraine_2022(cfg):
    ev = phases.idp_surges(obs_frame(IDP_EXTRACT), cfg["idp_surge"])
    assert list(zip(ev["region_id"], ev["year"], strict=True)) == [
        ("SYR", 2012),
        ("SYR", 2013),
        ("UKR", 2022),
    ]
    # IDMC wins over UNHCR where both exist (Syria 2012: 3.0 million, not 2.0 million)
    assert ev.iloc[0]["value"] == 3000000


DEATHS, AFFECTED, POP = "hazard.disaster_deaths", "hazard.disaster_affected", "structural.population"
# EM-DAT via OWID (data/raw/emdat) and World Bank population: Haiti 2009-2011, Pakistan
# 2009-2011
DISASTER_EXTRACT = [
    ("HTI", 2009, DEATHS, 21),
    ("HTI", 2010, DEATHS, 222641),
    ("HTI", 2011, DEATHS, 39),
    ("HTI", 2009, AFFECTED, 12706),
    ("HTI", 2010, AFFECTED, 3800229),
    ("HTI", 2011, AFFECTED, 7482),
    ("HTI", 2010, POP, 9803294),
    ("PAK", 2009, DEATHS, 102),
    ("PAK", 2010, DEATHS, 2186),
    ("PAK", 2011, DEATHS, 511),
    ("PAK", 2009, AFFECTED, 75080),
    ("PAK", 2010, AFFECTED, 20397901),
    ("PAK", 2011, AFFECTED, 5401755),
    ("PAK", 2009, POP, 194376534),
    ("PAK", 2010, POP, 199239047),
    ("PAK", 2011, POP, 203746065),
]


def test_large_disaster_haiti_2010_pakistan_2010(cfg):
    ev = phases.large_disasters(obs_frame(DISASTER_EXTRACT), cfg["large_disaster"])
    # Haiti earthquake 2010 (222,641 deaths) and Pakistan floods 2010 (20.4 million affected, 10% of people);
    # Pakistan 2011 (5.4 million affected = 2.7% of the population, 511 deaths) is below both thresholds
    assert list(zip(ev["region_id"], ev["year"], strict=True)) == [("HTI", 2010), ("PAK", 2010)]


def test_onsets_start_spells(cfg):
    events = phases.detect_events(obs_frame(SYRIA_OUTFLOW + IDP_EXTRACT), cfg)
    surges = events[events["event_type"] == "outflow_surge"]
    assert surges[surges["onset"]]["year"].tolist() == [2012]  # 2013 continues the 2012 spell
    idp = events[(events["event_type"] == "idp_surge") & events["onset"]]
    assert list(zip(idp["region_id"], idp["year"], strict=True)) == [("SYR", 2012), ("UKR", 2022)]


def test_config_without_a_rule_is_refused(tmp_path):
    bad = tmp_path / "phases.toml"
    bad.write_text("[phases]\nks = [0]\n")
    with pytest.raises(ValueError, match="lacks the rule"):
        phases.load_config(bad)


# --- the event study on a frame whose answer is known

TAU = {0: 0.2, 1: 0.5, 2: 0.9, 3: 0.6, 4: 0.3, 5: 0.1, 6: 0.0}


def known_panel(noise: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outcome = year effect + country effect (+ TAU[k] in the years after a treated country's event).

    Year effects (a world-wide trend of +0.1 a year and a jump in 2012) and country levels must be removed by
    the
    design, so the estimated curve must be TAU exactly (0 before the event) when there is no noise.
    """
    rng = np.random.default_rng(1)
    years = range(2000, 2021)
    year_effect = {y: 0.1 * (y - 2000) + (0.4 if y >= 2012 else 0.0) for y in years}
    event_year = {"T1": 2008, "T2": 2010, "T3": 2011, "T4": 2012}
    rows = []
    for c in ["T1", "T2", "T3", "T4", "C1", "C2", "C3", "C4", "C5"]:
        level = rng.normal(3, 1)
        for y in years:
            k = y - event_year.get(c, 9999)
            rows.append((c, y, year_effect[y] + level + TAU.get(k, 0.0) + rng.normal(0, noise)))
    panel = pd.DataFrame(rows, columns=["region_id", "year", "v"]).pivot(
        index="region_id", columns="year", values="v"
    )
    events = pd.DataFrame({"region_id": list(event_year), "year": list(event_year.values()), "onset": True})
    return panel, events


def test_event_study_recovers_a_known_curve(cfg):
    panel, events = known_panel()
    ks = [int(k) for k in cfg["ks"]]
    changes = phases.panel_changes(panel, list(range(2003, 2021)), ks, 3, 1)
    curve, summary = phases.event_study(changes, events, {**cfg, "min_events": 1, "bootstrap_reps": 200})
    expected = [TAU.get(k, 0.0) for k in ks]
    assert curve["effect"].to_numpy() == pytest.approx(expected, abs=1e-9)
    # every event has its full window inside 2000-2020 except T4 at k=+6... (2018 <= 2020: all inside)
    assert curve["n"].tolist() == [4] * len(ks)
    # without noise every bootstrap replicate gives the same answer: the intervals collapse on TAU
    assert curve["lower"].to_numpy() == pytest.approx(expected, abs=1e-9)
    assert curve["upper"].to_numpy() == pytest.approx(expected, abs=1e-9)
    assert summary["verdict"] == "rise" and summary["peak_k"] == 2
    assert summary["pretrend"]["passed"]


def test_event_study_with_noise_covers_the_truth_and_says_no_change_when_there_is_none(cfg):
    panel, events = known_panel(noise=0.05)
    ks = [int(k) for k in cfg["ks"]]
    changes = phases.panel_changes(panel, list(range(2003, 2021)), ks, 3, 1)
    curve, _ = phases.event_study(changes, events, {**cfg, "min_events": 1, "bootstrap_reps": 300})
    k2 = curve.set_index("k").loc[2]
    assert abs(k2["effect"] - 0.9) < 0.1
    assert k2["lower"] > 0  # a 0.9 jump against noise 0.05 is detected
    # the same countries with no effect at all: the verdict must be "no detectable change"
    flat = panel.copy()
    for c, y in zip(events["region_id"], events["year"], strict=True):
        for k, tau in TAU.items():
            if y + k in flat.columns:
                flat.loc[c, y + k] -= tau
    changes = phases.panel_changes(flat, list(range(2003, 2021)), ks, 3, 1)
    curve, summary = phases.event_study(changes, events, {**cfg, "min_events": 1, "bootstrap_reps": 300})
    assert summary["verdict"] == "no detectable change"
    assert curve["effect"].abs().max() < 0.15


def test_placebo_excludes_country_years_near_an_event():
    changes = pd.DataFrame(
        {
            "region_id": ["A", "A", "A", "A", "B"],
            "anchor": [2000, 2012, 2018, 2020, 2012],
            "k": [0, 0, 0, 0, 0],
            "change": [0.0] * 5,
        }
    )
    events = pd.DataFrame({"region_id": ["A"], "year": [2010]})
    clean = phases.placebo_anchors(changes, events, pre_years=3, max_k=6)
    # A 2000: the event (2010) comes after 2000+6; A 2012: inside the window; A 2018: the event's own post
    # years
    # (2010-2016) reach into the baseline 2015-2017; A 2020: they end before its baseline 2017-2019; B: no
    # event
    assert clean.tolist() == [True, False, False, True, True]


def test_thin_points_have_no_interval(cfg):
    panel, events = known_panel(noise=0.05)
    ks = [int(k) for k in cfg["ks"]]
    changes = phases.panel_changes(panel, list(range(2003, 2021)), ks, 3, 1)
    curve, _ = phases.event_study(changes, events.iloc[:2], {**cfg, "min_events": 3, "bootstrap_reps": 50})
    assert (curve["n"] == 2).all() and curve["lower"].isna().all()


# --- nationals detected abroad: the pair definition


def test_pair_changes_follow_the_realised_change_definition():
    """Origin O is listed by D1 and D2. D1 reports 2010-2013, D2 reports 2010-2012 only; D3 reports but never
    lists O.

    Anchor 2013, k=0: baseline 2010-2012, target 2013. Eligible: D1 (reported in both) only, D2 did not report
    in
    2013 -> one detecting country < 2: no value. With min_detecting=1 the change is log1p(9) - mean(log1p 2.5,
    log1p 4, 0) (D1 reported in 2012 without listing O: a 0).
    """
    pairs = pd.DataFrame(
        {
            "detecting_iso3": ["D1", "D1", "D1", "D2", "D2", "D3"],
            "citizenship_iso3": ["O", "O", "O", "O", "O", "X"],
            "year": [2010, 2011, 2013, 2010, 2011, 2013],
            "victims": [5.0, 4.0, 9.0, 7.0, 3.0, 6.0],
            "censored": [True, False, False, False, False, False],
        }
    )
    census = pd.DataFrame(
        {
            "detecting_iso3": ["D1", "D1", "D1", "D1", "D2", "D2", "D2", "D3", "D3"],
            "year": [2010, 2011, 2012, 2013, 2010, 2011, 2012, 2012, 2013],
        }
    )
    assert phases.pair_changes(pairs, census, [2013], [0]).empty
    out = phases.pair_changes(pairs, census, [2013], [0], min_detecting=1)
    o = out[out["region_id"] == "O"]
    expected = np.log1p(9) - (np.log1p(2.5) + np.log1p(4) + 0) / 3
    assert o["change"].iloc[0] == pytest.approx(expected)
