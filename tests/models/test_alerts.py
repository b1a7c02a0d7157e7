"""Alert rules (issue 14): each condition on small frames, the cool-down, rule validation and audit,
idempotent
evaluation, the review flow and the backtest on a frame whose answer is known.

Values in the frames are made up for the test and explained next to them; the Syria numbers are the UNHCR
values
of data/raw/unhcr_population (as in tests/models/test_phases.py).
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from models import alerts
from tests.conftest import _fresh_url
from warehouse import accounts
from warehouse.schema import alert, audit_log, region

REF, ASY = "displacement.refugees_by_origin", "displacement.asylum_seekers_by_origin"
IDMC, DEATHS = "displacement.idmc_conflict_idps", "conflict.deaths_organised_violence"


def obs_frame(rows):
    return pd.DataFrame(rows, columns=["region_id", "year", "indicator", "value"]).assign(level=0)


def inputs(obs_rows=(), watch=None, preds=None) -> alerts.Inputs:
    return alerts.Inputs(
        obs_frame(list(obs_rows)),
        watch if watch is not None else pd.DataFrame(columns=["region_id", "year", "score", "rank"]),
        (
            preds
            if preds is not None
            else pd.DataFrame(columns=["region_id", "year", "estimate", "lower", "upper"])
        ),
    )


def rule(condition: str, params: dict, minimum=None, cooldown=0, scope="*", name="r") -> dict:
    return {
        "rule_id": 1,
        "name": name,
        "condition": condition,
        "params_json": params,
        "minimum": minimum,
        "cooldown_years": cooldown,
        "region_scope": scope,
    }


SYRIA = [
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


def test_outflow_surge_rule_and_cooldown():
    fired = alerts.rule_firings(rule("outflow_surge", {"ratio": 2.0, "min_increase": 10_000}), inputs(SYRIA))
    assert fired["period"].tolist() == [2012, 2013]
    # a 1-year cool-down keeps 2012 only: 2013 follows within a year of a kept firing
    cooled = alerts.rule_firings(
        rule("outflow_surge", {"ratio": 2.0, "min_increase": 10_000}, cooldown=1), inputs(SYRIA)
    )
    assert cooled["period"].tolist() == [2012]


def test_new_maximum_rule_needs_a_new_high_and_the_minimum():
    # displaced total (abroad + IDPs): 2012 = 755,027 + 3.0 million is above 2009-2011; 2014 above 2011-2013
    # too
    rows = SYRIA + [
        ("SYR", 2011, IDMC, 600000),
        ("SYR", 2012, IDMC, 3000000),
        ("SYR", 2013, IDMC, 6500000),
        ("SYR", 2014, IDMC, 6000000),
    ]
    r = rule("new_maximum", {"series": "displaced_total", "lookback_years": 3}, minimum=100_000)
    fired = alerts.rule_firings(r, inputs(rows))
    # 2011: 634,372 > 28,190 (2010); 2012, 2013 new highs; 2014: 9.97 million > 9.01 million (2013)
    assert fired["period"].tolist() == [2011, 2012, 2013, 2014]
    r_high_min = rule("new_maximum", {"series": "displaced_total", "lookback_years": 3}, minimum=9_500_000)
    assert alerts.rule_firings(r_high_min, inputs(rows))["period"].tolist() == [2014]
    deaths = [
        ("AAA", 2018, DEATHS, 500),
        ("AAA", 2019, DEATHS, 400),
        ("AAA", 2020, DEATHS, 450),
        ("AAA", 2021, DEATHS, 499),
    ]
    # 2021's 499 is below the 2018-2020 high (500): no firing; 2019/2020 are not highs either
    assert alerts.rule_firings(
        rule("new_maximum", {"series": "conflict_deaths", "lookback_years": 3}), inputs(deaths)
    ).empty


def test_watchlist_rules():
    watch = pd.DataFrame(
        {
            "region_id": ["A", "A", "A", "B", "B", "B"],
            "year": [2020, 2021, 2022] * 2,
            "score": [0.0, 0.01, 0.5, 0.2, 0.2, 0.2],
            "rank": [30, 20, 3, 5, 5, 5],
        }
    )
    top = alerts.rule_firings(rule("watchlist_enters_top", {"top_n": 15}), inputs(watch=watch))
    # A enters the top 15 in 2022 (20 -> 3); B is in it all along (no entry: 2020 has no earlier list)
    assert list(zip(top["region_id"], top["period"], strict=True)) == [("A", 2022)]
    jump = alerts.rule_firings(
        rule("watchlist_jump", {"quantile": 0.9, "min_history": 2}, minimum=0.05), inputs(watch=watch)
    )
    # 2022: A's +0.49 is above the 90th percentile of the earlier changes (0.01, 0.0); B's 0.0 is not a rise
    assert list(zip(jump["region_id"], jump["period"], strict=True)) == [("A", 2022)]


def test_above_previous_upper_rule():
    preds = pd.DataFrame(
        {
            "region_id": ["A", "A", "B", "B"],
            "year": [2024, 2025, 2024, 2025],
            "estimate": [1.0, 2.5, 1.0, 1.9],
            "lower": [0.5, 2.0, 0.5, 1.0],
            "upper": [2.0, 3.0, 2.0, 2.2],
        }
    )
    fired = alerts.rule_firings(rule("above_previous_upper", {}), inputs(preds=preds))
    assert list(zip(fired["region_id"], fired["period"], strict=True)) == [
        ("A", 2025)
    ]  # 2.5 > 2.0; 1.9 < 2.0


def test_region_scope():
    r = rule("outflow_surge", {"ratio": 2.0, "min_increase": 10_000}, scope="UKR")
    assert alerts.rule_firings(r, inputs(SYRIA)).empty


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"condition": "moon_phase"}, "condition"),
        ({"params": {"series": "gdp"}}, "params.series"),
        ({"cooldown_years": -1}, "cooldown_years"),
        ({"minimum": "lots"}, "minimum"),
        ({"region_scope": "SYRIA,1"}, "region_scope"),
        ({"name": "x"}, "name"),
    ],
)
def test_rule_validation_names_the_field(bad, field):
    good = {"name": "ok-rule", "condition": "new_maximum", "params": {"series": "conflict_deaths"}}
    with pytest.raises(alerts.RuleError, match=field.replace(".", r"\.")):
        alerts.validate_rule({**good, **bad})


def test_backtest_hit_rate_against_known_labels():
    # firings: SYR 2012 (surge) only after the 3-year cool-down; labels: SYR 2012 rose (+0.4), base rate 1/2
    labels = pd.DataFrame(
        {"origin": ["SYR", "FRA"], "year": [2012, 2012], "change": [0.4, -0.1], "n_detecting": [5, 5]}
    )
    bt = alerts.backtest_rule(
        rule("outflow_surge", {"ratio": 2.0, "min_increase": 10_000}, cooldown=3, name="surge"),
        inputs(SYRIA),
        labels,
    )
    assert bt["fired"] == 1 and bt["n_with_outcome"] == 1 and bt["hits"] == 1 and bt["hit_rate"] == 1.0
    assert bt["base_rate"] == 0.5
    lo, hi = bt["hit_rate_interval"]
    assert 0 < lo < 1 and hi == 1.0  # one hit out of one says little: the interval is wide
    assert alerts.wilson(0, 0) == (None, None)


# --- stored alerts: idempotent evaluation and the review flow


@pytest.fixture
def engine(tmp_path):
    from warehouse.db import make_engine, migrate

    eng = make_engine(_fresh_url(tmp_path, "alerts"))
    migrate(eng)
    with eng.begin() as conn:
        for iso, name in (("SYR", "Syria"), ("UKR", "Ukraine"), ("FRA", "France")):
            conn.execute(region.insert().values(region_id=iso, level=0, iso3=iso, name=name))
    yield eng
    eng.dispose()


def test_evaluation_is_idempotent(engine):
    assert alerts.seed_starter_rules(engine) == len(alerts.STARTER_RULES)
    assert alerts.seed_starter_rules(engine) == 0  # seeded once
    data = inputs(SYRIA)
    first = alerts.evaluate(engine, "test", "tester", inputs=data)
    # outflow surge 2012 (2013 is inside its 3-year cool-down) and the displaced-total new highs of the newest
    # two years of that series (2013, 2014)
    stored = alerts.list_alerts(engine, status="pending")
    assert first["n_new"] == len(stored) > 0
    keys = sorted((a["rule"], a["period"]) for a in stored)
    assert ("outflow-surge", 2012) in keys and ("outflow-surge", 2013) not in keys
    again = alerts.evaluate(engine, "test", "tester", inputs=data)
    assert again["n_new"] == 0 and again["n_fired"] == first["n_fired"]
    with engine.connect() as conn:
        assert conn.execute(select(alert.c.dedup_key)).all().__len__() == len(stored)


def test_review_flow_is_audited(engine):
    alerts.evaluate(engine, "test", "tester", inputs=inputs(SYRIA))
    pending = alerts.list_alerts(engine, status="pending")
    a, b = pending[0]["alert_id"], pending[1]["alert_id"]
    with pytest.raises(alerts.ReviewError, match="note"):
        alerts.review(engine, a, "confirmed", "  ", "ana")
    with pytest.raises(alerts.ReviewError, match="decision"):
        alerts.review(engine, a, "maybe", "why", "ana")
    done = alerts.review(engine, a, "confirmed", "UNHCR figures checked with the country office", "ana")
    assert done["status"] == "confirmed" and done["reviewed_by"] == "ana"
    alerts.review(engine, b, "dismissed", "a re-count, not new displacement", "ana")
    with pytest.raises(alerts.ReviewError) as exc:
        alerts.review(engine, a, "dismissed", "changed my mind", "ana")
    assert exc.value.status == 409
    with pytest.raises(alerts.ReviewError) as exc:
        alerts.review(engine, 999999, "dismissed", "x", "ana")
    assert exc.value.status == 404
    assert [x["alert_id"] for x in alerts.list_alerts(engine, status="confirmed")] == [a]
    # re-evaluation never resurrects a reviewed alert as pending
    alerts.evaluate(engine, "test", "tester", inputs=inputs(SYRIA))
    assert a not in [x["alert_id"] for x in alerts.list_alerts(engine, status="pending")]
    with engine.connect() as conn:
        log = conn.execute(
            select(audit_log.c.action, audit_log.c.outcome, audit_log.c.detail).where(
                audit_log.c.action == "alert review"
            )
        ).all()
    assert [o for _, o, _ in log].count("ok") == 2 and [o for _, o, _ in log].count("refused") == 2
    prec = {p["rule"]: p for p in alerts.precision(engine)}
    assert sum(p["confirmed"] for p in prec.values()) == 1 and sum(p["dismissed"] for p in prec.values()) == 1


def test_rule_edits_are_audited_and_disable_stops_firing(engine):
    alerts.seed_starter_rules(engine)
    surge = next(r for r in alerts.list_rules(engine) if r["name"] == "outflow-surge")
    with pytest.raises(alerts.RuleError):
        alerts.save_rule(engine, "ana", {"cooldown_years": 99}, surge["rule_id"])
    alerts.save_rule(engine, "ana", {"enabled": False}, surge["rule_id"])
    result = alerts.evaluate(engine, "test", "tester", inputs=inputs(SYRIA))
    assert "outflow-surge" not in [r["rule"] for r in result["rules"]]
    added = alerts.save_rule(
        engine,
        "ana",
        {
            "name": "ukraine-surge",
            "condition": "outflow_surge",
            "params": {"ratio": 3, "min_increase": 1000},
            "region_scope": "ukr",
        },
    )
    assert added["region_scope"] == "UKR"
    with pytest.raises(alerts.RuleError, match="exists"):
        alerts.save_rule(
            engine,
            "ana",
            {
                "name": "ukraine-surge",
                "condition": "outflow_surge",
                "params": {"ratio": 3, "min_increase": 1000},
            },
        )
    entries = [e for e in accounts.audit_entries(engine, 50) if e["action"] == "alert rule save"]
    assert [e["outcome"] for e in entries].count("ok") == 2 and [e["outcome"] for e in entries].count(
        "refused"
    ) == 2


def test_concurrent_evaluations_store_each_alert_once(engine):
    import threading

    data = inputs(SYRIA)
    alerts.seed_starter_rules(engine)
    results, errors = [], []

    def run():
        try:
            results.append(alerts.evaluate(engine, "test", "tester", inputs=data))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    stored = alerts.list_alerts(engine, status="pending")
    assert sum(r["n_new"] for r in results) == len(stored)  # every firing stored by exactly one of them
    assert len({a["dedup_key"] for a in stored}) == len(stored)
