"""WNXGBClassifier variants on a medium synthetic problem: fit time, accuracy, macro-F1.

make_classification with 5,000 samples, 200 features (40 informative) and 7 classes in
FER2013's Training proportions; 80/20 stratified split. Each "weight normalization" reading
(plain, paper preset, balanced class weights, normalized gradient, l2 features) is timed
against xgboost's own ``XGBClassifier`` with the same boosting parameters, fitted in the same
process (the library reference; fit-time ratios are relative to it). CPU seconds are printed
beside wall seconds because wall time is noisy on a shared machine.

    python benchmarks/wnxgb_variants.py [--trees 300] [--n-jobs 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier

from hybridfer.classifiers import WNXGBClassifier

# FER2013 Training counts: angry, disgust, fear, happy, neutral, sad, surprise
FER2013_COUNTS = np.array([3995, 436, 4097, 7215, 4965, 4830, 3171])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-samples", type=int, default=5000)
    args = parser.parse_args()

    X, y = make_classification(
        args.n_samples,
        200,
        n_informative=40,
        n_redundant=20,
        n_classes=7,
        n_clusters_per_class=2,
        weights=(FER2013_COUNTS / FER2013_COUNTS.sum()).tolist(),
        class_sep=1.0,
        flip_y=0.02,
        random_state=0,
    )
    X = X.astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    common = {"n_estimators": args.trees, "n_jobs": args.n_jobs, "random_state": 0}
    models = {
        "xgboost.XGBClassifier (reference)": XGBClassifier(
            tree_method="hist", learning_rate=0.1, max_depth=6, device=args.device, **common
        ),
        "plain": WNXGBClassifier(device=args.device, **common),
        "preset=paper": WNXGBClassifier(preset="paper", device=args.device, **common),
        "class_weight=balanced": WNXGBClassifier(
            class_weight="balanced", device=args.device, **common
        ),
        "normalized_gradient": WNXGBClassifier(
            normalized_gradient=True, device=args.device, **common
        ),
        "feature_norm=l2": WNXGBClassifier(feature_norm="l2", device=args.device, **common),
    }
    print(
        f"n_train={len(y_train)} n_test={len(y_test)} d={X.shape[1]} classes=7 "
        f"trees={args.trees} n_jobs={args.n_jobs} device={args.device}"
    )
    print(
        f"{'model':36s} {'wall s':>7s} {'ratio':>6s} {'cpu s':>7s} {'ratio':>6s} "
        f"{'acc':>6s} {'macroF1':>8s}"
    )
    reference = None
    for name, model in models.items():
        start, start_cpu = time.perf_counter(), time.process_time()
        model.fit(X_train, y_train)
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        reference = reference or (wall, cpu)
        pred = model.predict(X_test)
        print(
            f"{name:36s} {wall:7.2f} {wall / reference[0]:6.2f} {cpu:7.2f} "
            f"{cpu / reference[1]:6.2f} {accuracy_score(y_test, pred):6.3f} "
            f"{f1_score(y_test, pred, average='macro'):8.3f}"
        )


if __name__ == "__main__":
    main()
