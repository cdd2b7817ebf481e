"""The one training loop every trainable hybridfer network uses.

:func:`fit_module` trains any ``nn.Module`` classifier on in-memory arrays, tensors or lazily
decoded images (:class:`~hybridfer.images.ImageSource`), configured by a
:class:`~hybridfer.nn.config.TrainConfig`: optimizer and a schedule over training progress
(annealed over the time budget when there is one, so a budgeted run still ends at ``min_lr``),
loss (cross-entropy or focal, on hard labels or soft targets) with class and sample weights,
batched augmentation with mixup/CutMix, progressive resizing, gradient clipping, mixed
precision (bf16 on CPUs that compute it natively and on GPUs), channels-last memory format, an
exponential moving average (EMA) of the weights, early stopping with best-epoch restore,
two-stage training (frozen layers, then unfrozen), checkpoints after every epoch with resume,
and a progress bar.

The loop is split into steps (:meth:`Trainer.train_epoch`, :meth:`Trainer.evaluate`,
:meth:`Trainer.run_stage`) and :mod:`callbacks <hybridfer.nn.callbacks>`, told about every
stage, step and epoch through :meth:`Trainer.notify`, that carry the behaviours which may stop
it (early stopping, the time budget) or save it (checkpoints). The run's state is a
:class:`~hybridfer.nn.state.TrainState`; its clock, which the schedule and the budget both read,
a :class:`~hybridfer.nn.budget.BudgetClock`. Per-batch loss and accuracy are summed on the
device and read once per epoch: no host synchronisation per step.

Seeds: with an integer ``random_state`` the batch order, the validation split and every torch
random draw (initialisation is the caller's; dropout, augmentation) are repeatable; torch's
global generator is forked, so the caller's random state is left untouched. A time budget
makes the schedule depend on the clock, so budgeted runs are repeatable only in their epochs.

The configuration and result (:mod:`~hybridfer.nn.config`), inference
(:mod:`~hybridfer.nn.inference`), seeding (:mod:`~hybridfer.nn.seeding`) and row access
(:mod:`~hybridfer.nn.batches`) live in their own modules; their names used with the loop are
importable from here too.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from hybridfer.data.splits import stratified_holdout
from hybridfer.nn.batches import RowSubset, iter_batches, take_batch, training_workers
from hybridfer.nn.budget import BudgetClock
from hybridfer.nn.callbacks import (
    MONITORS,
    Callback,
    Checkpoint,
    EarlyStopping,
    TimeBudget,
    as_callback,
)
from hybridfer.nn.config import TrainConfig, TrainingResult
from hybridfer.nn.devices import (
    autocast,
    model_channels_last,
    resolve_device,
    resolve_precision,
    to_device,
)
from hybridfer.nn.freeze import frozen_module_names, select_frozen, set_frozen
from hybridfer.nn.inference import TTA_MODES, _default_forward, _identity, predict_module, tta_views
from hybridfer.nn.losses import check_soft_targets, compute_class_weights, make_loss
from hybridfer.nn.optim import LRSchedule, make_optimizer
from hybridfer.nn.preprocessing import resize_batch
from hybridfer.nn.seeding import seed_from, seeded
from hybridfer.nn.state import TrainState

__all__ = [
    "TTA_MODES",
    "RowSubset",
    "TrainConfig",
    "TrainState",
    "Trainer",
    "TrainingResult",
    "check_progressive_resize",
    "fit_module",
    "predict_module",
    "seed_from",
    "seeded",
    "take_batch",
    "training_workers",
    "tta_views",
]

#: Hooks whose true return value stops training.
_STOPPING_HOOKS = frozenset({"on_batch_end", "on_epoch_end"})

#: Settings that do not change what a run computes: a checkpoint may resume under others.
_NOT_FINGERPRINTED = ("verbose", "checkpoint", "resume", "device", "max_time", "num_workers")


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
    """Sorted ``(train, validation)`` rows: a ``fraction`` held out, stratified when every
    class code has two samples and the validation side can hold every class."""
    n_val = int(math.ceil(fraction * len(y)))
    n_classes = len(np.unique(y))
    stratify = np.bincount(y).min(initial=len(y)) >= 2 and n_val >= n_classes
    if n_val < 1 or len(y) - n_val < 1:
        raise ValueError(
            f"validation_fraction={fraction} leaves no training or no validation samples out "
            f"of {len(y)}"
        )
    return stratified_holdout(y, n_val, random_state=seed, stratify=bool(stratify))


def check_progressive_resize(
    value: Any, name: str = "progressive_resize"
) -> tuple[tuple[float, int], ...] | None:
    """``value`` as ``((until, size), ...)`` with ``until`` increasing in (0, 1] and ``size``
    a positive int (None stays None); anything else is refused naming ``name``."""
    if value is None:
        return None
    expected = (
        f"{name} must be a sequence of (until, size) pairs, until increasing in (0, 1] and "
        "size a positive int, e.g. [(0.5, 40)]"
    )
    try:
        pairs = [tuple(p) for p in value]
    except TypeError:
        raise ValueError(f"{expected}; got {value!r}") from None
    out: list[tuple[float, int]] = []
    for pair in pairs:
        ok = len(pair) == 2 and isinstance(pair[0], (int, float, np.number))
        ok = ok and isinstance(pair[1], (int, np.integer)) and not isinstance(pair[1], bool)
        if not ok or not 0 < float(pair[0]) <= 1 or int(pair[1]) < 1:
            raise ValueError(f"{expected}; got {value!r}")
        if out and float(pair[0]) <= out[-1][0]:
            raise ValueError(f"{expected}; got {value!r} (until does not increase)")
        out.append((float(pair[0]), int(pair[1])))
    if not out:
        raise ValueError(f"{expected}; got an empty sequence (pass None for no resizing)")
    return tuple(out)


class Trainer:
    """One training run of ``model`` on ``(X, y)``.

    Parameters
    ----------
    model : nn.Module
        Maps a prepared batch to logits ``(b, n_classes)`` (through ``forward``).
    X : ndarray, tensor or ImageSource
        Training inputs; batches are taken by row index and sent to the device as they are
        (uint8 images travel as uint8).
    y : ndarray of int, shape (n,)
        Labels in ``[0, n_classes)``. With ``soft_targets`` they are still what validation
        loss and accuracy, training accuracy, the stratified validation split and
        ``class_weight="balanced"`` counts read.
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
    soft_targets : ndarray of shape (n, n_classes), optional
        Train against these class probabilities (rows summing to 1, columns in code order)
        instead of ``y``: the loss is the cross-entropy (or focal loss) against the
        distribution, the form :class:`torch.nn.CrossEntropyLoss` takes for probability
        targets. Label smoothing applies to them too; a class weight becomes each sample's
        expected class weight under its target (``soft_targets @ class_weights``, the class
        weight of ``y`` for a one-hot row); mixup/CutMix mix each sample's loss with its
        partner's target in the mixing ratio, which is the loss against the mixed
        distribution. One-hot rows train exactly as the hard labels would (to rounding with
        label smoothing or the focal loss, computed in another order).
    eval_set : (X_val, y_val), optional
        Validation data (instead of a fraction of the training data).
    classes : sequence, optional
        Original labels in code order, to read a ``class_weight`` dict.
    callbacks : sequence of Callback or callables
        :class:`~hybridfer.nn.callbacks.Callback` objects (which may stop training) or
        functions called with the epoch record at the end of every epoch. They run after
        early stopping and the time budget, and before the checkpoint (which saves them).
    """

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
        soft_targets: np.ndarray | None = None,
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
        if config.monitor not in MONITORS:
            raise ValueError(
                f"monitor must be 'val_loss' or 'val_accuracy', got {config.monitor!r}"
            )
        if config.resume and not config.checkpoint:
            raise ValueError("resume=True needs a checkpoint file to resume from")
        config.progressive_resize = check_progressive_resize(config.progressive_resize)
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        cw = compute_class_weights(config.class_weight, y, self.n_classes, classes)
        self.t_all = None
        if soft_targets is not None:
            soft = check_soft_targets(soft_targets, n, self.n_classes, classes=classes)
            self.t_all = torch.from_numpy(soft)
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
        self.channels_last = model_channels_last(
            model, config.channels_last, self.device, self.dtype
        )
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        if config.progressive_resize is not None:
            self._check_resizable(X)
        self.fwd_model = torch.compile(model) if config.compile else model
        class_w = cw[y] if self.t_all is None else self.t_all.double().numpy() @ cw
        self.w_all = torch.from_numpy((sw * class_w).astype(np.float32))
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
        clock = BudgetClock(config.max_time, config.epochs)
        rng = np.random.default_rng(config.random_state)
        self.state = TrainState(model, ema, rng, self.device, clock)
        self.state.fingerprint = {
            "n_samples": n,
            "n_classes": self.n_classes,
            "parameters": [list(p.shape) for p in model.parameters()],
            "config": {k: v for k, v in asdict(config).items() if k not in _NOT_FINGERPRINTED},
        }
        if self.t_all is not None:
            self.state.fingerprint["soft_targets"] = True
        self.early_stopping = None
        if config.early_stopping and self.X_val is not None:
            self.early_stopping = EarlyStopping(config.monitor, config.patience)
        cbs: list[Callback] = [] if self.early_stopping is None else [self.early_stopping]
        if config.max_time is not None:
            cbs.append(TimeBudget())
        cbs += [as_callback(c) for c in callbacks]
        if config.checkpoint:
            cbs.append(Checkpoint(config.checkpoint))  # last: it saves the others' states
        self.state.callbacks = cbs
        self._batch_hooks: list[Callback] = []
        frozen = select_frozen(model, config.freeze, config.freeze_up_to)
        if frozen and config.frozen_epochs is not None and config.frozen_epochs < config.epochs:
            lr2 = config.unfreeze_lr if config.unfreeze_lr is not None else config.learning_rate
            stages = [(config.frozen_epochs, frozen, config.learning_rate)]
            stages.append((config.epochs - config.frozen_epochs, [], lr2))
            self.stages = [s for s in stages if s[0] > 0]
        else:
            self.stages = [(config.epochs, frozen, config.learning_rate)]
        self.steps_per_epoch = max(1, math.ceil(len(self.train_idx) / config.batch_size))

    # -- callbacks ----------------------------------------------------------------------

    def notify(self, hook: str, *args: Any) -> bool:
        """Call ``hook`` (``"on_epoch_end"``...) on every callback, in order, with the state.

        ``on_batch_end``, called after every step, goes only to the callbacks that override
        it. Returns True when a callback of a stopping hook (``on_batch_end``,
        ``on_epoch_end``) asked to stop; ``state.stop_reason`` is then ``"callback"`` unless
        one set it.
        """
        state = self.state
        batch = hook == "on_batch_end"
        stops = batch or hook in _STOPPING_HOOKS
        stop = False
        for cb in self._batch_hooks if batch else tuple(state.callbacks):
            answer = getattr(cb, hook)(state, *args)
            if stops:
                stop = bool(answer) or stop
                if stop and state.stop_reason is None:
                    state.stop_reason = "callback"
        return stop

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

    def train_epoch(self) -> dict[str, Any]:
        """One pass over the training rows, the stage's schedule applied after every step
        against the budget clock; returns the epoch record (without validation)."""
        cfg, state = self.config, self.state
        model, optimizer, scaler, clock = self.model, state.optimizer, state.scaler, state.clock
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
        batch_hooks = self._batch_hooks
        params = [p for p in model.parameters() if p.requires_grad]
        for rows, raw in self._raw_batches(self.X, order):
            xb = self._batch(self.X, rows, raw)
            yb = to_device(self.y_all[rows], self.device)
            wb = to_device(self.w_all[rows], self.device)
            # the loss's target: class codes, or the rows' class probabilities
            tb = yb if self.t_all is None else to_device(self.t_all[rows], self.device)
            partner = lam = None
            if self.augment is not None:
                xb = self.augment(xb)
                if mixes:
                    xb, partner, lam = self.augment.mix(xb)
            if cfg.progressive_resize is not None:
                xb = self._progressive_resize(xb)
            with autocast(self.device, self.dtype):
                logits = self.forward(self.fwd_model, xb)
            logits = logits.float()
            per_sample = self.loss_fn(logits, tb)
            if partner is not None:
                per_sample = lam * per_sample + (1 - lam) * self.loss_fn(logits, tb[partner])
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
            state.apply_schedule()  # one clock reading: progress, and whether time ran out
            if clock.out_of_time or (batch_hooks and self.notify("on_batch_end")):
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
        if cfg.progressive_resize is not None:
            record["train_size"] = int(self._train_size or xb.shape[-1])
        if clock.out_of_time:
            record["time_ran_out"] = metrics.n < len(order)
        return record

    def _check_resizable(self, X: Any) -> None:
        """Refuse ``progressive_resize`` sizes the network cannot take (a flattening head
        fixes its input size), by one forward pass of two images at each size."""
        xb = self._batch(X, np.arange(min(2, len(self.y))))
        if xb.ndim != 4:
            raise ValueError(
                "progressive_resize needs image batches (b, C, H, W); this network's input "
                f"has shape {tuple(xb.shape)}"
            )
        was_training = self.model.training
        self.model.eval()
        try:
            for _, size in self.config.progressive_resize:
                try:
                    with torch.inference_mode(), autocast(self.device, self.dtype):
                        self.forward(self.model, resize_batch(xb, (size, size)))
                except RuntimeError as exc:
                    first = str(exc).splitlines()[0]
                    raise ValueError(
                        f"progressive_resize size {size}: the network cannot take {size}x{size} "
                        f"inputs ({first}); use a network with global pooling (fer_vgg, "
                        "fer_resnet) or sizes it accepts"
                    ) from None
        finally:
            self.model.train(was_training)

    def _progressive_resize(self, xb: torch.Tensor) -> torch.Tensor:
        """The training batch at the size ``progressive_resize`` gives the stage's progress."""
        self._train_size = next(
            (s for until, s in self.config.progressive_resize if self.state.progress < until),
            None,
        )
        if self._train_size is None:
            return xb
        xb = resize_batch(xb, (self._train_size, self._train_size))
        if self.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        return xb

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
        state.base_lrs = [lr for _ in state.optimizer.param_groups]
        state.schedule = LRSchedule(
            cfg.lr_schedule,
            epochs=stage_epochs,
            min_lr=cfg.min_lr,
            step_size=cfg.step_size,
            step_gamma=cfg.step_gamma,
            warmup=cfg.warmup,
        )
        # each stage anneals over its share of the budget, in proportion to its epochs
        before = sum(e for e, _, _ in self.stages[: state.stage - 1])
        state.clock.begin_stage(before, stage_epochs, self.steps_per_epoch)
        state.apply_schedule()
        self.notify("on_stage_begin")
        stop = False
        while not stop and state.stage_epoch < stage_epochs:
            record = self.train_epoch()
            stop = state.stop_reason is not None  # a batch hook stopped it
            state.epoch += 1
            state.stage_epoch += 1
            if self.X_val is not None:
                record["val_loss"], record["val_accuracy"] = self.evaluate()
            record["elapsed"] = state.elapsed()
            state.history.append(record)
            stop = self.notify("on_epoch_end", record) or stop
            if cfg.verbose:
                tqdm.write(_describe(record, cfg.epochs))
        self.notify("on_stage_end")
        return stop

    def fit(self) -> TrainingResult:
        """Run every stage; returns the :class:`~hybridfer.nn.config.TrainingResult`."""
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
            self.notify("on_train_begin")
            self._batch_hooks = [
                cb
                for cb in state.callbacks
                if getattr(type(cb), "on_batch_end", None) is not Callback.on_batch_end
            ]
            while True:
                stage_epochs, frozen, lr = self.stages[state.stage - 1]
                if state.stop_reason is None:
                    self.run_stage(stage_epochs, frozen, lr)
                # early stopping in a first stage ends that stage only
                last = state.stage == len(self.stages)
                if last or state.stop_reason not in (None, "early_stopping"):
                    break
                state.stop_reason = None
                state.stage += 1
                state.stage_epoch = state.step = 0
                self._pending_restore = None
            set_frozen(self.model, [])
            if state.ema is not None:
                result.raw_state_dict = {
                    k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()
                }
                self.model.load_state_dict(state.ema.module.state_dict())
            self.notify("on_train_end")  # early stopping restores the best epoch's weights
        es = self.early_stopping
        if es is not None and es.best_state is not None:
            result.best_epoch = es.best_epoch
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
    keep_on_device: bool = False,
    **options: Any,
) -> TrainingResult:
    """Train ``model`` in place to classify ``X`` into the integer labels ``y``.

    Parameters
    ----------
    model, X, y, config
        See :class:`Trainer`.
    keep_on_device : bool
        Leave the model on the training device (default: move it back to the CPU).
    **options
        The keyword arguments of :class:`Trainer` (``n_classes``, ``prepare``, ``augment``,
        ``forward``, ``sample_weight``, ``soft_targets``, ``eval_set``, ``classes``,
        ``callbacks``).

    Returns
    -------
    TrainingResult
    """
    result = Trainer(model, X, y, config, **options).fit()
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
