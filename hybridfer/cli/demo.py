"""``hybridfer demo``: ablation, study and held-out report on synthetic faces, with the
configuration of :func:`hybridfer.tuning.workflows.demo_config`."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from hybridfer.cli.base import Command, echo
from hybridfer.cli.evaluate import run_evaluate
from hybridfer.cli.parser import count
from hybridfer.cli.study import run_ablate, run_tune

__all__ = ["Demo", "run_demo"]


def run_demo(
    workdir: str | os.PathLike = "hybridfer-work/demo",
    *,
    n_samples: int | None = None,
    n_trials: int | None = None,
    progress: bool = True,
) -> dict:
    """``hybridfer demo``: ablation, study and held-out report on synthetic faces.

    Returns ``{"ablation": AblationResult, "tune": summary dict, "evaluate": summary dict}``.
    """
    from hybridfer.tuning.workflows import RunSetup, demo_config

    workdir = Path(workdir).resolve()
    cfg = demo_config(workdir, n_samples=n_samples, n_trials=n_trials)
    start = time.perf_counter()
    echo(f"hybridfer demo: synthetic faces (hybridfer.data.make_faces), working folder {workdir}")
    data = RunSetup(cfg, workdir, log=echo).data()
    echo(
        "",
        "1/3 ablation: {hog, lbp, hog+lbp} x {wnxgb, svm} at fixed settings, "
        f"{cfg.cv.n_splits}-fold subject-grouped CV",
    )
    t0 = time.perf_counter()
    ablation = run_ablate(cfg, workdir=workdir, progress=progress, data=data)
    echo(f"(ablation: {time.perf_counter() - t0:.0f} s)", "")
    echo(f"2/3 study: {cfg.study.n_trials} trials over the same pairs with tuned settings")
    t0 = time.perf_counter()
    summary = run_tune(cfg, workdir=workdir, progress=progress, data=data)
    echo(f"(study: {time.perf_counter() - t0:.0f} s)", "")
    echo("3/3 the best pipeline, refitted on the training split, on the held-out test split")
    evaluation = run_evaluate(cfg, workdir=workdir, data=data)
    echo(
        "note: all synthetic faces are drawn from one template, so the audit's near-duplicate",
        "matches here are look-alikes, not copies; on real data it is what catches leakage",
        "(FER2013: 579 of the 3,589 PublicTest images have a copy in Training).",
        "",
    )
    echo(f"demo finished in {time.perf_counter() - start:.0f} s; everything is in {workdir}")
    return {"ablation": ablation, "tune": summary, "evaluate": evaluation}


class Demo(Command):
    name = "demo"
    help = "ablation + study + report on synthetic faces (< 3 min)"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workdir", default="hybridfer-work/demo", help="working folder")
        parser.add_argument("--n-samples", type=count, help="synthetic images (default 1000)")
        parser.add_argument("--n-trials", type=count, help="study trials (default 10)")
        parser.add_argument("--no-progress", dest="progress", action="store_false")

    def run(self, **options: Any) -> dict:
        return run_demo(**options)
