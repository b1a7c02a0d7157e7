"""External-validity sign test on the shipped data (issue 11 item 5).

Loads the real sources the watch list reads (and GLOTIP, whose citizenship pairs choose the headline when
loaded),
computes the headline ranking the protocol picks, and fails if its latest year correlates negatively with
INFORM
Risk. The detected-victims ranking failed exactly this check (rho about -0.46), which is why the headline
changed.
"""

from __future__ import annotations

import pytest

from models import external
from models import watchlist as wl
from tests.conftest import RAW_DIR

SOURCES = [
    "natural_earth",
    "country_codes",
    "wb_population",
    "wb_gdp",
    "wgi",
    "owid_conflict_deaths",
    "unhcr_population",
    "unhcr_idmc",
    "idmc_country_year",
    "emdat",
    "inform_risk",
    "oc_index",
    "gsi_2016",
    "unodc_glotip",
]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    from etl.loader import run
    from tests.conftest import _fresh_url, drop_database
    from warehouse.db import make_engine, migrate

    url = _fresh_url(tmp_path_factory.mktemp("watchlist"), "watchlist")
    engine = make_engine(url)
    migrate(engine)
    results = run(engine, names=SOURCES, raw_dir=RAW_DIR)
    assert all(r.status == "loaded" for r in results), [
        (r.source, r.error) for r in results if r.status != "loaded"
    ]
    yield engine
    engine.dispose()
    drop_database(url)


def test_headline_ranking_of_the_latest_year_does_not_correlate_negatively_with_inform(shipped):
    from warehouse.io import read_observations

    obs = read_observations(shipped, indicators=wl.needed_indicators(), level=0)
    panel = wl.driver_panel(obs).drivers
    pairs, census = wl.read_pairs(shipped)
    labels = wl.realised_change(pairs, census) if len(pairs) else wl._no_labels()
    listed = wl.realised_change(pairs, census, variant="listed") if len(pairs) else wl._no_labels()
    headline = wl.run_protocol(panel, labels, listed, reps=50)["headline"]
    booster = None
    if headline == "xgboost":
        target = labels.assign(t=wl.year_demeaned(labels)).set_index(["origin", "year"])["t"]
        target.index.names = ["region_id", "year"]
        train = panel.join(target, how="inner")
        booster = wl._fit_xgb(train[list(wl.XGB_FEATURES)], train["t"])
    scores, _cal = wl.watchlist_frame(panel, headline, labels, booster)
    rows = external.external_validity(shipped, scores)
    latest = max(r["year"] for r in rows if r["reference"] == "INFORM Risk")
    inform = next(r for r in rows if r["reference"] == "INFORM Risk" and r["year"] == latest)
    assert latest == int(scores["year"].max())
    assert inform["n"] >= 150
    assert (
        inform["spearman"] >= 0
    ), f"the {headline} watch list correlates negatively with INFORM Risk: {inform}"
    # the checks cover every reference the issue names, for the latest three years
    assert {r["reference"] for r in rows} >= {
        "INFORM Risk",
        "OC Index human trafficking",
        "OC Index resilience",
        "GSI 2016 vulnerability",
    }
    assert len({r["year"] for r in rows}) == 3
