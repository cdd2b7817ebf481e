"""Tiny synthetic data sets written as folders in the FER2013 and CK+48 layouts.

The recipes read real data sets from folders; these writers make small stand-ins with the
same layout, for demos, notebooks and tests, and with the duplicates that make a paper's
protocol leak:

- :func:`write_fer2013_folders`: ``train/<class>/Training_*.png`` and
  ``test/<class>/PublicTest_*.png`` (and ``PrivateTest_*``), 48x48 gray; some Training images
  are stored twice (as FER2013 holds duplicates), so a random split of all images puts copies
  on both sides while the official usages keep them apart.
- :func:`write_ckplus48_folders`: ``<class>/S<subject>_<sequence>_<frame>.png``, 48x48 gray,
  several frames per sequence that are near copies of each other (as CK+48's last frames
  of a sequence are), so a random split of frames leaks while a subject-grouped one does not.

Each image is a random texture (one per image for FER2013, one per subject for CK+48) plus a
bright band whose position depends on the class, so a small network can learn the task.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from hybridfer.data.ckplus import CKPLUS_CLASSES
from hybridfer.data.fer2013 import FER2013_CLASSES

__all__ = ["write_ckplus48_folders", "write_fer2013_folders"]

#: Images per class and usage of :func:`write_fer2013_folders` by default (imbalanced).
DEFAULT_FER2013_COUNTS: dict[str, tuple[int, ...]] = {
    "Training": (12, 4, 10, 16, 12, 10, 10),
    "PublicTest": (4,) * 7,
}


def _save(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def _texture(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A random face-sized texture: coarse 6x6 blocks (distinct low frequencies, so two
    textures never pass for near copies) plus fine pixel noise."""
    coarse = rng.integers(0, 110, (6, 6))
    img = np.kron(coarse, np.ones((size // 6, size // 6), dtype=np.int64))
    return (img + rng.integers(0, 30, (size, size))).astype(np.int16)


def _with_band(texture: np.ndarray, band: int, n_bands: int) -> np.ndarray:
    img = texture.copy()
    height = max(img.shape[0] // n_bands, 2)
    img[band * height : band * height + height, :] += 110
    return img


def _face(rng: np.random.Generator, band: int, n_bands: int) -> np.ndarray:
    return np.clip(_with_band(_texture(rng), band, n_bands), 0, 255).astype(np.uint8)


def write_fer2013_folders(
    root: str | os.PathLike,
    counts: Mapping[str, Sequence[int]] | None = None,
    duplicate_fraction: float = 0.25,
    random_state: int = 0,
) -> Path:
    """Write a tiny FER2013 in the image-folder layout; returns ``root``.

    Parameters
    ----------
    root : path
        The folder to create (it holds ``train/`` and ``test/``).
    counts : mapping, optional
        Images per class (in :data:`~hybridfer.data.FER2013_CLASSES` order) of each usage
        (``Training``, ``PublicTest``, ``PrivateTest``); default
        :data:`DEFAULT_FER2013_COUNTS`.
    duplicate_fraction : float, default=0.25
        Share of the Training images that are exact copies of another Training image of the
        same class (FER2013 holds such duplicates).
    random_state : int, default=0
    """
    if not 0.0 <= duplicate_fraction < 1.0:
        raise ValueError(f"duplicate_fraction must be in [0, 1), got {duplicate_fraction!r}")
    counts = DEFAULT_FER2013_COUNTS if counts is None else counts
    root = Path(root)
    rng = np.random.default_rng([random_state, 2013])  # apart from the CK+48 writer's
    for usage, per_class in counts.items():
        if len(per_class) != len(FER2013_CLASSES):
            raise ValueError(
                f"counts[{usage!r}] has {len(per_class)} entries; expected one per class "
                f"{list(FER2013_CLASSES)}"
            )
        folder = "train" if usage == "Training" else "test"
        for k, name in enumerate(FER2013_CLASSES):
            made: list[np.ndarray] = []
            for i in range(int(per_class[k])):
                copy = usage == "Training" and made and rng.random() < duplicate_fraction
                img = made[int(rng.integers(len(made)))] if copy else _face(rng, k, 7)
                made.append(img)
                _save(img, root / folder / name / f"{usage}_{k}{i:04d}.png")
    return root


def write_ckplus48_folders(
    root: str | os.PathLike,
    n_subjects: int = 10,
    sequences_per_subject: int = 3,
    frames_per_sequence: int = 3,
    classes: Sequence[str] = CKPLUS_CLASSES,
    random_state: int = 0,
) -> Path:
    """Write a tiny CK+48 (``<class>/S<subject>_<sequence>_<frame>.png``); returns ``root``.

    Every subject has its own random face texture and ``sequences_per_subject`` sequences,
    each of one class (cycling through ``classes`` so that every class has sequences of
    several subjects); the frames of a sequence differ by slight noise only (near copies).
    """
    root = Path(root)
    rng = np.random.default_rng([random_state, 48])
    n_classes = len(classes)
    seq_no = 0
    for s in range(n_subjects):
        texture = _texture(rng)
        for q in range(sequences_per_subject):
            k = seq_no % n_classes
            seq_no += 1
            base = _with_band(texture, k, n_classes)
            for f in range(frames_per_sequence):
                noise = rng.integers(-3, 4, base.shape)
                img = np.clip(base + noise, 0, 255).astype(np.uint8)
                name = f"S{s + 10:03d}_{q + 1:03d}_{f + 11:08d}.png"
                _save(img, root / classes[k] / name)
    return root
