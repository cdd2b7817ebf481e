"""Ctrl-C for study workers: it stops the worker, but never inside a storage operation.

Python raises the ``KeyboardInterrupt`` of a signal at whatever bytecode the main thread is
running. Raised inside a storage call (SQLAlchemy between a write and its commit, Optuna's
cache, a journal file lock), it can leave a database transaction open or a lock held: the
next storage call of the same process (the one that marks the interrupted trial failed, or
the heartbeat thread) then waits on that lock, and with SQLite the process hangs for the
whole busy timeout. Raised between claiming a trial and running it, it leaves the trial
RUNNING for ever.

So storage operations run in a **critical section** (:func:`critical_section`, entered by
every method of the storages that ``make_storage`` makes, and
by the worker around each step that must not be cut in two). The handler
:func:`interrupt_handler` sets the stop flag; outside a critical section it raises
``KeyboardInterrupt`` at once (a trial's model fitting stops at once), inside one it defers
the interrupt to the end of the outermost section. A second signal while one is pending is
raised at once (the user insists). Only the main thread counts: signal handlers run there.

One more place must not be cut: a ctypes callback of a native library (XGBoost's data
iterator calls back into Python while it builds its matrix). An exception raised there is
"ignored" by ctypes and leaves the library's state corrupt; the process then aborts
("corrupted size vs. prev_size"). A signal that lands there is delivered again 50 ms later,
once the callback has returned.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

__all__ = [
    "clear_stop",
    "critical_section",
    "handle_interrupts",
    "interrupt_handler",
    "request_stop",
    "stop_requested",
]

_STOP = threading.Event()
_MAIN = threading.main_thread().ident
_depth = 0
_pending = False


def request_stop() -> None:
    """Ask running workers to stop: a trial in progress fails and is queued again.

    A ``KeyboardInterrupt`` raised by a signal can land where Python ignores it (inside a
    finalizer); the flag makes sure the worker still stops, at its next check.
    """
    _STOP.set()


def stop_requested() -> bool:
    """Whether :func:`request_stop` (or a signal) asked the workers to stop."""
    return _STOP.is_set()


def clear_stop() -> None:
    """Forget an earlier stop request (a worker calls it when it starts)."""
    global _pending
    _STOP.clear()
    _pending = False


class _CriticalSection:
    """Re-entrant; counts only in the main thread. See :func:`critical_section`."""

    __slots__ = ()

    def __enter__(self) -> None:
        global _depth
        if threading.get_ident() == _MAIN:
            _depth += 1

    def __exit__(self, exc_type, exc, tb) -> bool:
        global _depth, _pending
        if threading.get_ident() != _MAIN:
            return False
        _depth -= 1
        if _depth == 0 and _pending:
            _pending = False
            raise KeyboardInterrupt
        return False


_SECTION = _CriticalSection()


def critical_section() -> _CriticalSection:
    """A block that a Ctrl-C does not cut: an interrupt that arrives inside is raised when the
    outermost such block ends (after its last statement, so an assignment made inside is
    kept). Nesting is allowed."""
    return _SECTION


#: ctypes callbacks (function name, library) that an exception must not cross.
_NATIVE_CALLBACKS = (("_next_wrapper", "xgboost"), ("_reset_wrapper", "xgboost"))
_RETRY_S = 0.05


def _in_native_callback(frame) -> bool:
    """Whether ``frame`` runs inside (or below) a ctypes callback of a native library."""
    while frame is not None:
        code = frame.f_code
        if any(code.co_name == name and lib in code.co_filename for name, lib in _NATIVE_CALLBACKS):
            return True
        frame = frame.f_back
    return False


def _deliver_again(signum: int) -> None:
    if signal.getsignal(signum) is interrupt_handler:  # still ours: the run goes on
        os.kill(os.getpid(), signum)


def interrupt_handler(signum, frame) -> None:
    """Signal handler: set the stop flag; raise ``KeyboardInterrupt`` now, or at the end of
    the critical section the main thread is in (or, inside a native library's callback,
    after it returns)."""
    global _pending
    _STOP.set()
    if _in_native_callback(frame):
        retry = threading.Timer(_RETRY_S, _deliver_again, (signum,))
        retry.daemon = True
        retry.start()
        return
    if _depth > 0 and not _pending:
        _pending = True
        return
    _pending = False
    raise KeyboardInterrupt


@contextlib.contextmanager
def handle_interrupts() -> Iterator[None]:
    """Within the block, Ctrl-C goes through :func:`interrupt_handler`.

    Installed only in the main thread and only over Python's default SIGINT handler (a
    program that set its own, such as the ``hybridfer`` command, keeps it).
    """
    if (
        threading.get_ident() != _MAIN
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    signal.signal(signal.SIGINT, interrupt_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
