"""``hybridfer predict``: the command's workflow, and the face CSV with its companions.

:func:`run_predict` applies a saved pipeline file to its inputs. Photos and videos get one row
per face (:func:`predict_faces_to_csv`: :func:`~hybridfer.predict.faces.predict_faces`
written to a CSV, with annotated copies (:mod:`~hybridfer.predict.annotate`) and
probability timelines (:mod:`~hybridfer.predict.timeline`) on request); a FER2013 CSV input,
or ``faces="none"``, keeps the per-image layout of :func:`~hybridfer.predict.predict_to_csv`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridfer._messages import echo
from hybridfer.predict.expects import format_info, pipeline_info
from hybridfer.predict.faces import FACES_MODES, predict_faces_counts
from hybridfer.predict.saved import load_predictor
from hybridfer.predict.to_csv import (
    AllImagesFailedError,
    PredictInputError,
    PredictReport,
    collect_inputs,
    predict_to_csv,
)

__all__ = ["FacesReport", "predict_faces_to_csv", "run_predict"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass
class FacesReport:
    """What :func:`predict_faces_to_csv` did.

    Attributes
    ----------
    output : pathlib.Path
        The CSV written.
    n_photos, n_photos_with_face, n_photos_failed : int
        Photos, those with a face predicted, and those that could not be read.
    n_videos, n_videos_failed, n_frames, n_frames_with_face : int
        Videos, those that could not be read, sampled frames, and those with a face.
    n_faces : int
        Rows with a prediction.
    first_error : str or None
        Why the first unreadable file could not be read.
    seconds : float
        Wall time of the run (annotations and timelines included).
    probabilities : bool
        Whether the CSV has ``proba_<class>`` columns.
    classes : list
        The pipeline's classes (empty if it tells none).
    annotated, timelines : list of pathlib.Path
        The annotated copies and timeline plots written.
    """

    output: Path
    n_photos: int
    n_photos_with_face: int
    n_photos_failed: int
    n_videos: int
    n_videos_failed: int
    n_frames: int
    n_frames_with_face: int
    n_faces: int
    first_error: str | None
    seconds: float
    probabilities: bool
    classes: list
    annotated: list[Path] = field(default_factory=list)
    timelines: list[Path] = field(default_factory=list)

    @property
    def n_failed(self) -> int:
        """Files that could not be read."""
        return self.n_photos_failed + self.n_videos_failed

    @property
    def n_no_face(self) -> int:
        """Readable photos and sampled frames in which no face was found."""
        return (
            self.n_photos
            - self.n_photos_with_face
            - self.n_photos_failed
            + self.n_frames
            - self.n_frames_with_face
        )

    def summary(self) -> str:
        """A few lines for the end of a run."""
        parts = []
        if self.n_photos:
            parts.append(f"{self.n_photos_with_face} of {self.n_photos} images")
        if self.n_videos:
            parts.append(
                f"{self.n_frames_with_face} of {_plural(self.n_frames, 'frame')} of "
                f"{_plural(self.n_videos, 'video')}"
            )
        text = (
            f"predicted {' and '.join(parts)} ({_plural(self.n_faces, 'face')}) in "
            f"{self.seconds:.1f} s: {os.fspath(self.output)}"
        )
        if self.n_no_face:
            text += (
                f"\n{_plural(self.n_no_face, 'image')}/frame{'' if self.n_no_face == 1 else 's'}"
                " without a face found (see the error column)"
            )
        if self.n_failed:
            failed = [
                _plural(n, w)
                for n, w in ((self.n_photos_failed, "image"), (self.n_videos_failed, "video"))
                if n
            ]
            text += (
                f"\n{' and '.join(failed)} could not be read (see the error column), "
                f"first: {self.first_error}"
            )
        for what, paths in (("annotated copies", self.annotated), ("timelines", self.timelines)):
            if paths:
                text += f"\n{what}: {_plural(len(paths), 'file')} in {os.fspath(paths[0].parent)}"
        return text


def _csv_text(df: Any) -> Any:
    """``df`` with every cell as the CSV shows it: empty for missing, short floats."""
    import pandas as pd

    out = df.astype(object).copy()

    def fmt(col: str, spec: Any) -> None:
        out[col] = ["" if v is None or pd.isna(v) else spec(v) for v in df[col].tolist()]

    for col in df.columns:
        if str(df[col].dtype) == "Int64":
            fmt(col, lambda v: str(int(v)))
        elif col == "time_s":
            fmt(col, lambda v: repr(round(float(v), 4)))
        elif col.startswith("box_"):
            fmt(col, lambda v: repr(round(float(v), 2)))
        elif col == "score" or col.startswith("proba_"):
            fmt(col, lambda v: f"{v:.6g}")
        elif col == "label":
            fmt(col, str)
    return out


def predict_faces_to_csv(
    model: Any,
    inputs: Any,
    output: str | os.PathLike,
    *,
    annotate: str | os.PathLike | None = None,
    timeline: str | os.PathLike | None = None,
    **options: Any,
) -> FacesReport:
    """:func:`predict_faces` written to a CSV, with annotated copies and timelines on request.

    Parameters
    ----------
    model : fitted pipeline or path
    inputs : path, sequence of paths, or ndarray
        As ``source`` of :func:`~hybridfer.predict.faces.predict_faces`.
    output : path
        The CSV (written atomically: readers never see a partial file; nothing is written
        when the run fails).
    annotate : path, optional
        A folder for annotated copies (:func:`~hybridfer.predict.annotate.write_annotations`):
        a PNG per photo, an MP4 of the sampled frames per video.
    timeline : path, optional
        A folder for one probability-timeline PNG per video
        (:func:`~hybridfer.predict.timeline.write_timelines`).
    **options
        The keywords of :func:`~hybridfer.predict.faces.predict_faces` (``faces``, ``fps``,
        ``smooth``, ``select``, ``margin``, ``min_face_size``, ``batch_size``, ``progress``,
        ``metadata``).

    Returns
    -------
    FacesReport
    """
    from hybridfer._io import atomic_path

    start = time.perf_counter()
    df, c = predict_faces_counts(model, inputs, **options)
    proba_columns = [col for col in df.columns if col.startswith("proba_")]
    out_path = Path(output)
    with atomic_path(out_path) as tmp:
        _csv_text(df).to_csv(tmp, index=False)
    annotated: list[Path] = []
    timelines: list[Path] = []
    if annotate is not None:
        from hybridfer.predict.annotate import write_annotations

        annotated = write_annotations(df, annotate, fps=options.get("fps"))
    if timeline is not None:
        from hybridfer.predict.timeline import write_timelines

        timelines = write_timelines(df, timeline)
    return FacesReport(
        output=out_path,
        n_photos=c.photos,
        n_photos_with_face=c.photos_with_face,
        n_photos_failed=c.photos_failed,
        n_videos=c.videos,
        n_videos_failed=c.videos_failed,
        n_frames=c.frames,
        n_frames_with_face=c.frames_with_face,
        n_faces=c.faces,
        first_error=c.first_error,
        seconds=time.perf_counter() - start,
        probabilities=bool(proba_columns),
        classes=[col[len("proba_") :] for col in proba_columns],
        annotated=annotated,
        timelines=timelines,
    )


def run_predict(
    pipeline: str | os.PathLike | None,
    inputs: Sequence[str | os.PathLike] = (),
    *,
    model: str | None = None,
    output: str | os.PathLike = "predictions.csv",
    info: bool = False,
    usage: Sequence[str] | None = None,
    batch_size: int = 256,
    progress: bool = True,
    faces: str = "auto",
    fps: float | None = None,
    smooth: int | None = None,
    select: str | None = None,
    min_face_size: int = 20,
    annotate: str | os.PathLike | None = None,
    timeline: str | os.PathLike | None = None,
) -> FacesReport | PredictReport | dict[str, Any]:
    """``hybridfer predict``: apply a saved pipeline file to photos, videos, folders or a
    FER2013 CSV and write the predictions to ``output``, printing what it does.

    Two CSV layouts: photos and videos get one row per face (:func:`predict_faces_to_csv`,
    columns :func:`~hybridfer.predict.faces.face_columns`); a FER2013 CSV input, or
    ``faces="none"``, gets one row per image as before
    (:func:`~hybridfer.predict.predict_to_csv`: ``path`` or ``row, usage, true_label``, then
    ``label``, ``proba_<class>``, ``error``; photos only, each taken whole).

    Parameters
    ----------
    pipeline : path or None
        A pipeline file (see :func:`~hybridfer.predict.load_pipeline`); with ``model``, the
        first input instead.
    inputs : sequence of paths
        Photo and video files, folders (searched recursively), or one FER2013 CSV.
    model : str, optional
        A FER model shipped with hybridfer (``hybridfer models``) or a card file, used
        instead of a pipeline file (:func:`~hybridfer.predict.load_predictor`).
    output : path, default="predictions.csv"
        The CSV to write (atomically).
    info : bool, default=False
        Print the pipeline's metadata (:func:`~hybridfer.predict.format_info`) instead.
    usage : sequence of str, optional
        For a FER2013 CSV: only the rows of these usages.
    batch_size : int, default=256
        Images (or face crops) predicted at once.
    progress : bool, default=True
        A progress bar on stderr (when stderr is a terminal).
    faces, fps, smooth, select, min_face_size
        See :func:`~hybridfer.predict.faces.predict_faces`.
    annotate, timeline : path, optional
        Folders for annotated copies and probability timelines (see
        :func:`predict_faces_to_csv`); face layout only.

    Returns
    -------
    FacesReport, PredictReport, or with ``info`` the dict of
    :func:`~hybridfer.predict.pipeline_info`.

    Raises
    ------
    PipelineFileError
        ``pipeline`` is missing or not a pipeline.
    PredictInputError
        No inputs (without ``info``), ``output`` is a folder, options that do not apply to
        the inputs, a detector that is not installed, or inputs that cannot be predicted.
    AllImagesFailedError
        No input could be read.
    """
    from hybridfer.faces import FaceDetectorUnavailableError
    from hybridfer.video import is_video

    if model is not None:
        from hybridfer.models import get_model

        inputs = ([] if pipeline is None else [pipeline]) + list(inputs)
        get_model(model)  # an unknown name lists the shipped ones
        pipeline = model
    elif pipeline is None:
        raise PredictInputError("predict needs a PIPELINE file or --model NAME (hybridfer models)")
    estimator, metadata = load_predictor(pipeline, "pipeline file")
    details = pipeline_info(estimator, metadata)
    if info:
        echo(format_info(details, pipeline, "pipeline file" if model is None else "model"))
        return details
    if not inputs:
        raise PredictInputError(
            "predict needs INPUTS: photos, videos, folders or a FER2013 CSV (or --info)"
        )
    if Path(output).is_dir():
        raise PredictInputError(
            f"-o {os.fspath(output)!r} is a folder; expected the CSV file to write"
        )
    if faces not in FACES_MODES:
        raise PredictInputError(f"--faces {faces!r}: expected one of {', '.join(FACES_MODES)}")
    csv_input = any(os.fspath(p).lower().endswith(".csv") for p in inputs)
    per_image = csv_input or faces == "none"
    if per_image:
        what = "a FER2013 CSV (48x48 face crops)" if csv_input else "--faces none"
        if csv_input and faces in ("mtcnn", "haar"):
            raise PredictInputError(
                f"--faces {faces}: a FER2013 CSV holds 48x48 face crops, there is nothing to "
                "detect; use --faces auto or none"
            )
        for flag, value in (("--annotate", annotate), ("--timeline", timeline)):
            if value is not None:
                raise PredictInputError(
                    f"{flag} draws the faces found in photos and videos; it does not apply "
                    f"to {what}"
                )
    src = collect_inputs(inputs, usage, videos=not per_image)
    if per_image and not csv_input:
        videos = [p for p in src.paths if is_video(p)]
        if videos:
            raise PredictInputError(
                f"input {videos[0]!r} is a video: --faces none predicts photos, one row per "
                "image; use --faces auto (a video whose frames are the pipeline's size is "
                "then classified whole, frame by frame)"
            )
    for flag, folder in (("--annotate", annotate), ("--timeline", timeline)):
        if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
            raise PredictInputError(
                f"{flag} {os.fspath(folder)!r} is a file; expected the folder to write into"
            )
    if timeline is not None and not details["probabilities"]:
        raise PredictInputError(
            "--timeline plots class probabilities, but the pipeline has no predict_proba"
        )
    if smooth is not None and smooth > 1 and not details["probabilities"]:
        raise PredictInputError(
            "--smooth averages class probabilities, but the pipeline has no predict_proba"
        )
    image = details["image"]
    size = "any size" if image["resizes"] else "x".join(map(str, image.get("shape") or "?"))
    classes = details["classes"] or []
    n_videos = 0 if per_image else sum(map(is_video, src.paths))
    n_photos = len(src) - n_videos
    found = [_plural(n_photos, "image")] + ([_plural(n_videos, "video")] if n_videos else [])
    echo(
        f"pipeline: {details['pipeline']} ({len(classes)} classes, {size} "
        f"{image.get('color') or 'gray'} images); {' and '.join(found)} to predict"
        + ("" if per_image else f" (faces: {faces})")
    )
    if not details["probabilities"]:
        print(
            "hybridfer predict: note: the pipeline has no predict_proba: the output has labels "
            "only, no probability columns",
            file=sys.stderr,
            flush=True,
        )
    if per_image:
        report: Any = predict_to_csv(
            estimator, src, output, metadata=metadata, batch_size=batch_size, progress=progress
        )
        echo(report.summary())
        if report.n_predicted == 0:
            raise AllImagesFailedError(
                f"{_none_read(report.n_images, 'image')} (first error: "
                f"{report.first_error}); the errors are in {os.fspath(report.output)}"
            )
        return report
    try:
        report = predict_faces_to_csv(
            estimator,
            src.paths,
            output,
            metadata=metadata,
            faces=faces,
            fps=fps,
            smooth=smooth,
            select=select,
            min_face_size=min_face_size,
            batch_size=batch_size,
            progress=progress,
            annotate=annotate,
            timeline=timeline,
        )
    except FaceDetectorUnavailableError as exc:
        raise PredictInputError(str(exc)) from exc
    echo(report.summary())
    if report.n_failed == len(src):
        noun = "image" if not n_videos else "video" if not n_photos else "input"
        raise AllImagesFailedError(
            f"{_none_read(len(src), noun)} (first error: {report.first_error}); "
            f"the errors are in {os.fspath(report.output)}"
        )
    return report


def _none_read(n: int, noun: str) -> str:
    """``"the image could not be read"`` or ``"none of the 3 images could be read"``."""
    return f"the {noun} could not be read" if n == 1 else f"none of the {n} {noun}s could be read"
