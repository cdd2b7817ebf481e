"""The CTAN paper's network on CK+48, under the paper's protocol and the honest one.

From "Research on Face Expression Recognition Model Based on Improved CTAN" (the CTAN paper;
CTAN is a ConvNeXt-Tiny-based Combined Attention Network): ConvNeXt-Tiny followed by
Efficient Attention, Shuffle Attention, LayerNorm and FC (:mod:`hybridfer.nn.ctan`), trained with an exponential moving average of the weights
(decay 0.999), class-weighted cross-entropy with ``w_c = N / n_c`` normalised to sum 1,
histogram equalisation, normalisation with mean and std 0.5, drop path 0.3, Adam 5e-5 with
cosine annealing to 1e-9, batch 4, 300 epochs, keeping the epoch with the best validation
accuracy. It is a :class:`~hybridfer.classifiers.FERNetClassifier` with
``backbone="ctan_convnext"``. The paper claims 98.99% on CK+ (its own confusion matrix gives
98.3%).

Protocols (``protocol=``):

- ``"paper"``: :data:`hybridfer.data.random_split_811`: a random stratified 8:1:1
  train/validation/test split of CK+'s frames that ignores subjects, as the paper did with its
  981 frames (three per sequence): the test frames' siblings of the same sequence, near
  copies, sit in training.
- ``"honest"``: :data:`hybridfer.data.subject_kfold`: subject-grouped stratified K-fold (10
  folds at full scale, fewer at the smaller scales, stated in the report); inside each
  training fold, a subject-grouped ninth is the validation part the epoch is picked on. The
  folds' out-of-fold predictions are pooled into one score.
- ``"both"`` (default): both, one row each.

Basic RFB (``rfb=``, off by default): Table I of the paper lists a "Basic RFB" block (96 ->
96 channels) after the stem, but neither the text nor Figs. 1-2 describe or show it. We read it
as RFBNet's BasicRFB block ("Receptive Field Block Net for Accurate and Fast Object Detection"):
three branches of 1x1/3x3 convolutions ending in 3x3 convolutions dilated 1, 2 and 3,
concatenated, projected by a 1x1 convolution, scaled by 0.1, added to a 1x1 shortcut, then
ReLU (:class:`hybridfer.nn.ctan.BasicRFB`, 45,468 parameters at 96 channels). It is off by
default because the paper's description of the network (text, figures, equations) has no such
block and the table row is its only trace; ``rfb=True`` inserts it after the stem.

Initial weights (``weights=``): the paper does not say; ``"auto"`` uses torchvision's ImageNet
ConvNeXt-Tiny weights when they can be had (not at smoke scale), else a random
initialisation; the report says which.

Scales: ``smoke`` (a few subjects' frames, 32x32 inputs, 1 epoch, 2 folds), ``cpu`` (64x64
inputs, batch 16, 3 folds, a time budget shared by the trainings; each reduction is listed in
the report), ``full`` (the paper's settings: 224x224, batch 4, 300 epochs, 10 folds; meant for
a GPU).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from hybridfer.recipes.base import Recipe, RecipeResult, register
from hybridfer.recipes.paper import (
    PaperRun,
    keep_best_epoch,
    load_ckplus,
    profile_markdown,
    resolve_weights,
    scale_settings,
)

__all__ = ["CLAIM", "SETTINGS", "CTANSettings", "run_ctan"]

VERSION = "1"

#: The paper's CK+ test accuracy (its abstract and Table 7).
CLAIM = 0.9899


@dataclass(frozen=True)
class CTANSettings:
    """The CTAN recipe's settings at one scale.

    Attributes
    ----------
    input_size, batch_size, epochs : int
    folds : int
        Folds of the honest protocol.
    val_fraction : float
        Share of an honest training fold carved out for validation (subject-grouped).
    max_subjects : int or None
        Keep the frames of this many randomly chosen subjects only.
    budget_minutes : float or None
        Total training time, shared equally by every training.
    """

    input_size: int
    batch_size: int
    epochs: int
    folds: int
    val_fraction: float
    max_subjects: int | None
    budget_minutes: float | None


#: Settings per scale. ``cpu`` takes its 48-minute training budget (4 trainings of 12 minutes)
#: plus about half a minute of audits, saving and profiling (measured wall times:
#: ``benchmarks/README.md``, ``hybridfer reproduce ctan-convnext``).
SETTINGS: dict[str, CTANSettings] = {
    "smoke": CTANSettings(32, 8, 1, 2, 0.25, 12, None),
    "cpu": CTANSettings(64, 16, 300, 3, 1 / 9, None, 48.0),
    "full": CTANSettings(224, 4, 300, 10, 1 / 9, None, None),
}


def _reductions(scale: str, s: CTANSettings, per_training: float | None) -> list[str]:
    if scale == "full":
        return []
    out = [
        f"inputs {s.input_size}x{s.input_size} (paper: 224x224)",
        f"batch {s.batch_size} (paper: 4)",
        f"honest protocol: {s.folds} subject-grouped folds (10 at full scale)",
    ]
    if scale == "smoke":
        out.insert(0, f"the frames of at most {s.max_subjects} subjects")
        out.append(f"{s.epochs} epoch (paper: 300)")
    if per_training is not None:
        out.append(
            f"each training ends after {per_training:.1f} minutes (the cosine schedule anneals "
            f"over that time) or {s.epochs} epochs (paper: 300 epochs)"
        )
    return out


def run_ctan(
    data: str | os.PathLike,
    *,
    scale: str = "cpu",
    workdir: str | os.PathLike,
    resume: bool = False,
    protocol: str = "both",
    rfb: bool = False,
    weights: Any = "auto",
    folds: int | None = None,
    epochs: int | None = None,
    input_size: int | None = None,
    budget_minutes: float | None = None,
    random_state: int = 0,
    device: str = "auto",
    verbose: int = 1,
) -> RecipeResult:
    """Run the CTAN recipe (see the module docstring).

    Parameters
    ----------
    data : path
        CK+48 (one folder per class, files ``S<subject>_<sequence>_<frame>``), or a folder
        holding ``ckplus48/``.
    scale : {"smoke", "cpu", "full"}
    workdir : path
        Where checkpoints, fitted models, confusion PNGs and the report are written.
    resume : bool
        Continue killed training from its checkpoint; a split whose fitted model is already in
        ``workdir`` is not trained again.
    protocol : {"both", "paper", "honest"}, default="both"
    rfb : bool, default=False
        Insert the BasicRFB block after the stem (Table I's "Basic RFB"; see above).
    weights : "auto", str, path or None, default="auto"
        ConvNeXt-Tiny's initial weights (see above).
    folds : int, optional
        Folds of the honest protocol (default by scale: 2, 3, 10).
    epochs, input_size : int, optional
        Override the scale's epochs and input size.
    budget_minutes : float, optional
        Total training time shared equally by all trainings (``cpu`` default: 48 minutes).
    random_state : int, default=0
        Seed of the subset, the splits and the training.
    """
    from hybridfer.classifiers import FERNetClassifier
    from hybridfer.data import random_split_811, subject_kfold

    s = scale_settings(
        SETTINGS,
        scale,
        folds=folds,
        epochs=epochs,
        input_size=input_size,
        budget_minutes=budget_minutes,
    )
    run = PaperRun.choose(
        protocol,
        {"paper": random_split_811, "honest": subject_kfold.replace(n_splits=s.folds)},
        recipe="ctan-convnext",
        version=VERSION,
        scale=scale,
        workdir=workdir,
        budget_minutes=s.budget_minutes,
        resume=resume,
        random_state=random_state,
        device=device,
        verbose=verbose,
    )
    ds = load_ckplus(data, max_subjects=s.max_subjects, random_state=random_state)
    weights, weights_note = resolve_weights("convnext_tiny", weights, scale)
    size = int(s.input_size)

    def fit(split, tag):
        train, val = run.train_validation_parts(split, tag, s.val_fraction)
        clf = FERNetClassifier(
            backbone="ctan_convnext",
            architecture_params={"drop_path": 0.3, "rfb": bool(rfb), "weights": weights},
            color="rgb",
            normalize="half",
            equalize=True,
            input_size=size,
            epochs=int(s.epochs),
            batch_size=int(s.batch_size),
            optimizer="adam",
            learning_rate=5e-5,
            lr_schedule="cosine",
            min_lr=1e-9,
            class_weight="normalized",
            ema_decay=0.999,
            **keep_best_epoch(s.epochs, "val_accuracy"),  # never stop early
            **run.fit_keywords(tag),
        )
        return clf.fit(train.images, train.labels, eval_set=(val.images, val.labels))

    title = "CTAN" + (" + Basic RFB" if rfb else "")
    outcomes = run.run_protocols(ds, fit, claim=CLAIM, title=title)
    net = outcomes[-1].models[-1].model_
    profile = run.profile(net, (1, 3, size, size), paper_side=224)
    sections = {
        "Profile": profile_markdown(profile),
        "Initial weights": weights_note,
        "Basic RFB": (
            "on: RFBNet's BasicRFB after the stem (Table I's 'Basic RFB')"
            if rfb
            else "off (the default): Table I's 'Basic RFB' is not described by the paper's "
            "text or figures; rfb=True inserts RFBNet's BasicRFB after the stem"
        ),
    }
    return run.result(
        outcomes,
        claim=CLAIM,
        reductions=_reductions(scale, s, run.minutes_per_training),
        sections=sections,
        details={
            "settings": {
                **asdict(s),
                "rfb": bool(rfb),
                "weights": weights,
                "per_training_minutes": run.minutes_per_training,
            },
            "weights": weights_note,
            "n_images": len(ds),
            "n_subjects": int(len(set(ds.groups.tolist()))),
            "profile": profile,
        },
    )


CTAN_RECIPE = register(
    Recipe(
        name="ctan-convnext",
        title="CTAN (ConvNeXt-Tiny + Efficient/Shuffle Attention, EMA) on CK+48, paper vs "
        "honest protocol",
        source="Research on Face Expression Recognition Model Based on Improved CTAN",
        claims={"CK+ accuracy (random 8:1:1 of frames)": CLAIM, "FER2013 accuracy": 0.74},
        version=VERSION,
        run=run_ctan,
        default_scale="cpu",
    )
)
