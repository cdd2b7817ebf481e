"""The worker loop: claim a queued trial, run it, tell its result, until the target is met.

A study carries a **target**: how many trials must finish (complete or pruned; in an
ablation a failed pair counts too, since every pair is run once). It is stored with the
study (:data:`STUDY_ATTR`) and queued as **tickets**, Optuna trials waiting in the queue, so
that waiting + running + finished trials = target. Every worker, in any process or on any
machine pointed at the same storage and study name, takes one waiting ticket at a time
with Optuna's ``study.ask()`` (an atomic compare-and-set of its state, on a
:func:`~hybridfer.tuning.storage.tickets_only` view of the storage, so that ``ask()`` never
creates a trial beyond the tickets), runs it, and reports it with ``study.tell()``. A trial that fails is replaced
by a new ticket in the same step; a trial whose worker died (no heartbeat) or was
interrupted is failed and a copy of it is queued. So the workers together finish exactly the
target, never run a trial twice, and a rerun continues where the last run stopped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from hybridfer.tuning.interrupts import (
    clear_stop,
    critical_section,
    handle_interrupts,
    stop_requested,
)
from hybridfer.tuning.storage import (
    NoTicketError,
    heartbeat_interval,
    retry_callback,
    tickets_only,
)

__all__ = [
    "STUDY_ATTR",
    "TrialsFailedError",
    "WorkerReport",
    "run_worker",
    "study_counts",
    "study_target",
    "worker_id",
]

_log = logging.getLogger("hybridfer.tuning")

#: Study user attribute holding what the study was created for, with its target
#: (``n_trials``).
STUDY_ATTR = "hybridfer"

_HEARTBEAT_JOIN_S = 10.0


class TrialsFailedError(RuntimeError):
    """Trials keep failing (too many in a row, or every trial of a run): the setup is broken."""


def worker_id() -> str:
    """Who runs a trial (recorded as its ``worker`` user attribute): ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def study_counts(study: optuna.Study) -> dict[str, int]:
    """Number of trials per state (lowercase names), plus ``finished`` = complete + pruned."""
    counts = {s.name.lower(): 0 for s in TrialState}
    with critical_section():
        trials = study.get_trials(deepcopy=False)
    for t in trials:
        counts[t.state.name.lower()] += 1
    counts["finished"] = counts["complete"] + counts["pruned"]
    return counts


def study_target(study: optuna.Study) -> int:
    """The study's target number of finished trials (0 for a study hybridfer did not set up)."""
    with critical_section():
        return int(study.user_attrs.get(STUDY_ATTR, {}).get("n_trials", 0))


def _failures_count(spec: Mapping[str, Any]) -> bool:
    """Ablations run each pair once: a pair that fails is done (and reported missing)."""
    return spec.get("kind") == "ablation"


def _progress(study: optuna.Study) -> tuple[int, int, int, int]:
    """(done towards the target, running, waiting, target)."""
    with critical_section():
        spec = study.user_attrs.get(STUDY_ATTR, {})
        trials = study.get_trials(deepcopy=False)
    done = running = waiting = 0
    counts_failed = _failures_count(spec)
    for t in trials:
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            done += 1
        elif t.state == TrialState.RUNNING:
            running += 1
        elif t.state == TrialState.WAITING:
            waiting += 1
        elif counts_failed and "error" in t.user_attrs:
            done += 1
    return done, running, waiting, int(spec.get("n_trials", 0))


def enqueue_tickets(
    study: optuna.Study, tickets: Sequence[Mapping[str, Any]], **user_attrs: Any
) -> None:
    """Queue one trial per mapping of fixed parameters, numbered as tickets after the last."""
    with critical_section():
        numbers = [t.user_attrs.get("ticket", -1) for t in study.get_trials(deepcopy=False)]
        start = max(numbers, default=-1) + 1
        for i, params in enumerate(tickets):
            study.enqueue_trial(dict(params), user_attrs={"ticket": start + i, **user_attrs})


def top_up(study: optuna.Study, tickets: Sequence[Mapping[str, Any]] | None = None) -> int:
    """Queue tickets until waiting + running + done trials reach the target; how many."""
    with critical_section():
        done, running, waiting, target = _progress(study)
        needed = target - done - running - waiting
        if needed > 0:
            enqueue_tickets(study, list(tickets or [{}] * needed)[:needed])
    return max(needed, 0)


@contextlib.contextmanager
def _heartbeat(storage: BaseStorage, trial_id: int) -> Iterator[None]:
    interval = heartbeat_interval(storage)
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


def _claim_ticket(
    storage: BaseStorage, study_id: int, asking: optuna.Study | None = None
) -> tuple[optuna.Trial, int] | None:
    """Take one queued trial with ``asking.ask()`` (moved to RUNNING atomically):
    ``(trial, trial id)``, or None if none is waiting.

    ``asking`` is the study on a :func:`~hybridfer.tuning.storage.tickets_only` view of
    ``storage`` (default: the study ``study_id`` loaded on one).
    """
    with critical_section():
        if asking is None:
            asking = optuna.load_study(
                study_name=storage.get_study_name_from_id(study_id),
                storage=tickets_only(storage),
            )
        try:
            trial = asking.ask()
        except NoTicketError:
            return None
        return trial, storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)


def _fail_and_requeue(
    study: optuna.Study, storage: BaseStorage, trial_id: int, max_retry: int | None
) -> None:
    with critical_section():
        try:
            failed = storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # finished meanwhile (another worker found it stale and queued it again)
        if failed:
            retry_callback(max_retry)(study, storage.get_trial(trial_id))


class WorkerReport(NamedTuple):
    """What one worker did: trials it ran, by final state, and whether the target is met."""

    complete: int
    pruned: int
    failed: int
    study_done: bool


def _best_value(study: optuna.Study) -> float | None:
    try:
        with critical_section():
            return study.best_value
    except ValueError:
        return None


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
    """Run queued trials of ``study`` until its target is met (or ``timeout``/``max_trials``).

    A trial whose objective raises is marked failed (its error in the ``error`` user
    attribute), a new ticket takes its place, and the worker goes on, unless
    ``max_consecutive_failures`` trials in a row fail (a broken setup): then
    :class:`TrialsFailedError`. Ctrl-C (KeyboardInterrupt) marks the running trial failed,
    queues a copy of it, and re-raises: completed trials stay in the storage and a rerun
    continues. The interrupt never lands inside a storage operation
    (:mod:`hybridfer.tuning.interrupts`).

    While trials of other workers are still running, a worker with a heartbeat-enabled
    storage waits for them, taking over the trials of workers that died.

    Parameters
    ----------
    reclaim_running : bool, default=False
        Storages without heartbeat (journal file): first mark every trial left RUNNING as
        failed and queue a copy. Only safe when no other worker is running.
    """
    study_id = storage.get_study_id_from_name(study.study_name)
    heartbeat = heartbeat_interval(storage)
    if reclaim_running:
        with critical_section():
            left = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        for t in left:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            _fail_and_requeue(study, storage, trial_id, max_retry)
    # the study that asks for tickets: ask() takes a queued trial, never creates one
    with critical_section():
        asking = optuna.load_study(
            study_name=study.study_name,
            storage=tickets_only(storage),
            sampler=study.sampler,
            pruner=study.pruner,
        )
    start = time.monotonic()
    done = {TrialState.COMPLETE: 0, TrialState.PRUNED: 0, TrialState.FAIL: 0}
    consecutive_failures = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        finished, _, _, target = _progress(study)
        bar = tqdm(
            total=target, initial=finished, desc=study.study_name, unit="trial", dynamic_ncols=True
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
                finished, running, waiting, target = _progress(study)
                if finished >= target:
                    study_done = True
                    break
                if finished + running >= target or not waiting:
                    if running and heartbeat:  # wait for them; take over the dead ones'
                        time.sleep(min(2.0, heartbeat))
                        continue
                    if finished + running < target and top_up(study):
                        continue  # a ticket was lost (retries exhausted): queue another
                    break
                ran = _claim_and_run(asking, storage, study_id, objective, max_retry)
                if ran is None:
                    continue  # another worker took the last waiting ticket
                trial_id, state = ran
                done[state] += 1
                consecutive_failures = consecutive_failures + 1 if state == TrialState.FAIL else 0
                frozen = storage.get_trial(trial_id)
                for cb in callbacks:
                    cb(study, frozen)
                if bar is not None:
                    finished, _, _, target = _progress(study)
                    best = _best_value(study)
                    bar.total, bar.n = target, finished
                    if best is not None:
                        bar.set_postfix(best=f"{best:.4f}", refresh=False)
                    bar.refresh()
                if state == TrialState.FAIL and consecutive_failures >= max_consecutive_failures:
                    raise TrialsFailedError(
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


def _claim_and_run(study, storage, study_id, objective, max_retry) -> tuple[int, TrialState] | None:
    """Take a queued trial with ``study.ask()`` (``study`` asks on a
    :func:`~hybridfer.tuning.storage.tickets_only` view), run it and ``tell`` its result;
    ``(trial id, final state)``, or None if no trial is waiting.

    From the claim to the tell, any exception (a Ctrl-C included) fails the trial and queues
    a copy of it; the claim and the tell are critical sections, so that an interrupt lands
    either before the claim, inside the objective, or after the tell.
    """
    trial_id = None
    told = False
    try:
        with critical_section():  # an interrupt waits until trial_id is kept
            claimed = _claim_ticket(storage, study_id, study)
            if claimed is None:
                return None
            trial, trial_id = claimed
        with _heartbeat(storage, trial_id):
            with critical_section():
                trial.set_user_attr("worker", worker_id())
            try:
                value = objective(trial)
                error = None
                if value is None or not math.isfinite(value):
                    error = f"objective returned {value!r}"
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
                error = f"{type(exc).__name__}: {exc}"
            if error is not None:
                with critical_section():
                    trial.set_user_attr("error", error)
                    study.tell(trial, state=TrialState.FAIL)
                    told = True
                    if not _failures_count(study.user_attrs.get(STUDY_ATTR, {})):
                        _replace(study, storage.get_trial(trial_id))
                _log.warning("trial %d failed: %s", trial.number, error)
                return trial_id, TrialState.FAIL
            with critical_section():
                study.tell(trial, value)
                told = True
            return trial_id, TrialState.COMPLETE
    except BaseException:
        if trial_id is not None and not told:
            _fail_and_requeue(study, storage, trial_id, max_retry)
        raise


def _replace(study: optuna.Study, failed: FrozenTrial) -> None:
    """Queue the ticket that takes a failed trial's place (its parameters drawn anew)."""
    with critical_section():
        study.enqueue_trial(
            {}, user_attrs={"ticket": failed.user_attrs.get("ticket"), "replaces": failed.number}
        )
