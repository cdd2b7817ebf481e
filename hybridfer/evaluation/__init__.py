"""Evaluation: per-class reports, confusion matrices, leakage audits and model profiling.

- :func:`evaluate_predictions` -> :class:`ClassificationReport` (accuracy, macro/weighted F1,
  per-class table, confusion matrix); :func:`classification_report_frame` and
  :func:`report_markdown` for the table alone.
- :func:`confusion_matrix_frame` (counts or normalised) and :func:`plot_confusion_matrix`
  (a headless matplotlib Figure, optionally saved atomically).
- :func:`evaluate_pipeline` -> :class:`PipelineEvaluation`: a pipeline fitted on a training
  split and reported on a test split, with a leakage audit; ``.save(dir)`` writes the report
  (what ``hybridfer evaluate`` does).
- :func:`cross_dataset_report` -> :class:`CrossDatasetReport`: a model fitted on one data set
  scored on another (:func:`hybridfer.data.cross_dataset`), over all its classes and over the
  shared ones, with the dropped classes listed.
- :func:`leakage_audit` -> :class:`LeakageReport`: exact and near-duplicate images between a
  train and a test set (and within each), via content hashes, pHash and patch correlation.
- :func:`count_parameters`, :func:`parameter_counts`, :func:`count_flops` and
  :func:`measure_latency` for torch models (in :mod:`hybridfer.evaluation.profiling`, imported
  on first use so that the rest of this package does not load torch).
"""

from .confusion import confusion_matrix_frame, plot_confusion_matrix
from .cross_dataset import CrossDatasetReport, cross_dataset_report, open_cross_data
from .holdout import PipelineEvaluation, evaluate_pipeline
from .leakage import LeakageReport, leakage_audit, perceptual_hash
from .report import (
    ClassificationReport,
    classification_report_frame,
    evaluate_predictions,
    report_markdown,
)

_PROFILING = ("count_flops", "count_parameters", "measure_latency", "parameter_counts")

__all__ = [
    "ClassificationReport",
    "CrossDatasetReport",
    "cross_dataset_report",
    "open_cross_data",
    "LeakageReport",
    "PipelineEvaluation",
    "classification_report_frame",
    "confusion_matrix_frame",
    "count_flops",
    "count_parameters",
    "evaluate_pipeline",
    "evaluate_predictions",
    "leakage_audit",
    "measure_latency",
    "parameter_counts",
    "perceptual_hash",
    "plot_confusion_matrix",
    "report_markdown",
]


def __getattr__(name: str) -> object:
    if name in _PROFILING:
        from . import profiling

        return getattr(profiling, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
