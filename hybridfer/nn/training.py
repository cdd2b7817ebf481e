"""The one training loop every trainable hybridfer network uses.

:func:`fit_module` trains any ``nn.Module`` classifier on in-memory arrays, tensors or lazily
decoded images (:class:`~hybridfer.images.ImageSource`), configured by a :class:`TrainConfig`:
optimizer and a schedule over training progress (annealed over the time budget when there is
one, so a budgeted run still ends at ``min_lr``), loss (cross-entropy or focal) with class and
sample weights, batched augmentation with mixup/CutMix, gradient clipping, mixed precision
(bf16 on CPUs that compute it natively and on GPUs), channels-last memory format, an
exponential moving average (EMA) of the weights, early stopping with best-epoch restore,
two-stage training (frozen layers, then unfrozen), checkpoints after every epoch with resume,
and a progress bar. :func:`predict_module` streams inputs through a trained module in batches,
optionally averaging test-time augmented views.

The loop is split into steps (:meth:`Trainer.train_epoch`, :meth:`Trainer.evaluate`,
:meth:`Trainer.run_stage`) and :mod:`callbacks <hybridfer.nn.callbacks>` that may stop it.
Per-batch loss and accuracy are summed on the device and read once per epoch: no host
synchronisation per step.

Seeds: with an integer ``random_state`` the batch order, the validation split and every torch
random draw (initialisation is the caller's; dropout, augmentation) are repeatable; torch's
global generator is forked, so the caller's random state is left untouched. A time budget
makes the schedule depend on the clock, so budgeted runs are repeatable only in their epochs.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from hybridfer.nn.batches import available_cpus, default_num_workers, iter_batches
from hybridfer.nn.callbacks import Callback, Checkpoint, EarlyStopping, TimeBudget, as_callback
from hybridfer.nn.devices import (
    autocast,
    resolve_device,
    resolve_precision,
    to_device,
    use_channels_last,
)
from hybridfer.nn.freeze import frozen_module_names, select_frozen, set_frozen
from hybridfer.nn.losses import compute_class_weights, make_loss
from hybridfer.nn.optim import LRSchedule, make_optimizer

__all__ = [
    "TTA_MODES",
    "RowSubset",
    "TrainConfig",
    "TrainState",
    "Trainer",
    "TrainingResult",
    "fit_module",
    "predict_module",
    "seed_from",
    "seeded",
    "take_batch",
    "training_workers",
    "tta_views",
]

#: Test-time augmentation modes of :func:`predict_module`.
TTA_MODES = (None, "flip", "crops")


@dataclass
class TrainConfig:
    """Everything :func:`fit_module` needs to know besides the model and the data.

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
        Channels-last memory format for the model and its 4-D inputs; ``"auto"``: on CUDA and
        on CPUs running bf16 natively (see :func:`hybridfer.nn.devices.use_channels_last`).
    compile : bool
        Train through ``torch.compile(model)``. Off by default: it pays only for long runs and
        needs a C compiler on the CPU. Measured on fer_vgg (2 Xeon cores, bf16): compilation
        costs about 41 s, then each epoch takes 0.90x the eager time
        (``benchmarks/bench_training.py --compile``).
    num_workers : int or None
        DataLoader workers decoding image files ahead of the training step (None: see
        :func:`training_workers`; 0 decodes in this process). In-memory images need none.
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
    """What :func:`fit_module` reports.

    Attributes
    ----------
    history : list of dict
        One record per epoch: ``epoch``, ``stage``, ``lr`` (at the end of the epoch),
        ``loss``, ``accuracy``, ``time`` (seconds of the epoch), ``elapsed`` (seconds since
        training began), ``n_samples``, and ``val_loss``/``val_accuracy`` when there is
        validation data.
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


def seed_from(random_state: Any) -> int:
    """The integer seed of a scikit-learn ``random_state``: an int is used as it is; a
    ``RandomState`` (or None, fresh entropy) draws one. Every estimator uses this rule."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def seeded(seed: int | None, device: torch.device | None = None) -> Iterator[None]:
    """Seed torch's generators for the block, restoring the caller's state afterwards.

    ``seed=None`` leaves torch's global state alone (runs are not repeatable).
    """
    if seed is None:
        yield
        return
    devices = []
    if device is not None and device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        if device is not None and device.type == "mps":
            torch.mps.manual_seed(int(seed))
        yield


def take_batch(X: Any, idx: np.ndarray) -> torch.Tensor:
    """Rows ``idx`` of an ndarray, a tensor or an :class:`ImageSource` (anything with
    ``load(indices)``), as a CPU tensor."""
    if isinstance(X, torch.Tensor):
        return X[torch.as_tensor(idx)]
    if hasattr(X, "load"):  # ImageSource, or anything with load(indices)
        return torch.from_numpy(np.ascontiguousarray(X.load(idx)))
    return torch.from_numpy(np.ascontiguousarray(X[idx]))


class RowSubset:
    """The rows ``rows`` of an image source (or any object with ``load(indices)``)."""

    def __init__(self, source: Any, rows: np.ndarray) -> None:
        self.source = source
        self.rows = np.asarray(rows)
        self.is_lazy = bool(getattr(source, "is_lazy", False))

    def __len__(self) -> int:
        return len(self.rows)

    def load(self, indices: np.ndarray) -> np.ndarray:
        return self.source.load(self.rows[np.asarray(indices)])


def _ema_update(decay: float) -> Callable:
    """EMA step for :class:`~torch.optim.swa_utils.AveragedModel` with a warm-up: the decay
    after ``t`` updates is ``min(decay, (1 + t) / (10 + t))`` (TensorFlow's
    ``ExponentialMovingAverage(num_updates=t)``), so a short run is not dominated by the
    initial weights. Integer buffers (BatchNorm's batch counter) are copied."""

    def update(ema_params: list, model_params: list, n_averaged: torch.Tensor) -> None:
        t = int(n_averaged)
        d = min(decay, (1.0 + t) / (10.0 + t))
        if ema_params[0].is_floating_point():
            torch._foreach_lerp_(ema_params, model_params, 1.0 - d)
        else:
            for e, p in zip(ema_params, model_params, strict=True):
                e.copy_(p)

    return update


def _default_forward(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    return model(inputs)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


class _DeviceMetrics:
    """Weighted loss and accuracy summed on the device; read once (one synchronisation)."""

    def __init__(self, device: torch.device) -> None:
        self.sums = torch.zeros(3, dtype=torch.float64, device=device)
        self.n = 0

    def add(self, loss: torch.Tensor, w: torch.Tensor, logits: torch.Tensor, y: torch.Tensor):
        correct = (logits.detach().argmax(1) == y).sum()
        self.sums += torch.stack(
            [(loss.detach() * w).sum().double(), w.sum().double(), correct.double()]
        )
        self.n += len(y)

    def result(self) -> tuple[float, float]:
        loss_sum, weight, correct = self.sums.tolist()
        loss = loss_sum / weight if weight > 0 else math.nan
        return loss, correct / max(self.n, 1)


def _validation_split(
    y: np.ndarray, fraction: float, seed: int | None
) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(len(y))
    n_val = int(math.ceil(fraction * len(y)))
    n_classes = len(np.unique(y))
    stratify = y if np.bincount(y).min(initial=len(y)) >= 2 and n_val >= n_classes else None
    stratify = stratify if np.all(np.bincount(y)[np.unique(y)] >= 2) else None
    if n_val < 1 or len(y) - n_val < 1:
        raise ValueError(
            f"validation_fraction={fraction} leaves no training or no validation samples out "
            f"of {len(y)}"
        )
    train, val = train_test_split(idx, test_size=n_val, stratify=stratify, random_state=seed)
    return np.sort(train), np.sort(val)


def training_workers(device: torch.device) -> int:
    """Decoding workers for training from files when ``num_workers`` is None.

    On a GPU the CPU is free: :func:`~hybridfer.nn.batches.default_num_workers`. On the CPU
    workers only pay with cores that torch's compute threads leave idle (measured on 2
    cores: decoding in the training process ran at 0.94x of in-memory arrays, one or two
    workers at 0.82-0.86x), so ``CPUs - torch threads``, at most 4.
    """
    if device.type != "cpu":
        return default_num_workers()
    return max(0, min(4, available_cpus() - torch.get_num_threads()))


def _is_conv_net(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


class TrainState:
    """The mutable state of one training run, shared with the callbacks.

    Attributes
    ----------
    model, ema, optimizer, scaler
        The module, its :class:`~torch.optim.swa_utils.AveragedModel` (or None), the current
        stage's optimizer and the gradient scaler.
    epoch : int
        Epochs finished (1-based numbering of the next record).
    stage, stage_epoch, step : int
        Current stage (1-based), epochs finished in it, optimizer steps taken in it.
    history : list of dict
    stop_reason : str or None
    rng : numpy Generator
        Batch order.
    """

    def __init__(self, model, ema, rng, device) -> None:
        self.model = model
        self.ema = ema
        self.rng = rng
        self.device = device
        self.optimizer: torch.optim.Optimizer | None = None
        self.scaler: torch.amp.GradScaler | None = None
        self.epoch = 0
        self.stage = 1
        self.stage_epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.stop_reason: str | None = None
        self.callbacks: list[Callback] = []
        self.fingerprint: dict[str, Any] = {}
        self._elapsed_before = 0.0
        self._t0 = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds trained, including the part before a resume."""
        return self._elapsed_before + time.perf_counter() - self._t0

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
        self._elapsed_before = float(snap["elapsed"])
        self._t0 = time.perf_counter()
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


class Trainer:
    """One training run of ``model`` (see :func:`fit_module` for the parameters)."""

    def __init__(
        self,
        model: nn.Module,
        X: Any,
        y: np.ndarray,
        config: TrainConfig,
        *,
        n_classes: int | None = None,
        prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        forward: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
        sample_weight: np.ndarray | None = None,
        eval_set: tuple[Any, np.ndarray] | None = None,
        classes: Sequence | None = None,
        callbacks: Sequence[Any] = (),
    ) -> None:
        self.config = config
        self.prepare = prepare or _identity
        self.augment = augment
        self.forward = forward or _default_forward
        y = np.asarray(y, dtype=np.int64)
        n = len(y)
        self.n_classes = int(y.max()) + 1 if n_classes is None else int(n_classes)
        if config.batch_size < 1 or config.epochs < 1:
            raise ValueError("batch_size and epochs must be >= 1")
        if config.monitor not in ("val_loss", "val_accuracy"):
            raise ValueError(
                f"monitor must be 'val_loss' or 'val_accuracy', got {config.monitor!r}"
            )
        if config.resume and not config.checkpoint:
            raise ValueError("resume=True needs a checkpoint file to resume from")
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        cw = compute_class_weights(config.class_weight, y, self.n_classes, classes)
        self.X, self.y = X, y
        self.train_idx = np.arange(n)
        self.X_val = self.y_val = self.val_rows = None
        if eval_set is not None:
            self.X_val, self.y_val = eval_set[0], np.asarray(eval_set[1], dtype=np.int64)
            self.val_rows = np.arange(len(self.y_val))
        elif config.early_stopping:
            self.train_idx, self.val_rows = _validation_split(
                y, config.validation_fraction, config.random_state
            )
            self.X_val, self.y_val = X, y
        self.device = resolve_device(config.device)
        self.dtype = resolve_precision(config.precision, self.device)
        self.channels_last = _is_conv_net(model) and use_channels_last(
            config.channels_last, self.device, self.dtype
        )
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        self.fwd_model = torch.compile(model) if config.compile else model
        self.w_all = torch.from_numpy((sw * cw[y]).astype(np.float32))
        self.y_all = torch.from_numpy(y)
        loss_options = {
            "focal_alpha": config.focal_alpha,
            "focal_gamma": config.focal_gamma,
            "reduction": "none",
        }
        self.loss_fn = make_loss(
            config.loss, label_smoothing=config.label_smoothing, **loss_options
        ).to(self.device)
        self.eval_loss_fn = make_loss(config.loss, **loss_options).to(self.device)
        ema = None
        if config.ema_decay is not None:
            ema = AveragedModel(model, multi_avg_fn=_ema_update(config.ema_decay), use_buffers=True)
        self.state = TrainState(model, ema, np.random.default_rng(config.random_state), self.device)
        self.state.fingerprint = {
            "n_samples": n,
            "n_classes": self.n_classes,
            "parameters": [list(p.shape) for p in model.parameters()],
            "config": {
                k: v
                for k, v in asdict(config).items()
                if k not in ("verbose", "checkpoint", "resume", "device", "max_time", "num_workers")
            },
        }
        self.early_stopping = None
        if config.early_stopping and self.X_val is not None:
            self.early_stopping = EarlyStopping(config.monitor, config.patience)
        cbs: list[Callback] = [] if self.early_stopping is None else [self.early_stopping]
        if config.max_time is not None:
            cbs.append(TimeBudget(config.max_time))
        cbs += [as_callback(c) for c in callbacks]
        if config.checkpoint:
            cbs.append(Checkpoint(config.checkpoint))  # last: it saves the others' states
        self.state.callbacks = cbs
        frozen = select_frozen(model, config.freeze, config.freeze_up_to)
        if frozen and config.frozen_epochs is not None and config.frozen_epochs < config.epochs:
            lr2 = config.unfreeze_lr if config.unfreeze_lr is not None else config.learning_rate
            stages = [(config.frozen_epochs, frozen, config.learning_rate)]
            stages.append((config.epochs - config.frozen_epochs, [], lr2))
            self.stages = [s for s in stages if s[0] > 0]
        else:
            self.stages = [(config.epochs, frozen, config.learning_rate)]
        self.steps_per_epoch = max(1, math.ceil(len(self.train_idx) / config.batch_size))

    # -- steps --------------------------------------------------------------------------

    def _batch(self, X: Any, rows: np.ndarray, raw: torch.Tensor | None = None) -> torch.Tensor:
        raw = take_batch(X, rows) if raw is None else raw
        xb = self.prepare(to_device(raw, self.device))
        if self.channels_last and xb.ndim == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        return xb

    def _raw_batches(self, X: Any, order: np.ndarray) -> Iterator[tuple[np.ndarray, Any]]:
        """``(rows, raw batch or None)`` in ``order``; image files are decoded ahead by
        DataLoader workers (``num_workers``) while the network trains on the current batch."""
        bs = self.config.batch_size
        source, idx = (X.source, X.rows[order]) if isinstance(X, RowSubset) else (X, order)
        if getattr(source, "is_lazy", False) and getattr(source, "paths", None) is not None:
            workers = self.config.num_workers
            if workers is None:
                workers = training_workers(self.device)
            batches = iter_batches(
                source, idx, bs, num_workers=workers, pin_memory=self.device.type == "cuda"
            )
            for start, raw in batches:
                yield order[start : start + bs], raw
            return
        for start in range(0, len(order), bs):
            yield order[start : start + bs], None

    def evaluate(self) -> tuple[float, float]:
        """Loss and accuracy of the (EMA) model on the validation rows."""
        module = self.state.averaged_module()
        module.eval()
        metrics = _DeviceMetrics(self.device)
        eval_bs = max(self.config.batch_size, 256)
        with torch.inference_mode(), autocast(self.device, self.dtype):
            for start in range(0, len(self.val_rows), eval_bs):
                rows = self.val_rows[start : start + eval_bs]
                xb = self._batch(self.X_val, rows)
                yb = torch.from_numpy(self.y_val[rows]).to(self.device)
                logits = self.forward(module, xb).float()
                loss = self.eval_loss_fn(logits, yb)
                metrics.add(loss, torch.ones_like(loss), logits, yb)
        return metrics.result()

    def _progress(self, stage_epochs: int, stage_budget: float | None, t_stage: float) -> float:
        done = self.state.step / max(1, stage_epochs * self.steps_per_epoch)
        if stage_budget:
            done = max(done, (self.state.elapsed() - t_stage) / stage_budget)
        return done

    def train_epoch(self, schedule: LRSchedule, base_lrs, stage_epochs, budget, t_stage):
        """One pass over the training rows; returns the epoch record (without validation)."""
        cfg, state = self.config, self.state
        model, optimizer, scaler = self.model, state.optimizer, state.scaler
        bs = cfg.batch_size
        model.train()
        for name in self._eval_modules:
            model.get_submodule(name).eval()
        order = state.rng.permutation(self.train_idx)
        if len(order) % bs == 1 and len(order) > 1:
            order = order[:-1]  # a batch of one breaks BatchNorm in training mode
        metrics = _DeviceMetrics(self.device)
        t_epoch = time.perf_counter()
        mixes = bool(getattr(self.augment, "mixes_labels", False))
        bar = tqdm(
            total=math.ceil(len(order) / bs),
            desc=f"epoch {state.epoch + 1}/{cfg.epochs}",
            disable=not cfg.verbose,
            leave=False,
        )
        out_of_time = False
        params = [p for p in model.parameters() if p.requires_grad]
        for rows, raw in self._raw_batches(self.X, order):
            xb = self._batch(self.X, rows, raw)
            yb = to_device(self.y_all[rows], self.device)
            wb = to_device(self.w_all[rows], self.device)
            partner = lam = None
            if self.augment is not None:
                xb = self.augment(xb)
                if mixes:
                    xb, partner, lam = self.augment.mix(xb)
            with autocast(self.device, self.dtype):
                logits = self.forward(self.fwd_model, xb)
            logits = logits.float()
            per_sample = self.loss_fn(logits, yb)
            if partner is not None:
                per_sample = lam * per_sample + (1 - lam) * self.loss_fn(logits, yb[partner])
            loss = (per_sample * wb).sum() / wb.sum().clamp_min(1e-12)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            state.step += 1
            if state.ema is not None:
                state.ema.update_parameters(model)
            metrics.add(per_sample, wb, logits, yb)
            bar.update(1)
            # the clock is read for the budget first: a run it ends is then annealed to its end
            out_of_time = cfg.max_time is not None and state.elapsed() >= cfg.max_time
            schedule.apply(optimizer, base_lrs, self._progress(stage_epochs, budget, t_stage))
            if out_of_time:
                break
        bar.close()
        loss_value, acc = metrics.result()
        record: dict[str, Any] = {
            "epoch": state.epoch + 1,
            "stage": state.stage,
            "lr": optimizer.param_groups[0]["lr"],
            "loss": loss_value,
            "accuracy": acc,
            "time": time.perf_counter() - t_epoch,
            "n_samples": metrics.n,
        }
        if out_of_time:
            record["partial"] = metrics.n < len(order)
        return record

    def run_stage(self, stage_epochs: int, frozen: list[str], lr: float) -> bool:
        """Train one stage; True when a callback (or the budget) stopped it."""
        cfg, state = self.config, self.state
        set_frozen(self.model, frozen)
        self._eval_modules = frozen_module_names(self.model, frozen)
        state.optimizer = make_optimizer(
            cfg.optimizer,
            self.model.parameters(),
            lr=lr,
            weight_decay=cfg.weight_decay,
            momentum=cfg.momentum,
        )
        state.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)
        if self._pending_restore is not None:
            snap, self._pending_restore = self._pending_restore, None
            if snap["optimizer"] is not None:
                state.optimizer.load_state_dict(snap["optimizer"])
            if snap["scaler"] is not None:
                state.scaler.load_state_dict(snap["scaler"])
        base_lrs = [lr for _ in state.optimizer.param_groups]
        schedule = LRSchedule(
            cfg.lr_schedule,
            epochs=stage_epochs,
            min_lr=cfg.min_lr,
            step_size=cfg.step_size,
            step_gamma=cfg.step_gamma,
            warmup=cfg.warmup,
        )
        budget = None
        t_stage = 0.0
        if cfg.max_time is not None:
            # each stage anneals over its share of the budget, in proportion to its epochs
            before = sum(e for e, _, _ in self.stages[: state.stage - 1])
            budget = cfg.max_time * stage_epochs / cfg.epochs
            t_stage = cfg.max_time * before / cfg.epochs
        schedule.apply(state.optimizer, base_lrs, self._progress(stage_epochs, budget, t_stage))
        if self.early_stopping is not None:
            self.early_stopping.on_stage_begin()
        while state.stage_epoch < stage_epochs:
            record = self.train_epoch(schedule, base_lrs, stage_epochs, budget, t_stage)
            state.epoch += 1
            state.stage_epoch += 1
            if self.X_val is not None:
                record["val_loss"], record["val_accuracy"] = self.evaluate()
            record["elapsed"] = state.elapsed()
            state.history.append(record)
            stop = record.get("partial") is not None
            if stop:
                state.stop_reason = "max_time"
            for cb in state.callbacks:  # the checkpoint comes last and saves the others
                stop = bool(cb.on_epoch_end(state, record)) or stop
                if stop and state.stop_reason is None:
                    state.stop_reason = "callback"
            if cfg.verbose:
                tqdm.write(_describe(record, cfg.epochs))
            if stop:
                return True
        return False

    def fit(self) -> TrainingResult:
        """Run every stage; returns the :class:`TrainingResult`."""
        cfg, state = self.config, self.state
        self._pending_restore = None
        result = TrainingResult(
            device=self.device, precision=self.dtype, channels_last=self.channels_last
        )
        with seeded(cfg.random_state, self.device):
            if cfg.resume and cfg.checkpoint and os.path.exists(cfg.checkpoint):
                snap = torch.load(cfg.checkpoint, map_location="cpu", weights_only=False)
                if snap.get("fingerprint") != state.fingerprint:
                    raise ValueError(
                        f"checkpoint {cfg.checkpoint!r} was written by a different training "
                        "run (data size, classes, network or settings differ); delete it or "
                        "pass resume=False to start afresh"
                    )
                state.restore(snap)
                self._pending_restore = snap
                result.resumed_from = state.epoch
            for cb in state.callbacks:
                cb.on_train_begin(state)
            while True:
                stage_epochs, frozen, lr = self.stages[state.stage - 1]
                if state.stop_reason is None:
                    self.run_stage(stage_epochs, frozen, lr)
                last = state.stage == len(self.stages)
                # early stopping in a first stage ends that stage only
                if last or state.stop_reason not in (None, "early_stopping"):
                    break
                best = self.early_stopping.best_state if self.early_stopping else None
                if best is not None:  # the second stage starts from the first's best
                    self.model.load_state_dict(best)
                    if state.ema is not None:
                        state.ema.module.load_state_dict(best)
                state.stop_reason = None
                state.stage += 1
                state.stage_epoch = state.step = 0
                self._pending_restore = None
            for cb in state.callbacks:
                cb.on_train_end(state)
        set_frozen(self.model, [])
        if state.ema is not None:
            result.raw_state_dict = {
                k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()
            }
        best = self.early_stopping.best_state if self.early_stopping else None
        if best is not None:
            self.model.load_state_dict(best)
            result.best_epoch = self.early_stopping.best_epoch
        elif state.ema is not None:
            self.model.load_state_dict(state.ema.module.state_dict())
        self.model.eval()
        if self.channels_last:
            self.model.to(memory_format=torch.contiguous_format)
        result.history = state.history
        result.stop_reason = state.stop_reason or "max_epochs"
        result.train_time = state.elapsed()
        return result


def fit_module(
    model: nn.Module,
    X: Any,
    y: np.ndarray,
    config: TrainConfig,
    *,
    n_classes: int | None = None,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    forward: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    sample_weight: np.ndarray | None = None,
    eval_set: tuple[Any, np.ndarray] | None = None,
    classes: Sequence | None = None,
    callbacks: Sequence[Any] = (),
    keep_on_device: bool = False,
) -> TrainingResult:
    """Train ``model`` in place to classify ``X`` into the integer labels ``y``.

    Parameters
    ----------
    model : nn.Module
        Maps a prepared batch to logits ``(b, n_classes)`` (through ``forward``).
    X : ndarray, tensor or ImageSource
        Training inputs; batches are taken by row index and sent to the device as they are
        (uint8 images travel as uint8).
    y : ndarray of int, shape (n,)
        Labels in ``[0, n_classes)``.
    config : TrainConfig
    n_classes : int, optional
        Default: ``y.max() + 1``.
    prepare : callable, optional
        Maps a raw batch on the device to the model's input (scaling, normalisation...).
    augment : callable, optional
        Applied to the prepared batch during training only; an augmentation with
        ``mixes_labels`` (mixup/CutMix, see :class:`~hybridfer.nn.augment.BatchAugmentation`)
        also mixes each sample's loss with its partner's label.
    forward : callable, optional
        ``forward(model, inputs) -> logits``; default ``model(inputs)``.
    sample_weight : ndarray of shape (n,), optional
        Multiplies each sample's loss; the batch loss is the weighted mean.
    eval_set : (X_val, y_val), optional
        Validation data (instead of a fraction of the training data).
    classes : sequence, optional
        Original labels in code order, to read a ``class_weight`` dict.
    callbacks : sequence of Callback or callables
        :class:`~hybridfer.nn.callbacks.Callback` objects (which may stop training) or
        functions called with the epoch record at the end of every epoch.
    keep_on_device : bool
        Leave the model on the training device (default: move it back to the CPU).

    Returns
    -------
    TrainingResult
    """
    result = Trainer(
        model,
        X,
        y,
        config,
        n_classes=n_classes,
        prepare=prepare,
        augment=augment,
        forward=forward,
        sample_weight=sample_weight,
        eval_set=eval_set,
        classes=classes,
        callbacks=callbacks,
    ).fit()
    if not keep_on_device:
        model.to("cpu")
    return result


def _describe(record: dict[str, Any], epochs: int) -> str:
    parts = [
        f"epoch {record['epoch']}/{epochs}",
        f"loss {record['loss']:.4f}",
        f"acc {record['accuracy']:.4f}",
    ]
    if "val_loss" in record:
        parts += [f"val_loss {record['val_loss']:.4f}", f"val_acc {record['val_accuracy']:.4f}"]
    parts.append(f"lr {record['lr']:.2e}")
    parts.append(f"{record['time']:.1f}s")
    return " - ".join(parts)


def tta_views(batch: torch.Tensor, mode: str | None, padding: int = 4) -> list[torch.Tensor]:
    """Test-time views of a prepared batch ``(b, C, H, W)``.

    ``None``: the batch. ``"flip"``: the batch and its mirror. ``"crops"``: the ten-crop
    scheme at the training size: the centre and the four corner crops of the batch padded by
    ``padding`` zero pixels (shifts of ``padding`` pixels), and the mirror of each.
    """
    if mode is None:
        return [batch]
    if mode == "flip":
        return [batch, batch.flip(-1)]
    if mode != "crops":
        raise ValueError(f"tta must be one of {TTA_MODES}, got {mode!r}")
    h, w = batch.shape[-2:]
    p = int(padding)
    padded = nn.functional.pad(batch, (p, p, p, p))
    views = [batch]
    for dy, dx in ((0, 0), (0, 2 * p), (2 * p, 0), (2 * p, 2 * p)):
        views.append(padded[..., dy : dy + h, dx : dx + w])
    return views + [v.flip(-1) for v in views]


def predict_module(
    model: nn.Module,
    X: Any,
    *,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
    forward: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    precision: str = "auto",
    channels_last: bool | str = "auto",
    tta: str | None = None,
    tta_padding: int = 4,
    post: Callable[[torch.Tensor], torch.Tensor] | None = None,
    n: int | None = None,
) -> np.ndarray:
    """Run ``model`` in eval mode over ``X`` in batches and return the float32 outputs.

    ``forward(model, inputs)`` picks what is returned (default: ``model(inputs)``). With
    ``tta`` (see :func:`tta_views`) the outputs of the views are averaged, after ``post``
    (e.g. a softmax, to average probabilities rather than logits). The model goes back to
    the device and memory format it came from.
    """
    prepare = prepare or _identity
    forward = forward or _default_forward
    post = post or _identity
    if tta not in TTA_MODES:
        raise ValueError(f"tta must be one of {TTA_MODES}, got {tta!r}")
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    cl = _is_conv_net(model) and use_channels_last(channels_last, dev, dtype)
    home = next(iter(model.parameters()), torch.empty(0)).device
    model.to(dev)
    if cl:
        model.to(memory_format=torch.channels_last)
    model.eval()
    n = len(X) if n is None else n
    outputs = []
    try:
        with torch.inference_mode(), autocast(dev, dtype):
            for start in range(0, n, batch_size):
                rows = np.arange(start, min(start + batch_size, n))
                xb = prepare(to_device(take_batch(X, rows), dev))
                views = tta_views(xb, tta, tta_padding) if xb.ndim == 4 else [xb]
                total = None
                for view in views:
                    if cl and view.ndim == 4:
                        view = view.contiguous(memory_format=torch.channels_last)
                    out = post(forward(model, view).float())
                    total = out if total is None else total + out
                outputs.append((total / len(views)).cpu().numpy())
    finally:
        if cl:
            model.to(memory_format=torch.contiguous_format)
        model.to(home)
    if not outputs:
        raise ValueError("predict_module got 0 samples")
    return np.concatenate(outputs).astype(np.float32, copy=False)
