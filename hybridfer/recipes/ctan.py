"""The CTAN paper's network on CK+48 and on FER2013, under the paper's protocol and the honest one.

From "Research on Face Expression Recognition Model Based on Improved CTAN" (the CTAN paper;
CTAN is a ConvNeXt-Tiny-based Combined Attention Network): ConvNeXt-Tiny followed by
Efficient Attention, Shuffle Attention, LayerNorm and FC (:mod:`hybridfer.nn.ctan`), trained
with an exponential moving average of the weights (decay 0.999), class-weighted cross-entropy
with ``w_c = N / n_c`` normalised to sum 1, histogram equalisation, normalisation with mean
and std 0.5, drop path 0.3, Adam 5e-5 with cosine annealing to 1e-9, batch 4, 300 epochs,
keeping the epoch with the best validation accuracy (Sections IV-B and IV-C). It is a
:class:`~hybridfer.classifiers.FERNetClassifier` with ``backbone="ctan_convnext"``. The paper
claims 98.99% on CK+ (its own confusion matrix, Fig. 8, gives 98.3%) and 74.00% on FER2013
(Table 9; its confusion matrix, Fig. 9, gives 85.5%).

Data (``dataset=``): ``"ckplus"`` (CK+48, one folder per class, files
``S<subject>_<sequence>_<frame>``), ``"fer2013"`` (the CSV or the image-folder release), or
``"auto"`` (default): CK+48 when ``--data`` is, or holds, ``ckplus48/``; else FER2013 when it
is, or holds, ``fer2013/`` or has FER2013's layout; else CK+48 (whose loader then says what it
expected). A folder holding both (``data/`` with ``ckplus48/`` and ``fer2013/``) runs CK+48,
as this recipe always did; ``dataset="fer2013"`` (``--option dataset=fer2013``) picks FER2013.

Protocols (``protocol=``; ``"both"``, the default, gives one row each):

- CK+48, ``"paper"``: :data:`hybridfer.data.random_split_811`: a random stratified 8:1:1
  train/validation/test split of CK+'s frames that ignores subjects, as the paper did with its
  981 frames (three per sequence): the test frames' siblings of the same sequence, near
  copies, sit in training.
- CK+48, ``"honest"``: :data:`hybridfer.data.subject_kfold`: subject-grouped stratified K-fold
  (10 folds at full scale, fewer at the smaller scales, stated in the report); inside each
  training fold, a subject-grouped ninth is the validation part the epoch is picked on. The
  folds' out-of-fold predictions are pooled into one score.
- FER2013, ``"paper"``: :data:`hybridfer.data.random_split_811` of every image the data holds,
  all its usages pooled, as the paper split "the datasets" 8:1:1 (Section IV-B; its Table 2
  counts 35,887 images, all three usages). FER2013's exact duplicates, within and across
  usages, fall on both sides; the leakage audit counts them. The shared data here has
  ``Training`` and ``PublicTest`` only (32,298 images; ``PrivateTest`` is kept out), so the
  pool is those; the report states the usages and sizes.
- FER2013, ``"honest"``: :data:`hybridfer.data.official_fer2013`: train on ``Training`` (a
  random stratified ninth of it held out as the validation part the epoch is picked on), test
  on ``PublicTest``. No setting of this recipe was chosen on PublicTest (they are the paper's).

The sizes of every training, validation and test part are in the report ("Split sizes").

Efficient Attention (``attention_branches=``): ``"full"`` (default; both branches read all 768
channels, a 1x1 projection maps the 1,536 concatenated channels back to 768) or ``"split"``
(each branch reads 384 channels, their concatenation is the output): see
:class:`hybridfer.nn.attention.EfficientAttention`. The paper states no parameter count, so
none supports either reading: CTAN has 29,095,867 parameters with ``"full"`` and 27,852,067
with ``"split"`` (7 classes); the report's profile gives the count of the network run. The
paper's wording ("splitting the input features into two branches") reads more naturally as
the split. At equal budget (``--scale cpu --protocol honest --budget-minutes 15``, once with
``--option attention_branches=split``: CK+48, 3 subject-grouped folds of 5 minutes, 12-14
epochs each from random weights, one run each, 2 cores of an AMD EPYC) the full reading's best
validation accuracy averaged 0.7619 over the folds (0.8133, 0.7639, 0.7083) and the split's
0.7581 (0.7467, 0.7778, 0.7500): a difference well inside the folds' spread, judged on the
validation parts (the test folds gave 0.7411 and 0.7085). So ``"full"`` stays the default;
the measurement does not separate the two readings.

Basic RFB (``rfb=``, off by default): Table I of the paper lists a "Basic RFB" block (96 ->
96 channels) after the stem, but neither the text nor Figs. 1-2 describe or show it. We read it
as RFBNet's BasicRFB block ("Receptive Field Block Net for Accurate and Fast Object Detection"):
three branches of 1x1/3x3 convolutions ending in 3x3 convolutions dilated 1, 2 and 3,
concatenated, projected by a 1x1 convolution, scaled by 0.1, added to a 1x1 shortcut, then
ReLU (:class:`hybridfer.nn.ctan.BasicRFB`, 45,468 parameters at 96 channels). It is off by
default because the paper's description of the network (text, figures, equations) has no such
block and the table row is its only trace; ``rfb=True`` inserts it after the stem.

Histogram equalisation and resizing: the paper resizes every image to 224x224 first, then
equalises it (Section IV-B, "all images were resized to 224x224, and histogram equalization
was applied"). We equalise first, on the native 48x48 pixels, then resize: that is the order
of :mod:`hybridfer.nn.preprocessing`, which every network of the toolkit shares (equalisation
on the device, per image, before the resize), because the histogram of the native pixels is
what equalising a face crop means and it is cheaper than equalising the upsampled image. The
two orders are not the same map: on 200 FER2013 training images resized to 224x224, their
outputs correlate at 0.995 per image and differ mostly by a brightness offset (ours is about
13 grey levels brighter on average, mean absolute difference 13.6 of 255), as
torchvision's PIL-style equalisation quantises a 2,304-pixel histogram more coarsely than a
50,176-pixel one. Both are applied alike to training and test images, so we do not expect the
order to move a score much; the paper's order would be an option of the shared preprocessing,
which this recipe does not change.

EMA: the paper's Eq. (4), ``theta_EMA = alpha theta_current + (1 - alpha) theta_EMA``, gives
``alpha`` to the current weights while its prose calls ``alpha`` "the decay coefficient
controlling the weight of the historical parameters"; it gives no value and no warm-up. We
read the decay as the history's weight (the prose, and the usual convention): the training
loop's ``ema_decay=0.999``, ``theta_EMA <- d theta_EMA + (1 - d) theta``, with a warm-up the
paper does not mention: the decay after ``t`` updates is ``min(0.999, (1 + t) / (10 + t))``
(TensorFlow's ``num_updates``; :mod:`hybridfer.nn.training`), so it reaches 0.999
after 8,990 updates. Why: validation (which picks the best epoch) scores the EMA weights, and
without a warm-up they still hold ``0.999^t`` of the initial weights after ``t`` steps: at cpu
scale a CK+ training makes about 1,300 steps (about 41 per epoch for 30 epochs), which would
leave more than a quarter of the EMA at the initial weights (``0.999^1300 = 0.27``). At full scale (CK+: about 196 steps per
epoch at batch 4, 300 epochs) the warm-up is over within the first 15% of training.

Initial weights (``weights=``): the paper does not say; ``"auto"`` uses torchvision's ImageNet
ConvNeXt-Tiny weights when they can be had (not at smoke scale), else a random
initialisation; the report says which.

Scales: CK+48: ``smoke`` (a few subjects' frames, 32x32 inputs, 1 epoch, 2 folds), ``cpu``
(64x64 inputs, batch 16, 3 folds, a 48-minute time budget shared by the trainings; each
reduction is listed in the report), ``full`` (the paper's settings: 224x224, batch 4, 300
epochs, 10 folds; meant for a GPU). FER2013 (:data:`SETTINGS_FER2013`): ``smoke`` (at most 280
images, 32x32, 1 epoch), ``cpu`` (a stratified 20% of the images by usage and class, 64x64,
batch 16, the same 48-minute budget shared by the two trainings), ``full`` (every image,
224x224, batch 4, 300 epochs).

Left out: the paper's KDEF, JAFFE and combined FER_CK+_KDEF experiments (it reports numbers
for CK+ and FER2013 only; KDEF is not in the shared data) and Table 7's ablation of its
versions v1-v3, which the paper does not define beyond Fig. 1b.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybridfer.recipes.base import Recipe, RecipeError, RecipeResult, register
from hybridfer.recipes.paper import (
    PaperRun,
    keep_best_epoch,
    load_ckplus,
    load_fer2013_subset,
    profile_markdown,
    resolve_weights,
    scale_settings,
)

__all__ = [
    "CLAIM",
    "CLAIM_FER2013",
    "DATASETS",
    "SETTINGS",
    "SETTINGS_FER2013",
    "CTANFER2013Settings",
    "CTANSettings",
    "run_ctan",
]

VERSION = "2"

#: The paper's CK+ test accuracy (its abstract and Table 7).
CLAIM = 0.9899
#: The paper's FER2013 test accuracy (its abstract and Table 9).
CLAIM_FER2013 = 0.74
#: Images of FER2013 the paper split 8:1:1 (its Table 2: all three usages).
PAPER_FER2013_IMAGES = 35_887

#: The values of ``dataset=``.
DATASETS = ("auto", "ckplus", "fer2013")


@dataclass(frozen=True)
class CTANSettings:
    """The CTAN recipe's settings on CK+48 at one scale.

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


@dataclass(frozen=True)
class CTANFER2013Settings:
    """The CTAN recipe's settings on FER2013 at one scale.

    Attributes
    ----------
    input_size, batch_size, epochs : int
    val_fraction : float
        Share of the honest protocol's ``Training`` images held out for validation (random,
        stratified); the paper's 8:1:1 has its own validation part.
    max_images : int or None
        A subset of at most this many images, stratified by usage and class.
    fraction : float or None
        A stratified share (by usage and class) of the images.
    budget_minutes : float or None
        Total training time, shared equally by the (two) trainings.
    """

    input_size: int
    batch_size: int
    epochs: int
    val_fraction: float
    max_images: int | None
    fraction: float | None
    budget_minutes: float | None


#: Settings per scale on FER2013. ``cpu``: a stratified 20% of the images (6,460 of the shared
#: data's 32,298), the CK+ budget of 48 minutes shared by the two trainings (24 minutes each:
#: about 7 epochs of the paper split's 5,168 training images at the CK+ runs' measured 28
#: images per second on 2 cores).
SETTINGS_FER2013: dict[str, CTANFER2013Settings] = {
    "smoke": CTANFER2013Settings(32, 8, 1, 1 / 9, 280, None, None),
    "cpu": CTANFER2013Settings(64, 16, 300, 1 / 9, None, 0.2, 48.0),
    "full": CTANFER2013Settings(224, 4, 300, 1 / 9, None, None, None),
}


def which_dataset(data: str | os.PathLike, dataset: str = "auto") -> str:
    """``"ckplus"`` or ``"fer2013"``: ``dataset`` itself, or for ``"auto"`` the one ``data``
    is or holds (see the module docstring)."""
    if dataset not in DATASETS:
        raise RecipeError(f"dataset must be one of {list(DATASETS)}, got {dataset!r}")
    if dataset != "auto":
        return dataset
    path = Path(data)
    if not path.exists() or (path / "ckplus48").is_dir():
        return "ckplus"
    if (path / "fer2013").exists():
        return "fer2013"
    from hybridfer.data.sources import detect_dataset

    try:
        found = detect_dataset(path)
    except (ValueError, OSError):
        return "ckplus"
    return "fer2013" if found == "fer2013" else "ckplus"


def _reductions(
    scale: str, s: Any, per_training: float | None, kind: str, usages: list[str], n_all: int
) -> list[str]:
    out: list[str] = []
    if kind == "fer2013" and "PrivateTest" not in usages:
        out.append(
            f"the data holds FER2013's usages {usages} ({n_all:,} images); the paper's 8:1:1 "
            f"split all {PAPER_FER2013_IMAGES:,} images, PrivateTest included"
        )
    if scale == "full":
        return out
    if kind == "ckplus" and scale == "smoke":
        out.append(f"the frames of at most {s.max_subjects} subjects")
    if kind == "fer2013":
        if s.max_images is not None:
            out.append(f"a stratified subset of at most {s.max_images} images (by usage, class)")
        if s.fraction is not None:
            out.append(f"a stratified {s.fraction:.0%} of the images (by usage and class)")
    out += [
        f"inputs {s.input_size}x{s.input_size} (paper: 224x224)",
        f"batch {s.batch_size} (paper: 4)",
    ]
    if kind == "ckplus":
        out.append(f"honest protocol: {s.folds} subject-grouped folds (10 at full scale)")
    if scale == "smoke":
        out.append(f"{s.epochs} epoch (paper: 300)")
    if per_training is not None:
        out.append(
            f"each training ends after {per_training:.1f} minutes (the cosine schedule anneals "
            f"over that time) or {s.epochs} epochs (paper: 300 epochs)"
        )
    return out


def _part_sizes(run: PaperRun, ds: Any, val_fraction: float) -> dict[str, dict[str, int]]:
    """Images in the training, validation and test part of every split the protocols make
    (the same splits :meth:`PaperRun.run_protocols` trains on: same seed, same carving)."""
    sizes: dict[str, dict[str, int]] = {}
    for name, protocol in run.protocols.items():
        splits = protocol.split(ds, run.random_state)
        for split in splits if isinstance(splits, list) else [splits]:
            tag = name if split.fold is None else f"{name}_fold{split.fold}"
            train, val = run.train_validation_parts(split, tag, val_fraction)
            sizes[tag] = {"train": len(train), "validation": len(val), "test": len(split.test)}
    return sizes


def _sizes_markdown(sizes: dict[str, dict[str, int]], n_images: int) -> str:
    lines = [f"of {n_images:,} images:"]
    for tag, n in sizes.items():
        lines.append(
            f"- {tag}: train {n['train']:,}, validation {n['validation']:,}, test {n['test']:,}"
        )
    return "\n".join(lines)


def run_ctan(
    data: str | os.PathLike,
    *,
    scale: str = "cpu",
    workdir: str | os.PathLike,
    resume: bool = False,
    protocol: str = "both",
    dataset: str = "auto",
    attention_branches: str = "full",
    rfb: bool = False,
    weights: Any = "auto",
    folds: int | None = None,
    fraction: float | None = None,
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
        CK+48 (one folder per class, files ``S<subject>_<sequence>_<frame>``), FER2013 (its
        CSV or image-folder release), or a folder holding ``ckplus48/`` or ``fer2013/``.
    scale : {"smoke", "cpu", "full"}
    workdir : path
        Where checkpoints, fitted models, confusion PNGs and the report are written.
    resume : bool
        Continue killed training from its checkpoint; a split whose fitted model is already in
        ``workdir`` is not trained again.
    protocol : {"both", "paper", "honest"}, default="both"
    dataset : {"auto", "ckplus", "fer2013"}, default="auto"
        Which data set ``data`` is (see above; ``"auto"`` prefers CK+48).
    attention_branches : {"full", "split"}, default="full"
        The Efficient Attention's reading (see above).
    rfb : bool, default=False
        Insert the BasicRFB block after the stem (Table I's "Basic RFB"; see above).
    weights : "auto", str, path or None, default="auto"
        ConvNeXt-Tiny's initial weights (see above).
    folds : int, optional
        CK+48: folds of the honest protocol (default by scale: 2, 3, 10).
    fraction : float, optional
        FER2013: a stratified share of the images (``cpu`` default: 0.2).
    epochs, input_size : int, optional
        Override the scale's epochs and input size.
    budget_minutes : float, optional
        Total training time shared equally by all trainings (``cpu`` default: 48 minutes).
    random_state : int, default=0
        Seed of the subset, the splits and the training.
    """
    from hybridfer.classifiers import FERNetClassifier
    from hybridfer.data import official_fer2013, random_split_811, subject_kfold
    from hybridfer.nn.attention import EFFICIENT_ATTENTION_BRANCHES

    if attention_branches not in EFFICIENT_ATTENTION_BRANCHES:
        raise RecipeError(
            f"attention_branches must be one of {list(EFFICIENT_ATTENTION_BRANCHES)}, got "
            f"{attention_branches!r}"
        )
    kind = which_dataset(data, dataset)
    if kind == "ckplus":
        if fraction is not None:
            raise RecipeError("fraction is FER2013's option; CK+48 takes max subjects by scale")
        s = scale_settings(
            SETTINGS,
            scale,
            folds=folds,
            epochs=epochs,
            input_size=input_size,
            budget_minutes=budget_minutes,
        )
        available = {"paper": random_split_811, "honest": subject_kfold.replace(n_splits=s.folds)}
        claim = CLAIM
    else:
        if folds is not None:
            raise RecipeError("folds is CK+48's option; FER2013's honest protocol is one split")
        s = scale_settings(
            SETTINGS_FER2013,
            scale,
            fraction=fraction,
            epochs=epochs,
            input_size=input_size,
            budget_minutes=budget_minutes,
        )
        available = {"paper": random_split_811, "honest": official_fer2013}
        claim = CLAIM_FER2013
    run = PaperRun.choose(
        protocol,
        available,
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
    if kind == "ckplus":
        ds = load_ckplus(data, max_subjects=s.max_subjects, random_state=random_state)
        usages: list[str] = []
        n_all = len(ds)
    else:
        from hybridfer.recipes.data import open_fer2013

        need = ("Training", "PublicTest") if "honest" in run.names else ()
        whole = open_fer2013(data, need)
        usages, n_all = sorted(set(whole.usage.tolist())), len(whole)
        del whole
        ds = load_fer2013_subset(
            data,
            max_images=s.max_images,
            fraction=s.fraction,
            need=need,
            random_state=random_state,
        )
    weights, weights_note = resolve_weights("convnext_tiny", weights, scale)
    size = int(s.input_size)

    def fit(split, tag):
        train, val = run.train_validation_parts(split, tag, s.val_fraction)
        clf = FERNetClassifier(
            backbone="ctan_convnext",
            architecture_params={
                "drop_path": 0.3,
                "rfb": bool(rfb),
                "attention_branches": attention_branches,
                "weights": weights,
            },
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
    if attention_branches == "split":
        title += " (split Efficient Attention)"
    if kind == "fer2013":
        title += " on FER2013"
    outcomes = run.run_protocols(ds, fit, claim=claim, title=title)
    sizes = _part_sizes(run, ds, s.val_fraction)
    net = outcomes[-1].models[-1].model_
    profile = run.profile(net, (1, 3, size, size), paper_side=224)
    pooled = "; the paper's 8:1:1 pools them all" if "paper" in run.names else ""
    sections = {
        "Data": (
            f"CK+48: {len(ds):,} frames of {len(np.unique(ds.groups)):,} subjects"
            if kind == "ckplus"
            else f"FER2013: {len(ds):,} of the {n_all:,} images the data holds (usages "
            f"{', '.join(usages)}){pooled}"
        ),
        "Split sizes": _sizes_markdown(sizes, len(ds)),
        "Profile": profile_markdown(profile),
        "Initial weights": weights_note,
        "Efficient Attention": (
            "split (attention_branches='split'): each branch reads 384 of the 768 channels, "
            "their concatenation is the output (26,520 parameters)"
            if attention_branches == "split"
            else "full (the default): both branches read all 768 channels, a 1x1 projection "
            "maps their 1,536 concatenated channels back to 768 (1,270,320 parameters); "
            "attention_branches='split' gives the channel-split reading (26,520)"
        ),
        "Basic RFB": (
            "on: RFBNet's BasicRFB after the stem (Table I's 'Basic RFB')"
            if rfb
            else "off (the default): Table I's 'Basic RFB' is not described by the paper's "
            "text or figures; rfb=True inserts RFBNet's BasicRFB after the stem"
        ),
    }
    return run.result(
        outcomes,
        claim=claim,
        reductions=_reductions(scale, s, run.minutes_per_training, kind, usages, n_all),
        sections=sections,
        details={
            "dataset": kind,
            "settings": {
                **asdict(s),
                "rfb": bool(rfb),
                "attention_branches": attention_branches,
                "weights": weights,
                "per_training_minutes": run.minutes_per_training,
            },
            "weights": weights_note,
            "n_images": len(ds),
            "n_images_in_data": n_all,
            "usages": usages or None,
            "n_subjects": None if ds.groups is None else int(len(np.unique(ds.groups))),
            "part_sizes": sizes,
            "profile": profile,
        },
    )


CTAN_RECIPE = register(
    Recipe(
        name="ctan-convnext",
        title="CTAN (ConvNeXt-Tiny + Efficient/Shuffle Attention, EMA) on CK+48 or FER2013, "
        "paper vs honest protocol",
        source="Research on Face Expression Recognition Model Based on Improved CTAN",
        claims={
            "CK+ accuracy (random 8:1:1 of frames)": CLAIM,
            "FER2013 accuracy (random 8:1:1 of all 35,887 images)": CLAIM_FER2013,
        },
        version=VERSION,
        run=run_ctan,
        default_scale="cpu",
    )
)
