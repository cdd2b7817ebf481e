"""Evaluation protocols as named, reusable objects: the honest ones and the papers' leaky ones.

Every reported number names its protocol. A :class:`Protocol` has a ``name``, a one-paragraph
``description`` (what is split how, and what it leaks), a ``leaky`` flag, and
``split(dataset, random_state)`` returning one :class:`ProtocolSplit` (a train/test split,
with a validation part where the protocol has one) or a list of them (K folds).

Honest protocols (the defaults of every recipe):

- :data:`official_fer2013` (:class:`OfficialSplit`): FER2013's official usages,
  ``Training`` -> ``PublicTest`` (``PrivateTest`` kept for the once-only final score).
- :data:`subject_kfold` (:class:`SubjectKFold`): subject-grouped stratified K-fold (CK+):
  no subject has images on both sides of any fold.

Both take ``resample="oversample"`` to balance classes by random oversampling *inside the
training part only*, after the split, so no test image has a copy in training.

The papers' protocols (named options, used to measure how much they inflate a score):

- :data:`random_split` (:class:`RandomSplit`): a random stratified split of *all* images,
  ignoring official usages and subjects (80:20 in the ResNet50 + weight-normalized XGBoost
  paper; :data:`random_split_811` is the CTAN paper's stratified 8:1:1 train/val/test;
  :data:`random_split_91` a random 90:10 of frames). On
  FER2013 the usages share exact duplicates, which now fall on both sides; on CK+ frames of
  one subject (even of one sequence) land in train and test.
- :data:`balanced_test_then_91` (:class:`BalancedTestThenSplit`): the MobileNetV3-LSTM pain
  paper's: a balanced random test set (24 frames per class), then a random 90:10
  train:validation of the rest; sibling frames fall on every side.
- :data:`oversample_then_split` (:class:`OversampleThenSplit`): the CNN + LSTM paper's
  protocol: random oversampling of every class to the majority count on the whole data
  *before* a random 10% test split, so most minority-class test images are copies of
  training images.

Indices: every split records the rows of the source dataset it holds (``train_index``,
``test_index``, ``val_index``); after oversampling they repeat, and
:meth:`ProtocolSplit.n_test_sharing_a_source` counts the test images whose source row is
also in training (the copies the protocol itself made; an image-level audit with
:func:`hybridfer.evaluation.leakage_audit` also finds the duplicates the data already had).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import FERDataset
from hybridfer.data.splits import make_cv, stratified_holdout

__all__ = [
    "PROTOCOLS",
    "BalancedTestThenSplit",
    "balanced_test_then_91",
    "OfficialSplit",
    "OversampleThenSplit",
    "Protocol",
    "ProtocolSplit",
    "RandomSplit",
    "SubjectKFold",
    "get_protocol",
    "official_fer2013",
    "oversample_indices",
    "oversample_then_split",
    "random_split",
    "random_split_811",
    "random_split_91",
    "subject_kfold",
]

_RESAMPLE = (None, "oversample")


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)


def _seed(random_state: Any) -> int | None:
    """An int seed for scikit-learn splitters (None stays None)."""
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return random_state
    return int(_rng(random_state).integers(0, 2**31 - 1))


def oversample_indices(labels: np.ndarray, random_state: Any = 0) -> np.ndarray:
    """Row indices that balance ``labels`` by random oversampling (with replacement).

    Every class is brought to the majority class's count by drawing extra rows of that class
    uniformly with replacement (imbalanced-learn's ``RandomOverSampler`` strategy). The result
    holds every original row once, then the drawn copies, class by class, in sorted class
    order (a shuffle is up to the caller).
    """
    labels = np.asarray(labels)
    rng = _rng(random_state)
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.max()
    extra = []
    for c, n in zip(classes, counts, strict=True):
        if n < target:
            rows = np.flatnonzero(labels == c)
            extra.append(rng.choice(rows, size=target - n, replace=True))
    return np.concatenate([np.arange(len(labels)), *extra]).astype(np.int64)


@dataclass
class ProtocolSplit:
    """One split made by a protocol.

    Attributes
    ----------
    train, test : FERDataset
    val : FERDataset or None
        The validation part, for protocols that have one (8:1:1).
    train_index, test_index : ndarray of int
        Rows of the source dataset in each part (they repeat after oversampling).
    val_index : ndarray of int or None
    fold : int or None
        The fold number for K-fold protocols.
    """

    train: FERDataset
    test: FERDataset
    train_index: np.ndarray
    test_index: np.ndarray
    val: FERDataset | None = None
    val_index: np.ndarray | None = None
    fold: int | None = None

    def n_test_sharing_a_source(self) -> int:
        """Test images whose source row also sits in training (copies the protocol made)."""
        return int(np.isin(self.test_index, self.train_index).sum())

    def shared_groups(self) -> np.ndarray:
        """Groups (subjects) with images on both sides (empty without groups)."""
        if self.train.groups is None or self.test.groups is None:
            return np.array([], dtype=str)
        return np.intersect1d(self.train.groups, self.test.groups)


def _part(dataset: FERDataset, index: np.ndarray, suffix: str) -> FERDataset:
    out = dataset.subset(index)
    out.name = f"{dataset.name}[{suffix}]"
    return out


def _make_split(
    dataset: FERDataset,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    val_idx: np.ndarray | None = None,
    fold: int | None = None,
    tag: str = "",
) -> ProtocolSplit:
    return ProtocolSplit(
        train=_part(dataset, train_idx, f"{tag}train"),
        test=_part(dataset, test_idx, f"{tag}test"),
        train_index=np.asarray(train_idx, dtype=np.int64),
        test_index=np.asarray(test_idx, dtype=np.int64),
        val=None if val_idx is None else _part(dataset, val_idx, f"{tag}val"),
        val_index=None if val_idx is None else np.asarray(val_idx, dtype=np.int64),
        fold=fold,
    )


def _resample_train(
    train_idx: np.ndarray, labels: np.ndarray, resample: str | None, random_state: Any
) -> np.ndarray:
    if resample is None:
        return train_idx
    rows = oversample_indices(labels[train_idx], random_state)
    return train_idx[rows]


def _check_resample(resample: Any) -> None:
    if resample not in _RESAMPLE:
        raise ValueError(f"resample must be one of {list(_RESAMPLE)}, got {plain_repr(resample)}")


def _check_fraction(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be a fraction in (0, 1), got {plain_repr(value)}")


@dataclass(frozen=True)
class Protocol:
    """A named evaluation protocol (base class).

    Attributes
    ----------
    name : str
        Short name used in reports.
    description : str
        What is split how, and what (if anything) leaks.
    leaky : bool
        True for the papers' protocols that put copies or subjects of training in the test.
    """

    name: str = "protocol"
    description: str = ""
    leaky: bool = False

    def split(
        self, dataset: FERDataset, random_state: Any = 0
    ) -> ProtocolSplit | list[ProtocolSplit]:
        """Split ``dataset``: one :class:`ProtocolSplit`, or a list (one per fold)."""
        raise NotImplementedError

    def replace(self, **changes: Any) -> Protocol:
        """A copy with some parameters changed (e.g. ``subject_kfold.replace(n_splits=5)``)."""
        return dataclasses.replace(self, **changes)

    def summary(self) -> str:
        """``"name (honest|LEAKY): description"``, for reports."""
        kind = "LEAKY paper protocol" if self.leaky else "honest"
        return f"{self.name} ({kind}): {self.description}"


@dataclass(frozen=True)
class OfficialSplit(Protocol):
    """Train on the official ``train`` usage(s), test on ``test`` (FER2013's own split).

    Parameters
    ----------
    train, test : str or tuple of str
        Usages (default ``Training`` -> ``PublicTest``).
    resample : {None, "oversample"}
        Balance the training part by random oversampling (test untouched).
    """

    name: str = "official_fer2013"
    description: str = (
        "official FER2013 usages: train on Training, test on PublicTest (PrivateTest kept "
        "for a once-only final score); class resampling, if any, inside Training only"
    )
    leaky: bool = False
    train: str | tuple[str, ...] = "Training"
    test: str | tuple[str, ...] = "PublicTest"
    resample: str | None = None

    def split(self, dataset: FERDataset, random_state: Any = 0) -> ProtocolSplit:
        _check_resample(self.resample)
        if dataset.usage is None:
            raise ValueError(
                f"{self.name} needs the official usage of every image; {dataset.name} has none"
            )

        def rows(usage):
            wanted = [usage] if isinstance(usage, str) else list(usage)
            present = set(dataset.usage.tolist())
            missing = [u for u in wanted if u not in present]
            if missing:
                raise ValueError(
                    f"usage {missing} not found in {dataset.name}; it has {sorted(present)}"
                )
            return np.flatnonzero(np.isin(dataset.usage, wanted))

        train_idx = _resample_train(rows(self.train), dataset.labels, self.resample, random_state)
        return _make_split(dataset, train_idx, rows(self.test))


@dataclass(frozen=True)
class SubjectKFold(Protocol):
    """Subject-grouped stratified K-fold: no subject on both sides of any fold.

    Parameters
    ----------
    n_splits : int
        Number of folds (10 for CK+; fewer at reduced scales, stated in the report).
    resample : {None, "oversample"}
        Balance each training fold by random oversampling (test folds untouched).
    """

    name: str = "subject_kfold"
    description: str = (
        "subject-grouped stratified K-fold: every subject's images lie in one test fold "
        "only; class resampling, if any, inside the training folds only"
    )
    leaky: bool = False
    n_splits: int = 10
    resample: str | None = None

    def split(self, dataset: FERDataset, random_state: Any = 0) -> list[ProtocolSplit]:
        _check_resample(self.resample)
        if dataset.groups is None:
            raise ValueError(
                f"{self.name} needs the subject of every image (groups); {dataset.name} has none"
            )
        cv = make_cv(self.n_splits, groups=dataset.groups, random_state=_seed(random_state))
        rng = _rng(random_state)
        folds = []
        for k, (train_idx, test_idx) in enumerate(
            cv.split(np.zeros(len(dataset)), dataset.labels, dataset.groups)
        ):
            train_idx = _resample_train(train_idx, dataset.labels, self.resample, rng)
            folds.append(_make_split(dataset, train_idx, test_idx, fold=k, tag=f"fold{k}-"))
        return folds


@dataclass(frozen=True)
class RandomSplit(Protocol):
    """A random stratified split of all images, ignoring official usages and subjects.

    Stratified by class whenever that is possible; on tiny data (a class of one image, or
    fewer held-out images than classes) the split is plain random.

    Parameters
    ----------
    test_size : float
        Fraction of images in the test part (0.2: an 80:20 split).
    val_size : float
        Fraction in a validation part (0: none; 0.1 with ``test_size=0.1``: 8:1:1).
    """

    name: str = "random_split"
    description: str = (
        "a random stratified split of all images that ignores official usages and subjects: "
        "duplicates across usages and frames of one subject fall on both sides"
    )
    leaky: bool = True
    test_size: float = 0.2
    val_size: float = 0.0

    def split(self, dataset: FERDataset, random_state: Any = 0) -> ProtocolSplit:
        _check_fraction("test_size", self.test_size)
        if self.val_size:
            _check_fraction("val_size", self.val_size)
            if self.test_size + self.val_size >= 1.0:
                raise ValueError("test_size + val_size must be below 1")
        seed = _seed(random_state)
        held = self.test_size + self.val_size
        # stratified when possible: plain random on tiny data (a class of one image, or fewer
        # held-out images than classes); ``rest`` keeps its random order for the second draw
        train_idx, rest = stratified_holdout(
            dataset.labels, held, random_state=seed, stratify="if_possible", sort=False
        )
        if not self.val_size:
            return _make_split(dataset, np.sort(train_idx), np.sort(rest))
        val_pos, test_pos = stratified_holdout(
            dataset.labels[rest],
            self.test_size / held,
            random_state=seed,
            stratify="if_possible",
            sort=False,
        )
        val_idx, test_idx = rest[val_pos], rest[test_pos]
        return _make_split(dataset, np.sort(train_idx), np.sort(test_idx), np.sort(val_idx))


@dataclass(frozen=True)
class OversampleThenSplit(Protocol):
    """Random oversampling of every class on the whole data, then a random stratified split.

    The CNN + LSTM paper's protocol: its test set (6,293 images, about 900 per class) is 10%
    of FER2013 after every class was oversampled to the majority's 8,989 images, so the
    minority-class test images are mostly copies of training images.

    Parameters
    ----------
    test_size : float
        Fraction of the oversampled images in the test part (0.1 in the paper).
    """

    name: str = "oversample_then_split"
    description: str = (
        "random oversampling of every class to the majority count on the whole data, then a "
        "random stratified test split: test images are copies of training images"
    )
    leaky: bool = True
    test_size: float = 0.1

    def split(self, dataset: FERDataset, random_state: Any = 0) -> ProtocolSplit:
        _check_fraction("test_size", self.test_size)
        rng = _rng(random_state)
        pool = oversample_indices(dataset.labels, rng)
        pool = pool[rng.permutation(len(pool))]
        train_pos, test_pos = stratified_holdout(
            dataset.labels[pool],
            self.test_size,
            random_state=int(rng.integers(0, 2**31 - 1)),
            sort=False,
        )
        return _make_split(dataset, pool[train_pos], pool[test_pos])


#: Honest: FER2013 Training -> PublicTest.
official_fer2013 = OfficialSplit()
#: Honest: subject-grouped stratified 10-fold (CK+).
subject_kfold = SubjectKFold()
#: Paper (ResNet50 + weight-normalized XGBoost): random stratified 80:20 of all images.
random_split = RandomSplit()
#: Paper (CTAN): random stratified 8:1:1 train/validation/test of all images.
random_split_811 = RandomSplit(name="random_split_811", test_size=0.1, val_size=0.1)
#: Paper (MobileNetV3-LSTM pain): a random stratified 90:10 split of all frames.
random_split_91 = RandomSplit(name="random_split_91", test_size=0.1)
#: Paper (CNN + LSTM): oversample every class on the whole data, then a random 10% test split.
oversample_then_split = OversampleThenSplit()


@dataclass(frozen=True)
class BalancedTestThenSplit(Protocol):
    """The pain paper's protocol: a balanced random test set, then a random train:validation.

    ``test_per_class`` rows of every class are drawn at random (without replacement) as the
    test part; the rest is split at random, stratified by class where it can be (plain random
    on tiny data), into training and a validation part of ``val_size`` of it (rounded up, as
    :func:`sklearn.model_selection.train_test_split`). The three parts share no row, but
    subjects and sequences are ignored: sibling frames (near copies) fall on every side.

    Parameters
    ----------
    test_per_class : int
        Test rows of every class (the paper: 24, its 72 test frames of 3 classes).
    val_size : float
        Share of the rest in the validation part (the paper's 90:10 train:validation: 0.1).
    """

    name: str = "balanced_test_then_91"
    description: str = (
        "the pain paper's protocol: a balanced random test set of frames (the same number of "
        "every class), then a random stratified 90:10 train:validation split of the rest, the "
        "best epoch chosen on the validation part; subjects and sequences ignored, so sibling "
        "frames (near copies) of one sequence fall in training, validation and test"
    )
    leaky: bool = True
    test_per_class: int = 24
    val_size: float = 0.1

    def split(self, dataset: FERDataset, random_state: Any = 0) -> ProtocolSplit:
        k = self.test_per_class
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"test_per_class must be a positive int, got {k!r}")
        if not 0.0 < float(self.val_size) < 1.0:
            raise ValueError(f"val_size must be a fraction in (0, 1), got {self.val_size!r}")
        labels = np.asarray(dataset.labels)
        classes, counts = np.unique(labels, return_counts=True)
        short = [f"{c!r} ({n})" for c, n in zip(classes, counts, strict=True) if n <= k]
        if short:
            raise ValueError(
                f"{self.name}: a balanced test of {k} rows per class leaves nothing of the "
                f"classes {', '.join(short)} for training"
            )
        seed = int(random_state) if random_state is not None else None
        rng = np.random.default_rng(seed)
        test = np.sort(
            np.concatenate(
                [rng.choice(np.flatnonzero(labels == c), k, replace=False) for c in classes]
            )
        )
        rest = np.setdiff1d(np.arange(len(labels)), test)
        tr, va = stratified_holdout(
            labels[rest], float(self.val_size), random_state=seed, stratify="if_possible"
        )
        return _make_split(dataset, rest[tr], test, rest[va])


#: Paper (MobileNetV3-LSTM pain): 24 test frames per class, then 90:10 train:validation.
balanced_test_then_91 = BalancedTestThenSplit()

#: Every named protocol, by name.
PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        official_fer2013,
        subject_kfold,
        random_split,
        random_split_811,
        random_split_91,
        balanced_test_then_91,
        oversample_then_split,
    )
}


def get_protocol(name: str, **params: Any) -> Protocol:
    """The protocol called ``name`` (see :data:`PROTOCOLS`), with ``params`` changed."""
    try:
        protocol = PROTOCOLS[name]
    except KeyError:
        raise ValueError(
            f"unknown protocol {name!r}; available: {', '.join(sorted(PROTOCOLS))}"
        ) from None
    return protocol.replace(**params) if params else protocol
