"""Honest splits: official usages, stratified (subject-grouped) K-fold, group-overlap checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from hybridfer.data.dataset import FERDataset

__all__ = ["check_disjoint_groups", "make_cv", "usage_split"]


def usage_split(
    ds: FERDataset,
    train: str | Sequence[str] = "Training",
    test: str | Sequence[str] = "PublicTest",
) -> tuple[FERDataset, FERDataset]:
    """Split a dataset by its official usage (FER2013: Training / PublicTest / PrivateTest).

    The defaults give FER2013's honest protocol for model selection: fit on ``Training``,
    report on ``PublicTest``; keep ``PrivateTest`` for the final, once-only evaluation.
    """
    return ds.split(train), ds.split(test)


def make_cv(
    n_splits: int = 5,
    groups: np.ndarray | Sequence | None = None,
    shuffle: bool = True,
    random_state: int | None = 0,
) -> StratifiedKFold | StratifiedGroupKFold:
    """A stratified K-fold splitter, grouped when ``groups`` is given.

    With groups (e.g. CK+ subjects) the result is :class:`~sklearn.model_selection.
    StratifiedGroupKFold`, so no group appears in both the training and the test fold;
    pass the same ``groups`` to its ``split``. Without, :class:`StratifiedKFold`.
    """
    if not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ValueError(f"n_splits must be an integer >= 2, got {n_splits!r}")
    rs = random_state if shuffle else None
    if groups is not None:
        n_groups = len(np.unique(np.asarray(groups)))
        if n_groups < n_splits:
            raise ValueError(
                f"groups has {n_groups} distinct values; n_splits={n_splits} "
                "needs at least as many groups as folds"
            )
        return StratifiedGroupKFold(n_splits=n_splits, shuffle=shuffle, random_state=rs)
    return StratifiedKFold(n_splits=n_splits, shuffle=shuffle, random_state=rs)


def check_disjoint_groups(groups: Sequence, train_idx: np.ndarray, test_idx: np.ndarray) -> None:
    """Raise ValueError if any group has members on both sides of a split."""
    groups = np.asarray(groups)
    shared = np.intersect1d(groups[train_idx], groups[test_idx])
    if shared.size:
        raise ValueError(
            f"groups {shared[:5].tolist()} appear in both train and test "
            f"({shared.size} shared): this split leaks subjects"
        )
