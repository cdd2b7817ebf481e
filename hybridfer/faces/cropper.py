"""FaceCropper: a scikit-learn transformer from pictures of any size to aligned face crops.

Put it first in a pipeline so that a model trained on FER2013 crops reads photos::

    Pipeline([("faces", FaceCropper()), ("cnn", CNNFeatures(...)), ("svc", SVC())])

Each input gives exactly one output image (the face chosen by ``select``, or the whole
picture when no face is found and ``on_missing="whole"``), so the rows stay aligned with
``y``. The detector (:func:`hybridfer.faces.detection.make_detector`) is built on the first
:meth:`FaceCropper.transform` and kept in a private attribute that is neither cloned nor
pickled: a saved pipeline holds parameters, not torch modules.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import _check_feature_names, _check_feature_names_in

from hybridfer._compat import FillDefaultsOnUnpickleMixin
from hybridfer._messages import plain_repr
from hybridfer.faces.alignment import COLORS, _check_size, align_face, crop_whole
from hybridfer.faces.detection import BACKENDS, make_detector
from hybridfer.images import (
    ImageSource,
    as_image_source,
    check_float_range,
    coerce_image_input,
    read_image,
    resolve_image_shape,
)

__all__ = ["FaceCropper", "MISSING", "SELECT"]

#: How :class:`FaceCropper` picks one face among several.
SELECT = ("largest", "center")
#: What :class:`FaceCropper` does with an image without a face.
MISSING = ("error", "whole")

#: The detector's parameters, which decide whether a cached detector can be reused.
_DETECTOR_PARAMS = ("backend", "min_face_size", "threshold", "max_side", "device", "batch_size")


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """A validated image (uint8, or float on [0, 1]) as uint8; other floats are clipped."""
    if image.dtype == np.uint8:
        return image
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


class FaceCropper(FillDefaultsOnUnpickleMixin, TransformerMixin, BaseEstimator):
    """Find the face in each picture and crop it, aligned to the FER2013 geometry.

    Parameters
    ----------
    backend : {"mtcnn", "haar"}, default="mtcnn"
        The face detector (:func:`~hybridfer.faces.detection.make_detector`).
    size : int or (int, int), default=(48, 48)
        Output ``(height, width)`` of each crop.
    color : {"gray", "rgb"}, default="gray"
        Output colour: ``(h, w)`` or ``(h, w, 3)`` crops.
    select : {"largest", "center"}, default="largest"
        The face kept when a picture has several: the largest box, or the box whose centre is
        closest to the picture's centre.
    on_missing : {"error", "whole"}, default="error"
        A picture without a face raises a ValueError naming it (``"error"``), or gives the
        whole picture resized to ``size`` (``"whole"``), counted in ``n_missing_``.
    margin : float, default=0.0
        Context around the face (see :func:`~hybridfer.faces.alignment.align_face`):
        positive zooms out, negative (> -0.5) zooms in.
    min_face_size : int, default=20
        Smallest face side, in pixels of the original picture, that the detector looks for.
    threshold : float or None, default=None
        Detector confidence a face needs; None uses the backend's default.
    max_side : int, default=1280
        Pictures with a longer side are downscaled for detection (crops are cut from the
        original pixels).
    device : str or None, default=None
        Torch device of the detector; None picks CUDA when available.
    batch_size : int, default=16
        Pictures decoded and detected together.
    image_shape : tuple of int or None, default=None
        ``(H, W[, C])`` of each picture when ``X`` is a flat 2-D array (one ``-1`` is
        resolved from the width; ``(1, -1)`` reads each row as a one-row picture).
    float_range : (float, float) or None, default=(0.0, 1.0)
        The range of float pixels (see :data:`hybridfer.images.FLOAT_RANGE_DOC`).

    Attributes
    ----------
    n_missing_ : int
        Pictures without a face in the last :meth:`transform`.
    boxes_ : ndarray of shape (n, 4)
        The chosen face box ``(x, y, w, h)`` per picture of the last :meth:`transform`, in
        its pixels; NaN where no face was found.
    n_features_in_ : int
        Values per picture of an array given to :meth:`fit` (not set for paths).
    feature_names_in_ : ndarray of str
        Column names of a DataFrame given to :meth:`fit`.

    Notes
    -----
    :meth:`transform` returns images, ``(n, h, w)`` or ``(n, h, w, 3)`` uint8, which the
    hybridfer extractors take as they are. When an output container is configured
    (``set_output(transform="pandas")`` or scikit-learn's ``transform_output``), the crops
    are flattened in C order to ``(n, h * w [* 3])`` columns named by
    :meth:`get_feature_names_out`. The estimator is stateless: :meth:`fit` only checks the
    parameters and the input, and :meth:`transform` works on pictures of any size.
    """

    _parameter_constraints: dict = {
        "backend": [StrOptions(set(BACKENDS))],
        "size": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "color": [StrOptions(set(COLORS))],
        "select": [StrOptions(set(SELECT))],
        "on_missing": [StrOptions(set(MISSING))],
        "margin": [Interval(Real, -0.5, None, closed="neither")],
        "min_face_size": [Interval(Integral, 1, None, closed="left")],
        "threshold": [Interval(Real, 0, 1, closed="both"), None],
        "max_side": [Interval(Integral, 16, None, closed="left")],
        "device": [str, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "image_shape": [tuple, list, None],
        "float_range": [tuple, list, None],
    }

    def __init__(
        self,
        backend: str = "mtcnn",
        size: int | tuple[int, int] = (48, 48),
        color: str = "gray",
        select: str = "largest",
        on_missing: str = "error",
        margin: float = 0.0,
        min_face_size: int = 20,
        threshold: float | None = None,
        max_side: int = 1280,
        device: str | None = None,
        batch_size: int = 16,
        image_shape: tuple[int, ...] | None = None,
        float_range: tuple[float, float] | None = (0.0, 1.0),
    ) -> None:
        self.backend = backend
        self.size = size
        self.color = color
        self.select = select
        self.on_missing = on_missing
        self.margin = margin
        self.min_face_size = min_face_size
        self.threshold = threshold
        self.max_side = max_side
        self.device = device
        self.batch_size = batch_size
        self.image_shape = image_shape
        self.float_range = float_range

    # -- helpers ----------------------------------------------------------------------------
    def _check_params(self) -> tuple[int, int]:
        self._validate_params()
        check_float_range(self.float_range)
        return _check_size(self.size)

    def _image_source(self, X: object) -> ImageSource:
        if isinstance(X, ImageSource):
            return X
        X = coerce_image_input(X)
        return as_image_source(
            X,
            resolve_image_shape(self.image_shape, X),
            color="rgb",
            name="X",
            float_range=check_float_range(self.float_range),
        )

    def _get_detector(self):
        """The detector for the current parameters, built once and cached (not pickled)."""
        key = tuple(getattr(self, name) for name in _DETECTOR_PARAMS)
        cached = self.__dict__.get("_detector")
        if cached is None or cached[0] != key:
            detector = make_detector(
                self.backend,
                min_face_size=self.min_face_size,
                threshold=self.threshold,
                max_side=self.max_side,
                device=self.device,
                batch_size=self.batch_size,
            )
            self.__dict__["_detector"] = cached = (key, detector)
        return cached[1]

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__
        state.pop("_detector", None)
        return state

    def _choose(self, faces: list, image: np.ndarray):
        if not faces:
            return None
        boxes = np.array([np.asarray(f.box, dtype=float) for f in faces])
        if self.select == "largest":
            return faces[int(np.argmax(boxes[:, 2] * boxes[:, 3]))]
        centre = np.array([image.shape[1], image.shape[0]], dtype=float) / 2.0
        distance = np.hypot(*(boxes[:, :2] + boxes[:, 2:] / 2.0 - centre).T)
        return faces[int(np.argmin(distance))]

    def _missing_error(self, index: int, source: ImageSource) -> ValueError:
        where = f"X[{index}]"
        if source.is_lazy:
            where += f" ({source.paths[index]!r})"
        return ValueError(
            f"FaceCropper found no face in {where}: no face of at least "
            f"min_face_size={self.min_face_size} pixels was found by the "
            f"{plain_repr(self.backend)} detector. Pass on_missing='whole' to use the whole "
            "image (resized) for pictures without a face, or lower min_face_size"
        )

    # -- scikit-learn API -------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and the input; nothing is learned and no detector is built.

        Parameters
        ----------
        X : array-like or sequence of paths
            Pictures ``(n, H, W[, C])``, a flat array with ``image_shape``, or image paths.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        _check_feature_names(self, X, reset=True)
        source = self._image_source(X)
        if not source.is_lazy:
            self.n_features_in_ = int(np.prod(source.images.shape[1:]))
        return self

    def transform(self, X) -> np.ndarray:
        """One aligned face crop per picture.

        Parameters
        ----------
        X : array-like or sequence of paths
            Pictures of any sizes: an array ``(n, H, W[, C])`` (uint8, or float on
            ``float_range``), a flat array with ``image_shape``, or image file paths (each
            decoded as RGB on its own, so they may differ in size).

        Returns
        -------
        ndarray of shape (n, h, w) or (n, h, w, 3), uint8
            Flattened to ``(n, h * w [* 3])`` when an output container is configured.

        Raises
        ------
        ValueError
            With ``on_missing="error"``, for the first picture without a face (its index and
            path named).
        """
        size = self._check_params()
        if hasattr(self, "feature_names_in_") or hasattr(self, "n_features_in_"):
            _check_feature_names(self, X, reset=False)
        source = self._image_source(X)
        n = len(source)
        channels = (3,) if self.color == "rgb" else ()
        out = np.empty((n, *size, *channels), dtype=np.uint8)
        boxes = np.full((n, 4), np.nan)
        n_missing = 0
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            if source.is_lazy:
                images = [read_image(source.paths[i], color="rgb") for i in range(start, stop)]
            else:
                images = [_to_uint8(img) for img in source.images[start:stop]]
            big = [i for i, img in enumerate(images) if min(img.shape[:2]) >= self.min_face_size]
            found = self._get_detector().detect([images[i] for i in big]) if big else []
            faces: list[list] = [[] for _ in images]
            for i, detected in zip(big, found, strict=True):
                faces[i] = list(detected)
            for offset, (image, candidates) in enumerate(zip(images, faces, strict=True)):
                index = start + offset
                face = self._choose(candidates, image)
                if face is None:
                    if self.on_missing == "error":
                        raise self._missing_error(index, source)
                    n_missing += 1
                    out[index] = crop_whole(image, size=size, color=self.color)
                    continue
                boxes[index] = np.asarray(face.box, dtype=float)
                out[index] = align_face(
                    image, face, size=size, color=self.color, margin=self.margin
                )
        self.boxes_ = boxes
        self.n_missing_ = int(n_missing)
        if _get_output_config("transform", self)["dense"] != "default":
            return out.reshape(n, -1)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Pixel names of the flattened crops: ``face_pixel_<row>_<col>`` (gray) or
        ``face_pixel_<row>_<col>_<channel>`` (rgb, channel 0-2), in C order.

        Parameters
        ----------
        input_features : array-like of str or None
            Only checked against the input seen in :meth:`fit`.

        Returns
        -------
        ndarray of str objects
        """
        if hasattr(self, "n_features_in_") or hasattr(self, "feature_names_in_"):
            _check_feature_names_in(self, input_features, generate_names=False)
        h, w = _check_size(self.size)
        rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        names = [f"face_pixel_{r}_{c}" for r, c in zip(rows.ravel(), cols.ravel(), strict=True)]
        if self.color == "rgb":
            names = [f"{name}_{ch}" for name in names for ch in range(3)]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags
