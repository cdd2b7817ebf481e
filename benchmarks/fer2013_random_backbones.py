"""Floors: FER2013 Training -> PublicTest accuracy of *randomly initialised* backbones + a classifier.

Runs ``Pipeline([ResNet50Features(weights=None, input_size=48), classifier])`` and the
MobileNetV3-Large equivalent on the official split (28,709 training images, 3,589
PublicTest). Random weights are what this machine can use (no download of pretrained
weights here): the numbers are floors for what pretrained weights must beat, not targets.

Features are read from file paths and go through the feature cache (``--cache-dir``), in
chunks of ``--chunk`` images, so an interrupted run resumes where it stopped and the
pipeline's own transforms read every feature back from the cache.

Usage::

    python benchmarks/fer2013_random_backbones.py [DATA] [--classifier wnxgb|logreg]
        [--n-estimators 300] [--backbones resnet50 mobilenetv3_large] [--threads 1]

DATA is the folder holding ``fer2013/`` (default: $HYBRIDFER_DATA, else ../shared/data).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from hybridfer.cache import FeatureCache, default_cache_dir
from hybridfer.data import load_fer2013
from hybridfer.extractors import MobileNetV3Features, ResNet50Features


def make_classifier(name: str, n_estimators: int, threads: int):
    if name == "wnxgb":
        from hybridfer.classifiers.wnxgb import WNXGBClassifier

        return WNXGBClassifier(n_estimators=n_estimators, n_jobs=threads, random_state=0)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=None)
    parser.add_argument("--classifier", choices=["wnxgb", "logreg"], default="wnxgb")
    parser.add_argument("--n-estimators", type=int, default=300)
    parser.add_argument(
        "--backbones", nargs="+", default=["resnet50", "mobilenetv3_large"],
        choices=["resnet50", "mobilenetv3_large"],
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--cache-dir", default=None, help="default: $HYBRIDFER_CACHE or ~/.cache")
    parser.add_argument("--extract-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cache = FeatureCache(args.cache_dir or default_cache_dir())

    ds = load_fer2013(data_root(args.data) / "fer2013", lazy=True)
    train, test = ds.split("Training"), ds.split("PublicTest")
    print(f"FER2013: {len(train)} Training, {len(test)} PublicTest; cache {cache.root}")
    common = {"weights": None, "input_size": 48, "random_state": 0, "cache": cache}
    makers = {
        "resnet50": lambda: ResNet50Features(**common),
        "mobilenetv3_large": lambda: MobileNetV3Features("large", **common),
    }
    for name in args.backbones:
        ext = makers[name]()
        ext.fit(list(train.paths[:1]))
        paths = [*train.paths, *test.paths]
        start = time.perf_counter()
        for i in range(0, len(paths), args.chunk):
            ext.transform(paths[i : i + args.chunk])
            done = min(i + args.chunk, len(paths))
            print(f"  {name}: {done}/{len(paths)} images ({time.perf_counter() - start:.0f} s)")
        if args.extract_only:
            continue
        model = Pipeline(
            [("features", makers[name]()), ("clf", make_classifier(args.classifier, args.n_estimators, args.threads))]
        )  # fmt: skip
        start = time.perf_counter()
        model.fit(list(train.paths), train.labels)
        t_fit = time.perf_counter() - start
        pred = model.predict(list(test.paths))
        acc = accuracy_score(test.labels, pred)
        f1 = f1_score(test.labels, pred, average="macro")
        clf = (
            "WNXGBClassifier" if args.classifier == "wnxgb" else "StandardScaler+LogisticRegression"
        )
        extra = f"(n_estimators={args.n_estimators})" if args.classifier == "wnxgb" else "(C=0.1)"
        print(
            f"{name} (weights=None, input_size=48, {ext.n_features_out_} features) + {clf}"
            f"{extra}: PublicTest accuracy {acc:.4f}, macro-F1 {f1:.4f} "
            f"(pipeline fit {t_fit:.0f} s, features from cache)"
        )
        print(f"  majority-class accuracy for reference: {np.mean(test.labels == 'happy'):.4f}")


if __name__ == "__main__":
    main()
