"""Scores of a model fitted on one data set, on another (:func:`hybridfer.data.cross_dataset`).

:func:`cross_dataset_report` scores two ways and reports both:

- **all classes**: the model's own prediction, over every class it was trained on; a test set
  without neutral (CK+48) still receives neutral predictions, which count as errors;
- **shared classes**: the most probable class among those the test set has (the argmax of
  ``predict_proba`` over the shared columns, or of a one-vs-rest ``decision_function`` for an
  SVM without probabilities), the reading of most cross-dataset tables in the literature.

Test classes with no counterpart were dropped by :func:`~hybridfer.data.cross_dataset` before
anything was predicted, so they never reach the scores; the report lists them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .leakage import LeakageReport, leakage_audit
from .report import ClassificationReport, evaluate_predictions

__all__ = ["CrossDatasetReport", "cross_dataset_report", "open_cross_data"]


@dataclass
class CrossDatasetReport:
    """What :func:`cross_dataset_report` measured.

    Attributes
    ----------
    split : CrossDatasetSplit
        The training set, the relabelled test set and what was dropped.
    all_classes : ClassificationReport
        Scores of the model's own predictions (every training class may be predicted).
    shared_classes : ClassificationReport or None
        Scores of the argmax over the test set's classes only (None for a model with neither
        ``predict_proba`` nor a per-class ``decision_function``).
    y_pred, y_pred_shared : ndarray
        The two predictions (``y_pred_shared`` None where ``shared_classes`` is).
    predict_seconds : float
    leakage : LeakageReport or None
        Training images that the test set holds (exact or near copies), when audited.
    """

    split: Any
    all_classes: ClassificationReport
    shared_classes: ClassificationReport | None
    y_pred: np.ndarray
    y_pred_shared: np.ndarray | None
    predict_seconds: float
    leakage: LeakageReport | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def rows(self, model_name: str = "model") -> list[dict[str, Any]]:
        """One table row per scoring (accuracy, macro-F1, the classes it covers); the shared
        reading only where the test set lacks a training class (else it is the same)."""
        out = []
        shared = self.shared_classes if self.split.train_only_classes else None
        for name, rep in (("all classes", self.all_classes), ("shared", shared)):
            if rep is None:
                continue
            out.append(
                {
                    "model": model_name,
                    "test": self.split.test.name,
                    "scored over": name,
                    "classes": len(rep.labels),
                    "n test": rep.n_samples,
                    "acc": rep.accuracy,
                    "macro-F1": rep.macro_f1,
                }
            )
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary."""
        out: dict[str, Any] = {
            "train": self.split.train.name,
            "test": self.split.test.name,
            "n_test": len(self.split.test),
            "dropped": dict(self.split.dropped),
            "train_only_classes": list(self.split.train_only_classes),
            "accuracy": self.all_classes.accuracy,
            "macro_f1": self.all_classes.macro_f1,
        }
        if self.shared_classes is not None:
            out["shared_accuracy"] = self.shared_classes.accuracy
            out["shared_macro_f1"] = self.shared_classes.macro_f1
        if self.leakage is not None:
            out["leakage"] = self.leakage.counts()
        return out

    def to_markdown(self) -> str:
        """The description of the split and both per-class tables."""
        parts = [self.split.describe(), "", "### Over all training classes", ""]
        parts.append(self.all_classes.to_markdown())
        if self.shared_classes is not None and self.split.train_only_classes:
            shared = ", ".join(self.split.shared_classes)
            parts += ["", f"### Over the shared classes ({shared})", ""]
            parts.append(self.shared_classes.to_markdown())
        if self.leakage is not None:
            parts += ["", "### Leakage audit (training set vs test set)", ""]
            parts.append(self.leakage.summary())
        return "\n".join(parts) + "\n"


def open_cross_data(
    spec: str | os.PathLike,
    train: Any,
    *,
    crop: bool | None = None,
    size: int | tuple[int, int] = 48,
    color: str = "gray",
    backend: str = "mtcnn",
    merge: dict[str, str] | None = None,
    log: Callable[[str], None] | None = None,
) -> Any:
    """Load another data set for a cross-dataset test and pair it with ``train``.

    Parameters
    ----------
    spec : str or path
        ``"NAME:PATH"`` or a path whose layout names the data set
        (:func:`hybridfer.data.load_dataset`).
    train : FERDataset
        The training set (its classes are the target of the label map).
    crop : bool, optional
        Find and align the face in each image first (:class:`hybridfer.faces.FaceCropper`,
        ``on_missing="whole"``); default: for the data sets of whole pictures
        (``DATASETS[name].full_frames``: JAFFE, KDEF, CK+, ExpW).
    size, color
        The images the model reads: face crops (or whole images) are brought to this size
        and colour.
    backend : {"mtcnn", "haar"}
        The face detector.
    merge : dict, optional
        As in :func:`hybridfer.data.map_labels`.

    Returns
    -------
    CrossDatasetSplit
        Its ``test`` holds decoded images of ``size`` and ``color`` (data sets with face
        boxes, such as ExpW, are cut at their boxes); ``n_missing`` counts the pictures in
        which no face was found, which are read whole.
    """
    from hybridfer.data import DATASETS, cross_dataset, load_dataset
    from hybridfer.data.dataset import FERDataset
    from hybridfer.data.sources import parse_dataset_spec

    name, path = parse_dataset_spec(spec)
    say = log or (lambda _msg: None)
    full_frames = DATASETS[name].full_frames
    crop = full_frames if crop is None else bool(crop)
    ds = load_dataset(name, path, lazy=True)
    if ds.boxes is not None and crop:
        from hybridfer.data.boxes import crop_boxes

        ds = crop_boxes(ds, size=size, color=color, clip=True)
        crop = False
    split = cross_dataset(train, ds, merge=merge)
    test = split.test
    size_hw = (size, size) if isinstance(size, int) else tuple(size)
    n_missing = 0
    if crop:
        from hybridfer.faces import FaceCropper

        cropper = FaceCropper(backend=backend, size=size_hw, color=color, on_missing="whole")
        images = cropper.fit_transform(test.X)
        n_missing = int(cropper.n_missing_)
        say(f"{name}: faces found in {len(test) - n_missing} of {len(test)} images")
    else:
        from hybridfer.faces.alignment import crop_whole
        from hybridfer.images import read_images

        raw = test.images if test.images is not None else read_images(list(test.paths), color)
        images = np.stack([crop_whole(im, size=size_hw, color=color) for im in raw])
    split.test = FERDataset(
        images=images,
        labels=test.labels,
        classes=test.classes,
        paths=test.paths,
        groups=test.groups,
        usage=test.usage,
        name=test.name,
    )
    split.n_missing = n_missing
    return split


def _proba_columns(model: Any) -> list[str]:
    classes = getattr(model, "classes_", None)
    if classes is None and hasattr(model, "steps"):
        classes = getattr(model.steps[-1][1], "classes_", None)
    if classes is None:
        raise ValueError("the model has no classes_: fit it before scoring it")
    return [str(c) for c in classes]


def cross_dataset_report(
    model: Any,
    split: Any,
    *,
    X: Any = None,
    predict_proba: Callable[[Any], np.ndarray] | None = None,
    audit: bool = False,
) -> CrossDatasetReport:
    """Score a fitted ``model`` on a :class:`~hybridfer.data.CrossDatasetSplit`'s test set.

    Parameters
    ----------
    model : fitted classifier or pipeline
        Trained on ``split.train``'s classes.
    split : CrossDatasetSplit
        From :func:`hybridfer.data.cross_dataset`.
    X : array-like, optional
        What the model reads for the test images, in their order (e.g. features computed
        once for several heads); default ``split.test.X``.
    predict_proba : callable, optional
        ``X -> (n, n_classes)`` probabilities in ``model.classes_`` order (e.g. with flip
        test-time augmentation); default ``model.predict_proba`` where it exists, else
        ``model.predict`` with ``model.decision_function`` for the shared reading.
    audit : bool, default=False
        Also look for training images that the test set holds
        (:func:`~hybridfer.evaluation.leakage_audit`; minutes for FER2013-sized sets).

    Returns
    -------
    CrossDatasetReport
    """
    test = split.test
    X = test.X if X is None else X
    if len(X) != len(test):
        raise ValueError(f"X has {len(X)} rows but the test set has {len(test)} images")
    labels_all = list(split.train.classes)
    start = time.perf_counter()
    columns = _proba_columns(model)
    unknown = sorted(set(split.shared_classes) - set(columns))
    if unknown:
        raise ValueError(
            f"the model was not trained on the test classes {unknown}; its classes are {columns}"
        )
    proba, scores = None, None
    if predict_proba is not None:
        proba = np.asarray(predict_proba(X))
    elif hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X))
    if proba is not None:
        y_pred, scores = np.asarray(columns)[proba.argmax(axis=1)], proba
    else:
        y_pred = np.asarray(model.predict(X)).astype(str)
        if hasattr(model, "decision_function"):
            scores = np.asarray(model.decision_function(X))
            if scores.shape != (len(test), len(columns)):
                scores = None  # binary or one-vs-one: no score per class
    seconds = time.perf_counter() - start
    truth = test.labels
    labels = labels_all + sorted(set(y_pred.tolist()) - set(labels_all))
    all_classes = evaluate_predictions(truth, y_pred, labels=labels)
    shared_rep, y_shared = None, None
    if scores is not None:
        keep = [columns.index(c) for c in split.shared_classes]
        y_shared = np.asarray(split.shared_classes)[scores[:, keep].argmax(axis=1)]
        shared_rep = evaluate_predictions(truth, y_shared, labels=list(split.shared_classes))
    leakage = leakage_audit(split.train, test, check_within=False) if audit else None
    return CrossDatasetReport(
        split=split,
        all_classes=all_classes,
        shared_classes=shared_rep,
        y_pred=y_pred,
        y_pred_shared=y_shared,
        predict_seconds=seconds,
        leakage=leakage,
    )
