"""The model page's table of seconds per training step (issue 16 item 4)."""

from __future__ import annotations

from dashboard.pages.model import timing_rows


def test_timing_rows_follow_the_steps_with_the_backtest_per_horizon_and_the_total_last():
    metrics = {
        "timing_s": {
            "backtest": 30.04,
            "panels": 3.21,
            "watchlist": 9.0,
            "total": 45.5,
            "total_before_save": 30,
        },
        "timing_backtest_s": {"h1": 9.9, "h2": 10.0, "h3": 10.14, "workers": 2},
    }
    rows = timing_rows(metrics)
    assert rows["step"].tolist() == [
        "Feature panels (one per horizon)",
        "Backtest (all horizons)",
        "Backtest, horizon 1",
        "Backtest, horizon 2",
        "Backtest, horizon 3",
        "Watch list and pair model",
        "Total",
    ]
    assert rows["seconds"].tolist() == [3.2, 30.0, 9.9, 10.0, 10.1, 9.0, 45.5]


def test_a_run_without_timings_gives_an_empty_table():
    rows = timing_rows({"gate": {}})
    assert rows.empty and list(rows.columns) == ["step", "seconds"]
