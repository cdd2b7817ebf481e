"""Face detection: :func:`make_detector` builds a backend (MTCNN or Haar cascades), and
:func:`iou` / :func:`iou_matrix` measure box overlap.

The detectors share :class:`~hybridfer.faces.base.FaceDetector` (validation, downscaling,
batches, the size floor, sorting; see :mod:`hybridfer.faces.base`), whose
:meth:`~hybridfer.faces.base.FaceDetector.detect` returns one list of
:class:`~hybridfer.faces.base.Face` per image. Those names are importable from here too.

Boxes are ``(x, y, w, h)`` in pixels, ``x, y`` the top-left corner.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.faces.base import (
    INSTALL,
    LANDMARK_NAMES,
    Face,
    FaceDetector,
    FaceDetectorUnavailableError,
)

__all__ = [
    "BACKENDS",
    "INSTALL",
    "LANDMARK_NAMES",
    "Face",
    "FaceDetector",
    "FaceDetectorUnavailableError",
    "iou",
    "iou_matrix",
    "make_detector",
]

#: The detector backends :func:`make_detector` knows.
BACKENDS = ("mtcnn", "haar")


def make_detector(
    backend: str = "mtcnn",
    *,
    min_face_size: int = 20,
    threshold: float | None = None,
    max_side: int = 1280,
    device: str | None = None,
    batch_size: int = 16,
) -> FaceDetector:
    """A face detector.

    Parameters
    ----------
    backend : {"mtcnn", "haar"}, default="mtcnn"
        ``"mtcnn"``: facenet-pytorch's MTCNN (boxes, scores, five landmarks; weights in the
        wheel). ``"haar"``: OpenCV's Haar cascades (boxes, eyes when both are found).
    min_face_size, threshold, max_side, batch_size
        See :class:`FaceDetector`.
    device : str or None, default=None
        The torch device of MTCNN (None: CUDA when available, else the CPU); Haar ignores it.

    Raises
    ------
    ValueError
        For an unknown backend (the choices are named) or a bad parameter.
    FaceDetectorUnavailableError
        When the backend's package is not installed (the install command is named).
    """
    common = dict(
        min_face_size=min_face_size, threshold=threshold, max_side=max_side, batch_size=batch_size
    )
    if backend == "mtcnn":
        from hybridfer.faces.mtcnn import MTCNNDetector

        return MTCNNDetector(device=device, **common)
    if backend == "haar":
        from hybridfer.faces.haar import HaarDetector

        return HaarDetector(**common)
    raise ValueError(
        f"unknown face detector backend {plain_repr(backend)}; choose one of "
        f"{', '.join(repr(b) for b in BACKENDS)}"
    )


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair of ``(x, y, w, h)`` boxes.

    Parameters
    ----------
    boxes_a : array-like of shape (n, 4)
    boxes_b : array-like of shape (m, 4)

    Returns
    -------
    ndarray of shape (n, m)
        In [0, 1]; 0 where the union is empty.
    """
    a = np.asarray(boxes_a, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=float).reshape(-1, 4)
    ax1, ay1 = a[:, 0:1], a[:, 1:2]
    ax2, ay2 = ax1 + a[:, 2:3], ay1 + a[:, 3:4]
    bx1, by1 = b[:, 0], b[:, 1]
    bx2, by2 = bx1 + b[:, 2], by1 + b[:, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes, in [0, 1]."""
    return float(iou_matrix([box_a], [box_b])[0, 0])
