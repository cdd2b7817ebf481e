"""Validation shared by the report and confusion-matrix functions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.utils.multiclass import unique_labels


def _as_label_array(y: object, name: str) -> np.ndarray:
    if hasattr(y, "to_numpy"):  # pandas Series / Index
        y = y.to_numpy()
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of class labels, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; expected at least one label")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite labels")
    return arr


def check_labels(
    y_true: object, y_pred: object, labels: Sequence | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a pair of label vectors and settle the class order.

    Returns ``(y_true, y_pred, labels)`` as 1-D arrays. ``labels=None`` uses the sorted union
    of the labels seen. Raises a ValueError naming the offending labels when ``y_true`` or
    ``y_pred`` holds a label missing from ``labels``, or when lengths differ.
    """
    y_true = _as_label_array(y_true, "y_true")
    y_pred = _as_label_array(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}"
        )
    if labels is None:
        try:
            labels_arr = unique_labels(y_true, y_pred)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"y_true and y_pred must hold labels of one kind (all strings or all numbers): "
                f"{exc}"
            ) from exc
    else:
        labels_arr = _as_label_array(labels, "labels")
        values, counts = np.unique(labels_arr.astype(object).astype(str), return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"labels has repeated entries: {values[counts > 1].tolist()}")
        known = set(labels_arr.tolist())
        for name, y in (("y_true", y_true), ("y_pred", y_pred)):
            unknown = sorted({v for v in y.tolist() if v not in known}, key=str)
            if unknown:
                raise ValueError(
                    f"{name} holds labels missing from labels={labels_arr.tolist()}: "
                    f"{unknown}. Add them to labels, or map them to known classes first."
                )
    return y_true, y_pred, labels_arr
