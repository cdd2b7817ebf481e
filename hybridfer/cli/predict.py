"""``hybridfer predict``: a saved pipeline applied to photos, videos, folders or a FER2013 CSV
(:func:`hybridfer.predict.run_predict`)."""

from __future__ import annotations

import argparse
from typing import Any

from hybridfer.cli.base import Command
from hybridfer.cli.parser import count

__all__ = ["Predict"]


def _frames_per_second(text: str) -> float:
    """An argparse type: a frame rate > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected frames a second > 0, got {text!r}")
    return value


class Predict(Command):
    name = "predict"
    help = "apply a saved pipeline to photos, videos, folders or a FER2013 CSV"
    description = (
        "hybridfer predict PIPELINE INPUT... -o predictions.csv, or hybridfer predict --model "
        "NAME INPUT... with a FER model shipped with hybridfer (hybridfer models). Photos and videos (folders "
        "are searched recursively for both): one row per face, with columns path, frame, "
        "time_s, face, track, box_x, box_y, box_w, box_h, score, label, proba_<class>..., "
        "error. Faces are found (MTCNN by default) and aligned to the images the pipeline was "
        "trained on; an image of exactly the pipeline's size is one face, the whole image "
        "(--faces auto). An image or frame without a face, or a file that cannot be read, "
        "gets one row with its error and the run goes on. A FER2013 CSV input, or --faces "
        "none, keeps the per-image layout: path (or row, usage, true_label), label, "
        "proba_<class>..., error, the whole image of each photo. hybridfer predict --info "
        "PIPELINE: print what the pipeline expects and how it was trained."
    )
    interrupted = "interrupted; no output written"

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "pipeline",
            nargs="?",
            help="a pipeline saved by hybridfer tune, evaluate or a recipe (joblib); with "
            "--model, the first input",
        )
        parser.add_argument(
            "--model",
            metavar="NAME",
            help="a FER model shipped with hybridfer (hybridfer models lists them) instead of "
            "a pipeline file, e.g. --model fer2013-vgg",
        )
        parser.add_argument(
            "inputs",
            nargs="*",
            metavar="INPUT",
            help="photos, videos, folders (searched recursively), or one FER2013 CSV",
        )
        parser.add_argument(
            "-o", "--output", default="predictions.csv", help="the CSV to write (predictions.csv)"
        )
        parser.add_argument(
            "--info", action="store_true", help="print the pipeline's metadata and exit"
        )
        parser.add_argument(
            "--faces",
            choices=("auto", "none", "mtcnn", "haar"),
            default="auto",
            help="auto: find faces (MTCNN) unless an image is the pipeline's size; none: "
            "classify each whole photo, one row per image; mtcnn, haar: always find faces "
            "with that detector (auto)",
        )
        parser.add_argument(
            "--fps",
            type=_frames_per_second,
            metavar="F",
            help="videos: frames sampled per second, by their timestamps (default: every frame; "
            "e.g. 5 for long clips)",
        )
        parser.add_argument(
            "--smooth",
            type=count,
            metavar="N",
            help="videos: average each face track's probabilities over N sampled frames",
        )
        parser.add_argument(
            "--select",
            choices=("largest", "center"),
            help="one face per image or frame: the largest or the most central (default: all)",
        )
        parser.add_argument(
            "--min-face-size",
            type=count,
            default=20,
            metavar="PX",
            help="the smallest face searched for, in pixels (20)",
        )
        parser.add_argument(
            "--annotate",
            metavar="DIR",
            help="write copies with the faces boxed and labelled: a PNG per photo, an MP4 "
            "of the sampled frames per video",
        )
        parser.add_argument(
            "--timeline",
            metavar="DIR",
            help="write a PNG per video of each face track's class probabilities over time",
        )
        parser.add_argument(
            "--usage",
            action="append",
            choices=("Training", "PublicTest", "PrivateTest"),
            help="FER2013 CSV: only rows of this usage (repeatable)",
        )
        parser.add_argument(
            "--batch-size",
            type=count,
            default=256,
            metavar="N",
            help="images or face crops per batch (256)",
        )
        parser.add_argument("--no-progress", dest="progress", action="store_false")

    def run(self, **options: Any) -> Any:
        from hybridfer.predict import run_predict

        return run_predict(**options)
