"""Callbacks of the training loop: objects told about each stage, batch and epoch.

In the spirit of skorch's callbacks, :class:`~hybridfer.nn.training.Trainer` calls every hook
of :class:`Callback` through one :meth:`~hybridfer.nn.training.Trainer.notify`:
``on_train_begin(state)`` once, ``on_stage_begin(state)`` when a stage (the frozen one, the
unfrozen one) starts, ``on_batch_end(state)`` after every optimizer step,
``on_epoch_end(state, record)`` after every epoch, ``on_stage_end(state)`` when a stage ends
and ``on_train_end(state)`` once. A true return value of ``on_batch_end`` or ``on_epoch_end``
stops training (``state.stop_reason`` says why: ``"callback"`` unless the callback set it).
``state`` is the loop's :class:`~hybridfer.nn.state.TrainState` (model, optimizer, EMA, clock,
epoch, history...).

The loop's own behaviours are callbacks too: :class:`EarlyStopping` (keeps the best epoch's
weights, starts a later stage from them and restores them at the end), :class:`TimeBudget`
(stops when the run's budget clock runs out) and :class:`Checkpoint` (an atomic snapshot
after every epoch that ``resume`` continues from).

A plain function ``f(record)`` may also be passed; it is called after every epoch and never
stops training.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import torch

from hybridfer._io import atomic_path
from hybridfer._messages import plain_repr
from hybridfer.nn.state import TrainState

__all__ = ["MONITORS", "Callback", "Checkpoint", "EarlyStopping", "TimeBudget", "as_callback"]

#: Validation metrics :class:`EarlyStopping` can monitor.
MONITORS = ("val_loss", "val_accuracy")


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, state: TrainState) -> None:
        """Training starts (after a resume has restored the state)."""

    def on_stage_begin(self, state: TrainState) -> None:
        """A stage starts, or goes on after a resume (``state.stage_epoch`` epochs done)."""

    def on_batch_end(self, state: TrainState) -> bool | None:
        """An optimizer step was taken (``state.step`` of the stage); True stops training.

        The loop calls it only on callbacks that override it.
        """
        return None

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> bool | None:
        """An epoch ended with ``record`` (see ``TrainingResult.history``); True stops."""
        return None

    def on_stage_end(self, state: TrainState) -> None:
        """A stage ended (``state.stop_reason`` is set when training stops with it)."""

    def on_train_end(self, state: TrainState) -> None:
        """Training ended."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of this callback."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load what :meth:`state_dict` returned."""


class _FunctionCallback(Callback):
    def __init__(self, fn) -> None:
        self.fn = fn

    def on_epoch_end(self, state, record):
        self.fn(record)
        return None


def as_callback(obj: Any) -> Callback:
    """A :class:`Callback` as is; a plain ``f(record)`` wrapped into one."""
    if isinstance(obj, Callback):
        return obj
    if callable(obj):
        return _FunctionCallback(obj)
    raise TypeError(
        f"a callback must be a Callback or a function of the epoch record, got {plain_repr(obj)}"
    )


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; keep the best weights.

    The best epoch's weights (the EMA weights when there is an EMA) are copied when it
    improves. A later stage starts from them (model and EMA), and they are loaded into the
    model at the end of training. With ``patience=None`` it only keeps the best epoch and
    never stops. Each stage counts its own epochs without improvement.
    """

    def __init__(self, monitor: str = "val_loss", patience: int | None = 10) -> None:
        if monitor not in MONITORS:
            raise ValueError(
                f"monitor must be 'val_loss' or 'val_accuracy', got {plain_repr(monitor)}"
            )
        self.monitor = monitor
        self.patience = patience
        self.best_score = -math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.wait = 0

    def on_stage_begin(self, state):
        self.wait = 0
        if state.stage > 1 and state.stage_epoch == 0 and self.best_state is not None:
            state.model.load_state_dict(self.best_state)  # a later stage starts from the best
            if state.ema is not None:
                state.ema.module.load_state_dict(self.best_state)

    def on_epoch_end(self, state, record):
        if self.monitor not in record:
            return None
        value = record[self.monitor]
        score = value if self.monitor == "val_accuracy" else -value
        if score > self.best_score:
            self.best_score, self.best_epoch, self.wait = score, record["epoch"], 0
            src = state.averaged_module()
            self.best_state = {k: v.detach().clone() for k, v in src.state_dict().items()}
        else:
            self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            state.stop_reason = "early_stopping"
            return True
        return None

    def on_train_end(self, state):
        if self.best_state is not None:
            state.model.load_state_dict(self.best_state)

    def state_dict(self):
        return {
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "best_state": self.best_state,
            "wait": self.wait,
        }

    def load_state_dict(self, state):
        self.best_score = state["best_score"]
        self.best_epoch = state["best_epoch"]
        self.best_state = state["best_state"]
        self.wait = state["wait"]


class TimeBudget(Callback):
    """Stop when the run's budget clock (``state.clock``, ``max_time`` seconds) runs out.

    The loop ends an epoch at the step the clock runs out; at an epoch's end this callback
    asks the clock once more (validation takes time too). Either way the run stops at progress
    exactly 1: the last rate, and the last record's ``lr``, are the schedule's end.
    """

    def on_epoch_end(self, state, record):
        if not state.clock.expired():
            return None
        state.apply_schedule()  # the clock's progress is 1 from now on
        record["lr"] = state.optimizer.param_groups[0]["lr"]
        state.stop_reason = "max_time"
        return True


class Checkpoint(Callback):
    """Write the whole training state to ``path`` after every epoch, atomically.

    The file holds the model, optimizer, gradient scaler and EMA states, the epoch, stage and
    step counts, the seconds trained, torch's and numpy's random states, the history and the
    other callbacks' states: :func:`~hybridfer.nn.training.fit_module` with ``resume=True``
    continues from it after a kill, with the same epochs and schedule. A half-written file
    never replaces the last complete one.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)

    def on_epoch_end(self, state, record):
        start = time.perf_counter()
        snapshot = state.snapshot()
        with atomic_path(self.path) as tmp:
            torch.save(snapshot, tmp)
        record["checkpoint_time"] = time.perf_counter() - start
        return None
