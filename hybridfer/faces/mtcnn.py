"""The MTCNN face detector (Zhang et al. 2016) of facenet-pytorch: boxes, scores and five
landmarks, with the weights that ship in the ``facenet-pytorch==2.6.0`` wheel (nothing
downloads).

Install facenet-pytorch with ``pip install --no-deps facenet-pytorch==2.6.0`` (its metadata
pins torch<2.3 and numpy<2; its MTCNN runs on current torch and numpy) and
``pip install requests`` (it imports it).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from hybridfer.faces.base import Face, FaceDetector, FaceDetectorUnavailableError

__all__ = ["DEFAULT_THRESHOLDS", "MTCNNDetector"]

#: facenet-pytorch's score thresholds of the P-, R- and O-net stages.
DEFAULT_THRESHOLDS = (0.6, 0.7, 0.7)
#: facenet-pytorch's image-pyramid scale step.
PYRAMID_FACTOR = 0.709


def _facenet():
    """facenet-pytorch's three MTCNN networks and ``detect_face``, or
    :class:`FaceDetectorUnavailableError`."""
    try:
        from facenet_pytorch.models.mtcnn import ONet, PNet, RNet
        from facenet_pytorch.models.utils.detect_face import detect_face
    except ImportError as exc:
        raise FaceDetectorUnavailableError(
            "mtcnn", f"cannot import facenet_pytorch: {exc}"
        ) from exc
    return PNet, RNet, ONet, detect_face


class MTCNNDetector(FaceDetector):
    """MTCNN: a box, a score and the five :data:`~hybridfer.faces.base.LANDMARK_NAMES`
    per face.

    Same-size images go through the networks together (facenet-pytorch's batched
    ``detect_face``), on ``device``. The networks load on the first detection.

    Parameters
    ----------
    min_face_size : int, default=20
        The smallest face kept, in original pixels; MTCNN's own ``min_face_size`` is this
        in detection pixels (after downscaling by ``max_side``), at least 12 (P-net's cell).
    threshold : float in [0, 1] or None, default=None
        The O-net (final stage) score threshold; None keeps facenet-pytorch's 0.7 (the
        stages' thresholds are :data:`DEFAULT_THRESHOLDS`).
    max_side : int, default=1280
    device : str, torch.device or None, default=None
        None: ``"cuda"`` when available, else ``"cpu"``.
    batch_size : int, default=16
    """

    name: ClassVar[str] = "mtcnn"
    color: ClassVar[str] = "rgb"
    min_detectable: ClassVar[int] = 12

    def __init__(
        self,
        *,
        min_face_size: int = 20,
        threshold: float | None = None,
        max_side: int = 1280,
        device: str | torch.device | None = None,
        batch_size: int = 16,
    ) -> None:
        super().__init__(
            min_face_size=min_face_size,
            threshold=threshold,
            max_side=max_side,
            batch_size=batch_size,
        )
        _facenet()  # fail now, not at the first image
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device must be a torch device name, got {device!r}") from exc
        final = DEFAULT_THRESHOLDS[2] if self.threshold is None else self.threshold
        self.thresholds = (*DEFAULT_THRESHOLDS[:2], final)
        self._nets = None

    def _extra_params(self) -> dict:
        return {"device": str(self.device)}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_nets"] = None  # reloaded from the wheel on first use
        return state

    def _load(self):
        if self._nets is None:
            pnet, rnet, onet, detect_face = _facenet()
            nets = [
                cls().to(self.device).eval().requires_grad_(False) for cls in (pnet, rnet, onet)
            ]
            self._nets = (*nets, detect_face)
        return self._nets

    def _detect_batch(self, batch: np.ndarray, min_size: int) -> list[list[Face]]:
        n, h, w = batch.shape[:3]
        if min(h, w) < min_size:  # facenet's pyramid would be empty (it fails on that)
            return [[] for _ in range(n)]
        pnet, rnet, onet, detect_face = self._load()
        images = torch.from_numpy(batch).to(self.device)
        with torch.no_grad():
            boxes, points = detect_face(
                images,
                min_size,
                pnet,
                rnet,
                onet,
                list(self.thresholds),
                PYRAMID_FACTOR,
                self.device,
            )
        results = []
        for image_boxes, image_points in zip(boxes, points, strict=True):
            image_boxes = np.asarray(image_boxes, dtype=float).reshape(-1, 5)
            image_points = np.asarray(image_points, dtype=float).reshape(-1, 5, 2)
            results.append(
                [
                    Face(
                        box=(x1, y1, x2 - x1, y2 - y1),
                        score=min(max(score, 0.0), 1.0),
                        landmarks=marks,
                    )
                    for (x1, y1, x2, y2, score), marks in zip(
                        image_boxes, image_points, strict=True
                    )
                ]
            )
        return results
