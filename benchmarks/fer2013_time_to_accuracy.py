"""Time to accuracy of FER network candidates on FER2013 Training -> PublicTest.

Each candidate (an architecture and its settings) trains on all 28,709 Training images for a
time budget (``--minutes``), with the schedule annealed over the budget, the recipe's
augmentation, label smoothing, softened class weights and an EMA of the weights; PublicTest is
scored after every epoch (the curve) and at the end with flip test-time augmentation. One JSON
line per candidate is appended to ``--out``; a table is printed at the end.

Usage::

    python benchmarks/fer2013_time_to_accuracy.py [--minutes 10] [--only NAME ...]
        [--data DIR] [--out fer2013_tta.jsonl]
    python benchmarks/fer2013_time_to_accuracy.py --table
    python benchmarks/fer2013_time_to_accuracy.py --from-run WORKDIR [WORKDIR ...]

``--table`` trains nothing: it measures each ladder rung's throughput on this machine
(:func:`hybridfer.recipes.ladder.measure_rung`, seconds) and prints the time-to-accuracy table
the ladder predicts from its measured points (:func:`~hybridfer.recipes.ladder.predict_accuracy`):
PublicTest (network + flip TTA) after 10/20/30/45/60 minutes of training, and the rung
:func:`~hybridfer.recipes.ladder.choose_rung` picks at each. Run it under
``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2`` for the AVX2 path.

``--from-run`` trains nothing either: it reads ``fer2013-cpu`` work folders (``network.joblib``'s
per-epoch history, ``report.json``) and prints what each run measured: PublicTest (single
view, the per-epoch score, which decides nothing) at the last epoch finished by 10/20/30/45/60
minutes of training, and the run's final network + flip TTA and saved-head scores. The
intermediate marks are points of one schedule annealed over the whole budget, not what a run
given that budget reaches (a shorter budget anneals sooner and scores higher at its end).

Measured (AMD EPYC, 2 cores, native bf16; one run each; network + flip TTA on PublicTest):

==========  ==========  =======  ======  ===================
rung        --minutes   epochs   acc     training acc
==========  ==========  =======  ======  ===================
vgg32@48    15          9        0.6133  0.635
vgg32@40    10          9        0.6055  0.622
vgg48@40    10          5        0.5801  0.577
==========  ==========  =======  ======  ===================

Measured by ``--from-run`` (PublicTest single view at each mark of one run's schedule, epoch in
brackets; final = network + flip TTA at the end of the annealed schedule):

============================  ===========  ===========  ===========  ===========  ===========  ======
run (2 cores)                 rung         10 min       20 min       30 min       45 min       final
============================  ===========  ===========  ===========  ===========  ===========  ======
EPYC, 110 min, native bf16    vgg48@48     0.5492 (3)   0.5868 (6)   0.6183 (9)   0.6411 (14)  0.6826
EPYC, 60 min, capped AVX2     vgg32@40     0.5589 (4)   0.6030 (9)   0.6272 (13)  0.6467 (20)  0.6447
EPYC, 60 min, native bf16     vgg32@40     0.5770 (8)   0.6325 (15)  0.6442 (25)  0.6682 (38)  0.6790
Xeon, 60 min, no bf16 (fp32)  vgg32@40     0.5731 (6)   0.6147 (12)  0.6378 (18)  0.6523 (26)  0.6604
Xeon, 60 min, no bf16 (fp32)  vgg48@40-48  0.5238 (3)   0.5247 (6)   0.5294 (10)  0.5706 (13)  0.6364
EPYC, 60 min, native bf16     sep48@48     0.5439 (9)   0.6016 (18)  0.6317 (29)  0.6436 (43)  0.6551
EPYC, 60 min, native bf16     vgg32@48     0.5932 (7)   0.6283 (15)  0.6481 (22)  0.6648 (33)  0.6754
EPYC, 60 min, native bf16     vgg32@40     0.5946 (10)  0.6486 (21)  0.6531 (33)  0.6668 (49)  0.6732
EPYC, v1, 52 min + heads      vgg48@48     0.5500 (3)   0.6138 (7)   0.6305 (10)  0.6411 (16)  0.6548
============================  ===========  ===========  ===========  ===========  ===========  ======

(vgg48@40-48 is scored at 48 px while it trains at 40: its marks before 45 minutes are low for
that reason. sep48@48 is vgg48@48 with depthwise-separable convolutions: more epochs than
vgg32@40 in the same time, less accuracy at every mark. The second vgg32@40 row on the native
EPYC is the same command as the first, another day: 59 epochs instead of 45, 0.58 points
apart. The version-1 row is the recipe before issue 18 (commit 686954a) on the same EPYC.)

vgg48@48 (the version-1 network) has the points of version 1's runs (ladder.RUNGS). The
predicted tables from ``--table`` on both paths, and the AVX2 recipe run that tested the
prediction, are in ``benchmarks/README.md`` ("The fer2013-cpu ladder").
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from hybridfer.data import load_fer2013, usage_split
from hybridfer.extractors import CNNFeatures
from hybridfer.images import read_images
from hybridfer.nn.devices import cpu_capability
from hybridfer.recipes.fer2013 import SAVED_HEAD, SETTINGS, _soft_class_weights
from hybridfer.recipes.ladder import (
    DEFAULT_RUNG,
    RUNGS,
    choose_rung,
    epoch_seconds,
    measure_rung,
    predict_accuracy,
    rung_settings,
)

BASE = {k: v for k, v in SETTINGS["cpu"].items() if k not in ("architecture_params",)}

CANDIDATES = {
    "vgg32": {"architecture": "fer_vgg", "architecture_params": {"widths": (32, 64, 128, 256)}},
    # the first fer2013-cpu settings: per-block dropout 0.1, erasing 0.25
    "vgg48": {
        "architecture": "fer_vgg",
        "architecture_params": {"widths": (48, 96, 192, 384)},
        "augment": "fer",
    },
    "vgg64": {"architecture": "fer_vgg", "architecture_params": {"widths": (64, 128, 256, 512)}},
    # less regularisation for short budgets: no per-block dropout, rarer erasing
    "vgg48_light": {
        "architecture": "fer_vgg",
        "architecture_params": {"widths": (48, 96, 192, 384), "block_dropout": 0.0},
        "augment": "fer_light",
    },
    "resnet32": {
        "architecture": "fer_resnet",
        "architecture_params": {"widths": (32, 64, 128, 256), "depths": (1, 1, 1, 1)},
    },
    "resnet48x2": {
        "architecture": "fer_resnet",
        "architecture_params": {"widths": (48, 96, 192, 384), "depths": (1, 2, 2, 1)},
    },
}
#: The ladder's rungs (hybridfer.recipes.ladder): the recipe's settings at each width and size.
CANDIDATES.update({r.name: rung_settings(SETTINGS["cpu"], r) for r in RUNGS})


def predicted_table(n_train: int = 28_709, n_eval: int = 3_589) -> None:
    """The ladder's predicted time-to-accuracy table on this machine (see the docstring)."""
    speeds = {r.name: measure_rung(SETTINGS["cpu"], r) for r in RUNGS}
    minutes = (10, 20, 30, 45, 60)
    print(
        "| rung | train img/s | s per epoch | "
        + " | ".join(f"{m} min: epochs, acc" for m in minutes)
        + " |\n|---|---|---|"
        + "---|" * len(minutes)
    )
    for r in RUNGS:
        train_ips, infer_ips, _ = speeds[r.name]
        epoch_s = epoch_seconds(n_train, n_eval, train_ips, infer_ips)
        cells = [
            f"{60 * m / epoch_s:.1f}, {predict_accuracy(r, 60 * m / epoch_s):.4f}" for m in minutes
        ]
        print(f"| {r.name} | {train_ips:.0f} | {epoch_s:.0f} | " + " | ".join(cells) + " |")
    picks = [
        choose_rung({k: v[:2] for k, v in speeds.items()}, 60 * m, n_train, n_eval).rung.name
        for m in minutes
    ]
    print("| chosen | | | " + " | ".join(picks) + " |")


MARKS_MIN = (10, 20, 30, 45, 60)


def run_table(workdirs: list[str]) -> None:
    """What ``fer2013-cpu`` runs measured (see the docstring), one row per work folder."""
    from pathlib import Path

    import joblib

    print(
        "| run | machine | rung | epochs | training min | "
        + " | ".join(f"{m} min" for m in MARKS_MIN)
        + " | final: network + flip TTA | saved head | wall min |\n|"
        + "---|" * (8 + len(MARKS_MIN))
    )
    for workdir in map(Path, workdirs):
        report = json.loads((workdir / "report.json").read_text())
        history = joblib.load(workdir / "network.joblib").history_
        ladder = workdir / "ladder.json"
        # version 1 of the recipe had no ladder: it trained DEFAULT_RUNG's network
        rung = json.loads(ladder.read_text())["rung"] if ladder.exists() else f"{DEFAULT_RUNG} (v1)"
        rows = {r["model"]: r for r in report["rows"]}
        saved = SAVED_HEAD
        cells = []
        for m in MARKS_MIN:
            done = [h for h in history if h["elapsed"] <= 60 * m + 1e-6]
            cells.append(f"{done[-1]['val_accuracy']:.4f} ({done[-1]['epoch']})" if done else "-")
        print(
            f"| {workdir.name} | {report['machine'].split(';')[0]} | {rung} | {len(history)} | "
            f"{history[-1]['elapsed'] / 60:.1f} | "
            + " | ".join(cells)
            + f" | {rows['network + flip TTA']['PublicTest acc']:.4f} | {saved}: "
            f"{rows[saved]['PublicTest acc']:.4f} | {report['wall_time'] / 60:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--only", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default="fer2013_tta.jsonl")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--from-run", nargs="+", metavar="WORKDIR", default=None)
    args = parser.parse_args()
    if args.from_run:
        run_table(args.from_run)
        return
    print(f"# {cpu_capability()}", flush=True)
    if args.table:
        predicted_table()
        return
    train, test = usage_split(load_fer2013(data_root(args.data) / "fer2013", lazy=True))
    Xtr, ytr = np.stack(read_images(list(train.paths), "gray")), train.labels
    Xte, yte = np.stack(read_images(list(test.paths), "gray")), test.labels
    weights = _soft_class_weights(ytr, train.classes, 0.5)
    rows = []
    for name in args.only:
        est = CNNFeatures(
            **{**BASE, **CANDIDATES[name]},
            class_weight=weights,
            max_time=60 * args.minutes,
            random_state=0,
            tta="flip",
        )
        start = time.perf_counter()
        est.fit(Xtr, ytr, eval_set=(Xte, yte))
        took = time.perf_counter() - start
        pred = est.network_predict(Xte)
        acc = float(np.mean(pred == yte))
        row = {
            "candidate": name,
            "minutes": args.minutes,
            "params": est.n_parameters_,
            "epochs": est.n_epochs_,
            "fit_s": took,
            "train_acc": est.history_[-1]["accuracy"],
            "public_acc_tta": acc,
            "curve": [(h["elapsed"], h["val_accuracy"]) for h in est.history_],
        }
        rows.append(row)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(
            f"{name}: {est.n_epochs_} epochs in {took:.0f} s, train acc {row['train_acc']:.4f}, "
            f"PublicTest (flip TTA) {acc:.4f}",
            flush=True,
        )
    print("| candidate | params | epochs | PublicTest acc (flip TTA) |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['candidate']} | {r['params']:,} | {r['epochs']} | {r['public_acc_tta']:.4f} |")


if __name__ == "__main__":
    main()
