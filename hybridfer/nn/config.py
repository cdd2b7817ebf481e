"""What a training run is told and what it reports: :class:`TrainConfig`, :class:`TrainingResult`.

:data:`TRAINING_PARAMETERS` names the configuration's fields, so the estimators that expose
them as parameters never list them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

__all__ = ["TRAINING_PARAMETERS", "TrainConfig", "TrainingResult"]


@dataclass
class TrainConfig:
    """Everything :func:`~hybridfer.nn.training.fit_module` needs besides the model and data.

    Attributes
    ----------
    epochs : int
        Maximum number of passes over the training data.
    batch_size : int
    optimizer : {"adam", "adamw", "sgd"}
    learning_rate : float
    weight_decay : float
    momentum : float
        SGD momentum (Nesterov).
    lr_schedule : {"constant", "cosine", "warmup_cosine", "step", "onecycle"} or None
        See :class:`hybridfer.nn.optim.LRSchedule`. The schedule runs over the planned steps,
        or over ``max_time`` when that comes first.
    min_lr : float
        Final rate of the cosine, warmup-cosine and one-cycle schedules.
    warmup : float
        Fraction of the run spent warming up (``"warmup_cosine"``).
    step_size, step_gamma : int, float
        Step schedule: multiply by ``step_gamma`` every ``step_size`` epochs.
    loss : {"cross_entropy", "focal"}
    focal_alpha, focal_gamma : float or sequence, float
        Focal-loss parameters (see :class:`hybridfer.nn.losses.FocalLoss`).
    label_smoothing : float
    class_weight : {"balanced", "normalized"}, dict or None
        See :func:`hybridfer.nn.losses.compute_class_weights`; multiplied into sample weights.
    early_stopping : bool
        Stop when the monitored validation metric has not improved for ``patience`` epochs and
        restore the best epoch's weights. Validation data is ``eval_set`` when given, else a
        stratified ``validation_fraction`` of the training data.
    validation_fraction : float
    patience : int
    monitor : {"val_loss", "val_accuracy"}
    ema_decay : float or None
        Keep an exponential moving average of the weights (and BatchNorm statistics) with this
        decay (warmed up as ``min(decay, (1 + t) / (10 + t))`` after ``t`` steps); validation
        then uses the EMA weights and the trained model ends with them.
    grad_clip : float or None
        Clip the gradients' global L2 norm to this value.
    precision : {"auto", "float32", "bfloat16", "float16"}
        ``"auto"``: bfloat16 autocast on CPUs with native bf16 and on GPUs that have it
        (float16 with loss scaling on other GPUs), float32 elsewhere.
    channels_last : bool or "auto"
        Channels-last memory format for the model and its 4-D inputs; ``"auto"``: on CUDA, and
        on CPUs in float32 or native bf16, not emulated bf16 (see
        :func:`hybridfer.nn.devices.use_channels_last`).
    progressive_resize : sequence of (float, int) or None
        Progressive resizing: ``(until, size)`` pairs, ``until`` increasing in (0, 1]. Training
        batches (after augmentation) are resized to ``size`` x ``size`` while the stage's
        progress, as the learning-rate schedule counts it, is below ``until``, then to the next
        pair's size; after the last pair they keep the size ``prepare`` gave them. Validation
        and prediction always use that size. None: no resizing.
    compile : bool
        Train through ``torch.compile(model)``. Off by default: compilation costs tens of
        seconds before the first step, so it pays only for long runs, and it needs a C
        compiler on the CPU (``benchmarks/bench_training.py --compile`` times both).
    num_workers : int or None
        DataLoader workers decoding image files ahead of the training step (None: see
        :func:`~hybridfer.nn.batches.training_workers`; 0 decodes in this process).
        In-memory images need none.
    device : str
        ``"auto"``: cuda, then mps, then cpu.
    freeze : str or sequence of str, optional
        Module names frozen in the first stage (see :func:`hybridfer.nn.freeze.select_frozen`).
    freeze_up_to : str, optional
        Freeze every parameter up to and including this module in the first stage.
    frozen_epochs : int or None
        Length of the first (frozen) stage; the rest is trained with everything unfrozen.
        None keeps the frozen layers frozen for the whole run.
    unfreeze_lr : float or None
        Learning rate of the second stage (None: ``learning_rate``).
    max_time : float or None
        Training-time budget in seconds, checked after every batch; the schedule anneals over
        it (each stage gets its share in proportion to its epochs).
    checkpoint : str or None
        File the training state is written to after every epoch (atomically).
    resume : bool
        Continue from ``checkpoint`` when it exists (a killed run goes on with the same
        epoch count, schedule and random state); otherwise start afresh.
    random_state : int or None
    verbose : int
        0 silent; 1 a progress bar per epoch and one line per epoch with loss/accuracy.
    """

    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    lr_schedule: str | None = None
    min_lr: float = 0.0
    warmup: float = 0.05
    step_size: int = 10
    step_gamma: float = 0.1
    loss: str = "cross_entropy"
    focal_alpha: float | Sequence[float] | None = None
    focal_gamma: float = 2.0
    label_smoothing: float = 0.0
    class_weight: str | Mapping | None = None
    early_stopping: bool = False
    validation_fraction: float = 0.1
    patience: int = 10
    monitor: str = "val_loss"
    ema_decay: float | None = None
    grad_clip: float | None = None
    precision: str = "auto"
    channels_last: bool | str = "auto"
    progressive_resize: Sequence[tuple[float, int]] | None = None
    compile: bool = False
    num_workers: int | None = None
    device: str = "auto"
    freeze: str | Sequence[str] | None = None
    freeze_up_to: str | None = None
    frozen_epochs: int | None = None
    unfreeze_lr: float | None = None
    max_time: float | None = None
    checkpoint: str | None = None
    resume: bool = False
    random_state: int | None = None
    verbose: int = 0


@dataclass
class TrainingResult:
    """What :func:`~hybridfer.nn.training.fit_module` reports.

    Attributes
    ----------
    history : list of dict
        One record per epoch: ``epoch``, ``stage``, ``lr`` (at the end of the epoch),
        ``loss``, ``accuracy``, ``time`` (seconds of the epoch), ``elapsed`` (seconds since
        training began), ``n_samples``, and ``val_loss``/``val_accuracy`` when there is
        validation data. The epoch in which the time budget ran out during the training steps
        also has ``time_ran_out``: True when it cut the epoch short, False when it ran out
        on the epoch's last step.
    best_epoch : int or None
        Epoch (1-based) whose weights were restored, when early stopping chose one.
    stop_reason : str
        ``"max_epochs"``, ``"early_stopping"``, ``"max_time"`` or ``"callback"``.
    raw_state_dict : dict or None
        With EMA: the raw (non-averaged) weights at the end of training, on the CPU.
    device : torch.device
    precision : torch.dtype
    channels_last : bool
    train_time : float
        Seconds spent training (evaluation included; a resumed run counts its earlier part).
    resumed_from : int or None
        Epochs already done in the checkpoint this run resumed from.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    stop_reason: str = "max_epochs"
    raw_state_dict: dict[str, torch.Tensor] | None = None
    device: torch.device = torch.device("cpu")
    precision: torch.dtype = torch.float32
    channels_last: bool = False
    train_time: float = 0.0
    resumed_from: int | None = None

    @property
    def n_epochs(self) -> int:
        """Epochs run (a partial last epoch under ``max_time`` counts)."""
        return len(self.history)


#: The names of :class:`TrainConfig`'s fields, in their order.
TRAINING_PARAMETERS: tuple[str, ...] = tuple(f.name for f in fields(TrainConfig))
