"""A persistent, content-addressed, per-image feature store.

Features of an image depend on two things: the transformer configuration (backbone, weights,
taps, pooling, preprocessing, input size, library versions...) and the image's pixels. The
store keys them exactly so: a *namespace* per configuration (the digest of its canonical JSON)
and, inside it, one row per image content hash. A transform over any subset or permutation of
images already seen (a CV fold, an Optuna trial, a second run) reads them back instead of
computing them again. Device, batch size and verbosity are never part of a key.

Layout on disk::

    <root>/v1/<namespace digest>/key.json            the configuration, for humans and info()
    <root>/v1/<namespace digest>/<shard>.npy         float32 rows (m, d)
    <root>/v1/<namespace digest>/<shard>.idx.npz     the m image hashes and one CRC32 per row

Every call that computes missing features appends one *shard*: the rows file is written
first, then the index, each to a temporary file moved into place with ``os.replace``. A shard
exists for readers only once its index does, so a crash leaves nothing half visible, and two
processes extracting into one store at once each write their own uniquely named shard
(duplicates are harmless). A shard that cannot be read, has the wrong shape, or whose row
fails its CRC is deleted and its rows are computed again.

Where the store lives: ``cache=`` on a transformer takes a path or a :class:`FeatureCache`;
``True`` means the default folder (``$HYBRIDFER_CACHE``, else ``~/.cache/hybridfer``);
``"auto"`` means ``$HYBRIDFER_CACHE`` when that variable is set and no cache otherwise;
``None``/``False`` disables it. See :func:`resolve_cache`.

Any transformer can use the store through :class:`CachedTransformMixin` (the deep extractors
and the handcrafted HOG/LBP transformers do).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybridfer._io import atomic_path, atomic_write_text
from hybridfer.images import ImageSource, content_hash, read_images

__all__ = [
    "CACHE_ENV",
    "CachedTransformMixin",
    "FeatureCache",
    "default_cache_dir",
    "image_hashes",
    "key_digest",
    "resolve_cache",
]

#: Environment variable naming the default store folder.
CACHE_ENV = "HYBRIDFER_CACHE"
_FORMAT = "v1"
_INDEX_SUFFIX = ".idx.npz"
_HASH_DTYPE = "S32"  # content hashes are 32 hex characters


def default_cache_dir() -> Path:
    """``$HYBRIDFER_CACHE`` if set, else ``$XDG_CACHE_HOME/hybridfer`` (``~/.cache/hybridfer``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "hybridfer"


def resolve_cache(cache: object) -> FeatureCache | None:
    """Turn a ``cache=`` parameter into a store, or None when caching is off.

    Parameters
    ----------
    cache : FeatureCache, str, path-like, bool, "auto" or None
        ``None``/``False``: no cache. ``"auto"``: ``$HYBRIDFER_CACHE`` if set, else no cache.
        ``True``: :func:`default_cache_dir`. A path or :class:`FeatureCache`: that store.
    """
    if cache is None or cache is False:
        return None
    if isinstance(cache, FeatureCache):
        return cache
    if cache is True:
        return FeatureCache(default_cache_dir())
    if isinstance(cache, str) and cache == "auto":
        env = os.environ.get(CACHE_ENV)
        return FeatureCache(env) if env else None
    if isinstance(cache, (str, os.PathLike)):
        return FeatureCache(cache)
    raise TypeError(
        f"cache must be None, False, True, 'auto', a folder path or a FeatureCache, got "
        f"{type(cache).__name__}"
    )


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cache key values must be JSON-like, got {type(obj).__name__}: {obj!r}")


def _canonical_json(key: Mapping) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=_json_default)


def key_digest(key: Mapping) -> str:
    """The namespace of a cache key: blake2b (16 bytes, hex) of its canonical JSON."""
    import hashlib

    return hashlib.blake2b(_canonical_json(key).encode(), digest_size=16).hexdigest()


def image_hashes(source: ImageSource, chunk: int = 1024) -> list[str]:
    """Per-image content hashes of ``source`` (remembered on the source).

    Files are decoded one by one (in threads) and never stacked, so a folder that mixes
    sizes or gray and colour files hashes fine.
    """
    if source._hashes is not None:
        return source._hashes
    if not source.is_lazy:
        return source.content_hashes()
    hashes: list[str] = []
    for start in range(0, len(source), chunk):
        images = read_images(source.paths[start : start + chunk], source.color)
        hashes.extend(content_hash(img) for img in images)
    source._hashes = hashes
    return hashes


def _row_crc(rows: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(rows)
    return np.fromiter((zlib.crc32(r.data) for r in rows), dtype=np.uint32, count=len(rows))


class _CorruptShard(Exception):
    pass


@dataclass
class _Shard:
    hashes: np.ndarray  # (m,) S32
    crc: np.ndarray  # (m,) uint32
    n_features: int


@dataclass
class _Namespace:
    """In-memory index of one namespace folder, refreshed from disk on every lookup."""

    shards: dict[str, _Shard] = field(default_factory=dict)
    where: dict[bytes, tuple[str, int]] = field(default_factory=dict)


_INDEXES: dict[str, _Namespace] = {}
_LOCK = threading.Lock()


class FeatureCache:
    """A feature store in folder ``root`` (created on first write).

    Parameters
    ----------
    root : str or path-like
        The store folder. Several processes may share it.

    Examples
    --------
    >>> store = FeatureCache("/tmp/features")  # doctest: +SKIP
    >>> X = store.get_or_compute({"name": "mean"}, hashes, lambda idx: feats(images[idx]))
    """

    def __init__(self, root: str | os.PathLike) -> None:
        if not os.fspath(root).strip():
            raise ValueError(
                "feature cache path is empty; expected a folder path (None or False for no cache)"
            )
        self.root = Path(root).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(
                f"feature cache {os.fspath(root)!r} is a file; expected a folder (it is created "
                "on the first write)"
            )

    def __repr__(self) -> str:
        return f"FeatureCache({os.fspath(self.root)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureCache) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    # -- paths ---------------------------------------------------------------------------
    def _base(self) -> Path:
        return self.root / _FORMAT

    def _ns_dir(self, key: Mapping) -> Path:
        return self._base() / key_digest(key)

    # -- index ---------------------------------------------------------------------------
    def _drop_shard(self, folder: Path, shard_id: str) -> None:
        """Delete a bad shard (index first, so no reader can see a half-deleted shard)."""
        for name in (shard_id + _INDEX_SUFFIX, shard_id + ".npy"):
            with suppress(OSError):
                (folder / name).unlink()

    def _read_shard_index(self, folder: Path, shard_id: str) -> _Shard:
        try:
            with np.load(folder / (shard_id + _INDEX_SUFFIX), allow_pickle=False) as z:
                hashes = np.asarray(z["hashes"])
                crc = np.asarray(z["crc"])
                n_features = int(z["n_features"])
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise _CorruptShard(str(exc)) from exc
        if hashes.ndim != 1 or crc.shape != hashes.shape or hashes.dtype.kind != "S":
            raise _CorruptShard("index arrays have unexpected shapes")
        return _Shard(hashes, crc, n_features)

    def _refresh(self, folder: Path) -> _Namespace:
        """Bring the in-memory index of ``folder`` up to date with the shards on disk."""
        ns = _INDEXES.setdefault(os.fspath(folder), _Namespace())
        try:
            on_disk = {
                e.name[: -len(_INDEX_SUFFIX)]
                for e in os.scandir(folder)
                if e.name.endswith(_INDEX_SUFFIX) and not e.name.startswith(".")
            }
        except OSError:  # no such folder yet (or not a folder): nothing stored
            on_disk = set()
        gone = set(ns.shards) - on_disk
        added = []
        for shard_id in sorted(on_disk - set(ns.shards)):
            try:
                ns.shards[shard_id] = self._read_shard_index(folder, shard_id)
            except FileNotFoundError:  # removed meanwhile by another process
                continue
            except _CorruptShard:
                self._drop_shard(folder, shard_id)
                continue
            added.append(shard_id)
        for shard_id in gone:
            ns.shards.pop(shard_id, None)
        if gone:
            ns.where = {}
            added = sorted(ns.shards)
        for shard_id in added:
            for row, h in enumerate(ns.shards[shard_id].hashes.tolist()):
                ns.where.setdefault(h, (shard_id, row))
        return ns

    def _forget(self, folder: Path, ns: _Namespace, shard_id: str) -> None:
        ns.shards.pop(shard_id, None)
        ns.where = {h: loc for h, loc in ns.where.items() if loc[0] != shard_id}
        self._drop_shard(folder, shard_id)

    # -- public API ----------------------------------------------------------------------
    def lookup(self, key: Mapping, hashes: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Read the stored rows of ``hashes``.

        Returns
        -------
        found : ndarray of bool, shape (n,)
        values : ndarray of float32, shape (n, d), or None
            Rows where ``found`` is True hold the stored features; None when nothing was found.
        """
        folder = self._ns_dir(key)
        n = len(hashes)
        found = np.zeros(n, dtype=bool)
        with _LOCK:
            ns = self._refresh(folder)
            if not ns.where:
                return found, None
            by_shard: dict[str, list[tuple[int, int]]] = {}
            for i, h in enumerate(hashes):
                loc = ns.where.get(h.encode() if isinstance(h, str) else h)
                if loc is not None:
                    by_shard.setdefault(loc[0], []).append((i, loc[1]))
            values: np.ndarray | None = None
            for shard_id, pairs in by_shard.items():
                shard = ns.shards[shard_id]
                pos = np.fromiter((p[0] for p in pairs), dtype=np.intp, count=len(pairs))
                rows = np.fromiter((p[1] for p in pairs), dtype=np.intp, count=len(pairs))
                order = np.argsort(rows, kind="stable")
                pos, rows = pos[order], rows[order]
                try:
                    data = np.load(folder / (shard_id + ".npy"), mmap_mode="r")
                    if data.dtype != np.float32 or data.shape != (
                        len(shard.hashes),
                        shard.n_features,
                    ):
                        raise _CorruptShard(f"rows file has shape {data.shape} {data.dtype}")
                    if values is not None and values.shape[1] != shard.n_features:
                        raise _CorruptShard("shard width differs from the other shards")
                    chunk = np.asarray(data[rows])
                    del data
                    if not np.array_equal(_row_crc(chunk), shard.crc[rows]):
                        raise _CorruptShard("row checksum mismatch")
                except (_CorruptShard, OSError, ValueError, EOFError):
                    # includes a missing rows file: writers create it before the index, and
                    # deleters remove the index first, so an index without rows is broken
                    self._forget(folder, ns, shard_id)
                    continue
                if values is None:
                    values = np.empty((n, shard.n_features), dtype=np.float32)
                values[pos] = chunk
                found[pos] = True
        return found, values

    def store(self, key: Mapping, hashes: Sequence[str], values: np.ndarray) -> None:
        """Append rows ``values`` for ``hashes`` as one new shard (atomic, process safe)."""
        values = np.ascontiguousarray(values, dtype=np.float32)
        if values.ndim != 2 or len(values) != len(hashes):
            raise ValueError(
                f"values must be 2-D with one row per hash: got {values.shape} for "
                f"{len(hashes)} hashes"
            )
        if len(hashes) == 0:
            return
        folder = self._ns_dir(key)
        folder.mkdir(parents=True, exist_ok=True)
        key_file = folder / "key.json"
        if not key_file.exists():
            atomic_write_text(
                key_file, json.dumps(key, sort_keys=True, indent=1, default=_json_default)
            )
        shard_id = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        with atomic_path(folder / (shard_id + ".npy")) as tmp:
            np.save(tmp, values)
        with atomic_path(folder / (shard_id + _INDEX_SUFFIX)) as tmp:
            np.savez(
                tmp,
                hashes=np.asarray(list(hashes), dtype=_HASH_DTYPE),
                crc=_row_crc(values),
                n_features=np.int64(values.shape[1]),
            )

    def get_or_compute(
        self,
        key: Mapping,
        hashes: Sequence[str],
        compute: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """Features for every hash: stored rows where present, ``compute`` for the rest.

        Parameters
        ----------
        key : mapping
            JSON-like description of everything that determines the features.
        hashes : sequence of str
            One content hash per image (see :func:`hybridfer.images.content_hash`).
        compute : callable
            ``compute(indices)`` returns the float32 features ``(len(indices), d)`` of the
            images at positions ``indices`` (an int array). Called at most once, only for
            missing images, each distinct hash once.

        Returns
        -------
        ndarray of float32, shape (len(hashes), d)
        """
        hashes = list(hashes)
        n = len(hashes)
        found, values = self.lookup(key, hashes)
        missing = np.flatnonzero(~found)
        if missing.size == 0 and values is not None:
            return values
        first: dict[str, int] = {}
        for i in missing.tolist():
            first.setdefault(hashes[i], i)
        todo = np.fromiter(first.values(), dtype=np.intp, count=len(first))
        new = np.asarray(compute(todo), dtype=np.float32)
        if new.ndim != 2 or len(new) != len(todo):
            raise ValueError(
                f"compute returned shape {new.shape} for {len(todo)} images; expected 2-D "
                "with one row per image"
            )
        if values is not None and new.shape[1] != values.shape[1]:
            raise ValueError(
                f"compute returned {new.shape[1]} features but the store holds "
                f"{values.shape[1]} for this key"
            )
        try:
            self.store(key, [hashes[i] for i in todo.tolist()], new)
        except OSError as exc:
            warnings.warn(
                f"could not write to the feature cache {self.root}: {exc}; features were "
                "computed but not stored",
                RuntimeWarning,
                stacklevel=2,
            )
        if values is None:
            values = np.empty((n, new.shape[1]), dtype=np.float32)
        row_of = {hashes[i]: r for r, i in enumerate(todo.tolist())}
        values[missing] = new[[row_of[hashes[i]] for i in missing.tolist()]]
        return values

    def compact(self, key: Mapping) -> int:
        """Merge the shards of one key into a single shard; return how many were merged."""
        folder = self._ns_dir(key)
        with _LOCK:
            ns = self._refresh(folder)
            old = sorted(ns.shards)
        if len(old) < 2:
            return len(old)
        hashes = [h.decode() for h in ns.where]
        found, values = self.lookup(key, hashes)
        if values is None:
            return 0
        self.store(key, [h for h, f in zip(hashes, found, strict=True) if f], values[found])
        with _LOCK:
            for shard_id in old:
                self._forget(folder, ns, shard_id)
        return len(old)

    def _namespaces(self) -> list[Path]:
        base = self._base()
        if not base.is_dir():
            return []
        return sorted(p for p in base.iterdir() if p.is_dir())

    @staticmethod
    def _folder_bytes(folder: Path) -> int:
        total = 0
        for entry in os.scandir(folder):
            with suppress(OSError):
                total += entry.stat().st_size
        return total

    def size_bytes(self, key: Mapping | None = None) -> int:
        """Bytes used on disk by one key, or by the whole store when ``key`` is None."""
        folders = [self._ns_dir(key)] if key is not None else self._namespaces()
        return sum(self._folder_bytes(f) for f in folders if f.is_dir())

    def clear(self, key: Mapping | None = None) -> int:
        """Delete the entries of one key, or the whole store; return the bytes freed."""
        folders = [self._ns_dir(key)] if key is not None else self._namespaces()
        freed = 0
        for folder in folders:
            if not folder.is_dir():
                continue
            freed += self._folder_bytes(folder)
            shutil.rmtree(folder, ignore_errors=True)
            with _LOCK:
                _INDEXES.pop(os.fspath(folder), None)
        return freed

    def info(self) -> dict:
        """Summary: root, total bytes and, per key, its digest, key, image count and size."""
        keys = []
        for folder in self._namespaces():
            try:
                key = json.loads((folder / "key.json").read_text())
            except (OSError, ValueError):
                key = None
            with _LOCK:
                ns = self._refresh(folder)
                entries, shards = len(ns.where), len(ns.shards)
            keys.append(
                {
                    "digest": folder.name,
                    "key": key,
                    "images": entries,
                    "shards": shards,
                    "size_bytes": self._folder_bytes(folder),
                }
            )
        return {
            "root": os.fspath(self.root),
            "size_bytes": sum(k["size_bytes"] for k in keys),
            "keys": keys,
        }


class CachedTransformMixin:
    """Feature caching for image transformers.

    A transformer that mixes this in has a ``cache`` parameter (see :func:`resolve_cache`)
    and implements:

    - ``_cache_key_params()``: a JSON-like dict of everything that determines one image's
      features (never device, batch size, n_jobs or verbosity);
    - either ``_transform_batch(images)`` (a batch ``(b, H, W[, C])`` to float32 ``(b, d)``)
      or, for its own batching, ``_compute_features(source, indices)``.

    Then ``self._transform_cached(source)`` returns the features of every image of an
    :class:`~hybridfer.images.ImageSource`, computing only the ones the store lacks.
    """

    def _cache_key(self) -> dict:
        from hybridfer import __version__

        cls = type(self)
        return {
            "transformer": f"{cls.__module__}.{cls.__qualname__}",
            "hybridfer": __version__,
            "params": self._cache_key_params(),
        }

    def _cache_key_params(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define _cache_key_params()")

    def _compute_features(self, source: ImageSource, indices: np.ndarray) -> np.ndarray:
        batch_size = int(getattr(self, "batch_size", 256) or 256)
        parts = [
            np.asarray(self._transform_batch(source.load(indices[i : i + batch_size])), np.float32)
            for i in range(0, len(indices), batch_size)
        ]
        return np.concatenate(parts, axis=0)

    def _transform_cached(self, source: ImageSource, extra_key: dict | None = None) -> np.ndarray:
        """Features of every image of ``source``; ``extra_key`` joins the cache key."""
        store = resolve_cache(getattr(self, "cache", None))
        if store is None:
            return self._compute_features(source, np.arange(len(source)))
        key = self._cache_key()
        if extra_key:
            key = {**key, "extra": extra_key}
        return store.get_or_compute(
            key,
            image_hashes(source),
            lambda idx: self._compute_features(source, idx),
        )
