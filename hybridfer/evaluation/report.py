"""Per-class precision, recall and F1 as a table, and a one-call evaluation of predictions.

:func:`classification_report_frame` is scikit-learn's ``classification_report`` as a
DataFrame: the numbers come from :func:`sklearn.metrics.precision_recall_fscore_support` and
:func:`sklearn.metrics.accuracy_score` with ``zero_division=0``. :func:`evaluate_predictions`
bundles it with the headline scores and the confusion matrix in a
:class:`ClassificationReport`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from hybridfer._messages import plain_repr

from ._labels import check_labels
from .confusion import confusion_matrix_frame

__all__ = [
    "ClassificationReport",
    "classification_report_frame",
    "evaluate_predictions",
    "report_markdown",
]

REPORT_COLUMNS = ("precision", "recall", "f1", "support")
SUMMARY_ROWS = ("macro avg", "weighted avg", "accuracy")


def classification_report_frame(
    y_true: object,
    y_pred: object,
    labels: Sequence | None = None,
    digits: int | None = None,
) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, plus macro, weighted and accuracy rows.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class labels (strings or integers).
    labels : sequence, optional
        The classes and their row order (e.g. ``FER2013_CLASSES``). Classes that never occur
        are kept with support 0 and scores 0. Default: the sorted union of the labels seen.
    digits : int, optional
        Round the scores to this many decimals; None keeps full precision.

    Returns
    -------
    pandas.DataFrame
        Index: one row per class, then ``"macro avg"``, ``"weighted avg"`` and ``"accuracy"``;
        columns ``precision``, ``recall``, ``f1`` (float) and ``support`` (int). As in
        scikit-learn's text report, the accuracy row holds the accuracy in the ``f1`` column,
        NaN in ``precision`` and ``recall``, and the number of samples as support.

    Raises
    ------
    ValueError
        If the inputs are empty or of different lengths, or hold labels missing from
        ``labels`` (the message names them).
    """
    if digits is not None and (not isinstance(digits, (int, np.integer)) or digits < 0):
        raise ValueError(f"digits must be a non-negative int or None, got {plain_repr(digits)}")
    y_true, y_pred, labels = check_labels(y_true, y_pred, labels)
    clash = [c for c in labels.tolist() if c in SUMMARY_ROWS]
    if clash:
        raise ValueError(f"class names {clash} clash with the report's summary rows {SUMMARY_ROWS}")
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    rows = {label: (p[k], r[k], f[k], s[k]) for k, label in enumerate(labels.tolist())}
    for average, name in (("macro", "macro avg"), ("weighted", "weighted avg")):
        pa, ra, fa, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        rows[name] = (pa, ra, fa, int(s.sum()))
    rows["accuracy"] = (np.nan, np.nan, accuracy_score(y_true, y_pred), len(y_true))
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(REPORT_COLUMNS))
    frame = frame.astype({"precision": float, "recall": float, "f1": float, "support": int})
    frame.index.name = "class"
    if digits is not None:
        frame = frame.round({"precision": digits, "recall": digits, "f1": digits})
    return frame


def report_markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """Render a report frame (or any metrics frame) as a GitHub markdown table.

    NaN cells (precision and recall of the accuracy row) are left blank.

    Parameters
    ----------
    frame : pandas.DataFrame
        Usually the output of :func:`classification_report_frame`.
    digits : int, default=4
        Decimals shown for float columns.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    shown = frame.copy()
    shown.index = shown.index.map(str)
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    return shown.to_markdown(tablefmt="github", disable_numparse=True)


@dataclass(frozen=True)
class ClassificationReport:
    """Everything :func:`evaluate_predictions` measures, in one place.

    Attributes
    ----------
    accuracy, macro_precision, macro_recall, macro_f1, weighted_f1 : float
        Headline scores (``macro_recall`` is the balanced accuracy when every class occurs).
    table : pandas.DataFrame
        The per-class table from :func:`classification_report_frame`.
    confusion : pandas.DataFrame
        Confusion-matrix counts, rows true and columns predicted classes, in ``labels`` order.
    labels : tuple
        The class order used for ``table`` and ``confusion``.
    """

    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    weighted_f1: float
    table: pd.DataFrame
    confusion: pd.DataFrame
    labels: tuple

    @property
    def n_samples(self) -> int:
        """Number of evaluated samples."""
        return int(self.confusion.to_numpy().sum())

    def scores(self) -> dict[str, float]:
        """The headline scores as a plain dict (JSON-ready)."""
        return {
            "accuracy": self.accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "weighted_f1": self.weighted_f1,
            "n_samples": self.n_samples,
        }

    def summary(self) -> str:
        """One line: accuracy, macro F1 and weighted F1."""
        return (
            f"accuracy {self.accuracy:.4f}, macro F1 {self.macro_f1:.4f}, "
            f"weighted F1 {self.weighted_f1:.4f} on {self.n_samples} samples"
        )

    def to_markdown(self, digits: int = 4) -> str:
        """The per-class table followed by the confusion matrix, as markdown."""
        confusion = self.confusion.copy()
        confusion.index = [f"true {c}" for c in confusion.index]
        return (
            report_markdown(self.table, digits=digits)
            + "\n\nConfusion matrix (rows: true class, columns: predicted class)\n\n"
            + report_markdown(confusion, digits=digits)
        )


def evaluate_predictions(
    y_true: object, y_pred: object, labels: Sequence | None = None
) -> ClassificationReport:
    """Score predictions: headline scores, per-class table and confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class labels (strings or integers).
    labels : sequence, optional
        Class order; see :func:`classification_report_frame`.

    Returns
    -------
    ClassificationReport
    """
    y_true, y_pred, labels = check_labels(y_true, y_pred, labels)
    table = classification_report_frame(y_true, y_pred, labels=labels)
    macro = table.loc["macro avg"]
    return ClassificationReport(
        accuracy=float(table.loc["accuracy", "f1"]),
        macro_precision=float(macro["precision"]),
        macro_recall=float(macro["recall"]),
        macro_f1=float(macro["f1"]),
        weighted_f1=float(table.loc["weighted avg", "f1"]),
        table=table,
        confusion=confusion_matrix_frame(y_true, y_pred, labels=labels),
        labels=tuple(labels.tolist()),
    )
