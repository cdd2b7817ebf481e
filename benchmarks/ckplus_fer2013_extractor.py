"""CK+48 with a FER2013-trained network as a frozen feature extractor.

Loads the network the ``fer2013-cpu`` recipe wrote (``network.joblib``: a fitted
``CNNFeatures``; it is never refitted here) and scores, by 10-fold subject-grouped stratified
CV on CK+48 (no subject on both sides of a split), with an RBF SVM (standardised features,
``GramSVC``, C=10, balanced class weights):

- the network's embeddings (flip-TTA averaged);
- the embeddings + HOG + LBP;
- HOG + LBP alone (the handcrafted reference);

and HOG + LBP -> WNXGB, the handcrafted baseline measured earlier (83.9% accuracy).

Usage::

    python benchmarks/ckplus_fer2013_extractor.py NETWORK_JOBLIB [--data DIR] [--folds 10]
"""

from __future__ import annotations

import argparse
import time

import joblib
import numpy as np
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hybridfer.classifiers import GramSVC, WNXGBClassifier
from hybridfer.data import load_ckplus48, make_cv
from hybridfer.handcrafted import HOGFeatures, LBPFeatures
from hybridfer.nn.devices import cpu_capability


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("network")
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", type=int, default=10)
    args = parser.parse_args()
    print(f"# {cpu_capability()}")
    ds = load_ckplus48(data_root(args.data) / "ckplus48")
    X, y, groups = ds.images, ds.labels, ds.groups
    network = joblib.load(args.network)
    network.set_params(tta="flip")
    start = time.perf_counter()
    emb = network.transform(X)  # frozen: transform only, no fit on CK+
    hog = HOGFeatures(orientations=9, pixels_per_cell=(6, 6), cells_per_block=(2, 2)).fit(X)
    lbp = LBPFeatures(P=8, R=1.0, method="uniform", grid=(6, 6)).fit(X)
    H, L = hog.transform(X), lbp.transform(X)
    print(
        f"features: embeddings {emb.shape[1]}, HOG {H.shape[1]}, LBP {L.shape[1]} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    sets = {
        "FER2013 network embeddings -> SVM": emb,
        "embeddings + HOG + LBP -> SVM": np.hstack([emb, H, L]),
        "HOG + LBP -> SVM": np.hstack([H, L]),
        "HOG + LBP -> WNXGB": np.hstack([H, L]),
    }
    cv = make_cv(args.folds, groups=groups, random_state=0)
    print(f"| features -> classifier | accuracy ({args.folds}-fold, subject-grouped) | macro-F1 |")
    print("|---|---|---|")
    for name, F in sets.items():
        accs, f1s = [], []
        for tr, te in cv.split(F, y, groups):
            if name.endswith("WNXGB"):
                clf = WNXGBClassifier(
                    n_estimators=300,
                    max_depth=6,
                    learning_rate=0.1,
                    colsample_bytree=0.5,
                    class_weight="balanced",
                    random_state=0,
                )
            else:
                clf = make_pipeline(StandardScaler(), GramSVC(C=10.0, class_weight="balanced"))
            clf.fit(F[tr], y[tr])
            pred = clf.predict(F[te])
            accs.append(accuracy_score(y[te], pred))
            f1s.append(f1_score(y[te], pred, average="macro"))
        print(
            f"| {name} | {np.mean(accs):.4f} ± {np.std(accs):.4f} | "
            f"{np.mean(f1s):.4f} ± {np.std(f1s):.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
