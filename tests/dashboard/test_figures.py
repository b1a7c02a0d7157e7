"""Unit tests of the pure figure builders (frames in, go.Figure out) and the export helpers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import figures
from dashboard.exports import neutralise, to_csv
from dashboard.queries import add_changes, feature_label


def _preds(years=(2018, 2019, 2020), ids=("AAA", "BBB", "CCC")) -> pd.DataFrame:
    rows = []
    for i, rid in enumerate(ids):
        for j, y in enumerate(years):
            est = 1.0 + i + 0.5 * j
            rows.append(
                {
                    "region_id": rid,
                    "region_name": f"Region {rid}",
                    "year": y,
                    "estimate_per_100k": est,
                    "lower_per_100k": est / 2,
                    "upper_per_100k": est * 2,
                    "risk_score": 30.0 * i + j,
                    "risk_band": ["low", "moderate", "high"][i],
                    "label_per_100k": est if j == 0 else None,
                    "has_subnational_data": i != 1,
                    "rank": 3 - i,
                }
            )
    return add_changes(pd.DataFrame(rows))


def test_add_changes_uses_previous_year_of_same_region():
    frame = _preds()
    row = frame[(frame["region_id"] == "BBB") & (frame["year"] == 2019)].iloc[0]
    assert row["score_change"] == pytest.approx(1.0)
    assert row["estimate_change"] == pytest.approx(0.5)
    assert frame[frame["year"] == 2018]["score_change"].isna().all()


def test_map_figure_layers_no_data_under_values_and_uses_asset_url():
    values = _preds()
    values = values[values["year"] == 2020].assign(drivers="▲ a<br>▼ b")
    bg = pd.DataFrame({"region_id": ["AAA", "BBB", "CCC", "DDD"], "name": ["A", "B", "C", "D"]})
    fig = figures.map_figure(
        values,
        ["AAA", "BBB", "CCC", "EEE"],
        bg,
        "risk_score",
        "/geo/v/countries.geojson",
        (0, 100),
        title="t",
    )
    assert isinstance(fig, go.Figure)
    nodata, vals = fig.data
    assert isinstance(nodata, go.Choroplethmap) and isinstance(vals, go.Choroplethmap)
    assert nodata.geojson == vals.geojson == "/geo/v/countries.geojson"
    assert list(nodata.locations) == ["AAA", "BBB", "CCC", "DDD"]
    assert set(nodata.colorscale[0][1:] + nodata.colorscale[1][1:]) == {figures.NO_DATA_GREY}
    assert vals.z[3] is None  # a region without a prediction this year is not coloured ...
    assert list(nodata.z) == [None, None, None, 0]  # ... and only such shapes are grey (each drawn once)
    assert vals.z[0] == pytest.approx(2.0)
    assert fig.layout.map.style == "white-bg"
    title = vals.colorbar.title.text.replace("<br>", " ")
    assert "risk score" in title and "percentile" in title and "Where victims are found" in title
    # issue 16: no hover data in the figure (a year change would re-send it); the details are fetched on hover
    assert vals.customdata is None and vals.hovertemplate == "<b>%{text}</b><extra></extra>"
    _z, custom = figures.map_arrays(values, ["AAA"], "risk_score")
    lines = figures.hover_lines(figures.MAP_METRICS["risk_score"]["hover"], custom[0], "Region A")
    assert lines[0] == "Region A"
    assert "▲ a" in lines and "▼ b" in lines  # drivers, one per line
    assert "Estimate: 2 detected victims per 100k" in lines and "80% interval: 1 to 4 per 100k" in lines


@pytest.mark.parametrize("metric", [m for m in figures.MAP_METRICS if m not in figures.WATCH_METRICS])
def test_map_metrics_have_units_and_safe_scales(metric):
    values = _preds()
    zmin, zmax = figures.metric_range(values, metric)
    assert zmin < zmax
    if metric == "change":
        assert zmin == -zmax
    sub = values[values["year"] == 2019]
    fig = figures.map_figure(
        sub,
        list(sub["region_id"]),
        sub.rename(columns={"region_name": "name"}),
        metric,
        "/g.geojson",
        (zmin, zmax),
    )
    scale = fig.data[1].colorscale
    assert scale is not None
    assert figures.MAP_METRICS[metric]["unit"] in fig.data[1].colorbar.title.text.replace("<br>", " ")


def test_map_arrays_align_with_locations_and_round():
    values = _preds()
    values = values[values["year"] == 2019]
    z, custom = figures.map_arrays(values, ["CCC", "ZZZ", "AAA"], "estimate")
    assert z[1] is None and custom[1] is None
    assert z[0] == pytest.approx(3.5) and z[2] == pytest.approx(1.5)
    assert custom[0][1] == "high"


def test_view_for_bounds_zooms_in_on_small_areas():
    _, world = figures.view_for_bounds(-180, -60, 180, 85)
    centre, country = figures.view_for_bounds(2.7, 4.2, 14.7, 13.9)
    assert country > world
    assert centre["lat"] == pytest.approx(9.05)


def test_trend_figure_has_band_estimate_and_labels():
    pred = _preds()
    fig = figures.trend_figure(pred[pred["region_id"] == "AAA"], "Region A")
    names = [t.name for t in fig.data]
    assert (
        "80% interval" in names and "Model estimate" in names and "Detected victims (UNODC GLOTIP)" in names
    )
    band = fig.data[1]
    assert band.fill == "tonexty"
    assert "detected" in fig.layout.title.text


def test_trend_figure_empty():
    fig = figures.trend_figure(pd.DataFrame(columns=_preds().columns))
    assert fig.layout.annotations and "No predictions" in fig.layout.annotations[0].text


def _expl(seed=0, year=2020):
    rng = np.random.default_rng(seed)
    feats = [f"f{i}" for i in range(14)]
    fam = ["conflict", "displacement", "detection"] * 5
    rows = [
        {
            "region_id": "AAA",
            "year": year,
            "feature": f,
            "family": fam[i],
            "value": float(rng.normal(0, 0.2)),
            "feature_value": float(i),
        }
        for i, f in enumerate(feats)
    ]
    rows.append(
        {
            "region_id": "AAA",
            "year": year,
            "feature": "__bias__",
            "family": "bias",
            "value": 0.7,
            "feature_value": None,
        }
    )
    return pd.DataFrame(rows)


def test_waterfall_adds_up_to_the_prediction():
    expl = _expl()
    fig = figures.waterfall_figure(expl, {"f0": "Feature zero"}, max_features=5, year=2020)
    wf = fig.data[0]
    assert wf.measure[0] == "absolute" and wf.measure[-1] == "total"
    assert len(wf.x) == 1 + 5 + 1 + 1  # base, top 5, "other", prediction
    total = float(expl["value"].sum())
    assert sum(wf.x[:-1]) == pytest.approx(total)
    assert wf.x[-1] == pytest.approx(total)
    assert f"{math.expm1(total):.2f}" in fig.layout.title.text


def test_what_changed_groups_by_family():
    now, prev = _expl(1), _expl(2, 2019)
    fig = figures.what_changed_figure(now, prev, 2020)
    bar = fig.data[0]
    expected = (
        now[now.feature != "__bias__"].groupby("family")["value"].sum()
        - prev[prev.feature != "__bias__"].groupby("family")["value"].sum()
    )
    got = dict(zip(bar.y, bar.x, strict=True))
    for fam, val in expected.items():
        assert got[figures.family_label(fam)] == pytest.approx(val)  # the family's label, not its code
    assert "since 2019" in fig.layout.title.text
    assert figures.what_changed_figure(now, prev.iloc[0:0]).layout.annotations


def test_drivers_figure_panels_and_sources():
    obs = pd.DataFrame(
        {
            "indicator": ["displacement.idps", "displacement.idps", "conflict.deaths", "trafficking.x"],
            "family": ["displacement", "displacement", "conflict", "trafficking"],
            "unit": ["persons", "persons", "deaths", "persons"],
            "source": ["idmc", "idmc", "ucdp", "u"],
            "year": [2019, 2020, 2020, 2020],
            "value": [1.0, 2.0, 3.0, 4.0],
            "censored": [False, True, False, False],
        }
    )
    fig = figures.drivers_figure(obs, source_titles={"idmc": "IDMC"})
    names = [t.name for t in fig.data]
    assert len(names) == 2  # trafficking is not a driver panel
    assert any("IDMC" in n and "persons" in n for n in names)
    assert figures.drivers_figure(obs.iloc[0:0]).layout.annotations


def test_admin1_figure_marks_units_without_subnational_data():
    units = _preds()
    units = units[units["year"] == 2020]
    fig = figures.admin1_figure(units, "X")
    shapes = list(fig.data[0].marker.pattern.shape)
    assert shapes.count("/") == 1  # BBB has no sub-national data


def test_model_figures():
    per_origin = pd.DataFrame(
        [
            {"target_year": y, "model": m, "rmsle": 0.5 + k / 10, "coverage80": 0.8}
            for y in (2018, 2019)
            for k, m in enumerate(["xgboost", "last_value"])
        ]
    )
    fig = figures.backtest_figure(per_origin, "rmsle")
    assert {t.name for t in fig.data} == {figures.MODEL_LABELS["xgboost"], figures.MODEL_LABELS["last_value"]}
    # the deployed candidate is the bold line, whichever it is
    widths = {t.name: t.line.width for t in figures.backtest_figure(per_origin, "rmsle", "last_value").data}
    assert widths[figures.MODEL_LABELS["last_value"]] > widths[figures.MODEL_LABELS["xgboost"]]
    cal = pd.DataFrame([{"nominal": 0.5, "empirical": 0.45}, {"nominal": 0.8, "empirical": 0.79}])
    fig = figures.calibration_figure(cal, per_origin)
    assert len(fig.data) == 3
    fig = figures.global_shap_figure(
        pd.DataFrame({"family": ["conflict", "detection"], "mean_abs_shap": [0.2, 0.1]})
    )
    assert list(fig.data[0].y) == ["detection", "conflict"]
    for builder in (figures.backtest_figure, figures.global_shap_figure):
        assert builder(pd.DataFrame()).layout.annotations
    assert figures.calibration_figure(pd.DataFrame()).layout.annotations


def test_feature_label_is_readable():
    assert (
        feature_label("displacement.refugees_by_origin_per100k_lag1") == "Refugees by origin per 100k (t−1)"
    )
    assert feature_label("detection.tip_tier") == "TIP tier"


def test_fmt_and_sig():
    assert figures.fmt(None) == "no data"
    assert (
        figures.fmt(1234.5, ",.0f", "USD") == "1,234 USD" or figures.fmt(1234.5, ",.0f", "USD") == "1,235 USD"
    )
    assert figures.sig(0.012345) == "0.0123"
    assert figures.sig(12345.6) == "12,346"


@pytest.mark.parametrize("cell", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", '=HYPERLINK("http://x")'])
def test_neutralise_formula_cells(cell):
    assert neutralise(cell) == "'" + cell
    assert neutralise("Safe text") == "Safe text"
    assert neutralise(-3.0) == -3.0


def test_csv_and_hxl_exports():
    frame = pd.DataFrame(
        {
            "rank": [1],
            "region_id": ["AAA"],
            "region_name": ["=EVIL()"],
            "iso3": ["AAA"],
            "year": [2020],
            "risk_score": [91.26],
            "risk_band": ["very high"],
            "estimate_per_100k": [1.234567],
            "lower_per_100k": [0.5],
            "upper_per_100k": [2.5],
            "score_change": [-3.0],
            "refugees_origin": [12345.0],
            "refugees_hosted": [np.nan],
            "idps": [1.0],
            "fts_requirements_usd": [1.5e9],
            "fts_funding_usd": [5e8],
            "fts_coverage_pct": [33.333],
        }
    )
    plain = to_csv(frame, 0).splitlines()
    assert plain[0].startswith("Rank (1 = highest risk in the year),Region id")
    assert "'=EVIL()" in plain[1] and "1500000000" in plain[1] and "1.2346" in plain[1]
    assert ",-3.0," in plain[1]  # numbers are not quoted
    hxl = to_csv(frame, 0, hxl=True).splitlines()
    assert len(hxl) == 3
    assert hxl[1].startswith("#indicator+rank,#country+code,#country+name")
    assert "#value+funding+required+usd" in hxl[1] and "#affected+idps+num" in hxl[1]
    admin = to_csv(frame.assign(country=["Nigeria"]), 1, hxl=True).splitlines()[1]
    assert "#adm1+code" in admin and "#country+name" in admin


def test_pick_driver_series_prefers_listed_indicators_and_limits_each_family():
    rows = [
        {
            "indicator": f"displacement.x{i}",
            "family": "displacement",
            "source": "s",
            "year": y,
            "value": 1.0,
            "unit": "persons",
        }
        for i in range(6)
        for y in range(2000, 2000 + i + 1)
    ]
    rows += [
        {
            "indicator": "displacement.pref",
            "family": "displacement",
            "source": "s",
            "year": 2010,
            "value": 1.0,
            "unit": "persons",
        }
    ]
    out = figures.pick_driver_series(pd.DataFrame(rows), ["displacement.pref"], per_family=3, first_year=2001)
    kept = set(out["indicator"])
    assert kept == {"displacement.pref", "displacement.x5", "displacement.x4"}
    assert out["year"].min() >= 2001


def _watch_rows(years: list[int]) -> pd.DataFrame:
    n = len(years)
    return pd.DataFrame(
        {"year": years, "rise_factor": [1.1] * n, "lower": [0.9] * n, "upper": [1.4] * n, "rank": [1] * n}
    )


@pytest.mark.parametrize(
    ("years", "dtick"),
    [
        ([2017, 2018, 2019, 2020], 1),  # Plotly's nticks split these into half-years ("2,017.5")
        (list(range(2013, 2021)), 1),  # 8 labels: YEAR_TICKS
        (list(range(2005, 2021)), 3),  # 16 years: 2005, 2008, ... (6 labels)
    ],
)
def test_a_year_axis_steps_whole_years_and_shows_at_most_year_ticks_labels(years, dtick):
    fig = figures.watch_trend_figure(_watch_rows(years), "Syria")
    assert fig.layout.xaxis.dtick == dtick
    assert len(range(years[0], years[-1] + 1, dtick)) <= figures.YEAR_TICKS


def test_titles_naming_a_country_are_whole_sentences_with_the_name_as_a_placeholder():
    """One catalogue message serves every country (issue 13): the title reads "... for {name}", never a
    sentence glued from pieces that only a per-country catalogue entry could translate."""
    assert figures.watch_trend_figure(_watch_rows([2019, 2020]), "Syria").layout.title.text == (
        "Watch list over time for Syria"
    )
    assert figures.watch_trend_figure(_watch_rows([2019, 2020])).layout.title.text == "Watch list over time"
    row = {"basis": "nowcast", "label_year": 2019, "conflict_year": None, "displacement_year": 2020.0}
    assert figures.detected_basis_text(row) == (
        "nowcast (newest label 2019; conflict none; displacement 2020)"
    )


def test_the_map_title_hangs_from_the_top_and_its_margin_holds_every_line():
    """A three-line title with its subtitle ran onto the map and its legend (Plotly centres a title's first
    line in the margin): the title is anchored at the top and the margin is 20 px per line plus 20."""
    values = _preds()
    values = values[values["year"] == 2020]
    bg = pd.DataFrame({"region_id": ["AAA"], "name": ["A"]})
    title = "one<br>two<br>three<br><sub>subtitle</sub>"
    fig = figures.map_figure(values, ["AAA"], bg, "risk_score", "/g.geojson", (0, 100), title=title)
    assert fig.layout.title.yref == "container" and fig.layout.title.yanchor == "top"
    assert fig.layout.title.y == 1 and fig.layout.title.pad.t >= 30  # 10 px cut the first line's tops
    assert fig.layout.margin.t >= 20 * 4 + 30
