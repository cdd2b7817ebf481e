"""Saved pipelines: the metadata they carry, loading them, and predicting new images with them.

A pipeline saved by ``hybridfer tune`` or ``hybridfer evaluate`` (or by :func:`save_pipeline`)
is a plain scikit-learn pipeline pickled with joblib; its metadata rides on it as the attribute
``hybridfer_metadata_`` (so ``joblib.load(path).predict(X)`` keeps working): the classes, the
images it expects (size, color, whether it resizes), the toolkit version, a summary of its
training data and its scores. :func:`load_pipeline` also reads a bare pipeline (a recipe's
``pipeline.joblib``), whose expectations are then read from the fitted steps themselves, and
the ``{"pipeline": model, "metadata": {...}}`` form.

:func:`predict_faces` finds the faces in photos and videos, aligns each to what the pipeline
was trained on and returns one row per face (box, detector score, video frame and track,
label, class probabilities) as a DataFrame. :func:`predict_to_csv` applies a pipeline to
image files that are already face crops, or to a FER2013 CSV, and writes one CSV row per
image. In both, an input that cannot be read becomes a row with its ``error``; the run goes
on. :func:`run_predict` is ``hybridfer predict``.

Modules: :mod:`~hybridfer.predict.saved` (metadata, saving, loading),
:mod:`~hybridfer.predict.expects` (what a fitted pipeline expects and predicts),
:mod:`~hybridfer.predict.to_csv` (the inputs, one row per image),
:mod:`~hybridfer.predict.faces` (one row per face in photos and videos),
:mod:`~hybridfer.predict.annotate` and :mod:`~hybridfer.predict.timeline` (pictures of the
predictions), :mod:`~hybridfer.predict.run` (``hybridfer predict``: the face CSV and the
command).
"""

from hybridfer.predict.annotate import annotate_image, write_annotations
from hybridfer.predict.expects import format_info, inspect_pipeline, pipeline_info
from hybridfer.predict.faces import FACE_COLUMNS, FACES_MODES, face_columns, predict_faces
from hybridfer.predict.run import FacesReport, predict_faces_to_csv, run_predict
from hybridfer.predict.saved import (
    METADATA_ATTR,
    PipelineFileError,
    attach_metadata,
    load_pipeline,
    load_predictor,
    pipeline_metadata,
    save_pipeline,
)
from hybridfer.predict.timeline import plot_timeline, write_timelines
from hybridfer.predict.to_csv import (
    AllImagesFailedError,
    InputBatch,
    PredictInputError,
    PredictInputs,
    PredictReport,
    collect_inputs,
    predict_to_csv,
)

__all__ = [
    "FACES_MODES",
    "FACE_COLUMNS",
    "METADATA_ATTR",
    "AllImagesFailedError",
    "FacesReport",
    "InputBatch",
    "PipelineFileError",
    "PredictInputError",
    "PredictInputs",
    "PredictReport",
    "annotate_image",
    "attach_metadata",
    "collect_inputs",
    "face_columns",
    "format_info",
    "inspect_pipeline",
    "load_pipeline",
    "load_predictor",
    "pipeline_info",
    "pipeline_metadata",
    "plot_timeline",
    "predict_faces",
    "predict_faces_to_csv",
    "predict_to_csv",
    "run_predict",
    "save_pipeline",
    "write_annotations",
    "write_timelines",
]
