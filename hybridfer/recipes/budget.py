"""A recipe's whole run inside its time budget: the work after training is measured and reserved
before training starts, and training gets what is left.

:func:`plan_budget` is a pure function of the budget, the seconds already spent and the
predicted seconds of each piece of work after training (the network's inference passes, the
handcrafted features, each head's fit); it keeps the heads in priority order while training
keeps at least ``min_train_s``, so a short budget drops the lower-priority heads rather than
overrunning. :func:`predict_fit_seconds` predicts a head's fit on ``n`` rows from a timed fit
on a small random sample (``(n / m) ** exponent``: 2 for kernel SVMs, 1 for linear models, 0
for the weight-normalized booster, whose fit time is its per-round overhead), and :func:`measure_inference` times the network's forward pass; both run in
seconds, before training. After training, :meth:`BudgetPlan.fits` is asked before each head,
so a misprediction skips a head instead of overrunning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BudgetPlan", "measure_inference", "plan_budget", "predict_fit_seconds"]


@dataclass
class BudgetPlan:
    """How a run's budget is shared.

    Attributes
    ----------
    budget_s : float
        The whole run's budget.
    spent_s : float
        Seconds spent before training (loading, audits, calibration).
    train_s : float
        Training's budget.
    reserve_s : float
        Seconds reserved after training: ``safety`` x (fixed work + the kept heads).
    heads : tuple of str
        Heads kept, in priority order.
    skipped : tuple of str
        Heads left out because they would not fit.
    costs : dict of str to float
        Predicted seconds of each piece of work after training (``"fixed"`` and each head).
    deadline : float
        ``time.perf_counter()`` value at which the budget ends.
    """

    budget_s: float
    spent_s: float
    train_s: float
    reserve_s: float
    heads: tuple[str, ...]
    skipped: tuple[str, ...]
    costs: dict[str, float]
    deadline: float = 0.0
    safety: float = 1.25
    late: list[str] = field(default_factory=list)

    def left(self) -> float:
        """Seconds left before the deadline."""
        return self.deadline - time.perf_counter()

    def fits(self, head: str, then: float = 0.0) -> bool:
        """Whether ``head``'s predicted fit (and ``then`` more seconds) still fits before the
        deadline; a head that does not is recorded in :attr:`late`."""
        ok = self.costs.get(head, 0.0) * self.safety + then <= self.left()
        if not ok:
            self.late.append(head)
        return ok

    def describe(self) -> str:
        """One paragraph for the report: the shares, the predictions and what was left out."""
        heads = ", ".join(f"{h} {self.costs[h]:.0f} s" for h in self.heads)
        text = (
            f"budget {self.budget_s / 60:.1f} min for the whole run: {self.spent_s:.0f} s "
            f"before training, {self.train_s / 60:.1f} min of training, "
            f"{self.reserve_s / 60:.1f} min reserved after it (predicted, x{self.safety:g}: "
            f"inference and features {self.costs.get('fixed', 0.0):.0f} s; heads {heads})"
        )
        if self.skipped:
            text += f"; left out to fit the budget: {', '.join(self.skipped)}"
        if self.late:
            text += f"; skipped after training, short of time: {', '.join(self.late)}"
        return text


def plan_budget(
    budget_s: float,
    spent_s: float,
    fixed_s: float,
    head_costs: Mapping[str, float],
    *,
    required: Sequence[str] = (),
    min_train_s: float | None = None,
    safety: float = 1.25,
    start: float | None = None,
) -> BudgetPlan:
    """Share ``budget_s`` between training and the work after it.

    Parameters
    ----------
    budget_s : float
        The whole run's budget in seconds.
    spent_s : float
        Seconds already spent.
    fixed_s : float
        Predicted seconds of the work after training that every run does (inference,
        features, the report).
    head_costs : mapping of str to float
        Predicted fit seconds of each head, in priority order (highest first).
    required : sequence of str
        Heads kept whatever the budget (e.g. the saved pipeline's).
    min_train_s : float, optional
        Training keeps at least this much before optional heads are dropped (default: 60 s,
        or half of what is left when that is less); a budget too small even for the required
        work trains for one second.
    safety : float
        Factor on every prediction.
    start : float, optional
        ``time.perf_counter()`` at the run's start (default: now minus ``spent_s``).

    Returns
    -------
    BudgetPlan
    """
    if budget_s <= 0:
        raise ValueError(f"the budget must be positive, got {budget_s} s")
    order = [h for h in required if h in head_costs]
    order += [h for h in head_costs if h not in order]
    kept = list(order)

    def reserve(heads: Sequence[str]) -> float:
        return safety * (fixed_s + sum(head_costs[h] for h in heads))

    left = budget_s - spent_s
    floor = min(60.0, left / 2) if min_train_s is None else min(min_train_s, left)
    while kept and kept[-1] not in required and left - reserve(kept) < floor:
        kept.pop()
    train_s = max(1.0, left - reserve(kept))
    start = time.perf_counter() - spent_s if start is None else start
    return BudgetPlan(
        budget_s=float(budget_s),
        spent_s=float(spent_s),
        train_s=float(train_s),
        reserve_s=float(reserve(kept)),
        heads=tuple(h for h in order if h in kept),
        skipped=tuple(h for h in order if h not in kept),
        costs={"fixed": float(fixed_s), **{h: float(v) for h, v in head_costs.items()}},
        deadline=start + float(budget_s),
        safety=float(safety),
    )


def predict_fit_seconds(
    make: Callable[[], Any],
    n_rows: int,
    n_columns: int,
    n_classes: int,
    *,
    exponent: float,
    sample: int = 1000,
    random_state: int = 0,
) -> float:
    """Predicted seconds of ``make().fit`` on ``n_rows`` x ``n_columns``: a timed fit on
    ``sample`` random rows (Gaussian columns, each row labelled by its largest of the first
    ``n_classes`` columns: a learnable problem, as embeddings are), times
    ``(n_rows / sample) ** exponent`` (0 for a fit whose time is its per-round overhead, as
    a custom-objective booster's is)."""
    m = int(min(sample, n_rows))
    rng = np.random.default_rng(random_state)
    X = rng.standard_normal((m, n_columns)).astype(np.float32)
    y = X[:, : min(n_classes, n_columns)].argmax(axis=1)
    t = time.perf_counter()
    make().fit(X, y)
    seconds = time.perf_counter() - t
    return seconds * (n_rows / m) ** exponent


def measure_inference(model: Any, image_shape: Sequence[int], n: int = 512, **kwargs: Any) -> float:
    """Images per second of ``model``'s forward pass on ``n`` random images of
    ``image_shape`` (C, H, W) (:func:`hybridfer.nn.inference.predict_module`; ``kwargs`` such
    as ``precision`` and ``batch_size`` go there); one warm-up batch is not timed."""
    import torch

    from hybridfer.nn.inference import predict_module

    X = torch.rand((n, *image_shape))
    batch = int(kwargs.get("batch_size", 256))
    predict_module(model, X[:batch], n=min(batch, n), **kwargs)
    t = time.perf_counter()
    predict_module(model, X, **kwargs)
    return n / max(time.perf_counter() - t, 1e-9)
