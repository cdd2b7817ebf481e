"""Image inputs shared by every transformer: validation, lazy decoding, batches, content hashes.

Every hybridfer transformer accepts the same inputs:

- an integer or float array ``(n, H, W)`` (grayscale) or ``(n, H, W, C)`` with ``C`` in 1 or 3;
- a flat 2-D array ``(n, H*W[*C])`` together with ``image_shape=(H, W[, C])`` (a square
  grayscale shape is inferred when ``image_shape`` is None and ``H*W`` is a perfect square);
- a sequence of image file paths, decoded lazily, batch by batch.

Pixel scale follows torchvision: integer images are on [0, 255], float images on [0, 1].
:func:`as_image_source` turns any of them into an :class:`ImageSource`, which hands out
batches and per-image content hashes (used as feature-cache keys).

This module is the one validation layer of image inputs; every transformer and network
reads images through it, so every one refuses the same mistakes in the same words:

- float pixels outside ``float_range`` (default [0, 1]): float images on [0, 255] would
  otherwise give features up to a hundred times off. ``float_range=(0, 255)`` declares
  another range (pixels are mapped from it to [0, 1]); ``float_range=None`` takes any finite
  floats as they are (generic numeric data, scikit-learn's estimator checks);
- arrays of strings or other objects, with the dtype and the first offending value named;
- images too small for a consumer (:func:`check_image_size`), with both sizes named.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from PIL import Image, ImageOps, UnidentifiedImageError

from hybridfer._messages import plain_repr

__all__ = [
    "FLOAT_RANGE",
    "FLOAT_RANGE_DOC",
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "ImageSource",
    "as_image_source",
    "check_float_range",
    "check_image_size",
    "coerce_image_input",
    "content_hash",
    "read_image",
    "read_images",
    "resolve_image_shape",
    "stack_images",
]

#: The range of float pixels unless a consumer's ``float_range`` says otherwise.
FLOAT_RANGE = (0.0, 1.0)
#: Float pixels this far outside the range (a fraction of its width) are rounding, not a
#: mistake: they are accepted and clipped.
_RANGE_TOLERANCE = 1e-3

#: Docstring of the ``float_range`` parameter, shared by every image consumer.
FLOAT_RANGE_DOC = """
    float_range : (float, float) or None, default=(0.0, 1.0)
        The range of float pixel values (integer images are always on [0, 255]). Float
        images outside it are refused with a ValueError (a float image on [0, 255] given as
        if on [0, 1] is the usual mistake); inside it they are mapped to [0, 1].
        ``(0, 255)`` takes float images on the 8-bit scale; None takes any finite floats as
        they are (generic numeric data).
"""

IMAGE_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".pgm",
    ".ppm",
    ".pnm",
)


class ImageReadError(ValueError):
    """An image file exists but cannot be decoded (corrupt, truncated or not an image)."""


#: Pillow modes decoded as grayscale when ``color=None``.
_GRAY_MODES = ("1", "L", "LA", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")
#: Pillow modes holding 16 (or 32) bits per pixel, scaled to 8 bits by their high byte.
_WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def _decoded(im: Image.Image) -> Image.Image:
    """An opened image upright, on 8 bits, with any transparency composited on white."""
    try:
        im = ImageOps.exif_transpose(im)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError, struct.error):
        pass  # unreadable EXIF: the pixels are still the picture, as stored
    if im.mode in _WIDE_MODES:
        # convert("L") clips at 255 (a 16-bit PNG would come out nearly all white): keep
        # the high byte of the 16-bit range instead, as libpng's 16-to-8 reduction does
        wide = np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
        im = Image.fromarray((wide >> 8).astype(np.uint8))
    elif im.mode in ("RGBA", "RGBa", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return im


def read_image(path: str | os.PathLike, color: str | None = "gray") -> np.ndarray:
    """Decode one image file to a uint8 array.

    The picture is returned upright (its EXIF orientation applied, as a phone camera
    records it); 16-bit images (and 32-bit integer ones, clipped to 16 bits) are scaled to
    8 bits by their full range (``value >> 8``: 65535 becomes 255), not clipped;
    transparent pixels (RGBA, LA, palette or colour-key transparency) are composited on
    white.

    Parameters
    ----------
    path : str or path-like
        The image file.
    color : {"gray", "rgb", None}
        ``"gray"`` returns ``(H, W)``, ``"rgb"`` returns ``(H, W, 3)``; ``None`` keeps
        grayscale files gray and turns every other mode into RGB.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ImageReadError
        If the file cannot be decoded as an image.
    """
    if color not in ("gray", "rgb", None):
        raise ValueError(f"color must be 'gray', 'rgb' or None, got {plain_repr(color)}")
    try:
        with Image.open(path) as im:
            im.load()
            gray = im.mode in _GRAY_MODES
            im = _decoded(im)
            if color == "gray" or (color is None and gray):
                im = im.convert("L")
            else:
                im = im.convert("RGB")
            return np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {os.fspath(path)!r}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(
            f"cannot decode image file {os.fspath(path)!r}: {exc}. "
            f"Expected a readable image ({', '.join(IMAGE_SUFFIXES)})."
        ) from exc


def read_images(
    paths: Sequence[str | os.PathLike],
    color: str | None = "gray",
    n_jobs: int | None = None,
) -> list[np.ndarray]:
    """Decode many image files, in parallel threads (Pillow releases the GIL while decoding).

    Parameters
    ----------
    paths : sequence of str or path-like
        Image files.
    color : {"gray", "rgb", None}
        As in :func:`read_image`.
    n_jobs : int or None
        Number of threads; None uses up to 8 (at most the number of CPUs).
    """
    paths = list(paths)
    if n_jobs is None:
        n_jobs = min(8, os.cpu_count() or 1)
    if n_jobs <= 1 or len(paths) < 64:
        return [read_image(p, color) for p in paths]
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return list(pool.map(lambda p: read_image(p, color), paths, chunksize=256))


def content_hash(image: np.ndarray) -> str:
    """A hex digest that identifies an image by its pixels, shape and dtype."""
    image = np.ascontiguousarray(image)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{image.dtype.str}{image.shape}".encode())
    h.update(image.data)
    return h.hexdigest()


def _is_path_like(x: object) -> bool:
    return isinstance(x, (str, os.PathLike))


def stack_images(images: list[np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Stack decoded images, naming the first file whose shape differs from the first one."""
    shape = images[0].shape
    for img, name in zip(images, names, strict=True):
        if img.shape != shape:
            raise ValueError(
                f"image {name!r} has shape {img.shape} but {names[0]!r} has {shape}; images "
                "stacked together must share a size (resize them first, or load them lazily "
                "and let an extractor resize each batch)"
            )
    return np.stack(images)


class ImageSource:
    """Random-access view over images held in memory or read lazily from files.

    Use :func:`as_image_source` to build one; estimators never need to know which kind it is.

    Parameters
    ----------
    images : ndarray of shape (n, H, W) or (n, H, W, C), optional
        Images in memory (uint8 on [0, 255] or float on [0, 1]).
    paths : sequence of str, optional
        Image files, decoded on demand with ``color``.
    color : {"gray", "rgb", None}
        How files are decoded.
    """

    def __init__(
        self,
        images: np.ndarray | None = None,
        paths: Sequence[str] | None = None,
        color: str | None = None,
    ) -> None:
        if (images is None) == (paths is None):
            raise ValueError("give exactly one of images or paths")
        self.images = images
        self.paths = None if paths is None else [os.fspath(p) for p in paths]
        self.color = color
        self._hashes: list[str] | None = None

    def __len__(self) -> int:
        return len(self.images) if self.images is not None else len(self.paths)

    @property
    def is_lazy(self) -> bool:
        """True when images are decoded from files on demand."""
        return self.paths is not None

    def load(self, indices: Sequence[int] | slice | np.ndarray) -> np.ndarray:
        """Return the images at ``indices`` as one array ``(b, H, W[, C])``."""
        if self.images is not None:
            return self.images[indices]
        idx = np.arange(len(self))[indices]
        chosen = [self.paths[i] for i in idx]
        return stack_images(read_images(chosen, self.color), chosen)

    def iter_batches(self, batch_size: int) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield ``(slice, images)`` over consecutive batches of at most ``batch_size`` images."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        for start in range(0, len(self), batch_size):
            sl = slice(start, min(start + batch_size, len(self)))
            yield sl, self.load(sl)

    def first_image_shape(self) -> tuple[int, ...]:
        """Shape of one image (reads one file for a lazy source)."""
        return tuple(self.load(slice(0, 1)).shape[1:])

    def content_hashes(self, batch_size: int = 1024) -> list[str]:
        """Per-image content hashes (computed once, then remembered)."""
        if self._hashes is None:
            hashes: list[str] = []
            for _, batch in self.iter_batches(batch_size):
                hashes.extend(content_hash(img) for img in batch)
            self._hashes = hashes
        return self._hashes


def check_float_range(float_range: object) -> tuple[float, float] | None:
    """Validate a ``float_range`` parameter: a pair ``(low, high)`` with ``low < high``, or
    None. Returns it as a tuple of floats."""
    if float_range is None:
        return None
    try:
        low, high = (float(v) for v in float_range)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        low = high = float("nan")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"float_range={plain_repr(float_range)} must be a pair (low, high) of finite "
            "numbers with low < high, e.g. (0, 1) or (0, 255), or None"
        )
    return low, high


def _object_pixels(X: np.ndarray, name: str) -> np.ndarray:
    """An object array of numbers as float64; a TypeError naming the first non-number."""
    try:
        return X.astype(np.float64)
    except (TypeError, ValueError):
        pass
    for index in np.ndindex(X.shape):
        value = X[index]
        try:
            float(value)
        except (TypeError, ValueError):
            kind = type(value).__name__
            where = plain_repr(tuple(int(i) for i in index))
            raise TypeError(
                f"{name} has dtype object holding a {kind} ({plain_repr(value)}) at index "
                f"{where}: a pixel argument must be a real number, not a string or another "
                "object; expected numbers (integer pixels on [0, 255] or float pixels on "
                "[0, 1]) or a sequence of image file paths"
            ) from None
    return X.astype(np.float64)  # pragma: no cover - astype failed, yet every value converts


def _check_float_pixels(
    X: np.ndarray, float_range: tuple[float, float] | None, name: str
) -> np.ndarray:
    """Refuse float pixels outside ``float_range``; map the range to [0, 1]."""
    if not np.isfinite(X).all():
        raise ValueError(
            f"{name} contains NaN or infinite pixel values; expected finite pixels (float "
            "images on [0, 1])"
        )
    if float_range is None or X.size == 0:
        return X
    low, high = float_range
    lo, hi = float(X.min()), float(X.max())
    slack = _RANGE_TOLERANCE * (high - low)
    if lo < low - slack or hi > high + slack:
        if (low, high) == FLOAT_RANGE:
            fix = (
                "divide by 255 (X / 255), pass uint8 pixels (X.astype(np.uint8)), or declare "
                "the range with float_range=(0, 255)"
                if hi <= 255 + slack and lo >= -slack
                else "rescale them to [0, 1], or declare their range with float_range=(low, "
                "high) (None takes any floats as they are)"
            )
            raise ValueError(
                f"{name} holds float pixels on [{lo:g}, {hi:g}], but float images must be on "
                f"[0, 1]: {fix}"
            )
        raise ValueError(
            f"{name} holds float pixels on [{lo:g}, {hi:g}], outside float_range=({low:g}, "
            f"{high:g}): rescale them, or set float_range to their range (None takes any "
            "floats as they are)"
        )
    if (low, high) != FLOAT_RANGE:
        X = (X - np.asarray(low, X.dtype)) / np.asarray(high - low, X.dtype)
    if lo < low or hi > high:  # rounding within the tolerance
        X = np.clip(X, 0.0, 1.0)
    return X


def check_image_size(
    image_shape: Sequence[int],
    min_size: Sequence[int],
    *,
    consumer: str,
    name: str = "X",
    reason: str = "",
    fix: str = "",
) -> None:
    """Raise a ValueError naming both sizes when images of ``image_shape`` are smaller than
    ``min_size`` ``(H, W)``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W[, C])`` of the images.
    min_size : (int, int)
        The smallest ``(H, W)`` the consumer takes.
    consumer : str
        Who refuses them (``"HOGFeatures with pixels_per_cell=(8, 8)"``).
    name : str
        The input's name.
    reason, fix : str
        Why that is the minimum, and what the user can do (appended when given).
    """
    h, w = (int(s) for s in tuple(image_shape)[:2])
    min_h, min_w = (int(s) for s in min_size)
    if h >= min_h and w >= min_w:
        return
    why = f" ({reason})" if reason else ""
    todo = f"; {fix}" if fix else ""
    raise ValueError(
        f"{name} holds images of size {h}x{w}, too small for {consumer}: it needs at least "
        f"{min_h}x{min_w} pixels{why}{todo}"
    )


def _check_array(
    X: np.ndarray,
    image_shape: Sequence[int] | None,
    name: str,
    float_range: tuple[float, float] | None = FLOAT_RANGE,
) -> np.ndarray:
    if X.dtype == bool:
        X = X.astype(np.uint8) * 255
    if X.dtype == object:
        X = _object_pixels(X, name)
    if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
        example = ""
        if X.dtype.kind in "US" and X.size:
            example = f" (strings such as {plain_repr(X.flat[0])})"
        raise TypeError(
            f"{name} has dtype {X.dtype}{example}; expected integer pixels on [0, 255] or "
            "float pixels on [0, 1], or a sequence of image file paths"
        )
    if X.ndim == 2:
        d = X.shape[1]
        if image_shape is None:
            side = int(round(np.sqrt(d)))
            if side * side != d:
                raise ValueError(
                    f"{name} is a flat 2-D array of shape {X.shape} and {d} is not a square "
                    "number of pixels; pass image_shape=(H, W) or (H, W, C) with H*W*C == "
                    f"{d}, or give images as an (n, H, W[, C]) array"
                )
            image_shape = (side, side)
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) not in (2, 3) or int(np.prod(image_shape)) != d:
            raise ValueError(
                f"image_shape={image_shape} does not fit {name} of shape {X.shape}: expected "
                f"(H, W) or (H, W, C) with H*W*C == {d}"
            )
        X = X.reshape((X.shape[0], *image_shape))
    elif image_shape is not None and tuple(X.shape[1:]) != tuple(image_shape) and X.ndim in (3, 4):
        raise ValueError(
            f"{name} holds images of shape {X.shape[1:]} but image_shape={tuple(image_shape)}"
        )
    if X.ndim not in (3, 4):
        raise ValueError(
            f"{name} has {X.ndim} dimensions (shape {X.shape}); expected (n, H, W), "
            "(n, H, W, C), or a flat (n, H*W) array with image_shape"
        )
    if X.ndim == 4:
        if X.shape[-1] == 1:
            X = X[..., 0]
        elif X.shape[-1] != 3:
            raise ValueError(
                f"{name} has shape {X.shape}: expected channels last with C in (1, 3); "
                "for channels-first data use X.transpose(0, 2, 3, 1)"
            )
    if X.shape[0] == 0:
        raise ValueError(f"{name} contains 0 images; expected at least 1")
    if np.issubdtype(X.dtype, np.floating):
        X = _check_float_pixels(X, float_range, name)
    elif X.dtype != np.uint8:
        lo, hi = int(X.min()), int(X.max())
        if lo < 0 or hi > 255:
            raise ValueError(
                f"{name} has integer pixels on [{lo}, {hi}]; expected values on [0, 255] "
                "(clip or rescale them, or give float pixels with float_range)"
            )
        X = X.astype(np.uint8)
    return X


def resolve_image_shape(image_shape: Sequence[int] | None, X: object) -> tuple | None:
    """Resolve one ``-1`` in ``image_shape`` from the width of a flat 2-D ``X``.

    ``image_shape=(1, -1)`` reads each row of a flat array as a one-row image of any width,
    which lets the transformers take generic 2-D numeric data.
    """
    if image_shape is None:
        return None
    shape = tuple(int(s) for s in image_shape)
    if -1 not in shape:
        return shape
    if shape.count(-1) > 1 or any(s < -1 or s == 0 for s in shape):
        raise ValueError(
            f"image_shape={tuple(image_shape)} may hold at most one -1 and otherwise positive sizes"
        )
    x_shape, dtype = getattr(X, "shape", None), getattr(X, "dtype", None)
    if x_shape is None or len(x_shape) != 2 or dtype is None or dtype.kind in "OUS":
        return None  # not a flat pixel array: the images carry their own shape
    known = int(np.prod([s for s in shape if s != -1]))
    width = int(x_shape[1])
    if width % known:
        raise ValueError(
            f"image_shape={shape} does not fit X with {width} columns: {width} is not a "
            f"multiple of {known}"
        )
    return tuple(width // known if s == -1 else s for s in shape)


def coerce_image_input(X: object) -> object:
    """Turn array-likes into arrays and reject what can never be images, sklearn-style.

    Sequences of paths and :class:`ImageSource` pass through. The messages follow
    scikit-learn's wording where its estimator checks expect it.
    """
    if isinstance(X, (ImageSource, str, os.PathLike)):
        return X
    if isinstance(X, (list, tuple)):
        if len(X) and all(isinstance(x, (str, os.PathLike)) for x in X):
            return X  # image paths
        try:
            X = np.asarray(X)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"X cannot be read as an image array: {exc}") from exc
    if sp.issparse(X):
        raise TypeError(
            "Sparse data was passed for X, but dense data is required: images are dense "
            "pixel arrays. Use X.toarray() to convert to a dense numpy array."
        )
    if not isinstance(X, np.ndarray) and hasattr(X, "__array__"):
        X = np.asarray(X)
    if not isinstance(X, np.ndarray):
        return X
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported: X must hold real pixel values")
    if X.dtype == object and X.ndim >= 2:  # numbers stored as objects
        X = _object_pixels(X, "X")
    if X.ndim == 1 and X.size and X.dtype.kind not in "OUS":
        raise ValueError(
            f"X is a 1-D array of shape {X.shape}; expected images (n, H, W[, C]), a flat "
            "(n, H*W) array, or image paths. Reshape your data either using X.reshape(-1, 1) "
            "if your data has a single feature or X.reshape(1, -1) if it contains a single "
            "sample."
        )
    if X.ndim == 2 and X.shape[1] == 0:
        raise ValueError(
            f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required: X holds empty images"
        )
    return X


def as_image_source(
    X: object,
    image_shape: Sequence[int] | None = None,
    *,
    color: str | None = None,
    name: str = "X",
    float_range: tuple[float, float] | None = FLOAT_RANGE,
) -> ImageSource:
    """Validate any supported image input and wrap it as an :class:`ImageSource`.

    Parameters
    ----------
    X : array-like or sequence of paths or ImageSource
        See the module docstring for the accepted forms.
    image_shape : tuple of int, optional
        ``(H, W)`` or ``(H, W, C)`` of each image when ``X`` is a flat 2-D array.
    color : {"gray", "rgb", None}
        How image files are decoded (ignored for arrays).
    name : str
        The argument's name, used in error messages.
    float_range : (float, float) or None, default=(0.0, 1.0)
        The range of float pixels: outside it is an error, inside it is mapped to [0, 1];
        None takes any finite floats as they are (see :data:`FLOAT_RANGE_DOC`).

    Raises
    ------
    ValueError, TypeError, FileNotFoundError
        With a message that names ``name`` and what was expected.
    """
    if isinstance(X, ImageSource):
        return X
    if _is_path_like(X):
        raise TypeError(
            f"{name} is a single path {os.fspath(X)!r}; expected a sequence of image paths "
            "(use hybridfer.data.load_image_folder for a folder)"
        )
    if hasattr(X, "to_numpy") and not hasattr(X, "columns"):  # pandas Series of paths
        X = X.to_numpy()
    if isinstance(X, (list, tuple)) and len(X) > 0 and all(_is_path_like(p) for p in X):
        paths = [os.fspath(p) for p in X]
    elif isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind in "OUS" and len(X) > 0:
        if not all(_is_path_like(p) for p in X):
            raise TypeError(f"{name} is a 1-D array of objects that are not all image paths")
        paths = [os.fspath(p) for p in X]
    else:
        if hasattr(X, "columns"):  # a DataFrame of pixel columns
            X = X.to_numpy()
        try:
            arr = np.asarray(X)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"{name} cannot be read as an image array: {exc}") from exc
        if arr.size == 0 and arr.ndim <= 1:
            raise ValueError(f"{name} contains 0 images; expected at least 1")
        images = _check_array(arr, image_shape, name, check_float_range(float_range))
        return ImageSource(images=images, color=color)
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise FileNotFoundError(
            f"{name}: {len(missing)} of {len(paths)} image paths do not exist, e.g. "
            f"{missing[:3]}{more}"
        )
    return ImageSource(paths=paths, color=color)


def check_path(path: str | os.PathLike, what: str = "path") -> Path:
    """Return ``path`` as a Path, raising FileNotFoundError naming ``what`` if it is absent."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {os.fspath(path)!r} does not exist")
    return p
