"""Face crops cut at annotated boxes: full photos with face boxes (ExpW, AffectNet) into faces.

Data sets of full photographs annotate each face with a box ``x, y, w, h`` in its image's
pixels (:attr:`FERDataset.boxes <hybridfer.data.FERDataset>`); several faces may share one
photo. :func:`crop_boxes` turns such a data set into one of decoded face crops, one per row,
reading each photo once.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from PIL import Image

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import FERDataset
from hybridfer.data.folders import _resized
from hybridfer.images import read_image

__all__ = ["crop_boxes"]


def _check_size(size: object, what: str = "size") -> tuple[int, int] | None:
    """``size`` (None, an int, or a pair ``(h, w)`` of positive ints) as ``(h, w)`` or None."""
    if size is None:
        return None
    if isinstance(size, Integral) and not isinstance(size, bool):
        pair: tuple[object, ...] = (size, size)
    elif isinstance(size, (tuple, list)) and len(size) == 2:
        pair = tuple(size)
    else:
        pair = ()
    if len(pair) != 2 or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in pair
    ):
        raise ValueError(
            f"{what} must be a positive int or a pair (height, width) of positive ints, "
            f"got {plain_repr(size)}"
        )
    return int(pair[0]), int(pair[1])  # type: ignore[call-overload]


def _check_color(color: object, allow_none: bool) -> None:
    allowed = ("gray", "rgb", None) if allow_none else ("gray", "rgb")
    if color not in allowed:
        names = "'gray', 'rgb' or None" if allow_none else "'gray' or 'rgb'"
        raise ValueError(f"color must be {names}, got {plain_repr(color)}")


def _in_color(image: np.ndarray, color: str | None) -> np.ndarray:
    """A gray ``(H, W)`` or RGB ``(H, W, 3)`` uint8 image in ``color`` (None: as it is)."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if color == "rgb" and image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if color == "gray" and image.ndim == 3:
        return np.asarray(Image.fromarray(image).convert("L"), dtype=np.uint8)
    return image


def _crop_window(
    box: np.ndarray,
    shape: tuple[int, ...],
    margin: float,
    clip: bool,
    row: int,
    where: str,
) -> tuple[int, int, int, int]:
    """The pixel window ``(y0, y1, x0, x1)`` of ``box`` grown by ``margin``, in an image of
    ``shape``; a ValueError naming the row and its image for a box outside the image."""
    x, y, w, h = (int(v) for v in box)
    height, width = shape[:2]
    if w <= 0 or h <= 0:
        raise ValueError(
            f"row {row} ({where}) has the empty box x={x}, y={y}, w={w}, h={h}; a face box "
            "needs a positive width and height"
        )
    inside = x >= 0 and y >= 0 and x + w <= width and y + h <= height
    overlaps = x < width and y < height and x + w > 0 and y + h > 0
    if not overlaps or (not inside and not clip):
        hint = "" if not overlaps else "; pass clip=True to cut such boxes at the image border"
        raise ValueError(
            f"row {row} ({where}) has the box x={x}, y={y}, w={w}, h={h} "
            f"{'outside' if not overlaps else 'reaching outside'} its image of width {width} "
            f"and height {height}{hint}"
        )
    mx, my = round(margin * w), round(margin * h)
    x0, x1 = max(0, x - mx), min(width, x + w + mx)
    y0, y1 = max(0, y - my), min(height, y + h + my)
    return y0, y1, x0, x1


def _where(ds: FERDataset, i: int) -> str:
    """Row ``i``'s image as messages name it: its file, else ``images[i]``."""
    return f"images[{i}]" if ds.paths is None else repr(str(ds.paths[i]))


def crop_boxes(
    ds: FERDataset,
    *,
    size: int | tuple[int, int] | None = None,
    margin: float = 0.0,
    color: str | None = None,
    clip: bool = False,
    n_jobs: int | None = None,
) -> FERDataset:
    """The face crops cut from each row's image at its box, decoded into ``images``.

    Parameters
    ----------
    ds : FERDataset
        A data set with ``boxes`` (``x, y, w, h`` in pixels of each row's image), such as
        :func:`~hybridfer.data.load_expw`'s. Its decoded ``images`` are cut when present,
        else its ``paths`` are read, each file once however many faces it holds.
    size : int or (int, int), optional
        Resize every crop (bilinear) to ``size x size`` or ``(height, width)``. Without it
        all crops must share one size (the first one of another size is named).
    margin : float, default=0.0
        Fraction of the box's width (height) added on its left and right (top and bottom),
        clipped at the image's borders: 0.2 grows a 100-pixel box to 140 pixels.
    color : {"gray", "rgb"} or None
        Colour of the crops; None keeps that of ``ds.images`` when decoded, else "gray".
    clip : bool, default=False
        Cut a box reaching past its image's border at the border; by default such a box is
        refused (a box wholly outside its image always is).
    n_jobs : int, optional
        Decoding threads.

    Returns
    -------
    FERDataset
        One crop per row, in the same order, with the same ``labels``, ``classes``,
        ``usage``, ``groups``, ``soft_labels``, ``columns`` and ``name``; ``boxes`` and
        ``paths`` are dropped (the crops are no longer those files), the source file of each
        crop is kept in the column ``"source"``.

    Raises
    ------
    ValueError
        If ``ds`` has no boxes, if a box is empty or outside its image (its row, file and the
        image's size are named), or on a bad ``size``, ``margin`` or ``color``.
    """
    if getattr(ds, "boxes", None) is None:
        raise ValueError(
            f"data set {ds.name!r} has no boxes: crop_boxes needs a face box x, y, w, h per "
            "row, as the loaders of full photographs give (load_expw, the AffectNet CSV release)"
        )
    out_size = _check_size(size)
    if not isinstance(margin, Real) or isinstance(margin, bool) or not np.isfinite(margin):
        raise ValueError(f"margin must be a finite number >= 0, got {plain_repr(margin)}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0 (a fraction of the box), got {plain_repr(margin)}")
    _check_color(color, allow_none=True)
    boxes = ds.boxes
    n = len(ds)
    if ds.images is not None:
        want = color
        crops = []
        for i in range(n):
            image = ds.images[i]
            y0, y1, x0, x1 = _crop_window(boxes[i], image.shape, margin, clip, i, _where(ds, i))
            crops.append(_resized(_in_color(image[y0:y1, x0:x1], want), out_size))
    else:
        want = color or "gray"
        paths = [str(p) for p in ds.paths]
        rows_of: dict[str, list[int]] = {}
        for i, p in enumerate(paths):
            rows_of.setdefault(p, []).append(i)

        def cut(path: str) -> list[np.ndarray]:
            image = read_image(path, want)
            out = []
            for i in rows_of[path]:
                y0, y1, x0, x1 = _crop_window(boxes[i], image.shape, margin, clip, i, repr(path))
                crop = image[y0:y1, x0:x1]
                # a copy, not a view: the whole photo is not kept alive by each of its faces
                out.append(crop.copy() if out_size is None else _resized(crop, out_size))
            return out

        jobs = min(8, os.cpu_count() or 1) if n_jobs is None else n_jobs
        if jobs <= 1 or len(rows_of) < 16:
            per_file = [cut(p) for p in rows_of]
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                per_file = list(pool.map(cut, rows_of, chunksize=16))
        crops = [np.empty(0)] * n
        for path, cut_faces in zip(rows_of, per_file, strict=True):
            for i, crop in zip(rows_of[path], cut_faces, strict=True):
                crops[i] = crop
    if n == 0:
        raise ValueError(f"data set {ds.name!r} has no rows to crop")
    first = crops[0].shape
    for i, crop in enumerate(crops):
        if crop.shape != first:
            raise ValueError(
                f"the crop of row {i} ({_where(ds, i)}, box {plain_repr(boxes[i].tolist())}) "
                f"has shape {crop.shape} but that of row 0 ({_where(ds, 0)}, box "
                f"{plain_repr(boxes[0].tolist())}) has {first}: pass size= to resize every "
                "crop to one size"
            )
    images = np.stack(crops)
    columns = dict(ds.columns)
    if ds.paths is not None and "source" not in columns:
        columns["source"] = np.asarray(ds.paths, dtype=str)
    return replace(ds, images=images, paths=None, boxes=None, columns=columns)
