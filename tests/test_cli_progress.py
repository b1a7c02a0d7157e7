"""Training progress (issue 13 #9): one line per update with step k of n, units done, elapsed time and an ETA
(models.progress.TrainClock), as the CLI bar and the job banner show it, instead of one printed line per fit.

The clock is a hand-set list of seconds; the expected ETA is worked out in the test."""

from __future__ import annotations

from models.progress import TrainClock, TrainEvent, percent_done


def _clock(times: list[float]) -> TrainClock:
    it = iter(times)
    return TrainClock(now=lambda: float(next(it)))


def test_eta_from_the_units_done_and_the_pace_so_far():
    # readings: start 0; event 1 at 10 (eta, then line's elapsed); event 2 at 30 (eta) and 30 (elapsed)
    clock = _clock([0, 10, 10, 30, 30])
    first = clock.line(TrainEvent.at("backtest", "backtesting", 0, 4))
    assert first == "step 2 of 7: backtesting · 0/4 · 0:10 elapsed · about 1:55 left"  # 8% took 10 s
    line = clock.line(TrainEvent.at("backtest", "backtest origin 2013, horizon 1: xgboost", 2, 4))
    # this step: 20 s for 2 fits, 2 left = 20 s; then 38% of the run (62..100) at 30 s per 35% = 32.6 s
    assert line == (
        "step 2 of 7: backtest origin 2013, horizon 1: xgboost · 2/4 · 0:30 elapsed · about 0:53 left"
    )


def test_no_eta_before_anything_is_measured_and_none_at_deploy():
    clock = _clock([0, 0, 0, 100, 100])
    assert "left" not in clock.line(TrainEvent.at("panels", "building the feature panels"))
    assert clock.line(TrainEvent.at("deploy", "deployed run x")).endswith("1:40 elapsed")


def test_percent_done_moves_within_the_backtest():
    assert percent_done(TrainEvent.at("backtest", "x", 0, 10)) == 8
    assert percent_done(TrainEvent.at("backtest", "x", 5, 10)) == 35
    assert percent_done(TrainEvent.at("final_models", "x")) == 62
