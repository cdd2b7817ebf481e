"""Callbacks of the training loop: objects told about each epoch that may stop training.

In the spirit of skorch's callbacks: :func:`hybridfer.nn.training.fit_module` calls
``on_train_begin(state)`` once, ``on_epoch_end(state, record)`` after every epoch (a true
return value stops training, and ``state.stop_reason`` says why) and ``on_train_end(state)``
once. ``state`` is the loop's :class:`~hybridfer.nn.training.TrainState` (model, optimizer,
EMA, epoch, history...). The loop's own steps are callbacks too: :class:`EarlyStopping`
(restores the best epoch's weights at the end), :class:`TimeBudget` and :class:`Checkpoint`
(an atomic snapshot after every epoch that ``resume`` continues from).

A plain function ``f(record)`` may also be passed; it is called after every epoch and never
stops training.
"""

from __future__ import annotations

import math
import os
import time
from typing import TYPE_CHECKING, Any

import torch

from hybridfer._io import atomic_path
from hybridfer._messages import plain_repr

if TYPE_CHECKING:  # pragma: no cover
    from hybridfer.nn.training import TrainState

__all__ = ["Callback", "Checkpoint", "EarlyStopping", "TimeBudget", "as_callback"]


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, state: TrainState) -> None:  # noqa: D102
        pass

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> bool | None:  # noqa: D102
        return None

    def on_train_end(self, state: TrainState) -> None:  # noqa: D102
        pass

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of this callback."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: D102
        pass


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
    improves and loaded into the model at the end of training (and at the end of a first
    stage, so the second stage starts from them). With ``patience=None`` it only keeps the
    best epoch and never stops.
    """

    def __init__(self, monitor: str = "val_loss", patience: int | None = 10) -> None:
        if monitor not in ("val_loss", "val_accuracy"):
            raise ValueError(
                f"monitor must be 'val_loss' or 'val_accuracy', got {plain_repr(monitor)}"
            )
        self.monitor = monitor
        self.patience = patience
        self.best_score = -math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.wait = 0

    def on_stage_begin(self) -> None:
        self.wait = 0

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
    """Stop after ``max_time`` seconds of training (the loop also checks it after every
    batch and anneals its schedule over it)."""

    def __init__(self, max_time: float) -> None:
        self.max_time = float(max_time)

    def on_epoch_end(self, state, record):
        if state.elapsed() >= self.max_time:
            state.stop_reason = "max_time"
            return True
        return None


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
