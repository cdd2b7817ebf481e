"""CK+48 and JAFFE with a FER2013-trained network as a frozen feature extractor.

The network is a shipped model (``fer2013-vgg``: ``CNNFeatures(weights=NAME)``, whose fit
learns nothing) or the one a ``fer2013-cpu`` run wrote (``network.joblib``: a fitted
``CNNFeatures``, never refitted here). Scored by 10-fold subject-grouped stratified CV on
CK+48 (no subject on both sides of a split), with an RBF SVM (standardised features,
``GramSVC``, C=10, balanced class weights):

- the network's embeddings (flip-TTA averaged), and with the average and maximum of its last
  feature map beside them (``output="embedding+pooled"``);
- the network's features with the feature set (embeddings alone or + pooled) and the SVM's C
  chosen inside each training fold by a grouped 5-fold grid search (nested CV: the outer test
  fold chooses nothing, so its score is an honest estimate of the whole procedure);
- the embeddings + HOG + LBP;
- HOG + LBP alone (the handcrafted reference);

and HOG + LBP -> WNXGB, the handcrafted baseline measured earlier (83.9% accuracy).
With ``--jaffe``, also JAFFE (faces found and aligned by ``FaceCropper``, MTCNN), grouped by
poser (10-fold = leave one poser out): the network alone, its softmax read through the
JAFFE -> FER2013 label map (nothing fitted on JAFFE), then the same feature sets -> SVM.

Usage::

    python benchmarks/ckplus_fer2013_extractor.py fer2013-vgg [--data DIR] [--folds 10] [--jaffe]
    python benchmarks/ckplus_fer2013_extractor.py runs/x/network.joblib
"""

from __future__ import annotations

import argparse
import time

import joblib
import numpy as np
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from sklearn.compose import ColumnTransformer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from hybridfer.classifiers import GramSVC, WNXGBClassifier
from hybridfer.data import load_ckplus48, load_jaffe, make_cv
from hybridfer.extractors import CNNFeatures
from hybridfer.handcrafted import HOGFeatures, LBPFeatures
from hybridfer.nn.devices import cpu_capability


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("network", help="a shipped model's name, or a network.joblib file")
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--jaffe", action="store_true", help="also JAFFE, poser-grouped")
    args = parser.parse_args()
    print(f"# {cpu_capability()}")
    print(f"# network: {args.network}")
    root = data_root(args.data)
    ds = load_ckplus48(root / "ckplus48")
    print("## CK+48")
    _table(_network(args.network, ds.images), ds.images, ds.labels, ds.groups, args.folds)
    if args.jaffe:
        from hybridfer.faces import FaceCropper

        jaffe = load_jaffe(root / "jaffe")
        start = time.perf_counter()
        cropper = FaceCropper(on_missing="whole")
        X = cropper.fit_transform(jaffe.X)
        print(
            f"## JAFFE: {len(X)} frames, faces found in {len(X) - cropper.n_missing_} "
            f"({time.perf_counter() - start:.1f} s), {len(set(jaffe.groups))} posers"
        )
        network = _network(args.network, X)
        pred = network.network_predict(X)  # classes are FER2013's: JAFFE's codes map onto them
        print(
            f"network alone (FER2013 softmax, flip TTA; nothing fitted on JAFFE): accuracy "
            f"{accuracy_score(jaffe.labels, pred):.4f}, macro-F1 "
            f"{f1_score(jaffe.labels, pred, average='macro'):.4f} over "
            f"{len(set(jaffe.labels))} classes"
        )
        _table(network, X, jaffe.labels, jaffe.groups, min(args.folds, len(set(jaffe.groups))))


def _network(spec: str, X: np.ndarray) -> CNNFeatures:
    """The frozen network: a shipped model (fitted on X: nothing learned) or a joblib file."""
    if spec.endswith(".joblib"):
        network = joblib.load(spec)
    else:
        network = CNNFeatures(weights=spec).fit(X)
    return network.set_params(tta="flip", output="embedding+pooled")


#: The nested search's grid: the feature set and the SVM's C.
NESTED_GRID = {"cols__pooled": ["drop", "passthrough"], "svm__C": [1.0, 3.0, 10.0, 30.0, 100.0]}


def _nested_svm(n_embedding: int, n_columns: int, groups: np.ndarray) -> GridSearchCV:
    """An SVM on the network's features whose feature set and C a grouped inner CV chooses."""
    cols = ColumnTransformer(
        [
            ("embedding", "passthrough", slice(0, n_embedding)),
            ("pooled", "passthrough", slice(n_embedding, n_columns)),
        ]
    )
    pipe = Pipeline(
        [("cols", cols), ("scale", StandardScaler()), ("svm", GramSVC(class_weight="balanced"))]
    )
    inner = make_cv(5, groups=groups, random_state=0)
    return GridSearchCV(pipe, NESTED_GRID, cv=inner, scoring="accuracy", n_jobs=1)


def _table(network, X, y, groups, folds: int) -> None:
    start = time.perf_counter()
    groups = np.asarray(groups)
    features = network.transform(X)  # frozen: transform only, no fit on these images
    n_emb = network.model_.embedding_dim
    emb = features[:, :n_emb]
    hog = HOGFeatures(orientations=9, pixels_per_cell=(6, 6), cells_per_block=(2, 2)).fit(X)
    lbp = LBPFeatures(P=8, R=1.0, method="uniform", grid=(6, 6)).fit(X)
    H, L = hog.transform(X), lbp.transform(X)
    print(
        f"features: embeddings {n_emb}, pooled {features.shape[1] - n_emb}, HOG {H.shape[1]}, LBP {L.shape[1]} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    sets = {
        "FER2013 network embeddings -> SVM": emb,
        "embeddings + pooled -> SVM": features,
        "network features, set and C by inner grouped CV -> SVM (nested)": features,
        "embeddings + HOG + LBP -> SVM": np.hstack([emb, H, L]),
        "HOG + LBP -> SVM": np.hstack([H, L]),
        "HOG + LBP -> WNXGB": np.hstack([H, L]),
    }
    cv = make_cv(folds, groups=groups, random_state=0)
    print(f"| features -> classifier | accuracy ({folds}-fold, grouped) | macro-F1 |")
    print("|---|---|---|")
    for name, F in sets.items():
        accs, f1s, chosen = [], [], []
        for tr, te in cv.split(F, y, groups):
            fit_params = {}
            if name.endswith("(nested)"):
                clf = _nested_svm(n_emb, F.shape[1], groups[tr])
                fit_params = {"groups": groups[tr]}
            elif name.endswith("WNXGB"):
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
            clf.fit(F[tr], y[tr], **fit_params)
            if fit_params:
                p = clf.best_params_
                pooled = "+pooled" if p["cols__pooled"] == "passthrough" else ""
                chosen.append(f"emb{pooled} C={p['svm__C']:g}")
            pred = clf.predict(F[te])
            accs.append(accuracy_score(y[te], pred))
            f1s.append(f1_score(y[te], pred, average="macro"))
        print(
            f"| {name} | {np.mean(accs):.4f} ± {np.std(accs):.4f} | "
            f"{np.mean(f1s):.4f} ± {np.std(f1s):.4f} |",
            flush=True,
        )
        if chosen:
            print(f"  chosen per outer fold: {'; '.join(chosen)}", flush=True)


if __name__ == "__main__":
    main()
