"""Faces in photos and videos: detection (MTCNN or Haar cascades), alignment to the FER2013
geometry, a scikit-learn :class:`FaceCropper`, and face tracks across video frames.

>>> from hybridfer.faces import make_detector, align_face       # doctest: +SKIP
>>> faces = make_detector("mtcnn").detect([image])[0]            # doctest: +SKIP
>>> crop = align_face(image, faces[0], size=(48, 48), color="gray")  # doctest: +SKIP
"""

from hybridfer.faces.alignment import (
    FER2013_FACE_BOX,
    FER2013_TEMPLATE,
    align_face,
    crop_whole,
    similarity_transform,
)
from hybridfer.faces.cropper import FaceCropper
from hybridfer.faces.detection import (
    BACKENDS,
    LANDMARK_NAMES,
    Face,
    FaceDetector,
    FaceDetectorUnavailableError,
    iou,
    iou_matrix,
    make_detector,
)
from hybridfer.faces.haar import HaarDetector
from hybridfer.faces.mtcnn import MTCNNDetector
from hybridfer.faces.tracking import IoUTracker, smooth_probabilities

__all__ = [
    "BACKENDS",
    "FER2013_FACE_BOX",
    "FER2013_TEMPLATE",
    "LANDMARK_NAMES",
    "Face",
    "FaceCropper",
    "FaceDetector",
    "FaceDetectorUnavailableError",
    "HaarDetector",
    "IoUTracker",
    "MTCNNDetector",
    "align_face",
    "crop_whole",
    "iou",
    "iou_matrix",
    "make_detector",
    "similarity_transform",
    "smooth_probabilities",
]
