"""A Ctrl-C never lands inside a storage operation: it is deferred to the end of the
critical section, so no transaction or lock is left behind and no trial stays RUNNING."""

from __future__ import annotations

import signal
import time

import optuna
import pytest
from optuna.trial import TrialState

from hybridfer.tuning import interrupts
from hybridfer.tuning.interrupts import critical_section, interrupt_handler, stop_requested
from hybridfer.tuning.storage import GuardedRDBStorage, _guard, make_storage
from hybridfer.tuning.study import open_study, run_worker, study_counts

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _signal() -> None:
    """What Python does when SIGINT arrives: run the handler in the main thread, here."""
    interrupt_handler(signal.SIGINT, None)


@pytest.fixture(autouse=True)
def _no_stop_left():
    interrupts.clear_stop()
    yield
    interrupts.clear_stop()


def test_interrupt_outside_a_section_is_raised_at_once():
    with pytest.raises(KeyboardInterrupt):
        _signal()
    assert stop_requested()


def test_interrupt_inside_a_section_is_raised_at_its_end():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with critical_section():
            with critical_section():
                _signal()
                done.append("inner")
            done.append("outer")  # still inside the outer section
    assert done == ["inner", "outer"]
    with critical_section():  # nothing pending any more
        pass


def test_a_second_interrupt_is_raised_at_once():
    with pytest.raises(KeyboardInterrupt), critical_section():
        _signal()
        _signal()
        pytest.fail("not reached")


def _storage_interrupted_in(method: str, when=lambda *args: True):
    """A SQLite-free storage whose ``method`` receives a Ctrl-C half-way through."""
    base = optuna.storages.InMemoryStorage

    class Interrupted(base):
        fired = False

    def interrupted(self, *args, **kwargs):
        if not type(self).fired and when(*args, **kwargs):
            type(self).fired = True
            _signal()  # the signal arrives inside the storage call...
        return getattr(base, method)(self, *args, **kwargs)  # ...which still completes

    setattr(Interrupted, method, interrupted)
    return _guard(Interrupted)()


def _objective(trial):
    x = trial.suggest_float("x", 0, 1)
    for step in range(3):
        trial.report(x, step)
    return x


def test_interrupt_in_a_storage_write_of_the_objective_fails_and_requeues_the_trial():
    storage = _storage_interrupted_in("set_trial_intermediate_value")
    study = open_study(storage, "s", spec={"kind": "test"}, tickets=[{}] * 3)
    with pytest.raises(KeyboardInterrupt):
        run_worker(study, _objective, storage=storage)
    (failed,) = study.get_trials(states=(TrialState.FAIL,))
    assert failed.intermediate_values == {0: failed.params["x"]}  # the write went through
    counts = study_counts(study)
    assert counts["running"] == 0 and counts["waiting"] == 3  # a copy is queued
    assert run_worker(study, _objective, storage=storage).study_done


def test_interrupt_while_claiming_leaves_no_trial_running():
    storage = _storage_interrupted_in(
        "set_trial_state_values", when=lambda trial_id, state, values=None: state.is_finished()
    )
    study = open_study(storage, "s", spec={"kind": "test"}, tickets=[{}] * 3)
    with pytest.raises(KeyboardInterrupt):  # lands in the tell of the first trial
        run_worker(study, _objective, storage=storage)
    counts = study_counts(study)
    assert counts["complete"] == 1 and counts["running"] == 0 and counts["waiting"] == 2
    storage = _storage_interrupted_in(
        "set_trial_state_values", when=lambda trial_id, state, values=None: not state.is_finished()
    )
    study = open_study(storage, "c", spec={"kind": "test"}, tickets=[{}] * 3)
    with pytest.raises(KeyboardInterrupt):  # lands in the claim of the first trial
        run_worker(study, _objective, storage=storage)
    counts = study_counts(study)
    assert counts["fail"] == 1 and counts["running"] == 0 and counts["waiting"] == 3


def test_sqlite_storage_is_usable_after_an_interrupted_write(tmp_path):
    storage = make_storage(tmp_path / "s.db", heartbeat_interval=1, grace_period=3)
    assert isinstance(storage, GuardedRDBStorage)
    study = open_study(storage, "s", spec={"kind": "test"}, tickets=[{}] * 2)

    def objective(trial):
        trial.report(0.5, 0)
        if trial.number == 0:
            with critical_section():  # as inside a storage call
                _signal()
                trial.report(0.6, 1)
        return 1.0

    with pytest.raises(KeyboardInterrupt):
        run_worker(study, objective, storage=storage)
    other = make_storage(tmp_path / "s.db")  # another process: nothing is locked
    counts = study_counts(optuna.load_study(study_name="s", storage=other))
    assert counts["fail"] == 1 and counts["running"] == 0 and counts["waiting"] == 2


def _native_callback_frame():
    """A frame that looks like XGBoost's ctypes data-iterator callback (its name and file)."""
    namespace: dict = {}
    code = compile(
        "import sys\ndef _next_wrapper(this=None):\n    return sys._getframe()\n",
        "/site-packages/xgboost/core.py",
        "exec",
    )
    exec(code, namespace)
    return namespace["_next_wrapper"]()


def test_interrupt_inside_a_native_callback_is_delivered_again_after_it(monkeypatch):
    # raised inside a ctypes callback, the exception is "ignored" by ctypes and XGBoost's
    # state is left corrupt (the process aborted); the signal is sent again instead
    sent = []
    monkeypatch.setattr(interrupts.os, "kill", lambda pid, sig: sent.append(sig))
    previous = signal.signal(signal.SIGINT, interrupt_handler)
    try:
        interrupt_handler(signal.SIGINT, _native_callback_frame())  # does not raise
        assert stop_requested()
        deadline = time.monotonic() + 5
        while not sent and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sent == [signal.SIGINT]
        # no retry once the handler is gone (the run ended)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sent.clear()
        interrupt_handler(signal.SIGINT, _native_callback_frame())
        time.sleep(4 * interrupts._RETRY_S)
        assert sent == []
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_cli_called_in_process_gives_the_signal_handlers_back(capsys):
    # main() installs interrupt_handler for SIGINT and SIGTERM while it runs; a notebook or a
    # test that calls it must get its own handlers back (left installed, a later Ctrl-C in
    # the same process was handled as a study worker's)
    from hybridfer.cli import main

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert main(["recipes"]) == 0
    assert main(["tune", "no-such-config.yaml"]) == 2  # an error path too
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    capsys.readouterr()
