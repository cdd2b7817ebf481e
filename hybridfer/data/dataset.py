"""The labelled image collection every loader returns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from hybridfer._messages import plain

__all__ = ["FERDataset", "is_dataset"]


@dataclass
class FERDataset:
    """Labelled face images, held in memory or as file paths.

    Attributes
    ----------
    images : ndarray of uint8, shape (n, H, W) or (n, H, W, 3), or None
        Decoded images; None when the dataset was loaded lazily (use ``paths``).
    labels : ndarray of str, shape (n,)
        Class name of each image.
    classes : tuple of str
        All class names in their canonical order (also those with no image here).
    paths : ndarray of str, shape (n,), or None
        Source file of each image, when loaded from files.
    groups : ndarray of str, shape (n,), or None
        Group of each image (e.g. the CK+ subject), for grouped splits.
    usage : ndarray of str, shape (n,), or None
        Official split of each image (FER2013: Training, PublicTest, PrivateTest).
    name : str
        A short description of where the data came from (loaders use their data set's
        name, e.g. ``"rafdb"``, which :func:`hybridfer.data.map_labels` looks up).
    soft_labels : ndarray of float32, shape (n, len(classes)), or None
        Per-image class probabilities in ``classes`` order, rows summing to 1 (FERPlus
        vote fractions); ``labels`` then hold each row's most probable class.
    boxes : ndarray of int64, shape (n, 4), or None
        The face's box ``x, y, w, h`` in its image's pixels, for data sets of full images
        with annotated faces (ExpW, AffectNet); see :func:`hybridfer.data.crop_boxes`.
    columns : dict of str to ndarray, shape (n,) each
        Further per-image annotations (AffectNet ``valence``/``arousal``, KDEF ``angle``,
        FERPlus ``votes_*``), sliced with the rows.
    """

    images: np.ndarray | None
    labels: np.ndarray
    classes: tuple[str, ...]
    paths: np.ndarray | None = None
    groups: np.ndarray | None = None
    usage: np.ndarray | None = None
    name: str = "dataset"
    soft_labels: np.ndarray | None = None
    boxes: np.ndarray | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=str)
        n = len(self.labels)
        self._check_annotations(n)
        if self.images is None and self.paths is None:
            raise ValueError("a FERDataset needs images or paths")
        for attr in ("images", "paths", "groups", "usage"):
            value = getattr(self, attr)
            if value is None:
                continue
            if attr != "images":
                value = np.asarray(value, dtype=str)
                setattr(self, attr, value)
            if len(value) != n:
                raise ValueError(f"{attr} has {len(value)} entries but labels has {n}")
        unknown = sorted(set(self.labels.tolist()) - set(plain(list(self.classes))))
        if unknown:
            raise ValueError(
                f"labels {unknown} are not among the classes {plain(list(self.classes))}"
            )

    def _check_annotations(self, n: int) -> None:
        """Shapes of ``soft_labels``, ``boxes`` and ``columns`` against ``n`` rows."""
        if self.soft_labels is not None:
            soft = np.asarray(self.soft_labels, dtype=np.float32)
            if soft.shape != (n, len(self.classes)):
                raise ValueError(
                    f"soft_labels has shape {soft.shape}; expected ({n}, {len(self.classes)}): "
                    "one probability per class and image"
                )
            if soft.size and (soft.min() < 0 or not np.allclose(soft.sum(axis=1), 1, atol=1e-4)):
                raise ValueError("soft_labels must be non-negative with rows summing to 1")
            self.soft_labels = soft
        if self.boxes is not None:
            boxes = np.asarray(self.boxes)
            if boxes.shape != (n, 4):
                raise ValueError(f"boxes has shape {boxes.shape}; expected ({n}, 4): x, y, w, h")
            self.boxes = boxes.astype(np.int64)
        columns = {}
        for key, value in dict(self.columns or {}).items():
            value = np.asarray(value)
            if value.shape[:1] != (n,):
                raise ValueError(f"column {key!r} has {len(value)} entries but labels has {n}")
            columns[str(key)] = value
        self.columns = columns

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        shape = None if self.images is None else self.images.shape[1:]
        extra = "" if self.usage is None else f", usage={dict(Counter(self.usage.tolist()))}"
        groups = "" if self.groups is None else f", groups={len(np.unique(self.groups))}"
        return (
            f"FERDataset({self.name!r}, n={len(self)}, image_shape={shape}, "
            f"classes={list(self.classes)}{groups}{extra})"
        )

    @property
    def X(self) -> np.ndarray:
        """The images if decoded, else the file paths (both accepted by every transformer)."""
        return self.images if self.images is not None else self.paths

    @property
    def y(self) -> np.ndarray:
        """The class-name labels."""
        return self.labels

    @property
    def y_codes(self) -> np.ndarray:
        """Labels as integer codes in the canonical class order."""
        lookup = {c: i for i, c in enumerate(self.classes)}
        return np.array([lookup[c] for c in self.labels], dtype=np.int64)

    def soft_targets(self):
        """``soft_labels`` as a DataFrame whose columns are the class names (None without
        them): what the networks' ``fit(..., soft_targets=...)`` takes as it is."""
        if self.soft_labels is None:
            return None
        import pandas as pd

        return pd.DataFrame(self.soft_labels, columns=list(self.classes))

    def class_counts(self) -> dict[str, int]:
        """Number of images per class, in canonical class order (zeros included)."""
        counts = Counter(self.labels.tolist())
        return {c: counts.get(c, 0) for c in self.classes}

    def subset(self, indices: Sequence[int] | np.ndarray) -> FERDataset:
        """A new dataset holding the rows at ``indices`` (integer positions or a boolean mask)."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if len(idx) != len(self):
                raise ValueError(
                    f"boolean mask has {len(idx)} entries; the dataset has {len(self)}"
                )
            idx = np.flatnonzero(idx)

        def take(a):
            return None if a is None else a[idx]

        return replace(
            self,
            images=take(self.images),
            labels=self.labels[idx],
            paths=take(self.paths),
            groups=take(self.groups),
            usage=take(self.usage),
            soft_labels=take(self.soft_labels),
            boxes=take(self.boxes),
            columns={k: v[idx] for k, v in self.columns.items()},
        )

    def split(self, usage: str | Sequence[str]) -> FERDataset:
        """The images whose official ``usage`` is one of ``usage`` (e.g. ``"PublicTest"``)."""
        if self.usage is None:
            raise ValueError(f"{self.name} has no usage column; it cannot be split by usage")
        wanted = [usage] if isinstance(usage, str) else list(usage)
        present = sorted(set(self.usage.tolist()))
        unknown = [u for u in wanted if u not in present]
        if unknown:
            raise ValueError(f"usage {unknown} not found in {self.name}; it has {present}")
        out = self.subset(np.isin(self.usage, wanted))
        out.name = f"{self.name}[{'+'.join(wanted)}]"
        return out


def is_dataset(obj: object) -> bool:
    """Whether ``obj`` is a labelled dataset (a :class:`FERDataset` or anything with ``X``
    and ``labels``), which functions taking images accept in place of ``X, y``."""
    return hasattr(obj, "X") and hasattr(obj, "labels")
