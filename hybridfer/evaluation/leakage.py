"""Leakage audit: find test images that also sit in the training set, exactly or nearly.

How a match is decided (every test image is compared with every train image):

1. **Fingerprints.** Each image is brought to a canonical form: uint8 pixels (float images
   on [0, 1] are scaled by 255 and rounded), an RGB image whose three channels are equal
   becomes grayscale. From it we take

   - a content hash (:func:`hybridfer.images.content_hash`) of the canonical pixels;
   - its luma (ITU-R 601) on [0, 1], resized to 32x32 with Pillow's antialiased bilinear filter;
   - the perceptual hash (pHash) of that 32x32 image: the 2-D DCT-II (as :func:`scipy.fft.dctn`),
     its top-left ``hash_size`` x ``hash_size`` low-frequency block, one bit per coefficient
     set when it is above the block's median (the pHash of the ``imagehash`` package), packed
     into 64-bit words;
   - a 16x16 "patch": the 32x32 image averaged over 2x2 blocks, minus its mean, divided by its
     norm, so that the dot product of two patches is their Pearson correlation. Images with
     almost no contrast (standard deviation below 0.001) get a zero patch.

2. **Exact duplicates**: identical canonical pixels (equal content hashes, hence also equal
   pHashes). Two files holding the same decoded pixels are exact duplicates even when their
   bytes differ; a JPEG re-encode changes pixels and is found in step 3.

3. **Near duplicates**: pairs whose pHash Hamming distance is ``<= near_threshold`` bits
   (default 12 of 64) are candidates; a candidate is confirmed when the correlation of the two
   16x16 patches is ``>= min_correlation`` (default 0.93). Both tests are invariant to
   brightness and contrast changes (up to clipping) and tolerant to noise and JPEG
   re-compression; they do not look for crops, shifts or rotations. The Hamming distances are
   computed for all pairs, in blocks of test images (memory stays bounded), by XOR and
   popcount on the packed words (``np.bitwise_count``, or a byte lookup table on numpy < 2).

   The defaults were set by looking at FER2013 Training x PublicTest pairs: in random samples
   of 12 pairs from each band, every pair with correlation in [0.93, 0.95) and distance 10-14
   showed the same photograph (edited, re-cropped or watermarked), as did every pair with
   correlation >= 0.95 up to distance 18; below 0.93 and at distances of 12 and more, pairs of
   different people of similar pose start to appear. Lower ``min_correlation`` (e.g. 0.90
   with ``near_threshold=8``) finds more edited copies at the price of some false matches.

4. **Mirrored copies** (``check_flips=True``): the same search runs again with every test
   image mirrored left-right; such pairs are marked ``flipped``. When a pair matches both ways
   the stronger match is kept (exact before near, unflipped before flipped).

5. **Within-set duplicates** (``check_within=True``): the same search among the train images
   and among the test images (each unordered pair once).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from PIL import Image
from scipy.fft import dct

from .._messages import plain_repr
from ..data.dataset import is_dataset
from ..images import ImageSource, as_image_source, content_hash, read_images

__all__ = ["LeakageReport", "leakage_audit", "perceptual_hash"]

_RESIZE = 32  # side of the image the pHash DCT and the patch are computed from
_FLAT_STD = 1e-3  # images with a smaller pixel standard deviation get a zero patch
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_POPCOUNT_LUT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_PAIR_CHUNK = 8192  # candidate pairs whose patches are correlated at once
_BLOCK_ELEMENTS = 1 << 22  # Hamming distances computed at once (test rows x train columns)


# --------------------------------------------------------------------------- fingerprints


def _canonical(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating):
            image = np.clip(np.rint(image * 255.0), 0, 255)
        image = image.astype(np.uint8)
    if image.ndim == 3:
        if image.shape[2] == 1:
            image = image[..., 0]
        elif image.shape[2] >= 3:
            image = image[..., :3]
            if (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all():
                image = image[..., 0]
    return np.ascontiguousarray(image)


@lru_cache(maxsize=64)
def _resize_matrix(n_in: int, n_out: int = _RESIZE) -> np.ndarray:
    """(n_out, n_in) weights of Pillow's antialiased bilinear resize along one axis.

    Pillow's resize is separable and linear, so resizing an identity image along one axis gives
    exactly its weights; applying them to a whole batch is a matrix product.
    """
    eye = Image.fromarray(np.eye(n_in, dtype=np.float32))
    weights = eye.resize((n_in, n_out), Image.Resampling.BILINEAR)
    return np.asarray(weights, dtype=np.float32)


def _small_gray(images: list[np.ndarray]) -> np.ndarray:
    """Canonical uint8 images -> (n, 32, 32) float32 luma on [0, 1] (images may differ in size)."""
    gray = [img.astype(np.float32) / 255.0 for img in images]
    gray = [g @ _LUMA if g.ndim == 3 else g for g in gray]
    out = np.empty((len(gray), _RESIZE, _RESIZE), dtype=np.float32)
    by_shape: dict[tuple[int, int], list[int]] = {}
    for k, g in enumerate(gray):
        by_shape.setdefault(g.shape, []).append(k)
    for (h, w), members in by_shape.items():
        batch = np.stack([gray[k] for k in members])
        out[members] = _resize_matrix(h) @ (batch @ _resize_matrix(w).T)
    return out


@lru_cache(maxsize=8)
def _dct_matrix(hash_size: int) -> np.ndarray:
    """First ``hash_size`` rows of the (unnormalised) DCT-II matrix of size 32."""
    return dct(np.eye(_RESIZE), type=2, axis=0)[:hash_size]


def _phash_bits(small: np.ndarray, hash_size: int) -> np.ndarray:
    """(n, 32, 32) -> (n, hash_size**2) bool pHash bits.

    The low-frequency block of the 2-D DCT-II (as :func:`scipy.fft.dctn` computes it), taken
    as ``D @ X @ D.T`` with only the rows of ``D`` that are needed.
    """
    d = _dct_matrix(hash_size)
    coeffs = d @ (small.astype(np.float64) @ d.T)
    coeffs = coeffs.reshape(len(small), -1)
    return coeffs > np.median(coeffs, axis=1, keepdims=True)


def _pack_bits(bits: np.ndarray) -> np.ndarray:
    """(n, b) bool -> (n, ceil(b / 64)) uint64."""
    packed = np.packbits(bits, axis=1)
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(">u8").astype(np.uint64)


def _patches(small: np.ndarray) -> np.ndarray:
    """(n, 32, 32) -> (n, 256) float32 zero-mean unit-norm 16x16 patches."""
    n = len(small)
    patch = small[:, ::2, ::2] + small[:, 1::2, ::2] + small[:, ::2, 1::2] + small[:, 1::2, 1::2]
    patch = patch.reshape(n, -1) / 4.0
    patch = patch - patch.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(patch, axis=1, keepdims=True)
    flat = norm[:, 0] < _FLAT_STD * np.sqrt(patch.shape[1])
    patch = patch / np.where(flat[:, None], 1.0, norm)
    patch[flat] = 0.0
    return patch.astype(np.float32)


@dataclass
class _Fingerprints:
    ids: np.ndarray  # int64 id of the canonical content hash (shared across sets)
    phash: np.ndarray  # (n, words) uint64
    patch: np.ndarray  # (n, 256) float32

    def __len__(self) -> int:
        return len(self.ids)


def _iter_image_lists(source: ImageSource, batch_size: int) -> Iterator[list[np.ndarray]]:
    """Batches as lists, so that files of different sizes can be mixed."""
    n = len(source)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        if source.is_lazy:
            yield read_images(source.paths[start:stop], source.color)
        else:
            yield list(source.images[start:stop])


def _fingerprints(
    source: ImageSource,
    hash_size: int,
    vocabulary: dict[str, int],
    batch_size: int,
    mirrored: bool,
) -> tuple[_Fingerprints, _Fingerprints | None]:
    """Fingerprints of the images and (when ``mirrored``) of their mirror images."""
    variants = (False, True) if mirrored else (False,)
    parts: dict[bool, dict[str, list[np.ndarray]]] = {
        flip: {"ids": [], "phash": [], "patch": []} for flip in variants
    }
    for images in _iter_image_lists(source, batch_size):
        canon = [_canonical(img) for img in images]
        small = _small_gray(canon)
        for flip in variants:
            ids = [
                vocabulary.setdefault(content_hash(img[:, ::-1] if flip else img), len(vocabulary))
                for img in canon
            ]
            batch = small[:, :, ::-1] if flip else small
            parts[flip]["ids"].append(np.asarray(ids, dtype=np.int64))
            parts[flip]["phash"].append(_pack_bits(_phash_bits(batch, hash_size)))
            parts[flip]["patch"].append(_patches(batch))
    out = {
        flip: _Fingerprints(**{k: np.concatenate(v) for k, v in parts[flip].items()})
        for flip in variants
    }
    return out[False], out.get(True)


def perceptual_hash(images: object, hash_size: int = 8, batch_size: int = 1024) -> np.ndarray:
    """DCT perceptual hashes (pHash) of images, packed into 64-bit words.

    Parameters
    ----------
    images : array-like or sequence of paths
        Anything :func:`hybridfer.images.as_image_source` accepts.
    hash_size : int, default=8
        Side of the low-frequency DCT block; the hash has ``hash_size**2`` bits.
    batch_size : int, default=1024
        Images decoded at once.

    Returns
    -------
    ndarray of uint64, shape (n_images, ceil(hash_size**2 / 64))
        Bits in row-major block order, the first bit in the most significant position.
    """
    _check_int("hash_size", hash_size, 2, _RESIZE)
    source = as_image_source(images, name="images")
    chunks = []
    for batch in _iter_image_lists(source, batch_size):
        small = _small_gray([_canonical(img) for img in batch])
        chunks.append(_pack_bits(_phash_bits(small, hash_size)))
    return np.concatenate(chunks)


# --------------------------------------------------------------------------- pair search


def _popcount(x: np.ndarray) -> np.ndarray:
    """Number of set bits of each uint64 (uint8 result)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(x)
    return _popcount_lut(x)


def _popcount_lut(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.uint64)
    return _POPCOUNT_LUT[x.view(np.uint8)].reshape(*x.shape, 8).sum(axis=-1, dtype=np.uint8)


def _hamming_block(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between packed hashes a (r, w) and b (c, w) -> (r, c)."""
    dist = _popcount(a[:, 0, None] ^ b[None, :, 0]).astype(np.uint16)
    for k in range(1, a.shape[1]):
        dist += _popcount(a[:, k, None] ^ b[None, :, k])
    return dist


def _rowwise_dot(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    out = np.empty(len(ia), dtype=np.float32)
    for s in range(0, len(ia), _PAIR_CHUNK):
        sl = slice(s, s + _PAIR_CHUNK)
        out[sl] = np.einsum("ij,ij->i", a[ia[sl]], b[ib[sl]])
    return out


def _match(
    a: _Fingerprints,
    b: _Fingerprints,
    near_threshold: int,
    min_correlation: float,
    upper_triangle: bool = False,
) -> pd.DataFrame:
    """Confirmed pairs (index_a, index_b, exact, hamming, correlation) between a and b.

    With ``upper_triangle`` (a and b index the same images), only pairs with index_b > index_a.
    """
    rows_per_block = max(1, _BLOCK_ELEMENTS // max(1, len(b)))
    found: list[tuple[np.ndarray, ...]] = []
    for start in range(0, len(a), rows_per_block):
        stop = min(len(a), start + rows_per_block)
        col0 = start + 1 if upper_triangle else 0
        if col0 >= len(b):
            break
        dist = _hamming_block(a.phash[start:stop], b.phash[col0:])
        ia, ib = np.nonzero(dist <= near_threshold)
        ham = dist[ia, ib]
        ia = ia + start
        ib = ib + col0
        if upper_triangle:
            keep = ib > ia
            ia, ib, ham = ia[keep], ib[keep], ham[keep]
        if len(ia) == 0:
            continue
        exact = a.ids[ia] == b.ids[ib]
        corr = _rowwise_dot(a.patch, b.patch, ia, ib)
        keep = exact | (corr >= min_correlation)
        found.append((ia[keep], ib[keep], exact[keep], ham[keep], corr[keep]))
    cols = ("index_a", "index_b", "exact", "hamming", "correlation")
    if not found:
        return pd.DataFrame(
            {
                "index_a": np.empty(0, np.int64),
                "index_b": np.empty(0, np.int64),
                "exact": np.empty(0, bool),
                "hamming": np.empty(0, np.int64),
                "correlation": np.empty(0, np.float32),
            }
        )
    data = [np.concatenate(parts) for parts in zip(*found, strict=True)]
    frame = pd.DataFrame(dict(zip(cols, data, strict=True)))
    return frame.astype({"index_a": np.int64, "index_b": np.int64, "hamming": np.int64})


def _search(
    a: _Fingerprints,
    a_flipped: _Fingerprints | None,
    b: _Fingerprints,
    near_threshold: int,
    min_correlation: float,
    upper_triangle: bool,
) -> pd.DataFrame:
    """Pairs a-b (and mirrored a - b), one row per pair, the strongest match kept."""
    frames = []
    for flipped, fa in ((False, a), (True, a_flipped)):
        if fa is None:
            continue
        frame = _match(fa, b, near_threshold, min_correlation, upper_triangle)
        frame["flipped"] = flipped
        frames.append(frame)
    pairs = pd.concat(frames, ignore_index=True)
    pairs["kind"] = np.where(pairs["exact"], "exact", "near")
    pairs = pairs.sort_values(
        ["index_a", "index_b", "exact", "flipped"], ascending=[True, True, False, True]
    )
    pairs = pairs.drop_duplicates(["index_a", "index_b"], keep="first")
    pairs = pairs[["index_a", "index_b", "kind", "flipped", "hamming", "correlation"]]
    return pairs.reset_index(drop=True)


# --------------------------------------------------------------------------- report


@dataclass
class LeakageReport:
    """What :func:`leakage_audit` found.

    Attributes
    ----------
    pairs : pandas.DataFrame
        One row per matching (test image, train image) pair: ``test_index``, ``train_index``,
        ``kind`` (``"exact"`` or ``"near"``), ``flipped`` (the match is with the mirrored test
        image), ``hamming`` (pHash distance in bits), ``correlation`` (of the 16x16 patches), and
        ``test_path``/``train_path`` when the images were given as files, ``test_label``/
        ``train_label`` when datasets with labels were given.
    within_train, within_test : pandas.DataFrame or None
        Duplicate pairs inside each set (``index_a < index_b``, same columns with ``_a``/``_b``
        suffixes); None when ``check_within=False``.
    n_train, n_test : int
        Number of images audited.
    params : dict
        The matching parameters.
    timings : dict
        Seconds spent fingerprinting each set and comparing.
    """

    pairs: pd.DataFrame
    n_train: int
    n_test: int
    within_train: pd.DataFrame | None = None
    within_test: pd.DataFrame | None = None
    params: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    @property
    def matched_test_indices(self) -> np.ndarray:
        """Sorted indices of test images with at least one match in train."""
        return np.unique(self.pairs["test_index"].to_numpy())

    @property
    def n_exact(self) -> int:
        """Test images with at least one exact duplicate in train (mirrored or not)."""
        return int(self.pairs.loc[self.pairs["kind"] == "exact", "test_index"].nunique())

    @property
    def n_near(self) -> int:
        """Test images with a near duplicate in train but no exact one."""
        return self.n_test_images_with_a_match - self.n_exact

    @property
    def n_test_images_with_a_match(self) -> int:
        """Test images with at least one exact or near duplicate in train."""
        return len(self.matched_test_indices)

    @property
    def fraction(self) -> float:
        """Share of test images with a match in train."""
        return self.n_test_images_with_a_match / self.n_test if self.n_test else 0.0

    def clean_test_mask(self) -> np.ndarray:
        """Boolean mask over the test set: True for test images with no match in train."""
        mask = np.ones(self.n_test, dtype=bool)
        mask[self.matched_test_indices] = False
        return mask

    def counts(self) -> dict[str, int | float]:
        """All counts as a flat dict (JSON-ready)."""
        out: dict[str, int | float] = {
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_exact": self.n_exact,
            "n_near": self.n_near,
            "n_test_images_with_a_match": self.n_test_images_with_a_match,
            "fraction": self.fraction,
            "n_pairs": len(self.pairs),
            "n_exact_pairs": int((self.pairs["kind"] == "exact").sum()),
            "n_near_pairs": int((self.pairs["kind"] == "near").sum()),
            "n_flipped_pairs": int(self.pairs["flipped"].sum()),
        }
        if "test_label" in self.pairs and "train_label" in self.pairs:
            differ = self.pairs["test_label"] != self.pairs["train_label"]
            out["n_pairs_with_different_labels"] = int(differ.sum())
        for name, within in (("train", self.within_train), ("test", self.within_test)):
            if within is None:
                continue
            out[f"n_within_{name}_exact_pairs"] = int((within["kind"] == "exact").sum())
            out[f"n_within_{name}_near_pairs"] = int((within["kind"] == "near").sum())
            involved = np.union1d(within["index_a"].to_numpy(), within["index_b"].to_numpy())
            out[f"n_{name}_images_in_within_pairs"] = len(involved)
        return out

    def summary(self) -> str:
        """A few lines of plain text."""
        c = self.counts()
        lines = [
            f"Leakage audit: {c['n_test']} test images against {c['n_train']} train images",
            f"  test images with a match in train: {c['n_test_images_with_a_match']} "
            f"({100 * c['fraction']:.2f}%): {c['n_exact']} exact, {c['n_near']} near only",
            f"  matching pairs: {c['n_pairs']} ({c['n_exact_pairs']} exact, "
            f"{c['n_near_pairs']} near, {c['n_flipped_pairs']} mirrored)",
        ]
        if "n_pairs_with_different_labels" in c:
            lines.append(f"  pairs whose labels differ: {c['n_pairs_with_different_labels']}")
        for name in ("train", "test"):
            if f"n_within_{name}_exact_pairs" in c:
                lines.append(
                    f"  within {name}: {c[f'n_within_{name}_exact_pairs']} exact and "
                    f"{c[f'n_within_{name}_near_pairs']} near duplicate pairs, "
                    f"{c[f'n_{name}_images_in_within_pairs']} images involved"
                )
        p = self.params
        lines.append(
            f"  (pHash {p.get('hash_size')}x{p.get('hash_size')}, Hamming <= "
            f"{p.get('near_threshold')}, patch correlation >= {p.get('min_correlation')}, "
            f"mirrored copies {'checked' if p.get('check_flips') else 'not checked'})"
        )
        return "\n".join(lines)

    def to_markdown(self, max_pairs: int = 20) -> str:
        """Counts as a markdown table, then up to ``max_pairs`` example pairs."""
        counts = pd.DataFrame(
            {"value": [_format_count(v) for v in self.counts().values()]},
            index=pd.Index(list(self.counts()), name="count"),
        )
        text = counts.to_markdown(tablefmt="github", disable_numparse=True)
        if max_pairs and len(self.pairs):
            shown = self.pairs.head(max_pairs).copy()
            shown["correlation"] = shown["correlation"].map(lambda v: f"{v:.4f}")
            text += f"\n\nFirst {len(shown)} of {len(self.pairs)} pairs\n\n"
            text += shown.to_markdown(index=False, tablefmt="github", disable_numparse=True)
        return text


def _format_count(value: int | float) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- audit


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {plain_repr(value)}")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")


def _unpack(data: object, name: str) -> tuple[ImageSource, np.ndarray | None, np.ndarray | None]:
    """Images, paths and labels from an image input or a dataset (anything with X and labels)."""
    labels = None
    paths = None
    if is_dataset(data):
        labels = np.asarray(data.labels)
        paths = getattr(data, "paths", None)
        data = data.X
    source = as_image_source(data, name=name)
    if paths is None and source.is_lazy:
        paths = source.paths
    return source, (None if paths is None else np.asarray(paths, dtype=str)), labels


def _annotate(
    pairs: pd.DataFrame,
    names: tuple[str, str],
    paths: tuple[np.ndarray | None, np.ndarray | None],
    labels: tuple[np.ndarray | None, np.ndarray | None],
) -> pd.DataFrame:
    """Rename index_a/index_b and add path and label columns; names are column templates."""
    ia = pairs["index_a"].to_numpy()
    ib = pairs["index_b"].to_numpy()
    pairs = pairs.rename(
        columns={"index_a": names[0].format("index"), "index_b": names[1].format("index")}
    )
    for extra, (va, vb) in (("path", paths), ("label", labels)):
        if va is not None and vb is not None:
            pairs[names[0].format(extra)] = va[ia]
            pairs[names[1].format(extra)] = vb[ib]
    return pairs


def leakage_audit(
    train: object,
    test: object,
    near_threshold: int = 12,
    hash_size: int = 8,
    min_correlation: float = 0.93,
    check_flips: bool = False,
    check_within: bool = True,
    batch_size: int = 1024,
) -> LeakageReport:
    """Find test images that duplicate train images, exactly or nearly.

    The method is described in the module docstring: exact duplicates share canonical pixels;
    near duplicates have pHashes within ``near_threshold`` bits and 16x16 patches correlated at
    ``min_correlation`` or more.

    Parameters
    ----------
    train, test : array-like, sequence of paths, or dataset
        Anything :func:`hybridfer.images.as_image_source` accepts, or a dataset with ``X`` and
        ``labels`` (e.g. :class:`hybridfer.data.FERDataset`), whose paths and labels are then
        added to the pairs. Images may differ in size and colour (files are decoded one by one).
    near_threshold : int, default=12
        Largest pHash Hamming distance (in bits, out of ``hash_size**2``) of a candidate pair.
        The pHash splits its bits at their median, so distances between 64-bit hashes are even.
    hash_size : int, default=8
        Side of the DCT block of the pHash.
    min_correlation : float, default=0.93
        Smallest correlation of the 16x16 patches that confirms a candidate as a near duplicate.
    check_flips : bool, default=False
        Also match left-right mirrored test images (mirroring is a common augmentation).
    check_within : bool, default=True
        Also list duplicate pairs within the train set and within the test set.
    batch_size : int, default=1024
        Images decoded at once (memory for fingerprints is ~1.1 KB per image).

    Returns
    -------
    LeakageReport
    """
    _check_int("hash_size", hash_size, 2, _RESIZE)
    _check_int("near_threshold", near_threshold, 0, hash_size * hash_size)
    _check_int("batch_size", batch_size, 1)
    if not isinstance(min_correlation, (int, float, np.floating)) or not (
        -1.0 <= min_correlation <= 1.0
    ):
        raise ValueError(
            f"min_correlation must be a number in [-1, 1], got {plain_repr(min_correlation)}"
        )
    train_src, train_paths, train_labels = _unpack(train, "train")
    test_src, test_paths, test_labels = _unpack(test, "test")
    vocabulary: dict[str, int] = {}
    timings = {}

    t0 = time.perf_counter()
    train_fp, train_fp_flip = _fingerprints(
        train_src, hash_size, vocabulary, batch_size, mirrored=check_flips and check_within
    )
    timings["fingerprint_train_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    test_fp, test_fp_flip = _fingerprints(
        test_src, hash_size, vocabulary, batch_size, mirrored=check_flips
    )
    timings["fingerprint_test_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    pairs = _search(test_fp, test_fp_flip, train_fp, near_threshold, min_correlation, False)
    pairs = _annotate(
        pairs, ("test_{}", "train_{}"), (test_paths, train_paths), (test_labels, train_labels)
    )
    timings["compare_s"] = time.perf_counter() - t0

    within: dict[str, pd.DataFrame | None] = {"train": None, "test": None}
    if check_within:
        t0 = time.perf_counter()
        for name, fp, fp_flip, paths, labels in (
            ("train", train_fp, train_fp_flip, train_paths, train_labels),
            ("test", test_fp, test_fp_flip, test_paths, test_labels),
        ):
            found = _search(fp, fp_flip, fp, near_threshold, min_correlation, True)
            within[name] = _annotate(found, ("{}_a", "{}_b"), (paths, paths), (labels, labels))
        timings["within_s"] = time.perf_counter() - t0

    return LeakageReport(
        pairs=pairs,
        n_train=len(train_src),
        n_test=len(test_src),
        within_train=within["train"],
        within_test=within["test"],
        params={
            "near_threshold": int(near_threshold),
            "hash_size": int(hash_size),
            "min_correlation": float(min_correlation),
            "check_flips": bool(check_flips),
        },
        timings=timings,
    )
