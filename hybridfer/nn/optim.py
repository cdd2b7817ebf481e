"""Optimizers and learning-rate schedules by name (torch's own implementations)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["OPTIMIZERS", "SCHEDULES", "make_optimizer", "make_scheduler"]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "step", "onecycle")


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


def make_scheduler(
    name: str | None,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    min_lr: float = 0.0,
    step_size: int = 10,
    step_gamma: float = 0.1,
) -> tuple[torch.optim.lr_scheduler.LRScheduler | None, bool]:
    """A schedule and whether it steps after every batch (True) or every epoch (False).

    ``"cosine"``: cosine annealing from the initial rate to ``min_lr`` over all batches of
    ``epochs``. ``"step"``: multiply by ``step_gamma`` every ``step_size`` epochs.
    ``"onecycle"``: torch's one-cycle policy with the initial rate as the peak.
    ``None``/``"constant"``: none.
    """
    if name in (None, "constant"):
        return None, False
    total = max(1, epochs * steps_per_epoch)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=total, eta_min=min_lr
        ), True
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=step_size, gamma=step_gamma
        ), False
    if name == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=total
        ), True
    raise ValueError(f"lr_schedule must be one of {SCHEDULES} or None, got {name!r}")
