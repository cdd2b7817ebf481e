"""The MobileNetV3-LSTM pain paper's model, on CK+48 as a stand-in, under both protocols.

From "Hybrid MobileNetV3-LSTM Model for Detecting Phasic and Tonic Receptor Responses in
Facial Images" (the pain paper): MobileNetV3 Large or Small (ImageNet) -> pooling -> LSTM ->
dropout -> dense softmax, inputs resized to 224 and scaled to [-1, 1], augmentation (rotation
20 degrees, shift 15%, zoom 20%, flip, shear 0.05: :mod:`hybridfer.nn.augment`'s ``"pain"``
preset), two-stage transfer learning (backbone frozen, then everything trained), Adam, focal
loss (alpha 0.25, gamma 2) with class weights, the checkpoint with the best validation loss
kept. It reports 93.1% test accuracy (Large) and 73.6% (Small) on 3 pain classes of its own
PEMF frames, which are not available: CK+48's 7 expression classes stand in, its frames
grouped into sequences by subject and sequence id (``S005_001_*``). The claim is printed
beside ours for reference only; it is another data set and task.

Modes (``mode=``; what the LSTM reads):

- ``"tokens"`` (default): per frame, the backbone's last feature map as a sequence of spatial
  tokens (7x7 = 49 at 224x224), trained end to end: a
  :class:`~hybridfer.classifiers.FERNetClassifier` with ``head="lstm"``, frozen backbone for
  ``frozen_epochs``, then unfrozen.
- ``"pooled"``: per frame, the globally pooled features as a sequence of length 1 (the
  paper's "pooling -> LSTM" read literally).
- ``"sequence"``: ``window`` consecutive frames of one sequence (3 for CK+48, which keeps the
  last 3 frames of each), each pooled, as the LSTM's timesteps: what a video or pain user needs.

``"pooled"`` and ``"sequence"`` train in two steps, since one LSTM sample holds several
backbone passes: the backbone is trained per frame with the paper's two-stage recipe and a
temporary linear head (:class:`~hybridfer.extractors.MobileNetV3Features` with ``fine_tune``),
then the LSTM head (:class:`~hybridfer.classifiers.LSTMHeadClassifier`, same focal loss,
class weights and best-validation-loss checkpoint) on its frozen features
(:class:`~hybridfer.data.PerFrame`). ``"pooled"`` is ``"sequence"`` with windows of 1 frame.

Protocols (``protocol=``):

- ``"paper"``: :data:`hybridfer.data.random_split_91`: the paper's random 90:10 split of
  frames (of windows in ``"sequence"`` mode), ignoring subjects; the validation part (best
  checkpoint) is a random ninth of the training frames. A test frame's sibling frames of the
  same sequence, near copies, sit in training.
- ``"honest"``: :data:`hybridfer.data.subject_kfold`: subject-grouped folds (10 at full scale,
  fewer at smaller scales, stated), the validation part a subject-grouped ninth of each training
  fold; out-of-fold predictions pooled.
- ``"both"`` (default).

Decisions (the paper is vague): LSTM of 128 units (its size is not given), dropout 0.5, one
dense softmax layer after it; the frozen stage at learning rate 1e-3, the unfrozen one at 1e-4
(the paper gives neither); class weights ``"balanced"`` (n / (K n_c)). The two stages need
pretrained weights: on random ones the frozen stage would fit the head to random features, and
the unfrozen stage's 1e-4 barely moves a network from scratch (it learned far less than one
stage at 1e-3 on CK+48 at cpu scale; the runs are logged in ``benchmarks/README.md``). So with
random weights the whole network trains from the first epoch at 1e-3, and the report says so.
(torchvision's BatchNorm momentum of 0.01 also made eval-mode predictions one class after
minutes of training; :func:`hybridfer.nn.weights.build_torchvision_model` sets it to 0.1 for
random weights.)

Scales: ``smoke`` (a few subjects, 32x32, 1 + 1 epochs, 2 folds), ``cpu`` (112x112, 3 folds, a
time budget shared by the trainings; reductions listed in the report), ``full`` (224x224, 100
epochs, 10 folds).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hybridfer.recipes.base import Recipe, RecipeError, RecipeResult, register
from hybridfer.recipes.paper import (
    PaperRun,
    chosen_protocols,
    load_ckplus,
    profile_markdown,
    resolve_weights,
    scale_settings,
)

__all__ = ["CLAIMS", "MODES", "SETTINGS", "MobileNetV3LSTMSettings", "run_mobilenetv3_lstm"]

VERSION = "1"

#: The paper's test accuracy per MobileNetV3 variant (on its PEMF pain frames, 3 classes).
CLAIMS: dict[str, float] = {"large": 0.931, "small": 0.736}

MODES = ("tokens", "pooled", "sequence")


@dataclass(frozen=True)
class MobileNetV3LSTMSettings:
    """The MobileNetV3-LSTM recipe's settings at one scale.

    Attributes
    ----------
    input_size, batch_size : int
    epochs : int
        Epochs of the network (or, in ``"pooled"``/``"sequence"`` mode, of the backbone).
    frozen_epochs : int
        Of those, the epochs with the backbone frozen (pretrained weights only).
    lstm_epochs : int
        Epochs of the LSTM head in ``"pooled"``/``"sequence"`` mode.
    folds : int
        Folds of the honest protocol.
    val_fraction : float
        Share of a training part carved out for validation.
    max_subjects : int or None
        Keep the frames of this many randomly chosen subjects only.
    budget_minutes : float or None
        Total training time, shared equally by every training.
    """

    input_size: int
    batch_size: int
    epochs: int
    frozen_epochs: int
    lstm_epochs: int
    folds: int
    val_fraction: float
    max_subjects: int | None
    budget_minutes: float | None


#: Settings per scale. ``cpu`` takes its 44-minute budget (4 trainings of 11 minutes) plus about
#: half a minute of audits, saving and profiling (measured wall times and accuracies:
#: ``benchmarks/README.md``, ``hybridfer reproduce mobilenetv3-lstm-pain``).
SETTINGS: dict[str, MobileNetV3LSTMSettings] = {
    "smoke": MobileNetV3LSTMSettings(32, 16, 2, 1, 2, 2, 0.25, 12, None),
    "cpu": MobileNetV3LSTMSettings(112, 32, 100, 5, 100, 3, 1 / 9, None, 44.0),
    "full": MobileNetV3LSTMSettings(224, 32, 100, 5, 100, 10, 1 / 9, None, None),
}


def frame_windows(ds: Any, window: int) -> Any:
    """CK+48 frames as a data set of windows ``(m, window, H, W)`` of consecutive frames of one
    sequence (labelled by their last frame, grouped by subject; the clip id as the path)."""
    from hybridfer.data import FERDataset, frames_from_dataset

    try:
        w = frames_from_dataset(ds, window=window, label="last")
    except ValueError as exc:
        raise RecipeError(f"cannot cut CK+48 into windows of {window} frames: {exc}") from None
    return FERDataset(
        images=w.X,
        labels=w.y,
        classes=ds.classes,
        paths=w.clips,
        groups=w.groups,
        name=f"{ds.name}[windows of {window}]",
    )


def _frames(part: Any) -> np.ndarray:
    """The frames of a data set of windows, one after another."""
    images = np.asarray(part.images)
    return images.reshape(-1, *images.shape[2:])


def _reductions(scale: str, s: MobileNetV3LSTMSettings, per: float | None) -> list[str]:
    if scale == "full":
        return []
    side = s.input_size
    tokens = max(side // 32, 1) ** 2
    out = [
        f"inputs {side}x{side} (paper: 224x224; {tokens} tokens instead of 49 in tokens mode)",
        f"honest protocol: {s.folds} subject-grouped folds (10 at full scale)",
    ]
    if scale == "smoke":
        out.insert(0, f"the frames of at most {s.max_subjects} subjects")
        out.append(f"{s.frozen_epochs} frozen + {s.epochs - s.frozen_epochs} epochs")
    if per is not None:
        out.append(
            f"each training ends after {per:.1f} minutes or {s.epochs} epochs (a frozen "
            "stage, if any, taking its share of the time)"
        )
    return out


def run_mobilenetv3_lstm(
    data: str | os.PathLike,
    *,
    scale: str = "cpu",
    workdir: str | os.PathLike,
    resume: bool = False,
    protocol: str = "both",
    mode: str = "tokens",
    variant: str = "large",
    window: int = 3,
    weights: Any = "auto",
    folds: int | None = None,
    epochs: int | None = None,
    frozen_epochs: int | None = None,
    input_size: int | None = None,
    budget_minutes: float | None = None,
    random_state: int = 0,
    device: str = "auto",
    verbose: int = 1,
) -> RecipeResult:
    """Run the MobileNetV3-LSTM pain recipe on CK+48 (see the module docstring).

    Parameters
    ----------
    data : path
        CK+48 (or a folder holding ``ckplus48/``).
    scale : {"smoke", "cpu", "full"}
    workdir : path
    resume : bool
    protocol : {"both", "paper", "honest"}, default="both"
    mode : {"tokens", "pooled", "sequence"}, default="tokens"
    variant : {"large", "small"}, default="large"
    window : int, default=3
        Frames per sequence in ``"sequence"`` mode.
    weights : "auto", str, path or None, default="auto"
        MobileNetV3's initial weights: ImageNet when they can be had (not at smoke scale),
        else random; the report says which.
    folds, epochs, frozen_epochs, input_size : int, optional
        Override the scale's settings.
    budget_minutes : float, optional
        Total training time shared by all trainings (``cpu`` default: 44 minutes).
    random_state : int, default=0
    """
    from sklearn.pipeline import Pipeline

    from hybridfer.classifiers import FERNetClassifier, LSTMHeadClassifier
    from hybridfer.data import PerFrame, random_split_91, subject_kfold
    from hybridfer.evaluation.profiling import count_flops, measure_latency, parameter_counts
    from hybridfer.extractors import MobileNetV3Features

    chosen_protocols(protocol)  # a wrong protocol is the first error
    if mode not in MODES:
        raise RecipeError(f"mode must be one of {list(MODES)}, got {mode!r}")
    if variant not in CLAIMS:
        raise RecipeError(f"variant must be 'large' or 'small', got {variant!r}")
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise RecipeError(f"window must be a positive int, got {window!r}")
    s = scale_settings(
        SETTINGS,
        scale,
        folds=folds,
        epochs=epochs,
        frozen_epochs=frozen_epochs,
        input_size=input_size,
        budget_minutes=budget_minutes,
    )
    if not 0 <= s.frozen_epochs < s.epochs:
        raise RecipeError(f"frozen_epochs must be below epochs ({s.epochs}), got {s.frozen_epochs}")
    run = PaperRun.choose(
        protocol,
        {"paper": random_split_91, "honest": subject_kfold.replace(n_splits=s.folds)},
        recipe="mobilenetv3-lstm-pain",
        version=VERSION,
        scale=scale,
        workdir=workdir,
        budget_minutes=s.budget_minutes,
        resume=resume,
        random_state=random_state,
        device=device,
        verbose=verbose,
    )
    frames = load_ckplus(data, max_subjects=s.max_subjects, random_state=random_state)
    steps = 1 if mode == "pooled" else int(window)
    ds = frames if mode == "tokens" else frame_windows(frames, steps)
    arch = f"mobilenet_v3_{variant}"
    weights, weights_note = resolve_weights(arch, weights, scale)
    size = int(s.input_size)
    # two-stage transfer only from pretrained weights (see the module docstring)
    stages = (
        {"freeze": "backbone", "frozen_epochs": int(s.frozen_epochs), "unfreeze_lr": 1e-4}
        if weights is not None
        else {"freeze": None, "frozen_epochs": 0, "unfreeze_lr": None}
    )
    common = {
        "loss": "focal",
        "focal_alpha": 0.25,
        "focal_gamma": 2.0,
        "class_weight": "balanced",
        "early_stopping": True,
        "monitor": "val_loss",
    }

    def fit(split, tag):
        train, val = run.train_validation_parts(split, tag, s.val_fraction)
        if mode == "tokens":
            clf = FERNetClassifier(
                backbone=arch,
                head="lstm",
                weights=weights,
                lstm_hidden=128,
                hidden_units=(),
                head_dropout=0.5,
                color="rgb",
                normalize="minus_one_one",
                input_size=size,
                augment="pain",
                epochs=int(s.epochs),
                batch_size=int(s.batch_size),
                optimizer="adam",
                learning_rate=1e-3,
                **stages,
                patience=int(s.epochs),  # never stop early: keep the best validation loss
                **run.fit_keywords(tag),
                **common,
            )
            return clf.fit(train.images, train.labels, eval_set=(val.images, val.labels))
        # pooled / sequence: the backbone trained per frame, then the LSTM on its features
        tuning = {
            "epochs": int(s.epochs),
            "batch_size": int(s.batch_size),
            "learning_rate": 1e-3,
            **{k: v for k, v in stages.items() if v is not None},
            "augment": "pain",
            "patience": int(s.epochs),
            "eval_set": (_frames(val), np.repeat(val.labels, steps)),
            **run.fine_tune_keywords(tag),
            **common,
        }
        per_frame = PerFrame(
            MobileNetV3Features(
                variant,
                layers=("stage5",),
                pooling="avg",
                weights=weights,
                normalize="minus_one_one",
                input_size=size,
                fine_tune=tuning,
                cache=False,
                **run.estimator_keywords(),
            )
        ).fit(train.images, train.labels)
        lstm = LSTMHeadClassifier(
            hidden_size=128,
            dropout=0.5,
            epochs=int(s.lstm_epochs),
            batch_size=int(s.batch_size),
            learning_rate=1e-3,
            patience=int(s.lstm_epochs),
            device=device,
            random_state=random_state,
            **common,
        )
        lstm.fit(
            per_frame.transform(train.images),
            train.labels,
            eval_set=(per_frame.transform(val.images), val.labels),
        )
        return Pipeline([("frames", per_frame), ("lstm", lstm)])

    claim = CLAIMS[variant]
    title = f"MobileNetV3-{variant.capitalize()}-LSTM ({mode})"
    audit_images = (lambda part: part.images) if mode == "tokens" else _frames
    outcomes = run.run_protocols(ds, fit, claim=claim, title=title, audit_images=audit_images)
    model = outcomes[-1].models[-1]
    if mode == "tokens":
        profile = run.profile(model.model_, (1, 3, size, size))
    else:
        backbone = model.named_steps["frames"].transformer_.model_
        head = model.named_steps["lstm"].model_
        latency = measure_latency(
            model.predict, n_runs=run.profile_runs, warmup=1, inputs=ds.images[:1]
        )
        profile = {
            "parameters": parameter_counts(backbone)["total"] + parameter_counts(head)["total"],
            "gflops": count_flops(backbone, (1, 3, size, size)) / 1e9,
            "input_shape": [1, 3, size, size],
            "latency_ms": float(latency["mean_ms"]),
            "latency_device": f"whole pipeline, one sample of {steps} frame(s)",
            "latency_runs": run.profile_runs,
        }
    sections = {
        "Profile": profile_markdown(profile),
        "Initial weights": weights_note,
        "Data": (
            "CK+48 stands in for the paper's PEMF pain frames (not available): 7 expression "
            "classes instead of 3 pain classes, frames grouped by subject (S<subject>) and "
            f"sequence (S<subject>_<sequence>). The claimed {claim:.1%} is the paper's, on its "
            "own data, shown for reference only."
        ),
    }
    return run.result(
        outcomes,
        claim=claim,
        reductions=_reductions(scale, s, run.minutes_per_training)
        + (
            []
            if weights is not None
            else [
                "random initial weights: one stage at learning rate 1e-3 instead of the "
                "paper's two-stage transfer (frozen backbone, then unfrozen)"
            ]
        ),
        sections=sections,
        details={
            "settings": {
                **asdict(s),
                "mode": mode,
                "variant": variant,
                "window": steps,
                "weights": weights,
                "per_training_minutes": run.minutes_per_training,
            },
            "weights": weights_note,
            "n_frames": len(frames),
            "n_samples": len(ds),
            "profile": profile,
        },
    )


MOBILENETV3_LSTM_RECIPE = register(
    Recipe(
        name="mobilenetv3-lstm-pain",
        title="MobileNetV3 (Large/Small) + LSTM, focal loss, two-stage transfer, on CK+48 as "
        "the pain frames' stand-in; per-frame (tokens, pooled) or sequence mode",
        source="Hybrid MobileNetV3-LSTM Model for Detecting Phasic and Tonic Receptor "
        "Responses in Facial Images",
        claims={
            "MobileNetV3Large-LSTM test accuracy (PEMF, 3 classes)": CLAIMS["large"],
            "MobileNetV3Small-LSTM test accuracy": CLAIMS["small"],
        },
        version=VERSION,
        run=run_mobilenetv3_lstm,
        default_scale="cpu",
    )
)
