"""ExpW: Expression in-the-Wild, faces in full web photographs (91,793 by its paper's count),
one box per face.

The release (Zhang et al., "From Facial Expression Recognition to Interpersonal Relation
Prediction", IJCV 2018; CUHK MMLab) holds::

    label/label.lst          one line per face, space separated:
                             image_name face_id_in_image face_box_top face_box_left
                             face_box_right face_box_bottom face_box_cofidence expression_label
    image/origin/<image_name>  the full photographs (unpacked from origin.7z.*)

A line such as ``angry_actor_104.jpg 0 106 233 310 383 69.74 2`` is face 0 of that photo:
rows 106 to 383 and columns 233 to 310 (right and bottom exclusive, the cut
``image[top:bottom, left:right]``), detector confidence 69.74, label 2 (fear). A photo may
hold several faces. The labels are FER2013's seven in FER2013's order
(:data:`EXPW_CLASSES`). There is no official split. The photos differ in size: load them
lazily (the default) and cut the faces with :func:`~hybridfer.data.crop_boxes`, or ask for
the crops with ``crop=True``.
"""

from __future__ import annotations

import logging
import os
from numbers import Real
from pathlib import Path

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.data.boxes import _check_color, crop_boxes
from hybridfer.data.dataset import FERDataset
from hybridfer.data.folders import dataset_from_files
from hybridfer.images import check_path

__all__ = ["EXPW_CLASSES", "EXPW_COLUMNS", "load_expw"]

_log = logging.getLogger("hybridfer.data")

#: ExpW's expression labels 0-6, in code order.
EXPW_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: The fields of a ``label.lst`` line, in order (``cofidence`` is the release's spelling).
EXPW_COLUMNS: tuple[str, ...] = (
    "image_name",
    "face_id_in_image",
    "face_box_top",
    "face_box_left",
    "face_box_right",
    "face_box_bottom",
    "face_box_cofidence",
    "expression_label",
)
_LABEL_FILE = Path("label") / "label.lst"
_IMAGE_DIR = Path("image") / "origin"
_LAYOUT = (
    "expected the ExpW release: label/label.lst (lines 'image_name face_id_in_image "
    "face_box_top face_box_left face_box_right face_box_bottom face_box_cofidence "
    "expression_label') and image/origin/<image_name>"
)


def _expw_root(path: Path) -> Path:
    """The folder holding ``label/label.lst``: ``path`` or its ``data/``, ``ExpW/`` or
    ``ExpW/data/`` subfolder."""
    for candidate in (path, path / "data", path / "ExpW", path / "ExpW" / "data"):
        if (candidate / _LABEL_FILE).is_file():
            if not (candidate / _IMAGE_DIR).is_dir():
                raise FileNotFoundError(
                    f"ExpW folder {os.fspath(candidate)!r} has label/label.lst but no "
                    f"image/origin/ folder of photographs (unpack origin.7z there); {_LAYOUT}"
                )
            return candidate
    raise ValueError(f"ExpW folder {os.fspath(path)!r} has no label/label.lst; {_LAYOUT}")


def _parse_labels(label_file: Path) -> tuple[list[tuple], int]:
    """The rows of ``label.lst`` as tuples (name, face_id, top, left, right, bottom,
    confidence, code), exact duplicate lines dropped, and how many were dropped."""
    rows: list[tuple] = []
    seen: set[tuple[str, ...]] = set()
    duplicates = 0
    where = os.fspath(label_file)
    with open(label_file, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != len(EXPW_COLUMNS):
                raise ValueError(
                    f"ExpW label file {where!r} line {number} has {len(fields)} fields "
                    f"({line.strip()!r}); expected {len(EXPW_COLUMNS)}: {' '.join(EXPW_COLUMNS)}"
                )
            key = tuple(fields)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            name = fields[0]
            try:
                face_id, top, left, right, bottom = (int(v) for v in fields[1:6])
            except ValueError:
                raise ValueError(
                    f"ExpW label file {where!r} line {number} ({line.strip()!r}) has a face id "
                    "or box coordinate that is not an integer; expected face_id_in_image "
                    "face_box_top face_box_left face_box_right face_box_bottom as integers"
                ) from None
            try:
                confidence = float(fields[6])
            except ValueError:
                raise ValueError(
                    f"ExpW label file {where!r} line {number} has the confidence "
                    f"{plain_repr(fields[6])}; expected a number"
                ) from None
            code = fields[7]
            if not code.isdigit() or int(code) >= len(EXPW_CLASSES):
                raise ValueError(
                    f"ExpW label file {where!r} line {number} has the expression label "
                    f"{plain_repr(code)}; expected 0-{len(EXPW_CLASSES) - 1} "
                    f"({', '.join(f'{i} {c}' for i, c in enumerate(EXPW_CLASSES))})"
                )
            if right <= left or bottom <= top:
                raise ValueError(
                    f"ExpW label file {where!r} line {number} has the empty box top={top}, "
                    f"left={left}, right={right}, bottom={bottom}; expected right > left and "
                    "bottom > top"
                )
            rows.append((name, face_id, top, left, right, bottom, confidence, int(code)))
    if not rows:
        raise ValueError(f"ExpW label file {where!r} has no face lines; {_LAYOUT}")
    return rows, duplicates


def load_expw(
    path: str | os.PathLike,
    *,
    min_confidence: float | None = None,
    crop: bool = False,
    size: int | tuple[int, int] | None = None,
    margin: float = 0.0,
    lazy: bool = True,
    color: str = "gray",
    n_jobs: int | None = None,
) -> FERDataset:
    """Load ExpW's faces from ``label/label.lst`` and ``image/origin/``, one row per face.

    Parameters
    ----------
    path : path
        The ExpW release folder holding ``label/`` and ``image/`` (or its parent, holding
        ``data/`` or ``ExpW/``).
    min_confidence : float, optional
        Keep only the faces whose ``face_box_cofidence`` is at least this.
    crop : bool, default=False
        Return the face crops, decoded (:func:`~hybridfer.data.crop_boxes` with ``size``,
        ``margin`` and ``color``; ``lazy`` does not apply), instead of the full photographs.
    size, margin
        As in :func:`~hybridfer.data.crop_boxes`, with ``crop=True``.
    lazy : bool, default=True
        Keep only the photographs' paths (the default: they differ in size); False decodes
        them into one array, which needs them all of one size.
    color : {"gray", "rgb"}
        Decode images as grayscale ``(H, W)`` or RGB ``(H, W, 3)``.
    n_jobs : int, optional
        Decoding threads.

    Returns
    -------
    FERDataset
        Named ``"expw"``, classes :data:`EXPW_CLASSES`, rows in ``label.lst`` order (exact
        duplicate lines dropped); ``paths`` the photographs, ``boxes`` each face's ``x, y,
        w, h`` (left, top, right - left, bottom - top), columns ``"face_id"`` (int) and
        ``"confidence"`` (float); no ``usage`` or ``groups``. With ``crop=True`` the crops
        instead, as :func:`~hybridfer.data.crop_boxes` returns them.

    Raises
    ------
    FileNotFoundError
        If ``path``, ``image/origin/`` or a photograph named in ``label.lst`` is missing.
    ValueError
        If ``label/label.lst`` is not there, or one of its lines is malformed (the line is
        named), if no face passes ``min_confidence``, or if ``size`` or ``margin`` is
        given without ``crop=True``.
    """
    _check_color(color, allow_none=False)
    if not crop and (size is not None or margin != 0.0):
        raise ValueError(
            "size and margin shape the face crops: pass crop=True with them, or call "
            "crop_boxes(ds, size=..., margin=...) on the loaded data set"
        )
    root = _expw_root(check_path(path, "ExpW folder"))
    rows, duplicates = _parse_labels(root / _LABEL_FILE)
    if duplicates:
        _log.info("ExpW: dropped %d duplicate lines of label.lst", duplicates)
    if min_confidence is not None:
        if (
            not isinstance(min_confidence, Real)
            or isinstance(min_confidence, bool)
            or not np.isfinite(min_confidence)
        ):
            raise ValueError(f"min_confidence must be a number, got {plain_repr(min_confidence)}")
        kept = [r for r in rows if r[6] >= min_confidence]
        if not kept:
            best = max(r[6] for r in rows)
            raise ValueError(
                f"no ExpW face has a confidence of at least {min_confidence:g} (the highest is "
                f"{best:g})"
            )
        rows = kept
    image_dir = root / _IMAGE_DIR
    with os.scandir(image_dir) as it:
        present = {e.name for e in it}
    missing = sorted({r[0] for r in rows} - present)
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} photographs named in {os.fspath(root / _LABEL_FILE)!r} are not in "
            f"{os.fspath(image_dir)!r}, e.g. {missing[:3]}"
        )
    names, face_ids, tops, lefts, rights, bottoms, confidences, codes = zip(*rows, strict=True)
    left = np.asarray(lefts, dtype=np.int64)
    top = np.asarray(tops, dtype=np.int64)
    boxes = np.stack(
        [left, top, np.asarray(rights) - left, np.asarray(bottoms) - top], axis=1
    ).astype(np.int64)
    ds = dataset_from_files(
        [os.fspath(image_dir / name) for name in names],
        [EXPW_CLASSES[c] for c in codes],
        EXPW_CLASSES,
        groups=None,
        name="expw",
        color=color,
        lazy=lazy or crop,
        n_jobs=n_jobs,
        boxes=boxes,
        columns={
            "face_id": np.asarray(face_ids, dtype=np.int64),
            "confidence": np.asarray(confidences, dtype=np.float64),
        },
    )
    if crop:
        return crop_boxes(ds, size=size, margin=margin, color=color, n_jobs=n_jobs)
    return ds
