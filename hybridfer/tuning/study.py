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
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import optuna
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage
from optuna.trial import TrialState

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
        raise ValueError(f"n_trials must be an integer >= 1, got {n_trials!r}")
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
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    with critical_section():
        return set_target(study, study_target(study) + int(n))


class TuneResult(NamedTuple):
    """What :func:`tune` returns: the study and the best pipeline refitted on all the data."""

    study: optuna.Study
    best_pipeline: Any


def _unpack_dataset(X, y, groups):
    if hasattr(X, "labels") and hasattr(X, "X") and y is None:
        ds = X
        return ds.X, ds.y, ds.groups if groups is None else groups
    if y is None:
        raise ValueError("y is required unless X is a dataset (hybridfer.data.FERDataset)")
    return X, y, groups


def tune(
    X: Any,
    y: Any = None,
    *,
    features: Sequence[str] | str = ("hog",),
    classifiers: Sequence[str] | str = ("wnxgb",),
    space: Mapping[str, Mapping[str, Any]] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    groups: Any = None,
    cv: Any = 5,
    scoring: str = "f1_macro",
    n_trials: int = 20,
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
) -> TuneResult:
    """Search feature sets x classifiers x their settings by cross-validation; refit the best.

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
        (see :class:`~hybridfer.tuning.spaces.PipelineSpace`).
    groups : array-like, optional
        Subject ids: folds keep each subject on one side.
    cv : int, splitter or list of index pairs, default=5
    scoring : str, default="f1_macro"
        Any scikit-learn scorer name.
    n_trials : int, default=20
        The study's target of finished (complete or pruned) trials, shared by all workers;
        a rerun continues towards it, and a rerun with another value changes it.
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
        Fit the best pipeline on all of ``X`` (returned as ``best_pipeline``).
    progress : bool, default=False
        Show a progress bar.
    max_trials : int, optional
        Run at most this many trials in this call (the rest stay queued).
    heartbeat_interval, grace_period, max_retry, reclaim_running
        Worker failure handling (see :func:`make_storage`, :func:`run_worker`).

    Returns
    -------
    TuneResult
        ``(study, best_pipeline)``; ``best_pipeline`` is None without a completed trial or
        with ``refit=False``.
    """
    X, y, groups = _unpack_dataset(X, y, groups)
    if not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
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
    storage = make_storage(
        storage,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
        max_retry=max_retry,
    )
    spec = study_spec("tune", pipeline_space, objective)
    study = open_study(
        storage,
        study_name,
        spec=spec,
        tickets=[{}] * int(n_trials),
        sampler=make_sampler(sampler, random_state),
        pruner=make_pruner(pruner, objective.n_folds),
        resume=resume,
    )
    if study_target(study) != n_trials:
        set_target(study, int(n_trials))
    run_worker(
        study,
        objective,
        storage=storage,
        timeout=timeout,
        max_trials=max_trials,
        progress=progress,
        max_retry=max_retry,
        reclaim_running=reclaim_running,
    )
    best = None
    if refit and study_counts(study)["complete"]:
        best = objective.refit(pipeline_space.from_params(study.best_trial.params))
    return TuneResult(study, best)


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
