"""Class balance: the one inverse-frequency ("balanced") class-weight rule.

Both the torch training loop (:func:`hybridfer.nn.losses.compute_class_weights`) and the
boosting and SVM heads (:func:`hybridfer.classifiers._weights.class_weight_vector`) compute
``class_weight="balanced"`` here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["balanced_class_weights"]


def balanced_class_weights(
    y_encoded: np.ndarray, n_classes: int, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """Inverse-frequency class weights ``W / (n_present * W_c)``.

    ``W_c`` is the total sample weight of class ``c`` (its count without ``sample_weight``),
    ``W`` their sum and ``n_present`` the number of classes with ``W_c > 0``. Every present
    class then carries the same total weight, and ``weights[y_encoded]`` has mean 1 over the
    samples (weighted by ``sample_weight``). With every class present and no sample weights
    this is scikit-learn's ``n_samples / (n_classes * n_c)``.

    Parameters
    ----------
    y_encoded : ndarray of int, shape (n_samples,)
        Labels encoded as indices in ``[0, n_classes)``.
    n_classes : int
        Number of classes.
    sample_weight : ndarray of shape (n_samples,), optional
        Per-sample weights.

    Returns
    -------
    ndarray of float64, shape (n_classes,)
        The weight of each class; 0 for a class of no weight.

    Raises
    ------
    ValueError
        When no class has a positive total weight.
    """
    totals = np.bincount(np.asarray(y_encoded), weights=sample_weight, minlength=n_classes)
    present = totals > 0
    if not present.any():
        raise ValueError("class_weight='balanced' needs a positive total sample weight")
    weights = np.zeros(n_classes)
    weights[present] = totals.sum() / (present.sum() * totals[present])
    return weights
