"""Histogram of Oriented Gradients over whole batches, equal to ``skimage.feature.hog``.

:func:`hog_batch` computes, for a batch of images at once, what ``skimage.feature.hog(img,
..., feature_vector=True)`` computes for one: centred-difference gradients (zero on the border
rows/columns), unsigned orientations in [0, 180) degrees, magnitude-weighted orientation
histograms over non-overlapping cells (one ``np.bincount`` for the whole batch), and
overlapping blocks of cells normalised with ``L1``, ``L1-sqrt``, ``L2`` or ``L2-Hys``
(eps = 1e-5). It follows scikit-image's rules to the letter: the ``[start, end)`` bin edges,
the float32 working precision for float32 images, and, for RGB images, the gradient of the
channel with the largest gradient magnitude at each pixel (skimage's ``channel_axis=-1``).
The only difference is the summation inside a cell, which scikit-image does in float32 and
this module in float64, so results agree to about 1e-6 relative.
"""

from __future__ import annotations

import functools
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from hybridfer._messages import plain_repr
from hybridfer.handcrafted._base import ImageFeatureTransformer, _check_int_pair
from hybridfer.images import check_image_size

__all__ = ["HOGFeatures", "hog_batch"]

_BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
_EPS = 1e-5  # scikit-image's block normalisation epsilon
_IMPLEMENTATION = "hybridfer.hog/1 (skimage.feature.hog semantics)"


def _working_dtype(dtype: np.dtype) -> np.dtype:
    """scikit-image's ``_supported_float_type``: float16/float32 stay float32, else float64."""
    if dtype in (np.float16, np.float32):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _gradients(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centred differences along rows and columns, zero on the first/last row/column."""
    g_row = np.zeros_like(images)
    g_col = np.zeros_like(images)
    g_row[:, 1:-1] = images[:, 2:] - images[:, :-2]
    g_col[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]
    return g_row, g_col


def _normalize_blocks(blocks: np.ndarray, method: str, axes: tuple[int, ...]) -> np.ndarray:
    """Vectorised ``skimage.feature._hog._hog_normalize_block`` over ``axes``."""
    if method == "L1":
        return blocks / (np.sum(np.abs(blocks), axis=axes, keepdims=True) + _EPS)
    if method == "L1-sqrt":
        return np.sqrt(blocks / (np.sum(np.abs(blocks), axis=axes, keepdims=True) + _EPS))
    if method == "L2":
        return blocks / np.sqrt(np.sum(blocks**2, axis=axes, keepdims=True) + _EPS**2)
    if method == "L2-Hys":
        out = blocks / np.sqrt(np.sum(blocks**2, axis=axes, keepdims=True) + _EPS**2)
        out = np.minimum(out, 0.2)
        return out / np.sqrt(np.sum(out**2, axis=axes, keepdims=True) + _EPS**2)
    raise ValueError(f"block_norm must be one of {_BLOCK_NORMS}, got {plain_repr(method)}")


def _bins_and_magnitude(
    g_row: np.ndarray, g_col: np.ndarray, orientations: int
) -> tuple[np.ndarray, np.ndarray]:
    """Orientation bin and vote of each pixel, exactly as ``skimage.feature._hoghistogram``.

    Bin ``i`` holds orientations in ``[180 / n * i, 180 / n * (i + 1))``; a pixel whose
    orientation lies beyond the last edge (possible through rounding) votes nowhere, which is
    encoded as bin ``n - 1`` with a zero vote.
    """
    g_row = g_row.astype(np.float64, copy=False)
    g_col = g_col.astype(np.float64, copy=False)
    magnitude = np.hypot(g_col, g_row)
    orientation = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    edges = (180.0 / orientations) * np.arange(orientations + 1, dtype=np.float64)
    bins = np.searchsorted(edges, orientation, side="right") - 1
    valid = bins < orientations
    if not valid.all():
        magnitude = np.where(valid, magnitude, 0.0)
        bins = np.minimum(bins, orientations - 1)
    return bins.astype(np.int16), magnitude


_UINT8_MAX = 255


@functools.lru_cache(maxsize=8)
def _integer_gradient_tables(orientations: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin and vote of every integer gradient pair in [-255, 255]^2 (uint8 images).

    Entry ``(g_row + 255) * 511 + (g_col + 255)``; computed with :func:`_bins_and_magnitude`,
    so a lookup gives bit-for-bit the values of the direct computation.
    """
    g = np.arange(-_UINT8_MAX, _UINT8_MAX + 1, dtype=np.float64)
    g_row, g_col = np.meshgrid(g, g, indexing="ij")
    bins, magnitude = _bins_and_magnitude(g_row.ravel(), g_col.ravel(), orientations)
    bins.flags.writeable = False
    magnitude.flags.writeable = False
    return bins, magnitude


def hog_min_image_shape(
    pixels_per_cell: tuple[int, int], cells_per_block: tuple[int, int]
) -> tuple[int, int]:
    """The smallest ``(H, W)`` that holds one block of cells."""
    return (
        pixels_per_cell[0] * cells_per_block[0],
        pixels_per_cell[1] * cells_per_block[1],
    )


def hog_batch(
    images: np.ndarray,
    orientations: int = 9,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (2, 2),
    block_norm: str = "L2-Hys",
    transform_sqrt: bool = False,
) -> np.ndarray:
    """HOG descriptors of a batch of images, equal to ``skimage.feature.hog`` per image.

    Parameters
    ----------
    images : ndarray of shape (n, H, W) or (n, H, W, C)
        Grayscale or multichannel images (any real dtype; values are used as given).
    orientations, pixels_per_cell, cells_per_block, block_norm, transform_sqrt
        As in ``skimage.feature.hog``.

    Returns
    -------
    ndarray of shape (n, n_blocks_row * n_blocks_col * b_row * b_col * orientations)
        float64 for float64/integer images and float32 for float32 images, in skimage's order
        ``(block_row, block_col, cell_row, cell_col, orientation)``. For ``(n, H, W, C)`` the
        result equals ``hog(img, ..., channel_axis=-1)``.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (n, H, W) or (n, H, W, C), got shape {images.shape}")
    n, s_row, s_col = images.shape[:3]
    c_row, c_col = pixels_per_cell
    b_row, b_col = cells_per_block
    n_cells_row, n_cells_col = s_row // c_row, s_col // c_col
    n_blocks_row, n_blocks_col = n_cells_row - b_row + 1, n_cells_col - b_col + 1
    if n_blocks_row <= 0 or n_blocks_col <= 0:
        min_row, min_col = hog_min_image_shape(pixels_per_cell, cells_per_block)
        raise ValueError(
            f"images of shape {(s_row, s_col)} are too small for pixels_per_cell="
            f"{tuple(pixels_per_cell)} and cells_per_block={tuple(cells_per_block)}: they "
            f"need at least {min_row} rows and {min_col} columns"
        )
    work = _working_dtype(images.dtype)
    integer_gradients = images.dtype == np.uint8 and not transform_sqrt
    if integer_gradients:  # gradients of uint8 pixels are exact small integers
        img = images.astype(np.int16)
    else:
        img = images.astype(work, copy=False)
    if transform_sqrt:
        img = np.sqrt(img)
    g_row, g_col = _gradients(img)
    if img.ndim == 4:  # per pixel, the channel with the largest gradient magnitude
        if integer_gradients:  # exact squared magnitudes order the channels as hypot does
            strength = g_row.astype(np.int32) ** 2 + g_col.astype(np.int32) ** 2
        else:
            strength = np.hypot(g_row, g_col)
        best = strength.argmax(axis=-1)[..., None]
        g_row = np.take_along_axis(g_row, best, axis=-1)[..., 0]
        g_col = np.take_along_axis(g_col, best, axis=-1)[..., 0]

    # only the pixels covered by whole cells vote
    rows, cols = n_cells_row * c_row, n_cells_col * c_col
    g_row, g_col = g_row[:, :rows, :cols], g_col[:, :rows, :cols]
    if integer_gradients:  # look the exact skimage values up per gradient pair
        bin_table, magnitude_table = _integer_gradient_tables(orientations)
        key = (g_row + _UINT8_MAX).astype(np.int32, copy=False) * (2 * _UINT8_MAX + 1)
        key += g_col + _UINT8_MAX
        bins, magnitude = bin_table[key], magnitude_table[key]
    else:
        bins, magnitude = _bins_and_magnitude(g_row, g_col, orientations)

    cell_of_pixel = (np.arange(rows)[:, None] // c_row) * n_cells_col + (
        np.arange(cols)[None, :] // c_col
    )
    n_cells = n_cells_row * n_cells_col
    index = (np.arange(n)[:, None, None] * n_cells + cell_of_pixel) * orientations + bins
    hist = np.bincount(
        index.ravel(), weights=magnitude.ravel(), minlength=n * n_cells * orientations
    )
    hist = hist.reshape(n, n_cells_row, n_cells_col, orientations) / (c_row * c_col)

    # (n, blocks_row, blocks_col, orientations, b_row, b_col) -> skimage's axis order
    blocks = np.lib.stride_tricks.sliding_window_view(hist, (b_row, b_col), axis=(1, 2))
    blocks = blocks.transpose(0, 1, 2, 4, 5, 3)
    out = _normalize_blocks(blocks, block_norm, axes=(3, 4, 5))
    return out.reshape(n, -1).astype(work, copy=False)


class HOGFeatures(ImageFeatureTransformer):
    """Histogram of Oriented Gradients of each image, as a scikit-learn transformer.

    Each output row equals ``skimage.feature.hog(img, orientations, pixels_per_cell,
    cells_per_block, block_norm, transform_sqrt=..., feature_vector=True)`` of one image (to
    float32 precision), computed for a whole batch at once with NumPy and, with ``n_jobs``,
    for several batches in parallel with joblib.

    Color: RGB images follow scikit-image's ``channel_axis=-1`` rule (at each pixel the
    gradient of the channel with the largest gradient magnitude), as Dalal and Triggs do;
    grayscale images are used as they are.

    Scale: pixel values are used as given (uint8 on [0, 255], floats on [0, 1], or on any
    range with ``float_range=None``). Block normalisation makes the descriptor invariant to a
    positive rescaling of the pixels, up to the eps = 1e-5 of the normalisation, so ``uint8``
    images and the same images divided by 255 give nearly identical features.
    ``transform_sqrt=True`` needs non-negative pixels.

    Parameters
    ----------
    orientations : int, default=9
        Number of orientation bins over [0, 180) degrees.
    pixels_per_cell : int or (int, int), default=(8, 8)
        Cell size ``(rows, cols)``.
    cells_per_block : int or (int, int), default=(2, 2)
        Block size in cells.
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}, default="L2-Hys"
        Block normalisation, as in scikit-image.
    transform_sqrt : bool, default=False
        Take the square root of the pixels first (power-law compression).
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of each row when ``X`` is a flat 2-D array (a square gray
        shape is inferred when None). One size may be ``-1``: ``(1, -1)`` reads each row as a
        one-row image.
    float_range : (float, float) or None, default=(0.0, 1.0)
        The range of float pixels: outside it is an error, inside it is mapped to [0, 1]
        (``(0, 255)`` takes float images on the 8-bit scale); None takes any finite floats
        as they are. Integer images are always on [0, 255].
    batch_size : int, default=512
        Images per batch; memory is bounded by the batch.
    n_jobs : int or None, default=None
        Batches computed in parallel by joblib (None: one, unless in a joblib context).

    Attributes
    ----------
    image_shape_ : tuple of int
        Shape of one image seen in :meth:`fit`; :meth:`transform` requires the same.
    n_features_in_ : int
        Number of pixel values per image (``prod(image_shape_)``).
    feature_names_in_ : ndarray of str
        Column names when fit on a DataFrame of pixels.
    n_features_out_ : int
        Length of the descriptor.

    Examples
    --------
    >>> import numpy as np
    >>> from hybridfer.handcrafted import HOGFeatures
    >>> X = np.random.default_rng(0).integers(0, 256, size=(4, 48, 48), dtype=np.uint8)
    >>> HOGFeatures().fit_transform(X).shape
    (4, 900)
    """

    _parameter_constraints: dict = {
        **ImageFeatureTransformer._parameter_constraints,
        "orientations": [Interval(Integral, 1, None, closed="left")],
        "pixels_per_cell": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "cells_per_block": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "block_norm": [StrOptions(set(_BLOCK_NORMS))],
        "transform_sqrt": ["boolean"],
    }
    _feature_prefix = "hog"
    _read_color = None  # gray files stay gray, color files become RGB

    def __init__(
        self,
        orientations: int = 9,
        pixels_per_cell: int | tuple[int, int] = (8, 8),
        cells_per_block: int | tuple[int, int] = (2, 2),
        block_norm: str = "L2-Hys",
        transform_sqrt: bool = False,
        image_shape: tuple[int, ...] | None = None,
        float_range: tuple[float, float] | None = (0.0, 1.0),
        batch_size: int = 512,
        n_jobs: int | None = None,
    ) -> None:
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt
        self.image_shape = image_shape
        self.float_range = float_range
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        _check_int_pair(self.pixels_per_cell, "pixels_per_cell")
        _check_int_pair(self.cells_per_block, "cells_per_block")

    def _grid(self, image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        c_row, c_col = _check_int_pair(self.pixels_per_cell, "pixels_per_cell")
        b_row, b_col = _check_int_pair(self.cells_per_block, "cells_per_block")
        n_blocks_row = image_shape[0] // c_row - b_row + 1
        n_blocks_col = image_shape[1] // c_col - b_col + 1
        return n_blocks_row, n_blocks_col, b_row * b_col, self.orientations

    def _check_image_size(self, image_shape: tuple[int, ...]) -> None:
        cells = _check_int_pair(self.pixels_per_cell, "pixels_per_cell")
        block = _check_int_pair(self.cells_per_block, "cells_per_block")
        check_image_size(
            image_shape,
            hog_min_image_shape(cells, block),
            consumer=f"HOGFeatures with pixels_per_cell={cells} and cells_per_block={block}",
            reason="one block of cells",
            fix="use smaller cells or blocks, or larger images",
        )

    def _n_features_out(self, image_shape: tuple[int, ...]) -> int:
        return int(np.prod(self._grid(image_shape)))

    def _feature_names(self, image_shape: tuple[int, ...]) -> np.ndarray:
        n = self._n_features_out(image_shape)
        return np.asarray([f"hog.{i}" for i in range(n)], dtype=object)

    def _transform_batch(self, images: np.ndarray) -> np.ndarray:
        if self.transform_sqrt and images.dtype.kind == "f" and (images < 0).any():
            raise ValueError(
                "transform_sqrt=True needs non-negative pixel values, but X holds negative "
                "values; rescale the images or set transform_sqrt=False"
            )
        out = hog_batch(
            images,
            orientations=self.orientations,
            pixels_per_cell=_check_int_pair(self.pixels_per_cell, "pixels_per_cell"),
            cells_per_block=_check_int_pair(self.cells_per_block, "cells_per_block"),
            block_norm=self.block_norm,
            transform_sqrt=self.transform_sqrt,
        )
        return out.astype(np.float32, copy=False)

    def _cache_key_params(self) -> dict:
        return {
            "transformer": "HOGFeatures",
            "implementation": _IMPLEMENTATION,
            "orientations": int(self.orientations),
            "pixels_per_cell": _check_int_pair(self.pixels_per_cell, "pixels_per_cell"),
            "cells_per_block": _check_int_pair(self.cells_per_block, "cells_per_block"),
            "block_norm": self.block_norm,
            "transform_sqrt": bool(self.transform_sqrt),
        }
