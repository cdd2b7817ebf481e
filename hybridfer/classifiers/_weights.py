"""Class weights shared by the classifiers: none, balanced (inverse frequency) or given per class."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.data.balance import balanced_class_weights


def class_weight_vector(
    class_weight: str | Mapping | None,
    y_encoded: np.ndarray,
    classes: np.ndarray,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Weight of each class, in the order of ``classes``.

    Parameters
    ----------
    class_weight : None, "balanced" or dict
        ``None``: every class weighs 1. ``"balanced"``: inverse frequency
        (:func:`hybridfer.data.balance.balanced_class_weights`), ``W / (n_present * W_c)``
        with ``W_c`` the total sample weight of class ``c`` (its count without
        ``sample_weight``), ``W`` their sum and ``n_present`` the number of classes with
        ``W_c > 0``: every class then carries the same total weight, and the
        combined per-sample weights ``sample_weight * weights[y]`` have the same mean as
        ``sample_weight`` (1 without it), so the hessian mass a boosting model sees is
        unchanged and weighting by k equals repeating a sample k times. Classes with no
        weight get 0. A dict maps class labels to non-negative weights, used as given;
        classes it leaves out weigh 1.
    y_encoded : ndarray of int, shape (n_samples,)
        Labels encoded as indices into ``classes``.
    classes : ndarray, shape (n_classes,)
        The class labels (as in a fitted ``classes_``).
    sample_weight : ndarray of shape (n_samples,), optional
        Per-sample weights that ``"balanced"`` takes into account.

    Returns
    -------
    ndarray of float64, shape (n_classes,)
        ``weights[y_encoded]`` gives the per-sample class weights.
    """
    n_classes = len(classes)
    y_encoded = np.asarray(y_encoded)
    if class_weight is None:
        return np.ones(n_classes)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict; got {plain_repr(class_weight)}"
            )
        return balanced_class_weights(y_encoded, n_classes, sample_weight)
    if isinstance(class_weight, Mapping):
        known = set(classes.tolist())
        unknown = [k for k in class_weight if k not in known]
        if unknown:
            raise ValueError(
                f"class_weight has labels {plain_repr(unknown)} that are not classes of y "
                f"{plain_repr(classes)}"
            )
        weights = np.array([float(class_weight.get(c, 1.0)) for c in classes.tolist()])
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(
                f"class_weight values must be finite and non-negative; got {plain_repr(class_weight)}"
            )
        return weights
    raise TypeError(
        f"class_weight must be None, 'balanced' or a dict; got {type(class_weight).__name__}"
    )
