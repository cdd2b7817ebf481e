"""FER2013: the original CSV release and the image-folder release, with official usages."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np

from hybridfer.data.dataset import FERDataset
from hybridfer.data.folders import list_image_folder
from hybridfer.images import check_path, read_images, stack_images

__all__ = ["FER2013_CLASSES", "FER2013_USAGES", "load_fer2013"]

#: Canonical FER2013 label order: the integer codes of the CSV's ``emotion`` column.
FER2013_CLASSES: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
)
#: Official usages: Training (28,709), PublicTest (3,589), PrivateTest (3,589).
FER2013_USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")

_ALIASES = {
    "anger": "angry",
    "sadness": "sad",
    "surprised": "surprise",
    "happiness": "happy",
    "fearful": "fear",
    "disgusted": "disgust",
}
_PREFIX = re.compile(r"^(Training|PublicTest|PrivateTest)_", re.IGNORECASE)
_SPLIT_DIRS = {
    "train": "Training",
    "training": "Training",
    "test": None,
    "val": None,
    "validation": None,
    "publictest": "PublicTest",
    "privatetest": "PrivateTest",
}


def load_fer2013(
    path: str | os.PathLike,
    usages: str | list[str] | None = None,
    lazy: bool = False,
    n_jobs: int | None = None,
) -> FERDataset:
    """Load FER2013 from its CSV or its image-folder release.

    Parameters
    ----------
    path : path
        Either the CSV (``emotion,pixels,Usage``, or the ICML variant ``emotion, Usage,
        pixels`` with spaces in the header), or a folder holding ``train/`` and ``test/``
        (class subfolders, file names prefixed ``Training_``/``PublicTest_``/
        ``PrivateTest_``), or one such split folder.
    usages : str or list of str, optional
        Keep only these official usages (default: all present).
    lazy : bool
        For folders: keep file paths only and decode per batch later.
    n_jobs : int, optional
        Decoding threads for folders.

    Returns
    -------
    FERDataset
        48x48 uint8 grayscale images, class names in :data:`FER2013_CLASSES` order, and
        ``usage`` set for every image (split with ``ds.split("PublicTest")``).
    """
    path = check_path(path, "FER2013 path")
    ds = _load_csv(path) if path.is_file() else _load_folders(path, lazy, n_jobs)
    if usages is not None:
        ds = ds.split(usages)
    return ds


def _load_csv(path: Path) -> FERDataset:
    with open(path, newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"FER2013 CSV {os.fspath(path)!r} is empty") from None
        needed = ("emotion", "pixels", "usage")
        missing = [c for c in needed if c not in header]
        if missing:
            raise ValueError(
                f"FER2013 CSV {os.fspath(path)!r} lacks columns {missing}; its header is "
                f"{header}, expected emotion, pixels and Usage"
            )
        ie, ip, iu = (header.index(c) for c in needed)
        emotions, pixels, usage = [], [], []
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                emotions.append(int(row[ie]))
                pixels.append(row[ip].strip())
                usage.append(row[iu].strip())
            except (IndexError, ValueError) as exc:
                raise ValueError(f"FER2013 CSV {os.fspath(path)!r} line {lineno}: {exc}") from exc
    if not emotions:
        raise ValueError(f"FER2013 CSV {os.fspath(path)!r} has a header but no rows")
    emotions = np.asarray(emotions)
    bad = emotions[(emotions < 0) | (emotions >= len(FER2013_CLASSES))]
    if bad.size:
        raise ValueError(
            f"FER2013 CSV {os.fspath(path)!r}: emotion codes {sorted(set(bad))} are outside 0..6"
        )
    flat = np.array(" ".join(pixels).split(), dtype=np.int16)
    if flat.size != len(pixels) * 48 * 48:
        lengths = [len(p.split()) for p in pixels]
        row = next(i for i, n in enumerate(lengths) if n != 48 * 48)
        raise ValueError(
            f"FER2013 CSV {os.fspath(path)!r} row {row + 2} has {lengths[row]} "
            "pixels; expected 2304 (48x48)"
        )
    if flat.min() < 0 or flat.max() > 255:
        raise ValueError(f"FER2013 CSV {os.fspath(path)!r} has pixels outside 0..255")
    usage = np.asarray(usage)
    unknown = sorted(set(usage.tolist()) - set(FER2013_USAGES))
    if unknown:
        raise ValueError(
            f"FER2013 CSV {os.fspath(path)!r} has unknown Usage values {unknown}; "
            f"expected {list(FER2013_USAGES)}"
        )
    return FERDataset(
        images=flat.astype(np.uint8).reshape(-1, 48, 48),
        labels=np.asarray(FER2013_CLASSES)[emotions],
        classes=FER2013_CLASSES,
        usage=usage,
        name="fer2013",
    )


def _canonical_class_folders(root: Path) -> dict[str, str]:
    """Map canonical class names to the subfolder names found under ``root``."""
    mapping = {}
    for d in sorted(p.name for p in root.iterdir() if p.is_dir()):
        canon = _ALIASES.get(d.lower(), d.lower())
        if canon not in FER2013_CLASSES:
            raise ValueError(
                f"FER2013 folder {os.fspath(root)!r} has a subfolder {d!r} that is "
                f"not a FER2013 class; expected {list(FER2013_CLASSES)}"
            )
        mapping[canon] = d
    return mapping


def _load_folders(root: Path, lazy: bool, n_jobs: int | None) -> FERDataset:
    subdirs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    split_dirs = [(p, _SPLIT_DIRS[k]) for k, p in sorted(subdirs.items()) if k in _SPLIT_DIRS]
    if not split_dirs:  # a single split folder with class subfolders
        split_dirs = [(root, _SPLIT_DIRS.get(root.name.lower()))]
    paths, labels, usage = [], [], []
    for folder, default_usage in split_dirs:
        mapping = _canonical_class_folders(folder)
        present = [mapping[c] for c in FER2013_CLASSES if c in mapping]
        p, lab, _ = list_image_folder(folder, present)
        inverse = {v: k for k, v in mapping.items()}
        for fp, cls in zip(p, lab, strict=True):
            m = _PREFIX.match(Path(fp).name)
            if m:
                u = next(x for x in FER2013_USAGES if x.lower() == m.group(1).lower())
            elif default_usage is not None:
                u = default_usage
            else:
                raise ValueError(
                    f"cannot tell the FER2013 usage of {fp!r}: its name has no Training_/"
                    "PublicTest_/PrivateTest_ prefix and its folder is not train/"
                )
            paths.append(fp)
            labels.append(inverse[cls])
            usage.append(u)
    images = None if lazy else stack_images(read_images(paths, "gray", n_jobs), paths)
    return FERDataset(
        images=images,
        labels=np.asarray(labels),
        classes=FER2013_CLASSES,
        paths=np.asarray(paths),
        usage=np.asarray(usage),
        name="fer2013",
    )
