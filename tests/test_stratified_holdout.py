"""The one stratified hold-out: the draws of ``train_test_split``, and its tiny-data rules."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from hybridfer.data import stratified_holdout


def _same(a, b) -> None:
    assert len(a) == len(b) == 2
    for x, z in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, z)


def test_the_draws_of_train_test_split() -> None:
    y = np.repeat(np.arange(4), [10, 7, 5, 3])
    idx = np.arange(len(y))
    for size in (0.2, 6):
        ref = train_test_split(idx, test_size=size, stratify=y, random_state=3)
        _same(stratified_holdout(y, size, random_state=3, sort=False), ref)
        _same(stratified_holdout(y, size, random_state=3), [np.sort(r) for r in ref])
    ref = train_test_split(idx, train_size=12, stratify=y, random_state=0)
    _same(stratified_holdout(y, train_size=12, random_state=0, sort=False), ref)
    ref = train_test_split(idx, test_size=0.3, random_state=5)
    _same(stratified_holdout(y, 0.3, random_state=5, stratify=False, sort=False), ref)
    # stratified: every class on both sides, in proportion
    train, test = stratified_holdout(y, 0.4, random_state=1)
    assert np.array_equal(np.bincount(y[test]), [4, 3, 2, 1])
    assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == len(y)


def test_if_possible_falls_back_to_a_plain_split_on_tiny_data() -> None:
    idx = np.arange(7)
    one_of_a_class = np.array([0, 0, 0, 1, 1, 1, 2])
    with pytest.raises(ValueError, match="least populated"):
        stratified_holdout(one_of_a_class, 0.3)
    ref = train_test_split(idx, test_size=0.3, random_state=0)
    _same(stratified_holdout(one_of_a_class, 0.3, stratify="if_possible", sort=False), ref)
    # fewer test rows than classes: plain as well
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    ref = train_test_split(idx, test_size=2, random_state=0)
    _same(stratified_holdout(y, 2, stratify="if_possible", sort=False), ref)
    # where stratifying works, "if_possible" is the stratified draw
    ref = train_test_split(idx, test_size=3, stratify=y, random_state=0)
    _same(stratified_holdout(y, 3, stratify="if_possible", sort=False), ref)


def test_pool_rare_stratifies_the_strata_of_one_row_together() -> None:
    strata = np.array(["a"] * 6 + ["b"] * 4 + ["c", "d"])
    pooled = np.array(["a"] * 6 + ["b"] * 4 + ["_rare", "_rare"])
    ref = train_test_split(np.arange(12), train_size=6, stratify=pooled, random_state=2)
    _same(
        stratified_holdout(strata, train_size=6, random_state=2, stratify="pool_rare"),
        [np.sort(r) for r in ref],
    )
    with pytest.raises(ValueError, match="stratify must be"):
        stratified_holdout(strata, 0.5, stratify="maybe")
