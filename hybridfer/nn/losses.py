"""Classification losses and class weights shared by every trainable network.

:class:`FocalLoss` follows Lin et al. (2017): ``FL = -alpha_t (1 - p_t)^gamma log p_t``; at
``gamma=0`` and ``alpha=None`` it is the cross-entropy. :func:`compute_class_weights` gives the
two class-weighting rules the papers use: scikit-learn's ``"balanced"`` (``n / (K n_c)``, mean 1
over samples) and ``"normalized"`` (``N / n_c`` normalised to sum to 1, as in CTAN). Both
losses also train on soft targets, one probability per class and sample
(:func:`check_soft_targets`; FERPlus's vote distributions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hybridfer._messages import plain_repr
from hybridfer.data.balance import balanced_class_weights

__all__ = [
    "CLASS_WEIGHT_RULES",
    "LOSSES",
    "FocalLoss",
    "check_soft_targets",
    "compute_class_weights",
    "make_loss",
]

#: Losses of :func:`make_loss`.
LOSSES = ("cross_entropy", "focal")

#: The named ``class_weight`` rules of :func:`compute_class_weights`.
CLASS_WEIGHT_RULES = ("balanced", "normalized")


class FocalLoss(nn.Module):
    """Multi-class focal loss on logits, against class indices or class probabilities.

    Parameters
    ----------
    alpha : float, sequence of float, or None
        Balancing factor: a scalar multiplies every term (Keras'
        ``CategoricalFocalCrossentropy(alpha=0.25)``), a sequence gives one factor per class,
        None means 1.
    gamma : float
        Focusing parameter; 0 gives the (alpha-scaled) cross-entropy.
    weight : tensor of shape (n_classes,), optional
        Class weights, applied as in :class:`torch.nn.CrossEntropyLoss` (the ``"mean"``
        reduction divides by the sum of the weights of the targets).
    label_smoothing : float
        As in :class:`torch.nn.CrossEntropyLoss`.
    reduction : {"mean", "sum", "none"}
    """

    def __init__(
        self,
        alpha: float | Sequence[float] | None = None,
        gamma: float = 2.0,
        weight: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(
                f"reduction must be 'mean', 'sum' or 'none', got {plain_repr(reduction)}"
            )
        self.gamma = float(gamma)
        self.label_smoothing = float(label_smoothing)
        self.reduction = reduction
        self.scalar_alpha = None
        if alpha is None or np.isscalar(alpha):
            self.scalar_alpha = None if alpha is None else float(alpha)
            self.register_buffer("alpha", None)
        else:
            self.register_buffer("alpha", torch.as_tensor(alpha, dtype=torch.float32))
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of ``logits`` (b, K) against class indices (b,) or, like
        :class:`torch.nn.CrossEntropyLoss`, class probabilities (b, K) (floating point)."""
        log_p = F.log_softmax(logits.float(), dim=-1)
        if target.is_floating_point():
            return self._soft(log_p, target)
        # per-sample cross-entropy (with label smoothing), unweighted
        ce = F.nll_loss(log_p, target, reduction="none")
        if self.label_smoothing > 0:
            smooth = -log_p.mean(dim=-1)
            ce = (1 - self.label_smoothing) * ce + self.label_smoothing * smooth
        loss = ce
        if self.gamma > 0:
            p_t = log_p.gather(1, target[:, None]).squeeze(1).exp()
            loss = (1 - p_t).clamp_min(0).pow(self.gamma) * loss
        if self.alpha is not None:
            loss = self.alpha.to(loss.device)[target] * loss
        elif self.scalar_alpha is not None:
            loss = self.scalar_alpha * loss
        w = None if self.weight is None else self.weight.to(loss.device, loss.dtype)[target]
        return self._reduce(loss, w)

    def _soft(self, log_p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Focal loss against class probabilities: ``sum_c t_c alpha_c (1 - p_c)^gamma
        CE_c``, with ``CE_c`` the (label-smoothed) cross-entropy of class ``c``. It is linear
        in the target (so mixing two targets mixes their losses, as mixup needs) and equal
        to the index form for one-hot targets; a class weight becomes the target's expected
        class weight."""
        if target.shape != log_p.shape:
            raise ValueError(
                f"focal loss: probability targets have shape {tuple(target.shape)}; expected "
                f"the logits' shape {tuple(log_p.shape)}"
            )
        t = target.to(log_p.dtype)
        term = -log_p
        if self.label_smoothing > 0:
            smooth = -log_p.mean(dim=-1, keepdim=True)
            term = (1 - self.label_smoothing) * term + self.label_smoothing * smooth
        if self.gamma > 0:
            term = (1 - log_p.exp()).clamp_min(0).pow(self.gamma) * term
        if self.alpha is not None:
            term = self.alpha.to(term.device) * term
        elif self.scalar_alpha is not None:
            term = self.scalar_alpha * term
        loss = (t * term).sum(dim=-1)
        w = None if self.weight is None else t @ self.weight.to(t.device, t.dtype)
        return self._reduce(loss, w)

    def _reduce(self, loss: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        if w is not None:
            loss = w * loss
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        return loss.sum() / (w.sum() if w is not None else loss.new_tensor(len(loss)))


def make_loss(
    name: str = "cross_entropy",
    *,
    focal_alpha: float | Sequence[float] | None = None,
    focal_gamma: float = 2.0,
    label_smoothing: float = 0.0,
    reduction: str = "none",
) -> nn.Module:
    """Build an unweighted per-sample loss by name (``"cross_entropy"`` or ``"focal"``).

    Class and sample weights are applied by the training loop, so they combine the same way
    for every loss. Both losses take class indices ``(b,)`` or class probabilities ``(b, K)``
    (soft targets, see :func:`check_soft_targets`).
    """
    if name == "cross_entropy":
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing, reduction=reduction)
    if name == "focal":
        return FocalLoss(
            alpha=focal_alpha,
            gamma=focal_gamma,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )
    raise ValueError(f"loss must be 'cross_entropy' or 'focal', got {plain_repr(name)}")


def compute_class_weights(
    class_weight: str | Mapping | None,
    y: np.ndarray,
    n_classes: int,
    classes: Sequence | None = None,
) -> np.ndarray:
    """Per-class weights for integer labels ``y`` in ``[0, n_classes)``.

    Parameters
    ----------
    class_weight : {"balanced", "normalized"}, dict or None
        ``"balanced"``: ``n_samples / (n_classes * n_c)`` (scikit-learn's rule; the weights
        average 1 over samples). ``"normalized"``: ``N / n_c`` normalised so the class weights
        sum to 1 (the CTAN paper's rule). A dict maps class labels (from ``classes``) or class
        indices to weights; missing classes get 1. None: all ones.
    y : ndarray of int
        Encoded training labels.
    n_classes : int
    classes : sequence, optional
        The original labels, in code order, used to read a dict.
    """
    y = np.asarray(y)
    if class_weight is None:
        return np.ones(n_classes, dtype=np.float64)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if isinstance(class_weight, str):
        if np.any(counts == 0):
            absent = np.flatnonzero(counts == 0).tolist()
            raise ValueError(
                f"class_weight={class_weight!r} needs every class in y; class codes {absent} "
                "have no samples"
            )
        if class_weight == "balanced":
            return balanced_class_weights(y, n_classes)
        if class_weight == "normalized":
            w = len(y) / counts
            return w / w.sum()
        raise ValueError(
            f"class_weight must be 'balanced', 'normalized', a dict or None, got {plain_repr(class_weight)}"
        )
    if isinstance(class_weight, Mapping):
        out = np.ones(n_classes, dtype=np.float64)
        lookup = {c: i for i, c in enumerate(classes)} if classes is not None else {}
        for key, value in class_weight.items():
            if key in lookup:
                out[lookup[key]] = float(value)
            elif isinstance(key, (int, np.integer)) and 0 <= key < n_classes and not lookup:
                out[int(key)] = float(value)
            else:
                raise ValueError(
                    f"class_weight has key {plain_repr(key)}, which is not one of the classes "
                    f"{plain_repr(list(classes) if classes is not None else list(range(n_classes)))}"
                )
        return out
    raise TypeError(
        f"class_weight must be 'balanced', 'normalized', a dict or None, got "
        f"{type(class_weight).__name__}"
    )


def check_soft_targets(
    soft_targets: object,
    n_samples: int,
    n_classes: int,
    *,
    classes: Sequence | None = None,
    name: str = "soft_targets",
) -> np.ndarray:
    """Validated soft targets: float32 ``(n_samples, n_classes)``, rows renormalised to 1.

    Each row is a probability distribution over the classes, in code order (``classes``,
    when given, names them in the messages). Rows must be finite, non-negative and sum to 1
    within 1e-3; the first bad row is named.
    """
    order = ""
    if classes is not None:
        order = f" in the order {plain_repr(list(classes))}"
    expected = f"expected ({n_samples}, {n_classes}): one probability per sample and class{order}"
    try:
        soft = np.asarray(soft_targets, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} cannot be read as a numeric array ({type(soft_targets).__name__}); {expected}"
        ) from None
    if soft.shape != (n_samples, n_classes):
        raise ValueError(f"{name} has shape {soft.shape}; {expected}")
    if n_samples == 0:
        return soft.astype(np.float32)
    bad = ~np.isfinite(soft).all(axis=1)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} row {r} holds a non-finite value: {soft[r].tolist()}")
    if soft.min() < 0:
        r, c = (int(v) for v in np.argwhere(soft < 0)[0])
        label = plain_repr(list(classes)[c]) if classes is not None else c
        raise ValueError(
            f"{name} row {r} has the negative probability {soft[r, c]:g} (class {label}); "
            "probabilities must be >= 0"
        )
    sums = soft.sum(axis=1)
    off = np.abs(sums - 1) > 1e-3
    if off.any():
        r = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"{name} row {r} sums to {sums[r]:g}; each row must be a probability "
            f"distribution over the {n_classes} classes, summing to 1 ({int(off.sum())} rows "
            "do not)"
        )
    return (soft / sums[:, None]).astype(np.float32)
