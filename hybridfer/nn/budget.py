"""The training clock: seconds trained, the time budget, each stage's share of it, and progress.

One :class:`BudgetClock` per training run is the only reader of the clock and of ``max_time``:
the learning-rate schedule asks it for the progress after every step, and
:class:`~hybridfer.nn.callbacks.TimeBudget` asks it at the end of every epoch whether the budget
is spent. The first reading at or past ``max_time`` latches the clock *out of time*: from then
on its progress is exactly 1, so the step (or the epoch) that the budget ends is run or
recorded at the schedule's end, ``min_lr``, whatever the order of the readings.
"""

from __future__ import annotations

import time

__all__ = ["BudgetClock"]


class BudgetClock:
    """Seconds trained and training progress, against an optional time budget.

    Parameters
    ----------
    max_time : float or None
        Training-time budget in seconds; None: progress counts steps only.
    epochs : int
        Planned epochs of the whole run: a stage gets the share of the budget that its epochs
        have of them.

    Attributes
    ----------
    out_of_time : bool
        Whether a reading found the budget spent (it stays so).
    """

    def __init__(self, max_time: float | None, epochs: int) -> None:
        self.max_time = None if max_time is None else float(max_time)
        self.epochs = max(1, int(epochs))
        self.out_of_time = False
        self._before = 0.0
        self._t0 = time.perf_counter()
        self._steps = 1
        self._start = 0.0
        self._share = 1.0

    def elapsed(self) -> float:
        """Seconds trained, including the part before a resume."""
        return self._before + time.perf_counter() - self._t0

    def restart(self, elapsed_before: float) -> None:
        """Go on counting from ``elapsed_before`` seconds (a resumed run)."""
        self._before = float(elapsed_before)
        self._t0 = time.perf_counter()
        self.out_of_time = False

    def begin_stage(self, epochs_before: int, stage_epochs: int, steps_per_epoch: int) -> None:
        """Start a stage of ``stage_epochs`` epochs after ``epochs_before`` planned ones.

        Its progress counts its ``stage_epochs * steps_per_epoch`` planned steps and, with a
        budget, the seconds of its share: ``max_time * stage_epochs / epochs``, starting
        ``max_time * epochs_before / epochs`` seconds into the run.
        """
        self._steps = max(1, stage_epochs * steps_per_epoch)
        if self.max_time is not None:
            self._share = self.max_time * stage_epochs / self.epochs
            self._start = self.max_time * epochs_before / self.epochs

    def progress(self, step: int) -> float:
        """The stage's progress after ``step`` steps: the fraction of its planned steps, or
        with a budget the larger of that and the fraction of its share spent; exactly 1 once
        the budget is spent (one reading of the clock decides both)."""
        done = step / self._steps
        if self.max_time is None:
            return done
        if not self.out_of_time:
            t = self._before + time.perf_counter() - self._t0
            if t < self.max_time:
                return max(done, (t - self._start) / self._share)
            self.out_of_time = True
        return 1.0

    def expired(self) -> bool:
        """Whether the budget is spent (reads the clock until it is; False without one)."""
        if not self.out_of_time and self.max_time is not None:
            self.out_of_time = self.elapsed() >= self.max_time
        return self.out_of_time
