"""Handcrafted baselines on the real data: HOG+LBP -> WNXGBClassifier and HOG -> LinearSVC.

FER2013: fit on Training, report on PublicTest (the honest official protocol).
CK+48: 10-fold subject-grouped stratified CV (no subject on both sides of a split).

    python benchmarks/handcrafted_baselines.py [--data ../shared/data] [--trees 300]

Prints accuracy and macro-F1 per dataset and pipeline, with fit/predict times.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline, make_union
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from hybridfer.classifiers import WNXGBClassifier
from hybridfer.data import load_ckplus48, load_fer2013, make_cv, usage_split
from hybridfer.evaluation import classification_report_frame, report_markdown
from hybridfer.handcrafted import HOGFeatures, LBPFeatures


def pipelines(trees: int, n_jobs: int) -> dict[str, Pipeline]:
    hog = HOGFeatures(orientations=9, pixels_per_cell=(6, 6), cells_per_block=(2, 2))
    lbp = LBPFeatures(P=8, R=1.0, method="uniform", grid=(6, 6))
    return {
        "hog+lbp -> wnxgb": Pipeline(
            [
                ("features", make_union(hog, lbp)),
                (
                    "clf",
                    WNXGBClassifier(
                        n_estimators=trees,
                        learning_rate=0.1,
                        max_depth=6,
                        colsample_bytree=0.5,
                        class_weight="balanced",
                        n_jobs=n_jobs,
                        random_state=0,
                    ),
                ),
            ]
        ),
        "hog -> linearsvc": Pipeline(
            [
                ("features", clone(hog)),
                ("scale", StandardScaler()),
                ("clf", LinearSVC(C=0.01, random_state=0)),
            ]
        ),
    }


def scores(y_true, y_pred) -> tuple[float, float]:
    return accuracy_score(y_true, y_pred), f1_score(y_true, y_pred, average="macro")


def run_fer2013(root: Path, trees: int, n_jobs: int) -> None:
    t = time.perf_counter()
    train, test = usage_split(load_fer2013(root / "fer2013"))
    print(
        f"FER2013 loaded: {len(train)} train, {len(test)} PublicTest "
        f"({time.perf_counter() - t:.1f} s)"
    )
    for name, pipe in pipelines(trees, n_jobs).items():
        t = time.perf_counter()
        pipe.fit(train.X, train.y)
        fit_s = time.perf_counter() - t
        pred = pipe.predict(test.X)
        acc, f1 = scores(test.y, pred)
        print(
            f"FER2013 Training->PublicTest | {name:18s} | acc {acc:.4f} | macro-F1 {f1:.4f} "
            f"| fit {fit_s:.0f} s"
        )
        print(report_markdown(classification_report_frame(test.y, pred, labels=test.classes)))


def run_ckplus(root: Path, trees: int, n_jobs: int) -> None:
    ds = load_ckplus48(root / "ckplus48")
    cv = make_cv(10, groups=ds.groups, random_state=0)
    for name, pipe in pipelines(trees, n_jobs).items():
        accs, f1s = [], []
        t = time.perf_counter()
        for tr, te in cv.split(ds.X, ds.y, ds.groups):
            model = clone(pipe).fit(ds.X[tr], ds.y[tr])
            acc, f1 = scores(ds.y[te], model.predict(ds.X[te]))
            accs.append(acc)
            f1s.append(f1)
        print(
            f"CK+48 10-fold subject-grouped | {name:18s} | acc {np.mean(accs):.4f} "
            f"+- {np.std(accs):.4f} | macro-F1 {np.mean(f1s):.4f} +- {np.std(f1s):.4f} "
            f"| {time.perf_counter() - t:.0f} s"
        )


def main() -> None:
    default = str(data_root())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default, help="folder holding fer2013/ and ckplus48/")
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", choices=["fer2013", "ckplus"], default=None)
    args = parser.parse_args()
    root = Path(args.data)
    if args.only in (None, "ckplus"):
        run_ckplus(root, args.trees, args.n_jobs)
    if args.only in (None, "fer2013"):
        run_fer2013(root, args.trees, args.n_jobs)


if __name__ == "__main__":
    main()
