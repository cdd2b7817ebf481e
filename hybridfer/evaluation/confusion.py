"""Confusion matrices as labelled tables and as figures (headless: no pyplot involved).

Counts come from :func:`sklearn.metrics.confusion_matrix`. Figures are plain
:class:`matplotlib.figure.Figure` objects rendered by the Agg canvas, so they work on servers
and in worker processes without a display and never pop up a window.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

from hybridfer._messages import plain_repr

from .._io import atomic_path
from ._labels import check_labels

__all__ = ["confusion_matrix_frame", "plot_confusion_matrix"]

_NORMALIZE = (None, "true", "pred", "all")


def _check_normalize(normalize: str | None) -> None:
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be one of {_NORMALIZE}, got {plain_repr(normalize)}")


def confusion_matrix_frame(
    y_true: object,
    y_pred: object,
    labels: Sequence | None = None,
    normalize: str | None = None,
) -> pd.DataFrame:
    """Confusion matrix with rows named by the true and columns by the predicted class.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class labels (strings or integers).
    labels : sequence, optional
        Class order (absent classes are kept as zero rows/columns). Default: sorted union of the
        labels seen.
    normalize : {None, "true", "pred", "all"}, default=None
        None gives counts (int); ``"true"`` divides each row by its true-class count (rows sum
        to 1, the diagonal is per-class recall), ``"pred"`` each column by its predicted count
        (the diagonal is precision), ``"all"`` everything by the number of samples. Rows or
        columns with no samples stay 0.

    Returns
    -------
    pandas.DataFrame
        Shape ``(n_classes, n_classes)``; index named ``"true"``, columns named ``"predicted"``.
    """
    _check_normalize(normalize)
    y_true, y_pred, labels = check_labels(y_true, y_pred, labels)
    cm = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    names = labels.tolist()
    return pd.DataFrame(
        cm,
        index=pd.Index(names, name="true", dtype=object),
        columns=pd.Index(names, name="predicted", dtype=object),
    )


def plot_confusion_matrix(
    y_true: object,
    y_pred: object,
    labels: Sequence | None = None,
    normalize: str | None = "true",
    path: str | os.PathLike | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    cmap: str = "Blues",
    dpi: int = 150,
) -> Figure:
    """Draw a confusion matrix; each cell shows the normalised value and its count.

    With ``normalize`` set, cells are coloured by the normalised value and annotated
    ``"0.73\\n(123)"``; with ``normalize=None`` they are coloured and annotated by counts.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class labels.
    labels : sequence, optional
        Class order; see :func:`confusion_matrix_frame`.
    normalize : {"true", "pred", "all", None}, default="true"
        How the colours and first annotation line are normalised.
    path : str or path-like, optional
        Save the figure here, atomically; the format follows the suffix (PNG when there is none).
    title : str, optional
        Axes title; default ``"Confusion matrix"`` plus the normalisation.
    ax : matplotlib Axes, optional
        Draw into this axes (its figure is returned); default: a new figure sized to the number
        of classes.
    cmap : str, default="Blues"
        Matplotlib colour map.
    dpi : int, default=150
        Resolution of the saved file.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_normalize(normalize)
    counts = confusion_matrix_frame(y_true, y_pred, labels=labels)
    names = [str(c) for c in counts.index]
    n = len(names)
    shown = (
        counts.to_numpy().astype(float)
        if normalize is None
        else confusion_matrix_frame(y_true, y_pred, labels=labels, normalize=normalize).to_numpy()
    )
    if ax is None:
        side = max(4.0, 0.75 * n + 2.0)
        fig = Figure(figsize=(side + 1.0, side), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    if normalize in ("true", "pred"):
        vmax = 1.0
    else:  # counts, or fractions of all samples: scale to the largest cell
        vmax = float(shown.max()) if shown.max() > 0 else 1.0
    image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fontsize = 9 if n <= 8 else max(5, 9 - (n - 8) // 2)
    for i in range(n):
        for j in range(n):
            count = int(counts.iat[i, j])
            text = str(count) if normalize is None else f"{shown[i, j]:.2f}\n({count})"
            color = "white" if shown[i, j] > 0.5 * vmax else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=fontsize)
    ax.set_xticks(range(n), labels=names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), labels=names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title is None:
        title = "Confusion matrix" + ("" if normalize is None else f" (normalised by {normalize})")
    ax.set_title(title)
    if path is not None:
        path = os.fspath(path)
        fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    return fig
