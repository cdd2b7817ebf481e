"""The ResNet50 + weight-normalized XGBoost paper's pipeline, under its protocol and the honest one.

From "Transforming Facial Expression Prediction: Amplifying Accuracy with ResNet50 Features
and Innovated XG-Boost Algorithm" (the ResNet50 + WNXGBoost paper): multi-level ResNet50
features classified by a "weight-normalized" XGBoost; it claims 99.19% accuracy on FER2013
after an "80:20 split". Here the pipeline is
``Pipeline([ResNet50Features(layers layer1..layer4, global average pooling: 3,840 features),
WNXGBClassifier(preset="paper", class_weight="balanced")])``: our reading of "multi-level"
(see :mod:`hybridfer.extractors.resnet`) and of the boosting (the paper's equations as written,
``reg_lambda=0, gamma=0, learning_rate=1``, with classes balanced; see
:mod:`hybridfer.classifiers.wnxgb` for every reading of "weight normalization").

The backbone's weights (``weights=``, ``fine_tune=``; the report says which was used):

- ``weights="auto"`` (default): torchvision's pretrained ImageNet ResNet50 (``"DEFAULT"``)
  when it can be had; at smoke scale, and where those weights cannot be downloaded (no
  internet) or found in torch's cache, a random initialisation;
- ``fine_tune="auto"`` (default): a randomly initialised ResNet50 is trained on each
  protocol's training split inside ``fit`` (a temporary linear head on the pooled taps, then
  dropped: :func:`hybridfer.nn.finetune.fine_tune_backbone`) before its features are read,
  except at smoke scale, where the random network is used as it is (a fixed random feature
  map). ``fine_tune=True``/``False`` forces either.

Protocols (``protocol=``):

- ``"paper"``: :data:`hybridfer.data.random_split`: a random stratified 80:20 split of all
  images, every usage pooled. FER2013 holds exact duplicates, within and across its usages;
  they now fall on both sides, and the leakage audit counts the test images that have a copy in
  training.
- ``"honest"``: :data:`hybridfer.data.official_fer2013`: train on ``Training``, test on
  ``PublicTest``. (FER2013's own duplicates across these usages remain, and the audit counts
  them too.)
- ``"both"`` (default): both, one row each.

Scales: ``smoke`` (a few hundred images, 32x32 inputs, random backbone, 5 boosting rounds),
``cpu`` (a stratified 20% of the images, 64x64 inputs, the backbone trained within a time
budget when no pretrained weights exist, 100 rounds with 64 histogram bins; each reduction is
listed in the report), ``full`` (every image, 224x224, pretrained weights, 300 rounds, 256
bins).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from hybridfer.recipes.base import Recipe, RecipeError, RecipeResult, register
from hybridfer.recipes.paper import (
    PaperRun,
    load_fer2013_subset,
    profile_markdown,
    resolve_weights,
    scale_settings,
)

__all__ = ["CLAIM", "SETTINGS", "ResNetWNXGBSettings", "run_resnet_wnxgb"]

VERSION = "1"

#: The paper's FER2013 accuracy.
CLAIM = 0.9919


@dataclass(frozen=True)
class ResNetWNXGBSettings:
    """The ResNet50 + WNXGBoost recipe's settings at one scale.

    Attributes
    ----------
    max_images : int or None
        A stratified subset of at most this many images.
    fraction : float or None
        A stratified share of the images.
    input_size : int
    n_estimators, max_bin : int
        Boosting rounds and histogram bins.
    fine_tune_epochs : int
        Epochs of the backbone's training, when it is trained.
    budget_minutes : float or None
        Total backbone-training time, shared equally by the protocols.
    """

    max_images: int | None
    fraction: float | None
    input_size: int
    n_estimators: int
    max_bin: int
    fine_tune_epochs: int
    budget_minutes: float | None


#: Settings per scale. ``cpu`` takes its backbone-training budget (36 minutes, shared by the
#: protocols) plus a few minutes of ResNet50 features and boosting. Trained from scratch for
#: minutes on a few thousand images, ResNet50 learns little, so this scale is meant for
#: pretrained weights (``weights="DEFAULT"`` where they can be had); measured wall times and
#: accuracies: ``benchmarks/README.md``, ``hybridfer reproduce resnet50-wnxgboost``.
SETTINGS: dict[str, ResNetWNXGBSettings] = {
    "smoke": ResNetWNXGBSettings(280, None, 32, 5, 16, 1, None),
    "cpu": ResNetWNXGBSettings(None, 0.2, 64, 100, 64, 30, 36.0),
    "full": ResNetWNXGBSettings(None, None, 224, 300, 256, 30, None),
}


def _reductions(scale: str, s: ResNetWNXGBSettings, trains: bool, per: float | None) -> list[str]:
    if scale == "full":
        return []
    out = []
    if s.max_images is not None:
        out.append(f"a stratified subset of at most {s.max_images} images (by usage, class)")
    if s.fraction is not None:
        out.append(f"a stratified {s.fraction:.0%} of the images (by usage and class)")
    out += [
        f"inputs {s.input_size}x{s.input_size} (224x224 at full scale)",
        f"{s.n_estimators} boosting rounds with {s.max_bin} histogram bins (full: 300, 256)",
    ]
    if trains:
        limit = f"{per:.1f} minutes or " if per is not None else ""
        out.append(f"the backbone is trained for {limit}{s.fine_tune_epochs} epochs per protocol")
    return out


def run_resnet_wnxgb(
    data: str | os.PathLike,
    *,
    scale: str = "cpu",
    workdir: str | os.PathLike,
    resume: bool = False,
    protocol: str = "both",
    weights: Any = "auto",
    fine_tune: bool | str = "auto",
    fraction: float | None = None,
    input_size: int | None = None,
    n_estimators: int | None = None,
    budget_minutes: float | None = None,
    random_state: int = 0,
    device: str = "auto",
    verbose: int = 1,
) -> RecipeResult:
    """Run the ResNet50 + WNXGBoost recipe (see the module docstring).

    Parameters
    ----------
    data : path
        FER2013: the CSV, the image-folder release (``train/``, ``test/``), or a folder holding
        ``fer2013/``.
    scale : {"smoke", "cpu", "full"}
    workdir : path
    resume : bool
        Reload a protocol's fitted pipeline from ``workdir``; continue killed backbone
        training from its checkpoint.
    protocol : {"both", "paper", "honest"}, default="both"
    weights : "auto", str, path or None, default="auto"
        ResNet50's weights (see above).
    fine_tune : "auto" or bool, default="auto"
        Train the backbone on the training split inside ``fit`` (see above).
    fraction : float, optional
        Override the ``cpu`` scale's share of the images.
    input_size, n_estimators : int, optional
        Override the scale's input size and boosting rounds.
    budget_minutes : float, optional
        Total backbone-training time, shared by the protocols (``cpu`` default: 36 minutes).
    random_state : int, default=0
    """
    from sklearn.pipeline import Pipeline

    from hybridfer.classifiers import WNXGBClassifier
    from hybridfer.data import official_fer2013, random_split
    from hybridfer.evaluation.profiling import count_flops, measure_latency, parameter_counts
    from hybridfer.extractors import ResNet50Features

    run = PaperRun.choose(
        protocol,
        {"paper": random_split, "honest": official_fer2013},
        recipe="resnet50-wnxgboost",
        version=VERSION,
        scale=scale,
        workdir=workdir,
        resume=resume,
        random_state=random_state,
        device=device,
        verbose=verbose,
    )
    if fine_tune not in ("auto", True, False):
        raise RecipeError(f"fine_tune must be 'auto', True or False, got {fine_tune!r}")
    s = scale_settings(
        SETTINGS,
        scale,
        fraction=fraction,
        input_size=input_size,
        n_estimators=n_estimators,
        budget_minutes=budget_minutes,
    )
    ds = load_fer2013_subset(
        data,
        max_images=s.max_images,
        fraction=s.fraction,
        need=("Training", "PublicTest") if "honest" in run.names else (),
        random_state=random_state,
    )
    weights, weights_note = resolve_weights("resnet50", weights, scale)
    trains = bool(fine_tune) if fine_tune != "auto" else (weights is None and scale != "smoke")
    # the budget is the backbone's training time: none when the backbone is not trained
    run = replace(run, budget_minutes=s.budget_minutes if trains else None)
    per = run.minutes_per_training
    size = int(s.input_size)
    if trains:
        start = "its pretrained weights" if weights is not None else "random weights"
        weights_note += (
            f"; trained from {start} on each protocol's training split inside fit (a temporary "
            "linear head on the pooled layer1..layer4 features, Adam, cosine schedule) before "
            "its features are read"
        )
    elif weights is None:
        weights_note += "; not trained: the features are those of a fixed random network"

    def fit(split, tag):
        options = None
        if trains:
            options = {
                "epochs": int(s.fine_tune_epochs),
                "learning_rate": 1e-4 if weights is not None else 1e-3,
                "batch_size": 64,
                "lr_schedule": "cosine",
                **run.fine_tune_keywords(tag),
            }
        pipe = Pipeline(
            [
                (
                    "features",
                    ResNet50Features(
                        layers=("layer1", "layer2", "layer3", "layer4"),
                        pooling="avg",
                        weights=weights,
                        input_size=size,
                        fine_tune=options or False,
                        **run.estimator_keywords(),
                    ),
                ),
                (
                    "wnxgb",
                    WNXGBClassifier(
                        preset="paper",
                        class_weight="balanced",
                        n_estimators=int(s.n_estimators),
                        max_depth=6,
                        max_bin=int(s.max_bin),
                        random_state=random_state,
                        verbose=verbose,
                    ),
                ),
            ]
        )
        return pipe.fit(split.train.images, split.train.labels)

    outcomes = run.run_protocols(ds, fit, claim=CLAIM, title="ResNet50 + WNXGB")
    pipe = outcomes[-1].models[-1]
    extractor = pipe.named_steps["features"]
    net = extractor.model_
    n_runs = run.profile_runs
    latency = measure_latency(pipe.predict, n_runs=n_runs, warmup=1, inputs=ds.images[:1])
    profile = {
        "parameters": parameter_counts(net)["total"],
        "features": int(extractor.n_features_out_),
        "trees": int(pipe.named_steps["wnxgb"].n_estimators) * len(pipe.classes_),
        "gflops": count_flops(net, (1, 3, size, size)) / 1e9,
        "input_shape": [1, 3, size, size],
        "paper_input": (224, 224),
        "gflops_paper_input": count_flops(net, (1, 3, 224, 224)) / 1e9,
        "latency_ms": float(latency["mean_ms"]),
        "latency_device": f"{extractor.device_} (features) + cpu (trees), whole pipeline",
        "latency_runs": n_runs,
    }
    sections = {
        "Profile": profile_markdown(profile)
        + f"\n- features: {profile['features']:,} (layer1..layer4 average-pooled); boosted "
        f"trees: at most {profile['trees']:,}",
        "Backbone weights": weights_note,
    }
    return run.result(
        outcomes,
        claim=CLAIM,
        reductions=_reductions(scale, s, trains, per),
        sections=sections,
        details={
            "settings": {
                **asdict(s),
                "weights": weights,
                "fine_tune": trains,
                "per_protocol_min": per,
            },
            "weights": weights_note,
            "n_images": len(ds),
            "usages": sorted(set(np.asarray(ds.usage).tolist())),
            "profile": profile,
        },
    )


RESNET_WNXGB_RECIPE = register(
    Recipe(
        name="resnet50-wnxgboost",
        title="multi-level ResNet50 features + weight-normalized XGBoost on FER2013, paper "
        "(random 80:20 of all images) vs honest protocol",
        source="Transforming Facial Expression Prediction: Amplifying Accuracy with ResNet50 "
        "Features and Innovated XG-Boost Algorithm",
        claims={"FER2013 accuracy (random 80:20)": CLAIM, "macro precision/recall/F1": 0.98},
        version=VERSION,
        run=run_resnet_wnxgb,
        default_scale="cpu",
    )
)
