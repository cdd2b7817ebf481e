"""Studies that many workers share: creating, joining and repairing them, their target; ``tune``.

A study is created once, with its setup (search space, metric, folds...) and a **target**
number of finished trials stored with it, and the target queued as tickets. Every worker,
in any process or on any machine pointed at the same storage and study name, runs queued
tickets until the target is met (:func:`~hybridfer.tuning.worker.run_worker`), so the
workers together finish exactly the target and a rerun continues where the last run
stopped. A later run may change the target (:func:`set_target`, :func:`add_trials`).

Storages (:func:`~hybridfer.tuning.storage.make_storage`): a SQLite file (the default, no
server), Optuna's journal file, or any SQLAlchemy URL such as ``postgresql://user@host/db``
for workers on several machines. With a relational storage each running trial sends a
heartbeat; when a worker is killed, another worker (or the next run) marks its trial failed
after ``grace_period`` seconds and puts a copy of it back in the queue, so no completed
trial is lost and the target is kept. The journal file has no heartbeat: after a crash,
rerun with ``reclaim_running=True`` (``hybridfer tune --reclaim-running``) when no other
worker is running.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import is_dataset
from hybridfer.tuning.interrupts import critical_section, request_stop
from hybridfer.tuning.objective import CVObjective
from hybridfer.tuning.samplers import (
    PRUNERS,
    SAMPLERS,
    TrialSeededSampler,
    make_pruner,
    make_sampler,
)
from hybridfer.tuning.spaces import PipelineSpace
from hybridfer.tuning.storage import StorageError, make_storage
from hybridfer.tuning.worker import (
    STUDY_ATTR,
    TrialsFailedError,
    WorkerReport,
    enqueue_tickets,
    run_worker,
    study_counts,
    study_target,
    top_up,
    worker_id,
)

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "STUDY_ATTR",
    "StorageError",
    "StudyMismatchError",
    "TrialSeededSampler",
    "TrialsFailedError",
    "TuneResult",
    "WorkerReport",
    "add_trials",
    "load_study_info",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "open_study",
    "request_stop",
    "run_worker",
    "set_target",
    "study_counts",
    "study_target",
    "tune",
    "worker_id",
]

# Stored with a study but free to differ between workers / runs.
_UNCHECKED = ("n_trials", "baseline")


class StudyMismatchError(ValueError):
    """A study exists under that name but was created for something else (or by someone
    else); the message says what differs and what to do."""


def open_study(
    storage: BaseStorage,
    study_name: str | None,
    *,
    spec: Mapping[str, Any],
    tickets: Sequence[Mapping[str, Any]],
    sampler: BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    resume: bool = True,
    wait: float = 15.0,
    where: str = "this storage",
) -> optuna.Study:
    """Create a study with its tickets, or join the existing one of that name.

    Parameters
    ----------
    storage : BaseStorage
    study_name : str or None
    spec : mapping
        What the study is for (space, metric, folds...), stored with it; a worker whose spec
        differs is refused with a :class:`StudyMismatchError` naming the differences.
    tickets : sequence of mappings
        Fixed parameters of each trial to queue (``{}``: all sampled); their number is the
        study's target. Queued only by the worker that creates the study.
    resume : bool, default=True
        Join an existing study; False makes an existing study an error.
    wait : float, default=15
        Seconds to wait for the creating worker to finish setting the study up. A study
        still not set up then, whose trials are all tickets waiting in the queue (its
        creator was killed half-way), is repaired: the rest of its tickets are queued.
        Any other study of that name is refused, naming the command that deletes it.
    where : str
        How to name the storage in messages (e.g. its URL).
    """
    spec = {**spec, "n_trials": len(tickets)}
    # created, queued and marked set-up without a Ctrl-C in between
    with critical_section():
        try:
            study = optuna.create_study(
                storage=storage,
                study_name=study_name,
                sampler=sampler,
                pruner=pruner,
                direction="maximize",
                load_if_exists=False,
            )
        except optuna.exceptions.DuplicatedStudyError:
            study = None
        else:
            enqueue_tickets(study, tickets)
            study.set_user_attr(STUDY_ATTR, spec)
    if study is not None:
        return study
    if not resume:
        raise StudyMismatchError(
            f"study {study_name!r} already exists in {where}; resume it (the default, or "
            "--resume) or pick another study name"
        )
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
    )
    deadline = time.monotonic() + wait
    while STUDY_ATTR not in study.user_attrs:
        # a creator still queueing has only waiting tickets; anything else is not ours
        if time.monotonic() > deadline or not _only_tickets(study):
            _repair(study, spec, tickets, where)
            break
        time.sleep(0.5)
    _check_spec(study, spec)
    return study


def _only_tickets(study: optuna.Study) -> bool:
    with critical_section():
        trials = study.get_trials(deepcopy=False)
    return all(t.state == TrialState.WAITING and "ticket" in t.user_attrs for t in trials)


def _repair(
    study: optuna.Study, spec: Mapping[str, Any], tickets: Sequence[Mapping], where: str
) -> None:
    """Finish setting up a study whose creator died while queueing its tickets."""
    with critical_section():
        trials = study.get_trials(deepcopy=False)
        if not _only_tickets(study):
            raise StudyMismatchError(
                f"study {study.study_name!r} in {where} was not set up by hybridfer (it has "
                f"{len(trials)} trials of its own); delete it with `hybridfer studies delete "
                f"{study.study_name} --storage {where}` or use another study name"
            )
        enqueue_tickets(study, tickets[len(trials) :])
        study.set_user_attr(STUDY_ATTR, dict(spec))


def _check_spec(study: optuna.Study, spec: Mapping[str, Any]) -> None:
    stored = dict(study.user_attrs[STUDY_ATTR])
    differ = [
        k
        for k in sorted(set(stored) | set(spec))
        if k not in _UNCHECKED and stored.get(k) != spec.get(k)
    ]
    if differ:
        raise StudyMismatchError(
            f"study {study.study_name!r} was created with different settings ({', '.join(differ)}"
            f" differ); resume it with the same configuration and data, or use another study "
            f"name. Stored: { {k: stored.get(k) for k in differ} }"
        )


def load_study_info(storage: BaseStorage, study_name: str) -> dict[str, Any]:
    """One study's name, kind (tune, ablation; "not set up" for one left half-created, or
    "foreign" for one hybridfer did not make), target and trial counts by state."""
    with critical_section():
        study = optuna.load_study(study_name=study_name, storage=storage)
        spec = study.user_attrs.get(STUDY_ATTR)
        counts = study_counts(study)
    if spec is None:
        ours = counts["waiting"] == sum(counts[s.name.lower()] for s in TrialState)
        kind = "not set up" if ours else "foreign"
    else:
        kind = spec.get("kind", "?")
    return {
        "name": study_name,
        "kind": kind,
        "target": int(spec.get("n_trials", 0)) if spec else "-",
        "trials": sum(counts[s.name.lower()] for s in TrialState),
        **{s.name.lower(): counts[s.name.lower()] for s in TrialState},
    }


def set_target(study: optuna.Study, n_trials: int) -> int:
    """Set the study's target of finished trials and queue what it needs; returns it.

    Lowering the target leaves queued tickets unused (workers stop at the target). Call it
    from one place at a time.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be an integer >= 1, got {plain_repr(n_trials)}")
    with critical_section():
        spec = dict(study.user_attrs.get(STUDY_ATTR, {}))
        spec["n_trials"] = int(n_trials)
        study.set_user_attr(STUDY_ATTR, spec)
        top_up(study)
    return int(n_trials)


def add_trials(study: optuna.Study, n: int) -> int:
    """Raise the study's target by ``n`` >= 1 trials (run by this or any worker); returns the
    new target. Call it from one place at a time."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {plain_repr(n)}")
    with critical_section():
        return set_target(study, study_target(study) + int(n))


@dataclass(eq=False)
class TuneResult:
    """What :func:`tune` returns: the study, the best pipeline refitted on all the data, and
    what this run did; it renders its own report (:meth:`to_markdown`, :meth:`summary`).

    Unpacks as ``study, best_pipeline = tune(...)``.

    Attributes
    ----------
    study : optuna.Study
    best_pipeline : fitted pipeline or None
        None without a completed trial or with ``refit=False``. Carries its metadata
        (:mod:`hybridfer.predict`) as ``hybridfer_metadata_``.
    space : PipelineSpace
    metric : str
    where : str
        The storage, as named in messages (a URL without its password).
    n_folds, n_samples : int
    run : WorkerReport
        The trials this call ran, by final state.
    refit_seconds : float or None
    """

    study: optuna.Study
    best_pipeline: Any = None
    space: PipelineSpace | None = None
    metric: str = "f1_macro"
    where: str = "memory"
    n_folds: int = 0
    n_samples: int = 0
    run: WorkerReport | None = None
    refit_seconds: float | None = None

    def __iter__(self):
        return iter((self.study, self.best_pipeline))

    def __getitem__(self, index):
        return (self.study, self.best_pipeline)[index]

    @property
    def counts(self) -> dict[str, int]:
        """The study's trials by state (see :func:`study_counts`)."""
        return study_counts(self.study)

    @property
    def best_trial(self) -> FrozenTrial | None:
        """The best completed trial, or None."""
        with critical_section():
            done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            return self.study.best_trial if done else None

    def best_line(self) -> str:
        """``best trial #N: PIPELINE  metric = mean ± sd (mean of K folds)``."""
        best = self.best_trial
        if best is None:
            return "no completed trial yet"
        label = best.user_attrs.get("pipeline", "?")
        folds = best.user_attrs.get("fold_scores", {}).get(self.metric, [])
        spread = f" ± {np.std(folds, ddof=1):.4f}" if len(folds) > 1 else ""
        return (
            f"best trial #{best.number}: {label}  {self.metric} = {best.value:.4f}{spread} "
            f"(mean of {len(folds)} folds)"
        )

    def run_line(self) -> str:
        """What this run did and where the study stands."""
        r = self.run or WorkerReport(0, 0, 0, False)
        c = self.counts
        return (
            f"this worker: {r.complete} complete, {r.pruned} pruned, {r.failed} failed; "
            f"study: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed, "
            f"{c['waiting']} queued, {c['running']} running"
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary: the study, its counts and the best trial."""
        out: dict[str, Any] = {
            "study": self.study.study_name,
            "storage": self.where,
            "metric": self.metric,
            "counts": self.counts,
        }
        best = self.best_trial
        if best is not None:
            out.update(
                {
                    "best_trial": best.number,
                    "best_value": best.value,
                    "best_pipeline": best.user_attrs.get("pipeline")
                    or (self.space.from_params(best.params).label if self.space else "?"),
                    "best_params": best.params,
                    "best_fold_scores": best.user_attrs.get("fold_scores"),
                }
            )
        return out

    def trials_frame(self):
        """Every trial: number, value, state, parameters, duration and user attributes."""
        with critical_section():
            return self.study.trials_dataframe(
                attrs=("number", "value", "state", "params", "duration", "user_attrs")
            )

    def to_markdown(self, top: int = 10) -> str:
        """The study's report: counts, the best trial's parameters, the ``top`` trials."""
        summary = self.summary()
        lines = [
            f"# Study {summary['study']}",
            "",
            f"- storage: `{summary['storage']}`",
            f"- metric: {self.metric}",
            "- trials: " + ", ".join(f"{v} {k}" for k, v in summary["counts"].items() if v),
            "",
        ]
        if "best_trial" not in summary:
            return "\n".join([*lines, "No completed trial yet."]) + "\n"
        lines += [
            f"## Best trial #{summary['best_trial']}: {summary['best_pipeline']}",
            "",
            f"{self.metric} = {summary['best_value']:.4f}",
            "",
            "| parameter | value |",
            "|---|---|",
        ]
        lines += [f"| {k} | {v} |" for k, v in summary["best_params"].items()]
        lines += ["", "## Top trials", "", f"| trial | pipeline | {self.metric} |", "|---|---|---|"]
        with critical_section():
            done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        done = sorted(done, key=lambda t: -t.value)[:top]
        lines += [
            f"| {t.number} | {t.user_attrs.get('pipeline', '')} | {t.value:.4f} |" for t in done
        ]
        return "\n".join(lines) + "\n"

    def save(self, directory: str | os.PathLike) -> dict[str, str]:
        """Write the study's report to ``directory`` (atomically); returns the files by name.

        ``trials.csv`` (:meth:`trials_frame`), ``best_pipeline.joblib`` (when there is a
        refitted best pipeline), ``tune_summary.json`` (:meth:`summary` with ``workdir`` and
        ``best_pipeline_file``) and ``tune_summary.md`` (:meth:`to_markdown`). Without a
        completed trial there is nothing to report and nothing is written.
        """
        import json

        from hybridfer._io import atomic_write_text
        from hybridfer.predict.saved import save_pipeline

        out = Path(directory)
        if self.best_trial is None:
            return {}
        paths = {"trials_csv": out / "trials.csv"}
        atomic_write_text(paths["trials_csv"], self.trials_frame().to_csv(index=False))
        summary = {**self.summary(), "workdir": os.fspath(out)}
        if self.best_pipeline is not None:
            paths["best_pipeline"] = out / "best_pipeline.joblib"
            save_pipeline(self.best_pipeline, paths["best_pipeline"])
            summary["best_pipeline_file"] = os.fspath(paths["best_pipeline"])
        paths["summary_json"] = out / "tune_summary.json"
        paths["summary_md"] = out / "tune_summary.md"
        atomic_write_text(paths["summary_json"], json.dumps(summary, indent=2, default=str))
        atomic_write_text(paths["summary_md"], self.to_markdown())
        return {k: os.fspath(v) for k, v in paths.items()}


def _unpack_dataset(X, y, groups):
    if is_dataset(X) and y is None:
        ds = X
        return ds.X, ds.y, ds.groups if groups is None else groups, ds.name
    if y is None:
        raise ValueError("y is required unless X is a dataset (hybridfer.data.FERDataset)")
    return X, y, groups, None


def _check_count(value: Any, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {plain_repr(value)}")


def _merge_metadata(meta: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    for k, v in (extra or {}).items():
        if isinstance(v, Mapping) and isinstance(meta.get(k), Mapping):
            meta[k] = {**meta[k], **v}
        else:
            meta[k] = v
    return meta


def tune(
    X: Any,
    y: Any = None,
    *,
    features: Sequence[str] | str = ("hog",),
    classifiers: Sequence[str] | str = ("wnxgb",),
    space: Mapping[str, Mapping[str, Any]] | PipelineSpace | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    groups: Any = None,
    cv: Any = 5,
    scoring: str = "f1_macro",
    n_trials: int | None = 20,
    initial_trials: int = 20,
    add_trials: int | None = None,
    timeout: float | None = None,
    storage: str | os.PathLike | BaseStorage | None = None,
    study_name: str | None = None,
    resume: bool = True,
    sampler: str | BaseSampler = "tpe",
    pruner: str | optuna.pruners.BasePruner | None = "median",
    cache: Any = None,
    reuse_features: bool = True,
    resample: str | None = None,
    random_state: int | None = 0,
    refit: bool = True,
    progress: bool = False,
    max_trials: int | None = None,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int | None = 3,
    reclaim_running: bool = False,
    metadata: Mapping[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> TuneResult:
    """Search feature sets x classifiers x their settings by cross-validation; refit the best.

    The one entry point of a study: ``hybridfer tune`` calls it too, then prints and writes
    what it returns.

    Parameters
    ----------
    X : images (array or paths) or FERDataset
        Training images; a dataset also provides ``y`` and ``groups``.
    y : array-like, optional
        Labels.
    features, classifiers : str or sequence of str
        Feature sets (``"hog"``, ``"resnet50+hog+lbp"``) and classifiers to choose among
        (see :mod:`hybridfer.tuning.registry`).
    space, params : mapping, optional
        Search-space overrides and fixed parameters per component
        (see :class:`~hybridfer.tuning.spaces.PipelineSpace`). ``space`` may also be a whole
        PipelineSpace; ``features``, ``classifiers`` and ``params`` are then not used.
    groups : array-like, optional
        Subject ids: folds keep each subject on one side.
    cv : int, splitter or list of index pairs, default=5
    scoring : str, default="f1_macro"
        Any scikit-learn scorer name.
    n_trials : int or None, default=20
        The study's target of finished (complete or pruned) trials, shared by all workers;
        a rerun continues towards it, and a rerun with another value changes it. None: an
        existing study keeps its stored target, a new one gets ``initial_trials``.
    initial_trials : int, default=20
        The target of a study created with ``n_trials=None``.
    add_trials : int, optional
        Raise the study's target by this many trials (after ``n_trials``).
    timeout : float, optional
        Seconds after which this call starts no new trial.
    storage : URL, path, Optuna storage or None
        See :func:`make_storage` (None: in memory).
    study_name : str, optional
        Needed to share or resume a study in a persistent storage.
    resume : bool, default=True
        Continue an existing study of that name (False: error if it exists).
    sampler : {"tpe", "random"} or sampler; pruner : {"median", "hyperband", "none"} or pruner
    cache : path, FeatureCache or None
        On-disk per-image feature cache for deep extractors.
    reuse_features : bool, default=True
        Compute per-image features once per study (False: every fold fits the whole pipeline
        from images, the way a plain ``cross_validate`` would).
    resample : {"none", "oversample", "undersample"}, optional
        Class balancing, inside training folds only.
    random_state : int or None, default=0
    refit : bool, default=True
        Fit the best pipeline on all of ``X`` (returned as ``best_pipeline``, with its
        metadata attached: see :mod:`hybridfer.predict`).
    progress : bool, default=False
        Show a progress bar.
    max_trials : int, optional
        Run at most this many trials in this call (the rest stay queued).
    heartbeat_interval, grace_period, max_retry, reclaim_running
        Worker failure handling (see :func:`make_storage`, :func:`run_worker`).
    metadata : mapping, optional
        More entries for the refitted pipeline's metadata (mappings such as
        ``training_data`` are merged), e.g. where the data came from.
    log : callable, optional
        Called with each progress line (the study and its target, the space, what this run
        did); ``hybridfer tune`` prints them.

    Returns
    -------
    TuneResult
        Unpacks as ``(study, best_pipeline)``.

    Raises
    ------
    TrialsFailedError
        Every trial this call ran failed (or too many in a row): the setup is broken.
    """
    from hybridfer.tuning.storage import redact_url

    say = log or (lambda line: None)
    X, y, groups, data_name = _unpack_dataset(X, y, groups)
    _check_count(n_trials, "n_trials", allow_none=True)
    _check_count(initial_trials, "initial_trials")
    _check_count(add_trials, "add_trials", allow_none=True)
    if isinstance(space, PipelineSpace):
        pipeline_space = space
    else:
        pipeline_space = PipelineSpace(features, classifiers, space=space, params=params)
    objective = CVObjective(
        X,
        y,
        pipeline_space,
        cv=cv,
        groups=groups,
        scoring=scoring,
        resample=resample,
        store="auto" if reuse_features else None,
        cache=cache,
        random_state=random_state,
    )
    if isinstance(storage, (str, os.PathLike)):
        where = redact_url(os.fspath(storage))
    else:
        where = "memory" if storage is None else "this storage"
    storage = make_storage(
        storage,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
        max_retry=max_retry,
    )
    study = open_study(
        storage,
        study_name,
        spec=study_spec("tune", pipeline_space, objective),
        tickets=[{}] * int(n_trials or initial_trials),
        sampler=make_sampler(sampler, random_state),
        pruner=make_pruner(pruner, objective.n_folds),
        resume=resume,
        where=where,
    )
    if n_trials is not None and study_target(study) != n_trials:
        set_target(study, int(n_trials))
        say(f"the study's target is now {n_trials} finished trials")
    if add_trials:
        with critical_section():  # the module's add_trials, which this argument hides
            total = set_target(study, study_target(study) + int(add_trials))
        say(
            f"{add_trials} more trial{'s' if add_trials > 1 else ''}: the study's target is "
            f"now {total} finished trials"
        )
    before = study_counts(study)
    say(
        f"study {study.study_name!r} in {where}: target {study_target(study)}, "
        f"{before['finished']} finished, {before['waiting']} queued, {before['running']} "
        f"running elsewhere; {objective.n_folds}-fold CV on {len(objective.y)} images, "
        f"metric {objective.scoring}"
    )
    say(pipeline_space.describe())
    report = run_worker(
        study,
        objective,
        storage=storage,
        timeout=timeout,
        max_trials=max_trials,
        progress=progress,
        max_retry=max_retry,
        reclaim_running=reclaim_running,
    )
    result = TuneResult(
        study=study,
        space=pipeline_space,
        metric=objective.scoring,
        where=where,
        n_folds=objective.n_folds,
        n_samples=len(objective.y),
        run=report,
    )
    say(result.run_line())
    if report.failed and not report.complete + report.pruned:
        with critical_section():
            failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        last = failed[-1].user_attrs.get("error", "?") if failed else "?"
        raise TrialsFailedError(
            f"all {report.failed} trials of this run failed (last error: {last}); fix the "
            "configuration and rerun"
        )
    best = result.best_trial
    if refit and best is not None:
        from hybridfer.predict.saved import attach_metadata, pipeline_metadata

        start = time.perf_counter()
        choice = pipeline_space.from_params(best.params)
        model = objective.refit(choice)
        result.refit_seconds = time.perf_counter() - start
        meta = pipeline_metadata(
            model,
            X,
            y,
            data_name=data_name,
            scores={f"cv {objective.scoring}": best.value},
            label=choice.label,
            extra={"study": study.study_name, "trial": best.number},
        )
        result.best_pipeline = attach_metadata(model, _merge_metadata(meta, metadata))
    return result


def study_spec(kind: str, space: PipelineSpace, objective: CVObjective) -> dict[str, Any]:
    """What identifies a study's setup: kind, space, metric, resampling and the folds."""
    return {
        "kind": kind,
        "space": space.to_jsonable(),
        "scoring": objective.scoring,
        "resample": objective.resample,
        "n_samples": len(objective.y),
        "folds": objective.fold_ids(),
    }
