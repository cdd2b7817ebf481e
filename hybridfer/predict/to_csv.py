"""Predicting new images with a fitted pipeline, to a CSV with one row per image.

:class:`PredictInputs` holds what to predict: image files (folders are searched recursively,
for videos too when asked) or the rows of a FER2013 CSV; its :meth:`~PredictInputs.batches`
decodes images batch by batch, whichever they are. :func:`predict_to_csv` applies a pipeline
to them and writes one CSV row per image: where it came from, the predicted label and one
column per class probability. An image that cannot be read becomes a row with its ``error``
and no prediction; the run goes on. This is ``hybridfer predict``'s layout for FER2013 CSVs
and ``--faces none``; :mod:`hybridfer.predict.faces` finds the faces in photos and videos
(one row per face), and :func:`~hybridfer.predict.run.run_predict` is the command.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hybridfer._messages import one_line, plain_json, plain_repr
from hybridfer.predict.expects import pipeline_info

__all__ = [
    "AllImagesFailedError",
    "InputBatch",
    "PredictInputError",
    "PredictInputs",
    "PredictReport",
    "collect_inputs",
    "predict_labels",
    "predict_to_csv",
]


class PredictInputError(ValueError):
    """Inputs that cannot be predicted (missing, none found, a size the pipeline refuses);
    the message names the input."""


class AllImagesFailedError(RuntimeError):
    """``hybridfer predict`` could read none of its input images (exit status 1)."""


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


class InputBatch(NamedTuple):
    """One batch of :meth:`PredictInputs.batches`, one entry per image in each list."""

    #: The leading CSV cells of each image's row (see :attr:`PredictInputs.columns`).
    cells: list[list[Any]]
    #: How messages name each image: its path, or ``"<csv> row <n>"``.
    names: list[str]
    #: ``(image, None)``, or ``(None, error)`` for an image that could not be read.
    decoded: list[tuple[np.ndarray | None, str | None]]
    #: A FER2013 CSV's own labels of the images; None for image files.
    true_labels: list[Any] | None


def _check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {plain_repr(batch_size)}")


def _decode(path: str, color: str) -> tuple[np.ndarray | None, str | None]:
    from hybridfer.images import read_image

    try:
        return read_image(path, color), None
    except (OSError, ValueError) as exc:  # FileNotFoundError, ImageReadError, ...
        return None, " ".join(str(exc).split())


@dataclass
class PredictInputs:
    """What to predict: image files, or the rows of a FER2013 CSV (see :func:`collect_inputs`).

    Attributes
    ----------
    paths : list of str
        The image files (empty for a CSV).
    csv : str or None
        The FER2013 CSV, if the input is one.
    images, rows, usage, labels : ndarray or None
        For a CSV: its images, their 0-based data row numbers, usages and labels.
    """

    paths: list[str] = field(default_factory=list)
    csv: str | None = None
    images: np.ndarray | None = None
    rows: np.ndarray | None = None
    usage: np.ndarray | None = None
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths) if self.csv is None else len(self.rows)

    @property
    def columns(self) -> list[str]:
        """The CSV columns that say where an image came from: ``path``, or ``row``, ``usage``
        and ``true_label`` for a FER2013 CSV (its 0-based data row, header not counted)."""
        return ["path"] if self.csv is None else ["row", "usage", "true_label"]

    def batches(
        self, batch_size: int = 256, *, color: str = "gray", n_jobs: int | None = None
    ) -> Iterator[InputBatch]:
        """The inputs decoded, ``batch_size`` images at a time, in order.

        Parameters
        ----------
        batch_size : int, default=256
            Images per batch (memory stays bounded by it).
        color : {"gray", "rgb"}, default="gray"
            How to decode image files; a CSV's gray images are repeated into three channels
            for ``"rgb"``.
        n_jobs : int, optional
            Threads decoding image files (default: up to 8); 1 decodes in this thread.

        Yields
        ------
        InputBatch
        """
        _check_batch_size(batch_size)
        n_jobs = n_jobs or min(8, os.cpu_count() or 1)
        pool = ThreadPoolExecutor(max_workers=n_jobs) if self.csv is None and n_jobs > 1 else None
        try:
            for start in range(0, len(self), batch_size):
                batch = range(start, min(start + batch_size, len(self)))
                if self.csv is None:
                    names = [self.paths[i] for i in batch]
                    decoded = (
                        list(pool.map(lambda p: _decode(p, color), names))
                        if pool is not None
                        else [_decode(p, color) for p in names]
                    )
                    yield InputBatch([[n] for n in names], names, decoded, None)
                else:
                    images = self.images[batch.start : batch.stop]
                    if color == "rgb":
                        images = np.repeat(images[..., None], 3, axis=-1)
                    yield InputBatch(
                        [[int(self.rows[i]), self.usage[i], self.labels[i]] for i in batch],
                        [f"{self.csv} row {self.rows[i]}" for i in batch],
                        [(img, None) for img in images],
                        [self.labels[i] for i in batch],
                    )
        finally:
            if pool is not None:
                pool.shutdown()


def collect_inputs(
    inputs: Sequence[str | os.PathLike],
    usage: Sequence[str] | None = None,
    *,
    videos: bool = False,
) -> PredictInputs:
    """Image files from folders (searched recursively), files, or one FER2013 CSV.

    Parameters
    ----------
    inputs : sequence of paths
        Image folders, image files, or one FER2013 CSV (then the only input).
    usage : sequence of str, optional
        For a FER2013 CSV: only the rows of these usages (e.g. ``["PrivateTest"]``).
    videos : bool, default=False
        Also take the video files of folders (:data:`hybridfer.video.VIDEO_SUFFIXES`); they
        join :attr:`PredictInputs.paths`, in the same sorted order. Files given by name are
        taken whatever their suffix.

    Returns
    -------
    PredictInputs

    Raises
    ------
    PredictInputError
        A missing input, a CSV given with other inputs, a usage the CSV lacks, or no image
        found.
    """
    from hybridfer.images import IMAGE_SUFFIXES
    from hybridfer.video import VIDEO_SUFFIXES

    suffixes = IMAGE_SUFFIXES + (VIDEO_SUFFIXES if videos else ())
    if not inputs:
        raise PredictInputError("no inputs given: pass image folders, image files or a CSV")
    csvs = [os.fspath(p) for p in inputs if os.fspath(p).lower().endswith(".csv")]
    if csvs and len(inputs) > 1:
        raise PredictInputError(
            f"input {csvs[0]!r}: a FER2013 CSV must be the only input (got {len(inputs)} inputs)"
        )
    if usage and not csvs:
        raise PredictInputError("--usage applies to a FER2013 CSV input only")
    out = PredictInputs()
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise PredictInputError(f"input {os.fspath(p)!r}: no such file or folder")
        if p.is_dir():
            found = sorted(
                os.fspath(f)
                for f in p.rglob("*")
                if f.suffix.lower() in suffixes
                and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            out.paths.extend(found)
        elif os.fspath(p).lower().endswith(".csv"):
            _read_csv_input(out, p, usage)
        else:
            out.paths.append(os.fspath(p))
    if not len(out):
        where = ", ".join(repr(os.fspath(p)) for p in inputs)
        looked = f"{', '.join(IMAGE_SUFFIXES)} files"
        if videos:
            looked = (
                f"photos ({', '.join(IMAGE_SUFFIXES)}) and videos ({', '.join(VIDEO_SUFFIXES)})"
            )
        raise PredictInputError(
            f"no input images found in {where} (looked for {looked}, recursively)"
            + (f" with usage {list(usage)}" if usage else "")
        )
    return out


def _read_csv_input(out: PredictInputs, path: Path, usage: Sequence[str] | None) -> None:
    from hybridfer.data import load_fer2013

    try:
        ds = load_fer2013(path)
    except ValueError as exc:
        raise PredictInputError(str(exc)) from None
    rows = np.arange(len(ds))
    if usage:
        present = sorted(set(ds.usage.tolist()))
        unknown = [u for u in usage if u not in present]
        if unknown:
            raise PredictInputError(
                f"--usage {unknown}: not in {os.fspath(path)!r}, whose usages are {present}"
            )
        rows = np.flatnonzero(np.isin(ds.usage, list(usage)))
    out.csv = os.fspath(path)
    out.rows = rows
    out.images = ds.images[rows]
    out.usage = ds.usage[rows]
    out.labels = ds.labels[rows]


# --------------------------------------------------------------------------------------------
# predicting
# --------------------------------------------------------------------------------------------


def size_refused(
    name: str, shape: Sequence[int], expected: Sequence[int], hint: str = ""
) -> PredictInputError:
    """The error for an image whose size a pipeline that does not resize refuses."""
    return PredictInputError(
        f"image {name!r} is {shape[0]}x{shape[1]} but the pipeline expects "
        f"{expected[0]}x{expected[1]} images and does not resize them; resize the inputs (or "
        f"use a pipeline that resizes, e.g. a deep extractor with input_size){hint}"
    )


def predict_labels(
    model: Any, X: np.ndarray, proba: bool, classes: Sequence[Any] | None, name: str, what: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(labels, probabilities)`` of one batch ``X``: with ``proba`` the most probable of
    ``classes`` and the probabilities, else ``predict``'s labels and None. A ValueError of the
    pipeline becomes a PredictInputError naming the input (``name``) and ``what`` it could
    not predict."""
    try:
        if proba:
            P = np.asarray(model.predict_proba(X), dtype=float)
            return np.asarray(classes, dtype=object)[P.argmax(axis=1)], P
        return np.asarray(model.predict(X), dtype=object), None
    except ValueError as exc:
        raise PredictInputError(
            f"{name}: the pipeline cannot predict {what} ({one_line(exc)})"
        ) from None


@dataclass
class PredictReport:
    """What :func:`predict_to_csv` did.

    Attributes
    ----------
    output : pathlib.Path
        The CSV written.
    n_images, n_predicted, n_failed : int
        Input images, those predicted, and those that could not be read.
    probabilities : bool
        Whether the CSV has ``proba_<class>`` columns.
    classes : list
        The pipeline's classes (empty if it tells none).
    seconds : float
        Wall time of the run.
    first_error : str or None
        Why the first unreadable image could not be read.
    accuracy : float or None
        Against a FER2013 CSV's own labels, over the predicted rows; None for image files.
    """

    output: Path
    n_images: int
    n_predicted: int
    n_failed: int
    probabilities: bool
    classes: list
    seconds: float
    first_error: str | None = None
    accuracy: float | None = None

    def summary(self) -> str:
        """One or two lines for the end of a run."""
        text = (
            f"predicted {self.n_predicted} of {self.n_images} images in {self.seconds:.1f} s: "
            f"{os.fspath(self.output)}"
        )
        if self.accuracy is not None:
            text += f"\naccuracy against the CSV's own labels: {self.accuracy:.4f}"
        if self.n_failed:
            text += (
                f"\n{self.n_failed} image{'s' if self.n_failed > 1 else ''} could not be "
                f"read (see the error column), first: {self.first_error}"
            )
        return text


def predict_to_csv(
    model: Any,
    inputs: Sequence[str | os.PathLike] | PredictInputs,
    output: str | os.PathLike,
    *,
    metadata: Mapping[str, Any] | None = None,
    batch_size: int = 256,
    progress: bool = False,
    usage: Sequence[str] | None = None,
    n_jobs: int | None = None,
) -> PredictReport:
    """Predict every input image with ``model`` and write one CSV row per image.

    Parameters
    ----------
    model : fitted pipeline
    inputs : sequence of paths or PredictInputs
        Image folders (searched recursively), image files, or one FER2013 CSV (see
        :func:`collect_inputs`).
    output : path
        The CSV to write (atomically: readers never see a partial file).
    metadata : mapping, optional
        The pipeline's saved metadata (see :func:`~hybridfer.predict.load_pipeline`): how to
        decode files (gray or RGB) and what image size to expect.
    batch_size : int, default=256
        Images decoded and predicted at once (memory stays bounded by it).
    progress : bool, default=False
        A tqdm progress bar on stderr (when stderr is a terminal).
    usage : sequence of str, optional
        For a FER2013 CSV: only the rows of these usages (e.g. ``["PrivateTest"]``).
    n_jobs : int, optional
        Decoding threads (default: up to 8).

    Returns
    -------
    PredictReport

    Raises
    ------
    PredictInputError
        Missing inputs, no image found, or an image of a size the pipeline refuses (named).

    Notes
    -----
    Columns: ``path`` (files) or ``row``, ``usage`` and ``true_label`` (a CSV: its 0-based
    data row, header not counted), then ``label``, then ``proba_<class>`` per class when the
    pipeline has ``predict_proba`` (the label is then the most probable class), and
    ``error`` (empty, or why the image could not be read; such rows have no prediction).
    """
    from tqdm.auto import tqdm

    from hybridfer._io import atomic_path

    _check_batch_size(batch_size)
    src = inputs if isinstance(inputs, PredictInputs) else collect_inputs(inputs, usage)
    info = pipeline_info(model, metadata)
    color = info["image"].get("color") or "gray"
    expected = None if info["image"]["resizes"] else info["image"].get("shape")
    proba = bool(info["probabilities"])
    classes = info["classes"]
    if proba and classes is None:
        proba = False
    header = (
        src.columns + ["label"] + ([f"proba_{c}" for c in classes] if proba else []) + ["error"]
    )
    n_ok = n_failed = 0
    correct = 0
    first_error = None
    start = time.perf_counter()
    out_path = Path(output)
    # shown on a terminal only (None: tqdm leaves it out when stderr is redirected)
    bar = tqdm(
        total=len(src), unit="img", desc="predict", leave=False, disable=None if progress else True
    )
    try:
        with (
            atomic_path(out_path) as tmp,
            open(tmp, "w", newline="", encoding="utf-8") as f,
            closing(src.batches(batch_size, color=color, n_jobs=n_jobs)) as batches,
        ):
            writer = csv.writer(f)
            writer.writerow(header)
            for batch in batches:
                results = _predict_batch(
                    model, batch.decoded, batch.names, expected, proba, classes
                )
                for k, (label, probs, error) in enumerate(results):
                    if error is not None:
                        n_failed += 1
                        first_error = first_error or error
                        row = [*batch.cells[k], ""] + ([""] * len(classes) if proba else [])
                        row.append(error)
                    else:
                        n_ok += 1
                        if batch.true_labels is not None and label == batch.true_labels[k]:
                            correct += 1
                        row = [*batch.cells[k], label]
                        if proba:
                            row += [f"{p:.6g}" for p in probs]
                        row.append("")
                    writer.writerow(row)
                bar.update(len(batch.names))
    finally:
        bar.close()
    return PredictReport(
        output=out_path,
        n_images=len(src),
        n_predicted=n_ok,
        n_failed=n_failed,
        probabilities=proba,
        classes=list(classes) if classes is not None else [],
        seconds=time.perf_counter() - start,
        first_error=first_error,
        accuracy=(correct / n_ok) if src.csv is not None and n_ok else None,
    )


def _predict_batch(
    model: Any,
    decoded: list[tuple[np.ndarray | None, str | None]],
    names: list[str],
    expected: Sequence[int] | None,
    proba: bool,
    classes: Sequence[Any] | None,
) -> list[tuple[Any, np.ndarray | None, str | None]]:
    """``(label, probabilities, error)`` per image; images of one shape are predicted
    together (a pipeline that resizes takes any size, but one array holds one size)."""
    results: list[Any] = [None] * len(decoded)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, (img, error) in enumerate(decoded):
        if error is not None:
            results[i] = (None, None, error)
            continue
        if expected is not None and list(img.shape[:2]) != list(expected[:2]):
            raise size_refused(names[i], img.shape, expected)
        by_shape.setdefault(tuple(img.shape), []).append(i)
    for idx in by_shape.values():
        X = np.stack([decoded[i][0] for i in idx])
        labels, P = predict_labels(model, X, proba, classes, f"image {names[idx[0]]!r}", "it")
        for k, i in enumerate(idx):
            results[i] = (plain_json(labels[k]), None if P is None else P[k], None)
    return results
