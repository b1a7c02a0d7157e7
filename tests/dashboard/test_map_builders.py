"""Map builders and the map page's rules (issue 13 items 3 and 4, issue 16 item 3) on hand-made frames whose
values each test explains, and on the dashboard test warehouse (SYNTHETIC outputs,
tests/dashboard/synthetic.py)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from dashboard import figures, ids
from dashboard.pages import map as map_page
from dashboard.queries import default_year, rank_within, year_basis
from tests.dashboard.test_app import MAP_OUTPUTS, dash_post, map_inputs


def test_default_year_is_the_latest_usable_not_the_latest_projection():
    bases = {2019: "checked", 2020: "checked", 2021: "nowcast", 2022: "nowcast", 2023: "projection"}
    assert default_year([2019, 2020, 2021, 2022, 2023], bases) == 2022
    assert default_year([2023, 2024], {2023: "projection", 2024: "projection"}) == 2024  # none usable
    assert default_year([], {}) is None


def test_year_basis_from_checked_rows_then_label_age():
    rows = pd.DataFrame({"basis": ["checked", "projection"], "label_year": [2019, 2010]})
    assert year_basis(rows, 2020) == "checked"  # a country's estimate is checked that year
    later = pd.DataFrame({"basis": ["nowcast", "projection", "projection"], "label_year": [2020, 2019, None]})
    assert year_basis(later, 2022) == "nowcast"  # newest label 2 years old, though most rows are projections
    assert year_basis(later, 2023) == "projection"
    no_years = pd.DataFrame({"basis": ["nowcast", "projection"]})
    assert year_basis(no_years, 2023) == "projection"  # a tie goes to the weaker basis


def test_rank_within_counts_only_the_peers_and_shares_ties():
    units = pd.DataFrame({"region_id": ["A", "B", "C", "D"], "estimate_per_100k": [0.5, 2.0, 0.5, None]})
    assert rank_within(units, "B") == (1, 3)  # D has no value: not counted
    assert rank_within(units, "A") == rank_within(units, "C") == (2, 3)  # tied: the same rank
    assert rank_within(units, "D") == (0, 3)


def _units(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region_id": [f"U{i}" for i in range(len(values))],
            "region_name": [f"Unit {i}" for i in range(len(values))],
            "estimate_per_100k": values,
            "lower_per_100k": [v / 2 for v in values],
            "upper_per_100k": [v * 2 for v in values],
            "risk_score": [10.0 * i for i in range(len(values))],
            "risk_band": ["low"] * len(values),
            "score_change": [0.0] * len(values),
            "basis": [["checked", "nowcast", "projection"][i % 3] for i in range(len(values))],
        }
    )


def test_estimate_scale_is_log_with_real_value_ticks():
    # one territory at 35 per 100k and the rest near 0.5: on a linear 0..p95 scale nearly all share a colour
    world = _units([0.3, 0.5, 0.6, 0.8, 35.0])
    lo, hi = figures.scale_range(world, "estimate", 0, world)
    z = figures.map_z(world, list(world["region_id"]), "estimate")
    assert z == [pytest.approx(math.log10(v), abs=1e-3) for v in [0.3, 0.5, 0.6, 0.8, 35.0]]
    assert z[0] <= lo and hi < z[-1]  # 2nd..99th percentile: the outlier does not anchor the scale
    linear_lo, linear_hi = figures.metric_range(world, "estimate")  # the old linear 0..p95 scale
    assert (0.8 - 0.3) / (linear_hi - linear_lo) < 0.05  # the four ordinary values: one colour
    assert (z[3] - z[0]) / (hi - lo) > 0.2  # on the log scale they spread over a fifth of it
    ticks, labels = figures.log_ticks((lo, hi))
    assert ticks == sorted(ticks) and len(ticks) >= 2
    assert [float(t) for t in labels] == pytest.approx([10**t for t in ticks], rel=0.05)  # real values


def test_admin1_scale_spans_the_country_units_only():
    units = _units([0.4, 0.5, 0.9])
    lo, hi = figures.scale_range(units, "estimate", 1, _units([0.01, 50.0]))
    assert (lo, hi) == (pytest.approx(math.log10(0.4), abs=1e-3), pytest.approx(math.log10(0.9), abs=1e-3))
    lo, hi = figures.scale_range(units, "risk_score", 1, units)
    assert (lo, hi) == (0.0, 20.0)
    same = _units([0.7, 0.7])
    lo, hi = figures.scale_range(same, "estimate", 1, same)
    assert lo < math.log10(0.7) < hi  # a tied country still gets a valid range (the note says why)


def test_basis_opacity_per_shape_and_watch_takes_the_year():
    units = _units([1.0, 2.0, 3.0])
    ops = figures.basis_opacity(units, ["U0", "U1", "U2", "MISSING"], "estimate")
    b = figures.BASIS_OPACITY
    assert ops == [b["checked"], b["nowcast"], b["projection"], figures.UNKNOWN_BASIS_OPACITY]
    assert b["checked"] > b["nowcast"] > b["projection"]
    assert figures.basis_opacity(units, ["U0", "U1"], "watch", "projection") == [b["projection"]] * 2


def test_colour_bar_is_flat_and_thin_and_hover_names_only():
    style = figures.value_style("estimate", (-1.0, 1.0), 1)
    bar = style["colorbar"]
    assert bar["orientation"] == "h" and bar["thickness"] <= 12 and bar["yanchor"] == "top"
    assert "log scale" in bar["title"]["text"] and "this country" in bar["title"]["text"]
    assert bar["ticktext"] == ["0.1", "1", "10"]
    assert "customdata" not in style["hovertemplate"]


def test_basis_marks_style_each_year_and_keep_the_default():
    years = list(range(2009, 2026))
    bases = {y: "checked" if y <= 2020 else ("nowcast" if y <= 2022 else "projection") for y in years}
    marks = map_page.basis_marks(years, bases, 2022)
    assert {2009, 2022, 2025} <= set(marks) and len(marks) <= map_page.MARKS_SHOWN + 1
    assert all(marks[y]["style"] == map_page.BASIS_MARK_STYLE[bases[y]] for y in marks)
    assert (
        marks[2025]["style"]["fontStyle"] == "italic"
        and marks[2020 if 2020 in marks else 2009]["style"]["fontWeight"] == "700"
    )


def test_year_change_patch_is_under_one_percent_of_the_figure_with_geometry(client, dash_app):
    """Issue 16 item 3: z and opacity only; the hover data stays out."""
    full, full_bytes = dash_post(client, MAP_OUTPUTS, map_inputs(2019, "risk_score"), [])
    patch, patch_bytes = dash_post(
        client, MAP_OUTPUTS, map_inputs(2020, "risk_score"), [f"{ids.MAP_YEAR}.value"]
    )
    ops = patch.get_json()["response"][ids.MAP_GRAPH]["figure"]["operations"]
    assert not any("customdata" in op["location"] or "hovertemplate" in op["location"] for op in ops)
    geometry = dash_app.server.extensions["crisisrisk"].geometry.get("countries")[0]
    assert patch_bytes / (full_bytes + len(geometry)) < 0.01
    fig = full.get_json()["response"][ids.MAP_GRAPH]["figure"]
    assert "customdata" not in fig["data"][1]  # nothing to re-send: the details come on hover
    assert len(json.dumps(fig["data"][1]["marker"]["opacity"])) <= 6 * len(fig["data"][1]["locations"]) + 2


def test_admin1_patch_carries_its_own_range(client):
    patch, _ = dash_post(client, MAP_OUTPUTS, map_inputs(2019, "estimate", "NGA"), [f"{ids.MAP_YEAR}.value"])
    touched = {
        tuple(op["location"]) for op in patch.get_json()["response"][ids.MAP_GRAPH]["figure"]["operations"]
    }
    assert {("data", 1, "zmin"), ("data", 1, "zmax"), ("data", 1, "colorbar", "ticktext")} <= touched


def test_risers_never_list_changes_under_a_point(dash_app):
    from dashboard.context import current

    q = current().queries
    values = q.map_values(0, 2020)
    shown = map_page.risers("risk_score", map_page.WORLD, 2020)
    text = str(shown)
    assert "+0 points" not in text and "-1 points" not in text
    listed = values[values["score_change"].round() >= map_page.MIN_RISE_POINTS]
    if listed.empty:
        assert "No risk score rose" in text
    else:
        top = listed.sort_values("score_change", ascending=False).head(5)
        for r in top.itertuples():
            assert f"+{int(round(r.score_change))} points" in text
    for r in values.itertuples():
        if pd.notna(r.score_change) and round(r.score_change) < map_page.MIN_RISE_POINTS:
            assert f"/region/{r.region_id}?" not in text


def test_hover_details_rank_k_of_n_within_the_country_and_tie_reason(dash_app):
    from dashboard.context import current

    q = current().queries
    units = q.map_values(1, 2020, "NGA")
    groups = units["estimate_per_100k"].round(6).value_counts()
    tied = units[units["estimate_per_100k"].round(6) == groups.index[0]].iloc[0]
    text = str(map_page.hover_details(tied["region_id"], 2020, "estimate", "NGA"))
    k, n = rank_within(units, tied["region_id"])
    assert f"Rank {k} of {n} units of Nigeria" in text and n == len(units)
    assert f"Same value as {groups.iloc[0] - 1} other units" in text
    world = str(map_page.hover_details("NGA", 2020, "estimate", map_page.WORLD))
    assert "countries (1 = highest)" in world and "units of" not in world
    neighbour = str(map_page.hover_details("NER", 2020, "estimate", "NGA"))
    assert "neighbouring country" in neighbour


def test_region_page_ranks_a_unit_among_its_country_units(dash_app):
    """A unit page said "RANK 2577 of 10": the rank is now k of n among the same country's units."""
    from dashboard.context import current
    from dashboard.pages import region as region_page

    q = current().queries
    units = q.predictions(level=1, year=2020, parent="NGA")
    rid = units.sort_values("estimate_per_100k").iloc[-1]["region_id"]
    row = units[units["region_id"] == rid].iloc[0]
    k, n = rank_within(units, rid)
    cards = str(region_page._kpis(row, n, 1, 2020, k))
    assert f"{k} of {n}" in cards and k == 1 and n == len(units)
    countries = q.predictions(level=0, year=2020)
    country = countries[countries["region_id"] == "NGA"].iloc[0]
    k0, n0 = rank_within(countries, "NGA")
    cards = str(region_page._kpis(country, n0, 0, 2020, k0))
    assert f"{k0} of {n0}" in cards and f"basis-card basis-{country['basis']}" in cards
