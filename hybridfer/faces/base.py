"""What every face detector shares: the :class:`Face` record, :class:`FaceDetector` (the
steps common to all backends) and :class:`FaceDetectorUnavailableError`.

:meth:`FaceDetector.detect` does, once for every backend: input validation, colour
conversion to what the backend reads, downscaling of large images for detection (boxes and
landmarks are mapped back to the original pixels), grouping of same-size images into
batches, dropping faces below ``min_face_size`` and sorting by score. A backend
(:mod:`hybridfer.faces.mtcnn`, :mod:`hybridfer.faces.haar`) implements one method,
:meth:`FaceDetector._detect_batch`, on a stack of same-size images. Build one with
:func:`hybridfer.faces.detection.make_detector`.

Boxes are ``(x, y, w, h)`` in pixels, ``x, y`` the top-left corner; landmarks are ``(x, y)``
points. "Left" and "right" are the image's left and right (the subject's right eye is the
image-left one).
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from PIL import Image

from hybridfer._messages import plain_repr

__all__ = [
    "INSTALL",
    "LANDMARK_NAMES",
    "Face",
    "FaceDetector",
    "FaceDetectorUnavailableError",
]

#: The five MTCNN landmarks, in the order of :attr:`Face.landmarks` rows ("left" = image left).
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

#: How to install each backend (named by :class:`FaceDetectorUnavailableError`).
INSTALL = {
    "mtcnn": "`pip install --no-deps facenet-pytorch==2.6.0` and `pip install requests`",
    "haar": "`pip install 'hybridfer[haar]'` (opencv-python-headless>=4.9,<5)",
}


class FaceDetectorUnavailableError(ImportError):
    """A detector backend cannot run because a package is missing; the message names the
    backend, the reason and the exact install command.

    Attributes
    ----------
    backend : str
        The backend's name (``"mtcnn"`` or ``"haar"``).
    install : str
        The command that installs what it needs.
    """

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason
        self.install = INSTALL.get(backend, "")
        super().__init__(
            f"the {backend!r} face detector is not available ({reason}); install it with "
            f"{self.install}"
        )

    def __reduce__(self):  # pickles (errors from worker processes) despite the signature
        return (type(self), (self.backend, self.reason))


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face.

    Attributes
    ----------
    box : (float, float, float, float)
        ``(x, y, w, h)`` in pixels of the original image; it may reach past the image border
        for a face cut by it.
    score : float
        The detector's confidence, in [0, 1] (higher is more face-like).
    landmarks : ndarray of shape (5, 2) or (2, 2), or None
        ``(x, y)`` points in original pixels: the five :data:`LANDMARK_NAMES` (MTCNN), the
        two eyes image-left first (Haar, when both eyes were found), or None. Read-only.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None

    def __post_init__(self) -> None:
        box = tuple(float(v) for v in np.asarray(self.box, dtype=float).reshape(-1))
        if len(box) != 4:
            raise ValueError(f"Face box must be (x, y, w, h), got {plain_repr(self.box)}")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "score", float(self.score))
        if self.landmarks is not None:
            points = np.array(self.landmarks, dtype=float)
            if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] not in (2, 5):
                raise ValueError(
                    f"Face landmarks must have shape (5, 2) or (2, 2), got {points.shape}"
                )
            points.setflags(write=False)
            object.__setattr__(self, "landmarks", points)

    @property
    def area(self) -> float:
        """``w * h`` in square pixels."""
        return self.box[2] * self.box[3]

    @property
    def center(self) -> tuple[float, float]:
        """The box centre ``(x + w / 2, y + h / 2)``."""
        x, y, w, h = self.box
        return (x + w / 2, y + h / 2)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Face):
            return NotImplemented
        if self.box != other.box or self.score != other.score:
            return False
        if self.landmarks is None or other.landmarks is None:
            return self.landmarks is None and other.landmarks is None
        return bool(np.array_equal(self.landmarks, other.landmarks))

    def __hash__(self) -> int:
        return hash((self.box, self.score))


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {plain_repr(value)}")
    return int(value)


class FaceDetector(ABC):
    """Finds faces in images of any size; the backends subclass it.

    Parameters
    ----------
    min_face_size : int, default=20
        The smallest face kept, in pixels of the original image: faces whose box's longer
        side is shorter are dropped (and the backend does not search below it).
    threshold : float in [0, 1] or None, default=None
        The backend's score threshold (see the backend); None keeps its default.
    max_side : int, default=1280
        Images whose longer side exceeds it are downscaled to it (Pillow, bilinear with
        antialiasing) for detection; boxes and landmarks are mapped back to the original.
    batch_size : int, default=16
        The most same-size images passed to the backend at once.
    """

    #: The backend's name (``"mtcnn"`` or ``"haar"``).
    name: ClassVar[str] = ""
    #: The colour the backend reads: ``"rgb"`` (H, W, 3) or ``"gray"`` (H, W).
    color: ClassVar[str] = "rgb"
    #: The smallest face, in detection pixels, the backend can find.
    min_detectable: ClassVar[int] = 12

    def __init__(
        self,
        *,
        min_face_size: int = 20,
        threshold: float | None = None,
        max_side: int = 1280,
        batch_size: int = 16,
    ) -> None:
        self.min_face_size = _check_int("min_face_size", min_face_size, 1)
        self.max_side = _check_int("max_side", max_side, 16)
        self.batch_size = _check_int("batch_size", batch_size, 1)
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, numbers.Real)
            or not 0.0 <= float(threshold) <= 1.0
        ):
            raise ValueError(f"threshold must be a number in [0, 1] or None, got {threshold!r}")
        self.threshold = None if threshold is None else float(threshold)

    def __repr__(self) -> str:
        params = {
            "min_face_size": self.min_face_size,
            "threshold": self.threshold,
            "max_side": self.max_side,
            **self._extra_params(),
            "batch_size": self.batch_size,
        }
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"

    def _extra_params(self) -> dict:
        return {}

    @abstractmethod
    def _detect_batch(self, batch: np.ndarray, min_size: int) -> list[list[Face]]:
        """Faces in each image of ``batch`` (``(n, H, W, 3)`` or ``(n, H, W)`` uint8, in
        :attr:`color`), in ``batch``'s pixels, none smaller than about ``min_size``."""

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Find the faces in each image.

        Parameters
        ----------
        images : sequence of ndarray
            uint8 images, ``(H, W)`` gray or ``(H, W, 3)`` RGB (``(H, W, 1)`` is gray), any
            sizes; or one array ``(n, H, W)`` / ``(n, H, W, 3)`` holding a batch.

        Returns
        -------
        list of list of Face
            One list per image, in input order; each sorted by score, highest first, with
            boxes and landmarks in the image's own pixels.

        Raises
        ------
        ValueError
            If an image is not uint8, not 2-D gray or 3-D RGB, or empty (the image's index
            is named).
        """
        images = _as_image_list(images)
        prepared = [_check_image(image, i) for i, image in enumerate(images)]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(prepared):
            groups.setdefault(image.shape[:2], []).append(i)
        results: list[list[Face]] = [[] for _ in prepared]
        for (h, w), indices in groups.items():
            scale = min(1.0, self.max_side / max(h, w))
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            sx, sy = w / size[0], h / size[1]
            min_size = max(self.min_detectable, int(np.ceil(self.min_face_size / max(sx, sy))))
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                batch = np.stack([self._to_backend(prepared[i], size) for i in chunk])
                for i, faces in zip(chunk, self._detect_batch(batch, min_size), strict=True):
                    faces = [_rescale(face, sx, sy) for face in faces]
                    faces = [f for f in faces if max(f.box[2], f.box[3]) >= self.min_face_size]
                    results[i] = sorted(faces, key=lambda f: -f.score)
        return results

    def detect_image(self, image: np.ndarray) -> list[Face]:
        """The faces in one image, sorted by score (``detect([image])[0]``)."""
        return self.detect([image])[0]

    def _to_backend(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``image`` (gray 2-D or RGB 3-D uint8) in the backend's colour, resized to ``size``
        (width, height) when it differs."""
        resize = (image.shape[1], image.shape[0]) != size
        if self.color == "gray" and image.ndim == 3:
            pil = Image.fromarray(image).convert("L")
        elif resize:
            pil = Image.fromarray(image)
        else:
            pil = None
        if pil is not None:
            if resize:
                pil = pil.resize(size, Image.BILINEAR)
            image = np.asarray(pil)
        if self.color == "rgb" and image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        return image


def _as_image_list(images: object) -> list:
    if isinstance(images, np.ndarray):
        if images.ndim == 4 or (images.ndim == 3 and images.shape[-1] not in (1, 3)):
            return list(images)
        raise ValueError(
            f"images is one array of shape {images.shape}: pass a list of images, "
            "[image] for one image, or an (n, H, W) / (n, H, W, 3) array for a batch"
        )
    if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
        raise TypeError(f"images must be a sequence of uint8 arrays, got {type(images).__name__}")
    return list(images)


def _check_image(image: object, index: int) -> np.ndarray:
    """``image`` as a 2-D gray or 3-D RGB uint8 array, or a ValueError naming ``images[index]``."""
    where = f"images[{index}]"
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{where} must be a numpy uint8 array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(
            f"{where} has dtype {image.dtype}; expected uint8 pixels on [0, 255] "
            "(e.g. (image * 255).round().astype(np.uint8) for floats on [0, 1])"
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"{where} has shape {image.shape}; expected (H, W) gray or (H, W, 3) RGB")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{where} is empty (shape {image.shape})")
    return np.ascontiguousarray(image)


def _rescale(face: Face, sx: float, sy: float) -> Face:
    if sx == 1.0 and sy == 1.0:
        return face
    x, y, w, h = face.box
    landmarks = None if face.landmarks is None else face.landmarks * np.array([sx, sy])
    return Face(box=(x * sx, y * sy, w * sx, h * sy), score=face.score, landmarks=landmarks)
