"""Progress events of a training run (models.pipeline.train_run), kept light so the server can import them
without the modelling stack.
"""

from __future__ import annotations

from dataclasses import dataclass

# The steps of a training run, in order: a progress event names one by its number (1-based) in this list.
TRAIN_STEPS = ("panels", "backtest", "final_models", "admin1", "write", "watchlist", "deploy")


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
