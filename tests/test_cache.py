"""The feature store: hits on subsets and permutations, corruption, concurrency, the mixin."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pytest

from hybridfer.cache import (
    CACHE_ENV,
    CachedTransformMixin,
    FeatureCache,
    default_cache_dir,
    image_hashes,
    key_digest,
    resolve_cache,
)
from hybridfer.images import as_image_source

KEY = {"transformer": "toy", "param": 3, "taps": ["a", "b"]}


def _features(idx: np.ndarray) -> np.ndarray:
    """A deterministic 'feature' per image index: easy to check exactly."""
    idx = np.asarray(idx, dtype=np.float32)
    return np.stack([idx, idx * 2 + 1, -idx], axis=1)


class Counter:
    """compute() that records which indices it was asked for."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.calls: list[np.ndarray] = []

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        self.calls.append(np.asarray(idx).copy())
        return self.values[idx]

    @property
    def n_computed(self) -> int:
        return sum(len(c) for c in self.calls)


@pytest.fixture
def data():
    n = 50
    hashes = [f"{i:032x}" for i in range(n)]
    values = (np.arange(n * 4, dtype=np.float32).reshape(n, 4) / 7.0).astype(np.float32)
    return hashes, values


def test_miss_then_hit_on_subset_and_permutation(tmp_path, data):
    hashes, values = data
    store = FeatureCache(tmp_path)
    first = Counter(values)
    out = store.get_or_compute(KEY, hashes[:30], first)
    np.testing.assert_array_equal(out, values[:30])
    assert first.n_computed == 30

    # a permuted subset of seen images: nothing computed, identical values
    rng = np.random.default_rng(0)
    perm = rng.permutation(30)[:17]
    again = Counter(values)
    got = store.get_or_compute(KEY, [hashes[i] for i in perm], lambda idx: again(perm[idx]))
    assert again.n_computed == 0
    np.testing.assert_array_equal(got, values[perm])

    # seen and new images mixed: only the new ones are computed
    mixed = [10, 40, 3, 45]
    third = Counter(values)
    got = store.get_or_compute(
        KEY, [hashes[i] for i in mixed], lambda idx: third(np.asarray(mixed)[idx])
    )
    np.testing.assert_array_equal(got, values[mixed])
    assert sorted(np.concatenate(third.calls).tolist()) == [40, 45]


def test_duplicate_images_are_computed_once(tmp_path, data):
    hashes, values = data
    store = FeatureCache(tmp_path)
    req = [hashes[1], hashes[2], hashes[1], hashes[1]]
    counter = Counter(values[[1, 2, 1, 1]])
    out = store.get_or_compute(KEY, req, counter)
    assert counter.n_computed == 2
    np.testing.assert_array_equal(out, values[[1, 2, 1, 1]])


def test_keys_are_separate_and_canonical(tmp_path, data):
    hashes, values = data
    store = FeatureCache(tmp_path)
    store.get_or_compute(KEY, hashes[:5], Counter(values))
    other = Counter(values * 2)
    out = store.get_or_compute({**KEY, "param": 4}, hashes[:5], other)
    assert other.n_computed == 5
    np.testing.assert_array_equal(out, values[:5] * 2)
    assert key_digest({"a": 1, "b": [1, 2]}) == key_digest({"b": (1, 2), "a": 1})
    assert key_digest({"a": 1}) != key_digest({"a": 2})
    with pytest.raises(TypeError, match="JSON-like"):
        key_digest({"a": object()})


def _shard_files(store: FeatureCache, key) -> tuple[list[Path], list[Path]]:
    folder = store._ns_dir(key)
    return sorted(folder.glob("*.npy")), sorted(folder.glob("*.idx.npz"))


@pytest.mark.parametrize("damage", ["truncate_rows", "flip_value", "garbage_index", "drop_rows"])
def test_corrupt_entries_are_detected_and_recomputed(tmp_path, data, damage):
    hashes, values = data
    store = FeatureCache(tmp_path)
    store.get_or_compute(KEY, hashes[:20], Counter(values))
    (rows,), (index,) = _shard_files(store, KEY)
    if damage == "truncate_rows":
        blob = rows.read_bytes()
        rows.write_bytes(blob[: len(blob) - 37])
    elif damage == "flip_value":
        blob = bytearray(rows.read_bytes())
        blob[-5] ^= 0xFF  # inside the last row's float32 values
        rows.write_bytes(bytes(blob))
    elif damage == "garbage_index":
        index.write_bytes(b"not a zip file at all")
    else:
        rows.unlink()
    # a fresh process view: forget the in-memory index
    from hybridfer import cache as cache_module

    cache_module._INDEXES.clear()
    counter = Counter(values)
    out = store.get_or_compute(KEY, hashes[:20], counter)
    np.testing.assert_array_equal(out, values[:20])  # never the damaged numbers
    assert counter.n_computed == 20
    # the damaged shard is gone, the recomputed one serves the next lookup
    assert not (rows.exists() and index.exists())
    again = Counter(values)
    np.testing.assert_array_equal(store.get_or_compute(KEY, hashes[:20], again), values[:20])
    assert again.n_computed == 0


def test_partial_writes_are_invisible(tmp_path, data):
    hashes, values = data
    store = FeatureCache(tmp_path)
    store.get_or_compute(KEY, hashes[:5], Counter(values))
    folder = store._ns_dir(KEY)
    # a writer that died: a temporary file and a rows file whose index never appeared
    (folder / ".9999.idx.abc.tmp.npz").write_bytes(b"half")
    np.save(folder / "0000-orphan.npy", np.zeros((3, 4), np.float32))
    counter = Counter(values)
    out = store.get_or_compute(KEY, hashes[:8], counter)
    np.testing.assert_array_equal(out, values[:8])
    assert counter.n_computed == 3


def test_shape_mismatch_from_compute_raises(tmp_path, data):
    hashes, values = data
    store = FeatureCache(tmp_path)
    with pytest.raises(ValueError, match="one row per image"):
        store.get_or_compute(KEY, hashes[:4], lambda idx: values[:2])


def _writer(root: str, start: int, seed: int) -> None:
    store = FeatureCache(root)
    rng = np.random.default_rng(seed)
    hashes = [f"{i:032x}" for i in range(200)]
    for _ in range(8):
        idx = np.sort(rng.choice(200, size=40, replace=False)) + 0 * start
        store.get_or_compute(KEY, [hashes[i] for i in idx], lambda j, idx=idx: _features(idx[j]))


def test_concurrent_writers_corrupt_nothing(tmp_path):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), 0, s)) for s in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    from hybridfer import cache as cache_module

    cache_module._INDEXES.clear()
    store = FeatureCache(tmp_path)
    hashes = [f"{i:032x}" for i in range(200)]
    found, values = store.lookup(KEY, hashes)
    assert found.sum() > 100  # the writers covered much of it
    np.testing.assert_array_equal(values[found], _features(np.flatnonzero(found)))
    assert not list(store._ns_dir(KEY).glob(".*"))  # no temporary file left behind


def test_size_clear_info_compact(tmp_path, data):
    hashes, values = data
    store = FeatureCache(tmp_path)
    assert store.size_bytes() == 0 and store.info()["keys"] == []
    store.get_or_compute(KEY, hashes[:10], Counter(values))
    store.get_or_compute(KEY, hashes[10:25], lambda idx: values[10:25][idx])
    other = {"transformer": "other"}
    store.get_or_compute(other, hashes[:3], Counter(values))
    info = store.info()
    by_key = {k["digest"]: k for k in info["keys"]}
    mine = by_key[key_digest(KEY)]
    assert mine["images"] == 25 and mine["shards"] == 2 and mine["key"] == KEY
    assert info["size_bytes"] == store.size_bytes() > store.size_bytes(KEY) > 0

    assert store.compact(KEY) == 2
    assert len(_shard_files(store, KEY)[1]) == 1
    counter = Counter(values)
    np.testing.assert_array_equal(store.get_or_compute(KEY, hashes[:25], counter), values[:25])
    assert counter.n_computed == 0

    freed = store.clear(KEY)
    assert freed > 0 and store.size_bytes(KEY) == 0 and store.size_bytes(other) > 0
    store.clear()
    assert store.size_bytes() == 0


def test_unwritable_store_warns_and_still_returns(tmp_path, data):
    hashes, values = data
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = FeatureCache(blocker / "cache")  # its parent is a file: mkdir fails
    with pytest.warns(RuntimeWarning, match="could not write"):
        out = store.get_or_compute(KEY, hashes[:3], Counter(values))
    np.testing.assert_array_equal(out, values[:3])


def test_resolve_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert resolve_cache(None) is None and resolve_cache(False) is None
    assert resolve_cache("auto") is None
    assert resolve_cache(tmp_path).root == tmp_path
    store = FeatureCache(tmp_path)
    assert resolve_cache(store) is store
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    assert resolve_cache("auto").root == tmp_path / "env"
    assert resolve_cache(True).root == tmp_path / "env" == default_cache_dir()
    with pytest.raises(TypeError, match="cache must be"):
        resolve_cache(3.5)


class MeanStd(CachedTransformMixin):
    """A toy transformer: per-image mean and std, counting computed images."""

    def __init__(self, cache=None, batch_size=4, scale=1.0):
        self.cache = cache
        self.batch_size = batch_size
        self.scale = scale
        self.computed = 0

    def _cache_key_params(self):
        return {"scale": self.scale}

    def _transform_batch(self, images):
        self.computed += len(images)
        flat = images.reshape(len(images), -1).astype(np.float32) * self.scale
        return np.stack([flat.mean(1), flat.std(1)], axis=1)


def test_mixin_arrays_and_paths_share_entries(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(9, 12, 12), dtype=np.uint8)
    paths = []
    for i, img in enumerate(images):
        p = tmp_path / "img" / f"{i}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(img).save(p)
        paths.append(str(p))
    expected = MeanStd()._transform_cached(as_image_source(images))

    t = MeanStd(cache=tmp_path / "store")
    np.testing.assert_array_equal(t._transform_cached(as_image_source(images)), expected)
    assert t.computed == 9
    # the same pixels given as files hash the same: all read from the store
    t2 = MeanStd(cache=tmp_path / "store", batch_size=2)
    src = as_image_source(paths)
    assert image_hashes(src) == image_hashes(as_image_source(images))
    np.testing.assert_array_equal(t2._transform_cached(src), expected)
    assert t2.computed == 0
    # another parameter value is another key
    t3 = MeanStd(cache=tmp_path / "store", scale=2.0)
    t3._transform_cached(as_image_source(images[:4]))
    assert t3.computed == 4
    assert len(FeatureCache(tmp_path / "store").info()["keys"]) == 2


def test_env_variable_enables_auto_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, os.fspath(tmp_path))
    images = np.random.default_rng(1).integers(0, 256, size=(5, 8, 8), dtype=np.uint8)
    t = MeanStd(cache="auto")
    t._transform_cached(as_image_source(images))
    t._transform_cached(as_image_source(images[::-1]))
    assert t.computed == 5
    assert FeatureCache(tmp_path).size_bytes() > 0
