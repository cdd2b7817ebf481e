"""``hybridfer evaluate`` and ``extract``: a held-out report, and the feature cache filled
ahead of studies (workflows of :mod:`hybridfer.tuning.workflows`)."""

from __future__ import annotations

from typing import Any

from hybridfer.cli.base import ConfigCommand, echo
from hybridfer.cli.parser import config_arguments

__all__ = ["Evaluate", "Extract", "run_evaluate", "run_extract"]


def run_evaluate(
    cfg,
    *,
    workdir=None,
    storage=None,
    study=None,
    pipeline=None,
    pair=None,
    audit=True,
    data=None,
    cross_data=None,
) -> dict:
    """``hybridfer evaluate``: fit a pipeline on the training split, report on the test split
    (:func:`hybridfer.tuning.evaluate_config`).

    The pipeline is ``pipeline`` (a joblib file, refitted), or ``pair``
    (``"features/classifier"`` at fixed settings), or else the best trial of the config's
    study. Writes ``report.md``/``report.csv``, ``confusion.png``/``confusion.csv`` and
    ``leakage.md``/``leakage.csv`` to ``<workdir>/evaluate``
    (:meth:`~hybridfer.evaluation.PipelineEvaluation.save`). Returns its summary dict.
    """
    from hybridfer.tuning.workflows import RunSetup, evaluate_config

    setup = RunSetup(cfg, workdir, storage, study, data, log=echo)
    evaluation = evaluate_config(
        setup, pipeline=pipeline, pair=pair, audit=audit, cross_data=cross_data or (), log=echo
    )
    echo("", evaluation.table_markdown(), "")
    for report in evaluation.cross:
        echo(
            f"cross-dataset, {report.split.test.name}:",
            _rows_markdown(report.rows(evaluation.label)),
            "",
        )
    if evaluation.leakage is not None:
        echo("leakage audit (train vs test): " + evaluation.leakage.summary())
    paths = evaluation.save(setup.workdir / "evaluate")
    echo(f"wrote {paths['report_md']}, {paths['confusion_png']}, {paths['pipeline']}")
    return evaluation.summary()


def run_extract(cfg, *, workdir=None, features=None, split="all") -> dict:
    """``hybridfer extract``: fill the on-disk feature cache for the config's images
    (:func:`hybridfer.tuning.extract_features`). Returns ``{component: seconds}``."""
    from hybridfer.tuning.workflows import RunSetup, extract_features

    setup = RunSetup(cfg, workdir, log=echo)
    return extract_features(setup, features=features, split=split, log=echo)


def _rows_markdown(rows: list[dict]) -> str:
    import pandas as pd

    from hybridfer.evaluation import report_markdown

    return report_markdown(pd.DataFrame(rows).set_index("scored over"))


class Evaluate(ConfigCommand):
    name = "evaluate"
    help = "fit on the training split, report on the test split"

    def add_arguments(self, parser) -> None:
        config_arguments(parser)
        src = parser.add_mutually_exclusive_group()
        src.add_argument("--pipeline", help="a pipeline saved with joblib (refitted on train)")
        src.add_argument("--pair", help="FEATURES/CLASSIFIER at fixed settings, e.g. hog+lbp/svm")
        parser.add_argument(
            "--cross-data",
            action="append",
            metavar="[NAME:]PATH",
            help="also score the fitted pipeline on another data set, its labels mapped to the "
            "training classes (repeatable; NAME as in hybridfer datasets, else told from the "
            "layout; whole pictures are face-cropped first)",
        )
        parser.add_argument(
            "--no-audit",
            dest="audit",
            action="store_false",
            help="skip the train/test leakage audit",
        )

    def run(self, cfg, **options: Any) -> dict:
        return run_evaluate(cfg, **options)


class Extract(ConfigCommand):
    name = "extract"
    help = "fill the feature cache ahead of studies"

    def add_arguments(self, parser) -> None:
        config_arguments(parser, study=False)
        parser.add_argument(
            "--features", nargs="+", help="feature sets (default: all in the config)"
        )
        parser.add_argument("--split", choices=("train", "test", "all"), default="all")

    def run(self, cfg, **options: Any) -> dict:
        return run_extract(cfg, **options)
