"""The CLCM paper's MobileNetV2 variant on FER2013, with its cross-dataset test on CK+48.

From "Facial Emotion Recognition (FER) Through Custom Lightweight CNN Model: Performance
Evaluation in Public Datasets" (the CLCM paper; CLCM is a MobileNetV2 variant): ImageNet MobileNetV2 with its first bottleneck block frozen, and a head
GAP -> Dense 128 ReLU -> Dense 64 ReLU -> Dense 7 with dropout 0.5; grayscale faces as 3
channels, resized to 224 and scaled to [-1, 1]; small rotations, flips, shear, zoom and shifts
(no magnitudes given: :mod:`hybridfer.nn.augment`'s ``"default"`` preset, flip 0.5, rotation
10 degrees, shift 10%, zoom 0.9-1.1, shear 5 degrees); Adam 1e-4, batch 64, 100 epochs,
keeping the epoch with the best validation accuracy, the validation set being 20% of the
official training set. It claims 63% on FER2013 and 71% on CK+ for the model trained on
FER2013, with 2,393,191 parameters and 0.5994 GFLOPs. Here it is a
:class:`~hybridfer.classifiers.FERNetClassifier` (``backbone="mobilenet_v2", head="mlp",
hidden_units=(128, 64), freeze_up_to="backbone.1"``).

Protocol: the paper keeps FER2013's official usages (train on ``Training`` with 20% of it
held out for validation, test on the official test images): that is already the honest
protocol (:data:`hybridfer.data.official_fer2013`, ``PublicTest`` as the test set). So
``protocol="paper"``, ``"honest"`` and ``"both"`` all run it once; its row is labelled
``paper = honest``. The leakage audit still counts FER2013's own duplicates across the usages.

Cross-dataset test (``cross_data=PATH``, a CK+48 folder): the trained model predicts every
CK+48 frame, with CK+'s labels mapped to FER2013's (:data:`CKPLUS_TO_FER2013`: anger ->
angry, disgust, fear, happy, sadness -> sad, surprise). CK+48 has no ``neutral`` frame (the
model may still predict neutral, which then counts as an error) and a ``contempt`` class that
FER2013 lacks: ``contempt="drop"`` (default) leaves its frames out, as the paper's CK+
confusion matrix has no contempt class; ``contempt="<FER2013 class>"`` maps it there instead
(e.g. ``"disgust"``). The report states the mapping and how many frames were left out.

Initial weights (``weights=``): ``"auto"`` uses torchvision's ImageNet MobileNetV2 when those
weights can be had (not at smoke scale), else a random initialisation; the report says which.
The [-1, 1] scaling follows the paper (Keras' MobileNetV2 convention), also with torchvision's
weights, which were trained on ImageNet-normalised inputs. Adam at 1e-4 with a frozen first
block is a fine-tuning recipe: from random weights it stayed at chance, every image called one
class (``hybridfer reproduce clcm-mobilenetv2 --scale cpu``; the run is logged in
``benchmarks/README.md``), so with random weights nothing is frozen and Adam runs at 1e-3; the
report lists this among the reductions.

Scales: ``smoke`` (a few hundred images, 32x32, 1 epoch), ``cpu`` (a stratified 30% of the
images, 96x96, a time budget; the reductions are listed in the report), ``full`` (every image,
224x224, 100 epochs; meant for a GPU).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hybridfer.data.label_maps import LABEL_MAPS
from hybridfer.recipes.base import Recipe, RecipeError, RecipeResult, register
from hybridfer.recipes.paper import (
    PaperRun,
    chosen_protocols,
    keep_best_epoch,
    load_ckplus,
    load_fer2013_subset,
    profile_markdown,
    resolve_weights,
    scale_settings,
    score_cross_dataset,
)

__all__ = ["CKPLUS_TO_FER2013", "CLAIMS", "SETTINGS", "CLCMSettings", "run_clcm"]

VERSION = "1"

#: The paper's numbers for CLCM trained on FER2013.
CLAIMS: dict[str, float] = {
    "FER2013 accuracy": 0.63,
    "CK+ accuracy (trained on FER2013)": 0.71,
    "parameters": 2_393_191,
    "GFLOPs": 0.5994,
}

#: CK+48 class -> FER2013 class (contempt has none: see ``contempt=``), from
#: :data:`hybridfer.data.LABEL_MAPS`.
CKPLUS_TO_FER2013: dict[str, str] = {
    k: v for k, v in LABEL_MAPS["ckplus48"].items() if v != "contempt"
}


@dataclass(frozen=True)
class CLCMSettings:
    """The CLCM recipe's settings at one scale.

    Attributes
    ----------
    max_images : int or None
        A stratified subset of at most this many images.
    fraction : float or None
        A stratified share of the images.
    input_size, epochs, batch_size : int
    budget_minutes : float or None
        Training time (one training).
    """

    max_images: int | None
    fraction: float | None
    input_size: int
    epochs: int
    batch_size: int
    budget_minutes: float | None


#: Settings per scale. ``cpu`` takes its 45-minute training budget plus about half a minute of
#: decoding, audits, the CK+ test and profiling (measured wall times and accuracies:
#: ``benchmarks/README.md``, ``hybridfer reproduce clcm-mobilenetv2``).
SETTINGS: dict[str, CLCMSettings] = {
    "smoke": CLCMSettings(280, None, 32, 1, 32, None),
    "cpu": CLCMSettings(None, 0.3, 96, 100, 64, 45.0),
    "full": CLCMSettings(None, None, 224, 100, 64, None),
}


def map_ckplus_labels(ds: Any, contempt: str) -> tuple[Any, int]:
    """CK+48 with FER2013's labels (:func:`hybridfer.data.map_labels`); ``contempt`` frames
    dropped (``"drop"``) or given that FER2013 class. Returns the data set and the frames
    dropped."""
    from hybridfer.data import map_labels

    merge = None if contempt == "drop" else {"contempt": contempt}
    try:
        out = map_labels(ds, to="fer2013", merge=merge)
    except ValueError as exc:
        raise RecipeError(f"contempt={contempt!r}: {exc}") from None
    return out.dataset, sum(out.dropped.values())


def _reductions(scale: str, s: CLCMSettings, budget: float | None) -> list[str]:
    if scale == "full":
        return []
    out = []
    if s.max_images is not None:
        out.append(f"a stratified subset of at most {s.max_images} images (by usage, class)")
    if s.fraction is not None:
        out.append(f"a stratified {s.fraction:.0%} of the images (by usage and class)")
    out.append(f"inputs {s.input_size}x{s.input_size} (paper: 224x224)")
    if scale == "smoke":
        out.append(f"{s.epochs} epoch (paper: 100)")
    if budget is not None:
        out.append(f"training ends after {budget:.0f} minutes or {s.epochs} epochs")
    return out


def run_clcm(
    data: str | os.PathLike,
    *,
    scale: str = "cpu",
    workdir: str | os.PathLike,
    resume: bool = False,
    protocol: str = "both",
    cross_data: str | os.PathLike | None = None,
    contempt: str = "drop",
    weights: Any = "auto",
    fraction: float | None = None,
    input_size: int | None = None,
    epochs: int | None = None,
    budget_minutes: float | None = None,
    random_state: int = 0,
    device: str = "auto",
    verbose: int = 1,
) -> RecipeResult:
    """Run the CLCM recipe (see the module docstring).

    Parameters
    ----------
    data : path
        FER2013 (CSV, image-folder release, or a folder holding ``fer2013/``).
    scale : {"smoke", "cpu", "full"}
    workdir : path
    resume : bool
    protocol : {"both", "paper", "honest"}, default="both"
        All three run the one protocol the paper used (it is the honest one).
    cross_data : path, optional
        CK+48 for the cross-dataset test (or a folder holding ``ckplus48/``).
    contempt : "drop" or a FER2013 class, default="drop"
        What CK+'s contempt frames become in the cross-dataset test.
    weights : "auto", str, path or None, default="auto"
    fraction : float, optional
        Override the ``cpu`` scale's share of the images.
    input_size, epochs : int, optional
    budget_minutes : float, optional
        Training time (``cpu`` default: 45 minutes).
    random_state : int, default=0
    """
    from hybridfer.classifiers import FERNetClassifier
    from hybridfer.data import FER2013_CLASSES, official_fer2013

    chosen_protocols(protocol)  # all three run the paper's protocol, which is the honest one
    if contempt != "drop" and contempt not in FER2013_CLASSES:
        raise RecipeError(
            f"contempt must be 'drop' or a FER2013 class {list(FER2013_CLASSES)}, got {contempt!r}"
        )
    s = scale_settings(
        SETTINGS,
        scale,
        fraction=fraction,
        input_size=input_size,
        epochs=epochs,
        budget_minutes=budget_minutes,
    )
    run = PaperRun.choose(
        "honest",
        {"honest": official_fer2013},
        recipe="clcm-mobilenetv2",
        version=VERSION,
        scale=scale,
        workdir=workdir,
        budget_minutes=s.budget_minutes,
        resume=resume,
        random_state=random_state,
        device=device,
        verbose=verbose,
    )
    cross = None
    if isinstance(cross_data, (list, tuple)):  # the CLI's --cross-data is repeatable
        if len(cross_data) != 1:
            raise RecipeError(f"cross_data: one CK+48 folder expected, got {len(cross_data)}")
        cross_data = cross_data[0]
    if cross_data is not None:  # read first: a wrong path fails before any training
        cross, n_dropped = map_ckplus_labels(load_ckplus(cross_data), contempt)
    ds = load_fer2013_subset(
        data,
        max_images=s.max_images,
        fraction=s.fraction,
        need=("Training", "PublicTest"),
        random_state=random_state,
    )
    weights, weights_note = resolve_weights("mobilenet_v2", weights, scale)
    size = int(s.input_size)
    pretrained = weights is not None  # the paper's fine-tuning settings need pretrained weights

    def fit(split, tag):
        train, val = run.train_validation_parts(split, tag, 0.2)
        clf = FERNetClassifier(
            backbone="mobilenet_v2",
            head="mlp",
            hidden_units=(128, 64),
            head_dropout=0.5,
            weights=weights,
            freeze_up_to="backbone.1" if pretrained else None,
            color="rgb",
            normalize="minus_one_one",
            input_size=size,
            augment="default",
            epochs=int(s.epochs),
            batch_size=int(s.batch_size),
            optimizer="adam",
            learning_rate=1e-4 if pretrained else 1e-3,
            **keep_best_epoch(s.epochs, "val_accuracy"),  # never stop early
            **run.fit_keywords(tag),
        )
        return clf.fit(train.images, train.labels, eval_set=(val.images, val.labels))

    (outcome,) = run.run_protocols(ds, fit, claim=CLAIMS["FER2013 accuracy"], title="CLCM")
    outcome.row["protocol"] = "paper = honest"
    outcomes = [outcome]
    sections: dict[str, str] = {}
    clf = outcome.models[0]
    if cross is not None:
        train_part = ds.subset(np.flatnonzero(ds.usage == "Training"))
        mapping = ", ".join(f"{k} -> {v}" for k, v in CKPLUS_TO_FER2013.items())
        handled = (
            f"its {n_dropped} contempt frames left out"
            if contempt == "drop"
            else f"contempt -> {contempt}"
        )
        description = (
            f"cross-dataset: the model trained on FER2013 predicts {len(cross)} CK+48 frames; "
            f"labels mapped {mapping}; {handled}; CK+48 has no neutral frame"
        )
        outcomes.append(
            score_cross_dataset(
                "CK+48 cross-dataset",
                clf,
                cross,
                train_part,
                workdir=run.workdir,
                claim=CLAIMS["CK+ accuracy (trained on FER2013)"],
                title="CLCM",
                description=description,
                labels=list(FER2013_CLASSES),
            )
        )
    profile = run.profile(clf.model_, (1, 3, size, size), paper_side=224)
    sections["Profile"] = (
        profile_markdown(profile, {"parameters": CLAIMS["parameters"]})
        + f"\n- the paper's GFLOPs: {CLAIMS['GFLOPs']} at 224x224 (counted as ours are, a "
        "multiply-add as 2)"
    )
    sections["Initial weights"] = weights_note
    sections["Protocol"] = (
        "The CLCM paper trains on FER2013's training set (20% of it held out for validation) "
        "and tests on the official test images: that is the honest protocol, so it runs once "
        "(row 'paper = honest')."
    )
    result = run.result(
        outcomes,
        claim=CLAIMS["FER2013 accuracy"],
        reductions=_reductions(scale, s, s.budget_minutes)
        + (
            []
            if pretrained
            else [
                "random initial weights: nothing frozen and Adam at 1e-3 (the paper fine-tunes "
                "ImageNet weights at 1e-4 with the first bottleneck block frozen)"
            ]
        ),
        sections=sections,
        details={
            "settings": {**asdict(s), "weights": weights, "contempt": contempt},
            "weights": weights_note,
            "n_images": len(ds),
            "n_cross": None if cross is None else len(cross),
            "profile": profile,
        },
    )
    result.details["summary"]["paper protocol"] = outcome.row["acc"]
    if cross is not None:
        result.details["summary"]["CK+48 cross-dataset"] = outcomes[1].row["acc"]
    return result


CLCM_RECIPE = register(
    Recipe(
        name="clcm-mobilenetv2",
        title="CLCM (MobileNetV2, frozen first bottleneck, GAP-128-64-7 head) on FER2013, "
        "cross-dataset test on CK+48 (cross_data=)",
        source="Facial Emotion Recognition (FER) Through Custom Lightweight CNN Model: "
        "Performance Evaluation in Public Datasets",
        claims=CLAIMS,
        version=VERSION,
        run=run_clcm,
        default_scale="cpu",
    )
)
