"""Scoring whole pipelines by cross-validation, with features computed once per study.

:class:`CVObjective` is the Optuna objective: a trial draws a pipeline from a
:class:`~hybridfer.tuning.spaces.PipelineSpace`, every fold fits it on the training rows
(resampled there only, when asked) and scores it on the held-out rows; after each fold the
running mean is reported so a pruner can stop a poor trial early.

:class:`FeatureStore` is what makes trials cheap. A per-image feature component (HOG, LBP, a
frozen backbone) gives each image the same features whatever the training data, so the store
computes it once for all of the study's images, per distinct parameter setting, and every
trial and fold slices rows out of it. Deep extractors additionally write through the on-disk,
content-addressed feature cache (``cache=``), so a new process (another worker, a resumed
study, ``hybridfer extract`` ahead of time) reads embeddings instead of recomputing them.
Components trained in ``fit`` (a supervised CNN) are fitted per training fold and remembered
per (parameters, fold), so two trials with the same CNN settings share it.
With ``store=None`` every fold fits the whole pipeline from images, as a plain scikit-learn
``cross_validate`` would (the reference the cache is benchmarked against).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from sklearn.metrics import get_scorer, get_scorer_names

from hybridfer._messages import plain_repr
from hybridfer.tuning.interrupts import stop_requested
from hybridfer.tuning.registry import COMPONENTS, build_classifier, split_feature_set
from hybridfer.tuning.spaces import PipelineChoice, PipelineSpace

__all__ = [
    "RESAMPLERS",
    "CVObjective",
    "FeatureStore",
    "concat_images",
    "check_scoring",
    "make_folds",
    "resample_indices",
    "take",
]

#: Resampling methods applied to training folds only.
RESAMPLERS = ("none", "oversample", "undersample")


def take(X: Any, indices: np.ndarray) -> Any:
    """Rows ``indices`` of images held as an array or as a sequence of paths."""
    if isinstance(X, np.ndarray):
        return X[indices]
    return [X[i] for i in indices]


def check_scoring(scoring: str, where: str = "metric") -> str:
    """Check a scikit-learn scorer name; the error lists the valid names."""
    names = get_scorer_names()
    if not isinstance(scoring, str) or scoring not in names:
        raise ValueError(
            f"{where}: unknown scorer {scoring!r}; use a scikit-learn scorer name "
            f"such as 'f1_macro', 'accuracy', 'balanced_accuracy'. Valid names: "
            f"{sorted(names)}"
        )
    return scoring


def resample_indices(
    y: np.ndarray, indices: np.ndarray, method: str | None, random_state: int | None
) -> np.ndarray:
    """Resample training rows to balance classes (oversample or undersample at random).

    Only ever applied to a training fold (or the final training set), never to the rows a
    model is scored on.
    """
    method = method or "none"
    if method not in RESAMPLERS:
        raise ValueError(f"resample must be one of {list(RESAMPLERS)}, got {plain_repr(method)}")
    if method == "none":
        return indices
    rng = np.random.default_rng(random_state)
    labels = y[indices]
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.max() if method == "oversample" else counts.min()
    chosen = []
    for cls, count in zip(classes, counts, strict=True):
        members = indices[labels == cls]
        if method == "oversample":
            extra = rng.choice(members, size=target - count, replace=True)
            chosen.append(np.concatenate([members, extra]))
        else:
            chosen.append(rng.choice(members, size=target, replace=False))
    out = np.concatenate(chosen)
    return np.sort(out)


def make_folds(
    y: np.ndarray,
    cv: Any = 5,
    groups: np.ndarray | None = None,
    random_state: int | None = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed train/validation index pairs: stratified K-fold, subject-grouped with ``groups``.

    ``cv`` is a number of folds (see :func:`hybridfer.data.make_cv`), a scikit-learn splitter,
    or an explicit list of ``(train, validation)`` index pairs.
    """
    from hybridfer.data import check_disjoint_groups, make_cv

    if isinstance(cv, (list, tuple)):
        folds = [(np.asarray(tr, dtype=np.intp), np.asarray(va, dtype=np.intp)) for tr, va in cv]
    else:
        if isinstance(cv, (int, np.integer)):
            cv = make_cv(int(cv), groups=groups, shuffle=True, random_state=random_state)
        folds = [
            (np.asarray(tr, dtype=np.intp), np.asarray(va, dtype=np.intp))
            for tr, va in cv.split(np.zeros(len(y)), y, groups)
        ]
    if len(folds) < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {len(folds)}")
    if groups is not None:
        for k, (tr, va) in enumerate(folds):
            try:
                check_disjoint_groups(groups, tr, va)
            except ValueError as exc:
                raise ValueError(
                    f"fold {k} has groups on both sides: {exc}; use a grouped splitter"
                ) from None
    return folds


def concat_images(a: Any, b: Any) -> Any:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.dtype.kind in "OUS" and b.dtype.kind in "OUS":  # two arrays of paths
            return np.concatenate([a.astype(object), b.astype(object)])
        if a.shape[1:] != b.shape[1:] or a.dtype != b.dtype:
            raise ValueError(
                f"training images {a.shape[1:]} {a.dtype} and test images "
                f"{b.shape[1:]} {b.dtype} differ in shape or dtype"
            )
        return np.concatenate([a, b])
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        raise ValueError("training and test images must both be arrays or both be paths")
    return [*a, *b]


def _digest(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=12)
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=repr).encode())
        h.update(b"|")
    return h.hexdigest()


class FeatureStore:
    """Per-study memory of features: each (component, parameters) computed once for all images.

    Parameters
    ----------
    X : array of images or sequence of paths
        The study's images (rows are addressed by index).
    cache : path, FeatureCache or None
        The on-disk per-image feature cache handed to deep extractors (None: none).
    max_bytes : int, default=4 GiB
        Memory budget; least recently used matrices are dropped beyond it.
    random_state : int or None
        Passed to components that take one.

    Attributes
    ----------
    images_transformed : dict of str to int
        Per component, how many image rows it was asked to transform (the work a memory or
        disk cache did not save).
    """

    def __init__(
        self, X: Any, *, cache: Any = None, max_bytes: int = 4 << 30, random_state: int | None = 0
    ) -> None:
        self.X = X
        self.cache = cache
        self.max_bytes = int(max_bytes)
        self.random_state = random_state
        self._memo: OrderedDict[str, Any] = OrderedDict()
        self._bytes = 0
        self.images_transformed: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._memo)

    def _remember(self, key: str, value: Any) -> Any:
        size = sum(a.nbytes for a in value) if isinstance(value, tuple) else value.nbytes
        self._memo[key] = value
        self._bytes += size
        while self._bytes > self.max_bytes and len(self._memo) > 1:
            _, old = self._memo.popitem(last=False)
            self._bytes -= sum(a.nbytes for a in old) if isinstance(old, tuple) else old.nbytes
        return value

    def _count(self, name: str, n: int) -> None:
        self.images_transformed[name] = self.images_transformed.get(name, 0) + n

    def per_image(self, name: str, params: Mapping[str, Any]) -> np.ndarray:
        """Features of component ``name`` for every image, float32 ``(n, d)``."""
        key = _digest("img", name, dict(params))
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        est = COMPONENTS[name].build(params, cache=self.cache, random_state=self.random_state)
        F = np.asarray(est.fit(self.X).transform(self.X), dtype=np.float32)
        self._count(name, len(F))
        return self._remember(key, F)

    def fitted(
        self,
        name: str,
        params: Mapping[str, Any],
        y: np.ndarray,
        train: np.ndarray,
        test: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features of a component trained in ``fit``: fitted on ``train`` rows, for both sides."""
        key = _digest("fit", name, dict(params), train, test)
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        est = COMPONENTS[name].build(params, cache=self.cache, random_state=self.random_state)
        F_train = np.asarray(est.fit_transform(take(self.X, train), y[train]), dtype=np.float32)
        F_test = np.asarray(est.transform(take(self.X, test)), dtype=np.float32)
        self._count(name, len(train) + len(test))
        return self._remember(key, (F_train, F_test))

    def features(
        self, choice: PipelineChoice, y: np.ndarray, train: np.ndarray, test: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Training and test feature matrices of ``choice``'s feature set."""
        train_parts, test_parts = [], []
        for name in split_feature_set(choice.features):
            params = choice.params.get(name, {})
            if COMPONENTS[name].per_image:
                F = self.per_image(name, params)
                train_parts.append(F[train])
                test_parts.append(F[test])
            else:
                F_train, F_test = self.fitted(name, params, y, train, test)
                train_parts.append(F_train)
                test_parts.append(F_test)
        if len(train_parts) == 1:
            return train_parts[0], test_parts[0]
        return np.hstack(train_parts), np.hstack(test_parts)


class CVObjective:
    """Optuna objective: mean cross-validated score of a pipeline drawn from a space.

    Parameters
    ----------
    X : array of images or sequence of paths
        Training images.
    y : array-like of labels
    space : PipelineSpace
        What a trial may choose.
    cv : int, splitter or list of (train, validation) pairs, default=5
        Folds, fixed once so every trial (and every ablation pair) sees the same ones.
    groups : array-like or None
        Subject ids: folds never split a subject.
    scoring : str, default="f1_macro"
        The scikit-learn scorer optimised.
    extra_scoring : sequence of str
        Further scorers recorded per fold (user attributes), not optimised.
    resample : {"none", "oversample", "undersample"}
        Class balancing of the training rows of each fold.
    store : FeatureStore, "auto" or None
        ``"auto"`` makes a store over ``X`` (with ``cache``); None fits whole pipelines per
        fold from images (no reuse at all).
    cache : path, FeatureCache or None
        Feature cache for deep extractors.
    random_state : int or None
        Seeds folds, resampling and estimators.
    X_test, y_test : images and labels, optional
        A separate test split (e.g. FER2013 PublicTest) for :meth:`score_test`; never used by
        the cross-validation. Its per-image features share the store with the training images.
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        space: PipelineSpace,
        *,
        cv: Any = 5,
        groups: Any = None,
        scoring: str = "f1_macro",
        extra_scoring: Sequence[str] = (),
        resample: str | None = None,
        store: FeatureStore | str | None = "auto",
        cache: Any = None,
        random_state: int | None = 0,
        X_test: Any = None,
        y_test: Any = None,
    ) -> None:
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} images but y has {len(y)} labels")
        self.n_train = len(y)
        if (X_test is None) != (y_test is None):
            raise ValueError("give both X_test and y_test, or neither")
        if X_test is not None:
            y_test = np.asarray(y_test)
            if len(y_test) != len(X_test):
                raise ValueError(
                    f"X_test has {len(X_test)} images but y_test has {len(y_test)} labels"
                )
            X = concat_images(X, X_test)
            y = np.concatenate([y, y_test])
        self.X = X
        self.y = y
        self.space = space
        self.groups = None if groups is None else np.asarray(groups)
        if self.groups is not None and len(self.groups) != self.n_train:
            raise ValueError(f"groups has {len(self.groups)} entries for {self.n_train} images")
        self.scoring = check_scoring(scoring)
        self.extra_scoring = tuple(
            check_scoring(s, "extra metric") for s in extra_scoring if s != scoring
        )
        if (resample or "none") not in RESAMPLERS:
            raise ValueError(
                f"resample must be one of {list(RESAMPLERS)}, got {plain_repr(resample)}"
            )
        self.resample = resample or "none"
        self.cache = cache
        self.random_state = random_state
        self.folds = make_folds(self.y[: self.n_train], cv, self.groups, random_state)
        if store == "auto":
            store = FeatureStore(self.X, cache=cache, random_state=random_state)
        self.store = store

    @property
    def n_folds(self) -> int:
        return len(self.folds)

    def fold_ids(self) -> list[str]:
        """A digest of each fold's validation rows (equal digests: identical folds)."""
        return [_digest(va) for _, va in self.folds]

    def score_fold(self, choice: PipelineChoice, k: int) -> dict[str, float]:
        """Fit ``choice`` on fold ``k``'s training rows and score it on its validation rows."""
        train, test = self.folds[k]
        seed = None if self.random_state is None else self.random_state + k
        train = resample_indices(self.y, train, self.resample, seed)
        return self._fit_score(choice, train, test)

    def _fit_score(
        self, choice: PipelineChoice, train: np.ndarray, test: np.ndarray
    ) -> dict[str, float]:
        scorers = {s: get_scorer(s) for s in (self.scoring, *self.extra_scoring)}
        if self.store is None:
            model = self.space.build_pipeline(choice, cache=None, random_state=self.random_state)
            model.fit(take(self.X, train), self.y[train])
            X_test = take(self.X, test)
        else:
            F_train, X_test = self.store.features(choice, self.y, train, test)
            model = build_classifier(
                choice.classifier, choice.params[choice.classifier], random_state=self.random_state
            )
            model.fit(F_train, self.y[train])
        return {name: float(s(model, X_test, self.y[test])) for name, s in scorers.items()}

    def evaluate(
        self, trial: optuna.trial.BaseTrial, choice: PipelineChoice, prune: bool = True
    ) -> float:
        """Score ``choice`` fold by fold, reporting the running mean to ``trial``'s pruner."""
        per_fold: dict[str, list[float]] = {s: [] for s in (self.scoring, *self.extra_scoring)}
        start = time.perf_counter()
        for k in range(self.n_folds):
            if stop_requested():  # a Ctrl-C that Python swallowed (in a finalizer)
                raise KeyboardInterrupt
            scores = self.score_fold(choice, k)
            for name, value in scores.items():
                per_fold[name].append(value)
            running = float(np.mean(per_fold[self.scoring]))
            trial.report(running, step=k)
            trial.set_user_attr("fold_scores", per_fold)
            # after the last fold the work is done: a complete result is never thrown away
            if prune and k < self.n_folds - 1 and trial.should_prune():
                trial.set_user_attr("seconds", round(time.perf_counter() - start, 3))
                raise optuna.TrialPruned(
                    f"pruned after fold {k + 1}/{self.n_folds} at mean {self.scoring}={running:.4f}"
                )
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 3))
        trial.set_user_attr("fold_ids", self.fold_ids())
        return float(np.mean(per_fold[self.scoring]))

    def __call__(self, trial: optuna.trial.BaseTrial) -> float:
        choice = self.space.suggest(trial)
        trial.set_user_attr("pipeline", choice.label)
        return self.evaluate(trial, choice)

    @property
    def has_test(self) -> bool:
        return self.n_train < len(self.y)

    def score_test(self, choice: PipelineChoice) -> dict[str, float]:
        """Fit ``choice`` on all training images and score it on the test split."""
        if not self.has_test:
            raise ValueError("no test split: pass X_test and y_test")
        train = resample_indices(self.y, np.arange(self.n_train), self.resample, self.random_state)
        return self._fit_score(choice, train, np.arange(self.n_train, len(self.y)))

    def refit(self, choice: PipelineChoice) -> Any:
        """The pipeline of ``choice`` fitted on all the (resampled) training images."""
        idx = resample_indices(self.y, np.arange(self.n_train), self.resample, self.random_state)
        model = self.space.build_pipeline(choice, cache=self.cache, random_state=self.random_state)
        return model.fit(take(self.X, idx), self.y[idx])
