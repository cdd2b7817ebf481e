"""Studies that many workers share: storages, trial budget, heartbeats, resuming; ``tune``.

A study is created once with a fixed budget of ``n_trials`` **tickets** (Optuna trials
waiting in the queue). Every worker, in any process or on any machine pointed at the same
storage and study name, repeatedly claims one waiting ticket (an atomic compare-and-set of its
state) and runs it, until none is left. So the workers together run exactly ``n_trials``
trials, never the same one twice, and a rerun continues where the last run stopped.

Storages (:func:`make_storage`): a SQLite file (the default, no server), Optuna's journal
file, or any SQLAlchemy URL such as ``postgresql://user@host/db`` for workers on several
machines. With a relational storage each running trial sends a heartbeat; when a worker is
killed, another worker (or the next run) marks its trial failed after ``grace_period``
seconds and puts a copy of it back in the queue, so no completed trial is lost and the budget
is kept. The journal file has no heartbeat: after a crash, rerun with ``reclaim_running=True``
(``hybridfer tune --reclaim-running``) when no other worker is running.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import math
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import optuna
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage, InMemoryStorage, RDBStorage
from optuna.trial import FrozenTrial, TrialState

from hybridfer.tuning.interrupts import (
    clear_stop,
    critical_section,
    handle_interrupts,
    request_stop,
    stop_requested,
)
from hybridfer.tuning.objective import CVObjective
from hybridfer.tuning.spaces import PipelineSpace

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "STUDY_ATTR",
    "StudyMismatchError",
    "TrialSeededSampler",
    "TuneResult",
    "WorkerReport",
    "add_trials",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "open_study",
    "request_stop",
    "run_worker",
    "study_counts",
    "tune",
]

_log = logging.getLogger("hybridfer.tuning")

#: Study user attribute holding what the study was created with (and its ticket budget).
STUDY_ATTR = "hybridfer"
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
_JOURNAL_SUFFIXES = (".log", ".jsonl", ".journal")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def _guarded(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def method(*args, **kwargs):
        with critical_section():
            return fn(*args, **kwargs)

    return method


def _guard(cls: type) -> type:
    """A subclass of a storage class whose every method runs in a critical section, so that
    a Ctrl-C never cuts a storage operation in two (see :mod:`hybridfer.tuning.interrupts`).
    """
    methods = {}
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if name in methods or not inspect.isfunction(value):
                continue
            if name.startswith("__") and name != "__init__":
                continue
            methods[name] = _guarded(value)
    name = f"Guarded{cls.__name__}"
    guarded = type(name, (cls,), {**methods, "__module__": __name__, "__qualname__": name})
    guarded.__doc__ = f"{cls.__name__} whose operations a Ctrl-C does not interrupt."
    return guarded


GuardedRDBStorage = _guard(RDBStorage)
GuardedInMemoryStorage = _guard(InMemoryStorage)


def _journal_storage_class() -> type:
    global GuardedJournalStorage
    if GuardedJournalStorage is None:
        from optuna.storages.journal import JournalStorage

        GuardedJournalStorage = _guard(JournalStorage)
    return GuardedJournalStorage


GuardedJournalStorage: type | None = None


def worker_id() -> str:
    """Who runs a trial (recorded as its ``worker`` user attribute): ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


# Stored with a study but free to differ between workers / runs.
_UNCHECKED = ("n_trials", "baseline")


class StudyMismatchError(ValueError):
    """A study exists under that name but was created for something else."""


def _retry_callback(max_retry: int | None) -> Callable:
    cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    if cls is None:  # optuna < 4.9
        cls = optuna.storages.RetryFailedTrialCallback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(max_retry=max_retry)


def make_storage(
    storage: str | os.PathLike | BaseStorage | None,
    *,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int | None = 3,
) -> BaseStorage:
    """An Optuna storage from a URL or a path.

    Parameters
    ----------
    storage : str, path, BaseStorage or None
        ``None``: in memory (one process). A path ending in ``.db``/``.sqlite``/``.sqlite3``
        or a ``sqlite:///`` URL: a SQLite file. ``journal:PATH`` or a path ending in
        ``.log``/``.jsonl``/``.journal``: Optuna's journal file. Any other URL
        (``postgresql://user:pw@127.0.0.1:5432/db``, ``mysql+pymysql://...``): a relational
        database shared by workers on several machines.
    heartbeat_interval : int, default=10
        Seconds between heartbeats of a running trial (relational storages).
    grace_period : int or None
        Seconds without heartbeat after which a running trial counts as dead (default:
        3 x ``heartbeat_interval``).
    max_retry : int or None, default=3
        How many times a dead worker's trial is put back in the queue (None: always).
    """
    if isinstance(storage, BaseStorage):
        return storage
    if storage is None:
        return GuardedInMemoryStorage()
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(
            f"storage must be a URL, a path, an Optuna storage or None, got "
            f"{type(storage).__name__}"
        )
    text = os.fspath(storage)
    if text.startswith("journal:"):
        return _journal(text[len("journal:") :])
    if "://" not in text:
        suffix = Path(text).suffix.lower()
        if suffix in _JOURNAL_SUFFIXES:
            return _journal(text)
        if suffix in _SQLITE_SUFFIXES:
            Path(text).parent.mkdir(parents=True, exist_ok=True)
            text = f"sqlite:///{Path(text).resolve()}"
        else:
            raise ValueError(
                f"storage {text!r} is neither a URL nor a file with a known suffix: use a "
                f"SQLite file ({', '.join(_SQLITE_SUFFIXES)}), a journal file "
                f"({', '.join(_JOURNAL_SUFFIXES)} or journal:PATH), or a database URL such as "
                "postgresql://user:password@127.0.0.1:5432/dbname"
            )
    if heartbeat_interval is None or heartbeat_interval < 1:
        raise ValueError(
            f"heartbeat_interval must be a whole number of seconds >= 1, got {heartbeat_interval!r}"
        )
    grace = grace_period if grace_period is not None else 3 * heartbeat_interval
    if grace <= heartbeat_interval:
        raise ValueError(
            f"grace_period ({grace}) must exceed heartbeat_interval ({heartbeat_interval})"
        )
    text = _with_postgres_driver(text)
    engine_kwargs: dict[str, Any] = {}
    if text.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    names = inspect.signature(RDBStorage.__init__).parameters
    callback_kw = (
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in names
        else "failed_trial_callback"
    )
    kwargs = {
        "engine_kwargs": engine_kwargs,
        "heartbeat_interval": heartbeat_interval,
        "grace_period": grace,
        callback_kw: _retry_callback(max_retry),
    }
    return _connect_rdb(text, kwargs)


def _with_postgres_driver(url: str) -> str:
    """``postgresql://`` with the driver that is installed (SQLAlchemy 2.1 defaults to
    psycopg 3; the ``postgres`` extra installs psycopg2)."""
    import importlib.util

    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            rest = url[len(plain) :]
            if importlib.util.find_spec("psycopg") is not None:
                return "postgresql+psycopg://" + rest
            if importlib.util.find_spec("psycopg2") is not None:
                return "postgresql+psycopg2://" + rest
            raise ImportError(
                "a PostgreSQL storage needs a driver: pip install 'hybridfer[postgres]' "
                "(psycopg2-binary)"
            )
    return url


def _connect_rdb(url: str, kwargs: dict, attempts: int = 6) -> RDBStorage:
    """RDBStorage, retried: workers that start together race to create the tables."""
    from sqlalchemy.exc import SQLAlchemyError

    rng = np.random.default_rng()
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return GuardedRDBStorage(url, **kwargs)
        except SQLAlchemyError as exc:
            if attempt == attempts - 1:
                raise
            _log.info("storage not ready (%s); retrying", type(exc).__name__)
            time.sleep(0.3 + rng.random())
    raise AssertionError("unreachable")  # pragma: no cover


def _journal(path: str) -> BaseStorage:
    from optuna.storages.journal import JournalFileBackend

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return _journal_storage_class()(JournalFileBackend(os.fspath(path)))


def _heartbeat_interval(storage: BaseStorage) -> int | None:
    getter = getattr(storage, "get_heartbeat_interval", None)
    return getter() if getter is not None else None


class TrialSeededSampler(BaseSampler):
    """A sampler reseeded per trial number: reproducible alone, distinct across workers.

    Workers that share a study must not draw the same parameters, yet one worker with a seed
    should repeat itself. Each trial gets a fresh inner sampler seeded with
    ``seed + trial.number``; trial numbers are unique in a study, and the inner samplers
    (TPE, random) keep no state but their random generator, so nothing else changes.

    Parameters
    ----------
    factory : callable
        ``factory(seed) -> BaseSampler``.
    seed : int or None
        Base seed (None: fresh entropy for every trial).
    """

    def __init__(self, factory: Callable[[int | None], BaseSampler], seed: int | None) -> None:
        self.factory = factory
        self.seed = seed
        self._inner: dict[int, BaseSampler] = {}

    def _for(self, trial: FrozenTrial) -> BaseSampler:
        sampler = self._inner.get(trial.number)
        if sampler is None:
            seed = None if self.seed is None else (self.seed + trial.number) % (2**32)
            sampler = self._inner[trial.number] = self.factory(seed)
        return sampler

    def infer_relative_search_space(self, study, trial):  # noqa: D102
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):  # noqa: D102
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):  # noqa: D102
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):  # noqa: D102
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study, trial, state, values):  # noqa: D102
        sampler = self._for(trial)
        try:
            sampler.after_trial(study, trial, state, values)
        finally:
            self._inner.pop(trial.number, None)

    def reseed_rng(self) -> None:  # noqa: D102
        self.seed = None


def make_sampler(sampler: str | BaseSampler = "tpe", seed: int | None = 0) -> BaseSampler:
    """``"tpe"`` (multivariate, conditional-aware, constant liar for parallel workers) or
    ``"random"``, reseeded per trial (:class:`TrialSeededSampler`); or a sampler as given."""
    if isinstance(sampler, BaseSampler):
        return sampler
    if sampler == "tpe":

        def factory(s):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.TPESampler(
                    seed=s, multivariate=True, group=True, constant_liar=True, n_startup_trials=5
                )
    elif sampler == "random":

        def factory(s):
            return optuna.samplers.RandomSampler(seed=s)
    else:
        raise ValueError(
            f"sampler must be one of {list(SAMPLERS)} or an Optuna sampler, got {sampler!r}"
        )
    return TrialSeededSampler(factory, seed)


def make_pruner(
    pruner: str | optuna.pruners.BasePruner | None = "median",
    n_folds: int = 5,
    n_startup_trials: int = 5,
) -> optuna.pruners.BasePruner:
    """A fold-aware pruner: steps are folds, values the running mean score.

    ``"median"``: stop a trial whose running mean after a fold is below the median of earlier
    trials at that fold (after ``n_startup_trials`` trials). ``"hyperband"``: Hyperband with
    folds as the resource (1 to ``n_folds``). ``"none"``/None: never prune.
    """
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=0)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max(n_folds, 1), reduction_factor=3
        )
    raise ValueError(f"pruner must be one of {list(PRUNERS)} or an Optuna pruner, got {pruner!r}")


def study_counts(study: optuna.Study) -> dict[str, int]:
    """Number of trials per state (lowercase names), plus ``finished`` = complete + pruned."""
    counts = {s.name.lower(): 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] += 1
    counts["finished"] = counts["complete"] + counts["pruned"]
    return counts


def _enqueue(study: optuna.Study, tickets: Sequence[Mapping[str, Any]], start: int) -> None:
    for i, params in enumerate(tickets):
        study.enqueue_trial(dict(params), user_attrs={"ticket": start + i})


def open_study(
    storage: BaseStorage,
    study_name: str | None,
    *,
    spec: Mapping[str, Any],
    tickets: Sequence[Mapping[str, Any]],
    sampler: BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    resume: bool = True,
    wait: float = 120.0,
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
        Fixed parameters of each trial to queue (``{}``: all sampled). Queued only by the
        worker that creates the study.
    resume : bool, default=True
        Join an existing study; False makes an existing study an error.
    wait : float
        Seconds to wait for the creating worker to finish queueing the tickets.
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
            _enqueue(study, tickets, 0)
            study.set_user_attr(STUDY_ATTR, spec)
    if study is None:
        if not resume:
            raise StudyMismatchError(
                f"study {study_name!r} already exists in this storage; resume it (the "
                "default, or --resume) or pick another study name"
            ) from None
        study = optuna.load_study(
            study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
        )
        deadline = time.monotonic() + wait
        while STUDY_ATTR not in study.user_attrs:
            if time.monotonic() > deadline:
                raise StudyMismatchError(
                    f"study {study_name!r} exists but was never set up by hybridfer (its "
                    "creator may have died while queueing trials); delete it or use another "
                    "name"
                ) from None
            time.sleep(0.5)
        _check_spec(study, spec)
    return study


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


def add_trials(study: optuna.Study, n: int, tickets: Sequence[Mapping] | None = None) -> int:
    """Queue ``n`` more trials (run by this or any worker); returns the new budget.

    Call it from one place at a time (it updates the stored budget).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    with critical_section():
        spec = dict(study.user_attrs.get(STUDY_ATTR, {}))
        total = int(spec.get("n_trials", 0))
        _enqueue(study, tickets if tickets is not None else [{}] * n, total)
        spec["n_trials"] = total + n
        study.set_user_attr(STUDY_ATTR, spec)
    return total + n


_HEARTBEAT_JOIN_S = 10.0


@contextlib.contextmanager
def _heartbeat(storage: BaseStorage, trial_id: int) -> Iterator[None]:
    interval = _heartbeat_interval(storage)
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                storage.record_heartbeat(trial_id)
            except Exception as exc:  # a dropped connection must not kill the trial
                _log.warning("heartbeat of trial id %s failed: %s", trial_id, exc)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    try:
        with critical_section():
            storage.record_heartbeat(trial_id)
            thread.start()
        yield
    finally:
        stop.set()
        if thread.is_alive():
            # bounded: a heartbeat stuck on the database must not keep the worker alive
            thread.join(timeout=_HEARTBEAT_JOIN_S)
            if thread.is_alive():
                _log.warning("heartbeat of trial id %s did not stop; leaving it", trial_id)


def _claim_ticket(storage: BaseStorage, study_id: int) -> int | None:
    """Atomically move one waiting trial to RUNNING; its id, or None if none is waiting."""
    for t in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                return t._trial_id
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def _fail_and_requeue(
    study: optuna.Study, storage: BaseStorage, trial_id: int, max_retry: int | None
) -> None:
    with critical_section():
        try:
            failed = storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # finished meanwhile (another worker found it stale and queued it again)
        if failed:
            _retry_callback(max_retry)(study, storage.get_trial(trial_id))


class WorkerReport(NamedTuple):
    """What one worker did: trials it ran, by final state, and whether the budget is spent."""

    complete: int
    pruned: int
    failed: int
    study_done: bool


def _remaining(study: optuna.Study) -> tuple[int, int]:
    waiting = running = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)):
        if t.state == TrialState.WAITING:
            waiting += 1
        else:
            running += 1
    return waiting, running


def run_worker(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    *,
    storage: BaseStorage,
    timeout: float | None = None,
    max_trials: int | None = None,
    progress: bool = False,
    max_retry: int | None = 3,
    reclaim_running: bool = False,
    max_consecutive_failures: int = 3,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
) -> WorkerReport:
    """Run queued trials of ``study`` until none is left (or ``timeout``/``max_trials``).

    A trial whose objective raises is marked failed and the worker goes on, unless
    ``max_consecutive_failures`` trials in a row fail (a broken setup), which re-raises.
    Ctrl-C (KeyboardInterrupt) marks the running trial failed, queues a copy of it, and
    re-raises: completed trials stay in the storage and a rerun continues.

    While trials of other workers are still running, a worker with a heartbeat-enabled
    storage waits for them, taking over the trials of workers that died.

    Parameters
    ----------
    reclaim_running : bool, default=False
        Storages without heartbeat (journal file): first mark every trial left RUNNING as
        failed and queue a copy. Only safe when no other worker is running.
    """
    study_id = storage.get_study_id_from_name(study.study_name)
    heartbeat = _heartbeat_interval(storage)
    if reclaim_running:
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            _fail_and_requeue(study, storage, t._trial_id, max_retry)
    total = int(study.user_attrs.get(STUDY_ATTR, {}).get("n_trials", 0))
    start = time.monotonic()
    done = {TrialState.COMPLETE: 0, TrialState.PRUNED: 0, TrialState.FAIL: 0}
    consecutive_failures = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        waiting, running = _remaining(study)
        bar = tqdm(
            total=total,
            initial=total - waiting - running,
            desc=study.study_name,
            unit="trial",
            dynamic_ncols=True,
        )
    study_done = False
    clear_stop()
    try:
        with handle_interrupts():
            while True:
                if stop_requested():
                    raise KeyboardInterrupt
                if timeout is not None and time.monotonic() - start >= timeout:
                    break
                if max_trials is not None and sum(done.values()) >= max_trials:
                    break
                if heartbeat:
                    with critical_section(), warnings.catch_warnings():
                        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                        optuna.storages.fail_stale_trials(study)
                ran = _claim_and_run(study, storage, study_id, objective, max_retry)
                if ran is None:
                    with critical_section():
                        waiting, running = _remaining(study)
                    if waiting:
                        continue
                    if running and heartbeat:
                        time.sleep(min(2.0, heartbeat))
                        continue
                    study_done = not running
                    break
                trial_id, state = ran
                done[state] += 1
                consecutive_failures = consecutive_failures + 1 if state == TrialState.FAIL else 0
                frozen = storage.get_trial(trial_id)
                for cb in callbacks:
                    cb(study, frozen)
                if bar is not None:
                    with critical_section():
                        waiting, running = _remaining(study)
                        best = _best_value(study)
                    bar.n = total - waiting - running
                    if best is not None:
                        bar.set_postfix(best=f"{best:.4f}", refresh=False)
                    bar.refresh()
                if state == TrialState.FAIL and consecutive_failures >= max_consecutive_failures:
                    raise RuntimeError(
                        f"{consecutive_failures} trials failed in a row (last: trial "
                        f"{frozen.number}: {frozen.user_attrs.get('error', '?')}); stopping "
                        "this worker. Fix the configuration and rerun: completed trials are "
                        "kept."
                    )
    finally:
        clear_stop()
        if bar is not None:
            bar.close()
    return WorkerReport(
        done[TrialState.COMPLETE], done[TrialState.PRUNED], done[TrialState.FAIL], study_done
    )


def _best_value(study: optuna.Study) -> float | None:
    try:
        return study.best_value
    except ValueError:
        return None


def _claim_and_run(study, storage, study_id, objective, max_retry) -> tuple[int, TrialState] | None:
    """Claim a waiting trial and run it; ``(trial id, final state)``, or None if none waits.

    From the claim to the tell, any exception (a Ctrl-C included) fails the trial and queues
    a copy of it; the claim and the tell are critical sections, so that an interrupt lands
    either before the claim, inside the objective, or after the tell.
    """
    trial_id = None
    told = False
    try:
        with critical_section():
            trial_id = _claim_ticket(storage, study_id)
        if trial_id is None:
            return None
        with _heartbeat(storage, trial_id):
            with critical_section():
                trial = optuna.Trial(study, trial_id)
                trial.set_user_attr("worker", worker_id())
            try:
                value = objective(trial)
            except optuna.TrialPruned as exc:
                with critical_section():
                    study.tell(trial, state=TrialState.PRUNED)
                    told = True
                _log.info("trial %d pruned: %s", trial.number, exc)
                return trial_id, TrialState.PRUNED
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                if stop_requested():  # an interrupt that a library turned into its own error
                    raise KeyboardInterrupt from exc
                with critical_section():
                    trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
                    study.tell(trial, state=TrialState.FAIL)
                    told = True
                _log.warning("trial %d failed: %s: %s", trial.number, type(exc).__name__, exc)
                return trial_id, TrialState.FAIL
            with critical_section():
                if value is None or not math.isfinite(value):
                    trial.set_user_attr("error", f"objective returned {value!r}")
                    study.tell(trial, state=TrialState.FAIL)
                    told = True
                    return trial_id, TrialState.FAIL
                study.tell(trial, value)
                told = True
            return trial_id, TrialState.COMPLETE
    except BaseException:
        if trial_id is not None and not told:
            _fail_and_requeue(study, storage, trial_id, max_retry)
        raise


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
        The study's budget, shared by all workers (a rerun continues towards it).
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
