"""The one training loop every trainable hybridfer network uses.

:func:`fit_module` trains any ``nn.Module`` classifier on in-memory arrays, tensors or lazily
decoded images (:class:`~hybridfer.images.ImageSource`), configured by a :class:`TrainConfig`:
optimizer and schedule, loss (cross-entropy or focal) with class and sample weights, batch
augmentation, gradient clipping, mixed precision on GPU, an exponential moving average (EMA) of
the weights, early stopping on a stratified validation fraction or a given evaluation set with
best-checkpoint restore, two-stage training (frozen layers, then unfrozen), a time budget and a
progress bar with per-epoch loss and accuracy. :func:`predict_module` streams inputs through a
trained module in batches.

Seeds: with an integer ``random_state`` the batch order, the validation split and every torch
random draw (initialisation is the caller's; dropout, augmentation) are repeatable; torch's
global generator is forked, so the caller's random state is left untouched.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from hybridfer.nn.devices import autocast, resolve_device, resolve_precision, to_device
from hybridfer.nn.freeze import frozen_module_names, select_frozen, set_frozen
from hybridfer.nn.losses import compute_class_weights, make_loss
from hybridfer.nn.optim import make_optimizer, make_scheduler

__all__ = [
    "RowSubset",
    "TrainConfig",
    "TrainingResult",
    "fit_module",
    "predict_module",
    "seeded",
    "take_batch",
]


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
    lr_schedule : {"constant", "cosine", "step", "onecycle"} or None
        See :func:`hybridfer.nn.optim.make_scheduler`.
    min_lr : float
        Final rate of the cosine schedule.
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
        ``"auto"``: mixed precision (bfloat16, else float16 with loss scaling) on GPU, float32
        on the CPU.
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
        Training-time budget in seconds, checked after every batch.
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
    device: str = "auto"
    freeze: str | Sequence[str] | None = None
    freeze_up_to: str | None = None
    frozen_epochs: int | None = None
    unfreeze_lr: float | None = None
    max_time: float | None = None
    random_state: int | None = None
    verbose: int = 0


@dataclass
class TrainingResult:
    """What :func:`fit_module` reports.

    Attributes
    ----------
    history : list of dict
        One record per epoch: ``epoch``, ``stage``, ``lr``, ``loss``, ``accuracy``, ``time``
        (seconds of training), and ``val_loss``/``val_accuracy`` when there is validation data.
    best_epoch : int or None
        Epoch (1-based) whose weights were restored, when early stopping chose one.
    stop_reason : str
        ``"max_epochs"``, ``"early_stopping"`` or ``"max_time"``.
    raw_state_dict : dict or None
        With EMA: the raw (non-averaged) weights at the end of training, on the CPU.
    device : torch.device
    precision : torch.dtype
    train_time : float
        Seconds spent training (evaluation included).
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    stop_reason: str = "max_epochs"
    raw_state_dict: dict[str, torch.Tensor] | None = None
    device: torch.device = torch.device("cpu")
    precision: torch.dtype = torch.float32
    train_time: float = 0.0

    @property
    def n_epochs(self) -> int:
        """Epochs run (a partial last epoch under ``max_time`` counts)."""
        return len(self.history)


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


class _Metrics:
    def __init__(self) -> None:
        self.loss = 0.0
        self.weight = 0.0
        self.correct = 0
        self.n = 0

    def add(self, loss: torch.Tensor, w: torch.Tensor, logits: torch.Tensor, y: torch.Tensor):
        self.loss += float((loss.detach() * w).sum())
        self.weight += float(w.sum())
        self.correct += int((logits.detach().argmax(1) == y).sum())
        self.n += len(y)

    def result(self) -> tuple[float, float]:
        loss = self.loss / self.weight if self.weight > 0 else math.nan
        return loss, self.correct / max(self.n, 1)


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
    callbacks: Sequence[Callable[[dict[str, Any]], None]] = (),
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
        Applied to the prepared batch during training only.
    forward : callable, optional
        ``forward(model, inputs) -> logits``; default ``model(inputs)``.
    sample_weight : ndarray of shape (n,), optional
        Multiplies each sample's loss; the batch loss is the weighted mean.
    eval_set : (X_val, y_val), optional
        Validation data (instead of a fraction of the training data).
    classes : sequence, optional
        Original labels in code order, to read a ``class_weight`` dict.
    callbacks : sequence of callables
        Each is called with the epoch record at the end of every epoch.
    keep_on_device : bool
        Leave the model on the training device (default: move it back to the CPU).

    Returns
    -------
    TrainingResult
    """
    prepare = prepare or _identity
    forward = forward or _default_forward
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    if n_classes is None:
        n_classes = int(y.max()) + 1
    if config.batch_size < 1 or config.epochs < 1:
        raise ValueError("batch_size and epochs must be >= 1")
    if config.monitor not in ("val_loss", "val_accuracy"):
        raise ValueError(f"monitor must be 'val_loss' or 'val_accuracy', got {config.monitor!r}")
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    cw = compute_class_weights(config.class_weight, y, n_classes, classes)
    weights = sw * cw[y]

    seed = config.random_state
    rng = np.random.default_rng(seed)
    train_idx = np.arange(n)
    X_val = y_val = val_rows = None
    if eval_set is not None:
        X_val, y_val = eval_set[0], np.asarray(eval_set[1], dtype=np.int64)
        val_rows = np.arange(len(y_val))
    elif config.early_stopping:
        train_idx, val_rows = _validation_split(y, config.validation_fraction, seed)
        X_val, y_val = X, y
    has_val = X_val is not None

    device = resolve_device(config.device)
    dtype = resolve_precision(config.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    model.to(device)
    loss_fn = make_loss(
        config.loss,
        focal_alpha=config.focal_alpha,
        focal_gamma=config.focal_gamma,
        label_smoothing=config.label_smoothing,
        reduction="none",
    ).to(device)
    eval_loss_fn = make_loss(
        config.loss,
        focal_alpha=config.focal_alpha,
        focal_gamma=config.focal_gamma,
        reduction="none",
    ).to(device)

    frozen = select_frozen(model, config.freeze, config.freeze_up_to)
    if frozen and config.frozen_epochs is not None and config.frozen_epochs < config.epochs:
        lr2 = config.unfreeze_lr if config.unfreeze_lr is not None else config.learning_rate
        stages = [(config.frozen_epochs, frozen, config.learning_rate)]
        stages.append((config.epochs - config.frozen_epochs, [], lr2))
        stages = [s for s in stages if s[0] > 0]
    else:
        stages = [(config.epochs, frozen, config.learning_rate)]

    result = TrainingResult(device=device, precision=dtype)
    ema = None
    if config.ema_decay is not None:
        ema = AveragedModel(model, multi_avg_fn=_ema_update(config.ema_decay), use_buffers=True)
    bs = config.batch_size
    n_train = len(train_idx)
    steps_per_epoch = max(1, math.ceil(n_train / bs))
    maximize = config.monitor == "val_accuracy"
    best_score = -math.inf
    best_state = None
    t_start = time.perf_counter()
    epoch = 0
    out_of_time = False
    w_all = torch.from_numpy(weights.astype(np.float32))
    y_all = torch.from_numpy(y)

    def evaluate() -> tuple[float, float]:
        module = ema.module if ema is not None else model
        module.eval()
        metrics = _Metrics()
        eval_bs = max(bs, 256)
        with torch.inference_mode(), autocast(device, dtype):
            for start in range(0, len(val_rows), eval_bs):
                rows = val_rows[start : start + eval_bs]
                xb = prepare(to_device(take_batch(X_val, rows), device))
                yb = torch.from_numpy(y_val[rows]).to(device)
                logits = forward(module, xb).float()
                loss = eval_loss_fn(logits, yb)
                metrics.add(loss, torch.ones_like(loss), logits, yb)
        return metrics.result()

    with seeded(seed, device):
        for stage, (stage_epochs, stage_frozen, lr) in enumerate(stages, start=1):
            last_stage = stage == len(stages)
            stopped = False
            set_frozen(model, stage_frozen)
            eval_modules = frozen_module_names(model, stage_frozen)
            optimizer = make_optimizer(
                config.optimizer,
                model.parameters(),
                lr=lr,
                weight_decay=config.weight_decay,
                momentum=config.momentum,
            )
            scheduler, per_batch = make_scheduler(
                config.lr_schedule,
                optimizer,
                epochs=stage_epochs,
                steps_per_epoch=steps_per_epoch,
                min_lr=config.min_lr,
                step_size=config.step_size,
                step_gamma=config.step_gamma,
            )
            wait = 0
            for _ in range(stage_epochs):
                epoch += 1
                model.train()
                for name in eval_modules:
                    model.get_submodule(name).eval()
                order = rng.permutation(train_idx)
                if len(order) % bs == 1 and len(order) > 1:
                    order = order[:-1]  # a batch of one breaks BatchNorm in training mode
                metrics = _Metrics()
                t_epoch = time.perf_counter()
                bar = tqdm(
                    total=math.ceil(len(order) / bs),
                    desc=f"epoch {epoch}/{config.epochs}",
                    disable=not config.verbose,
                    leave=False,
                )
                for start in range(0, len(order), bs):
                    rows = order[start : start + bs]
                    xb = prepare(to_device(take_batch(X, rows), device))
                    if augment is not None:
                        xb = augment(xb)
                    yb = to_device(y_all[rows], device)
                    wb = to_device(w_all[rows], device)
                    with autocast(device, dtype):
                        logits = forward(model, xb)
                    logits = logits.float()
                    per_sample = loss_fn(logits, yb)
                    loss = (per_sample * wb).sum() / wb.sum().clamp_min(1e-12)
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    if config.grad_clip is not None:
                        scaler.unscale_(optimizer)
                        nn.utils.clip_grad_norm_(
                            [p for p in model.parameters() if p.requires_grad], config.grad_clip
                        )
                    scaler.step(optimizer)
                    scaler.update()
                    if scheduler is not None and per_batch:
                        if scheduler.last_epoch < stage_epochs * steps_per_epoch:
                            scheduler.step()
                    if ema is not None:
                        ema.update_parameters(model)
                    metrics.add(per_sample, wb, logits, yb)
                    bar.update(1)
                    if (
                        config.max_time is not None
                        and time.perf_counter() - t_start > config.max_time
                    ):
                        out_of_time = True
                        break
                bar.close()
                if scheduler is not None and not per_batch:
                    scheduler.step()
                loss_value, acc = metrics.result()
                record: dict[str, Any] = {
                    "epoch": epoch,
                    "stage": stage,
                    "lr": optimizer.param_groups[0]["lr"],
                    "loss": loss_value,
                    "accuracy": acc,
                    "time": time.perf_counter() - t_epoch,
                    "n_samples": metrics.n,
                }
                if out_of_time:
                    record["partial"] = metrics.n < len(order)
                improved = False
                if has_val:
                    val_loss, val_acc = evaluate()
                    record["val_loss"], record["val_accuracy"] = val_loss, val_acc
                    score = val_acc if maximize else -val_loss
                    if config.early_stopping and score > best_score:
                        best_score, improved = score, True
                        src = ema.module if ema is not None else model
                        best_state = {k: v.detach().clone() for k, v in src.state_dict().items()}
                        result.best_epoch = epoch
                result.history.append(record)
                if config.verbose:
                    tqdm.write(_describe(record, config.epochs))
                for callback in callbacks:
                    callback(record)
                if out_of_time:
                    break
                if config.early_stopping and has_val:
                    wait = 0 if improved else wait + 1
                    if wait >= config.patience:
                        stopped = True
                        break
            if out_of_time:
                result.stop_reason = "max_time"
                break
            if stopped and last_stage:
                result.stop_reason = "early_stopping"
            if best_state is not None and not last_stage:
                # the second stage starts from the best weights of the first
                _load_into(model, best_state, ema)

    set_frozen(model, [])
    if ema is not None:
        result.raw_state_dict = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    elif ema is not None:
        model.load_state_dict(ema.module.state_dict())
    model.eval()
    if not keep_on_device:
        model.to("cpu")
    result.train_time = time.perf_counter() - t_start
    return result


def _load_into(model: nn.Module, state: dict, ema: AveragedModel | None) -> None:
    model.load_state_dict(state)
    if ema is not None:
        ema.module.load_state_dict(state)


def _describe(record: dict[str, Any], epochs: int) -> str:
    parts = [
        f"epoch {record['epoch']}/{epochs}",
        f"loss {record['loss']:.4f}",
        f"acc {record['accuracy']:.4f}",
    ]
    if "val_loss" in record:
        parts += [f"val_loss {record['val_loss']:.4f}", f"val_acc {record['val_accuracy']:.4f}"]
    parts.append(f"{record['time']:.1f}s")
    return " - ".join(parts)


def predict_module(
    model: nn.Module,
    X: Any,
    *,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
    forward: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    precision: str = "auto",
    n: int | None = None,
) -> np.ndarray:
    """Run ``model`` in eval mode over ``X`` in batches and return the float32 outputs.

    ``forward(model, inputs)`` picks what is returned (default: ``model(inputs)``). The model
    goes back to the device it came from.
    """
    prepare = prepare or _identity
    forward = forward or _default_forward
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    home = next(iter(model.parameters()), torch.empty(0)).device
    model.to(dev)
    model.eval()
    n = len(X) if n is None else n
    outputs = []
    try:
        with torch.inference_mode(), autocast(dev, dtype):
            for start in range(0, n, batch_size):
                rows = np.arange(start, min(start + batch_size, n))
                xb = prepare(to_device(take_batch(X, rows), dev))
                outputs.append(forward(model, xb).float().cpu().numpy())
    finally:
        model.to(home)
    if not outputs:
        raise ValueError("predict_module got 0 samples")
    return np.concatenate(outputs).astype(np.float32, copy=False)
