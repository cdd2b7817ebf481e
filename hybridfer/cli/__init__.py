"""The ``hybridfer`` command: tune, ablate, evaluate, extract, predict, studies, demo,
components, recipes, reproduce.

Every command but ``predict``, ``studies``, ``demo``, ``components``, ``recipes`` and
``reproduce`` reads a TOML configuration (see :mod:`hybridfer.tuning.config`); results go to
a working folder (``[output] workdir`` or ``--workdir``). Run ``hybridfer COMMAND --help`` for the options.

Exit status: 0 done; 2 a user error (bad flags, config, paths, data, storage, pipeline file,
folds that cannot be made), reported in one line on stderr that names the input (a
traceback only with ``--debug``); 1 trials that all failed, a ``predict`` whose images all
failed, or a bug; 130 interrupted.

The command parses, calls the library and prints: each verb is a
:class:`~hybridfer.cli.base.Command` (its arguments and a call of the workflow that does
the work: :mod:`hybridfer.tuning.workflows`, :mod:`hybridfer.predict`,
:mod:`hybridfer.recipes`), listed in :data:`hybridfer.cli.app.COMMANDS`.

Modules: :mod:`~hybridfer.cli.app` (the table of commands, :func:`main`, error mapping and
signals), :mod:`~hybridfer.cli.parser` (the parser and flag types),
:mod:`~hybridfer.cli.base` (the command base, :class:`InputError`), and one module per
group of verbs: :mod:`~hybridfer.cli.study` (tune, ablate, studies),
:mod:`~hybridfer.cli.evaluate` (evaluate, extract), :mod:`~hybridfer.cli.predict`,
:mod:`~hybridfer.cli.demo`, :mod:`~hybridfer.cli.recipes` (components, recipes, reproduce).
"""

from hybridfer.cli.app import main
from hybridfer.cli.base import InputError
from hybridfer.cli.demo import run_demo
from hybridfer.cli.evaluate import run_evaluate, run_extract
from hybridfer.cli.recipes import run_components, run_recipes, run_reproduce
from hybridfer.cli.study import run_ablate, run_studies, run_tune

__all__ = [
    "InputError",
    "main",
    "run_ablate",
    "run_components",
    "run_demo",
    "run_evaluate",
    "run_extract",
    "run_predict",
    "run_recipes",
    "run_reproduce",
    "run_studies",
    "run_tune",
]

_FROM_PREDICT = ("AllImagesFailedError", "run_predict")


def __getattr__(name: str) -> object:
    # hybridfer.predict's, re-exported here where they were; imported on first use
    if name in _FROM_PREDICT:
        import hybridfer.predict

        return getattr(hybridfer.predict, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
