"""Training progress as structured events (models.progress), rendered by the CLI as step k of n."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.progress import Progress

from models.progress import TRAIN_STEPS, TrainEvent


def test_an_event_names_its_step_of_all_steps():
    event = TrainEvent.at("backtest", "backtest origin 2015, horizon 1: xgboost", 3, 12)
    assert (event.step, event.total, event.key) == (2, len(TRAIN_STEPS), "backtest")
    assert event.fraction == 0.25 and TrainEvent.at("write", "writing").fraction == 0.0
    assert str(event) == f"step 2 of {len(TRAIN_STEPS)}: backtest origin 2015, horizon 1: xgboost"
    with pytest.raises(ValueError):
        TrainEvent.at("no_such_step", "x")


def test_the_cli_bar_shows_step_k_of_n():
    from models.cli import _show_step

    with Progress(console=Console(file=io.StringIO())) as prog:
        task = prog.add_task("training", total=None)
        _show_step(prog, task, TrainEvent.at("backtest", "fitting", 6, 12))
        shown = prog.tasks[0]
        assert shown.total == len(TRAIN_STEPS) and shown.completed == 1.5
        assert shown.description == f"step 2 of {len(TRAIN_STEPS)}: fitting (6/12)"
        _show_step(prog, task, TrainEvent.at("deploy", "deployed run r1"))
        assert prog.tasks[0].completed == len(TRAIN_STEPS) - 1
