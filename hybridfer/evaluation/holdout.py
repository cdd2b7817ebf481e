"""A pipeline fitted on a training split and reported on a test split.

:func:`evaluate_pipeline` fits, predicts, and audits the two splits for leakage; the
:class:`PipelineEvaluation` it returns renders its report and writes it with
:meth:`~PipelineEvaluation.save` (what ``hybridfer evaluate`` writes to
``<workdir>/evaluate``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .confusion import confusion_matrix_frame, plot_confusion_matrix
from .leakage import LeakageReport, leakage_audit
from .report import classification_report_frame, report_markdown

__all__ = ["PipelineEvaluation", "evaluate_pipeline"]


@dataclass
class PipelineEvaluation:
    """What :func:`evaluate_pipeline` measured.

    Attributes
    ----------
    model : fitted pipeline
    train, test : FERDataset
        The splits it was fitted and scored on.
    source : str
        What was evaluated, as reports name it (``"pair hog/svm at fixed settings"``).
    label : str
        The pipeline's name in its saved metadata (``"hog/svm"``).
    y_pred : ndarray
        Predictions for ``test``.
    labels : list of str
        The classes the tables show, in canonical order.
    report : DataFrame
        Per-class precision, recall, F1 and support, with the accuracy and average rows
        (:func:`~hybridfer.evaluation.classification_report_frame`).
    fit_seconds : float
    leakage : LeakageReport or None
        The train/test audit (None when it was not run).
    data_source : str or None
        Where the training data came from, saved with the pipeline's metadata.
    color : str
        The colour of the images the pipeline expects (``"gray"`` or ``"rgb"``).
    cross : list of CrossDatasetReport
        The fitted pipeline scored on other data sets (:meth:`add_cross_data`).
    """

    model: Any
    train: Any
    test: Any
    source: str
    label: str
    y_pred: np.ndarray
    labels: list[str]
    report: pd.DataFrame
    fit_seconds: float
    leakage: LeakageReport | None = None
    data_source: str | None = None
    color: str = "gray"
    paths: dict[str, str] = field(default_factory=dict)
    cross: list[Any] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return float(self.report.loc["accuracy", "f1"])

    @property
    def macro_f1(self) -> float:
        return float(self.report.loc["macro avg", "f1"])

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary: ``source``, ``fit_seconds``, ``accuracy``, ``macro_f1`` and,
        after an audit, the ``leakage`` counts."""
        out: dict[str, Any] = {
            "source": self.source,
            "fit_seconds": round(self.fit_seconds, 2),
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
        }
        if self.leakage is not None:
            out["leakage"] = self.leakage.counts()
        if self.cross:
            out["cross_dataset"] = [c.summary() for c in self.cross]
        return out

    def add_cross_data(
        self, spec: str | os.PathLike, audit: bool | None = None, **kwargs: Any
    ) -> Any:
        """Score the fitted pipeline on another data set (``"NAME:PATH"`` or a path), its
        labels mapped to the training classes and whole pictures face-cropped to the
        training images' size (:func:`~hybridfer.evaluation.open_cross_data`); returns the
        :class:`~hybridfer.evaluation.CrossDatasetReport`, also kept in :attr:`cross`.
        ``audit`` (default: as the train/test audit ran) looks for training images in the
        other set (some releases share images)."""
        from .cross_dataset import cross_dataset_report, open_cross_data

        first = self.train.images[0] if self.train.images is not None else None
        if first is None:
            from hybridfer.images import read_image

            first = read_image(self.train.paths[0], self.color)
        kwargs.setdefault("size", tuple(int(v) for v in first.shape[:2]))
        kwargs.setdefault("color", self.color)
        split = open_cross_data(spec, self.train, **kwargs)
        if audit is None:
            audit = self.leakage is not None
        report = cross_dataset_report(self.model, split, audit=audit)
        self.cross.append(report)
        return report

    def table_markdown(self) -> str:
        """The per-class table as markdown."""
        return report_markdown(self.report)

    def to_markdown(self) -> str:
        """The whole report: what was trained on what, the table and the audit's summary."""
        text = [
            f"# Evaluation: {self.source}",
            "",
            f"Trained on {self.train.name} ({len(self.train)} images), "
            f"tested on {self.test.name} ({len(self.test)} images).",
            "",
            self.table_markdown(),
        ]
        if self.leakage is not None:
            text += ["", "## Leakage audit (train vs test)", "", self.leakage.summary()]
        for report in self.cross:
            text += ["", f"## Cross-dataset: {report.split.test.name}", "", report.to_markdown()]
        return "\n".join(text) + "\n"

    def save(self, directory: str | os.PathLike) -> dict[str, str]:
        """Write the report to ``directory`` (atomically); returns the files written by name.

        ``report.md``/``report.csv``, ``confusion.csv`` (counts) and ``confusion.png``,
        ``leakage.md``/``leakage.csv`` after an audit, ``cross_<name>.md`` per cross-dataset
        test, ``evaluation.json`` (the
        :meth:`summary`) and ``pipeline.joblib``: the fitted pipeline with its metadata
        (:mod:`hybridfer.predict`), the test scores included.
        """
        from hybridfer._io import atomic_write_text
        from hybridfer.predict.saved import pipeline_metadata, save_pipeline

        out = Path(directory)
        y_true = self.test.y
        paths = {"report_csv": out / "report.csv", "confusion_csv": out / "confusion.csv"}
        atomic_write_text(paths["report_csv"], self.report.to_csv())
        cm = confusion_matrix_frame(y_true, self.y_pred, labels=self.labels, normalize=None)
        atomic_write_text(paths["confusion_csv"], cm.to_csv())
        paths["confusion_png"] = out / "confusion.png"
        plot_confusion_matrix(
            y_true,
            self.y_pred,
            labels=self.labels,
            path=paths["confusion_png"],
            title=f"{self.source} on {self.test.name}",
        )
        if self.leakage is not None:
            paths["leakage_csv"] = out / "leakage.csv"
            paths["leakage_md"] = out / "leakage.md"
            atomic_write_text(paths["leakage_csv"], self.leakage.pairs.to_csv(index=False))
            atomic_write_text(paths["leakage_md"], self.leakage.to_markdown())
        for report in self.cross:
            slug = report.split.test.name.split("->")[0]
            paths[f"cross_{slug}_md"] = out / f"cross_{slug}.md"
            atomic_write_text(paths[f"cross_{slug}_md"], report.to_markdown())
        paths["report_md"] = out / "report.md"
        paths["evaluation_json"] = out / "evaluation.json"
        atomic_write_text(paths["report_md"], self.to_markdown())
        atomic_write_text(
            paths["evaluation_json"], json.dumps(self.summary(), indent=2, default=str)
        )
        meta = pipeline_metadata(
            self.model,
            self.train.X,
            self.train.y,
            data_name=self.train.name,
            data_source=self.data_source,
            color=self.color,
            scores={
                f"{self.test.name} accuracy": self.accuracy,
                f"{self.test.name} macro_f1": self.macro_f1,
            },
            label=self.label,
            extra={"evaluated": self.source},
        )
        paths["pipeline"] = out / "pipeline.joblib"
        save_pipeline(self.model, paths["pipeline"], meta)
        self.paths.update({k: os.fspath(v) for k, v in paths.items()})
        return dict(self.paths)


def evaluate_pipeline(
    model: Any,
    train: Any,
    test: Any,
    *,
    source: str | None = None,
    label: str | None = None,
    fit_rows: np.ndarray | None = None,
    audit: bool = True,
    data_source: str | None = None,
    color: str = "gray",
) -> PipelineEvaluation:
    """Fit ``model`` on ``train``, predict ``test``, and audit the two for leakage.

    Parameters
    ----------
    model : estimator
        An unfitted scikit-learn pipeline (fitted here, in place).
    train, test : FERDataset
        The training and the test split.
    source : str, optional
        What is evaluated, as the report names it (default: ``label``).
    label : str, optional
        The pipeline's name in its saved metadata (default: the model's class name).
    fit_rows : array of int, optional
        The rows of ``train`` to fit on (default all of them), e.g. a class-balanced
        resample; the audit and the metadata still see the whole split.
    audit : bool, default=True
        Look for exact and near-duplicate images between the splits
        (:func:`~hybridfer.evaluation.leakage_audit`).
    data_source, color : str
        Saved with the pipeline's metadata (see :meth:`PipelineEvaluation.save`).

    Returns
    -------
    PipelineEvaluation
    """
    label = label or type(model).__name__
    fit_on = train if fit_rows is None else train.subset(fit_rows)
    start = time.perf_counter()
    model.fit(fit_on.X, fit_on.y)
    fit_seconds = time.perf_counter() - start
    y_pred = model.predict(test.X)
    present = set(train.y) | set(test.y)
    labels = [c for c in train.classes if c in present]
    return PipelineEvaluation(
        model=model,
        train=train,
        test=test,
        source=source or label,
        label=label,
        y_pred=y_pred,
        labels=labels,
        report=classification_report_frame(test.y, y_pred, labels=labels),
        fit_seconds=fit_seconds,
        leakage=leakage_audit(train, test) if audit else None,
        data_source=data_source,
        color=color,
    )
