"""Honest splits: official usages, stratified (subject-grouped) K-fold, group-overlap checks,
and the one stratified hold-out of row indices that every internal split draws with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from sklearn.model_selection import (
    StratifiedGroupKFold,
    StratifiedKFold,
    train_test_split,
)

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import FERDataset

__all__ = [
    "check_disjoint_groups",
    "holdout_split",
    "make_cv",
    "stratified_holdout",
    "stratified_subsample",
    "usage_split",
]


def stratified_holdout(
    y: np.ndarray | Sequence,
    test_size: float | int | None = None,
    *,
    train_size: float | int | None = None,
    random_state: int | np.random.RandomState | None = 0,
    stratify: bool | Literal["if_possible", "pool_rare"] = True,
    sort: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)`` of a random hold-out of ``len(y)`` rows, stratified by ``y``.

    The draws are those of :func:`sklearn.model_selection.train_test_split` on
    ``np.arange(len(y))`` with the same sizes, seed and stratification.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The stratum of every row (class labels, or any hashable key such as
        ``"usage/label"`` strings).
    test_size, train_size : float, int or None
        As in :func:`~sklearn.model_selection.train_test_split`: a fraction of the rows or a
        count; with both None a quarter of the rows is held out.
    random_state : int, RandomState or None
        Seed of the draw.
    stratify : bool, "if_possible" or "pool_rare", default True
        ``True``: stratified by ``y`` (ValueError when a class has one row, or a side gets
        fewer rows than there are classes). ``"if_possible"``: stratified when it can be, else
        a plain random split (the draws of an unstratified ``train_test_split``).
        ``"pool_rare"``: the strata of one row are pooled into one stratum first, then
        stratified. ``False``: a plain random split.
    sort : bool, default True
        Return each side sorted; ``False`` keeps ``train_test_split``'s random order.

    Returns
    -------
    train, test : ndarray of int
        Positions into ``y``.
    """
    if stratify not in (True, False, "if_possible", "pool_rare"):
        raise ValueError(
            "stratify must be True, False, 'if_possible' or 'pool_rare', got "
            f"{plain_repr(stratify)}"
        )
    strata = np.asarray(y)
    idx = np.arange(len(strata))
    sizes = {"test_size": test_size, "train_size": train_size, "random_state": random_state}
    if stratify == "pool_rare":
        values, counts = np.unique(strata, return_counts=True)
        rare = set(values[counts < 2].tolist())
        strata = np.array(["_rare" if s in rare else s for s in strata])
    if not stratify:
        train, test = train_test_split(idx, **sizes)
    elif stratify == "if_possible":
        try:
            train, test = train_test_split(idx, stratify=strata, **sizes)
        except ValueError:  # a class of one row, or a side smaller than the classes
            train, test = train_test_split(idx, **sizes)
    else:
        train, test = train_test_split(idx, stratify=strata, **sizes)
    if sort:
        return np.sort(train), np.sort(test)
    return train, test


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
        raise ValueError(f"n_splits must be an integer >= 2, got {plain_repr(n_splits)}")
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


def holdout_split(
    ds: FERDataset, test_size: float, random_state: int | None = 0
) -> tuple[FERDataset, FERDataset | None]:
    """A stratified train/test split, subject-grouped when the dataset has groups.

    ``test_size <= 0`` returns ``(ds, None)``. With groups, the test part is one fold of a
    :class:`~sklearn.model_selection.StratifiedGroupKFold` with ``round(1 / test_size)``
    folds, so no subject is on both sides.
    """
    if test_size <= 0:
        return ds, None
    y = ds.labels
    if ds.groups is not None:
        n_splits = max(2, int(round(1 / test_size)))
        n_groups = len(np.unique(ds.groups))
        if n_groups < n_splits:
            raise ValueError(
                f"{ds.name} has {n_groups} subjects, too few for a grouped test_size of {test_size}"
            )
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
        train, test = next(splitter.split(np.zeros(len(y)), y, ds.groups))
        check_disjoint_groups(ds.groups, train, test)
    else:
        train, test = stratified_holdout(y, test_size, random_state=random_state)
    return ds.subset(np.sort(train)), ds.subset(np.sort(test))


def stratified_subsample(ds: FERDataset, n: int, random_state: int | None = 0) -> FERDataset:
    """``n`` images drawn stratified by class (the dataset itself when ``n`` is 0 or covers
    it); the name records the subsample."""
    if not n or n >= len(ds):
        return ds
    idx, _ = stratified_holdout(ds.labels, train_size=n, random_state=random_state)
    out = ds.subset(idx)
    out.name = f"{ds.name}[subsample {n}]"
    return out
