"""``GramSVC``: scikit-learn's ``SVC`` with its kernel matrix computed by matrix products.

libsvm (behind :class:`sklearn.svm.SVC`) evaluates an RBF kernel one pair of rows at a time,
in a scalar loop over the features. Deep + handcrafted FER features are wide (a ResNet50
multi-level embedding plus HOG and LBP is 4,900 columns), so that loop dominates the fit.
``GramSVC`` hands the same libsvm solver a kernel computed with
:func:`sklearn.metrics.pairwise.pairwise_kernels` (BLAS matrix products): an order of
magnitude faster fits on wide features, with the same predictions
(``python benchmarks/bench_gram_svc.py`` times both on FER2013; its runs are in
``benchmarks/README.md``).

The full ``n x n`` Gram matrix costs ``8 n^2`` bytes (2 GB at 16,000 rows), so above
``max_gram_samples`` training rows it falls back to libsvm's own cached kernel.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.svm import SVC
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["GramSVC"]

_GRAM_KERNELS = {"rbf", "linear", "poly", "sigmoid"}
#: ``SVC`` parameters that ``GramSVC`` does not take; every other one is validated as in ``SVC``
_SVC_ONLY = ("probability", "verbose", "random_state")
_PREDICT_BLOCK_BYTES = 256 * 2**20  # kernel block of test x training rows at predict time


class _PairwiseKernel:
    """A picklable kernel callable for ``SVC(kernel=...)`` with fixed parameters."""

    def __init__(self, kernel: str, gamma: float, degree: int, coef0: float) -> None:
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0

    def __call__(self, A, B) -> np.ndarray:
        params: dict[str, float] = {}
        if self.kernel in ("rbf", "poly", "sigmoid"):
            params["gamma"] = self.gamma
        if self.kernel in ("poly", "sigmoid"):
            params["coef0"] = self.coef0
        if self.kernel == "poly":
            params["degree"] = self.degree
        return pairwise_kernels(A, B, metric=self.kernel, **params)


class GramSVC(ClassifierMixin, BaseEstimator):
    """Support vector classifier whose kernel matrix is computed with BLAS.

    The parameters and results are those of :class:`sklearn.svm.SVC` (the same libsvm
    solver); only the kernel evaluation differs, which makes fits on wide feature vectors
    an order of magnitude faster. Predictions agree with ``SVC`` up to the solver's
    tolerance.

    Parameters
    ----------
    C, kernel, degree, gamma, coef0, shrinking, tol, cache_size, class_weight, \
max_iter, decision_function_shape, break_ties
        As in :class:`sklearn.svm.SVC` (``kernel`` is one of ``"rbf"``, ``"linear"``,
        ``"poly"``, ``"sigmoid"``). For probabilities, wrap it in
        :class:`sklearn.calibration.CalibratedClassifierCV` (scikit-learn deprecated
        ``SVC(probability=True)`` in 1.9).
    max_gram_samples : int, default=16000
        Largest training set whose full Gram matrix is computed (``8 n^2`` bytes); larger
        ones are fitted by ``SVC``'s own kernel loop.

    Attributes
    ----------
    svc_ : sklearn.svm.SVC
        The fitted support vector machine.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    gamma_ : float
        The kernel coefficient used (``"scale"`` is ``1 / (n_features * X.var())``).
    used_gram_ : bool
        Whether the fit used the BLAS Gram matrix (False: libsvm's kernel fallback).
    support_ : ndarray
        Indices of the support vectors in the training set.
    n_support_ : ndarray of shape (n_classes,)
        Number of support vectors per class.
    n_iter_ : ndarray
        Solver iterations of each one-vs-one problem.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=200, n_features=50, random_state=0)
    >>> GramSVC(C=3.0).fit(X, y).score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **{k: v for k, v in SVC._parameter_constraints.items() if k not in _SVC_ONLY},
        "kernel": [StrOptions(_GRAM_KERNELS)],
        "max_gram_samples": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        C: float = 1.0,
        kernel: str = "rbf",
        degree: int = 3,
        gamma: str | float = "scale",
        coef0: float = 0.0,
        shrinking: bool = True,
        tol: float = 1e-3,
        cache_size: float = 200,
        class_weight: dict | str | None = None,
        max_iter: int = -1,
        decision_function_shape: str = "ovr",
        break_ties: bool = False,
        max_gram_samples: int = 16000,
    ) -> None:
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.shrinking = shrinking
        self.tol = tol
        self.cache_size = cache_size
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.decision_function_shape = decision_function_shape
        self.break_ties = break_ties
        self.max_gram_samples = max_gram_samples

    def _gamma_value(self, X) -> float:
        if self.gamma == "auto":
            return 1.0 / X.shape[1]
        if self.gamma == "scale":
            var = (X.multiply(X)).mean() - X.mean() ** 2 if sp.issparse(X) else X.var()
            return 1.0 / (X.shape[1] * var) if var != 0 else 1.0
        return float(self.gamma)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None) -> GramSVC:
        """Fit the SVM.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (they rescale ``C`` per sample, as in ``SVC``).

        Returns
        -------
        self : GramSVC
        """
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C"
        )
        check_classification_targets(y)
        self.gamma_ = self._gamma_value(X)
        self.used_gram_ = X.shape[0] <= self.max_gram_samples
        kernel = (
            _PairwiseKernel(self.kernel, self.gamma_, self.degree, self.coef0)
            if self.used_gram_
            else self.kernel
        )
        self.svc_ = SVC(
            C=self.C,
            kernel=kernel,
            degree=self.degree,
            gamma=self.gamma_,
            coef0=self.coef0,
            shrinking=self.shrinking,
            tol=self.tol,
            cache_size=self.cache_size,
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            decision_function_shape=self.decision_function_shape,
            break_ties=self.break_ties,
        ).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.svc_.classes_
        self.support_ = self.svc_.support_
        self.n_support_ = self.svc_.n_support_
        self.n_iter_ = self.svc_.n_iter_
        return self

    def _blocks(self, method: str, X) -> np.ndarray:
        """``svc_.<method>`` over row blocks, so the test x training kernel stays bounded."""
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C", reset=False
        )
        fn = getattr(self.svc_, method)
        n_train = self.svc_.shape_fit_[0]
        step = max(1, _PREDICT_BLOCK_BYTES // (8 * max(n_train, 1)))
        if not self.used_gram_ or X.shape[0] <= step:
            return fn(X)
        return np.concatenate([fn(X[i : i + step]) for i in range(0, X.shape[0], step)])

    def predict(self, X) -> np.ndarray:
        """Predicted class labels of shape (n_samples,)."""
        return self._blocks("predict", X)

    def decision_function(self, X) -> np.ndarray:
        """``SVC.decision_function``: one-vs-rest (or one-vs-one) decision values."""
        return self._blocks("decision_function", X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
