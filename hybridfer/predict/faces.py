"""Predicting the faces in photos and videos with a fitted pipeline: one row per face.

:func:`predict_faces` finds the faces in each photo or sampled video frame
(:mod:`hybridfer.faces`), aligns each one to the crops the pipeline was trained on (size and
colour from :func:`~hybridfer.predict.pipeline_info`), classifies the crops in batches and
returns a :class:`pandas.DataFrame` with the columns :func:`face_columns` lists. In a video
each face gets a track id (:class:`~hybridfer.faces.IoUTracker`), and a track's
probabilities can be smoothed over a window of frames. An image whose size is the pipeline's
own is taken whole (a FER2013-like crop needs no detection).

:func:`~hybridfer.predict.run.predict_faces_to_csv` writes those rows to a CSV
(atomically) with, when asked, annotated copies (:mod:`~hybridfer.predict.annotate`) and
probability timelines (:mod:`~hybridfer.predict.timeline`);
:func:`~hybridfer.predict.run.run_predict` is ``hybridfer predict``: photos and videos get
the face layout; FER2013 CSVs and ``--faces none`` keep the per-image layout of
:func:`~hybridfer.predict.predict_to_csv`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybridfer._messages import one_line, plain_json, plain_repr
from hybridfer.predict.expects import pipeline_info
from hybridfer.predict.saved import load_predictor
from hybridfer.predict.to_csv import (
    PredictInputError,
    collect_inputs,
    predict_labels,
    size_refused,
)

__all__ = [
    "FACES_MODES",
    "FACE_COLUMNS",
    "FaceCounts",
    "face_columns",
    "predict_faces",
    "predict_faces_counts",
]

#: The columns of :func:`predict_faces`, without the ``proba_<class>`` columns that go
#: between ``label`` and ``error`` (see :func:`face_columns`).
FACE_COLUMNS = (
    "path",
    "frame",
    "time_s",
    "face",
    "track",
    "box_x",
    "box_y",
    "box_w",
    "box_h",
    "score",
    "label",
    "error",
)
#: The values of ``faces=``: find faces unless the image is the pipeline's size, never, or
#: always with that detector backend.
FACES_MODES = ("auto", "none", "mtcnn", "haar")
_SELECT = ("largest", "center")
#: Crop size for a pipeline that resizes and whose training image size is unknown.
_DEFAULT_CROP = (48, 48)
#: Pixels of the photos (or frames) decoded before detection runs on them, at most (with at
#: most ``batch_size`` of them): memory stays bounded whatever the image sizes.
_CHUNK_PIXELS = 40_000_000
_INT_COLUMNS = ("frame", "face", "track")


def face_columns(classes: Sequence[Any] | None = None) -> list[str]:
    """The columns of :func:`predict_faces`: :data:`FACE_COLUMNS` with ``proba_<class>``
    for each of ``classes`` (None: a pipeline without ``predict_proba``) before ``error``."""
    probas = [f"proba_{c}" for c in classes] if classes is not None else []
    return [*FACE_COLUMNS[:-1], *probas, FACE_COLUMNS[-1]]


@dataclass
class _Item:
    """One photo or sampled frame: where it came from and its pixels (or why it has none)."""

    path: str
    frame: int | None = None
    time_s: float | None = None
    image: np.ndarray | None = None
    error: str | None = None


@dataclass
class FaceCounts:
    """What a :func:`predict_faces_counts` run met: photos (with a face, unreadable), videos
    (unreadable), sampled frames (with a face), face rows and the first read error."""

    photos: int = 0
    photos_with_face: int = 0
    photos_failed: int = 0
    videos: int = 0
    videos_failed: int = 0
    frames: int = 0
    frames_with_face: int = 0
    faces: int = 0
    first_error: str | None = None

    def failed(self, error: str) -> None:
        self.first_error = self.first_error or error


class _FaceRun:
    """Finds, aligns and classifies faces for :func:`predict_faces` (one per call)."""

    def __init__(self, model: Any, info: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        self.model = model
        image = info["image"]
        self.color = image.get("color") or "gray"
        self.resizes = bool(image["resizes"])
        shape = image.get("shape")
        self.size = tuple(int(v) for v in shape[:2]) if shape else _DEFAULT_CROP
        self.proba = bool(info["probabilities"]) and info["classes"] is not None
        self.classes = list(info["classes"]) if info["classes"] is not None else None
        self.columns = face_columns(self.classes if self.proba else None)
        self.proba_columns = self.columns[len(FACE_COLUMNS) - 1 : -1]
        self.mode = options["faces"]
        self.select = options["select"]
        self.margin = options["margin"]
        self.min_face_size = options["min_face_size"]
        self.batch_size = options["batch_size"]
        self.fps = options["fps"]
        self.smooth = options["smooth"]
        self.counts = FaceCounts()
        self._detector: Any = None

    # -- deciding and detecting ----------------------------------------------------------
    def whole(self, image: np.ndarray) -> bool:
        """Whether ``image`` is taken whole rather than searched for faces."""
        return self.mode == "none" or (
            self.mode == "auto" and tuple(image.shape[:2]) == tuple(self.size)
        )

    def detector(self) -> Any:
        if self._detector is None:
            from hybridfer.faces import make_detector

            backend = "mtcnn" if self.mode == "auto" else self.mode
            self._detector = make_detector(backend, min_face_size=self.min_face_size)
        return self._detector

    def no_face(self, shape: Sequence[int]) -> str:
        """The error of an image without a face, naming the least face size searched for."""
        d = self.detector()
        h, w = shape[:2]
        least, extra = d.min_face_size, ""
        if max(h, w) > d.max_side:
            least = max(least, math.ceil(d.min_detectable * max(h, w) / d.max_side))
            extra = f"; the {w}x{h} image was downscaled to {d.max_side} pixels for detection"
        return f"no face of at least {least}x{least} pixels found ({d.name} detector{extra})"

    def choose(self, faces: list, image: np.ndarray) -> list:
        if self.select is None or not faces:
            return faces
        boxes = np.array([f.box for f in faces], dtype=float)
        if self.select == "largest":
            return [faces[int(np.argmax(boxes[:, 2] * boxes[:, 3]))]]
        centre = np.array([image.shape[1], image.shape[0]], dtype=float) / 2.0
        return [faces[int(np.argmin(np.hypot(*(boxes[:, :2] + boxes[:, 2:] / 2 - centre).T)))]]

    def whole_input(self, item: _Item) -> np.ndarray:
        """The whole image as the pipeline reads it (in its colour; resized by it, if at all)."""
        from PIL import Image

        image = item.image
        if not self.resizes and tuple(image.shape[:2]) != tuple(self.size):
            raise size_refused(
                item.path, image.shape, self.size, "; or find the faces with faces='auto'"
            )
        if self.color == "gray" and image.ndim == 3:
            return np.asarray(Image.fromarray(image).convert("L"))
        if self.color == "rgb" and image.ndim == 2:
            return np.repeat(image[:, :, None], 3, axis=2)
        return image

    # -- rows ----------------------------------------------------------------------------
    def row(self, item: _Item, **values: Any) -> dict[str, Any]:
        return {"path": item.path, "frame": item.frame, "time_s": item.time_s, **values}

    def rows(self, items: list[_Item], tracker: Any = None) -> list[dict[str, Any]]:
        """One row per face of each item (or one saying why there is none), predicted."""
        from hybridfer.faces import align_face

        search = [
            i for i, it in enumerate(items) if it.image is not None and not self.whole(it.image)
        ]
        found = dict(
            zip(
                search,
                self.detector().detect([items[i].image for i in search]) if search else [],
                strict=True,
            )
        )
        rows: list[dict[str, Any]] = []
        crops: list[tuple[dict[str, Any], np.ndarray]] = []
        c = self.counts
        for i, item in enumerate(items):
            photo = item.frame is None
            c.photos += photo
            c.frames += not photo
            if item.image is None:
                c.photos_failed += photo
                c.failed(item.error)
                rows.append(self.row(item, error=item.error))
                continue
            h, w = item.image.shape[:2]
            faces = self.choose(found[i], item.image) if i in found else [None]
            c.faces += len(faces)
            c.photos_with_face += photo and bool(faces)
            c.frames_with_face += not photo and bool(faces)
            boxes = [(0.0, 0.0, float(w), float(h)) if f is None else f.box for f in faces]
            tracks = tracker.update(boxes) if tracker is not None else [None] * len(faces)
            if not faces:
                rows.append(self.row(item, error=self.no_face(item.image.shape)))
                continue
            for k, (face, box) in enumerate(zip(faces, boxes, strict=True)):
                row = self.row(
                    item,
                    face=k,
                    track=tracks[k],
                    box_x=box[0],
                    box_y=box[1],
                    box_w=box[2],
                    box_h=box[3],
                    score=np.nan if face is None else face.score,
                    error="",
                )
                if face is None:
                    crop = self.whole_input(item)
                else:
                    crop = align_face(
                        item.image, face, size=self.size, color=self.color, margin=self.margin
                    )
                rows.append(row)
                crops.append((row, crop))
        self.classify(crops)
        return rows

    def classify(self, crops: list[tuple[dict[str, Any], np.ndarray]]) -> None:
        """Predict the crops in batches of one shape; write label and probabilities into their
        rows."""
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for k, (_, crop) in enumerate(crops):
            by_shape.setdefault(crop.shape, []).append(k)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                X = np.stack([crops[k][1] for k in chunk])
                labels, P = predict_labels(
                    self.model,
                    X,
                    self.proba,
                    self.classes,
                    f"image {crops[chunk[0]][0]['path']!r}",
                    f"its {X.shape[1]}x{X.shape[2]} crops",
                )
                for j, k in enumerate(chunk):
                    row = crops[k][0]
                    row["label"] = plain_json(labels[j])
                    if P is not None:
                        row.update(zip(self.proba_columns, P[j].tolist(), strict=True))

    # -- inputs --------------------------------------------------------------------------
    def photos(self, items: Iterable[_Item]) -> Iterator[list[dict[str, Any]]]:
        """Rows of photos (or in-memory images), decoded and detected in chunks."""
        for chunk in _chunks(items, self.batch_size):
            yield self.rows(chunk)

    def video(self, path: str) -> list[dict[str, Any]]:
        """Rows of one video's sampled frames, tracked, smoothed when asked."""
        from hybridfer.faces import IoUTracker
        from hybridfer.video import VideoReadError, read_video

        c = self.counts
        c.videos += 1
        rows: list[dict[str, Any]] = []
        tracker = IoUTracker()
        try:
            frames = read_video(path, fps=self.fps, color="rgb")
            items = (_Item(path, f.index, f.time_s, f.image) for f in frames)
            for chunk in _chunks(items, self.batch_size):
                rows += self.rows(chunk, tracker)
        except VideoReadError as exc:  # no decodable frame (read_video yields none then)
            c.videos_failed += 1
            c.failed(one_line(exc))
            return [*rows, self.row(_Item(path), error=one_line(exc))]
        if self.smooth and self.smooth > 1:
            self.smooth_rows([r for r in rows if r.get("face") is not None])
        return rows

    def smooth_rows(self, rows: list[dict[str, Any]]) -> None:
        from hybridfer.faces import smooth_probabilities

        if not rows:
            return
        cols = self.proba_columns
        P = np.array([[r[k] for k in cols] for r in rows], dtype=float)
        S = smooth_probabilities(
            P, [r["track"] for r in rows], [r["frame"] for r in rows], self.smooth
        )
        for row, p in zip(rows, S, strict=True):
            row.update(zip(cols, p.tolist(), strict=True))
            row["label"] = self.classes[int(np.argmax(p))]


def _chunks(items: Iterable[_Item], count: int) -> Iterator[list[_Item]]:
    """``items`` in lists of at most ``count`` items and about :data:`_CHUNK_PIXELS` pixels."""
    chunk: list[_Item] = []
    pixels = 0
    for item in items:
        chunk.append(item)
        pixels += 0 if item.image is None else item.image.shape[0] * item.image.shape[1]
        if len(chunk) >= count or pixels >= _CHUNK_PIXELS:
            yield chunk
            chunk, pixels = [], 0
    if chunk:
        yield chunk


def _check_options(options: Mapping[str, Any], proba: bool) -> None:
    if options["faces"] not in FACES_MODES:
        raise ValueError(
            f"faces must be one of {', '.join(map(repr, FACES_MODES))}, got "
            f"{plain_repr(options['faces'])}"
        )
    fps = options["fps"]
    if fps is not None and (
        isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0
    ):
        raise ValueError(f"fps must be a number > 0 or None (every frame), got {plain_repr(fps)}")
    for name in ("smooth", "min_face_size", "batch_size"):
        value = options[name]
        if value is None and name == "smooth":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {plain_repr(value)}")
    if options["select"] is not None and options["select"] not in _SELECT:
        raise ValueError(
            f"select must be None (every face), 'largest' or 'center', got "
            f"{plain_repr(options['select'])}"
        )
    margin = options["margin"]
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin > -0.5:
        raise ValueError(f"margin must be a number > -0.5, got {plain_repr(margin)}")
    if options["smooth"] and options["smooth"] > 1 and not proba:
        raise ValueError("smooth needs class probabilities, but the pipeline has no predict_proba")


def _array_items(source: Any) -> list[_Item] | None:
    """In-memory images as items named ``<image i>``, or None when ``source`` is paths."""
    if isinstance(source, np.ndarray):
        one = source.ndim == 2 or (source.ndim == 3 and source.shape[-1] == 3)
        images = [source] if one else list(source)
    elif isinstance(source, (list, tuple)) and source and isinstance(source[0], np.ndarray):
        images = list(source)
    else:
        return None
    items = []
    for i, image in enumerate(images):
        image = np.asarray(image)
        if (
            image.dtype != np.uint8
            or image.ndim not in (2, 3)
            or (image.ndim == 3 and image.shape[2] != 3)
        ):
            raise ValueError(
                f"image {i} of source has dtype {image.dtype} and shape {image.shape}; expected "
                "uint8 (H, W) gray or (H, W, 3) RGB images"
            )
        items.append(_Item(f"<image {i}>", image=image))
    return items


def _photo_items(paths: Iterable[str], progress: Any) -> Iterator[_Item]:
    from hybridfer.images import read_image

    for path in paths:
        try:
            yield _Item(path, image=read_image(path, "rgb"))
        except (OSError, ValueError) as exc:  # FileNotFoundError, ImageReadError, ...
            yield _Item(path, error=one_line(exc))
        progress.update(1)


def _rows(
    pipeline: Any,
    source: Any,
    metadata: Mapping[str, Any] | None,
    options: Mapping[str, Any],
    progress: bool,
) -> tuple[_FaceRun, list[dict[str, Any]]]:
    from tqdm.auto import tqdm

    from hybridfer.video import is_video

    if isinstance(pipeline, (str, os.PathLike)):
        pipeline, saved = load_predictor(pipeline, "pipeline file")
        metadata = saved if metadata is None else metadata
    info = pipeline_info(pipeline, metadata)
    run = _FaceRun(pipeline, info, options)
    _check_options(options, run.proba)
    items = _array_items(source)
    rows: list[dict[str, Any]] = []
    if items is not None:
        for chunk in run.photos(items):
            rows += chunk
        return run, rows
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    csvs = [os.fspath(p) for p in paths if os.fspath(p).lower().endswith(".csv")]
    if csvs:
        raise PredictInputError(
            f"input {csvs[0]!r} is a CSV: predict_faces takes photos, videos and folders; "
            "predict a FER2013 CSV with predict_to_csv (or hybridfer predict)"
        )
    found = collect_inputs(paths, videos=True).paths
    bar = tqdm(
        total=len(found),
        unit="file",
        desc="predict",
        leave=False,
        disable=None if progress else True,
    )
    try:
        photos: list[str] = []
        for path in [*found, None]:  # None flushes the photos before it
            if path is not None and not is_video(path):
                photos.append(path)
                continue
            for chunk in run.photos(_photo_items(photos, bar)):
                rows += chunk
            photos = []
            if path is not None:
                rows += run.video(path)
                bar.update(1)
    finally:
        bar.close()
    return run, rows


def _frame(run: _FaceRun, rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    df = pd.DataFrame(rows, columns=run.columns)
    for col in _INT_COLUMNS:
        df[col] = pd.array(df[col].tolist(), dtype="Int64")
    floats = [
        c for c in run.columns if c.startswith(("box_", "proba_")) or c in ("time_s", "score")
    ]
    df[floats] = df[floats].astype(float)
    df["label"] = df["label"].astype(object).where(df["label"].notna(), None)
    df["error"] = df["error"].fillna("").astype(str)
    return df


def predict_faces(
    pipeline: Any,
    source: Any,
    *,
    faces: str = "auto",
    fps: float | None = None,
    smooth: int | None = None,
    select: str | None = None,
    margin: float = 0.0,
    min_face_size: int = 20,
    batch_size: int = 64,
    progress: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """Find, align and classify every face in photos and videos; one row per face.

    Parameters
    ----------
    pipeline : fitted pipeline, path or str
        A fitted estimator, a pipeline file (:func:`~hybridfer.predict.load_pipeline`), or a
        FER model shipped with hybridfer by name (``"fer2013-vgg"``; its card's ``tta``
        applies) or card file (:func:`~hybridfer.predict.load_predictor`).
        Faces are aligned to the images it expects: its fixed image size and colour, or, for
        a pipeline that resizes, its training image size when known (else 48x48).
    source : path, sequence of paths, or ndarray
        A photo, a video (by suffix, :data:`hybridfer.video.VIDEO_SUFFIXES`), a folder
        (searched recursively for both; other files are ignored), a list of those, or uint8
        images: one ``(H, W)`` / ``(H, W, 3)`` array, a batch ``(n, H, W[, 3])`` or a list
        (their ``path`` is ``"<image i>"``).
    faces : {"auto", "none", "mtcnn", "haar"}, default="auto"
        ``"auto"``: an image (or video) of exactly the pipeline's size is one face, the whole
        image (box = the image, ``score`` empty); other images are searched with MTCNN.
        ``"none"``: every image whole (a pipeline that does not resize refuses other sizes).
        ``"mtcnn"``, ``"haar"``: always search, with that detector backend.
    fps : float or None, default=None
        Video frames sampled per second (by their timestamps); None takes every frame.
    smooth : int or None, default=None
        Average each video track's probabilities over this many consecutive sampled frames
        (centered) and relabel (needs ``predict_proba``); None or 1 leaves them as predicted.
    select : {None, "largest", "center"}, default=None
        None keeps every face; otherwise one face per image or frame.
    margin : float, default=0.0
        Context around aligned faces (:func:`~hybridfer.faces.align_face`).
    min_face_size : int, default=20
        The smallest face searched for, in pixels of the original image.
    batch_size : int, default=64
        Face crops classified at once.
    progress : bool, default=False
        A tqdm bar over the input files on stderr (when it is a terminal).
    metadata : mapping, optional
        The pipeline's saved metadata, when ``pipeline`` is an estimator (a file brings its
        own).

    Returns
    -------
    pandas.DataFrame
        Columns :func:`face_columns`: ``path``; ``frame`` (the decoded frame index) and
        ``time_s`` (seconds) for video rows, empty for photos; ``face`` (0, 1, ... within
        the image or frame, by detector score); ``track`` (a face's id across a video's
        frames, empty for photos); ``box_x, box_y, box_w, box_h`` (pixels of the original
        image); ``score`` (detector confidence); ``label``; ``proba_<class>`` when the
        pipeline has ``predict_proba``; ``error``: empty, or why the row has no prediction
        (an image or frame without a face, ``"no face of at least 20x20 pixels found
        (...)"``, or a file that cannot be read; the run goes on).

    Raises
    ------
    PredictInputError
        Missing inputs, a folder with no photo or video, a CSV, or images the pipeline
        cannot predict (named).
    FaceDetectorUnavailableError
        When the detector's package is missing (the install command is named).
    """
    options = dict(
        faces=faces,
        fps=fps,
        smooth=smooth,
        select=select,
        margin=margin,
        min_face_size=min_face_size,
        batch_size=batch_size,
    )
    return predict_faces_counts(pipeline, source, metadata=metadata, progress=progress, **options)[
        0
    ]


def predict_faces_counts(
    pipeline: Any,
    source: Any,
    *,
    metadata: Mapping[str, Any] | None = None,
    progress: bool = False,
    **options: Any,
) -> tuple[Any, FaceCounts]:
    """:func:`predict_faces` (same parameters), with what the run met: ``(rows, counts)``."""
    defaults = dict(faces="auto", fps=None, smooth=None, select=None, margin=0.0)
    defaults.update(min_face_size=20, batch_size=64)
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise TypeError(f"predict_faces got unexpected keyword arguments {unknown}")
    run, rows = _rows(pipeline, source, metadata, {**defaults, **options}, progress)
    return _frame(run, rows), run.counts
