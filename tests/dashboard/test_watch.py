"""The crisis watch list on the dashboard (issue 11): pure helpers, figures, queries, exports, API and
callbacks.

Values come from tests/dashboard/synthetic.py (WATCH_TOP, WATCH_DETECTION, WATCH_ADMIN1, WATCH_PAIRS): SYR,
SDN and
NGA top the 2020 list with scores 0.60, 0.45, 0.30 (rise factor = exp(score), 80% interval exp(score -/+
0.25)).
"""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest

from dashboard import figures, ids, watch
from tests.dashboard.synthetic import RUN_ID, WATCH_BASIS, WATCH_SKILL_SENTENCE, WATCH_TOP
from tests.dashboard.test_app import dash_post, map_inputs

MAP_OUTPUTS = [(ids.MAP_GRAPH, "figure"), (ids.MAP_NOTE, "children"), (ids.MAP_RISERS, "children")]


def _watch_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region_id": ["AAA", "BBB"],
            "region_name": ["A", "B"],
            "year": [2020, 2020],
            "rank": [1, 2],
            "percentile": [100.0, 50.0],
            "rise_factor": [1.5, 0.9],
            "lower": [1.2, 0.7],
            "upper": [1.9, 1.1],
            "top_driver": ["refugees abroad x2.4", None],
            "people_exposed": ["1.2 million IDPs (2019)", None],
            "basis": ["IDPs 2019", "IDPs 2018"],
            "small_population": [False, True],
        }
    )


# --- pure helpers
def test_watch_arrays_colour_by_percentile_and_carry_rise_driver_people_basis():
    z, custom = figures.watch_arrays(_watch_rows(), ["AAA", "BBB", "CCC"])
    assert z == [100.0, 50.0, None]  # CCC is not scored: grey "no data", not a low value
    assert custom[2] is None
    rank, n, rise, lo, hi, driver, people, basis, window = custom[0]
    assert (rank, n, rise, lo, hi) == (1, 2, 1.5, 1.2, 1.9)
    assert driver == "refugees abroad x2.4" and people == "1.2 million IDPs (2019)" and basis == "IDPs 2019"
    assert window == "2020 (2021–2023)"
    assert custom[1][5] == "none stated" and custom[1][6] == "no displacement figures"


def test_watch_map_figure_names_what_it_measures():
    rows = _watch_rows()
    fig = figures.map_figure(
        rows,
        ["AAA", "BBB"],
        rows.rename(columns={"region_name": "name"}),
        "watch",
        "/g.geojson",
        (0, 100),
        title=figures.map_title("watch", 2020, "countries"),
    )
    vals = fig.data[1]
    assert vals.colorscale[0][1] != figures.NO_DATA_GREY  # no data is distinct from the scale
    assert "Crisis watch list" in vals.colorbar.title.text
    _z, custom = figures.watch_arrays(rows, ["AAA"])
    details = " ".join(figures.hover_lines(figures.MAP_METRICS["watch"]["hover"], custom[0], "A"))
    for part in ("Expected rise", "Top driver", "People exposed", "Basis", "×1.50", "rank 1 of 2"):
        assert part in details
    assert "looks at 2021–2023" in fig.layout.title.text
    assert "Not scored" in fig.data[0].name


def test_detection_gap_rules():
    frame = pd.DataFrame(
        {
            "region_id": ["T3", "T2P", "T2LOW", "NONE", "LOWPCT", "POSONLY", "T1LOW"],
            "percentile": [90, 90, 90, 90, 40, 90, 90],
            "tip_tier": [3.0, 2.0, 2.0, None, 3.0, None, 1.0],
            "tip_tier_year": [2020, 2020, 2020, None, 2020, None, 2023],
            "prosecuted": [None, 200.0, 4.0, None, None, 50.0, 5.0],
            "prosecuted_year": [None, 2019, 2019, None, None, 2018, 2020],
        }
    )
    out = watch.add_detection_gap(frame).set_index("region_id")
    assert out.loc["T3", "detection_gap"] == "yes"  # Tier 3
    assert out.loc["T2P", "detection_gap"] == "no"  # Tier 2 and 200 prosecutions
    assert out.loc["T2LOW", "detection_gap"] == "yes"  # fewer than 10 prosecutions
    assert out.loc["NONE", "detection_gap"] == "unknown"
    assert out.loc["LOWPCT", "detection_gap"] == "not rising"  # outside the top quarter
    assert out.loc["POSONLY", "detection_gap"] == "no"
    assert (
        out.loc["T1LOW", "detection_gap"] == "no"
    )  # Tier 1 is never weak detection, even with 5 prosecutions
    assert out.loc["T2LOW", "detection_evidence"] == "TIP tier 2 (2020); 4 persons prosecuted (2019)"


def test_admin1_exposure_shares_window_and_no_data():
    units = pd.DataFrame({"region_id": ["U1", "U2", "U3", "U4", "U5"], "region_name": list("abcde")})
    obs = pd.DataFrame(
        [
            ("U1", "conflict.ged_deaths_best", 2019, 300.0),
            ("U2", "conflict.ged_deaths_best", 2020, 100.0),
            ("U2", "displacement.dtm_idps", 2020, 100.0),
            ("U3", "displacement.dtm_idps", 2018, 500.0),
            ("U4", "conflict.ged_deaths_best", 2015, 999.0),
        ],
        columns=["region_id", "indicator", "year", "value"],
    )
    out = watch.admin1_exposure(units, obs, 2020).set_index("region_id")
    # deaths: U1 300/400 = 75%, U2 25%; displaced: U2 100/600, U3 500/600; share = mean of the two
    assert out.loc["U1", "share"] == pytest.approx((75 + 0) / 2)
    assert out.loc["U2", "share"] == pytest.approx((25 + 100 / 6) / 2)
    assert out.loc["U3", "share"] == pytest.approx((0 + 500 / 6) / 2)
    assert not out.loc["U4", "located"] and math.isnan(out.loc["U4", "share"])  # 2015 is outside 2017-2020
    assert not out.loc["U5", "located"]
    assert out["rank"].dropna().tolist() == [2.0, 3.0, 1.0]  # distinct, no made-up tie
    assert out.loc["U2", "displaced_year"] == 2020


def test_skill_text_says_weak_and_not_measured():
    assert watch.skill_text(None)[0] == "not measured"
    strength, sentence = watch.skill_text({"skill": {"strength": "weak", "sentence": "lift +2%"}})
    assert strength == "weak" and "weak" in sentence


def test_watch_figures():
    terms = watch.driver_terms(
        [
            {"driver": "a", "label": "A", "value": 1, "contribution": 0.1},
            {"driver": "b", "label": "B", "value": 1, "contribution": -0.4},
        ]
    )
    assert terms["driver"].tolist() == ["b", "a"]  # largest |contribution| first
    fig = figures.watch_drivers_figure(terms, 2020)
    assert list(fig.data[0].y) == ["A", "B"]  # largest at the top of the bar chart
    assert fig.data[0].marker.color[1] == figures.DOWN
    pairs = pd.DataFrame(
        {
            "detecting_name": ["X", "Y"],
            "expected_victims": [5.0, 20.0],
            "lower": [1.0, 10.0],
            "upper": [9.0, 40.0],
            "horizon": [1, 1],
            "last_listed_victims": [3.0, None],
            "last_listed_year": [2018, None],
        }
    )
    pf = figures.pairs_figure(pairs, "Syria", 2021)
    assert list(pf.data[0].y) == ["X", "Y"] and list(pf.data[0].error_x.array) == [4.0, 20.0]
    assert "horizon 1" in pf.layout.title.text and "persons" in pf.layout.xaxis.title.text
    units = pd.DataFrame(
        {
            "region_id": ["U1", "U2"],
            "region_name": ["a", "b"],
            "located": [True, False],
            "share": [100.0, None],
            "deaths": [5.0, None],
            "deaths_year": [2020, None],
            "displaced": [None, None],
            "displaced_year": [None, None],
        }
    )
    af = figures.admin1_watch_figure(units, "C", 2020)
    assert len(af.data[0].y) == 2 and "nothing located (no data)" in list(af.data[0].text)
    assert figures.event_study_figure([{"k": 0, "effect": 0.1, "se": 0.3}]).data[0].error_y.array[
        0
    ] == pytest.approx(0.588)


# --- queries on the synthetic warehouse
def test_queries_watchlist_priorities_and_pairs(dash_engine):
    from dashboard.queries import Queries

    q = Queries(dash_engine, ttl_s=0)
    assert q.watchlist_years() == [2017, 2018, 2019, 2020]
    top = q.watchlist(2020).head(3)
    assert top["region_id"].tolist() == list(WATCH_TOP)
    assert top["rise_factor"].iloc[0] == pytest.approx(math.exp(0.60))
    assert top["people_exposed"].iloc[0].startswith("6.7 million refugees and asylum-seekers abroad (2020)")
    assert top["basis"].iloc[0] == WATCH_BASIS
    prio = q.watch_priorities(2020).set_index("region_id")
    assert prio.loc["SYR", "detection_gap"] == "yes"  # Tier 3 (2020)
    assert prio.loc["NGA", "detection_gap"] == "no"  # Tier 2, 200 prosecuted (2019)
    assert prio.loc["SDN", "detection_gap"] == "unknown"
    assert bool(prio.loc["LIE", "small_population"]) and not bool(prio.loc["SYR", "small_population"])
    pairs = q.pair_predictions(citizenship="SYR", year=2021)
    assert pairs["detecting_iso3"].tolist() == ["DEU", "TUR", "LBN", "NLD"]
    assert set(pairs["horizon"]) == {1}
    units = q.admin1_watch("NGA", 2020)
    assert len(units) == 37 and int(units["located"].sum()) == 3


def test_watch_csv_hxl_matches_the_rise_export_vocabulary(dash_engine):
    from dashboard.exports import WATCH_COLUMNS, to_watch_csv
    from dashboard.queries import Queries
    from models.watchlist_cli import RISE_HXL

    frame = Queries(dash_engine, ttl_s=0).watch_priorities(2020)
    text = to_watch_csv(frame, hxl=True)
    table = pd.read_csv(io.StringIO(text))
    tags = dict(zip(table.columns, table.iloc[0], strict=True))
    assert (
        tags["Watch-list rank (1 = strongest expected rise in the year)"]
        == "#indicator+trafficking_rise+rank"
    )
    shared = {
        "region_id": "#country+code",
        "year": "#date+year",
        "rise_factor": "#indicator+trafficking_rise+factor+num",
        "basis": "#meta+basis",
        "run_id": "#meta+run",
    }
    for col, tag in shared.items():
        assert WATCH_COLUMNS[col].hxl == tag and tag in RISE_HXL
    syr = table.iloc[1:][table.iloc[1:]["ISO3"] == "SYR"].iloc[0]
    assert float(syr["Expected rise factor (ratio, next 3 years / last 3)"]) == pytest.approx(
        round(math.exp(0.6), 4)
    )
    assert syr["Detection gap (rising score, weak detection at home)"] == "yes"
    evil = frame.head(1).assign(top_driver="=HYPERLINK(1)")
    assert "'=HYPERLINK(1)" in to_watch_csv(evil)


# --- API
def _ok(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.data[:300])
    return resp.get_json()


def test_api_predictions_target_rise_and_default(client):
    body = _ok(client, "/api/v1/predictions?target=rise&year=2020")
    assert body["meta"]["filters"]["target"] == "rise" and body["meta"]["skill"]["strength"] == "weak"
    first = body["data"][0]
    from models.watchlist_store import RISE_EXPORT_COLUMNS

    assert list(first)[: len(RISE_EXPORT_COLUMNS)] == RISE_EXPORT_COLUMNS
    assert first["iso3"] == "SYR" and first["rank"] == 1 and first["run_id"] == RUN_ID
    assert first["lower"] <= first["rise_factor"] <= first["upper"]
    one = _ok(client, "/api/v1/predictions?target=rise&region=SDN")
    assert {r["year"] for r in one["data"]} == {2017, 2018, 2019, 2020}
    for far in (1900, 2100):  # a year the run did not score: an empty list, never a 500
        assert _ok(client, f"/api/v1/predictions?target=rise&year={far}")["data"] == []
    default = _ok(client, "/api/v1/predictions?year=2020&region=NGA")["data"][0]
    assert "estimate_per_100k" in default and default["basis"] in ("checked", "nowcast")


@pytest.mark.parametrize(
    "url,status",
    [
        ("/api/v1/predictions?target=levels", 400),
        ("/api/v1/predictions?target=rise&level=1", 400),
        ("/api/v1/pairs", 400),
        ("/api/v1/pairs?citizenship=ZZZ", 404),
        ("/api/v1/pairs?citizenship=SYR&year=x", 400),
        ("/api/v1/pairs?citizenship=SYR&bogus=1", 400),
    ],
)
def test_api_watch_errors_are_json(client, url, status):
    resp = client.get(url)
    assert resp.status_code == status and resp.get_json()["error"]["status"] == status


def test_api_pairs(client):
    body = _ok(client, "/api/v1/pairs?citizenship=syr&year=2021")
    assert [r["detecting_iso3"] for r in body["data"]] == ["DEU", "TUR", "LBN", "NLD"]
    assert body["data"][0]["citizenship_name"] == "Syria" and body["meta"]["filters"]["citizenship"] == "SYR"
    into = _ok(client, "/api/v1/pairs?detecting=ITA")
    assert {r["citizenship_iso3"] for r in into["data"]} == {"NGA"} and into["meta"]["total"] == 3
    spec = _ok(client, "/api/v1/openapi.json")
    assert "/pairs" in spec["paths"] and "Rise" in spec["components"]["schemas"]


# --- callbacks
def test_map_watch_patch_on_metric_change_restyles_values_only(client):
    full, _ = dash_post(client, MAP_OUTPUTS, map_inputs(2020, "watch"), [])
    fig = full.get_json()["response"][ids.MAP_GRAPH]["figure"]
    assert "Crisis watch list" in fig["layout"]["title"]["text"]
    patch, size = dash_post(client, MAP_OUTPUTS, map_inputs(2020, "risk_score"), [f"{ids.MAP_METRIC}.value"])
    ops = patch.get_json()["response"][ids.MAP_GRAPH]["figure"]["operations"]
    touched = {tuple(op["location"]) for op in ops}
    assert ("data", 1, "z") in touched and ("data", 1, "hovertemplate") in touched
    assert not any(
        loc[-1] in ("geojson", "locations") for loc in touched
    )  # geometry and shapes are not resent
    assert size < 60_000


def test_region_page_leads_with_the_watch_list(client):
    outputs = [(ids.REGION_WATCH, "children"), (ids.REGION_WATCH_DRIVERS, "figure")]
    resp, _ = dash_post(
        client,
        outputs,
        [(ids.REGION_YEAR, "value", 2020), (ids.REGION_STORE, "data", "SYR")],
        [f"{ids.REGION_YEAR}.value"],
    )
    out = resp.get_json()["response"]
    text = str(out[ids.REGION_WATCH]["children"])
    for part in ("1 of", "×1.82", "×1.42–×2.34", WATCH_BASIS, WATCH_SKILL_SENTENCE, "6.7 million"):
        assert part in text, part
    assert out[ids.REGION_WATCH_DRIVERS]["figure"]["data"][0]["type"] == "bar"


def test_priorities_watch_table_and_download(client):
    outputs = [(ids.PRIO_TABLE, "data"), (ids.PRIO_TABLE, "columns"), (ids.PRIO_COUNT, "children")]
    resp, _ = dash_post(
        client,
        outputs,
        [(ids.PRIO_YEAR, "value", 2020), (ids.PRIO_LEVEL, "value", 0), (ids.PRIO_MIN_POP, "value", 0)],
        [f"{ids.PRIO_YEAR}.value"],
    )
    out = resp.get_json()["response"]
    rows = out[ids.PRIO_TABLE]["data"]
    assert rows[0]["region_id"] == "SYR" and rows[0]["detection_gap"] == "yes"
    assert rows[0]["rise_text"] == "×1.82 (80% interval ×1.42–×2.34)"
    assert rows[0]["abroad_text"] == "6.7 million (2020)"
    assert "detection gap" in out[ids.PRIO_COUNT]["children"]
    dl, _ = dash_post(
        client,
        [(ids.PRIO_DOWNLOAD, "data")],
        [(ids.PRIO_CSV, "n_clicks", 1), (ids.PRIO_HXL, "n_clicks", None)],
        [f"{ids.PRIO_CSV}.n_clicks"],
        [(ids.PRIO_YEAR, "value", 2020), (ids.PRIO_LEVEL, "value", 0), (ids.PRIO_MIN_POP, "value", 0)],
    )
    data = dl.get_json()["response"][ids.PRIO_DOWNLOAD]["data"]
    assert data["filename"] == "crisisrisk_watchlist_2020.csv" and "SYR" in data["content"].splitlines()[1]


def test_tied_admin1_units_are_counted_for_the_note():
    from dashboard.pages.map import tied_units

    values = pd.DataFrame({"estimate_per_100k": [0.48, 0.48, 0.48, 0.9, 1.2]})
    assert tied_units(values) == 3  # three units with nothing located share the lowest exposure
    assert tied_units(pd.DataFrame({"estimate_per_100k": [0.1, 0.2]})) == 1


def test_pair_gate_text_states_the_measured_gain_and_a_failed_gate():
    """A run whose pair model is 6% better than the 3-year mean at one year ahead fails the 10% gate, and says
    so."""
    from dashboard.watch import pair_gate_text

    skill = {
        "pair_model": {
            "gate_passed": False,
            "backtest": [
                {"horizon": 2, "improvement_vs_last": 0.078, "improvement_vs_mean_3y": 0.030},
                {"horizon": 1, "improvement_vs_last": 0.079, "improvement_vs_mean_3y": 0.062},
            ],
        }
    }
    text = pair_gate_text(skill)
    assert "1 year ahead 8% / 6%; 2 years ahead 8% / 3%" in text
    assert "does NOT pass" in text
    skill["pair_model"]["gate_passed"] = True
    assert "It passes its gate" in pair_gate_text(skill)
    assert pair_gate_text(None) == "Pair model not validated in this run."


def test_model_page_tables_of_the_watch_list_protocol_external_checks_and_pairs():
    """The model page tables keep every stored row and mark the headline; values are the stored ones,
    rounded."""
    from dashboard.watch import external_validity_table, pair_model_table, protocol_table

    skill = {
        "headline": "composite",
        "protocol": [
            {
                "candidate": "composite",
                "label": "main",
                "kind": "composite",
                "first_year": 2009,
                "last_year": 2017,
                "mean_spearman": 0.1371,
                "top_lift_pct": 14.16,
                "top_lift_lo": 0.0771,
                "top_lift_hi": 0.1882,
            },
            {
                "candidate": "idp_growth_2y",
                "label": "listed",
                "kind": "single driver",
                "first_year": 2009,
                "last_year": 2017,
                "mean_spearman": 0.059,
                "top_lift_pct": 5.4,
                "top_lift_lo": -0.01,
                "top_lift_hi": 0.12,
            },
        ],
        "external_validity": [
            {"ranking": "watch list", "year": y, "reference": "INFORM Risk", "n": 191, "spearman": r}
            for y, r in ((2024, 0.387), (2025, 0.280))
        ],
        "pair_model": {
            "backtest": [
                {
                    "horizon": 1,
                    "cutoffs": "2016-2019",
                    "n": 10,
                    "rmsle_model": 0.85,
                    "rmsle_last_value": 0.92,
                    "rmsle_mean_3y": 0.91,
                    "improvement_vs_last": 0.079,
                    "improvement_vs_mean_3y": 0.062,
                    "coverage80": 0.8,
                }
            ]
        },
    }
    proto = protocol_table(skill)
    assert list(proto["candidate"]) == ["composite (headline)", "idp_growth_2y"]
    assert list(proto["label"]) == ["all reporting years", "listed only"]
    assert proto.loc[0, "top15_lift_95pct"] == "0.077 to 0.188"
    ext = external_validity_table(skill)
    assert (
        ext.loc[0, "Spearman 2024"] == 0.39
        and ext.loc[0, "Spearman 2025"] == 0.28
        and ext.loc[0, "countries"] == 191
    )
    pairs = pair_model_table(skill)
    assert pairs.loc[0, "better than 3-year mean (%)"] == 6.2
    assert protocol_table(None).empty and external_validity_table({}).empty and pair_model_table(None).empty
