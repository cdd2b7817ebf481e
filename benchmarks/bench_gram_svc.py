"""GramSVC against scikit-learn's SVC on wide FER features: fit + predict time, agreement.

Both run libsvm with the same parameters; ``GramSVC`` computes the kernel matrix with BLAS
instead of libsvm's per-pair loop. Features are HOG (8x8 cells) + uniform LBP (6x6 grid) of
a stratified FER2013 Training subsample, standardized (the ``svm`` registry pipeline), and
optionally the ResNet50 (random weights, 48x48) multi-level embedding, as in the tuning
benchmark. Each timing is the best of ``--repeats`` runs, both in this process.

    python benchmarks/bench_gram_svc.py                     # hog+lbp, 2,400 train / 600 test
    python benchmarks/bench_gram_svc.py --resnet50          # + ResNet50 taps (4,740+ columns)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _paths import fer2013_training_subsample  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from hybridfer.classifiers import GramSVC
from hybridfer.handcrafted import HOGFeatures, LBPFeatures

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def features(args) -> tuple[np.ndarray, np.ndarray]:
    X, y = fer2013_training_subsample(args.n_images, args.data)
    blocks = [
        HOGFeatures(pixels_per_cell=(8, 8)).fit_transform(X),
        LBPFeatures().fit_transform(X),
    ]
    if args.resnet50:
        from hybridfer.extractors import ResNet50Features

        blocks.append(
            ResNet50Features(weights=None, input_size=48, random_state=0).fit_transform(X)
        )
    return np.hstack(blocks), y


def best_time(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    def run(est):
        est.fit(Ftr, ytr)
        return est.predict(Fte), est.decision_function(Fte)

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="folder holding fer2013/ (default: $HYBRIDFER_DATA)")
    p.add_argument("--n-images", type=int, default=3000)
    p.add_argument("--resnet50", action="store_true", help="add the ResNet50 embedding")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--C", type=float, nargs="+", default=[1.0, 10.0])
    args = p.parse_args()
    F, y = features(args)
    Ftr, Fte, ytr, yte = train_test_split(F, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(Ftr)
    Ftr, Fte = scaler.transform(Ftr), scaler.transform(Fte)
    print(
        f"FER2013 Training subsample: {len(Ftr)} train / {len(Fte)} test rows, {F.shape[1]} "
        f"standardized features; best of {args.repeats}"
    )
    print(
        f"{'C':>6} {'SVC s':>8} {'GramSVC s':>10} {'speed-up':>9} {'same pred':>10} "
        f"{'max |d decision|':>17} {'SVC acc':>8} {'Gram acc':>9}"
    )
    for C in args.C:
        t_ref, (p_ref, d_ref) = best_time(lambda c=C: run(SVC(C=c)), args.repeats)
        t_new, (p_new, d_new) = best_time(lambda c=C: run(GramSVC(C=c)), args.repeats)
        print(
            f"{C:>6g} {t_ref:>8.2f} {t_new:>10.2f} {t_ref / t_new:>8.1f}x "
            f"{(p_ref == p_new).mean():>10.4f} {np.abs(d_ref - d_new).max():>17.2e} "
            f"{(p_ref == yte).mean():>8.4f} {(p_new == yte).mean():>9.4f}"
        )


if __name__ == "__main__":
    main()
