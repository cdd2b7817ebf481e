"""Speed of HOGFeatures / LBPFeatures against per-image scikit-image loops, same process.

On FER2013 PublicTest (3,589 images, 48x48 gray) it times

- LBP grid histograms (uniform, 4x4 grid, l1): ``LBPFeatures`` against a loop of
  ``skimage.feature.local_binary_pattern`` + ``np.histogram`` per cell, for P=8 R=1 and
  P=16 R=2;
- HOG (9 orientations, 8x8 cells, 2x2 blocks, L2-Hys): ``HOGFeatures`` against a loop of
  ``skimage.feature.hog``;

and prints the best-of-``--repeat`` times, the speed-up and the largest absolute difference
between the two outputs. Ours runs with ``n_jobs=1`` and ``n_jobs=2``; the reference is always
one process. Images are decoded once, before any timing.

Usage::

    python benchmarks/bench_handcrafted.py [DATA] [--repeat 3]

DATA is the folder holding ``fer2013/`` (default: $HYBRIDFER_DATA, else ../shared/data).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from skimage.feature import hog, local_binary_pattern

from hybridfer.handcrafted import HOGFeatures, LBPFeatures
from hybridfer.handcrafted.lbp import grid_edges
from hybridfer.images import read_images


def best_time(fn: Callable[[], np.ndarray], repeat: int) -> tuple[float, np.ndarray]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def skimage_lbp_grid(images: np.ndarray, P: int, R: float, grid: tuple[int, int]) -> np.ndarray:
    """The per-image reference: skimage codes, then one np.histogram per cell, l1."""
    n_bins = P + 2
    rows = grid_edges(images.shape[1], grid[0])
    cols = grid_edges(images.shape[2], grid[1])
    out = np.empty((len(images), grid[0] * grid[1] * n_bins), dtype=np.float32)
    for k, img in enumerate(images):
        codes = local_binary_pattern(img, P, R, "uniform")
        cells = []
        for i in range(grid[0]):
            for j in range(grid[1]):
                cell = codes[rows[i] : rows[i + 1], cols[j] : cols[j + 1]]
                counts = np.histogram(cell, bins=n_bins, range=(0, n_bins))[0]
                cells.append(counts / cell.size)
        out[k] = np.concatenate(cells)
    return out


def skimage_hog(images: np.ndarray) -> np.ndarray:
    return np.stack(
        [hog(img, 9, (8, 8), (2, 2), "L2-Hys", feature_vector=True) for img in images]
    ).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = str(data_root())
    parser.add_argument("data", nargs="?", default=default, help="folder holding fer2013/")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    args = parser.parse_args()

    paths = sorted((Path(args.data) / "fer2013" / "test").glob("*/PublicTest_*.jpg"))
    if not paths:
        raise SystemExit(f"no FER2013 PublicTest images under {args.data}/fer2013/test")
    images = np.stack(read_images(paths, "gray"))
    print(f"FER2013 PublicTest: {images.shape[0]} images {images.shape[1:]} {images.dtype}")
    print(f"CPUs: {os.cpu_count()}, best of {args.repeat} runs each\n")

    cases = []
    for P, R in ((8, 1.0), (16, 2.0)):
        cases.append(
            (
                f"LBP uniform P={P} R={R:g} grid 4x4",
                lambda P=P, R=R: skimage_lbp_grid(images, P, R, (4, 4)),
                lambda n_jobs, P=P, R=R: LBPFeatures(
                    P=P, R=R, grid=(4, 4), n_jobs=n_jobs
                ).fit_transform(images),
            )
        )
    cases.append(
        (
            "HOG 9 orient. 8x8 cells 2x2 blocks",
            lambda: skimage_hog(images),
            lambda n_jobs: HOGFeatures(n_jobs=n_jobs).fit_transform(images),
        )
    )

    header = f"{'case':36s} {'skimage loop':>12s} {'ours n_jobs':>11s} {'ours':>8s} {'speed-up':>8s} {'max |diff|':>10s}"
    print(header)
    print("-" * len(header))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for name, reference, ours in cases:
            t_ref, ref = best_time(reference, args.repeat)
            for n_jobs in (1, 2):
                t_ours, out = best_time(lambda f=ours, n_jobs=n_jobs: f(n_jobs), args.repeat)
                diff = float(np.abs(out.astype(np.float64) - ref).max())
                print(
                    f"{name:36s} {t_ref:11.3f}s {n_jobs:11d} {t_ours:7.3f}s "
                    f"{t_ref / t_ours:7.1f}x {diff:10.2e}"
                )


if __name__ == "__main__":
    main()
