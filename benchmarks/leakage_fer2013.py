"""Leakage audit between all of FER2013 Training (28,709) and PublicTest (3,589).

Prints how many PublicTest images have an exact or near duplicate in Training (and the
duplicates within each set), the time each stage takes, and how the counts move with the
matching thresholds. The candidate search (all 103 million pHash Hamming distances) is also
timed against scikit-learn's brute-force radius search on the same bits (metric="hamming"), as
the library reference.

Usage::

    python benchmarks/leakage_fer2013.py [--data ../shared/data] [--skip-reference]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from hybridfer.evaluation import leakage as _leakage
from hybridfer.evaluation import leakage_audit
from hybridfer.images import read_images


def _paths(root: Path, split: str) -> list[str]:
    paths = sorted(str(p) for p in (root / "fer2013" / split).glob("*/*.jpg"))
    if not paths:
        raise SystemExit(f"no FER2013 images under {root / 'fer2013' / split}")
    return paths


def _reference_candidates(test_bits: np.ndarray, train_bits: np.ndarray, radius: int) -> int:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(metric="hamming", algorithm="brute").fit(train_bits)
    # sklearn's hamming is the fraction of differing bits; the tiny margin absorbs rounding.
    found = nn.radius_neighbors(
        test_bits, radius=(radius + 0.5) / train_bits.shape[1], return_distance=False
    )
    return sum(len(f) for f in found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = str(data_root())
    parser.add_argument("--data", default=default, help="folder holding fer2013/")
    parser.add_argument("--skip-reference", action="store_true", help="skip the sklearn timing")
    args = parser.parse_args()
    root = Path(args.data)
    train_paths, test_paths = _paths(root, "train"), _paths(root, "test")
    print(f"FER2013 Training: {len(train_paths)} images, PublicTest: {len(test_paths)} images")

    t0 = time.perf_counter()
    report = leakage_audit(train_paths, test_paths)
    total = time.perf_counter() - t0
    print(f"\n== default audit from file paths (end to end): {total:.1f} s")
    print("   " + ", ".join(f"{k} {v:.2f} s" for k, v in report.timings.items()))
    print(report.summary())
    print(report.to_markdown(max_pairs=10))

    t0 = time.perf_counter()
    train = np.stack(read_images(train_paths))
    test = np.stack(read_images(test_paths))
    print(f"\ndecoded all images into memory in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    flips = leakage_audit(train, test, check_flips=True)
    print(f"\n== audit with check_flips=True (in-memory arrays): {time.perf_counter() - t0:.1f} s")
    print(flips.summary())

    print("\n== sensitivity (train vs test only, in-memory arrays)")
    print("near_threshold  min_correlation  test images matched  exact  near only  pairs  time")
    for threshold, corr in ((8, 0.95), (10, 0.95), (12, 0.95), (12, 0.93), (8, 0.90), (12, 0.90)):
        t0 = time.perf_counter()
        r = leakage_audit(
            train, test, near_threshold=threshold, min_correlation=corr, check_within=False
        )
        print(
            f"{threshold:>14}  {corr:>15.2f}  {r.n_test_images_with_a_match:>19}  "
            f"{r.n_exact:>5}  {r.n_near:>9}  {len(r.pairs):>5}  {time.perf_counter() - t0:.1f} s"
        )

    if not args.skip_reference:
        vocabulary: dict[str, int] = {}
        train_fp, _ = _leakage._fingerprints(
            _leakage.as_image_source(train), 8, vocabulary, 1024, mirrored=False
        )
        test_fp, _ = _leakage._fingerprints(
            _leakage.as_image_source(test), 8, vocabulary, 1024, mirrored=False
        )
        t0 = time.perf_counter()
        ours = 0
        rows = max(1, _leakage._BLOCK_ELEMENTS // len(train_fp))
        for s in range(0, len(test_fp), rows):
            dist = _leakage._hamming_block(test_fp.phash[s : s + rows], train_fp.phash)
            ours += int(np.count_nonzero(dist <= 12))
        t_ours = time.perf_counter() - t0

        def unpack(words: np.ndarray) -> np.ndarray:
            return np.unpackbits(words.astype(">u8").view(np.uint8), axis=1).astype(bool)

        t0 = time.perf_counter()
        ref = _reference_candidates(unpack(test_fp.phash), unpack(train_fp.phash), 12)
        t_ref = time.perf_counter() - t0
        print(
            f"\n== candidate search, all {len(test_fp) * len(train_fp):,} pairs, Hamming <= 12\n"
            f"packed XOR + popcount: {t_ours:.2f} s ({ours} candidates); "
            f"sklearn NearestNeighbors(metric='hamming', brute): {t_ref:.2f} s ({ref} "
            f"candidates); speed-up x{t_ref / t_ours:.1f}"
        )
        if ours != ref:
            raise SystemExit("candidate counts differ between the two searches")


if __name__ == "__main__":
    main()
