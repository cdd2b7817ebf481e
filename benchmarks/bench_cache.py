"""Feature cache: cost of a repeated transform, CV extractions, and lookups at FER2013 scale.

Three measurements, in one process:

1. **repeat**: ``ResNet50Features`` (layer1..layer4, random weights, ``--input-size``)
   transforms ``--n`` FER2013 PublicTest images with an empty cache, then the same images again (arrays,
   then file paths, then a shuffled subset). Target: the second transform costs <= 3% of the
   first.
2. **CV**: 5-fold ``cross_val_score`` of ``Pipeline([extractor(cache=...), StandardScaler,
   LogisticRegression])`` on the same images, counting the images the extractor actually
   runs through its network. Target: each image is extracted once over all folds.
3. **lookup**: a store holding 28,709 entries of 3,840 float32 features (ResNet50
   layer1..layer4 at FER2013-train scale), timing a full lookup and a permuted 80% lookup.

Usage::

    python benchmarks/bench_cache.py [DATA] [--n 300] [--input-size 112] [--threads 1]

DATA is the folder holding ``fer2013/`` (default: $HYBRIDFER_DATA, else ../shared/data).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hybridfer.cache import FeatureCache
from hybridfer.data import load_fer2013
from hybridfer.extractors import ResNet50Features


class Counted(ResNet50Features):
    """ResNet50Features that counts the images it runs through the network."""

    computed = 0

    def _compute_features(self, source, indices):
        Counted.computed += len(indices)
        return super()._compute_features(source, indices)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def repeat_and_cv(images, paths, labels, args, root: Path) -> None:
    params = {"weights": None, "input_size": args.input_size, "random_state": 0, "cache": root}
    ext = Counted(**params).fit(images[:2])
    Counted.computed = 0
    t_first, first = timed(lambda: ext.transform(images))
    assert Counted.computed == len(images)
    t_arrays, again = timed(lambda: ext.transform(images))
    t_paths, from_files = timed(lambda: ext.transform(paths))
    perm = np.random.default_rng(0).permutation(len(images))[: int(0.8 * len(images))]
    t_perm, subset = timed(lambda: ext.transform(images[perm]))
    assert Counted.computed == len(images), "a repeated transform recomputed features"
    assert np.array_equal(first, again) and np.array_equal(first, from_files)
    assert np.array_equal(first[perm], subset)
    n = len(images)
    print(f"1. repeat ({n} images, ResNet50 layer1..4, input {args.input_size}, CPU)")
    print(f"   first transform (computes all)     {t_first:8.2f} s")
    for label, t in (
        ("same arrays again", t_arrays),
        ("same images as file paths", t_paths),
        ("80% subset, shuffled", t_perm),
    ):
        print(f"   {label:<35}{t:8.3f} s  = {100 * t / t_first:5.2f}% of the first")

    Counted.computed = 0
    FeatureCache(root).clear()
    pipe = make_pipeline(
        Counted(**params), StandardScaler(), LogisticRegression(C=0.01, max_iter=200)
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    t_cv, scores = timed(lambda: cross_val_score(pipe, images, labels, cv=cv))
    print(
        f"2. 5-fold CV of cached extractor + scaler + LogisticRegression on {n} images ({t_cv:.1f} s)"
    )
    print(
        f"   images run through the network: {Counted.computed} "
        f"(= {Counted.computed / n:.2f} x each image); fold accuracies {np.round(scores, 3)}"
    )


def lookup_scale(root: Path, n: int = 28_709, d: int = 3_840) -> None:
    store = FeatureCache(root)
    key = {"bench": "lookup", "d": d}
    rng = np.random.default_rng(0)
    hashes = [f"{i * 7919:032x}" for i in range(n)]
    values = rng.standard_normal((n, d), dtype=np.float32)
    # as a CV run would leave it: 5 shards of one fifth each
    t_write = 0.0
    for part in np.array_split(np.arange(n), 5):
        t, _ = timed(lambda part=part: store.store(key, [hashes[i] for i in part], values[part]))
        t_write += t
    from hybridfer import cache as cache_module

    cache_module._INDEXES.clear()  # a fresh process: the index is read from disk
    t_cold, (found, got) = timed(lambda: store.lookup(key, hashes))
    assert found.all() and np.array_equal(got, values)
    perm = rng.permutation(n)[: int(0.8 * n)]
    sub = [hashes[i] for i in perm]
    t_warm, (found, got) = timed(lambda: store.lookup(key, sub))
    assert found.all() and np.array_equal(got, values[perm])
    size = store.size_bytes(key) / 2**20
    print(f"3. lookup at FER2013-train scale: {n} entries x {d} float32 ({size:.0f} MiB, 5 shards)")
    print(f"   writing the 5 shards                {t_write:8.2f} s")
    print(
        f"   full lookup, index read from disk   {t_cold:8.2f} s ({1e6 * t_cold / n:.1f} us/image)"
    )
    print(f"   80% permuted lookup, index in memory{t_warm:8.2f} s")
    store.clear(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=None)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache-dir", default=None, help="default: a temporary folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    ds = load_fer2013(data_root(args.data) / "fer2013", usages="PublicTest", lazy=True)
    idx = np.random.default_rng(0).permutation(len(ds))[: args.n]
    sub = ds.subset(np.sort(idx))
    paths = list(sub.paths)
    from hybridfer.images import read_images

    images = np.stack(read_images(paths, "gray"))
    with tempfile.TemporaryDirectory(dir=args.cache_dir) as tmp:
        repeat_and_cv(images, paths, sub.labels, args, Path(tmp) / "store")
        lookup_scale(Path(tmp) / "lookup")


if __name__ == "__main__":
    main()
