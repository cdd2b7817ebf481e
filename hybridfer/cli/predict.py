"""``hybridfer predict``: a saved pipeline applied to image folders, files or a FER2013 CSV
(:func:`hybridfer.predict.run_predict`)."""

from __future__ import annotations

from typing import Any

from hybridfer.cli.base import Command
from hybridfer.cli.parser import count

__all__ = ["Predict"]


class Predict(Command):
    name = "predict"
    help = "apply a saved pipeline to image folders, image files or a FER2013 CSV"
    description = (
        "hybridfer predict PIPELINE INPUT... -o predictions.csv: one row per image "
        "(path or CSV row, predicted label, one probability column per class); unreadable "
        "images get a row with their error and the run goes on. hybridfer predict --info "
        "PIPELINE: print what the pipeline expects and how it was trained."
    )
    interrupted = "interrupted; no output written"

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "pipeline", help="a pipeline saved by hybridfer tune, evaluate or a recipe (joblib)"
        )
        parser.add_argument(
            "inputs",
            nargs="*",
            metavar="INPUT",
            help="image folders (searched recursively), image files, or one FER2013 CSV",
        )
        parser.add_argument(
            "-o", "--output", default="predictions.csv", help="the CSV to write (predictions.csv)"
        )
        parser.add_argument(
            "--info", action="store_true", help="print the pipeline's metadata and exit"
        )
        parser.add_argument(
            "--usage",
            action="append",
            choices=("Training", "PublicTest", "PrivateTest"),
            help="FER2013 CSV: only rows of this usage (repeatable)",
        )
        parser.add_argument(
            "--batch-size", type=count, default=256, metavar="N", help="images per batch (256)"
        )
        parser.add_argument("--no-progress", dest="progress", action="store_false")

    def run(self, **options: Any) -> Any:
        from hybridfer.predict import run_predict

        return run_predict(**options)
