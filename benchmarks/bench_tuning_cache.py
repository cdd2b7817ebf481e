"""How much the feature cache saves an Optuna study: the same study with and without it.

The study of the issue: ``resnet50(weights=None, input_size=48)+hog`` x ``{wnxgb, svm}``,
20 trials, 5-fold CV on 3,000 FER2013 training images (a stratified subsample), metric
macro-F1, no pruning, so that both runs perform exactly the same 20 x 5 fits:

- **cached**: features go through the study's feature store and a fresh on-disk feature
  cache: each image is embedded once, then every trial and fold slices rows;
- **uncached**: every fold fits the whole ``Pipeline`` from images (what a plain
  ``cross_validate`` of the pipeline inside an Optuna objective does).

It prints the wall time of each, their ratio, the number of images each run embedded with
ResNet50 and described with HOG (counted by wrapping the transformers' compute functions),
and whether both runs reached the same trial values (they must: same seeds, same features).

The cache can only remove embedding time, so the speed-up is bounded by how much of the
uncached study embedding takes: the WNXGB space here is kept to small, column-subsampled
forests (10-40 rounds, depth 2-4, 20-50% of the 4,740 columns per tree) so that, on 2 CPU
cores, classifier fits do not dwarf the embeddings (100 rounds at depth 6 take ~80 s per fit
on these features); ``--trees`` raises the upper bound. The time spent embedding is printed.

    python benchmarks/bench_tuning_cache.py                      # the issue's study
    python benchmarks/bench_tuning_cache.py --n-images 600 --trials 4 --folds 3   # quick
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np
from _paths import fer2013_training_subsample  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Counter:
    """Counts the image rows that reach a transformer's compute function."""

    def __init__(self) -> None:
        self.rows = {"resnet50": 0, "hog": 0}
        self.seconds = {"resnet50": 0.0, "hog": 0.0}
        self._undo = []

    def wrap(self, cls, method: str, name: str) -> None:
        original = getattr(cls, method)
        counter = self

        def counted(self_, *a, **k):
            start = time.perf_counter()
            out = original(self_, *a, **k)
            counter.seconds[name] += time.perf_counter() - start
            counter.rows[name] += len(out)
            return out

        setattr(cls, method, counted)
        self._undo.append((cls, method, original))

    def restore(self) -> None:
        for cls, method, original in reversed(self._undo):
            setattr(cls, method, original)


def run(mode: str, X, y, args) -> dict:
    import optuna

    from hybridfer.extractors import ResNet50Features
    from hybridfer.handcrafted import HOGFeatures
    from hybridfer.tuning import study_counts, tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    counter = Counter()
    counter.wrap(ResNet50Features, "_compute_features", "resnet50")
    hog_method = "_compute_features" if hasattr(HOGFeatures, "_compute_features") else "transform"
    counter.wrap(HOGFeatures, hog_method, "hog")
    cache_dir = tempfile.mkdtemp(prefix="hybridfer-bench-cache-")
    params = {
        "resnet50": {
            "weights": None,
            "input_size": 48,
            "pooling": "avg",
            "random_state": 0,
            "device": args.device,
            "batch_size": 256,
        },
        "wnxgb": {"max_bin": 64, "n_jobs": args.n_jobs},
    }
    space = {
        "hog": {"orientations": 9, "pixels_per_cell": [8, 8], "cells_per_block": [2, 2]},
        "wnxgb": {
            "n_estimators": {"low": 10, "high": args.trees, "log": True},
            "max_depth": {"low": 2, "high": 4},
            "colsample_bytree": {"low": 0.2, "high": 0.5},
        },
    }
    start = time.perf_counter()
    try:
        study, _ = tune(
            X,
            y,
            features=["resnet50+hog"],
            classifiers=["wnxgb", "svm"],
            params=params,
            space=space,
            cv=args.folds,
            n_trials=args.trials,
            pruner="none",
            sampler="tpe",
            cache=cache_dir if mode == "cached" else None,
            reuse_features=(mode == "cached"),
            refit=False,
            random_state=0,
            progress=args.progress,
        )
    finally:
        counter.restore()
        shutil.rmtree(cache_dir, ignore_errors=True)
    seconds = time.perf_counter() - start
    counts = study_counts(study)
    return {
        "mode": mode,
        "seconds": seconds,
        "embedded": dict(counter.rows),
        "embed_seconds": sum(counter.seconds.values()),
        "values": [t.value for t in study.trials],
        "pipelines": [t.user_attrs.get("pipeline") for t in study.trials],
        "complete": counts["complete"],
        "best": study.best_value,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="FER2013 folder (default: $HYBRIDFER_DATA/fer2013)")
    p.add_argument("--n-images", type=int, default=3000)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--trees", type=int, default=40, help="upper bound of wnxgb n_estimators")
    p.add_argument("--device", default="auto", help="torch device of the backbone")
    p.add_argument("--n-jobs", type=int, default=None, help="XGBoost threads")
    p.add_argument("--modes", default="cached,uncached")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    X, y = fer2013_training_subsample(args.n_images, args.data)
    print(
        f"FER2013 Training subsample: {len(X)} images {X.shape[1:]}; study: {args.trials} "
        f"trials x {args.folds} folds over resnet50(weights=None, input_size=48)+hog x "
        f"{{wnxgb, svm}}; torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}",
        flush=True,
    )
    results = {}
    for mode in args.modes.split(","):
        r = run(mode, X, y, args)
        results[mode] = r
        print(
            f"{mode:>9}: {r['seconds']:8.1f} s  trials complete {r['complete']}  "
            f"images embedded: resnet50 {r['embedded']['resnet50']}, hog "
            f"{r['embedded']['hog']} ({r['embed_seconds']:.1f} s embedding, "
            f"{r['seconds'] - r['embed_seconds']:.1f} s the rest)  best macro-F1 {r['best']:.4f}",
            flush=True,
        )
    if {"cached", "uncached"} <= results.keys():
        c, u = results["cached"], results["uncached"]
        same = np.allclose(c["values"], u["values"]) and c["pipelines"] == u["pipelines"]
        print(
            f"speed-up with the cache: {u['seconds'] / c['seconds']:.2f}x "
            f"(uncached {u['seconds']:.1f} s / cached {c['seconds']:.1f} s); "
            f"ResNet50 embeddings {u['embedded']['resnet50']} -> "
            f"{c['embedded']['resnet50']} "
            f"({u['embedded']['resnet50'] / max(c['embedded']['resnet50'], 1):.0f}x fewer); "
            f"same trial values in both runs: {same}"
        )


if __name__ == "__main__":
    main()
