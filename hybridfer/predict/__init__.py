"""Saved pipelines: the metadata they carry, loading them, and predicting new images with them.

A pipeline saved by ``hybridfer tune`` or ``hybridfer evaluate`` (or by :func:`save_pipeline`)
is a plain scikit-learn pipeline pickled with joblib; its metadata rides on it as the attribute
``hybridfer_metadata_`` (so ``joblib.load(path).predict(X)`` keeps working): the classes, the
images it expects (size, color, whether it resizes), the toolkit version, a summary of its
training data and its scores. :func:`load_pipeline` also reads a bare pipeline (a recipe's
``pipeline.joblib``), whose expectations are then read from the fitted steps themselves, and
the ``{"pipeline": model, "metadata": {...}}`` form.

:func:`predict_to_csv` applies a pipeline to image files (folders are searched recursively) or
to a FER2013 CSV, batch by batch, and writes one CSV row per image: where it came from, the
predicted label and one column per class probability. An image that cannot be read becomes a
row with its ``error`` and no prediction; the run goes on.

Modules: :mod:`~hybridfer.predict.saved` (metadata, saving, loading),
:mod:`~hybridfer.predict.expects` (what a fitted pipeline expects and predicts),
:mod:`~hybridfer.predict.to_csv` (the inputs, predicting to CSV, ``hybridfer predict``).
"""

from hybridfer.predict.expects import format_info, inspect_pipeline, pipeline_info
from hybridfer.predict.saved import (
    METADATA_ATTR,
    PipelineFileError,
    attach_metadata,
    load_pipeline,
    pipeline_metadata,
    save_pipeline,
)
from hybridfer.predict.to_csv import (
    AllImagesFailedError,
    InputBatch,
    PredictInputError,
    PredictInputs,
    PredictReport,
    collect_inputs,
    predict_to_csv,
    run_predict,
)

__all__ = [
    "METADATA_ATTR",
    "AllImagesFailedError",
    "InputBatch",
    "PipelineFileError",
    "PredictInputError",
    "PredictInputs",
    "PredictReport",
    "attach_metadata",
    "collect_inputs",
    "format_info",
    "inspect_pipeline",
    "load_pipeline",
    "pipeline_info",
    "pipeline_metadata",
    "predict_to_csv",
    "run_predict",
    "save_pipeline",
]
