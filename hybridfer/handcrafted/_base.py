"""What the handcrafted transformers share: input handling, shape state, batches, joblib.

A subclass describes its features with ``_check_params`` (validate the parameters
that ``_parameter_constraints`` cannot express), ``_check_image_size`` (reject images too
small for it), ``_n_features_out(image_shape)``, ``_feature_names(image_shape)`` and
``_transform_batch(images)``; it also names what decides its output in ``_cache_key_params()``.

For a feature cache (:mod:`hybridfer.cache`): ``_cache_key_params()`` is the per-image key
(never batch size or n_jobs), ``_transform_batch(images)`` maps a batch ``(b, H, W[, C])`` to
float32 ``(b, d)``, and ``_compute_features(source, indices)`` computes any subset of an
:class:`~hybridfer.images.ImageSource` in parallel batches.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    _check_feature_names,
    _check_feature_names_in,
    check_is_fitted,
)

from hybridfer._compat import FillDefaultsOnUnpickleMixin
from hybridfer._messages import plain_repr
from hybridfer.images import (
    ImageSource,
    as_image_source,
    check_float_range,
    coerce_image_input,
    read_images,
    resolve_image_shape,
)

__all__ = ["ImageFeatureTransformer"]


def _check_int_pair(value: object, name: str, minimum: int = 1) -> tuple[int, int]:
    """Return ``value`` as a pair of ints >= ``minimum`` (an int ``k`` means ``(k, k)``)."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v >= minimum for v in pair
    ):
        raise ValueError(
            f"{name} must be an int or a pair of ints >= {minimum}, got {plain_repr(value)}"
        )
    return int(pair[0]), int(pair[1])


def _load_and_transform(estimator: ImageFeatureTransformer, paths: list[str], color) -> np.ndarray:
    """Decode a batch of files and transform it (runs inside a joblib worker)."""
    images = read_images(paths, color)
    for path, image in zip(paths, images, strict=True):
        if image.shape != tuple(estimator.image_shape_):
            estimator._check_fitted_shape(image.shape, name=f"image file {path!r}")
    return estimator._transform_batch(np.stack(images))


class ImageFeatureTransformer(FillDefaultsOnUnpickleMixin, TransformerMixin, BaseEstimator):
    """Base class of the image feature transformers (not for direct use).

    Subclasses set ``_feature_prefix``, ``_read_color`` (how image files are decoded) and
    implement the methods listed in the module docstring.
    """

    _parameter_constraints: dict = {
        "image_shape": [tuple, list, None],
        "float_range": [tuple, list, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
    }
    _feature_prefix = "features"
    _read_color: str | None = None

    # -- hooks for subclasses -------------------------------------------------------------
    def _check_params(self) -> None:
        """Validate parameters that ``_parameter_constraints`` cannot express."""

    def _check_image_size(self, image_shape: tuple[int, ...]) -> None:
        """Raise ValueError when images of ``image_shape`` are too small."""

    def _n_features_out(self, image_shape: tuple[int, ...]) -> int:
        """Number of features produced for images of ``image_shape``."""
        raise NotImplementedError

    def _feature_names(self, image_shape: tuple[int, ...]) -> np.ndarray:
        """Names of the features produced for images of ``image_shape`` (object array)."""
        raise NotImplementedError

    def _transform_batch(self, images: np.ndarray) -> np.ndarray:
        """Features of one batch of validated images ``(b, H, W[, 3])`` as float32 ``(b, d)``."""
        raise NotImplementedError

    def _cache_key_params(self) -> dict:
        """The parameters that determine the output of one image (not batch size or n_jobs)."""
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------------
    def _image_source(self, X: object) -> ImageSource:
        if isinstance(X, ImageSource):
            return X
        X = coerce_image_input(X)
        shape = resolve_image_shape(self.image_shape, X)
        return as_image_source(
            X,
            shape,
            color=self._read_color,
            name="X",
            float_range=check_float_range(self.float_range),
        )

    def _check_fitted_shape(self, image_shape: tuple[int, ...], name: str = "X") -> None:
        fitted = self.image_shape_
        if tuple(image_shape) == tuple(fitted):
            return
        n_got, n_fit = int(np.prod(image_shape)), int(np.prod(fitted))
        prefix = ""
        if n_got != n_fit:
            prefix = (
                f"X has {n_got} features, but {type(self).__name__} is expecting {n_fit} "
                "features as input. "
            )
        holds = "has shape" if name.startswith("image file") else "holds images of shape"
        raise ValueError(
            f"{prefix}{name} {holds} {tuple(image_shape)}, but "
            f"{type(self).__name__} was fitted on images of shape {tuple(fitted)}; resize them "
            "or fit again"
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and learn the image shape.

        Parameters
        ----------
        X : array-like or sequence of paths
            Images ``(n, H, W[, C])``, a flat ``(n, H*W[*C])`` array with ``image_shape``,
            or image file paths (see :mod:`hybridfer.images`).
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        _check_feature_names(self, X, reset=True)
        source = self._image_source(X)
        image_shape = source.first_image_shape()
        self._check_image_size(image_shape)
        self.image_shape_ = tuple(int(s) for s in image_shape)
        self.n_features_in_ = int(np.prod(self.image_shape_))
        self.n_features_out_ = int(self._n_features_out(self.image_shape_))
        return self

    def transform(self, X) -> np.ndarray:
        """Compute the features of every image, batch by batch.

        Parameters
        ----------
        X : array-like or sequence of paths
            Images of the shape seen in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_images, n_features_out_), float32
        """
        check_is_fitted(self, "image_shape_")
        _check_feature_names(self, X, reset=False)
        source = self._image_source(X)
        if source.is_lazy:
            self._check_fitted_shape(source.first_image_shape())
        else:
            self._check_fitted_shape(tuple(source.images.shape[1:]))
        return self._compute_features(source, np.arange(len(source)))

    def _compute_features(self, source: ImageSource, indices: np.ndarray) -> np.ndarray:
        """Features of the images ``indices`` of ``source``: batches, in parallel with joblib.

        The hook a feature cache calls for the images it lacks; files are decoded inside the
        workers.
        """
        indices = np.asarray(indices, dtype=np.intp)
        chunks = [indices[s : s + self.batch_size] for s in range(0, len(indices), self.batch_size)]
        if not chunks:
            return np.empty((0, self.n_features_out_), dtype=np.float32)
        if source.is_lazy:
            tasks = (
                delayed(_load_and_transform)(self, [source.paths[i] for i in idx], source.color)
                for idx in chunks
            )
        else:
            tasks = (delayed(self._transform_batch)(source.images[idx]) for idx in chunks)
        parts = Parallel(n_jobs=self.n_jobs)(tasks)
        return np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output features, e.g. ``hog.17`` or ``lbp.cell3.9``.

        Parameters
        ----------
        input_features : array-like of str or None
            Only checked for consistency with the input seen in :meth:`fit`.

        Returns
        -------
        ndarray of str objects
        """
        check_is_fitted(self, "image_shape_")
        _check_feature_names_in(self, input_features, generate_names=False)
        return self._feature_names(self.image_shape_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
