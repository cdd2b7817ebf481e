"""The ``hybridfer`` command: tune, ablate, evaluate, extract, predict, studies, demo,
components, recipes, reproduce.

Every command but ``predict``, ``studies``, ``demo``, ``components``, ``recipes`` and
``reproduce`` reads a TOML configuration (see :mod:`hybridfer.tuning.config`); results go to
a working folder (``[output] workdir`` or ``--workdir``). Run ``hybridfer COMMAND --help`` for the options.

Exit status: 0 done; 2 a user error (bad flags, config, paths, data, storage, pipeline file,
folds that cannot be made), reported in one line on stderr that names the input (a
traceback only with ``--debug``); 1 trials that all failed, a ``predict`` whose images all
failed, or a bug; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "InputError",
    "main",
    "run_ablate",
    "run_demo",
    "run_evaluate",
    "run_extract",
    "run_predict",
    "run_studies",
    "run_tune",
]

_log = logging.getLogger("hybridfer")


class InputError(ValueError):
    """A command-line input that cannot be used (a flag's value, a path); the message names
    it and says what was expected."""


def _echo(*lines: str) -> None:
    print(*lines, sep="\n", flush=True)


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


# --------------------------------------------------------------------------------------------
# Shared setup
# --------------------------------------------------------------------------------------------


class _Run:
    """What a command needs from a config and the command line: folders, storage, data."""

    def __init__(
        self,
        cfg,
        workdir: str | os.PathLike | None = None,
        storage: str | None = None,
        study: str | None = None,
        data: tuple | None = None,
    ) -> None:
        self.cfg = cfg
        self.workdir = _make_workdir(
            Path(workdir) if workdir else cfg.workdir,
            "--workdir" if workdir else f"{cfg.source}: output.workdir",
        )
        self.storage_url = storage or cfg.storage_url(self.workdir)
        self.study_name = study or cfg.study.name
        self.cache = cfg.cache_path(self.workdir)
        self._data = data

    def data(self, folds: bool = False):
        if self._data is None:
            from hybridfer.tuning.config import load_data

            start = time.perf_counter()
            self._data = load_data(self.cfg)
            train, test = self._data
            test_txt = f", test {len(test)} images" if test is not None else ""
            _echo(
                f"data: {train.name}: train {len(train)} images{test_txt} "
                f"({time.perf_counter() - start:.1f} s)"
            )
        if folds:
            from hybridfer.tuning.config import check_folds

            check_folds(self.cfg, self._data[0])
        return self._data

    def groups(self, ds):
        return ds.groups if self.cfg.cv.group else None

    def storage(self):
        from hybridfer.tuning.study import make_storage

        s = self.cfg.study
        return make_storage(
            self.storage_url,
            heartbeat_interval=s.heartbeat_interval,
            grace_period=s.grace_period or None,
            max_retry=s.max_retry,
        )


def _make_workdir(path: Path, what: str) -> Path:
    path = path.expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {os.fspath(path)!r} is a file; expected a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{what} {os.fspath(path)!r}: cannot create the folder ({exc.strerror or exc})"
        ) from None
    return path


def _data_source(cfg) -> str:
    d = cfg.data
    return f"data.source = {d.source!r}" + (f", data.path = {d.path!r}" if d.path else "")


def _save_pipeline(model, path: Path, cfg, train, *, label, scores, extra=None) -> None:
    """Save a fitted pipeline with its metadata (see hybridfer.predict)."""
    from hybridfer.predict import pipeline_metadata, save_pipeline

    meta = pipeline_metadata(
        model,
        train.X,
        train.y,
        data_name=train.name,
        data_source=_data_source(cfg),
        color=cfg.data.color if cfg.data.source == "folder" else "gray",
        scores=scores,
        label=label,
        extra=extra,
    )
    save_pipeline(model, path, meta)


def _write_text(path: Path, text: str) -> None:
    from hybridfer._io import atomic_write_text

    atomic_write_text(path, text)


# --------------------------------------------------------------------------------------------
# tune
# --------------------------------------------------------------------------------------------


def run_tune(
    cfg,
    *,
    workdir=None,
    storage=None,
    study=None,
    n_trials=None,
    timeout=None,
    max_trials=None,
    resume=True,
    reclaim_running=False,
    progress=True,
    refit=True,
    add_trials=None,
    data=None,
) -> dict:
    """``hybridfer tune``: run (or join, or continue) the config's study with
    :func:`hybridfer.tuning.tune`; write the best pipeline and a summary. Returns the summary
    dict.

    The study's target of finished trials is ``n_trials`` (else the config's) when it is
    created; ``n_trials`` sets it on an existing study and ``add_trials`` raises it (both
    >= 1, stored for later runs). Raises TrialsFailedError when every trial of this run
    failed."""
    from hybridfer.predict import save_pipeline
    from hybridfer.tuning.study import make_sampler, tune

    for flag, value in (("--n-trials", n_trials), ("--add-trials", add_trials)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise InputError(f"{flag} must be an integer >= 1, got {value!r}")
    run = _Run(cfg, workdir, storage, study, data)
    s = cfg.study
    space = cfg.tune_space()
    train, _ = run.data(folds=True)
    result = tune(
        train.X,
        train.y,
        space=space,
        groups=run.groups(train),
        cv=cfg.cv.n_splits,
        scoring=s.metric,
        n_trials=n_trials,
        initial_trials=s.n_trials,
        add_trials=add_trials,
        timeout=(timeout or s.timeout) or None,
        storage=run.storage_url,
        study_name=run.study_name,
        resume=resume,
        sampler=make_sampler(s.sampler, s.random_state),
        pruner=s.pruner,
        cache=run.cache,
        reuse_features=cfg.cache.reuse,
        resample=cfg.cv.resample,
        random_state=cfg.cv.random_state,
        refit=refit,
        progress=progress,
        max_trials=max_trials,
        heartbeat_interval=s.heartbeat_interval,
        grace_period=s.grace_period or None,
        max_retry=s.max_retry,
        reclaim_running=reclaim_running,
        metadata={"training_data": {"name": train.name, "source": _data_source(cfg)}},
        log=_echo,
    )
    summary = {**result.summary(), "workdir": os.fspath(run.workdir)}
    best = result.best_trial
    if best is None:
        _echo("no completed trial yet: nothing to report")
        return summary
    _echo(result.best_line(), "  params: " + json.dumps(best.params, default=str))
    _write_text(run.workdir / "trials.csv", result.trials_frame().to_csv(index=False))
    if result.best_pipeline is not None:
        path = run.workdir / "best_pipeline.joblib"
        save_pipeline(result.best_pipeline, path)
        summary["best_pipeline_file"] = os.fspath(path)
        _echo(
            f"best pipeline refitted on all {len(train)} training images "
            f"({result.refit_seconds:.1f} s): {path}"
        )
    _write_text(run.workdir / "tune_summary.json", json.dumps(summary, indent=2, default=str))
    _write_text(run.workdir / "tune_summary.md", result.to_markdown())
    _echo(f"summary: {run.workdir / 'tune_summary.md'}")
    return summary


def _redact(url: str) -> str:
    """A storage URL without its password."""
    from hybridfer.tuning.storage import redact_url

    return redact_url(url)


# --------------------------------------------------------------------------------------------
# ablate
# --------------------------------------------------------------------------------------------


def run_ablate(
    cfg,
    *,
    workdir=None,
    storage=None,
    study=None,
    max_trials=None,
    resume=True,
    progress=True,
    test=None,
    data=None,
):
    """``hybridfer ablate``: every feature set x classifier on identical folds; writes
    ``ablation.csv``, ``ablation.md``, ``ablation_folds.csv`` and ``ablation.png``."""
    from hybridfer.tuning.ablation import ablate

    run = _Run(cfg, workdir, storage, None, data)
    name = study or cfg.ablation.name or f"{cfg.study.name}-ablation"
    cfg.ablation_space()  # validates component parameters before any work
    train, test_ds = run.data(folds=True)
    use_test = cfg.ablation.test if test is None else test
    if use_test and test_ds is None:
        from hybridfer.tuning.config import ConfigError

        raise ConfigError(
            f"{cfg.source}: ablation.test needs a test split (data.test_size > 0 "
            "or FER2013's test usage)"
        )
    s = cfg.study
    _echo(
        f"ablation {name!r}: {len(cfg.ablation_features)} feature sets x "
        f"{len(cfg.ablation_classifiers)} classifiers, {cfg.cv.n_splits}-fold CV on "
        f"{len(train)} images"
        + (f", plus the test split ({len(test_ds)} images)" if use_test else "")
    )
    result = ablate(
        train.X,
        train.y,
        features=cfg.ablation_features,
        classifiers=cfg.ablation_classifiers,
        params=cfg.fixed_params(),
        groups=run.groups(train),
        cv=cfg.cv.n_splits,
        metrics=cfg.ablation.metrics,
        baseline=cfg.ablation.baseline,
        X_test=test_ds.X if use_test else None,
        y_test=test_ds.y if use_test else None,
        storage=run.storage(),
        study_name=name,
        resume=resume,
        cache=run.cache,
        reuse_features=cfg.cache.reuse,
        resample=cfg.cv.resample,
        random_state=cfg.cv.random_state,
        progress=progress,
        max_trials=max_trials,
        max_retry=s.max_retry,
    )
    n_pairs = len(cfg.ablation_features) * len(cfg.ablation_classifiers)
    if len(result.pairs) < n_pairs:
        _echo(f"{len(result.pairs)} of {n_pairs} pairs done so far; rerun to continue")
    if not result.pairs:
        return result
    if result.baseline not in result.pairs:
        _echo(f"the baseline {result.baseline} is not done yet; differences are left out")
    out = run.workdir
    result.to_csv(out / "ablation.csv")
    _write_text(out / "ablation_folds.csv", result.scores.to_csv(index=False))
    markdown = result.to_markdown()
    _write_text(out / "ablation.md", f"# Ablation {name}\n\n{markdown}\n")
    result.plot(out / "ablation.png")
    _echo(
        "",
        markdown,
        "",
        f"wrote {out / 'ablation.csv'}, {out / 'ablation.md'}, {out / 'ablation.png'}",
    )
    return result


def _load_pipeline(path: str | os.PathLike, what: str) -> Any:
    """A pipeline saved with joblib; an InputError naming ``what`` if it is not one."""
    from hybridfer.predict import PipelineFileError, load_pipeline

    try:
        return load_pipeline(path, what)[0]
    except PipelineFileError as exc:
        raise InputError(str(exc)) from None


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------


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
) -> dict:
    """``hybridfer evaluate``: fit a pipeline on the training split, report on the test split.

    The pipeline is ``pipeline`` (a joblib file, refitted), or ``pair``
    (``"features/classifier"`` at fixed settings), or else the best trial of the config's
    study. Writes ``report.md``/``report.csv``, ``confusion.png``/``confusion.csv`` and
    ``leakage.md``/``leakage.csv`` to ``<workdir>/evaluate``.
    """
    from sklearn.base import clone

    from hybridfer.evaluation import (
        classification_report_frame,
        confusion_matrix_frame,
        leakage_audit,
        plot_confusion_matrix,
        report_markdown,
    )
    from hybridfer.predict import METADATA_ATTR
    from hybridfer.tuning.config import ConfigError

    run = _Run(cfg, workdir, storage, study, data)
    train, test = run.data()
    if test is None:
        raise ConfigError(
            f"{cfg.source}: no test split to evaluate on: set data.test_size > 0 "
            "(or use FER2013's test usage)"
        )
    rs = cfg.cv.random_state
    if pipeline is not None:
        source = f"pipeline file {pipeline}"
        loaded = _load_pipeline(pipeline, "--pipeline")
        label = (getattr(loaded, METADATA_ATTR, None) or {}).get("pipeline") or Path(pipeline).name
        model = clone(loaded)
    elif pair is not None:
        features, _, classifier = pair.partition("/")
        from hybridfer.tuning.spaces import PipelineSpace

        try:
            space = PipelineSpace(features, classifier, params=cfg.fixed_params(), tune=False)
        except ValueError as exc:
            raise ConfigError(f"--pair {pair!r}: {exc}") from None
        model = space.build_pipeline(
            space.choice(features, classifier), cache=run.cache, random_state=rs
        )
        source = f"pair {pair} at fixed settings"
        label = pair
    else:
        import optuna

        try:
            st = optuna.load_study(study_name=run.study_name, storage=run.storage())
            best = st.best_trial
        except (KeyError, ValueError) as exc:
            raise ConfigError(
                f"no completed trial of study {run.study_name!r} in "
                f"{_redact(run.storage_url)} ({exc}); run `hybridfer tune` first, or pass "
                "--pipeline FILE or --pair FEATURES/CLASSIFIER"
            ) from None
        choice = cfg.tune_space().from_params(best.params)
        model = cfg.tune_space().build_pipeline(choice, cache=run.cache, random_state=rs)
        source = f"best trial #{best.number} of study {run.study_name!r} ({choice.label})"
        label = choice.label
    from hybridfer.tuning.objective import resample_indices, take

    _echo(
        f"evaluating {source}: fit on {len(train)} training images, report on {len(test)} "
        "test images"
    )
    idx = resample_indices(train.y, np.arange(len(train)), cfg.cv.resample, rs)
    start = time.perf_counter()
    model.fit(take(train.X, idx), train.y[idx])
    fit_s = time.perf_counter() - start
    y_pred = model.predict(test.X)
    labels = [c for c in train.classes if c in set(train.y) | set(test.y)]
    out = run.workdir / "evaluate"
    frame = classification_report_frame(test.y, y_pred, labels=labels)
    md = report_markdown(frame)
    _write_text(out / "report.csv", frame.to_csv())
    cm = confusion_matrix_frame(test.y, y_pred, labels=labels, normalize=None)
    _write_text(out / "confusion.csv", cm.to_csv())
    plot_confusion_matrix(
        test.y, y_pred, labels=labels, path=out / "confusion.png", title=f"{source} on {test.name}"
    )
    result = {
        "source": source,
        "fit_seconds": round(fit_s, 2),
        "accuracy": float(frame.loc["accuracy", "f1"]),
        "macro_f1": float(frame.loc["macro avg", "f1"]),
    }
    text = [
        f"# Evaluation: {source}",
        "",
        f"Trained on {train.name} ({len(train)} images), "
        f"tested on {test.name} ({len(test)} images).",
        "",
        md,
    ]
    _echo("", md, "")
    if audit:
        leak = leakage_audit(train, test)
        result["leakage"] = leak.counts()
        _write_text(out / "leakage.csv", leak.pairs.to_csv(index=False))
        _write_text(out / "leakage.md", leak.to_markdown())
        text += ["", "## Leakage audit (train vs test)", "", leak.summary()]
        _echo("leakage audit (train vs test): " + leak.summary())
    _write_text(out / "report.md", "\n".join(text) + "\n")
    _write_text(out / "evaluation.json", json.dumps(result, indent=2, default=str))
    _save_pipeline(
        model,
        out / "pipeline.joblib",
        cfg,
        train,
        label=label,
        scores={
            f"{test.name} accuracy": result["accuracy"],
            f"{test.name} macro_f1": result["macro_f1"],
        },
        extra={"evaluated": source},
    )
    _echo(f"wrote {out / 'report.md'}, {out / 'confusion.png'}, {out / 'pipeline.joblib'}")
    return result


# --------------------------------------------------------------------------------------------
# extract
# --------------------------------------------------------------------------------------------


def run_extract(cfg, *, workdir=None, features=None, split="all") -> dict:
    """``hybridfer extract``: fill the on-disk feature cache for the config's images.

    Each component at its fixed settings (``[params]`` over the estimator's defaults).
    Per-image components only (a CNN trained in ``fit`` cannot be cached ahead of a study).
    Returns ``{component: seconds}``.
    """
    from optuna.trial import FixedTrial

    from hybridfer.tuning.config import ConfigError
    from hybridfer.tuning.registry import COMPONENTS, split_feature_set
    from hybridfer.tuning.spaces import parse_space, suggest_params

    run = _Run(cfg, workdir)
    if run.cache is None:
        raise ConfigError(f"{cfg.source}: cache.path is empty: there is no feature cache to fill")
    sets = features or list(dict.fromkeys([*cfg.pipeline.features, *cfg.ablation_features]))
    names: list[str] = []
    for fs in sets:
        for p in split_feature_set(fs, where="--features"):
            if p not in names:
                names.append(p)
    train, test = run.data()
    parts = {
        "train": [train],
        "test": [test] if test is not None else [],
        "all": [train] + ([test] if test is not None else []),
    }[split]
    from hybridfer.tuning.objective import concat_images

    X = parts[0].X
    for ds in parts[1:]:
        X = concat_images(X, ds.X)
    fixed = cfg.fixed_params()
    timings = {}
    for name in names:
        comp = COMPONENTS[name]
        if not comp.per_image:
            _echo(f"{name}: skipped (trained in fit: its features depend on the training fold)")
            continue
        if "cache" not in comp.param_names():
            _echo(f"{name}: skipped (it takes no feature cache)")
            continue
        start = time.perf_counter()
        params = suggest_params(FixedTrial({}), name, parse_space(fixed.get(name), name))
        est = comp.build(params, cache=run.cache, random_state=cfg.cv.random_state)
        F = est.fit(X).transform(X)
        timings[name] = round(time.perf_counter() - start, 2)
        _echo(
            f"{name}: {F.shape[0]} images x {F.shape[1]} features in the cache ({timings[name]} s)"
        )
    _echo(f"feature cache: {run.cache}")
    return timings


# --------------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------------


class AllImagesFailedError(RuntimeError):
    """``hybridfer predict`` could read none of its input images (exit status 1)."""


def run_predict(
    pipeline: str | os.PathLike,
    inputs: Sequence[str | os.PathLike] = (),
    *,
    output: str | os.PathLike = "predictions.csv",
    info: bool = False,
    usage: Sequence[str] | None = None,
    batch_size: int = 256,
    progress: bool = True,
):
    """``hybridfer predict``: apply a saved pipeline to image folders, files or a FER2013 CSV
    and write one row per image to ``output`` (see :func:`hybridfer.predict.predict_to_csv`);
    with ``info``, print the pipeline's metadata instead. Returns the PredictReport (or the
    info dict). Raises AllImagesFailedError when no image could be read."""
    from hybridfer.predict import (
        collect_inputs,
        format_info,
        load_pipeline,
        pipeline_info,
        predict_to_csv,
    )

    model, metadata = load_pipeline(pipeline, "pipeline file")
    details = pipeline_info(model, metadata)
    if info:
        _echo(format_info(details, pipeline))
        return details
    if not inputs:
        raise InputError(
            "predict needs INPUTS: image folders, image files or a FER2013 CSV (or --info)"
        )
    if Path(output).is_dir():
        raise InputError(f"-o {os.fspath(output)!r} is a folder; expected the CSV file to write")
    src = collect_inputs(inputs, usage)
    image = details["image"]
    size = "any size" if image["resizes"] else "x".join(map(str, image.get("shape") or "?"))
    classes = details["classes"] or []
    _echo(
        f"pipeline: {details['pipeline']} ({len(classes)} classes, {size} "
        f"{image.get('color') or 'gray'} images); {len(src)} image{'' if len(src) == 1 else 's'} to predict"
    )
    if not details["probabilities"]:
        print(
            "hybridfer predict: note: the pipeline has no predict_proba: the output has labels "
            "only, no probability columns",
            file=sys.stderr,
            flush=True,
        )
    report = predict_to_csv(
        model, src, output, metadata=metadata, batch_size=batch_size, progress=progress
    )
    _echo(report.summary())
    if report.n_predicted == 0:
        raise AllImagesFailedError(
            f"none of the {report.n_images} images could be read (first error: "
            f"{report.first_error}); the errors are in {os.fspath(report.output)}"
        )
    return report


# --------------------------------------------------------------------------------------------
# studies
# --------------------------------------------------------------------------------------------


def _open_storage(url: str):
    """An existing storage (listing or deleting never creates a database file)."""
    from hybridfer.tuning.storage import make_storage

    text = os.fspath(url)
    path = text[len("journal:") :] if text.startswith("journal:") else text
    if "://" not in text and not Path(path).is_file():
        raise InputError(f"--storage {text!r}: no such file")
    return make_storage(text)


def run_studies(storage: str, action: str = "list", name: str | None = None) -> list[dict]:
    """``hybridfer studies``: list the studies of a storage with their counts, or delete one.

    Returns the listed (or deleted) studies as dicts.
    """
    from hybridfer.tuning.storage import delete_study, list_studies
    from hybridfer.tuning.study import load_study_info

    store = _open_storage(storage)
    where = _redact(os.fspath(storage))
    if action == "delete":
        if not name:
            raise InputError("studies delete needs the NAME of the study to delete")
        names = [s.study_name for s in list_studies(store)]
        if name not in names:
            raise InputError(f"no study {name!r} in {where}; the studies there are {sorted(names)}")
        info = load_study_info(store, name)
        delete_study(store, name)
        _echo(f"deleted study {name!r} ({info['trials']} trials) from {where}")
        return [info]
    rows = [load_study_info(store, s.study_name) for s in list_studies(store)]
    if not rows:
        _echo(f"no study in {where}")
        return rows
    header = ("study", "kind", "target", "complete", "pruned", "fail", "running", "waiting")
    table = [header] + [
        tuple(
            str(r[k])
            for k in ("name", "kind", "target", "complete", "pruned", "fail", "running", "waiting")
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    _echo(
        *("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table)
    )
    return rows


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------

DEMO_CONFIG: dict[str, Any] = {
    "data": {"source": "synthetic", "n_samples": 1000, "image_size": 48, "test_size": 0.2},
    "pipeline": {"features": ["hog", "lbp", "hog+lbp"], "classifiers": ["wnxgb", "svm"]},
    # small boosted models and a narrowed space keep the demo under 3 minutes on 2 cores
    "params": {"wnxgb": {"n_estimators": 40, "max_depth": 3, "max_bin": 32}},
    "space": {
        "wnxgb": {
            "n_estimators": {"low": 20, "high": 60},
            "max_depth": {"low": 2, "high": 4},
            "learning_rate": {"low": 0.1, "high": 0.5, "log": True},
        }
    },
    "cv": {"n_splits": 3},
    "study": {"name": "demo", "storage": "study.db", "n_trials": 10, "pruner": "median"},
    "ablation": {"baseline": "hog/svm", "name": "demo-ablation"},
}


def run_demo(
    workdir: str | os.PathLike = "hybridfer-work/demo",
    *,
    n_samples: int | None = None,
    n_trials: int | None = None,
    progress: bool = True,
) -> dict:
    """``hybridfer demo``: ablation, study and held-out report on synthetic faces."""
    from hybridfer.tuning.config import parse_config

    raw = json.loads(json.dumps(DEMO_CONFIG))
    if n_samples:
        raw["data"]["n_samples"] = n_samples
    if n_trials:
        raw["study"]["n_trials"] = n_trials
    workdir = Path(workdir).resolve()
    cfg = parse_config(raw, source="demo config", base_dir=workdir)
    start = time.perf_counter()
    _echo(f"hybridfer demo: synthetic faces (hybridfer.data.make_faces), working folder {workdir}")
    data = _Run(cfg, workdir).data()
    _echo(
        "",
        "1/3 ablation: {hog, lbp, hog+lbp} x {wnxgb, svm} at fixed settings, "
        f"{cfg.cv.n_splits}-fold subject-grouped CV",
    )
    t0 = time.perf_counter()
    ablation = run_ablate(cfg, workdir=workdir, progress=progress, data=data)
    _echo(f"(ablation: {time.perf_counter() - t0:.0f} s)", "")
    _echo(f"2/3 study: {cfg.study.n_trials} trials over the same pairs with tuned settings")
    t0 = time.perf_counter()
    summary = run_tune(cfg, workdir=workdir, progress=progress, data=data)
    _echo(f"(study: {time.perf_counter() - t0:.0f} s)", "")
    _echo("3/3 the best pipeline, refitted on the training split, on the held-out test split")
    evaluation = run_evaluate(cfg, workdir=workdir, data=data)
    _echo(
        "note: all synthetic faces are drawn from one template, so the audit's near-duplicate",
        "matches here are look-alikes, not copies; on real data it is what catches leakage",
        "(FER2013: 579 of the 3,589 PublicTest images have a copy in Training).",
        "",
    )
    _echo(f"demo finished in {time.perf_counter() - start:.0f} s; everything is in {workdir}")
    return {"ablation": ablation, "tune": summary, "evaluate": evaluation}


# --------------------------------------------------------------------------------------------
# components
# --------------------------------------------------------------------------------------------


def run_components() -> None:
    """``hybridfer components``: the registry, availability and default spaces."""
    from hybridfer.tuning.registry import COMPONENTS
    from hybridfer.tuning.spaces import format_space, merge_spaces, parse_space

    for kind in ("features", "classifier"):
        _echo(f"{kind}:")
        for name, comp in COMPONENTS.items():
            if comp.kind != kind:
                continue
            ok = "available" if comp.available() else "not available"
            _echo(f"  {name:<18} {comp.description} [{ok}]")
            space = merge_spaces(comp.defaults, parse_space(comp.space, name))
            for k, v in format_space(space).items():
                _echo(f"      {k}: {v}")
    _echo("feature sets join components with '+', e.g. resnet50+hog+lbp")


# --------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------


class _UsageError(Exception):
    """A command line argparse cannot parse (reported in one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line, without the usage block."""

    def error(self, message: str):
        raise _UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def _count(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _positive(unit: str):
    """An argparse type: a number of ``unit`` > 0."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number of {unit} > 0, got {text!r}")
        return value

    return parse


_seconds = _positive("seconds")
_minutes = _positive("minutes")


def _recipe_option(text: str) -> tuple[str, object]:
    """An argparse type: ``NAME=VALUE`` -> (name, value), the value read as true/false, none,
    an int, a float, or else kept as text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. rfb=true), got {text!r}")
    words = {"true": True, "false": False, "none": None}
    value: object = words.get(raw.strip().lower(), raw)
    if isinstance(value, str):
        for kind in (int, float):
            try:
                value = kind(raw)
                break
            except ValueError:
                pass
    return name.strip(), value


def _parser() -> argparse.ArgumentParser:
    from hybridfer import __version__

    p = _Parser(
        prog="hybridfer",
        description="Facial expression recognition: deep + handcrafted features with classical "
        "classifiers, tuned with Optuna.",
    )
    p.add_argument("--version", action="version", version=f"hybridfer {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log every trial")
    p.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (for bug reports)"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_parser = sub.add_parser

    def add_parser(name, **kwargs):
        sp = _add_parser(name, **kwargs)
        sp.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the traceback of an error",
        )
        return sp

    sub.add_parser = add_parser

    def common(sp, study=True):
        sp.add_argument("config", help="TOML configuration file")
        sp.add_argument("--workdir", help="working folder (default: [output] workdir)")
        if study:
            sp.add_argument(
                "--storage",
                help="study storage: SQLite file, journal file "
                "(*.log) or URL such as postgresql://user@127.0.0.1/db "
                "(default: [study] storage)",
            )
            sp.add_argument("--study", help="study name (default: from the config)")

    t = sub.add_parser("tune", help="run, join or resume an Optuna study over pipelines")
    common(t)
    counts = t.add_mutually_exclusive_group()
    counts.add_argument(
        "--n-trials",
        type=_count,
        metavar="N",
        help="the study's target of finished trials, N >= 1 (default: the config's when the "
        "study is created, then the stored one); stored for later runs",
    )
    counts.add_argument(
        "--add-trials",
        type=_count,
        metavar="K",
        help="raise the study's target by K >= 1 trials",
    )
    t.add_argument(
        "--timeout", type=_seconds, help="seconds after which this worker starts no new trial"
    )
    t.add_argument(
        "--max-trials", type=_count, metavar="K", help="run at most K trials in this worker"
    )
    g = t.add_mutually_exclusive_group()
    g.add_argument(
        "--resume",
        dest="resume",
        action="store_true",
        default=True,
        help="continue the study if it exists (default)",
    )
    g.add_argument(
        "--no-resume", dest="resume", action="store_false", help="fail if the study already exists"
    )
    t.add_argument(
        "--reclaim-running",
        action="store_true",
        help="journal storage: requeue trials left running by a crashed worker "
        "(only when no other worker runs)",
    )
    t.add_argument(
        "--no-refit",
        dest="refit",
        action="store_false",
        help="do not refit and save the best pipeline",
    )
    t.add_argument("--no-progress", dest="progress", action="store_false")

    a = sub.add_parser("ablate", help="feature sets x classifiers on identical folds")
    common(a)
    a.add_argument("--max-trials", type=_count, metavar="K", help="run at most K pairs now")
    a.add_argument(
        "--test",
        action="store_true",
        default=None,
        help="also fit each pair on the training split and score the test split",
    )
    a.add_argument("--no-progress", dest="progress", action="store_false")

    e = sub.add_parser("evaluate", help="fit on the training split, report on the test split")
    common(e)
    src = e.add_mutually_exclusive_group()
    src.add_argument("--pipeline", help="a pipeline saved with joblib (refitted on train)")
    src.add_argument("--pair", help="FEATURES/CLASSIFIER at fixed settings, e.g. hog+lbp/svm")
    e.add_argument(
        "--no-audit", dest="audit", action="store_false", help="skip the train/test leakage audit"
    )

    x = sub.add_parser("extract", help="fill the feature cache ahead of studies")
    common(x, study=False)
    x.add_argument("--features", nargs="+", help="feature sets (default: all in the config)")
    x.add_argument("--split", choices=("train", "test", "all"), default="all")

    d = sub.add_parser("demo", help="ablation + study + report on synthetic faces (< 3 min)")
    d.add_argument("--workdir", default="hybridfer-work/demo", help="working folder")
    d.add_argument("--n-samples", type=_count, help="synthetic images (default 1000)")
    d.add_argument("--n-trials", type=_count, help="study trials (default 10)")
    d.add_argument("--no-progress", dest="progress", action="store_false")

    st = sub.add_parser(
        "studies",
        help="list the studies of a storage with their counts, or delete one",
        description="hybridfer studies --storage URL: list the studies; hybridfer studies "
        "delete NAME --storage URL: delete one with all its trials.",
    )
    st.add_argument("action", nargs="?", choices=("list", "delete"), default="list")
    st.add_argument("name", nargs="?", help="the study to delete")
    st.add_argument(
        "--storage",
        required=True,
        help="SQLite file, journal file (*.log) or URL such as postgresql://user@127.0.0.1/db",
    )

    pr = sub.add_parser(
        "predict",
        help="apply a saved pipeline to image folders, image files or a FER2013 CSV",
        description="hybridfer predict PIPELINE INPUT... -o predictions.csv: one row per image "
        "(path or CSV row, predicted label, one probability column per class); unreadable "
        "images get a row with their error and the run goes on. hybridfer predict --info "
        "PIPELINE: print what the pipeline expects and how it was trained.",
    )
    pr.add_argument(
        "pipeline", help="a pipeline saved by hybridfer tune, evaluate or a recipe (joblib)"
    )
    pr.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="image folders (searched recursively), image files, or one FER2013 CSV",
    )
    pr.add_argument(
        "-o", "--output", default="predictions.csv", help="the CSV to write (predictions.csv)"
    )
    pr.add_argument("--info", action="store_true", help="print the pipeline's metadata and exit")
    pr.add_argument(
        "--usage",
        action="append",
        choices=("Training", "PublicTest", "PrivateTest"),
        help="FER2013 CSV: only rows of this usage (repeatable)",
    )
    pr.add_argument(
        "--batch-size", type=_count, default=256, metavar="N", help="images per batch (256)"
    )
    pr.add_argument("--no-progress", dest="progress", action="store_false")

    sub.add_parser("components", help="list components and their default search spaces")

    sub.add_parser("recipes", help="list the named recipes with their source and claims")
    r = sub.add_parser(
        "reproduce",
        help="run a named recipe end to end and write its report",
        description="hybridfer reproduce NAME --data PATH: run a recipe (see hybridfer recipes); "
        "prints the side-by-side table and writes report.md, report.json, confusion PNGs and "
        "the fitted pipeline to --workdir.",
    )
    r.add_argument("name", help="recipe name (hybridfer recipes lists them)")
    r.add_argument("--data", required=True, help="the data set folder or file")
    r.add_argument("--scale", choices=("smoke", "cpu", "full"), help="default: the recipe's")
    r.add_argument("--workdir", help="working folder (default: hybridfer-work/NAME/SCALE)")
    r.add_argument(
        "--resume", action="store_true", help="continue a killed run from its checkpoints"
    )
    r.add_argument("--budget-minutes", type=_minutes, help="training budget in minutes (cpu scale)")
    r.add_argument(
        "--protocol",
        choices=("honest", "paper", "both"),
        help="a paper recipe's protocol: the paper's own, the honest one, or both side by side",
    )
    r.add_argument("--model", type=int, choices=(1, 2, 3), help="cnn-lstm-fer2013: which model")
    r.add_argument(
        "--cross-data",
        metavar="PATH",
        help="a second data set for a cross-dataset test (clcm-mobilenetv2: CK+48)",
    )
    r.add_argument(
        "--option",
        action="append",
        type=_recipe_option,
        default=[],
        metavar="NAME=VALUE",
        help="any other option of the recipe (repeatable), e.g. --option rfb=true, "
        "--option mode=sequence; hybridfer recipes lists each recipe's options",
    )
    return p


def run_recipes() -> None:
    """``hybridfer recipes``: every recipe with its source and the numbers it claims."""
    from hybridfer.recipes import list_recipes

    for recipe in list_recipes():
        claims = "; ".join(f"{k}: {v}" for k, v in recipe.claims.items())
        _echo(f"{recipe.name} (v{recipe.version}, default scale {recipe.default_scale})")
        _echo(f"    {recipe.title}", f"    source: {recipe.source}", f"    claims: {claims}")
        if recipe.options:
            _echo(f"    options: {', '.join(recipe.options)}")


def run_reproduce(name, *, data, scale=None, workdir=None, resume=False, options=None, **flags):
    """``hybridfer reproduce``: run a recipe, print its table and where the report is.

    ``flags`` that are None (not given) are left to the recipe's defaults; ``options``
    (from ``--option NAME=VALUE``) are passed as they are, None included.
    """
    from hybridfer.recipes import run_recipe

    options = {**{k: v for k, v in flags.items() if v is not None}, **(options or {})}
    result = run_recipe(name, data, scale=scale, workdir=workdir, resume=resume, **options)
    _echo(
        f"{result.recipe} v{result.version}, scale {result.scale}, {result.wall_time:.0f} s",
        f"machine: {result.machine}",
        f"protocol: {result.protocol}",
        "",
        result.table_markdown(),
        "",
        f"report: {result.paths['report_md']}",
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hybridfer`` console script; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    # OpenMP threads that spin while waiting make XGBoost/LightGBM many times slower when
    # cores are shared (several workers on one machine); waiting passively costs nothing
    # when they are not. Read by the OpenMP runtime when it loads, so set before any import.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    _quiet_optuna()
    if args.verbose:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.INFO)
    os.environ.setdefault("MPLBACKEND", "Agg")
    # SIGINT and SIGTERM stop the worker (its running trial is queued again), never in the
    # middle of a storage operation (see hybridfer.tuning.interrupts)
    from hybridfer.tuning.interrupts import interrupt_handler

    # (main() called in-process, from a notebook or a test, gives the handlers back)
    previous = {}
    with _suppress_signal_errors():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, interrupt_handler)
    try:
        return _dispatch(args)
    finally:
        with _suppress_signal_errors():
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command; user errors become one line and exit status 2."""
    from hybridfer.predict import PipelineFileError, PredictInputError
    from hybridfer.recipes.base import RecipeError
    from hybridfer.tuning.config import ConfigError, load_config
    from hybridfer.tuning.registry import ComponentError
    from hybridfer.tuning.spaces import SpaceError
    from hybridfer.tuning.storage import StorageError
    from hybridfer.tuning.study import StudyMismatchError, TrialsFailedError

    user_errors = (
        ConfigError,
        ComponentError,
        SpaceError,
        StudyMismatchError,
        StorageError,
        InputError,
        RecipeError,
        PipelineFileError,
        PredictInputError,
    )
    try:
        if args.command == "components":
            run_components()
        elif args.command == "recipes":
            run_recipes()
        elif args.command == "reproduce":
            flags = {
                "budget_minutes": args.budget_minutes,
                "protocol": args.protocol,
                "model": args.model,
                "cross_data": args.cross_data,
            }
            extra = dict(args.option)
            twice = sorted(k for k, v in flags.items() if v is not None and k in extra)
            if twice:
                raise RecipeError(f"option(s) {twice} given both as a flag and with --option")
            run_reproduce(
                args.name,
                data=args.data,
                scale=args.scale,
                workdir=args.workdir,
                resume=args.resume,
                options=extra,
                **flags,
            )
        elif args.command == "predict":
            run_predict(
                args.pipeline,
                args.inputs,
                output=args.output,
                info=args.info,
                usage=args.usage,
                batch_size=args.batch_size,
                progress=args.progress,
            )
        elif args.command == "studies":
            run_studies(args.storage, args.action, args.name)
        elif args.command == "demo":
            run_demo(
                args.workdir,
                n_samples=args.n_samples,
                n_trials=args.n_trials,
                progress=args.progress,
            )
        else:
            cfg = load_config(args.config)
            if args.command == "tune":
                run_tune(
                    cfg,
                    workdir=args.workdir,
                    storage=args.storage,
                    study=args.study,
                    n_trials=args.n_trials,
                    timeout=args.timeout,
                    max_trials=args.max_trials,
                    resume=args.resume,
                    reclaim_running=args.reclaim_running,
                    progress=args.progress,
                    refit=args.refit,
                    add_trials=args.add_trials,
                )
            elif args.command == "ablate":
                run_ablate(
                    cfg,
                    workdir=args.workdir,
                    storage=args.storage,
                    study=args.study,
                    max_trials=args.max_trials,
                    progress=args.progress,
                    test=args.test,
                )
            elif args.command == "evaluate":
                run_evaluate(
                    cfg,
                    workdir=args.workdir,
                    storage=args.storage,
                    study=args.study,
                    pipeline=args.pipeline,
                    pair=args.pair,
                    audit=args.audit,
                )
            elif args.command == "extract":
                run_extract(cfg, workdir=args.workdir, features=args.features, split=args.split)
    except (*user_errors, TrialsFailedError, AllImagesFailedError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"hybridfer {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1 if isinstance(exc, (TrialsFailedError, AllImagesFailedError)) else 2
    except KeyboardInterrupt:
        if args.command == "reproduce":
            print(
                "\nhybridfer reproduce: interrupted; the training checkpoint is kept: rerun "
                "the same command with --resume to continue",
                file=sys.stderr,
            )
            return 130
        if args.command == "predict":
            print("\nhybridfer predict: interrupted; no output written", file=sys.stderr)
            return 130
        print(
            f"\nhybridfer {args.command}: interrupted; completed trials are saved and the "
            "interrupted one is queued again: rerun the same command to continue",
            file=sys.stderr,
        )
        return 130
    return 0


def _one_line(exc: BaseException) -> str:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())


class _suppress_signal_errors:
    """signal.signal fails outside the main thread (e.g. main() called from a thread)."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is ValueError


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
