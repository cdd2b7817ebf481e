"""``hybridfer tune``, ``ablate`` and ``studies``: the study verbs.

Each runs a workflow of :mod:`hybridfer.tuning.workflows`, prints what it did and saves the
result's report to the working folder.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hybridfer.cli.base import Command, ConfigCommand, InputError, echo
from hybridfer.cli.parser import config_arguments, count, seconds

__all__ = ["Ablate", "Studies", "Tune", "run_ablate", "run_studies", "run_tune"]


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
    """``hybridfer tune``: run (or join, or continue) the config's study
    (:func:`hybridfer.tuning.tune_config`); write the best pipeline and a summary
    (:meth:`~hybridfer.tuning.TuneResult.save`). Returns the summary dict.

    The study's target of finished trials is ``n_trials`` (else the config's) when it is
    created; ``n_trials`` sets it on an existing study and ``add_trials`` raises it (both
    >= 1, stored for later runs). Raises TrialsFailedError when every trial of this run
    failed."""
    from hybridfer.tuning.workflows import RunSetup, tune_config

    for flag, value in (("--n-trials", n_trials), ("--add-trials", add_trials)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise InputError(f"{flag} must be an integer >= 1, got {value!r}")
    setup = RunSetup(cfg, workdir, storage, study, data, log=echo)
    result = tune_config(
        setup,
        n_trials=n_trials,
        add_trials=add_trials,
        timeout=timeout,
        max_trials=max_trials,
        resume=resume,
        reclaim_running=reclaim_running,
        refit=refit,
        progress=progress,
        log=echo,
    )
    summary = {**result.summary(), "workdir": os.fspath(setup.workdir)}
    best = result.best_trial
    if best is None:
        echo("no completed trial yet: nothing to report")
        return summary
    echo(result.best_line(), "  params: " + json.dumps(best.params, default=str))
    paths = result.save(setup.workdir)
    if "best_pipeline" in paths:
        summary["best_pipeline_file"] = paths["best_pipeline"]
        echo(
            f"best pipeline refitted on all {result.n_samples} training images "
            f"({result.refit_seconds:.1f} s): {paths['best_pipeline']}"
        )
    echo(f"summary: {paths['summary_md']}")
    return summary


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
    """``hybridfer ablate``: every feature set x classifier on identical folds
    (:func:`hybridfer.tuning.ablate_config`); writes ``ablation.csv``, ``ablation.md``,
    ``ablation_folds.csv`` and ``ablation.png`` (:meth:`~hybridfer.tuning.AblationResult.save`).
    Returns the AblationResult."""
    from hybridfer.tuning.workflows import RunSetup, ablate_config

    setup = RunSetup(cfg, workdir, storage, None, data, log=echo)
    name = study or cfg.ablation.name or f"{cfg.study.name}-ablation"
    result = ablate_config(
        setup,
        name=name,
        max_trials=max_trials,
        resume=resume,
        progress=progress,
        test=test,
        log=echo,
    )
    n_pairs = len(cfg.ablation_features) * len(cfg.ablation_classifiers)
    if len(result.pairs) < n_pairs:
        echo(f"{len(result.pairs)} of {n_pairs} pairs done so far; rerun to continue")
    if not result.pairs:
        return result
    if result.baseline not in result.pairs:
        echo(f"the baseline {result.baseline} is not done yet; differences are left out")
    paths = result.save(setup.workdir, name)
    echo(
        "",
        result.to_markdown(),
        "",
        f"wrote {paths['table_csv']}, {paths['markdown']}, {paths['chart']}",
    )
    return result


def run_studies(storage: str, action: str = "list", name: str | None = None) -> list[dict]:
    """``hybridfer studies``: list the studies of a storage with their counts, or delete one.

    Returns the listed (or deleted) studies as dicts.
    """
    from hybridfer.tuning.storage import delete_study, list_studies, open_storage, redact_url
    from hybridfer.tuning.study import load_study_info

    store = open_storage(storage, what="--storage")
    where = redact_url(os.fspath(storage))
    if action == "delete":
        if not name:
            raise InputError("studies delete needs the NAME of the study to delete")
        names = [s.study_name for s in list_studies(store)]
        if name not in names:
            raise InputError(f"no study {name!r} in {where}; the studies there are {sorted(names)}")
        info = load_study_info(store, name)
        delete_study(store, name)
        echo(f"deleted study {name!r} ({info['trials']} trials) from {where}")
        return [info]
    rows = [load_study_info(store, s.study_name) for s in list_studies(store)]
    if not rows:
        echo(f"no study in {where}")
        return rows
    columns = ("name", "kind", "target", "complete", "pruned", "fail", "running", "waiting")
    header = ("study", *columns[1:])
    table = [header] + [tuple(str(r[k]) for k in columns) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    echo(
        *("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table)
    )
    return rows


class Tune(ConfigCommand):
    name = "tune"
    help = "run, join or resume an Optuna study over pipelines"

    def add_arguments(self, parser) -> None:
        config_arguments(parser)
        counts = parser.add_mutually_exclusive_group()
        counts.add_argument(
            "--n-trials",
            type=count,
            metavar="N",
            help="the study's target of finished trials, N >= 1 (default: the config's when "
            "the study is created, then the stored one); stored for later runs",
        )
        counts.add_argument(
            "--add-trials",
            type=count,
            metavar="K",
            help="raise the study's target by K >= 1 trials",
        )
        parser.add_argument(
            "--timeout", type=seconds, help="seconds after which this worker starts no new trial"
        )
        parser.add_argument(
            "--max-trials", type=count, metavar="K", help="run at most K trials in this worker"
        )
        g = parser.add_mutually_exclusive_group()
        g.add_argument(
            "--resume",
            dest="resume",
            action="store_true",
            default=True,
            help="continue the study if it exists (default)",
        )
        g.add_argument(
            "--no-resume",
            dest="resume",
            action="store_false",
            help="fail if the study already exists",
        )
        parser.add_argument(
            "--reclaim-running",
            action="store_true",
            help="journal storage: requeue trials left running by a crashed worker "
            "(only when no other worker runs)",
        )
        parser.add_argument(
            "--no-refit",
            dest="refit",
            action="store_false",
            help="do not refit and save the best pipeline",
        )
        parser.add_argument("--no-progress", dest="progress", action="store_false")

    def run(self, cfg, **options: Any) -> dict:
        return run_tune(cfg, **options)


class Ablate(ConfigCommand):
    name = "ablate"
    help = "feature sets x classifiers on identical folds"

    def add_arguments(self, parser) -> None:
        config_arguments(parser)
        parser.add_argument("--max-trials", type=count, metavar="K", help="run at most K pairs now")
        parser.add_argument(
            "--test",
            action="store_true",
            default=None,
            help="also fit each pair on the training split and score the test split",
        )
        parser.add_argument("--no-progress", dest="progress", action="store_false")

    def run(self, cfg, **options: Any):
        return run_ablate(cfg, **options)


class Studies(Command):
    name = "studies"
    help = "list the studies of a storage with their counts, or delete one"
    description = (
        "hybridfer studies --storage URL: list the studies; hybridfer studies "
        "delete NAME --storage URL: delete one with all its trials."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", nargs="?", choices=("list", "delete"), default="list")
        parser.add_argument("name", nargs="?", help="the study to delete")
        parser.add_argument(
            "--storage",
            required=True,
            help="SQLite file, journal file (*.log) or URL such as postgresql://user@127.0.0.1/db",
        )

    def run(self, **options: Any) -> list[dict]:
        return run_studies(**options)
