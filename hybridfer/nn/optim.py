"""Optimizers by name (torch's own) and learning-rate schedules over training progress."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

__all__ = ["OPTIMIZERS", "SCHEDULES", "LRSchedule", "make_optimizer"]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "step", "onecycle")


def make_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    *,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
) -> torch.optim.Optimizer:
    """``"adam"``, ``"adamw"`` or ``"sgd"`` (with Nesterov momentum when ``momentum > 0``)."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("no trainable parameters: every parameter is frozen")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay
        )
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


class LRSchedule:
    """A learning-rate schedule as a function of training *progress* in [0, 1].

    Progress is the fraction of the planned steps done, or, with a time budget, the larger of
    that and the fraction of the budget spent, so a run cut short by ``max_time`` still
    anneals to its end: every budgeted cosine, warmup-cosine or one-cycle run ends at
    ``min_lr``. The schedule holds no state besides its settings (a resumed run recomputes the
    rate from its step count and elapsed time).

    Parameters
    ----------
    name : {"constant", "cosine", "warmup_cosine", "step", "onecycle"} or None
        ``"cosine"``: cosine from the initial rate to ``min_lr``. ``"warmup_cosine"``: linear
        warm-up from ``min_lr`` over ``warmup`` of the run, then cosine to ``min_lr``.
        ``"onecycle"``: cosine warm-up from a 25th of the rate to the rate over the first 30%,
        then cosine annealing to ``min_lr`` (torch's one-cycle shape, without the momentum
        cycle). ``"step"``: times ``step_gamma`` every ``step_size`` epochs' worth of
        progress. ``None``/``"constant"``: the initial rate throughout.
    epochs : int
        Planned epochs of the stage (to read ``step_size`` as a fraction of progress).
    min_lr : float
    warmup : float
        Fraction of the run spent warming up (``"warmup_cosine"``).
    """

    def __init__(
        self,
        name: str | None,
        *,
        epochs: int,
        min_lr: float = 0.0,
        step_size: int = 10,
        step_gamma: float = 0.1,
        warmup: float = 0.05,
    ) -> None:
        if name not in (None, *SCHEDULES):
            raise ValueError(f"lr_schedule must be one of {SCHEDULES} or None, got {name!r}")
        self.name = name or "constant"
        self.epochs = max(1, int(epochs))
        self.min_lr = float(min_lr)
        self.step_size = int(step_size)
        self.step_gamma = float(step_gamma)
        self.warmup = float(warmup)

    def lr(self, base_lr: float, progress: float) -> float:
        """The rate at ``progress`` for a group whose initial rate is ``base_lr``."""
        p = min(max(float(progress), 0.0), 1.0)
        lo = min(self.min_lr, base_lr)

        def cosine(q: float, hi: float) -> float:
            return lo + (hi - lo) * 0.5 * (1.0 + math.cos(math.pi * q))

        if self.name == "constant":
            return base_lr
        if self.name == "cosine":
            return cosine(p, base_lr)
        if self.name == "warmup_cosine":
            if self.warmup > 0 and p < self.warmup:
                return lo + (base_lr - lo) * p / self.warmup
            return cosine((p - self.warmup) / max(1e-12, 1.0 - self.warmup), base_lr)
        if self.name == "onecycle":
            start, peak = base_lr / 25.0, 0.3
            if p < peak:
                return start + (base_lr - start) * 0.5 * (1.0 - math.cos(math.pi * p / peak))
            return cosine((p - peak) / (1.0 - peak), base_lr)
        # step: epochs' worth of progress
        return base_lr * self.step_gamma ** int(p * self.epochs // max(1, self.step_size))

    def apply(self, optimizer: torch.optim.Optimizer, base_lrs: list[float], progress: float):
        """Set every parameter group's rate for ``progress``."""
        for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
            group["lr"] = self.lr(base, progress)
