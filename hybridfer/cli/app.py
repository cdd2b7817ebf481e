"""``hybridfer``'s entry point: the table of commands, the error mapping and the signals.

:data:`COMMANDS` lists every verb; :func:`main` parses a command line, runs the verb's
command with SIGINT and SIGTERM routed to :func:`hybridfer.tuning.interrupts.interrupt_handler`
(given back when it returns), and turns a user error into one line on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence

from hybridfer._messages import one_line
from hybridfer.cli.base import Command, InputError
from hybridfer.cli.datasets import Datasets
from hybridfer.cli.demo import Demo
from hybridfer.cli.evaluate import Evaluate, Extract
from hybridfer.cli.models import Models
from hybridfer.cli.parser import UsageError, build_parser
from hybridfer.cli.predict import Predict
from hybridfer.cli.recipes import Components, Recipes, Reproduce
from hybridfer.cli.study import Ablate, Studies, Tune

__all__ = ["COMMANDS", "main"]

#: Every verb of the command, in the order ``hybridfer --help`` lists them.
COMMANDS: tuple[Command, ...] = (
    Tune(),
    Ablate(),
    Evaluate(),
    Extract(),
    Demo(),
    Studies(),
    Predict(),
    Models(),
    Components(),
    Recipes(),
    Reproduce(),
    Datasets(),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hybridfer`` console script; returns the exit status."""
    try:
        args = build_parser(COMMANDS).parse_args(argv)
    except UsageError as exc:
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
    import optuna

    optuna.logging.set_verbosity(optuna.logging.INFO if args.verbose else optuna.logging.WARNING)
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
        return _run(args)
    finally:
        with _suppress_signal_errors():
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _user_errors() -> tuple[type[BaseException], ...]:
    """The errors of a user's input (flags, config, paths, data, storage, pipeline file):
    one line on stderr, exit status 2."""
    from hybridfer.models import ModelError
    from hybridfer.predict import PipelineFileError, PredictInputError
    from hybridfer.recipes import RecipeError
    from hybridfer.tuning.config import ConfigError
    from hybridfer.tuning.registry import ComponentError
    from hybridfer.tuning.spaces import SpaceError
    from hybridfer.tuning.storage import StorageError
    from hybridfer.tuning.study import StudyMismatchError

    return (
        ConfigError,
        ComponentError,
        SpaceError,
        StudyMismatchError,
        StorageError,
        InputError,
        RecipeError,
        PipelineFileError,
        PredictInputError,
        ModelError,
    )


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; user errors become one line and exit status 2."""
    from hybridfer.predict import AllImagesFailedError
    from hybridfer.tuning.study import TrialsFailedError

    failed = (TrialsFailedError, AllImagesFailedError)  # exit status 1
    command: Command = args.handler
    try:
        command(args)
    except (*_user_errors(), *failed) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"hybridfer {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 1 if isinstance(exc, failed) else 2
    except KeyboardInterrupt:
        print(f"\nhybridfer {args.command}: {command.interrupted}", file=sys.stderr)
        return 130
    return 0


class _suppress_signal_errors:
    """signal.signal fails outside the main thread (e.g. main() called from a thread)."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is ValueError
