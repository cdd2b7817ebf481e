"""Weight-normalized XGBoost (``WNXGBClassifier``), as read from the ResNet50 + WNXGBoost paper.

The paper is Rajeshwari M. and Krishna Prasad K., "Transforming Facial Expression Prediction:
Amplifying Accuracy with ResNet50 Features and Innovated XG-Boost Algorithm", INFOCOMP 23(2),
December 2024. Its equations (gradient ``s = dL/df``, hessian ``v = d2L/df2``, split gain
``1/2 [S_L^2/v_L + S_R^2/v_R - S^2/v]``, leaf weight ``-S/V``, additive trees
``f_k = f_{k-1} + b``) are plain second-order boosting with no regularisation and unit step,
i.e. XGBoost with ``reg_lambda=0, gamma=0, learning_rate=1``. "Weight normalization" is never
defined there; the prose borrows it from neural weight normalization ("maintaining the gradient
descent step"). This module offers each plausible reading as an option, so that ablations can
show which of them matters:

1. ``feature_norm`` - normalising the individual features: ``"standard"`` (zero mean, unit
   variance per feature; trees are invariant to it, so it is an ablation control) or ``"l2"``
   (each sample divided by its L2 norm, which does change the trees);
2. ``class_weight="balanced"`` - weighting the classes: each class weighed by
   ``W / (n_classes * W_c)``, so every class carries the same total weight and the sample
   weights keep mean 1 (multiclass XGBoost has no built-in balancing);
3. ``normalized_gradient=True`` - normalising the gradient step: every round's gradients and
   hessians are divided by their weighted RMS, so regularisation keeps its strength as the
   fit improves;
4. ``preset="paper"`` - the paper's equations as written: ``reg_lambda=0, gamma=0,
   learning_rate=1``.

:class:`WNXGBClassifier` documents each option's exact formula.
"""

from __future__ import annotations

import json
import math
import os
import re
from numbers import Integral, Real
from typing import Any

import numpy as np
import xgboost as xgb
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelEncoder, Normalizer, StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from hybridfer._messages import plain_repr
from hybridfer.classifiers._weights import class_weight_vector
from hybridfer.data.splits import stratified_holdout

__all__ = ["WNXGBClassifier"]

#: Parameters the ``"paper"`` preset overrides: the unregularised, unit-step boosting of the
#: paper's equations (no L2 on leaves, no split penalty, no shrinkage).
PRESETS: dict[str, dict[str, float]] = {
    "paper": {"reg_lambda": 0.0, "gamma": 0.0, "learning_rate": 1.0},
}

_HESS_FLOOR = 1e-16  # XGBoost's own floor on the softmax hessian
_SCALE_FLOOR = 1e-12  # lower bound on the per-round gradient RMS (a perfectly fitted round)
_PRIOR_FLOOR = 1e-6  # keeps the log-prior intercept finite when a class has zero weight
_DEVICE_RE = re.compile(r"^(cpu|auto|cuda(:\d+)?)$")


class _SoftmaxObjective:
    """Softmax (or logistic) cross-entropy gradients for ``xgboost.train``, optionally rescaled.

    For sample ``i`` with weight ``w_i``, class probabilities ``p_ik`` and one-hot label
    ``y_ik``, the residual is ``r_ik = p_ik - y_ik`` and the gradients are XGBoost's own
    ``g_ik = w_i r_ik`` and ``h_ik = max(2 w_i p_ik (1 - p_ik), 1e-16)`` (binary:
    ``h_i = max(w_i p_i (1 - p_i), 1e-16)``). With ``normalize=True`` both are divided by the
    round's weighted RMS gradient norm ``s_t = sqrt(sum_i w_i ||r_i||^2 / sum_i w_i)``.
    """

    def __init__(self, n_classes: int, normalize: bool) -> None:
        self.n_classes = n_classes
        self.normalize = normalize
        self.scales: list[float] = []  # s_t of every round, for inspection

    def __call__(self, predt: np.ndarray, dtrain: xgb.DMatrix) -> tuple[np.ndarray, np.ndarray]:
        y = dtrain.get_label().astype(np.intp)
        w = dtrain.get_weight().astype(np.float64)
        if w.size == 0:
            w = np.ones(len(y))
        margin = np.asarray(predt, dtype=np.float64)
        if self.n_classes == 2:
            p = expit(margin.reshape(-1))
            r = p - y
            h = np.maximum(w * p * (1.0 - p), _HESS_FLOOR)
            sq_norm = r**2
        else:
            p = softmax(margin.reshape(len(y), self.n_classes), axis=1)
            r = p.copy()
            r[np.arange(len(y)), y] -= 1.0
            h = np.maximum(2.0 * w[:, None] * p * (1.0 - p), _HESS_FLOOR)
            sq_norm = np.einsum("ik,ik->i", r, r)
        g = r * (w if r.ndim == 1 else w[:, None])
        if self.normalize:
            scale = max(math.sqrt(float(np.dot(w, sq_norm)) / float(w.sum())), _SCALE_FLOOR)
            self.scales.append(scale)
            g = g / scale
            h = h / scale
        return g.astype(np.float32), h.astype(np.float32)


def _log_loss_metric(n_classes: int):
    """Weighted cross-entropy on raw margins, for early stopping with the custom objective."""
    name = "logloss" if n_classes == 2 else "mlogloss"

    def metric(predt: np.ndarray, dmat: xgb.DMatrix) -> tuple[str, float]:
        y = dmat.get_label().astype(np.intp)
        w = dmat.get_weight().astype(np.float64)
        if w.size == 0:
            w = np.ones(len(y))
        proba = _margin_to_proba(np.asarray(predt, dtype=np.float64), n_classes, len(y))
        p_true = np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)
        return name, float(-np.dot(w, np.log(p_true)) / w.sum())

    return metric


def _margin_to_proba(margin: np.ndarray, n_classes: int, n_samples: int) -> np.ndarray:
    """Class probabilities (float64, rows sum to 1) from raw boosting margins."""
    if n_classes == 2:
        p1 = expit(margin.reshape(-1))
        return np.column_stack([1.0 - p1, p1])
    return softmax(margin.reshape(n_samples, n_classes), axis=1)


def _resolve_device(device: str) -> str:
    """XGBoost's device for ``device``: the toolkit's rule (:func:`hybridfer.nn.devices.
    resolve_device`), with Apple's MPS, which XGBoost cannot use, falling back to the CPU."""
    from hybridfer.nn.devices import resolve_device

    dev = resolve_device(device)
    return "cpu" if dev.type == "mps" else str(dev)


def _n_threads(n_jobs: int | None) -> int | None:
    """joblib-style ``n_jobs`` to XGBoost's ``nthread`` (``None``: XGBoost's default)."""
    if n_jobs is None:
        return None
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return n_jobs


class WNXGBClassifier(ClassifierMixin, BaseEstimator):
    """Weight-normalized XGBoost classifier (ResNet50 + WNXGBoost paper), histogram trees.

    Binary problems use a logistic model, multiclass ones a softmax over one tree per class and
    round. Labels of any kind are encoded with a ``LabelEncoder`` (``classes_``). The model's
    intercept is the log of the (weighted) class priors, the optimal constant model, for every
    objective, so variants differ only in what they set out to change.

    Parameters
    ----------
    n_estimators : int, default=300
        Boosting rounds (the most, with early stopping).
    learning_rate : float, default=0.1
        Shrinkage ``eta`` applied to every tree.
    max_depth : int, default=6
        Maximum tree depth (0: no limit).
    min_child_weight : float, default=1
        Minimum hessian sum in a child.
    subsample, colsample_bytree : float, default=1.0
        Row and feature subsampling per tree.
    reg_lambda, reg_alpha : float, default=1.0 and 0.0
        L2 and L1 penalties on leaf weights.
    gamma : float, default=0.0
        Minimum gain to make a split.
    max_bin : int, default=256
        Histogram bins per feature (``tree_method="hist"``).
    feature_norm : {"none", "standard", "l2"}, default="none"
        Reading 1 of "weight normalization" (the paper also speaks of "normalizing the
        individual features"). ``"standard"``: per-feature zero mean, unit variance, fitted on
        the training rows (``scaler_``); a tree's splits are invariant to it, so it is an
        ablation control rather than a change of model. ``"l2"``: every sample divided by its
        L2 norm (``sklearn.preprocessing.Normalizer``), which does change the trees: only the
        direction of a feature vector matters, not its magnitude.
    class_weight : None, "balanced" or dict, default=None
        Reading 2: weighting the classes. ``"balanced"`` weighs each class by
        ``W / (n_classes * W_c)``, with ``W_c`` the class's total ``sample_weight`` (its count
        without one): every class carries the same total weight and the per-sample weights
        keep mean 1 (multiclass XGBoost has no built-in balancing). A dict maps labels to
        weights, used as given. Class weights multiply ``sample_weight``. Learned per class in
        ``class_weights_``.
    normalized_gradient : bool, default=False
        Reading 3: normalizing the gradient step, as weight normalization does for a neural
        net. A custom softmax (binary: logistic) objective computes XGBoost's own gradients
        ``g = w (p - y)`` and hessians ``h = w 2p(1-p)`` (binary: ``w p(1-p)``), then divides
        both by the round's weighted RMS gradient norm
        ``s_t = sqrt(sum_i w_i ||p_i - y_i||^2 / sum_i w_i)``, so that every round's gradient
        has unit scale. The unregularised Newton step ``-G/H`` is invariant to this; what
        changes is that ``reg_lambda``, ``reg_alpha``, ``gamma`` and ``min_child_weight`` act
        on unit-scale gradients (the leaf value becomes ``-G / (H + lambda s_t)``) and so keep
        their strength as the fit improves and gradients shrink, instead of growing relatively
        stronger. With ``reg_lambda = reg_alpha = gamma = min_child_weight = 0`` it changes
        nothing. Scales of the rounds are kept in ``gradient_scales_``.
    preset : None or "paper", default=None
        Reading 4: ``"paper"`` fits with ``reg_lambda=0, gamma=0, learning_rate=1``, the plain
        second-order boosting of the paper's equations. Applied in ``fit`` (the parameters
        themselves are left as set); the values used are in ``xgb_params_``.
    early_stopping_rounds : int or None, default=None
        Stop when the validation log loss has not improved for this many rounds;
        ``best_iteration_`` is recorded and the booster is cut to it, so predictions use it.
    validation_fraction : float, default=0.1
        With early stopping and no ``eval_set``: the share of training rows held out (split
        stratified by class where every class has two rows, seeded by ``random_state``). The
        model is fitted on the remaining rows only.
    n_jobs : int or None, default=None
        Threads (``None``: XGBoost's default; negative: joblib style, -1 = all cores).
    random_state : int, RandomState or None, default=None
        Seeds the boosting (subsampling) and the validation split.
    device : {"cpu", "cuda", "cuda:<i>", "auto"}, default="cpu"
        Where XGBoost trains; ``"auto"`` is ``"cuda"`` when ``torch.cuda.is_available()``.
    verbose : int, default=0
        0: silent; ``k > 0``: print the validation metric every ``k`` rounds.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X has string column names
    booster_ : xgboost.Booster
        The fitted booster, cut to ``best_iteration_ + 1`` rounds (also ``get_booster()``).
    best_iteration_ : int
        Index (0-based) of the last round used for prediction.
    best_score_ : float or None
        Validation log loss at ``best_iteration_`` (``None`` without a validation set).
    n_iter_ : int
        Rounds actually trained (before cutting to ``best_iteration_``).
    evals_result_ : dict
        Per-round validation metric, ``{"validation": {"mlogloss": [...]}}`` (empty without).
    scaler_ : StandardScaler, Normalizer or None
        The fitted feature normaliser.
    class_weights_ : ndarray of shape (n_classes,)
        Weight of each class (all ones when ``class_weight=None``).
    gradient_scales_ : ndarray or None
        The per-round RMS ``s_t`` when ``normalized_gradient=True``.
    xgb_params_ : dict
        The parameters passed to ``xgboost.train``.
    device_ : str
        The device used.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Total gain of the splits on each feature, normalised to sum 1 (summable over groups).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(200, 10, n_informative=5, n_classes=3, random_state=0)
    >>> clf = WNXGBClassifier(n_estimators=20, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_depth": [Interval(Integral, 0, None, closed="left")],
        "min_child_weight": [Interval(Real, 0, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "reg_alpha": [Interval(Real, 0, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "max_bin": [Interval(Integral, 2, None, closed="left")],
        "feature_norm": [StrOptions({"none", "standard", "l2"})],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "normalized_gradient": ["boolean"],
        "preset": [StrOptions(set(PRESETS)), None],
        "early_stopping_rounds": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "device": [str],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.1,
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 1.0,
        reg_alpha: float = 0.0,
        gamma: float = 0.0,
        max_bin: int = 256,
        feature_norm: str = "none",
        class_weight: str | dict | None = None,
        normalized_gradient: bool = False,
        preset: str | None = None,
        early_stopping_rounds: int | None = None,
        validation_fraction: float = 0.1,
        n_jobs: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        device: str = "cpu",
        verbose: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.gamma = gamma
        self.max_bin = max_bin
        self.feature_norm = feature_norm
        self.class_weight = class_weight
        self.normalized_gradient = normalized_gradient
        self.preset = preset
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        eval_set: list[tuple[Any, Any]] | None = None,
    ) -> WNXGBClassifier:
        """Fit the boosted trees.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features (NaN is treated as missing, except with ``feature_norm="l2"``).
        y : array-like of shape (n_samples,)
            Class labels of any hashable, sortable type (at least two classes).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative per-sample weights, multiplied by the class weights.
        eval_set : list of (X, y) pairs, optional
            Validation data; the last pair drives early stopping (instead of an internal split)
            and its per-round log loss is recorded in ``evals_result_``. Its samples get the
            class weights of their labels.

        Returns
        -------
        self
        """
        if not _DEVICE_RE.match(self.device):
            raise ValueError(
                f"device must be 'cpu', 'cuda', 'cuda:<index>' or 'auto'; got {plain_repr(self.device)}"
            )
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float32, np.float64],
            ensure_all_finite=self._finite_policy(),
            y_numeric=False,
        )
        y = self._check_labels(y, name="y")
        self._label_encoder = LabelEncoder().fit(y)
        self.classes_ = self._label_encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"y has 1 class ({plain_repr(self.classes_[0])}); expected at least 2")
        n_classes = len(self.classes_)
        y_enc = self._label_encoder.transform(y)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        self.class_weights_ = class_weight_vector(
            self.class_weight, y_enc, self.classes_, sample_weight
        )
        weight = sample_weight * self.class_weights_[y_enc]
        if not weight.sum() > 0:
            raise ValueError("sample_weight times class weights sums to zero; nothing to fit")

        rng = check_random_state(self.random_state)
        xgb_seed = int(rng.randint(np.iinfo(np.int32).max))
        split_seed = int(rng.randint(np.iinfo(np.int32).max))

        # validation data: eval_set, or an internal split when early stopping asks for one
        X_val = y_val = w_val = None
        if eval_set is not None:
            X_val, y_val, w_val = self._check_eval_set(eval_set)
        elif self.early_stopping_rounds is not None:
            train_idx, val_idx = self._validation_split(y_enc, split_seed)
            X, X_val = X[train_idx], X[val_idx]
            y_enc, y_val = y_enc[train_idx], y_enc[val_idx]
            weight, w_val = weight[train_idx], weight[val_idx]

        # rows of zero weight add nothing to the gradients; dropping them also keeps them out
        # of the histogram bin edges, so a zero weight is exactly the same as no row
        keep = weight > 0
        if not keep.all():
            X, y_enc, weight = X[keep], y_enc[keep], weight[keep]

        if self.feature_norm == "standard":
            self.scaler_ = StandardScaler().fit(X)
        elif self.feature_norm == "l2":
            self.scaler_ = Normalizer(norm="l2").fit(X)
        else:
            self.scaler_ = None
        X = self._normalize(X)

        self.device_ = _resolve_device(self.device)
        params = self._xgb_params(n_classes, xgb_seed, y_enc, weight)
        nthread = _n_threads(self.n_jobs)
        dtrain = xgb.QuantileDMatrix(
            X, label=y_enc, weight=weight, max_bin=self.max_bin, nthread=nthread
        )
        evals = []
        if X_val is not None:
            dval = xgb.QuantileDMatrix(
                self._normalize(X_val), label=y_val, weight=w_val, ref=dtrain, nthread=nthread
            )
            evals = [(dval, "validation")]

        objective = None
        custom_metric = None
        if self.normalized_gradient:
            objective = _SoftmaxObjective(n_classes, normalize=True)
            custom_metric = _log_loss_metric(n_classes)
        evals_result: dict = {}
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=self.n_estimators,
            evals=evals,
            obj=objective,
            custom_metric=custom_metric,
            early_stopping_rounds=self.early_stopping_rounds if evals else None,
            evals_result=evals_result,
            verbose_eval=int(self.verbose) if self.verbose and evals else False,
        )
        self.n_iter_ = booster.num_boosted_rounds()
        if evals and self.early_stopping_rounds is not None:
            self.best_iteration_ = int(booster.best_iteration)
            self.best_score_ = float(booster.best_score)
            booster = booster[: self.best_iteration_ + 1]
        else:
            self.best_iteration_ = self.n_iter_ - 1
            self.best_score_ = None
            if evals:
                metric = next(iter(evals_result["validation"].values()))
                self.best_score_ = float(metric[-1])
        self.booster_ = booster
        self.evals_result_ = evals_result
        self.gradient_scales_ = np.array(objective.scales) if objective is not None else None
        self.xgb_params_ = params
        return self

    def _finite_policy(self) -> bool | str:
        return True if self.feature_norm == "l2" else "allow-nan"

    @staticmethod
    def _check_labels(y: Any, name: str) -> np.ndarray:
        y = column_or_1d(y, warn=True)
        if y.dtype == object:
            missing = np.flatnonzero([v is None or (isinstance(v, float) and v != v) for v in y])
            if missing.size:
                raise ValueError(
                    f"{name} has missing labels (None/NaN) at positions {missing[:5].tolist()}"
                )
        check_classification_targets(y)
        return y

    def _check_eval_set(self, eval_set: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not isinstance(eval_set, list | tuple) or not eval_set:
            raise ValueError("eval_set must be a non-empty list of (X, y) pairs")
        pair = eval_set[-1]
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"eval_set entries must be (X, y) pairs; got {type(pair).__name__}")
        X_val, y_val = validate_data(
            self,
            pair[0],
            pair[1],
            reset=False,
            dtype=[np.float32, np.float64],
            ensure_all_finite=self._finite_policy(),
            y_numeric=False,
        )
        y_val = self._check_labels(y_val, name="eval_set y")
        unseen = np.setdiff1d(np.unique(y_val), self.classes_)
        if unseen.size:
            raise ValueError(
                f"eval_set y has labels {unseen.tolist()!r} that are not in y "
                f"{self.classes_.tolist()!r}"
            )
        y_val = self._label_encoder.transform(y_val)
        return X_val, y_val, self.class_weights_[y_val]

    def _validation_split(self, y_enc: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(y_enc)
        n_val = math.ceil(self.validation_fraction * n)
        if n_val < 1 or n - n_val < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no rows to train or "
                f"validate on with {n} samples"
            )
        # every class is in y_enc: stratified when each has two rows and both sides room for
        # every class, else plain random; the rows stay in the draw's order
        return stratified_holdout(
            y_enc, n_val, random_state=seed, stratify="if_possible", sort=False
        )

    def _xgb_params(
        self, n_classes: int, seed: int, y_enc: np.ndarray, weight: np.ndarray
    ) -> dict[str, Any]:
        values = {
            "learning_rate": self.learning_rate,
            "reg_lambda": self.reg_lambda,
            "gamma": self.gamma,
        }
        if self.preset is not None:
            values.update(PRESETS[self.preset])
        # intercept: the weighted class priors (the best constant model) for every objective
        prior = np.bincount(y_enc, weights=weight, minlength=n_classes) / weight.sum()
        prior = np.clip(prior, _PRIOR_FLOOR, 1.0 - _PRIOR_FLOOR)
        params: dict[str, Any] = {
            "tree_method": "hist",
            "device": self.device_,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "reg_alpha": self.reg_alpha,
            "max_bin": self.max_bin,
            "learning_rate": values["learning_rate"],
            "reg_lambda": values["reg_lambda"],
            "gamma": values["gamma"],
            "seed": seed,
            "verbosity": 1,
        }
        nthread = _n_threads(self.n_jobs)
        if nthread is not None:
            params["nthread"] = nthread
        if self.normalized_gradient:
            # custom objective: base_score is a raw margin
            params["disable_default_eval_metric"] = 1
            if n_classes == 2:
                params["base_score"] = float(np.log(prior[1] / prior[0]))
            else:
                log_prior = np.log(prior)
                params["num_class"] = n_classes
                params["base_score"] = (log_prior - log_prior.mean()).tolist()
        elif n_classes == 2:
            params["objective"] = "binary:logistic"
            params["eval_metric"] = "logloss"
            params["base_score"] = float(prior[1] / (prior[0] + prior[1]))
        else:
            log_prior = np.log(prior)
            params["objective"] = "multi:softprob"
            params["num_class"] = n_classes
            params["eval_metric"] = "mlogloss"
            params["base_score"] = (log_prior - log_prior.mean()).tolist()
        return params

    def _normalize(self, X: np.ndarray) -> np.ndarray:
        if self.scaler_ is not None:
            X = self.scaler_.transform(X)
        return np.asarray(X, dtype=np.float32)

    # --------------------------------------------------------------- prediction
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float32, np.float64],
            ensure_all_finite=self._finite_policy(),
        )
        X = self._normalize(X)
        dmat = xgb.DMatrix(X, nthread=_n_threads(self.n_jobs))
        margin = self.booster_.predict(dmat, output_margin=True).astype(np.float64)
        return _margin_to_proba(margin, len(self.classes_), X.shape[0])

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of each sample (labels from ``classes_``)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def get_booster(self) -> xgb.Booster:
        """The fitted ``xgboost.Booster`` (cut to ``best_iteration_ + 1`` rounds)."""
        check_is_fitted(self)
        return self.booster_

    @property
    def feature_importances_(self) -> np.ndarray:
        """Total split gain per feature, normalised to sum 1 (zeros if no tree splits)."""
        check_is_fitted(self)
        scores = self.booster_.get_score(importance_type="total_gain")
        importances = np.zeros(self.n_features_in_)
        for key, value in scores.items():
            importances[int(key[1:])] = value
        total = importances.sum()
        return importances / total if total > 0 else importances

    def booster_params(self) -> dict[str, str]:
        """The tree-training parameters as the fitted booster stores them (strings)."""
        check_is_fitted(self)
        config = json.loads(self.booster_.save_config())
        return config["learner"]["gradient_booster"]["tree_train_param"]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.feature_norm != "l2"
        return tags
