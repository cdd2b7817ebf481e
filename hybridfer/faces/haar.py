"""The Haar-cascade face detector of OpenCV (Viola and Jones 2001): boxes, and the two eyes
when the eye cascade finds them. No torch model; OpenCV is optional
(``pip install 'hybridfer[haar]'``: ``opencv-python-headless>=4.9,<5``; OpenCV 5 ships no
cascade files).

The face cascade is ``haarcascade_frontalface_default.xml``: on the 213 JAFFE frames it and
``alt2`` both find every face, and on 60 FER2013 test faces pasted at 96 to 300 pixels into
640x480 scenes it found more (41 against 38 at IoU >= 0.5, 2 against 1 false faces, none on
face-free backgrounds; ``minNeighbors=5``, no histogram equalisation, which lost recall).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from hybridfer.faces.base import Face, FaceDetector, FaceDetectorUnavailableError

__all__ = ["DEFAULT_THRESHOLD", "EYE_CASCADE", "FACE_CASCADE", "HaarDetector", "level_weight_score"]

#: The face cascade file in ``cv2.data.haarcascades``.
FACE_CASCADE = "haarcascade_frontalface_default.xml"
#: The eye cascade file in ``cv2.data.haarcascades``.
EYE_CASCADE = "haarcascade_eye.xml"
#: ``detectMultiScale`` settings of the face cascade.
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 5
#: Faces scoring below this are dropped unless ``threshold`` says otherwise. On 60 synthetic
#: 640x480 scenes each (benchmarks/bench_faces.py, seed 0) it took false faces per
#: face-free background from 0.32 to 0.05 and on CK+48 scenes from 0.35 to 0.12, at a recall
#: of 99.1% instead of 100% (FER2013 scenes: 59.8% instead of 64.1%); all 213 JAFFE faces
#: score above it.
DEFAULT_THRESHOLD = 0.85
#: The eye cascade searches the face box's upper part, this fraction of its height.
EYE_REGION = 0.6
#: Plausible eye widths, as fractions of the face box's width.
EYE_WIDTH = (0.1, 0.45)


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise FaceDetectorUnavailableError("haar", f"cannot import cv2: {exc}") from exc
    return cv2


def level_weight_score(weight: float) -> float:
    """A Haar face's score: its level weight ``w`` (the last cascade stage's sum, from
    ``detectMultiScale3``; larger is more face-like) squashed to (0, 1) by the logistic
    ``1 / (1 + exp(-w / 2))``, monotone in ``w``.

    Measured on JAFFE and pasted FER2013 faces, true faces have ``w`` of 4 to 10 (scores
    0.88 to 0.99), false ones mostly below 4.
    """
    return 1.0 / (1.0 + math.exp(-float(weight) / 2.0))


class HaarDetector(FaceDetector):
    """OpenCV Haar cascades: a box and a score per face, and the two eyes (``(2, 2)``
    landmarks, image-left first) when exactly one plausible eye is found in each half of the
    box's upper part; otherwise ``landmarks`` is None.

    Parameters
    ----------
    min_face_size : int, default=20
        The smallest face kept, in original pixels (the cascade's ``minSize`` in detection
        pixels).
    threshold : float in [0, 1] or None, default=None
        Faces scoring below it (:func:`level_weight_score`) are dropped; None uses
        :data:`DEFAULT_THRESHOLD` (0.85); 0 keeps every face the cascade groups with
        ``minNeighbors=5``.
    max_side : int, default=1280
    batch_size : int, default=16
        Images are still searched one at a time (OpenCV uses its own threads).
    """

    name: ClassVar[str] = "haar"
    color: ClassVar[str] = "gray"
    min_detectable: ClassVar[int] = 20  # the frontal cascades' window

    def __init__(
        self,
        *,
        min_face_size: int = 20,
        threshold: float | None = None,
        max_side: int = 1280,
        batch_size: int = 16,
    ) -> None:
        super().__init__(
            min_face_size=min_face_size,
            threshold=threshold,
            max_side=max_side,
            batch_size=batch_size,
        )
        self._load()  # fail now, not at the first image

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cascades"] = None  # cv2 classifiers do not pickle; reloaded on first use
        return state

    def _load(self):
        cascades = getattr(self, "_cascades", None)
        if cascades is None:
            cv2 = _cv2()
            folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
            cascades = []
            for file in (FACE_CASCADE, EYE_CASCADE):
                classifier = cv2.CascadeClassifier(f"{folder}{file}") if folder else None
                if classifier is None or classifier.empty():
                    raise FaceDetectorUnavailableError(
                        "haar",
                        f"OpenCV {cv2.__version__} has no {file} in cv2.data.haarcascades "
                        "(OpenCV 5 ships no cascade files)",
                    )
                cascades.append(classifier)
            self._cascades = cascades = (cv2, *cascades)
        return cascades

    def _detect_batch(self, batch: np.ndarray, min_size: int) -> list[list[Face]]:
        _, face_cascade, eye_cascade = self._load()
        results = []
        for gray in batch:
            boxes, _, weights = face_cascade.detectMultiScale3(
                gray,
                scaleFactor=SCALE_FACTOR,
                minNeighbors=MIN_NEIGHBORS,
                minSize=(min_size, min_size),
                outputRejectLevels=True,
            )
            faces = []
            threshold = DEFAULT_THRESHOLD if self.threshold is None else self.threshold
            for box, weight in zip(np.reshape(boxes, (-1, 4)), np.ravel(weights), strict=True):
                score = level_weight_score(weight)
                if score < threshold:
                    continue
                eyes = _find_eyes(eye_cascade, gray, box)
                faces.append(Face(box=tuple(float(v) for v in box), score=score, landmarks=eyes))
            results.append(faces)
        return results


def _find_eyes(eye_cascade, gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The eye centres ``[[x_left, y_left], [x_right, y_right]]`` inside the upper part of
    ``box``, or None unless exactly one plausible eye lies in each half of the box."""
    x, y, w, h = (int(v) for v in box)
    region = gray[y : y + max(1, int(h * EYE_REGION)), x : x + w]
    smallest = max(5, int(w * EYE_WIDTH[0]))
    largest = max(smallest + 1, int(w * EYE_WIDTH[1]))
    if min(region.shape) < smallest:
        return None
    eyes = eye_cascade.detectMultiScale(
        region,
        scaleFactor=1.1,
        minNeighbors=3,
        minSize=(smallest, smallest),
        maxSize=(largest, largest),
    )
    centers = [(x + ex + ew / 2, y + ey + eh / 2) for ex, ey, ew, eh in np.reshape(eyes, (-1, 4))]
    left = [c for c in centers if c[0] < x + w / 2]
    right = [c for c in centers if c[0] >= x + w / 2]
    if len(left) != 1 or len(right) != 1:
        return None
    return np.array([left[0], right[0]], dtype=float)
