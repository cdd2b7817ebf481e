"""The paper harness: one system trained under the paper's protocol and the honest one.

A paper recipe trains the same system under the paper's own (often leaky) protocol and under
an honest one, and prints both in one table with the leakage audit's count of test images
that have a copy in training. What every such recipe does lives here, once:

- :class:`PaperRun`: one run of a recipe. It holds the chosen protocols (``protocol=``
  ``"paper"``, ``"honest"`` or ``"both"``: :func:`chosen_protocols`), splits the training
  budget equally between every training they make (a K-fold protocol trains K times), gives
  the keywords every training takes (time limit, checkpoint, resume, precision, device, seed,
  verbosity), picks each split's validation part, runs the protocols
  (:func:`run_protocol`), profiles the last network and builds the result;
- :func:`scale_settings`: a recipe's settings at a scale (a frozen dataclass), with the
  caller's overrides (:func:`dataclasses.replace`);
- :func:`resolve_weights`: pretrained torchvision weights when they can be had, else random
  ones, with the sentence the report prints about it; :func:`training_precision`: float32
  on a CPU; :func:`keep_best_epoch`: the keywords of "train every epoch, keep the best";
- :func:`run_protocol`: for every split of a protocol (one, or K folds), train a model (or
  reload it with ``resume``), predict the test part and audit it against training for
  copies; the folds' predictions are pooled into one
  :class:`~hybridfer.recipes.report.ProtocolOutcome` (table row, per-class report,
  confusion PNG); :func:`score_cross_dataset`: the same row for a fitted model on another
  data set (CLCM's cross-dataset test).

The data (finding, subsets, validation parts) is in :mod:`hybridfer.recipes.data`, the table
and summary in :mod:`hybridfer.recipes.report`, the profile in
:mod:`hybridfer.evaluation.profiling`; their names are importable from here too.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybridfer.recipes.base import RecipeError, RecipeResult
from hybridfer.recipes.data import (
    carve_validation_part,
    find_data,
    load_ckplus,
    load_fer2013_subset,
    train_validation_parts,
)
from hybridfer.recipes.report import (
    COLUMNS,
    ProtocolOutcome,
    paper_result,
    profile_markdown,
    side_by_side,
)

__all__ = [
    "COLUMNS",
    "PROTOCOL_CHOICES",
    "PaperRun",
    "ProtocolOutcome",
    "carve_validation_part",
    "chosen_protocols",
    "find_data",
    "keep_best_epoch",
    "load_ckplus",
    "load_fer2013_subset",
    "paper_result",
    "profile_markdown",
    "resolve_weights",
    "run_protocol",
    "scale_settings",
    "score_cross_dataset",
    "score_part",
    "side_by_side",
    "train_validation_parts",
    "training_parts",
    "training_precision",
    "validation_part",
]

#: The values of every paper recipe's ``protocol`` option.
PROTOCOL_CHOICES = ("both", "paper", "honest")

#: Former names of :func:`train_validation_parts` and :func:`carve_validation_part`.
training_parts = train_validation_parts
validation_part = carve_validation_part


def __getattr__(name: str) -> Any:
    if name == "network_profile":  # imported on first use: it loads torch
        from hybridfer.evaluation.profiling import network_profile

        return network_profile
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def chosen_protocols(protocol: str) -> list[str]:
    """``["paper", "honest"]`` for ``"both"``, else ``[protocol]``; anything else is an error."""
    if protocol not in PROTOCOL_CHOICES:
        raise RecipeError(f"protocol must be 'both', 'paper' or 'honest', got {protocol!r}")
    return ["paper", "honest"] if protocol == "both" else [protocol]


def scale_settings(settings: Mapping[str, Any], scale: str, **overrides: Any) -> Any:
    """``settings[scale]`` with the overrides that are not None.

    A frozen dataclass (a recipe's settings) is updated with :func:`dataclasses.replace`; a
    mapping is copied into a dict and updated.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    chosen = settings[scale]
    if dataclasses.is_dataclass(chosen):
        return dataclasses.replace(chosen, **given)
    return {**chosen, **given}


def training_precision(device: str) -> str:
    """``"float32"`` on a CPU, ``"auto"`` elsewhere.

    bf16 autocast on a CPU was slower for the papers' networks where it was measured (the CNN
    + LSTM paper's Model 3 took more than twice as long per batch in bf16 as in float32), so
    the recipes run float32 there.
    """
    from hybridfer.nn.devices import resolve_device

    return "float32" if resolve_device(device).type == "cpu" else "auto"


def keep_best_epoch(epochs: int, monitor: str) -> dict[str, Any]:
    """The keywords of a training that never stops early and keeps its best epoch by
    ``monitor`` (``"val_accuracy"``, ``"val_loss"``): early stopping with a patience of all
    ``epochs``."""
    return {"early_stopping": True, "patience": int(epochs), "monitor": monitor}


def resolve_weights(arch: str, weights: Any, scale: str) -> tuple[Any, str]:
    """The torchvision weights a recipe uses, and the sentence its report prints.

    ``weights="auto"``: random at ``smoke`` scale; else ``"DEFAULT"`` (ImageNet) when those
    weights load (downloaded once, or already in torch's cache), random when they cannot be
    had (no internet). Any other value is used as given (None: random).
    """
    if weights != "auto":
        if weights is None:
            return None, f"{arch}: random initialisation (weights=None)"
        return weights, f"{arch}: weights {weights!r}"
    if scale == "smoke":
        return None, f"{arch}: random initialisation (smoke scale)"
    from hybridfer.nn.weights import WeightsUnavailableError, build_torchvision_model

    try:
        build_torchvision_model(arch, "DEFAULT", 0)
    except WeightsUnavailableError as exc:
        reason = str(exc).split(". ")[0]
        return None, (
            f"{arch}: random initialisation, because the pretrained ImageNet weights could "
            f"not be had ({reason})"
        )
    return "DEFAULT", f"{arch}: torchvision's pretrained ImageNet weights (DEFAULT)"


# -- one protocol, trained and scored ---------------------------------------------------------


def _training_info(model: Any) -> dict[str, Any]:
    """Epochs and training seconds of a fitted torch estimator (or of a pipeline's steps)."""
    steps = [model]
    if hasattr(model, "steps"):
        steps = [s for _, s in model.steps]
    epochs, seconds, history = None, 0.0, []
    for step in steps:
        for inner in (step, getattr(step, "transformer_", None)):
            if inner is None:
                continue
            if getattr(inner, "n_epochs_", None) is not None and epochs is None:
                epochs = int(inner.n_epochs_)
                history = list(getattr(inner, "history_", []) or [])
            seconds += float(getattr(inner, "train_time_", 0.0) or 0.0)
    return {"epochs": epochs, "train_s": seconds, "history": history}


def run_protocol(
    name: str,
    protocol: Any,
    dataset: Any,
    *,
    fit: Callable[[Any, str], Any],
    workdir: str | os.PathLike,
    resume: bool = False,
    random_state: int = 0,
    claim: float | None = None,
    title: str = "",
    predict: Callable[[Any, Any], np.ndarray] | None = None,
    audit_images: Callable[[Any], Any] | None = None,
    recipe: str = "",
) -> ProtocolOutcome:
    """Train and score one system under one protocol (every fold of it).

    Parameters
    ----------
    name : {"paper", "honest"}
    protocol : hybridfer.data.Protocol
    dataset : FERDataset
        What the protocol splits.
    fit : callable
        ``fit(split, tag) -> fitted estimator``; ``tag`` (``"paper"``, ``"honest_fold2"``)
        names the split's files: a training checkpoint must be ``workdir/model_{tag}.ckpt``
        (removed once the fitted model is saved).
    workdir : path
        Where ``model_{tag}.joblib`` (with its metadata) and ``confusion_{name}.png`` go.
    resume : bool
        Reload a split's fitted model when its file exists instead of training it again.
    claim : float, optional
        The paper's accuracy, printed beside ours.
    title : str
        The system's name in headings and the confusion plot.
    predict : callable, optional
        ``predict(model, part) -> labels``; default ``model.predict(part.X)``.
    audit_images : callable, optional
        ``audit_images(part) -> images`` the leakage audit compares; default ``part.images``.
    recipe : str
        The recipe's name, saved in each model's metadata.

    Returns
    -------
    ProtocolOutcome
    """
    from hybridfer.evaluation import evaluate_predictions, leakage_audit, plot_confusion_matrix
    from hybridfer.predict.saved import load_pipeline, pipeline_metadata, save_pipeline

    workdir = Path(workdir)
    predict = predict or (lambda model, part: model.predict(part.X))
    audit_images = audit_images or (lambda part: part.images)
    splits = protocol.split(dataset, random_state)
    splits = splits if isinstance(splits, list) else [splits]
    classes = list(dataset.classes)

    y_true: list[np.ndarray] = []
    y_pred: list[np.ndarray] = []
    fold_acc: list[float] = []
    exact = near = copied = 0
    shared: set[str] = set()
    folds: list[dict[str, Any]] = []
    paths: dict[str, str] = {}
    models: list[Any] = []
    epochs: list[int] = []
    train_s = 0.0
    audit_s = 0.0
    for split in splits:
        tag = name if split.fold is None else f"{name}_fold{split.fold}"
        model_file = workdir / f"model_{tag}.joblib"
        if resume and model_file.exists():
            model, meta = load_pipeline(model_file, "fitted model")
            fit_s = float((meta or {}).get("fit_seconds", 0.0) or 0.0)
        else:
            start = time.perf_counter()
            model = fit(split, tag)
            fit_s = time.perf_counter() - start
            meta = pipeline_metadata(
                model,
                split.train.X,
                split.train.labels,
                data_name=split.train.name,
                label=f"{recipe} ({title}, {name} protocol)" if recipe else title,
                extra={"recipe": recipe, "protocol": protocol.summary(), "fit_seconds": fit_s},
            )
            save_pipeline(model, model_file, meta)
            # the fitted model now stands for the training: its checkpoint (the whole training
            # state, several times the model's size) is no longer needed to resume
            (workdir / f"model_{tag}.ckpt").unlink(missing_ok=True)
        models.append(model)
        paths[f"model {tag}"] = os.fspath(model_file)
        pred = np.asarray(predict(model, split.test))
        truth = np.asarray(split.test.labels)
        y_true.append(truth)
        y_pred.append(pred)
        fold_acc.append(float(np.mean(pred == truth)))

        start = time.perf_counter()
        sources = dataset.subset(np.unique(split.train_index))
        audit = leakage_audit(audit_images(sources), audit_images(split.test), check_within=False)
        audit_s += time.perf_counter() - start
        exact += audit.n_exact
        near += audit.n_near
        copied += split.n_test_sharing_a_source()
        shared.update(split.shared_groups().tolist())

        info = _training_info(model)
        if info["epochs"] is not None:
            epochs.append(info["epochs"])
        train_s += info["train_s"] or fit_s
        folds.append(
            {
                "fold": split.fold,
                "n_train": len(split.train),
                "n_test": len(split.test),
                "accuracy": fold_acc[-1],
                "audit": audit.counts(),
                "fit_s": fit_s,
                "class_counts_train": split.train.class_counts(),
                "class_counts_test": split.test.class_counts(),
                "history": info["history"],
            }
        )

    truth = np.concatenate(y_true)
    pred = np.concatenate(y_pred)
    rep = evaluate_predictions(truth, pred, labels=classes)
    png = workdir / f"confusion_{name}.png"
    plot_confusion_matrix(
        truth, pred, labels=classes, path=png, title=f"{title}, {name} protocol".strip(", ")
    )
    paths[f"confusion {name}"] = os.fspath(png)
    has_groups = dataset.groups is not None
    row = {
        "protocol": name,
        "split": protocol.name,
        "claimed acc": claim,
        "acc": rep.accuracy,
        "macro-F1": rep.macro_f1,
        "acc - claimed": None if claim is None else rep.accuracy - claim,
        "folds": len(splits),
        "fold acc sd": statistics.stdev(fold_acc) if len(fold_acc) > 1 else None,
        "n train": int(round(float(np.mean([f["n_train"] for f in folds])))),
        "n test": int(len(truth)),
        "test with exact copy in train": exact,
        "test with near copy only": near,
        "test rows copied from training": copied,
        "subjects on both sides": len(shared) if has_groups else None,
        "epochs": int(round(float(np.mean(epochs)))) if epochs else None,
        "train s": train_s,
    }
    pooled = " (out-of-fold predictions of all folds pooled)" if len(splits) > 1 else ""
    section = f"{protocol.summary()}\n\n{rep.to_markdown()}"
    details = {
        "protocol": protocol.summary(),
        "leaky": bool(getattr(protocol, "leaky", False)),
        "audit": {"n_exact": exact, "n_near": near, "n_test": int(len(truth))},
        "audit_s": audit_s,
        "pooled": bool(pooled),
        "folds": folds,
    }
    return ProtocolOutcome(
        name=name,
        row=row,
        section=section if not pooled else f"{section}\n\nScores{pooled}.",
        details=details,
        paths=paths,
        models=models,
    )


def score_part(
    name: str,
    model: Any,
    test: Any,
    train: Any,
    *,
    workdir: str | os.PathLike | None = None,
    claim: float | None = None,
    title: str = "",
    description: str = "",
    predict: Callable[[Any, Any], np.ndarray] | None = None,
    labels: Sequence[str] | None = None,
    split: str | None = None,
    audit_images: Callable[[Any], Any] | None = None,
    row: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> ProtocolOutcome:
    """Score a fitted model on one more part than its protocol's test: another data set (a
    cross-dataset test) or a part of the split (a paper's validation part).

    The row has :func:`run_protocol`'s columns (``folds`` 1, ``n train`` the training part's
    size, ``split`` the part's name, default ``name``), then ``row``'s; the leakage audit
    compares ``test`` with ``train`` (``audit_images(part)``: the images to compare, default
    ``part.images``). ``labels`` are the classes the report lists (default: those of
    ``test``). With ``workdir`` a confusion PNG is written.
    """
    from hybridfer.evaluation import evaluate_predictions, leakage_audit, plot_confusion_matrix

    predict = predict or (lambda m, part: m.predict(part.X))
    images = audit_images or (lambda part: part.images)
    pred = np.asarray(predict(model, test))
    truth = np.asarray(test.labels)
    classes = list(labels) if labels is not None else list(test.classes)
    classes += sorted(set(pred.tolist()) - set(classes))  # predicted classes the test lacks
    rep = evaluate_predictions(truth, pred, labels=classes)
    paths = {}
    if workdir is not None:
        slug = name.replace(" ", "_").replace("+", "plus").lower()
        png = Path(workdir) / f"confusion_{slug}.png"
        plot_confusion_matrix(truth, pred, labels=classes, path=png, title=f"{title}, {name}")
        paths[f"confusion {name}"] = os.fspath(png)
    audit = leakage_audit(images(train), images(test), check_within=False)
    out_row = {
        "protocol": name,
        "split": split or name,
        "claimed acc": claim,
        "acc": rep.accuracy,
        "macro-F1": rep.macro_f1,
        "acc - claimed": None if claim is None else rep.accuracy - claim,
        "folds": 1,
        "n train": len(train),
        "n test": len(test),
        "test with exact copy in train": audit.n_exact,
        "test with near copy only": audit.n_near,
        **(row or {}),
    }
    return ProtocolOutcome(
        name=name,
        row=out_row,
        section=f"{description}\n\n{rep.to_markdown()}".strip(),
        details={"protocol": description or name, "audit": audit.counts(), **(details or {})},
        paths=paths,
        models=[model],
    )


def score_cross_dataset(name: str, model: Any, test: Any, train: Any, **kwargs: Any):
    """:func:`score_part` on another data set (CLCM's CK+ test); ``workdir`` is required."""
    if kwargs.get("workdir") is None:
        raise TypeError("score_cross_dataset needs workdir= (its confusion PNG goes there)")
    return score_part(name, model, test, train, **kwargs)


# -- the harness ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperRun:
    """One run of a paper recipe: its protocols, its budget, and what each training shares.

    Attributes
    ----------
    recipe, version, scale : str
        The registered recipe's name and version, and the scale it runs at.
    workdir : Path
        Where checkpoints, fitted models, confusion PNGs and the report go.
    protocols : mapping
        The protocols to run, name (``"paper"``, ``"honest"``) -> protocol, in order.
    budget_minutes : float or None
        Total training time, shared equally by every training the protocols make (a K-fold
        protocol trains K times); None: no time limit.
    resume : bool
        Reload fitted models and continue killed trainings from their checkpoints.
    random_state : int
        Seed of the splits and the trainings.
    device : str
    verbose : int
    """

    recipe: str
    version: str
    scale: str
    workdir: Path
    protocols: Mapping[str, Any]
    budget_minutes: float | None = None
    resume: bool = False
    random_state: int = 0
    device: str = "auto"
    verbose: int = 1

    @classmethod
    def choose(cls, protocol: str, available: Mapping[str, Any], **fields: Any) -> PaperRun:
        """The run of the protocols ``protocol`` chooses (:func:`chosen_protocols`) among
        ``available`` (name -> protocol); ``fields`` are the other attributes."""
        names = chosen_protocols(protocol)
        fields["workdir"] = Path(fields["workdir"])
        return cls(protocols={n: available[n] for n in names}, **fields)

    @property
    def names(self) -> list[str]:
        """The protocols' names, in the order they run."""
        return list(self.protocols)

    @property
    def n_trainings(self) -> int:
        """Trainings the protocols make: one per split (``n_splits`` for K folds)."""
        return sum(int(getattr(p, "n_splits", 1)) for p in self.protocols.values())

    @property
    def minutes_per_training(self) -> float | None:
        """``budget_minutes`` shared equally by the trainings (None without a budget)."""
        if self.budget_minutes is None:
            return None
        return float(self.budget_minutes) / self.n_trainings

    @property
    def max_time(self) -> float | None:
        """Seconds each training may take (None without a budget)."""
        per = self.minutes_per_training
        return None if per is None else 60.0 * per

    @property
    def profile_runs(self) -> int:
        """Timed runs of a profile's latency: 10 at smoke scale, else 50."""
        return 10 if self.scale == "smoke" else 50

    def estimator_keywords(self) -> dict[str, Any]:
        """What every estimator of the recipe takes: precision, device, seed and verbosity."""
        return {
            "precision": training_precision(self.device),
            "device": self.device,
            "random_state": self.random_state,
            "verbose": self.verbose,
        }

    def fine_tune_keywords(self, tag: str) -> dict[str, Any]:
        """What a split's training takes beside its settings: the time limit, the checkpoint
        ``workdir/model_{tag}.ckpt`` (a str, as a ``fine_tune`` mapping holds it) and
        ``resume``."""
        checkpoint = os.fspath(self.workdir / f"model_{tag}.ckpt")
        return {"max_time": self.max_time, "checkpoint": checkpoint, "resume": self.resume}

    def fit_keywords(self, tag: str) -> dict[str, Any]:
        """:meth:`estimator_keywords` and :meth:`fine_tune_keywords` (the checkpoint a Path):
        the keywords every trained estimator of a split takes."""
        return {
            **self.fine_tune_keywords(tag),
            "checkpoint": self.workdir / f"model_{tag}.ckpt",
            **self.estimator_keywords(),
        }

    def train_validation_parts(self, split: Any, tag: str, fraction: float) -> tuple[Any, Any]:
        """(train, validation) of a split (:func:`train_validation_parts`): a carved
        validation part is subject-grouped except under the paper's protocol."""
        grouped = not tag.startswith("paper")
        return train_validation_parts(
            split, fraction, grouped=grouped, random_state=self.random_state
        )

    def run_protocols(
        self,
        dataset: Any,
        fit: Callable[[Any, str], Any],
        *,
        claim: float | None,
        title: str,
        **options: Any,
    ) -> list[ProtocolOutcome]:
        """:func:`run_protocol` for each protocol, in order; ``options`` are its ``predict``
        and ``audit_images``."""
        return [
            run_protocol(
                name,
                protocol,
                dataset,
                fit=fit,
                workdir=self.workdir,
                resume=self.resume,
                random_state=self.random_state,
                claim=claim,
                title=title,
                recipe=self.recipe,
                **options,
            )
            for name, protocol in self.protocols.items()
        ]

    def profile(
        self, net: Any, input_shape: Sequence[int], paper_side: int | None = None
    ) -> dict[str, Any]:
        """:func:`~hybridfer.evaluation.profiling.network_profile` of ``net`` with
        :attr:`profile_runs` latency runs; with ``paper_side``, also its GFLOPs at the
        paper's square input (``paper_input``, ``gflops_paper_input``)."""
        from hybridfer.evaluation.profiling import count_flops, network_profile

        profile = network_profile(net, input_shape, n_runs=self.profile_runs)
        if paper_side is not None:
            shape = (*tuple(input_shape)[:2], paper_side, paper_side)
            profile["paper_input"] = (paper_side, paper_side)
            profile["gflops_paper_input"] = count_flops(net, shape) / 1e9
        return profile

    def result(self, outcomes: Sequence[ProtocolOutcome], **parts: Any) -> RecipeResult:
        """:func:`~hybridfer.recipes.report.paper_result` of this run; ``parts`` are its
        ``claim``, ``reductions``, ``details``, ``sections`` (and ``paths``,
        ``extra_columns``)."""
        return paper_result(
            recipe=self.recipe,
            version=self.version,
            scale=self.scale,
            workdir=self.workdir,
            outcomes=outcomes,
            **parts,
        )
