"""The state of one training run: what the loop and its callbacks share and what checkpoints save.

:class:`TrainState` holds the model, its EMA, the stage's optimizer, gradient scaler and
learning-rate schedule, the counters, the history and the run's
:class:`~hybridfer.nn.budget.BudgetClock`. :meth:`TrainState.snapshot` and
:meth:`TrainState.restore` turn it into a checkpoint and back. The callbacks are typed against
:class:`Stateful`, the little a checkpoint needs of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from torch import nn

from hybridfer.nn.budget import BudgetClock

if TYPE_CHECKING:  # pragma: no cover
    from torch.optim.swa_utils import AveragedModel

    from hybridfer.nn.optim import LRSchedule

__all__ = ["Stateful", "TrainState"]


class Stateful(Protocol):
    """What a checkpoint needs of a callback: its state as a dict, and loading it back."""

    def state_dict(self) -> dict[str, Any]:
        """The state to keep (empty: nothing is saved)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load what :meth:`state_dict` returned."""
        ...


class TrainState:
    """The mutable state of one training run, shared with the callbacks.

    Attributes
    ----------
    model, ema, optimizer, scaler
        The module, its :class:`~torch.optim.swa_utils.AveragedModel` (or None), the current
        stage's optimizer and the gradient scaler.
    schedule, base_lrs
        The stage's :class:`~hybridfer.nn.optim.LRSchedule` and its parameter groups' initial
        rates (see :meth:`apply_schedule`).
    clock : BudgetClock
        Seconds trained, the time budget and the stage's progress.
    epoch : int
        Epochs finished (1-based numbering of the next record).
    stage, stage_epoch, step : int
        Current stage (1-based), epochs finished in it, optimizer steps taken in it.
    progress : float
        The stage's progress (0 to 1) at the last :meth:`apply_schedule`.
    history : list of dict
    stop_reason : str or None
    rng : numpy Generator
        Batch order.
    callbacks : list
        The run's callbacks, in the order they are called.
    """

    def __init__(
        self,
        model: nn.Module,
        ema: AveragedModel | None,
        rng: np.random.Generator,
        device: torch.device,
        clock: BudgetClock,
    ) -> None:
        self.model = model
        self.ema = ema
        self.rng = rng
        self.device = device
        self.clock = clock
        self.optimizer: torch.optim.Optimizer | None = None
        self.scaler: torch.amp.GradScaler | None = None
        self.schedule: LRSchedule | None = None
        self.base_lrs: list[float] = []
        self.epoch = 0
        self.stage = 1
        self.stage_epoch = 0
        self.step = 0
        self.progress = 0.0
        self.history: list[dict[str, Any]] = []
        self.stop_reason: str | None = None
        self.callbacks: list[Stateful] = []
        self.fingerprint: dict[str, Any] = {}

    def elapsed(self) -> float:
        """Seconds trained, including the part before a resume."""
        return self.clock.elapsed()

    def apply_schedule(self) -> None:
        """Set every parameter group's rate for the stage's progress after ``step`` steps
        (exactly the schedule's end once the clock is out of time)."""
        self.progress = self.clock.progress(self.step)
        self.schedule.apply(self.optimizer, self.base_lrs, self.progress)

    def averaged_module(self) -> nn.Module:
        """The module validation uses: the EMA's when there is one."""
        return self.ema.module if self.ema is not None else self.model

    def snapshot(self) -> dict[str, Any]:
        """Everything a resume needs, as CPU tensors and plain values."""
        return {
            "fingerprint": self.fingerprint,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": self.epoch,
            "stage": self.stage,
            "stage_epoch": self.stage_epoch,
            "step": self.step,
            "elapsed": self.elapsed(),
            "history": self.history,
            "stop_reason": self.stop_reason,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            "numpy_rng": self.rng.bit_generator.state,
            "callbacks": {
                type(cb).__name__: cb.state_dict() for cb in self.callbacks if cb.state_dict()
            },
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Load a :meth:`snapshot` (model, EMA, counters, random states, callbacks)."""
        self.model.load_state_dict(snap["model"])
        if self.ema is not None and snap["ema"] is not None:
            self.ema.load_state_dict(snap["ema"])
        self.epoch, self.stage = snap["epoch"], snap["stage"]
        self.stage_epoch, self.step = snap["stage_epoch"], snap["step"]
        self.clock.restart(snap["elapsed"])
        self.history = list(snap["history"])
        self.stop_reason = snap.get("stop_reason")
        torch.set_rng_state(snap["torch_rng"])
        if snap.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(snap["cuda_rng"])
        self.rng.bit_generator.state = snap["numpy_rng"]
        saved = snap.get("callbacks", {})
        for cb in self.callbacks:
            if type(cb).__name__ in saved:
                cb.load_state_dict(saved[type(cb).__name__])
