"""Progress events of a training run (models.pipeline.train_run), kept light so the server can import them
without the modelling stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# The steps of a training run, in order: a progress event names one by its number (1-based) in this list.
TRAIN_STEPS = ("panels", "backtest", "final_models", "admin1", "write", "watchlist", "deploy")
# Percent of a run done when each step starts (the backtest, the long step, moves towards the next start as
# its fits are done): measured shares of a run on this machine's real warehouse (backtest 47.5 s of 62.7 s).
# The jobs runner records these as the job's percent; the clock below derives the ETA from them.
STEP_START_PERCENT = {
    "panels": 3,
    "backtest": 8,
    "final_models": 62,
    "admin1": 82,
    "write": 90,
    "watchlist": 90,
    "deploy": 90,
}


@dataclass(frozen=True)
class TrainEvent:
    """Structured progress of ``train_run``: step ``step`` of ``total`` (TRAIN_STEPS), what it is doing, and
    within a step that has countable units (the backtest's fits) how many of them are done.

    Consumers render or record these fields (the CLI's bar, the jobs runner's percent), never parse text.
    """

    step: int
    total: int
    message: str
    done: int = 0
    of: int = 0

    @classmethod
    def at(cls, key: str, message: str, done: int = 0, of: int = 0) -> TrainEvent:
        """The event of the step named ``key`` (a ValueError for a name not in TRAIN_STEPS)."""
        return cls(TRAIN_STEPS.index(key) + 1, len(TRAIN_STEPS), message, done, of)

    @property
    def key(self) -> str:
        """The step's name in TRAIN_STEPS (stable, unlike the message)."""
        return TRAIN_STEPS[self.step - 1]

    @property
    def fraction(self) -> float:
        """Share of the step done (0 when it has no units)."""
        return min(self.done / self.of, 1.0) if self.of else 0.0

    def __str__(self) -> str:
        return f"step {self.step} of {self.total}: {self.message}"


def percent_done(event: TrainEvent) -> float:
    """Share of the whole run done at this event, 0-100 (STEP_START_PERCENT, the step's units within it)."""
    start = STEP_START_PERCENT[event.key]
    following = [STEP_START_PERCENT[k] for k in TRAIN_STEPS[event.step :]]
    span = (following[0] - start) if following else 100 - start
    return start + span * event.fraction


def _clock_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


class TrainClock:
    """Elapsed time and an ETA for a stream of TrainEvents (issue 13 #9: 'step k of n' with an ETA).

    The ETA comes from the time the current step's units took so far (the backtest's fits), plus the
    remaining steps' share of the run at the pace seen so far; none before a unit is done or a second
    passed, rather than a guess."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.now = now
        self.started = now()
        self.step_started = self.started
        self.step = 0

    def eta(self, event: TrainEvent) -> float | None:
        """Seconds left, or None when not yet measurable."""
        t = self.now()
        if event.step != self.step:
            self.step, self.step_started = event.step, t
        elapsed = t - self.started
        done = percent_done(event)
        if event.of and event.done:
            step_left = (t - self.step_started) / event.done * (event.of - event.done)
            after = [STEP_START_PERCENT[k] for k in TRAIN_STEPS[event.step :]]
            rest_pct = 100 - (after[0] if after else 100)
            pace = elapsed / done if done else 0.0  # seconds per percent so far
            return step_left + rest_pct * pace
        if done <= 0 or elapsed < 1:
            return None
        return elapsed / done * (100 - done)

    def line(self, event: TrainEvent) -> str:
        """One line for the CLI and the job banner: 'step 2 of 7: <message> · 140/210 · 1:02 elapsed · about
        0:31 left'."""
        eta = self.eta(event)
        parts = [str(event)]
        if event.of:
            parts.append(f"{event.done}/{event.of}")
        parts.append(f"{_clock_text(self.now() - self.started)} elapsed")
        if eta is not None and event.key != "deploy":
            parts.append(f"about {_clock_text(eta)} left")
        return " · ".join(parts)
