"""What the paper recipes share: one system under the paper's protocol and the honest one.

A paper recipe trains the same system under the paper's own (often leaky) protocol and under
an honest one, and prints both in one table with the leakage audit's count of test images
that have a copy in training. The steps every such recipe takes live here, once:

- :func:`chosen_protocols`, :func:`find_data`, :func:`load_fer2013_subset`,
  :func:`load_ckplus`: the protocol option and the data;
- :func:`scale_settings`: a recipe's settings at a scale, with the caller's overrides;
- :func:`training_parts` / :func:`validation_part`: the images a recipe picks its best epoch
  on, the protocol's own or carved from the training part (subject-grouped under an honest
  protocol, random under a paper's);
- :func:`resolve_weights`: pretrained torchvision weights when they can be had, else random
  ones, with the sentence the report prints about it; :func:`training_precision`: float32
  on a CPU;
- :func:`run_protocol`: for every split of a protocol (one, or K folds), train a model (or
  reload it with ``resume``), predict the test part and audit it against training for
  copies; the folds' predictions are pooled into one :class:`ProtocolOutcome` (table row,
  per-class report, confusion PNG);
- :func:`score_further_test`: the same row for a fitted model on another data set (CLCM's
  cross-dataset test);
- :func:`network_profile`, :func:`predict_latency`, :func:`profile_markdown`: parameters,
  GFLOPs and mean latency per image, as the CLCM paper reports them;
- :func:`paper_result`: the :class:`~hybridfer.recipes.base.RecipeResult` with the summary
  (claimed, paper protocol, honest, their difference);
- :func:`side_by_side`: several recipes' results in one table.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hybridfer.recipes.base import RecipeError, RecipeResult, machine_summary

__all__ = [
    "PROTOCOL_CHOICES",
    "ProtocolOutcome",
    "chosen_protocols",
    "find_data",
    "load_ckplus",
    "load_fer2013_subset",
    "network_profile",
    "paper_result",
    "predict_latency",
    "profile_markdown",
    "resolve_weights",
    "run_protocol",
    "scale_settings",
    "score_further_test",
    "side_by_side",
    "training_parts",
    "training_precision",
    "validation_part",
]

#: The values of every paper recipe's ``protocol`` option.
PROTOCOL_CHOICES = ("both", "paper", "honest")

#: The columns of a paper recipe's table, in order (a column no row fills is dropped).
COLUMNS = (
    "protocol",
    "claimed acc",
    "acc",
    "macro-F1",
    "acc - claimed",
    "folds",
    "fold acc sd",
    "n train",
    "n test",
    "test with exact copy in train",
    "test with near copy only",
    "subjects on both sides",
    "epochs",
    "train s",
)


def chosen_protocols(protocol: str) -> list[str]:
    """``["paper", "honest"]`` for ``"both"``, else ``[protocol]``; anything else is an error."""
    if protocol not in PROTOCOL_CHOICES:
        raise RecipeError(f"protocol must be 'both', 'paper' or 'honest', got {protocol!r}")
    return ["paper", "honest"] if protocol == "both" else [protocol]


def find_data(data: str | os.PathLike, folder: str, what: str) -> Path:
    """``data`` itself, or ``data/folder`` when it exists (a folder holding several sets)."""
    path = Path(data)
    if not path.exists():
        raise RecipeError(f"--data {os.fspath(path)!r} does not exist; expected {what}")
    return path / folder if (path / folder).exists() else path


def scale_settings(
    settings: Mapping[str, Mapping[str, Any]], scale: str, **overrides: Any
) -> dict[str, Any]:
    """A copy of ``settings[scale]`` with the overrides that are not None."""
    out = dict(settings[scale])
    out.update({k: v for k, v in overrides.items() if v is not None})
    return out


def _stratified_rows(strata: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` rows stratified on ``strata`` (all rows when ``n`` covers them), sorted."""
    from sklearn.model_selection import train_test_split

    if n >= len(strata):
        return np.arange(len(strata))
    values, counts = np.unique(strata, return_counts=True)
    rare = set(values[counts < 2].tolist())  # a stratum of one cannot be split: pool them
    strata = np.array(["_rare" if s in rare else s for s in strata])
    idx, _ = train_test_split(
        np.arange(len(strata)), train_size=n, stratify=strata, random_state=seed
    )
    return np.sort(idx)


def load_fer2013_subset(
    data: str | os.PathLike,
    *,
    max_images: int | None = None,
    fraction: float | None = None,
    need: Sequence[str] = (),
    random_state: int = 0,
):
    """FER2013 (``data`` or ``data/fer2013``), decoded, optionally a subset stratified by
    usage and class (``max_images`` images, or a ``fraction`` of them).

    ``need`` names the usages the caller's protocols need; their absence is a
    :class:`RecipeError` naming the usages found.
    """
    from hybridfer.data import load_fer2013
    from hybridfer.images import read_images

    if fraction is not None and not 0.0 < float(fraction) <= 1.0:
        raise RecipeError(f"fraction must be in (0, 1], got {fraction!r}")
    path = find_data(data, "fer2013", "FER2013")
    try:
        ds = load_fer2013(path, lazy=True)
    except (ValueError, OSError) as exc:  # the loader names the file and what it expected
        raise RecipeError(f"--data {os.fspath(path)!r}: {exc}") from None
    usages = sorted(set(ds.usage.tolist()))
    missing = [u for u in need if u not in usages]
    if missing:
        raise RecipeError(
            f"FER2013 at {os.fspath(data)!r} holds the usages {usages}; this protocol needs "
            f"{list(need)}"
        )
    n = len(ds)
    if max_images is not None:
        n = min(n, int(max_images))
    if fraction is not None:
        n = min(n, int(round(float(fraction) * len(ds))))
    strata = np.char.add(np.char.add(ds.usage, "/"), ds.labels)
    ds = ds.subset(_stratified_rows(strata, n, random_state))
    if ds.images is None:
        ds.images = np.stack(read_images(list(ds.paths), "gray"))
    return ds


def load_ckplus(data: str | os.PathLike, *, max_subjects: int | None = None, random_state: int = 0):
    """CK+48 (``data`` or ``data/ckplus48``), decoded, with subjects as groups; optionally the
    frames of ``max_subjects`` randomly chosen subjects only (smoke scale)."""
    from hybridfer.data import load_ckplus48

    path = find_data(data, "ckplus48", "CK+48 (one folder per class)")
    try:
        ds = load_ckplus48(path)
    except (ValueError, OSError) as exc:  # the loader names the file and what it expected
        raise RecipeError(f"no CK+48 frames under {os.fspath(path)!r}: {exc}") from None
    if ds.groups is None or not len(ds):
        raise RecipeError(f"no CK+48 frames named S<subject>_... under {os.fspath(data)!r}")
    subjects = np.unique(ds.groups)
    if max_subjects is not None and len(subjects) > max_subjects:
        rng = np.random.default_rng(random_state)
        keep = rng.choice(subjects, size=int(max_subjects), replace=False)
        ds = ds.subset(np.isin(ds.groups, keep))
    return ds


def validation_part(train, fraction: float, *, grouped: bool, random_state: int = 0):
    """Split a training part into (train, validation) for picking the best epoch.

    ``grouped=True`` (honest protocols) keeps every subject on one side (when the part has
    groups); ``grouped=False`` (a paper's protocol) draws the validation images at random,
    stratified by class, as the paper's own splits do.
    """
    from sklearn.model_selection import train_test_split

    from hybridfer.data import holdout_split

    if train.groups is None:
        return holdout_split(train, fraction, random_state)
    if grouped:
        n_groups = len(np.unique(train.groups))
        if n_groups < 2:
            raise RecipeError(
                f"{train.name} holds the images of {n_groups} subject; a subject-grouped "
                "validation part needs at least 2"
            )
        # few subjects (tiny data): one subject's share at least
        fraction = max(float(fraction), 1.0 / n_groups)
        try:
            return holdout_split(train, fraction, random_state)
        except ValueError:  # classes too small to stratify by subject: plain grouped split
            from sklearn.model_selection import GroupShuffleSplit

            splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=random_state)
            tr, va = next(splitter.split(train.labels, train.labels, train.groups))
            return train.subset(np.sort(tr)), train.subset(np.sort(va))
    index = np.arange(len(train))
    try:
        tr, va = train_test_split(
            index, test_size=fraction, stratify=train.labels, random_state=random_state
        )
    except ValueError:  # a class too small to stratify (tiny data): a plain random split
        tr, va = train_test_split(index, test_size=fraction, random_state=random_state)
    return train.subset(np.sort(tr)), train.subset(np.sort(va))


def training_parts(split, fraction: float, *, grouped: bool, random_state: int = 0):
    """(train, validation) of a protocol split: its own validation part when it has one,
    else one carved from training by :func:`validation_part`. Validation images of a class
    the training part lacks (tiny data) are left out: no epoch can be scored on them."""
    train, val = split.train, split.val
    if val is None:
        train, val = validation_part(train, fraction, grouped=grouped, random_state=random_state)
    known = np.isin(val.labels, np.unique(train.labels))
    if not known.all():
        val = val.subset(known)
    return train, val


def training_precision(device: str) -> str:
    """``"float32"`` on a CPU, ``"auto"`` elsewhere.

    bf16 autocast on a CPU was slower for the papers' networks where measured (a 2-core Xeon
    with AMX: the CNN + LSTM paper's Model 3 took about 3.7 s per batch of 64 in bf16, after a
    first batch of minutes, against 1.5 s in float32), so the recipes run float32 there.
    """
    from hybridfer.nn.devices import resolve_device

    return "float32" if resolve_device(device).type == "cpu" else "auto"


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


@dataclass
class ProtocolOutcome:
    """What :func:`run_protocol` produced for one protocol.

    Attributes
    ----------
    name : str
        ``"paper"`` or ``"honest"``.
    row : dict
        The protocol's row of the table (see :data:`COLUMNS`).
    section : str
        The pooled per-class report (markdown).
    details : dict
        The protocol's summary, audit counts and per-fold records (class counts, history).
    paths : dict
        Files written (fitted models, confusion PNG).
    models : list
        The fitted estimator of every split.
    """

    name: str
    row: dict[str, Any]
    section: str
    details: dict[str, Any]
    paths: dict[str, str] = field(default_factory=dict)
    models: list[Any] = field(default_factory=list)


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
    from hybridfer.predict import load_pipeline, pipeline_metadata, save_pipeline

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


def score_further_test(
    name: str,
    model: Any,
    test: Any,
    train: Any,
    *,
    workdir: str | os.PathLike,
    claim: float | None = None,
    title: str = "",
    description: str = "",
    predict: Callable[[Any, Any], np.ndarray] | None = None,
    labels: Sequence[str] | None = None,
) -> ProtocolOutcome:
    """Score a fitted model on a further test set (another data set: a cross-dataset test).

    The row has the same columns as :func:`run_protocol`'s (``folds`` 1, ``n train`` the
    training part's size); the leakage audit compares ``test`` with ``train``.
    ``labels`` are the classes the report lists (default: those of ``test``).
    """
    from hybridfer.evaluation import evaluate_predictions, leakage_audit, plot_confusion_matrix

    workdir = Path(workdir)
    predict = predict or (lambda m, part: m.predict(part.X))
    pred = np.asarray(predict(model, test))
    truth = np.asarray(test.labels)
    classes = list(labels) if labels is not None else list(test.classes)
    classes += sorted(set(pred.tolist()) - set(classes))  # predicted classes the test lacks
    rep = evaluate_predictions(truth, pred, labels=classes)
    slug = name.replace(" ", "_").replace("+", "plus").lower()
    png = workdir / f"confusion_{slug}.png"
    plot_confusion_matrix(truth, pred, labels=classes, path=png, title=f"{title}, {name}")
    audit = leakage_audit(train.images, test.images, check_within=False)
    row = {
        "protocol": name,
        "split": name,
        "claimed acc": claim,
        "acc": rep.accuracy,
        "macro-F1": rep.macro_f1,
        "acc - claimed": None if claim is None else rep.accuracy - claim,
        "folds": 1,
        "n train": len(train),
        "n test": len(test),
        "test with exact copy in train": audit.n_exact,
        "test with near copy only": audit.n_near,
    }
    return ProtocolOutcome(
        name=name,
        row=row,
        section=f"{description}\n\n{rep.to_markdown()}".strip(),
        details={"protocol": description or name, "audit": audit.counts()},
        paths={f"confusion {name}": os.fspath(png)},
        models=[model],
    )


# -- profile ----------------------------------------------------------------------------------


def network_profile(net: Any, input_shape: Sequence[int], n_runs: int = 50) -> dict[str, Any]:
    """Parameters, GFLOPs and mean latency per image of a torch network (on the CPU/GPU the
    recipe ran on) for inputs of ``input_shape`` (batch of one)."""
    from hybridfer.evaluation import count_flops, measure_latency, parameter_counts

    counts = parameter_counts(net)
    latency = measure_latency(net, tuple(input_shape), n_runs=n_runs)
    return {
        "parameters": counts["total"],
        "trainable": counts["trainable"],
        "gflops": count_flops(net, tuple(input_shape)) / 1e9,
        "input_shape": list(input_shape),
        "latency_ms": float(latency["per_sample_ms"]),
        "latency_device": str(latency["device"]),
        "latency_runs": int(latency["n_runs"]),
    }


def predict_latency(predict: Callable[[Any], Any], image: np.ndarray, n_runs: int = 50) -> float:
    """Mean milliseconds of ``predict`` on one image (after one warm-up call)."""
    batch = np.asarray(image)[None]
    predict(batch)
    start = time.perf_counter()
    for _ in range(n_runs):
        predict(batch)
    return 1000.0 * (time.perf_counter() - start) / n_runs


def profile_markdown(profile: Mapping[str, Any], claims: Mapping[str, Any] | None = None) -> str:
    """The profile as a markdown list, with the paper's numbers where it gives them."""
    claims = claims or {}

    def claim(key: str) -> str:
        return f" (paper: {claims[key]:,})" if key in claims else ""

    lines = [f"- parameters: {profile['parameters']:,}{claim('parameters')}"]
    if "gflops" in profile:
        lines.append(
            f"- GFLOPs per image at input {tuple(profile['input_shape'][1:])}: "
            f"{profile['gflops']:.4f}{claim('gflops')} (a multiply-add counts 2)"
        )
    if "gflops_paper_input" in profile:
        lines.append(
            f"- GFLOPs per image at the paper's input {tuple(profile['paper_input'])}: "
            f"{profile['gflops_paper_input']:.4f}"
        )
    lines.append(
        f"- mean latency per image: {profile['latency_ms']:.3f} ms "
        f"({profile.get('latency_device', 'cpu')}, {profile.get('latency_runs', 50)} runs)"
    )
    return "\n".join(lines)


# -- the result -------------------------------------------------------------------------------


def paper_result(
    *,
    recipe: str,
    version: str,
    scale: str,
    workdir: str | os.PathLike,
    outcomes: Sequence[ProtocolOutcome],
    claim: float | None,
    reductions: Sequence[str],
    details: Mapping[str, Any],
    sections: Mapping[str, str],
    paths: Mapping[str, str] | None = None,
    extra_columns: Sequence[str] = (),
) -> RecipeResult:
    """The :class:`RecipeResult` of a paper recipe: one row per protocol, the summary
    (claimed, paper protocol, honest, paper - honest), the per-protocol reports first."""
    rows = [o.row for o in outcomes]
    columns = [c for c in (*COLUMNS, *extra_columns) if any(r.get(c) is not None for r in rows)]
    by_name = {o.name: o.row for o in outcomes}
    summary: dict[str, Any] = {"claimed": claim}
    if "paper" in by_name:
        summary["paper protocol"] = by_name["paper"]["acc"]
    if "honest" in by_name:
        summary["honest"] = by_name["honest"]["acc"]
    if {"paper", "honest"} <= set(by_name):
        summary["paper - honest"] = by_name["paper"]["acc"] - by_name["honest"]["acc"]
    all_sections = {
        o.row["protocol"]
        if o.row["split"] == o.row["protocol"]
        else f"{o.row['protocol']} protocol: {o.row['split']}": o.section
        for o in outcomes
    }
    all_sections.update(sections)
    all_paths: dict[str, str] = {}
    for o in outcomes:
        all_paths.update(o.paths)
    all_paths.update(paths or {})
    return RecipeResult(
        recipe=recipe,
        version=version,
        scale=scale,
        protocol="; ".join(o.details["protocol"] for o in outcomes),
        machine=machine_summary(),
        rows=rows,
        columns=columns,
        workdir=Path(workdir),
        details={
            **details,
            "summary": summary,
            "protocols": {o.name: o.details for o in outcomes},
            "sections": all_sections,
        },
        paths=all_paths,
        reductions=list(reductions),
    )


def side_by_side(results: Sequence[RecipeResult]) -> str:
    """Several recipes' results in one markdown table: one row per recipe and protocol, with
    the claim, our accuracy and macro-F1, and the leakage audit's copies."""
    cols = [
        "recipe",
        "scale",
        "protocol",
        "claimed acc",
        "acc",
        "macro-F1",
        "test with exact copy in train",
        "test with near copy only",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for result in results:
        for row in result.rows:
            values = {"recipe": result.recipe, "scale": result.scale, **row}
            if "protocol" not in row:
                values["protocol"] = result.protocol.split(" (")[0]
            cells = []
            for c in cols:
                v = values.get(c)
                cells.append(f"{v:.4f}" if isinstance(v, float) else ("" if v is None else str(v)))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
