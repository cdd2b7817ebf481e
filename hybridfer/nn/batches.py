"""Row access: batches of rows of arrays, tensors and images, streamed to the networks.

Memory is bounded by the batch: in-memory arrays are sliced batch by batch, and image files
are decoded lazily by :class:`torch.utils.data.DataLoader` workers (with pinned memory when
the consumer is a CUDA device), never all at once (:func:`iter_batches`). :func:`take_batch`
reads given rows of any input as a tensor, :class:`RowSubset` views some rows of an image
source, and :func:`training_workers` picks the decoding workers of a training run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from hybridfer.images import ImageSource, read_image

__all__ = [
    "RowSubset",
    "available_cpus",
    "default_num_workers",
    "iter_batches",
    "take_batch",
    "training_workers",
]


def available_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_num_workers() -> int:
    """Decoding workers used when ``num_workers`` is None: ``min(4, CPUs)``."""
    return min(4, available_cpus())


def training_workers(device: torch.device) -> int:
    """Decoding workers for training from files when ``num_workers`` is None.

    On a GPU the CPU is free: :func:`default_num_workers`. On the CPU workers only pay with
    cores that torch's compute threads leave idle, so ``CPUs - torch threads``, at most 4
    (``benchmarks/bench_training.py`` times training from files against arrays).
    """
    if device.type != "cpu":
        return default_num_workers()
    return max(0, min(4, available_cpus() - torch.get_num_threads()))


def take_batch(X: Any, idx: np.ndarray) -> torch.Tensor:
    """Rows ``idx`` of an ndarray, a tensor or an :class:`ImageSource` (anything with
    ``load(indices)``), as a CPU tensor."""
    if isinstance(X, torch.Tensor):
        return X[torch.as_tensor(idx)]
    if hasattr(X, "load"):  # ImageSource, or anything with load(indices)
        return torch.from_numpy(np.ascontiguousarray(X.load(idx)))
    return torch.from_numpy(np.ascontiguousarray(X[idx]))


class RowSubset:
    """The rows ``rows`` of an image source (or any object with ``load(indices)``)."""

    def __init__(self, source: Any, rows: np.ndarray) -> None:
        self.source = source
        self.rows = np.asarray(rows)
        self.is_lazy = bool(getattr(source, "is_lazy", False))

    def __len__(self) -> int:
        return len(self.rows)

    def load(self, indices: np.ndarray) -> np.ndarray:
        """The images at ``rows[indices]``."""
        return self.source.load(self.rows[np.asarray(indices)])


class _PathDataset(Dataset):
    """Decodes one image file per item with :func:`hybridfer.images.read_image`."""

    def __init__(self, paths: Sequence[str], color: str | None) -> None:
        self.paths = list(paths)
        self.color = color

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return read_image(self.paths[i], self.color), i


class _Collate:
    """Stack decoded images into one tensor; gray images join colour ones as 3 equal channels."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = paths

    def __call__(self, items: list[tuple[np.ndarray, int]]) -> torch.Tensor:
        images = [img for img, _ in items]
        if any(img.ndim == 3 for img in images) and any(img.ndim == 2 for img in images):
            images = [
                np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img for img in images
            ]
        first = images[0].shape[:2]
        for img, (_, i) in zip(images, items, strict=True):
            if img.shape[:2] != first:
                raise ValueError(
                    f"image {self.paths[i]!r} has size {img.shape[:2]} but "
                    f"{self.paths[items[0][1]]!r} in the same batch has {first}; images decoded "
                    "together must share a size (resize the files, or use batch_size=1)"
                )
        return torch.from_numpy(np.stack(images))


def _array_batch(images: np.ndarray) -> torch.Tensor:
    if images.dtype != np.uint8:
        images = images.astype(np.float32, copy=False)
    return torch.from_numpy(np.ascontiguousarray(images))


def iter_batches(
    source: ImageSource,
    indices: np.ndarray,
    batch_size: int,
    *,
    num_workers: int | None = None,
    pin_memory: bool = False,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(offset, images)``: the images at ``indices[offset : offset + b]`` as a tensor.

    Parameters
    ----------
    source : ImageSource
        Images in memory or files.
    indices : ndarray of int
        Which images, in which order.
    batch_size : int
        Images per batch.
    num_workers : int or None
        DataLoader workers decoding files (None: :func:`default_num_workers`; 0 decodes in
        this process). Ignored for in-memory images.
    pin_memory : bool
        Put file batches in pinned memory (for fast, non-blocking copies to a GPU).

    Yields
    ------
    offset : int
    images : torch.Tensor
        uint8 (or float32 on [0, 1]) of shape ``(b, H, W)`` or ``(b, H, W, 3)``, on the CPU.
    """
    indices = np.asarray(indices, dtype=np.intp)
    n = len(indices)
    if not source.is_lazy:
        contiguous = n > 0 and np.array_equal(indices, np.arange(indices[0], indices[0] + n))
        for start in range(0, n, batch_size):
            if contiguous:
                first = int(indices[0]) + start
                chunk = source.images[first : first + min(batch_size, n - start)]
            else:
                chunk = source.images[indices[start : start + batch_size]]
            yield start, _array_batch(chunk)
        return
    paths = [source.paths[i] for i in indices.tolist()]
    if num_workers is None:
        num_workers = default_num_workers()
    if n <= batch_size:
        num_workers = 0  # starting workers costs more than decoding one batch
    loader = DataLoader(
        _PathDataset(paths, source.color),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_Collate(paths),
        pin_memory=pin_memory,
        prefetch_factor=4 if num_workers > 0 else None,
        # the loader's own generator seeds its workers: torch's global one, which drives a
        # seeded training run's augmentation, is left untouched
        generator=torch.Generator().manual_seed(0),
    )
    start = 0
    for batch in loader:
        yield start, batch
        start += len(batch)
